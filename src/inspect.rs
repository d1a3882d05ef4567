//! Decoding JWTs for people to read. Nothing here verifies a signature: the functions that
//! decode live in [`dangerous`] so that no caller mistakes them for validation.

use serde_json::{Map, Value};

/// Why a string is not a JWT.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum InspectError {
    /// Not three dot-separated parts.
    #[error("not a JWT: expected three base64url parts separated by dots, found {0}")]
    Parts(usize),
    /// A part is not base64url.
    #[error("not a JWT: the {0} is not base64url")]
    Base64(&'static str),
    /// A part is not a JSON object.
    #[error("not a JWT: the {0} is not a JSON object")]
    Json(&'static str),
    /// Encrypted JWTs have five parts and cannot be read without the key.
    #[error("this is an encrypted JWT (JWE, five parts): its claims cannot be shown without the decryption key")]
    Encrypted,
}

/// A decoded, unverified JWT.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The JOSE header.
    pub header: Map<String, Value>,
    /// The claims.
    pub claims: Map<String, Value>,
    /// Length of the signature part in bytes.
    pub signature_len: usize,
}

/// Functions that read a JWT without checking its signature.
pub mod dangerous {
    use super::*;

    /// Decodes a compact JWS's header and claims **without verifying the signature**.
    ///
    /// ```
    /// let d = signet::inspect::dangerous::decode_unverified("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.").unwrap();
    /// assert_eq!(d.claims["sub"], "x");
    /// ```
    pub fn decode_unverified(jwt: &str) -> Result<Decoded, InspectError> {
        let jwt = jwt.trim();
        let parts: Vec<&str> = jwt.split('.').collect();
        if parts.len() == 5 {
            return Err(InspectError::Encrypted);
        }
        if parts.len() != 3 {
            return Err(InspectError::Parts(parts.len()));
        }
        let obj = |s: &str, what: &'static str| -> Result<Map<String, Value>, InspectError> {
            let bytes = crate::b64::decode(s).map_err(|_| InspectError::Base64(what))?;
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(m)) => Ok(m),
                _ => Err(InspectError::Json(what)),
            }
        };
        let header = obj(parts[0], "header")?;
        let claims = obj(parts[1], "payload")?;
        let signature_len = crate::b64::decode(parts[2])
            .map_err(|_| InspectError::Base64("signature"))?
            .len();
        Ok(Decoded {
            header,
            claims,
            signature_len,
        })
    }

    /// The `exp` claim of a token that looks like a JWT, without verifying anything
    /// (used to learn an access token's lifetime when the answer gives none).
    pub fn jwt_exp(token: &str) -> Option<i64> {
        let d = decode_unverified(token).ok()?;
        d.claims.get("exp")?.as_i64()
    }
}

/// Renders a decoded JWT for a terminal: header, claims, times in words, and a warning that
/// the signature was not verified.
pub fn render(d: &Decoded, now: i64) -> String {
    let mut out = String::new();
    out.push_str("header:\n");
    out.push_str(&indent(
        &serde_json::to_string_pretty(&Value::Object(d.header.clone())).unwrap_or_default(),
    ));
    out.push_str("\nclaims:\n");
    out.push_str(&indent(
        &serde_json::to_string_pretty(&Value::Object(d.claims.clone())).unwrap_or_default(),
    ));
    out.push('\n');
    for name in ["iat", "nbf", "exp"] {
        if let Some(t) = d.claims.get(name).and_then(Value::as_i64) {
            let words = if name == "exp" {
                crate::clock::describe_expiry(t, now)
            } else {
                crate::clock::describe_relative(t, now)
            };
            out.push_str(&format!("{name}: {} ({words})\n", crate::clock::rfc3339(t)));
        }
    }
    out.push_str("signature: not verified\n");
    out
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::dangerous::decode_unverified;

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for s in [
            "",
            ".",
            "..",
            "a.b.c",
            "eyJ.eyJ.",
            "x.y",
            "a.b.c.d.e",
            "\u{0}\u{ff}..",
            "eyJhIjoxfQ.W10.AA",
        ] {
            assert!(decode_unverified(s).is_err(), "{s:?}");
        }
    }
}
