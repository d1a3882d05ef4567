//! PKCS#12 / PFX files, modern (PBES2 with AES-256 and PBKDF2, OpenSSL 3 and current Windows)
//! and legacy (3DES and RC2-40 with SHA-1, older Windows and `openssl -legacy`).

use super::{pem_file::leaf_first, Certificate, KeyBundle, KeyError, SigningKey};
use crate::secret::Secret;
use std::path::Path;
use zeroize::Zeroizing;

/// Whether the bytes parse as a PFX structure (a DER SEQUENCE whose first member is INTEGER 3).
pub(super) fn looks_like_pfx(b: &[u8]) -> bool {
    // 30 len... 02 01 03
    if b.first() != Some(&0x30) {
        return false;
    }
    let hdr = match b.get(1) {
        Some(l) if *l < 0x80 => 2,
        Some(l) => 2 + (*l & 0x7f) as usize,
        None => return false,
    };
    b.get(hdr..hdr + 3) == Some(&[0x02, 0x01, 0x03])
}

/// The private key as PKCS#8 DER.
pub(super) fn key_der(
    bytes: &[u8],
    path: &Path,
    passphrase: Option<&Secret<String>>,
) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let pass = passphrase.map(|p| p.expose().as_str()).unwrap_or("");
    let store = p12_keystore::KeyStore::from_pkcs12(bytes, pass, p12_keystore::Pkcs12ImportPolicy::Relaxed)
        .map_err(|e| map_error(e, path, passphrase.is_some()))?;
    let Some((_, chain)) = store.private_key_chain() else {
        return Err(KeyError::NotAPrivateKey {
            path: path.into(),
            what: "a PKCS#12 file with no private key",
        });
    };
    Ok(Zeroizing::new(chain.key().as_der().to_vec()))
}

pub(super) fn load(bytes: &[u8], path: &Path, passphrase: Option<&Secret<String>>) -> Result<KeyBundle, KeyError> {
    super::kdf::check(bytes, path, super::kdf::Container::Pkcs12)?;
    let pass = passphrase.map(|p| p.expose().as_str()).unwrap_or("");
    let store = match p12_keystore::KeyStore::from_pkcs12(bytes, pass, p12_keystore::Pkcs12ImportPolicy::Relaxed) {
        Ok(s) => s,
        Err(e) => return Err(map_error(e, path, passphrase.is_some())),
    };
    let Some((_, chain)) = store.private_key_chain() else {
        return Err(KeyError::NotAPrivateKey {
            path: path.into(),
            what: "a PKCS#12 file with no private key",
        });
    };
    let der = Zeroizing::new(chain.key().as_der().to_vec());
    let key = SigningKey::from_pkcs8_der(&der, path)?;
    let mut certs: Vec<Certificate> = chain
        .certs()
        .iter()
        .filter_map(|c| Certificate::from_der(c.as_der()).ok())
        .collect();
    // Some exporters put the CA certificates in their own bags, outside the key's chain.
    if certs.len() <= 1 {
        for (_, entry) in store.entries() {
            if let p12_keystore::KeyStoreEntry::Certificate(c) = entry {
                if let Ok(c) = Certificate::from_der(c.as_der()) {
                    if !certs.iter().any(|x| x.der() == c.der()) {
                        certs.push(c);
                    }
                }
            }
        }
    }
    let chain = leaf_first(&key, certs);
    Ok(KeyBundle {
        key,
        chain,
        service_account: None,
        source: path.into(),
    })
}

/// The certificates of a PKCS#12, for a file that may hold no key (`openssl pkcs12 -export
/// -nokeys`): what `signet thumbprint` needs. Leaf first when a key is there to tell which.
pub(super) fn certificates(
    bytes: &[u8],
    path: &Path,
    passphrase: Option<&Secret<String>>,
) -> Result<Vec<Certificate>, KeyError> {
    super::kdf::check(bytes, path, super::kdf::Container::Pkcs12)?;
    let pass = passphrase.map(|p| p.expose().as_str()).unwrap_or("");
    let store = p12_keystore::KeyStore::from_pkcs12(bytes, pass, p12_keystore::Pkcs12ImportPolicy::Relaxed)
        .map_err(|e| map_error(e, path, passphrase.is_some()))?;
    if store.private_key_chain().is_some() {
        return load(bytes, path, passphrase).map(|b| b.chain);
    }
    // The relaxed policy keeps only certificates marked trusted when no key claims them; the
    // raw one keeps every certificate bag.
    let store = p12_keystore::KeyStore::from_pkcs12(bytes, pass, p12_keystore::Pkcs12ImportPolicy::Raw)
        .map_err(|e| map_error(e, path, passphrase.is_some()))?;
    Ok(store
        .entries()
        .filter_map(|(_, entry)| match entry {
            p12_keystore::KeyStoreEntry::Certificate(c) => Certificate::from_der(c.as_der()).ok(),
            _ => None,
        })
        .collect())
}

fn map_error(e: p12_keystore::error::Error, path: &Path, had_passphrase: bool) -> KeyError {
    use p12_keystore::error::Error as E;
    match e {
        E::MacError(_) | E::UnpadError | E::InvalidPrivateKey if !had_passphrase => {
            KeyError::PassphraseRequired { path: path.into() }
        }
        E::MacError(_) | E::UnpadError | E::InvalidPrivateKey => KeyError::WrongPassphrase { path: path.into() },
        E::UnsupportedEncryptionScheme => KeyError::UnsupportedCipher {
            path: path.into(),
            cipher: "a PKCS#12 encryption scheme signet does not support (supported: AES-CBC with PBKDF2, 3DES and RC2-40 with SHA-1)".into(),
            fix: "openssl pkcs12 -legacy -in OLD.pfx -nodes | openssl pkcs12 -export -out NEW.pfx (OpenSSL 3 writes AES-256 by default)".into(),
        },
        E::UnsupportedMacAlgorithm => KeyError::UnsupportedCipher {
            path: path.into(),
            cipher: "a PKCS#12 integrity (MAC) algorithm signet does not support".into(),
            fix: "openssl pkcs12 -in OLD.pfx -nodes | openssl pkcs12 -export -macalg sha256 -out NEW.pfx".into(),
        },
        _ => KeyError::Malformed { path: path.into(), reason: "the PKCS#12 structure is damaged or not PKCS#12" },
    }
}
