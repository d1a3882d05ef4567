//! Public JWKs (RFC 7517) and their RFC 7638 thumbprints.

use crate::b64;
use aws_lc_rs::digest;
use serde_json::{json, Value};

/// The public half of a signing key, as JWK members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicJwk {
    /// `kty: RSA` with big-endian `n` and `e` (no leading zeros).
    Rsa {
        /// Modulus.
        n: Vec<u8>,
        /// Public exponent.
        e: Vec<u8>,
    },
    /// `kty: EC` with `crv` `P-256` or `P-384`.
    Ec {
        /// Curve name as JWK writes it.
        crv: &'static str,
        /// X coordinate, fixed width.
        x: Vec<u8>,
        /// Y coordinate, fixed width.
        y: Vec<u8>,
    },
    /// `kty: OKP`, `crv: Ed25519`.
    Okp {
        /// The 32-byte public key.
        x: Vec<u8>,
    },
}

impl PublicJwk {
    /// The JSON object with only the required public members, in RFC 7638's lexicographic order.
    ///
    /// This is exactly the input of the thumbprint hash, so it must not change shape.
    pub fn canonical_json(&self) -> String {
        match self {
            PublicJwk::Rsa { n, e } => {
                format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, b64::encode(e), b64::encode(n))
            }
            PublicJwk::Ec { crv, x, y } => format!(
                r#"{{"crv":"{crv}","kty":"EC","x":"{}","y":"{}"}}"#,
                b64::encode(x),
                b64::encode(y)
            ),
            PublicJwk::Okp { x } => format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, b64::encode(x)),
        }
    }

    /// The RFC 7638 JWK thumbprint: base64url SHA-256 of the canonical JSON.
    ///
    /// ```
    /// use signet::key::PublicJwk;
    /// // RFC 8037 A.3
    /// let x = signet::b64::decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo").unwrap();
    /// assert_eq!(PublicJwk::Okp { x }.thumbprint(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    /// ```
    pub fn thumbprint(&self) -> String {
        b64::encode(digest::digest(&digest::SHA256, self.canonical_json().as_bytes()).as_ref())
    }

    /// The JWK as a JSON value (public members only), for `jwk`/`jwks` output and the issuer.
    pub fn to_json(&self) -> Value {
        serde_json::from_str(&self.canonical_json()).unwrap_or(json!({}))
    }

    /// Builds a JWK from a JSON object's public members.
    pub fn from_json(v: &Value) -> Option<PublicJwk> {
        let get = |k: &str| v.get(k).and_then(Value::as_str).and_then(|s| b64::decode(s).ok());
        match v.get("kty")?.as_str()? {
            "RSA" => Some(PublicJwk::Rsa {
                n: get("n")?,
                e: get("e")?,
            }),
            "EC" => {
                let crv = match v.get("crv")?.as_str()? {
                    "P-256" => "P-256",
                    "P-384" => "P-384",
                    _ => return None,
                };
                Some(PublicJwk::Ec {
                    crv,
                    x: get("x")?,
                    y: get("y")?,
                })
            }
            "OKP" if v.get("crv")?.as_str()? == "Ed25519" => Some(PublicJwk::Okp { x: get("x")? }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_canonical_json_orders_members() {
        let jwk = PublicJwk::Rsa {
            n: vec![1, 2],
            e: vec![1, 0, 1],
        };
        assert_eq!(jwk.canonical_json(), r#"{"e":"AQAB","kty":"RSA","n":"AQI"}"#);
        assert_eq!(PublicJwk::from_json(&jwk.to_json()), Some(jwk));
    }
}
