//! Tokens and the answers that carry them: RFC 6749 §5.1 successes, §5.2 errors, and the
//! shapes providers actually send (a token at a JSON pointer, or a plain-text body).

use crate::secret::Secret;
use serde_json::Value;
use std::collections::BTreeMap;

/// Answers larger than this are refused: no token response is anywhere near it.
pub const MAX_BODY: usize = 1024 * 1024;

/// The lifetime assumed when an answer gives none and the token is not a JWT with `exp`
/// (`--default-ttl`'s default in the settings table).
pub const DEFAULT_TTL: u64 = crate::config::default_secs(crate::config::Key::DefaultTtl);

/// Where the token is in a JSON answer, as RFC 6749 puts it (`--token-path`'s default in the
/// settings table).
pub const DEFAULT_TOKEN_PATH: &str = crate::config::default_str(crate::config::Key::TokenPath);

/// Lifetimes above this are clamped: a token "valid for 100 years" is still refreshed yearly.
pub const MAX_TTL: u64 = 366 * 86400;

/// An access token and what is known about it.
#[derive(Clone)]
pub struct Token {
    /// The token itself.
    pub access_token: Secret<String>,
    /// `token_type`, when the answer has one.
    pub token_type: Option<String>,
    /// `scope`, when the answer has one.
    pub scope: Option<String>,
    /// When it was received (Unix seconds).
    pub obtained_at: i64,
    /// When it expires (Unix seconds).
    pub expires_at: i64,
    /// The answer's other string fields (never a secret such as a refresh token).
    pub extra: BTreeMap<String, String>,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("token_type", &self.token_type)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl Token {
    /// Seconds left at `now` (0 when expired).
    pub fn expires_in(&self, now: i64) -> u64 {
        (self.expires_at - now).max(0) as u64
    }
}

/// An OAuth error answer (RFC 6749 §5.2), with server text already sanitised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthError {
    /// `error`, e.g. `invalid_client`.
    pub error: String,
    /// `error_description`.
    pub description: Option<String>,
    /// `error_uri`.
    pub uri: Option<String>,
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.error)?;
        if let Some(d) = &self.description {
            write!(f, ": {d}")?;
        }
        Ok(())
    }
}

/// Reads an OAuth error object from a body, if it is one.
pub fn parse_oauth_error(body: &[u8]) -> Option<OAuthError> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let error = v.get("error")?;
    // Some servers nest it: {"error": {"code": ..., "message": ...}}
    let (code, desc) = match error {
        Value::String(s) => (
            s.clone(),
            v.get("error_description").and_then(Value::as_str).map(String::from),
        ),
        Value::Object(o) => (
            o.get("code")
                .map(|c| c.as_str().map(String::from).unwrap_or_else(|| c.to_string()))?,
            o.get("message").and_then(Value::as_str).map(String::from),
        ),
        _ => return None,
    };
    Some(OAuthError {
        error: crate::text::sanitize(&code, 100),
        description: desc.map(|d| crate::text::sanitize(&d, 300)),
        uri: v
            .get("error_uri")
            .and_then(Value::as_str)
            .map(|u| crate::text::sanitize(u, 200)),
    })
}

/// Why a 2xx answer could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseFailure {
    /// Not JSON (and the token path is not `-`).
    NotJson,
    /// No string at the token path.
    NoToken(String),
    /// A 2xx that carries an OAuth error.
    OAuth(OAuthError),
    /// `expires_in` is not a usable number.
    BadLifetime(String),
    /// Plain-text token that is empty or not printable.
    BadPlainToken,
    /// The token has a character outside visible ASCII (0x21–0x7E): never printed, since CR, LF,
    /// NUL or ESC in it would inject headers, workflow commands or environment variables.
    BadTokenChars,
}

/// Whether a token is visible ASCII only (0x21–0x7E: RFC 6750's b64token and what providers use).
pub fn is_visible_ascii(token: &str) -> bool {
    !token.is_empty() && token.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// How to read an answer.
#[derive(Clone, Debug)]
pub struct ResponseShape {
    /// JSON pointer to the token; `-` means the whole body is the token.
    pub token_path: String,
    /// Lifetime when the answer gives none.
    pub default_ttl: u64,
}

impl Default for ResponseShape {
    fn default() -> Self {
        ResponseShape {
            token_path: DEFAULT_TOKEN_PATH.into(),
            default_ttl: DEFAULT_TTL,
        }
    }
}

fn is_secret_field(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "token",
        "secret",
        "password",
        "cookie",
        "assertion",
        "session",
        "code",
        "key",
    ]
    .iter()
    .any(|s| n.contains(s))
}

fn number(v: &Value) -> Option<Result<i64, String>> {
    match v {
        Value::Number(n) => Some(
            n.as_i64()
                .or_else(|| n.as_f64().map(|f| f as i64))
                .ok_or_else(|| n.to_string()),
        ),
        Value::String(s) => Some(s.trim().parse::<i64>().map_err(|_| crate::text::sanitize(s, 40))),
        Value::Null => None,
        other => Some(Err(crate::text::sanitize(&other.to_string(), 40))),
    }
}

/// Parses a successful (2xx) answer received at `received_at`.
///
/// ```
/// use signet::token::{parse_success, ResponseShape};
/// let t = parse_success(br#"{"access_token":"abc","token_type":"Bearer","expires_in":"3599"}"#,
///                       &ResponseShape::default(), 1000).unwrap();
/// assert_eq!(t.expires_at, 4599);
/// ```
pub fn parse_success(body: &[u8], shape: &ResponseShape, received_at: i64) -> Result<Token, ParseFailure> {
    if shape.token_path == "-" {
        let text = std::str::from_utf8(body).map_err(|_| ParseFailure::BadPlainToken)?;
        let text = text.trim();
        // A JSON string body ("abc") is accepted too: some servers quote plain answers.
        let text = serde_json::from_str::<String>(text).unwrap_or_else(|_| text.to_string());
        if text.is_empty() {
            return Err(ParseFailure::BadPlainToken);
        }
        if !is_visible_ascii(&text) {
            return Err(ParseFailure::BadTokenChars);
        }
        let expires_at = jwt_exp_or_default(&text, shape.default_ttl, received_at);
        return Ok(Token {
            access_token: Secret::new(text),
            token_type: None,
            scope: None,
            obtained_at: received_at,
            expires_at,
            extra: BTreeMap::new(),
        });
    }
    let v: Value = serde_json::from_slice(body).map_err(|_| ParseFailure::NotJson)?;
    let token = v
        .pointer(&shape.token_path)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let Some(token) = token else {
        if let Some(e) = parse_oauth_error(body) {
            return Err(ParseFailure::OAuth(e));
        }
        return Err(ParseFailure::NoToken(shape.token_path.clone()));
    };
    if !is_visible_ascii(token) {
        return Err(ParseFailure::BadTokenChars);
    }
    let str_field = |k: &str| v.get(k).and_then(Value::as_str).map(|s| crate::text::sanitize(s, 2000));
    let expires_at = if let Some(n) = v.get("expires_in").and_then(number) {
        let n = n.map_err(ParseFailure::BadLifetime)?;
        if n < 0 {
            return Err(ParseFailure::BadLifetime(n.to_string()));
        }
        received_at + (n as u64).min(MAX_TTL) as i64
    } else if let Some(Ok(on)) = v.get("expires_on").and_then(number) {
        on.clamp(received_at, received_at + MAX_TTL as i64)
    } else {
        jwt_exp_or_default(token, shape.default_ttl, received_at)
    };
    let known = [
        "access_token",
        "token_type",
        "expires_in",
        "expires_on",
        "ext_expires_in",
        "scope",
        "refresh_in",
        "not_before",
    ];
    let mut extra = BTreeMap::new();
    if let Value::Object(m) = &v {
        for (k, val) in m {
            if let Value::String(s) = val {
                if !known.contains(&k.as_str()) && !is_secret_field(k) && s != token {
                    extra.insert(k.clone(), crate::text::sanitize(s, 2000));
                }
            }
        }
    }
    Ok(Token {
        access_token: Secret::new(token.to_string()),
        token_type: str_field("token_type"),
        scope: str_field("scope"),
        obtained_at: received_at,
        expires_at,
        extra,
    })
}

fn jwt_exp_or_default(token: &str, default_ttl: u64, received_at: i64) -> i64 {
    match crate::inspect::dangerous::jwt_exp(token) {
        // A token that says it expired before it arrived is treated as expiring now, never as
        // living "negative" time (found by fuzzing: token_response).
        Some(exp) => exp.clamp(received_at, received_at + MAX_TTL as i64),
        None => received_at + default_ttl.min(MAX_TTL) as i64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_in_as_number_string_or_missing() {
        let s = ResponseShape::default();
        assert_eq!(
            parse_success(br#"{"access_token":"a","expires_in":60}"#, &s, 10)
                .unwrap()
                .expires_at,
            70
        );
        assert_eq!(
            parse_success(br#"{"access_token":"a","expires_in":"60"}"#, &s, 10)
                .unwrap()
                .expires_at,
            70
        );
        assert_eq!(
            parse_success(br#"{"access_token":"a"}"#, &s, 10).unwrap().expires_at,
            10 + DEFAULT_TTL as i64
        );
        assert_eq!(
            parse_success(br#"{"access_token":"a","expires_on":"500"}"#, &s, 10)
                .unwrap()
                .expires_at,
            500
        );
        assert!(matches!(
            parse_success(br#"{"access_token":"a","expires_in":-5}"#, &s, 10),
            Err(ParseFailure::BadLifetime(_))
        ));
        assert!(matches!(
            parse_success(br#"{"access_token":"a","expires_in":"soon"}"#, &s, 10),
            Err(ParseFailure::BadLifetime(_))
        ));
        assert_eq!(
            parse_success(br#"{"access_token":"a","expires_in":1e300}"#, &s, 10)
                .unwrap()
                .expires_at,
            10 + MAX_TTL as i64
        );
    }

    #[test]
    fn fuzz_token_response_expired_jwt_never_expires_before_it_arrived() {
        // regression: fuzz/artifacts token_response, a JWT access token with exp in the past
        let body = br#"{"access_token":"eyJhbGciOiJub25lIn0.eyJleHAiOjE1MDAwMDAwMDB9.","token_type":"Bearer"}"#;
        let t = parse_success(body, &ResponseShape::default(), 1_700_000_000).unwrap();
        assert_eq!(t.expires_at, 1_700_000_000);
        let t = parse_success(
            br#"{"access_token":"a","expires_on":"5"}"#,
            &ResponseShape::default(),
            1_000,
        )
        .unwrap();
        assert_eq!(t.expires_at, 1_000);
    }

    #[test]
    fn token_path_and_extras_skip_secrets() {
        let s = ResponseShape {
            token_path: "/userInfo/token".into(),
            default_ttl: 30,
        };
        let t = parse_success(
            br#"{"username":"JDE","aisSessionCookie":"x","userInfo":{"token":"T"},"refresh_token":"r","instance_url":"https://i"}"#,
            &s,
            0,
        )
        .unwrap();
        assert_eq!(t.access_token.expose(), "T");
        assert_eq!(t.expires_at, 30);
        assert_eq!(t.extra.keys().collect::<Vec<_>>(), ["instance_url", "username"]);
    }

    #[test]
    fn oauth_error_in_2xx_and_plain_text() {
        let s = ResponseShape::default();
        assert!(matches!(
            parse_success(br#"{"error":"invalid_grant","error_description":"no"}"#, &s, 0),
            Err(ParseFailure::OAuth(_))
        ));
        assert_eq!(parse_success(b"<html>", &s, 0).err(), Some(ParseFailure::NotJson));
        let plain = ResponseShape {
            token_path: "-".into(),
            default_ttl: 5,
        };
        assert_eq!(
            parse_success(b"  tok123\n", &plain, 0).unwrap().access_token.expose(),
            "tok123"
        );
        assert!(parse_success(b"", &plain, 0).is_err());
    }

    #[test]
    fn a_token_with_cr_lf_nul_esc_or_space_is_refused() {
        let s = ResponseShape::default();
        for bad in [
            "a\\r\\nX-Evil: 1",
            "a\\nb",
            "a\\u0000b",
            "a\\u001b[31m",
            "a b",
            "caf\\u00e9",
        ] {
            let body = format!(r#"{{"access_token":"{bad}"}}"#);
            assert_eq!(
                parse_success(body.as_bytes(), &s, 0).err(),
                Some(ParseFailure::BadTokenChars),
                "{bad}"
            );
        }
        let plain = ResponseShape {
            token_path: "-".into(),
            default_ttl: 5,
        };
        assert_eq!(
            parse_success(b"\"a\\r\\nb\"", &plain, 0).err(),
            Some(ParseFailure::BadTokenChars)
        );
        assert!(parse_success(br#"{"access_token":"00D!AQ.x~_-+/="}"#, &s, 0).is_ok());
    }
}
