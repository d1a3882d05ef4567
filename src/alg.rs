//! JWS algorithms signet signs with, and which key types they fit.

use std::fmt;
use std::str::FromStr;

/// A JWS `alg` value (RFC 7518, RFC 8037).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Alg {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    EdDSA,
}

/// The kind of a private key, as far as signing cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    /// RSA with a modulus of this many bits.
    Rsa {
        /// Modulus length in bits.
        bits: usize,
    },
    /// ECDSA on P-256.
    EcP256,
    /// ECDSA on P-384.
    EcP384,
    /// Ed25519.
    Ed25519,
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyType::Rsa { bits } => write!(f, "an RSA-{bits} key"),
            KeyType::EcP256 => f.write_str("an EC P-256 key"),
            KeyType::EcP384 => f.write_str("an EC P-384 key"),
            KeyType::Ed25519 => f.write_str("an Ed25519 key"),
        }
    }
}

impl Alg {
    /// Every algorithm, in the order the contract lists them.
    pub const ALL: [Alg; 9] = [
        Alg::RS256,
        Alg::RS384,
        Alg::RS512,
        Alg::PS256,
        Alg::PS384,
        Alg::PS512,
        Alg::ES256,
        Alg::ES384,
        Alg::EdDSA,
    ];

    /// The `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::RS384 => "RS384",
            Alg::RS512 => "RS512",
            Alg::PS256 => "PS256",
            Alg::PS384 => "PS384",
            Alg::PS512 => "PS512",
            Alg::ES256 => "ES256",
            Alg::ES384 => "ES384",
            Alg::EdDSA => "EdDSA",
        }
    }

    /// The algorithm used when none is asked for: RS256, ES256, ES384 or EdDSA by key type.
    ///
    /// ```
    /// use signet::{Alg, KeyType};
    /// assert_eq!(Alg::default_for(KeyType::Rsa { bits: 2048 }), Alg::RS256);
    /// assert_eq!(Alg::default_for(KeyType::Ed25519), Alg::EdDSA);
    /// ```
    pub fn default_for(key: KeyType) -> Alg {
        match key {
            KeyType::Rsa { .. } => Alg::RS256,
            KeyType::EcP256 => Alg::ES256,
            KeyType::EcP384 => Alg::ES384,
            KeyType::Ed25519 => Alg::EdDSA,
        }
    }

    /// Whether this algorithm can sign with a key of this type.
    pub fn fits(self, key: KeyType) -> bool {
        matches!(
            (self, key),
            (
                Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::PS256 | Alg::PS384 | Alg::PS512,
                KeyType::Rsa { .. }
            ) | (Alg::ES256, KeyType::EcP256)
                | (Alg::ES384, KeyType::EcP384)
                | (Alg::EdDSA, KeyType::Ed25519)
        )
    }

    /// What kind of key this algorithm needs, in words.
    pub fn needs(self) -> &'static str {
        match self {
            Alg::ES256 => "an EC P-256 key",
            Alg::ES384 => "an EC P-384 key",
            Alg::EdDSA => "an Ed25519 key",
            _ => "an RSA key",
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An `alg` name signet does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown algorithm '{0}': use one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA")]
pub struct UnknownAlg(pub String);

impl FromStr for Alg {
    type Err = UnknownAlg;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Alg::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownAlg(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_case_insensitively_and_round_trips() {
        for a in Alg::ALL {
            assert_eq!(a.as_str().parse::<Alg>().unwrap(), a);
            assert_eq!(a.as_str().to_lowercase().parse::<Alg>().unwrap(), a);
        }
        assert!("HS256".parse::<Alg>().is_err());
    }

    #[test]
    fn es256_does_not_fit_rsa() {
        assert!(!Alg::ES256.fits(KeyType::Rsa { bits: 2048 }));
        assert!(Alg::PS512.fits(KeyType::Rsa { bits: 2048 }));
        assert!(!Alg::ES384.fits(KeyType::EcP256));
    }
}
