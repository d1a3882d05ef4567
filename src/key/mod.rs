//! Private keys and the certificates that name them.
//!
//! [`load_key`] reads every format people actually hold: PEM PKCS#1, PKCS#8, SEC1 and encrypted
//! PKCS#8; PKCS#12/PFX (modern AES and legacy 3DES/RC2); a PEM bundle of a key with its chain
//! (what `openssl pkcs12 -nodes` writes); and a Google service-account JSON file.
//!
//! ```
//! # let dir = env!("CARGO_MANIFEST_DIR");
//! let bundle = signet::key::load_key(
//!     format!("{dir}/tests/fixtures/p256.pkcs8.pem").as_ref(), None)?;
//! assert_eq!(bundle.key.key_type(), signet::KeyType::EcP256);
//! # Ok::<(), signet::key::KeyError>(())
//! ```

mod agent;
mod cert;
mod jwk;
mod pem_file;
mod pkcs11;
mod pkcs12;

pub use pkcs11::Pkcs11Uri;

pub use cert::{hex_upper, parse_certificates, BadCertificate, Certificate};
pub use jwk::PublicJwk;

use crate::alg::{Alg, KeyType};
use crate::secret::{Secret, SecretBytes};
use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

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
    #[error("wrong passphrase for {path} (check SIGNET_KEY_PASSPHRASE or --key-passphrase-file)")]
    WrongPassphrase {
        /// The file.
        path: PathBuf,
    },
    /// The passphrase file could not be read.
    #[error("cannot read passphrase file {path}: {reason}")]
    PassphraseFile {
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
    #[error("{source_name}: {reason}")]
    Remote {
        /// The `pkcs11:` or `ssh-agent:` spec.
        source_name: String,
        /// What went wrong (never a PIN).
        reason: String,
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
        matches!(self, KeyError::AlgMismatch { .. })
    }
}

enum Inner {
    /// RSA held by *ring*: its key loading checks the key and precomputes in ~30 µs and its first
    /// signature costs what every later one does, where AWS-LC spends ~0.3 ms in `RSA_check_key`
    /// and ~0.45 ms of first-use set-up (Montgomery contexts, blinding) — together more than the
    /// signature itself in a one-shot `signet assert` (measured: benches/signing.rs `rsa2048_one_shot`,
    /// docs/BENCHMARKS.md). *ring* does not wipe its copy when dropped; the `signet` binary frees
    /// through [`crate::alloc::ZeroizeOnFree`], which does. The public JWK is kept beside it.
    RsaRing(ring::signature::RsaKeyPair, PublicJwk),
    /// RSA keys *ring* refuses (public exponent below 65537, modulus above 4096 bits).
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
    /// On a PKCS#11 token: (key, its public JWK, the URI).
    Pkcs11(Box<pkcs11::Pkcs11Key>, PublicJwk, String),
    /// In an ssh-agent: (key, its public JWK).
    Agent(agent::AgentKey, PublicJwk),
}

/// A private key ready to sign, kept in the crypto backend's own form so that repeated
/// signatures do not re-parse or re-validate it. The backend wipes its copy when dropped.
pub struct SigningKey {
    inner: Inner,
    key_type: KeyType,
    rng: SystemRandom,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("type", &self.key_type)
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_RSA_PSS: &str = "1.2.840.113549.1.1.10";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_P521: &str = "1.3.132.0.35";
const OID_ED25519: &str = "1.3.101.112";
const OID_ED448: &str = "1.3.101.113";

impl SigningKey {
    /// Reads an unencrypted PKCS#8 `PrivateKeyInfo`.
    pub fn from_pkcs8_der(der: &[u8], path: &Path) -> Result<SigningKey, KeyError> {
        use pkcs8::der::Decode;
        let info = pkcs8::PrivateKeyInfoRef::from_der(der).map_err(|_| KeyError::Malformed {
            path: path.into(),
            reason: "not a PKCS#8 structure",
        })?;
        let oid = info.algorithm.oid.to_string();
        let unsupported = |what: &str| KeyError::UnsupportedKeyType {
            path: path.into(),
            what: what.into(),
        };
        match oid.as_str() {
            OID_RSA => {
                let bits = rsa_bits(info.private_key.as_bytes()).unwrap_or(0);
                check_rsa_bits(bits, path)?;
                if let Ok(k) = ring::signature::RsaKeyPair::from_pkcs8(der) {
                    return Ok(SigningKey::rsa_ring(k));
                }
                let k = RsaKeyPair::from_pkcs8(der).map_err(|e| rsa_rejected(e, bits, path))?;
                Ok(SigningKey::rsa(k))
            }
            OID_EC => {
                let curve =
                    info.algorithm
                        .parameters_oid()
                        .map(|o| o.to_string())
                        .map_err(|_| KeyError::Malformed {
                            path: path.into(),
                            reason: "EC key without a named curve",
                        })?;
                let (alg, kt) = match curve.as_str() {
                    OID_P256 => (&sig::ECDSA_P256_SHA256_FIXED_SIGNING, KeyType::EcP256),
                    OID_P384 => (&sig::ECDSA_P384_SHA384_FIXED_SIGNING, KeyType::EcP384),
                    OID_P521 => return Err(unsupported("an EC P-521 key (ES512)")),
                    _ => return Err(unsupported(&format!("an EC key on curve {curve}"))),
                };
                let k = EcdsaKeyPair::from_pkcs8(alg, der).map_err(|_| KeyError::Malformed {
                    path: path.into(),
                    reason: "EC key rejected",
                })?;
                Ok(SigningKey {
                    inner: Inner::Ec(k),
                    key_type: kt,
                    rng: SystemRandom::new(),
                })
            }
            OID_ED25519 => {
                let k = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(|_| KeyError::Malformed {
                    path: path.into(),
                    reason: "Ed25519 key rejected",
                })?;
                Ok(SigningKey {
                    inner: Inner::Ed(k),
                    key_type: KeyType::Ed25519,
                    rng: SystemRandom::new(),
                })
            }
            OID_RSA_PSS => Err(unsupported(
                "an RSASSA-PSS-restricted RSA key (convert it to a plain RSA key)",
            )),
            OID_ED448 => Err(unsupported("an Ed448 key")),
            other => Err(unsupported(&format!("a key of algorithm {other}"))),
        }
    }

    /// Reads a PKCS#1 `RSAPrivateKey`.
    pub fn from_pkcs1_der(der: &[u8], path: &Path) -> Result<SigningKey, KeyError> {
        let bits = rsa_bits(der).ok_or(KeyError::Malformed {
            path: path.into(),
            reason: "not a PKCS#1 RSA key",
        })?;
        check_rsa_bits(bits, path)?;
        if let Ok(k) = ring::signature::RsaKeyPair::from_der(der) {
            return Ok(SigningKey::rsa_ring(k));
        }
        let k = RsaKeyPair::from_der(der).map_err(|e| rsa_rejected(e, bits, path))?;
        Ok(SigningKey::rsa(k))
    }

    /// Reads a SEC1 `ECPrivateKey` (P-256 or P-384).
    pub fn from_sec1_der(der: &[u8], path: &Path) -> Result<SigningKey, KeyError> {
        if let Ok(k) = EcdsaKeyPair::from_private_key_der(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, der) {
            return Ok(SigningKey {
                inner: Inner::Ec(k),
                key_type: KeyType::EcP256,
                rng: SystemRandom::new(),
            });
        }
        if let Ok(k) = EcdsaKeyPair::from_private_key_der(&sig::ECDSA_P384_SHA384_FIXED_SIGNING, der) {
            return Ok(SigningKey {
                inner: Inner::Ec(k),
                key_type: KeyType::EcP384,
                rng: SystemRandom::new(),
            });
        }
        Err(KeyError::UnsupportedKeyType {
            path: path.into(),
            what: "an EC key that is not on P-256 or P-384".into(),
        })
    }

    fn rsa_ring(k: ring::signature::RsaKeyPair) -> SigningKey {
        let bits = k.public().modulus_len() * 8;
        let parts = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(k.public());
        let jwk = PublicJwk::Rsa { n: parts.n, e: parts.e };
        SigningKey {
            inner: Inner::RsaRing(k, jwk),
            key_type: KeyType::Rsa { bits },
            rng: SystemRandom::new(),
        }
    }

    /// Which implementation signs: "ring", "aws-lc", "pkcs11" or "ssh-agent" (for logs and tests).
    pub fn backend(&self) -> &'static str {
        match &self.inner {
            Inner::RsaRing(..) => "ring",
            Inner::Rsa(_) | Inner::Ec(_) | Inner::Ed(_) => "aws-lc",
            Inner::Pkcs11(..) => "pkcs11",
            Inner::Agent(..) => "ssh-agent",
        }
    }

    fn rsa(k: RsaKeyPair) -> SigningKey {
        let bits = k.public_modulus_len() * 8;
        SigningKey {
            inner: Inner::Rsa(k),
            key_type: KeyType::Rsa { bits },
            rng: SystemRandom::new(),
        }
    }

    /// The key's type.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// Checks that `alg` can sign with this key.
    pub fn check_alg(&self, alg: Alg) -> Result<(), KeyError> {
        if alg.fits(self.key_type) {
            Ok(())
        } else {
            Err(KeyError::AlgMismatch {
                alg,
                needs: alg.needs(),
                has: self.key_type,
            })
        }
    }

    /// Signs `msg` (a JWS signing input) and returns the JWS signature bytes
    /// (PKCS#1 v1.5 or PSS for RSA, fixed-width r‖s for ECDSA, 64 bytes for Ed25519).
    pub fn sign(&self, alg: Alg, msg: &[u8]) -> Result<Vec<u8>, KeyError> {
        self.check_alg(alg)?;
        let fail = || KeyError::Sign { alg };
        match &self.inner {
            Inner::RsaRing(k, _) => {
                use ring::signature as rs;
                let padding: &'static dyn rs::RsaEncoding = match alg {
                    Alg::RS256 => &rs::RSA_PKCS1_SHA256,
                    Alg::RS384 => &rs::RSA_PKCS1_SHA384,
                    Alg::RS512 => &rs::RSA_PKCS1_SHA512,
                    Alg::PS256 => &rs::RSA_PSS_SHA256,
                    Alg::PS384 => &rs::RSA_PSS_SHA384,
                    Alg::PS512 => &rs::RSA_PSS_SHA512,
                    _ => return Err(fail()),
                };
                let mut out = vec![0u8; k.public().modulus_len()];
                k.sign(padding, &ring::rand::SystemRandom::new(), msg, &mut out)
                    .map_err(|_| fail())?;
                Ok(out)
            }
            Inner::Rsa(k) => {
                let padding: &'static dyn sig::RsaEncoding = match alg {
                    Alg::RS256 => &sig::RSA_PKCS1_SHA256,
                    Alg::RS384 => &sig::RSA_PKCS1_SHA384,
                    Alg::RS512 => &sig::RSA_PKCS1_SHA512,
                    Alg::PS256 => &sig::RSA_PSS_SHA256,
                    Alg::PS384 => &sig::RSA_PSS_SHA384,
                    Alg::PS512 => &sig::RSA_PSS_SHA512,
                    _ => return Err(fail()),
                };
                let mut out = vec![0u8; k.public_modulus_len()];
                k.sign(padding, &self.rng, msg, &mut out).map_err(|_| fail())?;
                Ok(out)
            }
            Inner::Ec(k) => Ok(k.sign(&self.rng, msg).map_err(|_| fail())?.as_ref().to_vec()),
            Inner::Ed(k) => Ok(k.sign(msg).as_ref().to_vec()),
            Inner::Pkcs11(k, _, spec) => k.sign(alg, msg, spec),
            Inner::Agent(k, _) => k.sign(alg, msg),
        }
    }

    /// The public key as a JWK.
    pub fn public_jwk(&self) -> PublicJwk {
        match &self.inner {
            Inner::Rsa(k) => PublicJwk::Rsa {
                n: k.public_key().modulus().big_endian_without_leading_zero().to_vec(),
                e: k.public_key().exponent().big_endian_without_leading_zero().to_vec(),
            },
            Inner::Ec(k) => {
                let p = k.public_key().as_ref();
                let w = (p.len() - 1) / 2;
                let crv = if self.key_type == KeyType::EcP256 {
                    "P-256"
                } else {
                    "P-384"
                };
                PublicJwk::Ec {
                    crv,
                    x: p[1..1 + w].to_vec(),
                    y: p[1 + w..].to_vec(),
                }
            }
            Inner::Ed(k) => PublicJwk::Okp {
                x: k.public_key().as_ref().to_vec(),
            },
            Inner::RsaRing(_, j) | Inner::Pkcs11(_, j, _) | Inner::Agent(_, j) => j.clone(),
        }
    }

    /// The bytes a certificate's subjectPublicKey BIT STRING holds for this key.
    pub fn public_key_bits(&self) -> Vec<u8> {
        match &self.inner {
            Inner::Rsa(k) => k.public_key().as_ref().to_vec(),
            Inner::Ec(k) => k.public_key().as_ref().to_vec(),
            Inner::Ed(k) => k.public_key().as_ref().to_vec(),
            Inner::RsaRing(_, j) | Inner::Pkcs11(_, j, _) | Inner::Agent(_, j) => j.public_key_bits(),
        }
    }

    /// The SubjectPublicKeyInfo DER.
    pub fn spki_der(&self) -> Vec<u8> {
        let der: Option<PublicKeyX509Der<'static>> = match &self.inner {
            Inner::Rsa(k) => k.public_key().as_der().ok(),
            Inner::Ec(k) => k.public_key().as_der().ok(),
            Inner::Ed(k) => k.public_key().as_der().ok(),
            Inner::RsaRing(_, j) | Inner::Pkcs11(_, j, _) | Inner::Agent(_, j) => return j.spki_der(),
        };
        der.map(|d| d.as_ref().to_vec()).unwrap_or_default()
    }

    /// base64url SHA-256 of the SubjectPublicKeyInfo DER (Keycloak's key id).
    pub fn spki_s256(&self) -> String {
        crate::b64::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &self.spki_der()).as_ref())
    }
}

/// Where keys that are not files are reached: the PKCS#11 module and PIN, the agent's socket.
#[derive(Clone, Debug, Default)]
pub struct RemoteOptions {
    /// SIGNET_PKCS11_MODULE (the URI's module-path wins).
    pub pkcs11_module: Option<String>,
    /// SIGNET_PKCS11_PIN (the URI's pin-source wins).
    pub pkcs11_pin: Option<Secret<String>>,
    /// SSH_AUTH_SOCK.
    pub agent_socket: Option<PathBuf>,
}

/// Whether a `--key` value names a key that is not a file (`pkcs11:`, `ssh-agent:`).
pub fn is_remote(spec: &str) -> bool {
    spec.starts_with("pkcs11:") || spec.starts_with("ssh-agent:")
}

impl SigningKey {
    fn remote(inner: Inner, jwk: &PublicJwk, spec: &str) -> Result<SigningKey, KeyError> {
        let key_type = match jwk {
            PublicJwk::Rsa { n, .. } => {
                let bits = n.len() * 8 - n.first().map(|b| b.leading_zeros() as usize).unwrap_or(0);
                check_rsa_bits(bits, Path::new(spec))?;
                KeyType::Rsa { bits }
            }
            PublicJwk::Ec { crv: "P-256", .. } => KeyType::EcP256,
            PublicJwk::Ec { .. } => KeyType::EcP384,
            PublicJwk::Okp { .. } => KeyType::Ed25519,
        };
        Ok(SigningKey {
            inner,
            key_type,
            rng: SystemRandom::new(),
        })
    }
}

/// Opens a key on a PKCS#11 token or in an ssh-agent. A certificate stored on the token with the
/// key's id or label comes with it.
pub fn load_remote(spec: &str, opts: &RemoteOptions) -> Result<KeyBundle, KeyError> {
    let (key, chain) = if spec.starts_with("pkcs11:") {
        let (k, jwk, certs) = pkcs11::open(spec, opts.pkcs11_module.as_deref(), opts.pkcs11_pin.as_ref())?;
        (
            SigningKey::remote(Inner::Pkcs11(Box::new(k), jwk.clone(), spec.into()), &jwk, spec)?,
            certs,
        )
    } else {
        let (k, jwk) = agent::open(spec, opts.agent_socket.as_deref())?;
        (SigningKey::remote(Inner::Agent(k, jwk.clone()), &jwk, spec)?, vec![])
    };
    let chain = pem_file::leaf_first(&key, chain);
    Ok(KeyBundle {
        key,
        chain,
        service_account: None,
        source: PathBuf::from(spec),
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

/// A warning when a private key file can be read by group or others (as ssh warns), or `None`.
pub fn permission_warning(path: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode();
        if mode & 0o077 != 0 && !path.starts_with("/dev") && !path.starts_with("/proc") {
            return Some(format!(
                "the private key {} is readable by group or others (mode {:o}): chmod 600 it",
                path.display(),
                mode & 0o777
            ));
        }
    }
    let _ = path;
    None
}

/// Reads a file into zeroizing memory, with an error that names it.
pub fn read_secret_file(path: &Path) -> std::io::Result<SecretBytes> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata().map(|m| m.len() as usize).unwrap_or(0);
    // Reserve up front so the buffer never reallocates and leaves key bytes behind.
    let mut buf = Zeroizing::new(Vec::with_capacity(len + 1));
    f.read_to_end(&mut buf)?;
    Ok(buf)
}

/// Reads a passphrase file: one trailing newline (LF or CRLF) is not part of the passphrase.
pub fn read_passphrase_file(path: &Path) -> Result<Secret<String>, KeyError> {
    let bytes = read_secret_file(path).map_err(|e| KeyError::PassphraseFile {
        path: path.into(),
        reason: crate::text::io_reason(&e),
    })?;
    let mut s = Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned());
    let len = s.len();
    if s.ends_with("\r\n") {
        s.truncate(len - 2);
    } else if s.ends_with('\n') {
        s.truncate(len - 1);
    }
    Ok(Secret::new(std::mem::take(&mut *s)))
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
    if rsa_bits(bytes).is_some() {
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

/// Loads a key, then applies `--cert` if given (checking it matches), then the certificate
/// checks that do not depend on time.
pub fn load_bundle(
    key_path: &Path,
    passphrase: Option<&Secret<String>>,
    cert_path: Option<&Path>,
) -> Result<KeyBundle, KeyError> {
    let mut bundle = load_key(key_path, passphrase)?;
    if let Some(cp) = cert_path {
        let bytes = std::fs::read(cp).map_err(|e| KeyError::CertRead {
            path: cp.into(),
            reason: crate::text::io_reason(&e),
        })?;
        let certs = parse_certificates(&bytes).map_err(|_| KeyError::BadCertificate { path: cp.into() })?;
        bundle.set_chain(certs, cp)?;
    } else if let Some(leaf) = bundle.chain.first() {
        check_match(&bundle.key, leaf, key_path, key_path)?;
    }
    Ok(bundle)
}

/// `n` and `e` of a PKCS#1 RSAPublicKey DER (leading zeros stripped).
fn rsa_public_components(der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let (tag, seq, _) = der_tlv(der)?;
    if tag != 0x30 {
        return None;
    }
    let (t1, n, rest) = der_tlv(seq)?;
    let (t2, e, _) = der_tlv(rest)?;
    if t1 != 2 || t2 != 2 {
        return None;
    }
    let strip = |b: &[u8]| {
        b.iter()
            .position(|&x| x != 0)
            .map(|i| b[i..].to_vec())
            .unwrap_or_default()
    };
    Some((strip(n), strip(e)))
}

/// One DER TLV: (tag, contents, rest).
fn der_tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let first = *b.get(1)? as usize;
    let (len, hdr) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *b.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let body = b.get(hdr..hdr.checked_add(len)?)?;
    Some((tag, body, &b[hdr + len..]))
}

/// The modulus length of a PKCS#1 RSAPrivateKey, read from its DER without decoding the rest.
fn rsa_bits(der: &[u8]) -> Option<usize> {
    // SEQUENCE { INTEGER version, INTEGER modulus, ... }
    let tlv = der_tlv;
    let (tag, seq, _) = tlv(der)?;
    if tag != 0x30 {
        return None;
    }
    let (t1, version, rest) = tlv(seq)?;
    if t1 != 0x02 || version.len() != 1 {
        return None;
    }
    let (t2, modulus, rest) = tlv(rest)?;
    // A PKCS#1 key has at least 9 integers; a bare SEQUENCE of two is something else.
    if t2 != 0x02 || rest.is_empty() {
        return None;
    }
    let m = modulus.iter().position(|&b| b != 0).map(|i| &modulus[i..])?;
    Some(m.len() * 8 - m[0].leading_zeros() as usize)
}

fn check_rsa_bits(bits: usize, path: &Path) -> Result<(), KeyError> {
    if bits != 0 && bits < 2048 {
        return Err(KeyError::WeakRsa {
            path: path.into(),
            bits,
        });
    }
    Ok(())
}

fn rsa_rejected(e: aws_lc_rs::error::KeyRejected, bits: usize, path: &Path) -> KeyError {
    let what = e.to_string();
    if what.contains("TooSmall") {
        KeyError::WeakRsa {
            path: path.into(),
            bits,
        }
    } else if what.contains("TooLarge") {
        KeyError::UnsupportedKeyType {
            path: path.into(),
            what: format!("an RSA-{bits} key (larger than 8192 bits)"),
        }
    } else {
        KeyError::Malformed {
            path: path.into(),
            reason: "RSA key rejected by the crypto backend",
        }
    }
}
