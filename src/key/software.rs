//! Keys held in this process's memory: PKCS#8, PKCS#1 and SEC1 private keys, signed with *ring*
//! (most RSA keys) or AWS-LC (EC, Ed25519, the RSA keys *ring* refuses, and on CPUs with AVX-512
//! IFMA the RSA keys *ring* would take too: [`super::rsa_crt`]).
//!
//! # Wiping key material
//!
//! AWS-LC wipes its copy of a key when the key is dropped. *ring* does not wipe the limbs of an
//! RSA key: they are wiped on free only when the embedding program installs
//! [`crate::alloc::ZeroizeOnFree`] as its global allocator, as the `signet` binary does. A library
//! user who keeps the default allocator leaves freed RSA key material in memory until it is
//! reused.

use super::asn1::rsa_private_modulus_bits;
use super::{KeyError, PublicJwk, Sign, SigningKey};
use crate::alg::{Alg, KeyType};
use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use std::path::Path;

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_RSA_PSS: &str = "1.2.840.113549.1.1.10";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_P521: &str = "1.3.132.0.35";
const OID_ED25519: &str = "1.3.101.112";
const OID_ED448: &str = "1.3.101.113";

/// RSA held by *ring*: its key loading checks the key and precomputes in ~30 µs and its first
/// signature costs what every later one does, where AWS-LC spends ~0.3 ms in `RSA_check_key`
/// and ~0.45 ms of first-use set-up (Montgomery contexts, blinding) — together more than the
/// signature itself in a one-shot `signet assert` (measured: benches/signing.rs `rsa2048_one_shot`,
/// docs/BENCHMARKS.md). *ring* does not wipe its copy when dropped (see the module docs). The
/// public JWK is kept beside it because *ring* hands out its components only by copying.
struct RingRsa {
    key: ring::signature::RsaKeyPair,
    jwk: PublicJwk,
}

/// RSA keys *ring* refuses (public exponent below 65537, modulus above 4096 bits).
struct AwsLcRsa {
    key: RsaKeyPair,
    rng: SystemRandom,
}

/// EC P-256 or P-384.
struct AwsLcEc {
    key: EcdsaKeyPair,
    key_type: KeyType,
    rng: SystemRandom,
}

/// Ed25519.
struct AwsLcEd {
    key: Ed25519KeyPair,
}

fn spki_of(der: Result<PublicKeyX509Der<'static>, aws_lc_rs::error::Unspecified>) -> Vec<u8> {
    der.map(|d| d.as_ref().to_vec()).unwrap_or_default()
}

impl Sign for RingRsa {
    fn sign(&self, alg: Alg, msg: &[u8]) -> Result<Vec<u8>, KeyError> {
        use ring::signature as rs;
        let fail = || KeyError::Sign { alg };
        let padding: &'static dyn rs::RsaEncoding = match alg {
            Alg::RS256 => &rs::RSA_PKCS1_SHA256,
            Alg::RS384 => &rs::RSA_PKCS1_SHA384,
            Alg::RS512 => &rs::RSA_PKCS1_SHA512,
            Alg::PS256 => &rs::RSA_PSS_SHA256,
            Alg::PS384 => &rs::RSA_PSS_SHA384,
            Alg::PS512 => &rs::RSA_PSS_SHA512,
            _ => return Err(fail()),
        };
        let mut out = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(padding, &ring::rand::SystemRandom::new(), msg, &mut out)
            .map_err(|_| fail())?;
        Ok(out)
    }

    fn key_type(&self) -> KeyType {
        KeyType::Rsa {
            bits: self.key.public().modulus_len() * 8,
        }
    }

    fn backend(&self) -> &'static str {
        "ring"
    }

    fn public_jwk(&self) -> PublicJwk {
        self.jwk.clone()
    }
}

impl Sign for AwsLcRsa {
    fn sign(&self, alg: Alg, msg: &[u8]) -> Result<Vec<u8>, KeyError> {
        let fail = || KeyError::Sign { alg };
        let padding: &'static dyn sig::RsaEncoding = match alg {
            Alg::RS256 => &sig::RSA_PKCS1_SHA256,
            Alg::RS384 => &sig::RSA_PKCS1_SHA384,
            Alg::RS512 => &sig::RSA_PKCS1_SHA512,
            Alg::PS256 => &sig::RSA_PSS_SHA256,
            Alg::PS384 => &sig::RSA_PSS_SHA384,
            Alg::PS512 => &sig::RSA_PSS_SHA512,
            _ => return Err(fail()),
        };
        let mut out = vec![0u8; self.key.public_modulus_len()];
        self.key.sign(padding, &self.rng, msg, &mut out).map_err(|_| fail())?;
        Ok(out)
    }

    fn key_type(&self) -> KeyType {
        KeyType::Rsa {
            bits: self.key.public_modulus_len() * 8,
        }
    }

    fn backend(&self) -> &'static str {
        "aws-lc"
    }

    fn public_jwk(&self) -> PublicJwk {
        let k = self.key.public_key();
        PublicJwk::Rsa {
            n: k.modulus().big_endian_without_leading_zero().to_vec(),
            e: k.exponent().big_endian_without_leading_zero().to_vec(),
        }
    }

    fn public_key_bits(&self) -> Vec<u8> {
        self.key.public_key().as_ref().to_vec()
    }

    fn spki_der(&self) -> Vec<u8> {
        spki_of(self.key.public_key().as_der())
    }
}

impl Sign for AwsLcEc {
    fn sign(&self, alg: Alg, msg: &[u8]) -> Result<Vec<u8>, KeyError> {
        Ok(self
            .key
            .sign(&self.rng, msg)
            .map_err(|_| KeyError::Sign { alg })?
            .as_ref()
            .to_vec())
    }

    fn key_type(&self) -> KeyType {
        self.key_type
    }

    fn backend(&self) -> &'static str {
        "aws-lc"
    }

    fn public_jwk(&self) -> PublicJwk {
        let p = self.key.public_key().as_ref();
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

    fn public_key_bits(&self) -> Vec<u8> {
        self.key.public_key().as_ref().to_vec()
    }

    fn spki_der(&self) -> Vec<u8> {
        spki_of(self.key.public_key().as_der())
    }
}

impl Sign for AwsLcEd {
    fn sign(&self, _alg: Alg, msg: &[u8]) -> Result<Vec<u8>, KeyError> {
        Ok(self.key.sign(msg).as_ref().to_vec())
    }

    fn key_type(&self) -> KeyType {
        KeyType::Ed25519
    }

    fn backend(&self) -> &'static str {
        "aws-lc"
    }

    fn public_jwk(&self) -> PublicJwk {
        PublicJwk::Okp {
            x: self.key.public_key().as_ref().to_vec(),
        }
    }

    fn public_key_bits(&self) -> Vec<u8> {
        self.key.public_key().as_ref().to_vec()
    }

    fn spki_der(&self) -> Vec<u8> {
        spki_of(self.key.public_key().as_der())
    }
}

fn ring_rsa(key: ring::signature::RsaKeyPair) -> SigningKey {
    let parts = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(key.public());
    let jwk = PublicJwk::Rsa { n: parts.n, e: parts.e };
    SigningKey::from_backend(Box::new(RingRsa { key, jwk }))
}

/// The CPU-dependent RSA choice: AWS-LC's IFMA exponentiation where the CPU has it (about twice
/// *ring*'s speed there, benches/signing.rs `rsa2048_*`), else `None` and *ring* signs (on CPUs
/// without IFMA *ring* is the faster one-shot signer).
fn crt_rsa(pkcs1: &[u8]) -> Option<SigningKey> {
    if !super::rsa_crt::preferred() {
        return None;
    }
    let k = super::rsa_crt::CrtRsa::from_pkcs1(pkcs1)?;
    Some(SigningKey::from_backend(Box::new(k)))
}

fn aws_lc_rsa(key: RsaKeyPair) -> SigningKey {
    SigningKey::from_backend(Box::new(AwsLcRsa {
        key,
        rng: SystemRandom::new(),
    }))
}

fn aws_lc_ec(key: EcdsaKeyPair, key_type: KeyType) -> SigningKey {
    SigningKey::from_backend(Box::new(AwsLcEc {
        key,
        key_type,
        rng: SystemRandom::new(),
    }))
}

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
                let bits = rsa_private_modulus_bits(info.private_key.as_bytes()).unwrap_or(0);
                check_rsa_bits(bits, path)?;
                if let Some(k) = crt_rsa(info.private_key.as_bytes()) {
                    return Ok(k);
                }
                if let Ok(k) = ring::signature::RsaKeyPair::from_pkcs8(der) {
                    return Ok(ring_rsa(k));
                }
                let k = RsaKeyPair::from_pkcs8(der).map_err(|e| rsa_rejected(e, bits, path))?;
                Ok(aws_lc_rsa(k))
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
                Ok(aws_lc_ec(k, kt))
            }
            OID_ED25519 => {
                let key = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(|_| KeyError::Malformed {
                    path: path.into(),
                    reason: "Ed25519 key rejected",
                })?;
                Ok(SigningKey::from_backend(Box::new(AwsLcEd { key })))
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
        let bits = rsa_private_modulus_bits(der).ok_or(KeyError::Malformed {
            path: path.into(),
            reason: "not a PKCS#1 RSA key",
        })?;
        check_rsa_bits(bits, path)?;
        if let Some(k) = crt_rsa(der) {
            return Ok(k);
        }
        if let Ok(k) = ring::signature::RsaKeyPair::from_der(der) {
            return Ok(ring_rsa(k));
        }
        let k = RsaKeyPair::from_der(der).map_err(|e| rsa_rejected(e, bits, path))?;
        Ok(aws_lc_rsa(k))
    }

    /// Reads a SEC1 `ECPrivateKey` (P-256 or P-384).
    pub fn from_sec1_der(der: &[u8], path: &Path) -> Result<SigningKey, KeyError> {
        if let Ok(k) = EcdsaKeyPair::from_private_key_der(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, der) {
            return Ok(aws_lc_ec(k, KeyType::EcP256));
        }
        if let Ok(k) = EcdsaKeyPair::from_private_key_der(&sig::ECDSA_P384_SHA384_FIXED_SIGNING, der) {
            return Ok(aws_lc_ec(k, KeyType::EcP384));
        }
        Err(KeyError::UnsupportedKeyType {
            path: path.into(),
            what: "an EC key that is not on P-256 or P-384".into(),
        })
    }
}

/// Whether the DER starts like a PKCS#1 `RSAPrivateKey` (how a bare DER key file is told apart).
pub(super) fn looks_like_pkcs1(der: &[u8]) -> bool {
    rsa_private_modulus_bits(der).is_some()
}

/// Refuses RSA below 2048 bits; 0 means "not known yet" and leaves the check to the backend.
pub(super) fn check_rsa_bits(bits: usize, path: &Path) -> Result<(), KeyError> {
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
