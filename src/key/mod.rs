//! Private keys and the certificates that name them.
//!
//! [`load_key`] reads every format people actually hold: PEM PKCS#1, PKCS#8, SEC1 and encrypted
//! PKCS#8; PKCS#12/PFX (modern AES and legacy 3DES/RC2); a PEM bundle of a key with its chain
//! (what `openssl pkcs12 -nodes` writes); and a Google service-account JSON file.
//!
//! [`load`] opens whatever a [`KeySpec`] names: such a file, a key on a PKCS#11 token (Cargo
//! feature `pkcs11`) or a key in an ssh-agent (feature `agent`). Each backend implements one
//! trait, `Sign`, behind [`SigningKey`]; a build without a source still recognises its specs
//! and says which feature it lacks.
//!
//! ```
//! # let dir = env!("CARGO_MANIFEST_DIR");
//! let bundle = signet::key::load_key(
//!     format!("{dir}/tests/fixtures/p256.pkcs8.pem").as_ref(), None)?;
//! assert_eq!(bundle.key.key_type(), signet::KeyType::EcP256);
//! # Ok::<(), signet::key::KeyError>(())
//! ```

#[cfg(feature = "agent")]
mod agent;
mod asn1;
mod cert;
mod error;
mod files;
mod jwk;
pub mod kdf;
mod pem_file;
#[cfg(feature = "pkcs11")]
mod pkcs11;
mod pkcs12;
mod rsa_crt;
mod software;
mod spec;
pub(crate) use spec::redact_pin_value;

#[cfg(feature = "pkcs11")]
pub use pkcs11::Pkcs11Uri;

pub use cert::{hex_upper, parse_certificates, BadCertificate, Certificate, KidFrom};
pub use error::KeyError;
pub use files::{load_certificates, permission_warning, read_passphrase_file, read_pin_file, read_secret_file};
pub use jwk::PublicJwk;
pub use spec::{KeySourceOptions, KeySpec};

use crate::alg::{Alg, KeyType};
use crate::secret::Secret;
use std::path::{Path, PathBuf};

/// What every kind of signing key does; one implementation per backend (software keys in
/// `software.rs`, `pkcs11.rs`, `agent.rs`), so that a new key source adds a type rather than an
/// arm to every method of [`SigningKey`].
///
/// Object-safe: [`SigningKey`] holds a `Box<dyn Sign>`. `Send + Sync` because a `Signer` is
/// shared by the threads of a refresh.
pub(crate) trait Sign: Send + Sync {
    /// Signs `msg` with `alg`, which [`SigningKey::check_alg`] has already matched to the key type.
    fn sign(&self, alg: Alg, msg: &[u8]) -> Result<Vec<u8>, KeyError>;

    /// The key's type.
    fn key_type(&self) -> KeyType;

    /// Which implementation signs, for logs and tests.
    fn backend(&self) -> &'static str;

    /// The public key as a JWK.
    fn public_jwk(&self) -> PublicJwk;

    /// The bytes a certificate's subjectPublicKey BIT STRING holds for this key. A backend whose
    /// crypto library encodes the key itself overrides this; the default builds it from the JWK.
    fn public_key_bits(&self) -> Vec<u8> {
        self.public_jwk().public_key_bits()
    }

    /// The SubjectPublicKeyInfo DER (default: built from the JWK, as for the other method).
    fn spki_der(&self) -> Vec<u8> {
        self.public_jwk().spki_der()
    }
}

/// A private key ready to sign, kept in its backend's own form so that repeated signatures do
/// not re-parse or re-validate it: in this process's memory (*ring* or AWS-LC), on a PKCS#11
/// token, or in an ssh-agent.
///
/// **Wiping:** AWS-LC wipes its copy of a key when dropped. *ring*, which signs most RSA keys
/// on CPUs without AVX-512 IFMA because it is faster there for a one-shot signature (with IFMA,
/// AWS-LC signs them), does not: its RSA limbs are wiped on free
/// only when the embedding program installs [`crate::alloc::ZeroizeOnFree`] as its global
/// allocator (`#[global_allocator]`), as the `signet` binary does.
pub struct SigningKey {
    backend: Box<dyn Sign>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("type", &self.key_type())
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    pub(crate) fn from_backend(backend: Box<dyn Sign>) -> SigningKey {
        SigningKey { backend }
    }

    /// Which implementation signs: "ring", "aws-lc", "pkcs11" or "ssh-agent" (for logs and tests).
    pub fn backend(&self) -> &'static str {
        self.backend.backend()
    }

    /// The key's type.
    pub fn key_type(&self) -> KeyType {
        self.backend.key_type()
    }

    /// Checks that `alg` can sign with this key.
    pub fn check_alg(&self, alg: Alg) -> Result<(), KeyError> {
        let key_type = self.key_type();
        if alg.fits(key_type) {
            Ok(())
        } else {
            Err(KeyError::AlgMismatch {
                alg,
                needs: alg.needs(),
                has: key_type,
            })
        }
    }

    /// Signs `msg` (a JWS signing input) and returns the JWS signature bytes
    /// (PKCS#1 v1.5 or PSS for RSA, fixed-width r‖s for ECDSA, 64 bytes for Ed25519).
    pub fn sign(&self, alg: Alg, msg: &[u8]) -> Result<Vec<u8>, KeyError> {
        self.check_alg(alg)?;
        self.backend.sign(alg, msg)
    }

    /// The public key as a JWK.
    pub fn public_jwk(&self) -> PublicJwk {
        self.backend.public_jwk()
    }

    /// The bytes a certificate's subjectPublicKey BIT STRING holds for this key.
    pub fn public_key_bits(&self) -> Vec<u8> {
        self.backend.public_key_bits()
    }

    /// The SubjectPublicKeyInfo DER.
    pub fn spki_der(&self) -> Vec<u8> {
        self.backend.spki_der()
    }

    /// base64url SHA-256 of the SubjectPublicKeyInfo DER (Keycloak's key id).
    pub fn spki_s256(&self) -> String {
        crate::b64::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &self.spki_der()).as_ref())
    }
}

/// The type of a key held outside the process (token, agent), known by its public half; an RSA
/// key under 2048 bits is refused as it is from a file.
#[cfg(any(feature = "pkcs11", feature = "agent"))]
fn held_key_type(jwk: &PublicJwk, spec: &str) -> Result<KeyType, KeyError> {
    Ok(match jwk {
        PublicJwk::Rsa { n, .. } => {
            let bits = n.len() * 8 - n.first().map(|b| b.leading_zeros() as usize).unwrap_or(0);
            software::check_rsa_bits(bits, Path::new(spec))?;
            KeyType::Rsa { bits }
        }
        PublicJwk::Ec { crv: "P-256", .. } => KeyType::EcP256,
        PublicJwk::Ec { .. } => KeyType::EcP384,
        PublicJwk::Okp { .. } => KeyType::Ed25519,
    })
}

/// A key with what came with it: the certificate chain (leaf first) and, for a Google
/// service-account file, its identity fields.
#[derive(Debug)]
pub struct KeyBundle {
    /// The signing key.
    pub key: SigningKey,
    /// Certificates, leaf first; empty when none is known.
    pub chain: Vec<Certificate>,
    /// Set when the key came from a Google service-account JSON file.
    pub service_account: Option<ServiceAccount>,
    /// Where the key came from, for messages.
    pub source: PathBuf,
}

/// The non-secret fields of a Google service-account key file.
#[derive(Clone, Debug, Default)]
pub struct ServiceAccount {
    /// `client_email`: the default `iss` and client id.
    pub client_email: String,
    /// `private_key_id`: the default `kid`.
    pub private_key_id: String,
    /// `token_uri`.
    pub token_uri: Option<String>,
}

impl KeyBundle {
    /// The leaf certificate, if any.
    pub fn leaf(&self) -> Option<&Certificate> {
        self.chain.first()
    }

    /// Uses the certificates in `certs` instead of the bundle's own, the one matching the key
    /// first, after checking that it belongs to the key.
    pub fn set_chain(&mut self, certs: Vec<Certificate>, cert_path: &Path) -> Result<(), KeyError> {
        // A chain file may list the CA before the leaf (`cat ca.pem leaf.pem`): the one that
        // matches the key leads, as in a PKCS#12 or a key+certificate bundle.
        let certs = pem_file::leaf_first(&self.key, certs);
        if let Some(leaf) = certs.first() {
            check_match(&self.key, leaf, cert_path, &self.source)?;
        }
        self.chain = certs;
        Ok(())
    }
}

fn check_match(key: &SigningKey, cert: &Certificate, cert_path: &Path, key_path: &Path) -> Result<(), KeyError> {
    if cert.public_key_bits() == key.public_key_bits().as_slice() {
        Ok(())
    } else {
        Err(KeyError::Mismatch {
            cert: cert_path.into(),
            subject: cert.subject().to_string(),
            key: key_path.into(),
        })
    }
}

/// Loads the key `spec` names, then the certificate file `cert` if given (checking that it
/// belongs to the key), then the certificate checks that do not depend on time.
///
/// `passphrase` decrypts a key file; `opts` reaches a key that is not a file.
pub fn load(
    spec: &KeySpec,
    passphrase: Option<&Secret<String>>,
    cert: Option<&Path>,
    opts: &KeySourceOptions,
) -> Result<KeyBundle, KeyError> {
    let mut bundle = spec.open(passphrase, opts)?;
    if let Some(cp) = cert {
        bundle.set_chain(load_certificates(cp)?, cp)?;
    } else if let (Some(key_path), Some(leaf)) = (spec.file(), bundle.chain.first()) {
        // Only a file's own certificate is checked here: one found on a token by the key's id or
        // label has always been taken as it is.
        check_match(&bundle.key, leaf, key_path, key_path)?;
    }
    Ok(bundle)
}

/// [`load`] for a key file: loads it, then applies the certificate file `cert_path` if given
/// (checking it matches), then the certificate checks that do not depend on time.
pub fn load_bundle(
    key_path: &Path,
    passphrase: Option<&Secret<String>>,
    cert_path: Option<&Path>,
) -> Result<KeyBundle, KeyError> {
    load(
        &KeySpec::File(key_path.to_path_buf()),
        passphrase,
        cert_path,
        &KeySourceOptions::default(),
    )
}

/// Loads a private key and whatever certificates come with it.
///
/// `passphrase` decrypts an encrypted PKCS#8 or a PKCS#12; a PKCS#12 with no passphrase given is
/// tried with the empty password (as Azure Key Vault exports them).
pub fn load_key(path: &Path, passphrase: Option<&Secret<String>>) -> Result<KeyBundle, KeyError> {
    let bytes = read_secret_file(path).map_err(|e| KeyError::Read {
        path: path.into(),
        reason: crate::text::io_reason(&e),
    })?;
    let bundle = load_key_bytes(&bytes, path, passphrase)?;
    tracing::debug!(
        "loaded {} from {} (signs with {}; {} certificate{})",
        bundle.key.key_type(),
        path.display(),
        bundle.key.backend(),
        bundle.chain.len(),
        if bundle.chain.len() == 1 { "" } else { "s" }
    );
    Ok(bundle)
}

/// Like [`load_key`], from bytes already read; `path` only names the source in errors.
pub fn load_key_bytes(bytes: &[u8], path: &Path, passphrase: Option<&Secret<String>>) -> Result<KeyBundle, KeyError> {
    let trimmed = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map(|i| &bytes[i..])
        .unwrap_or(&[]);
    if trimmed.is_empty() {
        return Err(KeyError::UnknownFormat { path: path.into() });
    }
    if trimmed[0] == b'{' {
        return pem_file::load_service_account(trimmed, path);
    }
    if trimmed.windows(11).any(|w| w == b"-----BEGIN ") {
        return pem_file::load_pem(trimmed, path, passphrase);
    }
    load_der(bytes, path, passphrase)
}

/// Reads a PKCS#12/PFX from bytes; `path` only names the source in errors.
pub fn load_pkcs12_bytes(
    bytes: &[u8],
    path: &Path,
    passphrase: Option<&Secret<String>>,
) -> Result<KeyBundle, KeyError> {
    pkcs12::load(bytes, path, passphrase)
}

/// The certificates of a PKCS#12, which may hold no private key; leaf first when it does.
pub fn pkcs12_certificates(
    bytes: &[u8],
    path: &Path,
    passphrase: Option<&Secret<String>>,
) -> Result<Vec<Certificate>, KeyError> {
    pkcs12::certificates(bytes, path, passphrase)
}

/// The private key of a PKCS#12 as PKCS#8 DER (for a TLS client identity).
pub fn pkcs12_key_der(
    bytes: &[u8],
    path: &Path,
    passphrase: Option<&Secret<String>>,
) -> Result<crate::secret::SecretBytes, KeyError> {
    pkcs12::key_der(bytes, path, passphrase)
}

/// Decrypts an encrypted PKCS#8 (`ENCRYPTED PRIVATE KEY`) into PKCS#8 DER.
pub fn decrypt_pkcs8_der(
    der: &[u8],
    path: &Path,
    passphrase: Option<&Secret<String>>,
) -> Result<crate::secret::SecretBytes, KeyError> {
    Ok(crate::secret::SecretBytes::new(
        pem_file::decrypt_pkcs8(der, path, passphrase)?.to_vec(),
    ))
}

/// Whether DER bytes are an encrypted PKCS#8.
pub fn is_encrypted_pkcs8_der(der: &[u8]) -> bool {
    pem_file::is_encrypted_pkcs8(der)
}

/// Whether the bytes are a PKCS#12/PFX (by its DER header; no password needed).
pub fn is_pkcs12(bytes: &[u8]) -> bool {
    pkcs12::looks_like_pfx(bytes)
}

fn load_der(bytes: &[u8], path: &Path, passphrase: Option<&Secret<String>>) -> Result<KeyBundle, KeyError> {
    if pkcs12::looks_like_pfx(bytes) {
        return pkcs12::load(bytes, path, passphrase);
    }
    let bundle = |key| KeyBundle {
        key,
        chain: vec![],
        service_account: None,
        source: path.into(),
    };
    if let Ok(k) = SigningKey::from_pkcs8_der(bytes, path) {
        return Ok(bundle(k));
    }
    if pem_file::is_encrypted_pkcs8(bytes) {
        let der = pem_file::decrypt_pkcs8(bytes, path, passphrase)?;
        return Ok(bundle(SigningKey::from_pkcs8_der(&der, path)?));
    }
    if software::looks_like_pkcs1(bytes) {
        return Ok(bundle(SigningKey::from_pkcs1_der(bytes, path)?));
    }
    if let Ok(k) = SigningKey::from_sec1_der(bytes, path) {
        return Ok(bundle(k));
    }
    if Certificate::from_der(bytes).is_ok() {
        return Err(KeyError::NotAPrivateKey {
            path: path.into(),
            what: "a certificate",
        });
    }
    Err(KeyError::UnknownFormat { path: path.into() })
}
