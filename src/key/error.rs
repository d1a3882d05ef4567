//! [`KeyError`]: why a key or certificate could not be used.

use crate::alg::{Alg, KeyType};
use std::path::PathBuf;

/// Why a key or certificate could not be used. Every variant names the file; none holds key bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The file could not be read.
    #[error("cannot read key file {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error, in words.
        reason: String,
    },
    /// The assertion file (`--assertion-file`: a federated token signet sends as it is) could
    /// not be read. A key error: it stands where the key would.
    #[error("cannot read assertion file {path}: {reason}")]
    AssertionRead {
        /// The file.
        path: PathBuf,
        /// The OS error, or signet's reason, in words.
        reason: String,
    },
    /// The file holds a certificate or public key, not a private key.
    #[error(
        "{path} holds {what}, not a private key: give the private key with --key (and the certificate with --cert)"
    )]
    NotAPrivateKey {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        what: &'static str,
    },
    /// Nothing in the file looks like a key signet reads.
    #[error("{path} is not a private key signet can read (PEM PKCS#1/PKCS#8/SEC1, encrypted PKCS#8, PKCS#12/PFX, or a Google service-account JSON file)")]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// The key is encrypted and no passphrase was given.
    #[error("{path} is encrypted: give its passphrase in SIGNET_KEY_PASSPHRASE or with --key-passphrase-file")]
    PassphraseRequired {
        /// The file.
        path: PathBuf,
    },
    /// The passphrase did not decrypt the key.
    // No flag named: the library does not know where the passphrase came from (a flag, or a
    // profile's `key_passphrase_file`). The same text in PassphraseRequired is asserted by
    // tests/cli/errors.rs, so it stays until the CLI adds its own hint.
    #[error("wrong passphrase for {path} (check SIGNET_KEY_PASSPHRASE or the passphrase file)")]
    WrongPassphrase {
        /// The file.
        path: PathBuf,
    },
    /// The passphrase file could not be read. The message does not show the path: a passphrase
    /// typed where the file's path belongs (`--key-passphrase-file 12345`) would land in the log.
    #[error("cannot read the file given by --key-passphrase-file ({reason}): give the path of a file holding the passphrase, or set SIGNET_KEY_PASSPHRASE")]
    PassphraseFile {
        /// The file.
        path: PathBuf,
        /// The OS error, in words.
        reason: String,
    },
    /// The file a `pkcs11:` URI's `pin-source` names could not be read (its path is not shown,
    /// for the reason [`KeyError::PassphraseFile`]'s is not).
    #[error("cannot read the file given by pin-source in the pkcs11: URI ({reason}): give the path of a file holding the PIN, or set SIGNET_PKCS11_PIN")]
    PinFile {
        /// The file.
        path: PathBuf,
        /// The OS error, in words.
        reason: String,
    },
    /// An encryption scheme signet does not implement.
    #[error("{path} is encrypted with {cipher}, which signet does not read; convert it with: {fix}")]
    UnsupportedCipher {
        /// The file.
        path: PathBuf,
        /// The scheme, by name.
        cipher: String,
        /// A command that converts the file.
        fix: String,
    },
    /// A key type signet cannot sign with.
    #[error("{path} holds {what}, which signet cannot sign with (RSA ≥ 2048 bits, EC P-256/P-384 and Ed25519 are supported)")]
    UnsupportedKeyType {
        /// The file.
        path: PathBuf,
        /// The key type, in words.
        what: String,
    },
    /// RSA below 2048 bits.
    #[error("{path} holds an RSA-{bits} key, which is too weak: use a key of at least 2048 bits")]
    WeakRsa {
        /// The file.
        path: PathBuf,
        /// Modulus length.
        bits: usize,
    },
    /// The key structure is damaged.
    #[error("{path}: the private key is malformed ({reason})")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What was wrong, without key bytes.
        reason: &'static str,
    },
    /// The certificate file could not be read.
    #[error("cannot read certificate {path}: {reason}")]
    CertRead {
        /// The file.
        path: PathBuf,
        /// The OS error, in words.
        reason: String,
    },
    /// The certificate file holds no certificate.
    #[error("{path} is not an X.509 certificate (PEM or DER)")]
    BadCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The certificate does not belong to the key.
    #[error("the certificate {cert} (subject {subject}) does not match the private key {key}: give the certificate issued for this key")]
    Mismatch {
        /// The certificate's source.
        cert: PathBuf,
        /// The certificate subject.
        subject: String,
        /// The key's source.
        key: PathBuf,
    },
    /// The certificate is outside its validity period.
    #[error("the certificate {subject} is {state}: valid from {not_before} to {not_after}")]
    CertificateExpired {
        /// Subject.
        subject: String,
        /// "expired" or "not yet valid".
        state: &'static str,
        /// Start, RFC 3339.
        not_before: String,
        /// End, RFC 3339.
        not_after: String,
    },
    /// The requested algorithm cannot be used with this key.
    #[error("algorithm {alg} needs {needs}, but the key is {has}: choose a matching --alg or key")]
    AlgMismatch {
        /// Requested algorithm.
        alg: Alg,
        /// What it needs.
        needs: &'static str,
        /// What the key is.
        has: KeyType,
    },
    /// A key on a PKCS#11 token or in an ssh-agent could not be used.
    #[error("{}: {reason}", super::spec::redact_pin_value(.spec))]
    Backend {
        /// The key spec as given (`pkcs11:…`, `ssh-agent:…`).
        spec: String,
        /// What went wrong (never a PIN).
        reason: String,
    },
    /// The key spec names a key source this build of signet leaves out.
    #[error("{}: this signet was built without {what} support (Cargo feature `{feature}`)", super::spec::redact_pin_value(.spec))]
    NotBuilt {
        /// The key spec as given.
        spec: String,
        /// The key source, in words.
        what: &'static str,
        /// The Cargo feature that brings it.
        feature: &'static str,
    },
    /// The file's key derivation asks for more work or memory than signet spends (see
    /// [`crate::key::kdf`]).
    #[error("{path} asks for {parameter} = {value} to derive its decryption key, over signet's limit of {max}: files from OpenSSL, Windows and Key Vault stay far below it; re-encrypt the key: openssl pkcs8 -topk8 -v2 aes-256-cbc -iter 600000 -in OLD -out NEW")]
    KdfLimit {
        /// The file.
        path: PathBuf,
        /// The parameter, in words.
        parameter: &'static str,
        /// Its value in the file.
        value: u64,
        /// signet's limit.
        max: u64,
    },
    /// The crypto backend refused to sign (should not happen with a loaded key).
    #[error("signing with {alg} failed")]
    Sign {
        /// Algorithm.
        alg: Alg,
    },
}

impl KeyError {
    /// Whether this is a usage error (exit 2) rather than a key error (exit 3).
    pub fn is_usage(&self) -> bool {
        // A passphrase or PIN file that cannot be read is a configuration error, as a missing
        // config or CA file is.
        matches!(
            self,
            KeyError::AlgMismatch { .. } | KeyError::PassphraseFile { .. } | KeyError::PinFile { .. }
        )
    }
}
