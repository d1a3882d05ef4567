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

    /// The bytes a certificate's subjectPublicKey BIT STRING holds for this key: RSAPublicKey
    /// DER, an uncompressed EC point, or the raw Ed25519 key.
    pub fn public_key_bits(&self) -> Vec<u8> {
        match self {
            PublicJwk::Rsa { n, e } => der::seq(&[der::uint(n), der::uint(e)]),
            PublicJwk::Ec { x, y, .. } => [&[4u8][..], x, y].concat(),
            PublicJwk::Okp { x } => x.clone(),
        }
    }

    /// The SubjectPublicKeyInfo DER.
    pub fn spki_der(&self) -> Vec<u8> {
        // rsaEncryption + NULL, id-ecPublicKey + named curve, id-Ed25519
        let alg = match self {
            PublicJwk::Rsa { .. } => der::seq(&[
                der::oid(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01]),
                vec![0x05, 0x00],
            ]),
            PublicJwk::Ec { crv, .. } => {
                let curve: &[u8] = if *crv == "P-256" {
                    &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]
                } else {
                    &[0x2b, 0x81, 0x04, 0x00, 0x22]
                };
                der::seq(&[der::oid(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]), der::oid(curve)])
            }
            PublicJwk::Okp { .. } => der::seq(&[der::oid(&[0x2b, 0x65, 0x70])]),
        };
        der::seq(&[alg, der::bit_string(&self.public_key_bits())])
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
    fn spki_built_here_equals_the_backends() {
        for f in [
            "rsa2048.pkcs8.pem",
            "p256.pkcs8.pem",
            "p384.pkcs8.pem",
            "ed25519.pkcs8.pem",
        ] {
            let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(f);
            let b = crate::key::load_key(&p, None).unwrap();
            assert_eq!(b.key.public_jwk().spki_der(), b.key.spki_der(), "{f}");
            assert_eq!(b.key.public_jwk().public_key_bits(), b.key.public_key_bits(), "{f}");
        }
    }

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

/// The few DER encodings a public key needs (no parsing: only writing well-formed values).
mod der {
    fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let n = body.len();
        if n < 0x80 {
            out.push(n as u8);
        } else {
            let bytes: Vec<u8> = n.to_be_bytes().iter().copied().skip_while(|&b| b == 0).collect();
            out.push(0x80 | bytes.len() as u8);
            out.extend(bytes);
        }
        out.extend_from_slice(body);
        out
    }

    pub fn seq(items: &[Vec<u8>]) -> Vec<u8> {
        tlv(0x30, &items.concat())
    }

    pub fn uint(v: &[u8]) -> Vec<u8> {
        let v: Vec<u8> = v.iter().copied().skip_while(|&b| b == 0).collect();
        let mut body = if v.first().is_some_and(|b| b & 0x80 != 0) || v.is_empty() {
            vec![0]
        } else {
            vec![]
        };
        body.extend(v);
        tlv(0x02, &body)
    }

    pub fn oid(encoded: &[u8]) -> Vec<u8> {
        tlv(0x06, encoded)
    }

    pub fn bit_string(v: &[u8]) -> Vec<u8> {
        let mut body = vec![0];
        body.extend_from_slice(v);
        tlv(0x03, &body)
    }
}
