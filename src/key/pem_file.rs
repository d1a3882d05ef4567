//! PEM files: PKCS#1, PKCS#8, SEC1, encrypted PKCS#8, key+chain bundles, and the
//! Google service-account JSON file whose `private_key` is a PEM string.

use super::{Certificate, KeyBundle, KeyError, ServiceAccount, SigningKey};
use crate::secret::{Secret, SecretBytes};
use std::path::Path;
use zeroize::Zeroizing;

const CONVERT_PKCS8: &str = "openssl pkcs8 -topk8 -v2 aes-256-cbc -in OLD.pem -out NEW.pem";

pub(super) fn load_pem(bytes: &[u8], path: &Path, passphrase: Option<&Secret<String>>) -> Result<KeyBundle, KeyError> {
    let malformed = |reason| KeyError::Malformed {
        path: path.into(),
        reason,
    };
    let blocks = pem::parse_many(bytes).map_err(|_| malformed("a PEM block is damaged"))?;
    let mut key: Option<SigningKey> = None;
    let mut certs = Vec::new();
    let mut public_only = false;
    for block in &blocks {
        let set = |k: SigningKey, slot: &mut Option<SigningKey>| {
            if slot.is_some() {
                return Err(malformed("the file holds more than one private key"));
            }
            *slot = Some(k);
            Ok(())
        };
        match block.tag() {
            "PRIVATE KEY" => set(SigningKey::from_pkcs8_der(block.contents(), path)?, &mut key)?,
            "RSA PRIVATE KEY" | "EC PRIVATE KEY" if is_legacy_encrypted(block) => {
                return Err(KeyError::UnsupportedCipher {
                    path: path.into(),
                    cipher: "legacy OpenSSL PEM encryption (Proc-Type: 4,ENCRYPTED)".into(),
                    fix: CONVERT_PKCS8.into(),
                })
            }
            "RSA PRIVATE KEY" => set(SigningKey::from_pkcs1_der(block.contents(), path)?, &mut key)?,
            "EC PRIVATE KEY" => set(SigningKey::from_sec1_der(block.contents(), path)?, &mut key)?,
            "ENCRYPTED PRIVATE KEY" => {
                let der = decrypt_pkcs8(block.contents(), path, passphrase)?;
                set(SigningKey::from_pkcs8_der(&der, path)?, &mut key)?
            }
            "OPENSSH PRIVATE KEY" => {
                return Err(KeyError::UnsupportedCipher {
                    path: path.into(),
                    cipher: "the OpenSSH private key format".into(),
                    fix: "ssh-keygen -p -m PKCS8 -f KEY (converts the file in place to PKCS#8 PEM)".into(),
                })
            }
            label if super::cert::is_certificate_label(label) => certs.push(
                Certificate::from_der(block.contents())
                    .map_err(|_| malformed("a CERTIFICATE block is not a valid certificate"))?,
            ),
            "PUBLIC KEY" | "RSA PUBLIC KEY" => public_only = true,
            _ => {}
        }
    }
    let Some(key) = key else {
        let what = if !certs.is_empty() {
            "a certificate"
        } else if public_only {
            "a public key"
        } else {
            return Err(KeyError::UnknownFormat { path: path.into() });
        };
        return Err(KeyError::NotAPrivateKey {
            path: path.into(),
            what,
        });
    };
    let chain = leaf_first(&key, certs);
    Ok(KeyBundle {
        key,
        chain,
        service_account: None,
        source: path.into(),
    })
}

/// Puts the certificate that matches the key first; the rest keep their order (the chain for `x5c`).
/// When none matches, the order is kept and the caller's match check reports the mismatch.
pub(super) fn leaf_first(key: &SigningKey, mut certs: Vec<Certificate>) -> Vec<Certificate> {
    let bits = key.public_key_bits();
    if let Some(i) = certs.iter().position(|c| c.public_key_bits() == bits.as_slice()) {
        let leaf = certs.remove(i);
        certs.insert(0, leaf);
    }
    certs
}

fn is_legacy_encrypted(block: &pem::Pem) -> bool {
    block
        .headers()
        .get("Proc-Type")
        .is_some_and(|v| v.contains("ENCRYPTED"))
}

pub(super) fn is_encrypted_pkcs8(der: &[u8]) -> bool {
    use pkcs8::der::Decode;
    pkcs8::EncryptedPrivateKeyInfoRef::from_der(der).is_ok()
}

/// Names the PBES1-era scheme of an `EncryptedPrivateKeyInfo` that the pkcs8 crate does not
/// parse (`openssl pkcs8 -v1 …`, OpenSSL 1.0's and old Java's default), so the error can say what
/// it is and how to convert it rather than calling the file malformed. The algorithm OID comes
/// right after the two SEQUENCE headers; a prefix match on it is enough to pick a message.
fn pbes1_scheme(der: &[u8]) -> Option<&'static str> {
    const PKCS12_PBE: [u8; 11] = [0x06, 0x0a, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x01];
    const PKCS5_PBES1: [u8; 10] = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05];
    let head = &der[..der.len().min(24)];
    let at = |oid: &[u8]| {
        head.windows(oid.len() + 1)
            .find(|w| w.starts_with(oid))
            .map(|w| w[oid.len()])
    };
    match at(&PKCS12_PBE) {
        Some(1 | 2) => return Some("PKCS#12 PBE with RC4 (pbeWithSHAAnd128BitRC4/40BitRC4)"),
        Some(3 | 4) => return Some("PKCS#12 PBE with 3DES (pbeWithSHAAnd3-KeyTripleDES-CBC, `openssl pkcs8 -v1`)"),
        Some(_) => return Some("PKCS#12 PBE with RC2 (pbeWithSHAAnd40BitRC2-CBC)"),
        None => {}
    }
    at(&PKCS5_PBES1).map(|_| "PKCS#5 v1.5 PBES1 (DES or RC2 with MD5 or SHA-1)")
}

/// Decrypts an `EncryptedPrivateKeyInfo` (PBES2 with PBKDF2 (HMAC-SHA-1 or SHA-2) or scrypt, AES-CBC or 3DES).
pub(super) fn decrypt_pkcs8(
    der: &[u8],
    path: &Path,
    passphrase: Option<&Secret<String>>,
) -> Result<SecretBytes, KeyError> {
    use pkcs8::der::Decode;
    let info = pkcs8::EncryptedPrivateKeyInfoRef::from_der(der).map_err(|_| match pbes1_scheme(der) {
        Some(cipher) => KeyError::UnsupportedCipher {
            path: path.into(),
            cipher: cipher.into(),
            fix: CONVERT_PKCS8.into(),
        },
        None => KeyError::Malformed {
            path: path.into(),
            reason: "not an encrypted PKCS#8 structure",
        },
    })?;
    super::kdf::check(der, path, super::kdf::Container::Pkcs8)?;
    let Some(pass) = passphrase else {
        return Err(KeyError::PassphraseRequired { path: path.into() });
    };
    match info.decrypt(pass.expose().as_bytes()) {
        Ok(doc) => {
            let out = Zeroizing::new(doc.as_bytes().to_vec());
            // A wrong passphrase can, once in 256 tries, still unpad cleanly: check the result.
            if pkcs8::PrivateKeyInfoRef::from_der(&out).is_err() {
                return Err(KeyError::WrongPassphrase { path: path.into() });
            }
            Ok(out)
        }
        Err(pkcs8::Error::EncryptedPrivateKey(e)) => match e {
            pkcs5::Error::DecryptFailed => Err(KeyError::WrongPassphrase { path: path.into() }),
            other => Err(KeyError::UnsupportedCipher {
                path: path.into(),
                cipher: format!("an encryption scheme signet does not support ({other})"),
                fix: CONVERT_PKCS8.into(),
            }),
        },
        Err(_) => Err(KeyError::WrongPassphrase { path: path.into() }),
    }
}

#[derive(serde::Deserialize)]
struct SaFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    private_key: Option<Zeroizing<String>>,
    private_key_id: Option<String>,
    client_email: Option<String>,
    token_uri: Option<String>,
}

pub(super) fn load_service_account(bytes: &[u8], path: &Path) -> Result<KeyBundle, KeyError> {
    let bad = |reason| KeyError::Malformed {
        path: path.into(),
        reason,
    };
    let sa: SaFile = serde_json::from_slice(bytes).map_err(|_| bad("a JSON file that is not a service-account key"))?;
    if sa.kind.as_deref().is_some_and(|k| k != "service_account") {
        return Err(bad("a JSON file whose type is not service_account"));
    }
    let pem = sa
        .private_key
        .ok_or(bad("a service-account file without private_key"))?;
    let mut bundle = load_pem(pem.as_bytes(), path, None)?;
    bundle.service_account = Some(ServiceAccount {
        client_email: sa.client_email.unwrap_or_default(),
        private_key_id: sa.private_key_id.unwrap_or_default(),
        token_uri: sa.token_uri,
    });
    Ok(bundle)
}
