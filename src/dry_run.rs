//! What a token request looks like with nothing secret in it: for `--dry-run` (the whole request,
//! every assertion decoded) and for `-v` (its shape, one line per part).
//!
//! A [`RequestView`] is made from the [`TokenRequest`] that would be sent, so what is shown is
//! what [`Grant::request`](crate::grant::Grant::request) built, not a second description of it
//! that could drift. Values are shown as they are unless they are secret: every JWT (wherever
//! it sits: a form field, a header, a JSON body) is replaced by a reference to its decoded header
//! and claims, and a field or header whose name says it is secret (`client_secret`,
//! `Authorization`, `X-Api-Key`, …) is `[redacted]`.

use crate::grant::TokenRequest;
use crate::inspect::{dangerous::decode_unverified, Decoded};
use serde_json::Value;
use std::fmt::Write as _;

/// Shown in place of a secret value.
pub const REDACTED: &str = "[redacted]";

/// Whether a form field, JSON member or header with this name carries a secret. Names that end in
/// `_type` (`client_assertion_type`, `subject_token_type`) name a kind of value, not the value.
///
/// ```
/// use signet::dry_run::is_secret_name;
/// assert!(is_secret_name("client_secret") && is_secret_name("Authorization") && is_secret_name("X-Api-Key"));
/// assert!(!is_secret_name("scope") && !is_secret_name("client_assertion_type") && !is_secret_name("X-Tachyon-Consumer"));
/// ```
pub fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase().replace('-', "_");
    if n.ends_with("_type") {
        return false;
    }
    const MARKS: &[&str] = &[
        "secret",
        "password",
        "passwd",
        "passphrase",
        "token",
        "assertion",
        "credential",
        "auth",
        "key",
        "cookie",
        "session",
        "signature",
        "private",
    ];
    MARKS.iter().any(|m| n.contains(m)) || n == "pin" || n == "pwd"
}

/// Whether a value is a compact JWS (three base64url parts, a JSON header): an assertion or a
/// token, never shown as it is.
fn looks_like_jwt(v: &str) -> bool {
    let v = v.trim();
    v.starts_with("eyJ")
        && v.split('.').count() == 3
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// A JWT found in a request, decoded (its signature is never shown).
#[derive(Clone, Debug)]
pub struct ShownAssertion {
    /// Where it travels: `form client_assertion`, `header Authorization`, `JSON body`.
    pub place: String,
    /// The scheme written before it (`Bearer` in an `Authorization` header), if any.
    pub scheme: Option<String>,
    /// Its header and claims.
    pub decoded: Decoded,
}

impl ShownAssertion {
    /// `[assertion: kid=…, alg=…]`, as `-v` names it.
    pub fn short(&self) -> String {
        let h = |k: &str| {
            self.decoded
                .header
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("-")
                .to_string()
        };
        let kid = match (self.decoded.header.get("kid"), self.decoded.header.get("x5t#S256")) {
            (Some(_), _) => format!("kid={}", h("kid")),
            (None, Some(_)) => format!("x5t#S256={}", h("x5t#S256")),
            (None, None) => "no kid".into(),
        };
        format!("[assertion: {kid}, alg={}]", h("alg"))
    }
}

/// One shown value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shown {
    /// Not secret: shown as it is.
    Plain(String),
    /// A secret, never shown.
    Redacted,
    /// A JWT: the index of its [`ShownAssertion`] in [`RequestView::assertions`].
    Assertion(usize),
}

/// The body of a request, secrets replaced.
#[derive(Clone, Debug)]
pub enum ShownBody {
    /// A form, field by field (decoded, in order).
    Form(Vec<(String, Shown)>),
    /// A JSON body, every JWT replaced by `[assertion N]` and every secret member by `[redacted]`.
    Json(Value),
    /// Another body, which is shown only by its length.
    Other(usize),
}

/// A token request with every secret replaced (see the module documentation).
#[derive(Clone, Debug)]
pub struct RequestView {
    /// Always `POST` for a token request.
    pub method: &'static str,
    /// The token endpoint.
    pub url: String,
    /// Headers in order.
    pub headers: Vec<(String, Shown)>,
    /// The body.
    pub body: ShownBody,
    /// The JWTs the request carries, decoded, in the order they were found.
    pub assertions: Vec<ShownAssertion>,
}

impl RequestView {
    /// The view of a request that would be sent.
    pub fn of(req: &TokenRequest) -> RequestView {
        let mut assertions = vec![];
        let headers = req
            .headers
            .iter()
            .map(|(k, v)| {
                let s = shown(k, v.expose(), format!("header {k}"), &mut assertions);
                (k.clone(), s)
            })
            .collect();
        let content_type = req
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.expose().to_ascii_lowercase())
            .unwrap_or_default();
        let body = req.body.expose();
        let body = if content_type.starts_with("application/x-www-form-urlencoded") {
            ShownBody::Form(
                form_urlencoded::parse(body.as_bytes())
                    .map(|(k, v)| {
                        let s = shown(&k, &v, format!("form {k}"), &mut assertions);
                        (k.into_owned(), s)
                    })
                    .collect(),
            )
        } else if let Ok(v) = serde_json::from_str::<Value>(body) {
            ShownBody::Json(redact_json(None, v, &mut assertions))
        } else {
            ShownBody::Other(body.len())
        };
        RequestView {
            method: "POST",
            url: req.url.clone(),
            headers,
            body,
            assertions,
        }
    }

    /// How a shown value reads in the dry run.
    fn text(&self, s: &Shown) -> String {
        match s {
            Shown::Plain(v) => v.clone(),
            Shown::Redacted => REDACTED.into(),
            Shown::Assertion(i) => format!("[assertion {}, decoded below]", i + 1),
        }
    }

    /// The whole request as the dry run prints it: the request line, the headers, a blank line,
    /// the body (a form one field per line, decoded), then each assertion's header and claims.
    pub fn render(&self) -> String {
        let mut out = format!("{} {}\n", self.method, self.url);
        for (k, v) in &self.headers {
            let v = match v {
                // `Bearer [assertion 1, …]`: the scheme is not secret.
                Shown::Assertion(i) => match &self.assertions[*i].scheme {
                    Some(scheme) => format!("{scheme} {}", self.text(v)),
                    None => self.text(v),
                },
                _ => self.text(v),
            };
            let _ = writeln!(out, "{k}: {v}");
        }
        out.push('\n');
        match &self.body {
            ShownBody::Form(fields) => {
                for (k, v) in fields {
                    let _ = writeln!(out, "{k}={}", self.text(v));
                }
            }
            ShownBody::Json(v) => {
                let _ = writeln!(out, "{}", serde_json::to_string_pretty(v).unwrap_or_default());
            }
            ShownBody::Other(n) => {
                let _ = writeln!(out, "[a body of {n} bytes]");
            }
        }
        for (i, a) in self.assertions.iter().enumerate() {
            let _ = write!(out, "\n{}", render_assertion(&format!("assertion {}", i + 1), a));
        }
        out
    }

    /// The request's shape for `-v`: the request line, header names (values only where not
    /// secret and `values` is set), form field or JSON member names, assertions as
    /// `[assertion: kid=…, alg=…]`.
    pub fn summary(&self, values: bool) -> Vec<String> {
        let part = |k: &str, v: &Shown| match v {
            Shown::Assertion(i) => format!("{k}={}", self.assertions[*i].short()),
            Shown::Redacted => format!("{k}={REDACTED}"),
            Shown::Plain(p) if values => format!("{k}={p}"),
            Shown::Plain(_) => k.to_string(),
        };
        let mut lines = vec![format!("request: {} {}", self.method, self.url)];
        let headers: Vec<String> = self.headers.iter().map(|(k, v)| part(k, v)).collect();
        lines.push(format!("request headers: {}", headers.join(", ")));
        lines.push(match &self.body {
            ShownBody::Form(f) => format!(
                "request form: {}",
                f.iter().map(|(k, v)| part(k, v)).collect::<Vec<_>>().join(", ")
            ),
            ShownBody::Json(Value::Object(m)) if !values => {
                format!(
                    "request JSON body members: {}",
                    m.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            }
            ShownBody::Json(Value::String(s)) if s.starts_with("[assertion") && !self.assertions.is_empty() => {
                format!("request JSON body: {}", self.assertions[0].short())
            }
            ShownBody::Json(v) if values => format!("request JSON body: {v}"),
            ShownBody::Json(_) => "request JSON body".into(),
            ShownBody::Other(n) => format!("request body: {n} bytes"),
        });
        lines
    }
}

/// One header or form value: a JWT decoded (and kept in `assertions`), a secret redacted.
fn shown(name: &str, value: &str, place: String, assertions: &mut Vec<ShownAssertion>) -> Shown {
    if let Some((scheme, jwt)) = jwt_in(value) {
        if let Ok(decoded) = decode_unverified(jwt) {
            assertions.push(ShownAssertion {
                place,
                scheme: scheme.map(String::from),
                decoded,
            });
            return Shown::Assertion(assertions.len() - 1);
        }
        return Shown::Redacted;
    }
    if is_secret_name(name) {
        Shown::Redacted
    } else {
        Shown::Plain(value.to_string())
    }
}

/// The JWT in a value: the value itself, or after an auth scheme (`Bearer eyJ…`), with the scheme.
fn jwt_in(value: &str) -> Option<(Option<&str>, &str)> {
    let v = value.trim();
    let (scheme, v) = match v.split_once(' ') {
        Some((scheme, rest)) => (Some(scheme), rest.trim()),
        None => (None, v),
    };
    looks_like_jwt(v).then_some((scheme, v))
}

/// A JSON body with every JWT string replaced and every member with a secret name redacted.
fn redact_json(name: Option<&str>, v: Value, assertions: &mut Vec<ShownAssertion>) -> Value {
    match v {
        Value::String(s) => {
            if let Some((scheme, jwt)) = jwt_in(&s) {
                if let Ok(decoded) = decode_unverified(jwt) {
                    let place = name.map_or("JSON body".to_string(), |n| format!("JSON member {n}"));
                    assertions.push(ShownAssertion {
                        place,
                        scheme: scheme.map(String::from),
                        decoded,
                    });
                    return Value::String(format!("[assertion {}, decoded below]", assertions.len()));
                }
                return Value::String(REDACTED.into());
            }
            if name.is_some_and(is_secret_name) {
                Value::String(REDACTED.into())
            } else {
                Value::String(s)
            }
        }
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let v = if is_secret_name(&k) && !v.is_string() {
                        Value::String(REDACTED.into())
                    } else {
                        redact_json(Some(&k), v, assertions)
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(|v| redact_json(name, v, assertions)).collect()),
        _ if name.is_some_and(is_secret_name) => Value::String(REDACTED.into()),
        other => other,
    }
}

/// A decoded assertion as the dry run prints it: its place, header and claims (pretty JSON), and
/// that its signature is not shown.
pub fn render_assertion(title: &str, a: &ShownAssertion) -> String {
    format!(
        "{title} ({}; signature of {} bytes not shown):\nheader: {}\nclaims: {}\n",
        a.place,
        a.decoded.signature_len,
        serde_json::to_string_pretty(&Value::Object(a.decoded.header.clone())).unwrap_or_default(),
        serde_json::to_string_pretty(&Value::Object(a.decoded.claims.clone())).unwrap_or_default(),
    )
}

/// What a dry run found: the request that would be sent, or, where nothing would be sent, what
/// would happen instead.
#[derive(Clone, Debug)]
pub struct DryRun {
    /// The token request, secrets replaced; `None` for the self-signed grant, which sends nothing.
    pub request: Option<RequestView>,
    /// The self-signed grant's token (the signed JWT itself), decoded.
    pub self_signed: Option<ShownAssertion>,
    /// Where an external assertion would come from (file, variable, GitHub's OIDC endpoint), and
    /// anything else that happens besides the request.
    pub notes: Vec<String>,
}

impl DryRun {
    /// The dry run as `signet token --dry-run` prints it.
    pub fn render(&self) -> String {
        let mut out = String::from("# dry run: nothing was sent; no cache entry was read or written\n");
        for n in &self.notes {
            let _ = writeln!(out, "# {n}");
        }
        if let Some(r) = &self.request {
            out.push_str(&r.render());
        }
        if let Some(a) = &self.self_signed {
            out.push_str("# no request: with the self-signed grant the signed JWT is the token\n");
            out.push_str(&render_assertion("token", a));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grant::{Grant, RequestParams};

    /// A JWT with a header and claims and a fake signature: enough to be decoded.
    fn jwt() -> String {
        use crate::b64::encode;
        format!(
            "{}.{}.{}",
            encode(br#"{"alg":"RS256","kid":"ABC","typ":"JWT"}"#),
            encode(br#"{"iss":"app","aud":"https://idp/token"}"#),
            encode(b"signature-bytes")
        )
    }

    #[test]
    fn every_grant_shows_its_assertion_decoded_and_nothing_secret() {
        let p = RequestParams {
            client_id: Some("app".into()),
            scope: Some("api".into()),
            params: vec![
                ("client_secret".into(), "s3cr3t-value".into()),
                ("role".into(), "*ALL".into()),
            ],
            headers: vec![
                ("X-Tachyon-Consumer".into(), "nightly".into()),
                ("X-Api-Key".into(), "k3y-value".into()),
            ],
        };
        for (g, _) in Grant::ALL.iter().filter(|(g, _)| *g != Grant::SelfSigned) {
            let r = g.request("https://idp/token", &jwt(), &p);
            let v = RequestView::of(&r);
            let text = v.render();
            assert_eq!(v.assertions.len(), 1, "{g}: {text}");
            assert_eq!(v.assertions[0].decoded.claims["iss"], "app");
            assert!(!text.contains("eyJ"), "{g}: {text}");
            for secret in ["s3cr3t-value", "k3y-value", "signature-bytes"] {
                assert!(!text.contains(secret), "{g}: {text}");
            }
            assert!(text.contains("X-Tachyon-Consumer: nightly"), "{g}: {text}");
            assert!(text.contains("\"kid\": \"ABC\""), "{g}: {text}");
            let log = v.summary(true).join("\n");
            assert!(log.contains("[assertion: kid=ABC, alg=RS256]"), "{g}: {log}");
            assert!(
                !log.contains("eyJ") && !log.contains("s3cr3t") && !log.contains("k3y"),
                "{log}"
            );
            let names = v.summary(false).join("\n");
            assert!(!names.contains("nightly"), "values only with -vv: {names}");
        }
    }

    #[test]
    fn a_form_is_shown_field_by_field_decoded() {
        let p = RequestParams {
            scope: Some("a b".into()),
            ..Default::default()
        };
        let v = RequestView::of(&Grant::ClientCredentials.request("https://idp/token", &jwt(), &p));
        let text = v.render();
        assert!(text.starts_with("POST https://idp/token\n"), "{text}");
        assert!(text.contains("\ngrant_type=client_credentials\n"), "{text}");
        assert!(
            text.contains("\nclient_assertion=[assertion 1, decoded below]\n"),
            "{text}"
        );
        assert!(text.contains("\nscope=a b\n"), "{text}");
        assert!(text.contains("assertion 1 (form client_assertion;"), "{text}");
    }

    #[test]
    fn secret_names() {
        for n in [
            "client_secret",
            "password",
            "api_key",
            "X-Api-Key",
            "Cookie",
            "subject_token",
            "pin",
        ] {
            assert!(is_secret_name(n), "{n}");
        }
        for n in [
            "scope",
            "grant_type",
            "environment",
            "role",
            "resource",
            "audience",
            "subject_token_type",
        ] {
            assert!(!is_secret_name(n), "{n}");
        }
    }
}
