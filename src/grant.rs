//! Grants: how an assertion travels to the token endpoint. Requests are built as values, with no
//! I/O, so they can be checked byte for byte.

use crate::secret::Secret;
use std::fmt;
use std::str::FromStr;

/// `client_assertion_type` for RFC 7523 client authentication.
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// `grant_type` for the RFC 7523 §2.1 JWT-bearer grant.
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// How the assertion is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grant {
    /// RFC 7523 §2.2: `grant_type=client_credentials` with `client_assertion`.
    ClientCredentials,
    /// RFC 7523 §2.1: `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` with `assertion`.
    JwtBearer,
    /// `Authorization: Bearer <JWT>` on a POST whose JSON body comes from the params (JD Edwards AIS).
    BearerHeader,
    /// A POST whose body is the JWT as a JSON string (1E).
    JsonBody,
    /// No exchange: the signed JWT is itself the token (Google self-signed JWT).
    SelfSigned,
}

impl Grant {
    /// Contract names.
    pub const ALL: [(Grant, &'static str); 5] = [
        (Grant::ClientCredentials, "client-credentials"),
        (Grant::JwtBearer, "jwt-bearer"),
        (Grant::BearerHeader, "bearer-header"),
        (Grant::JsonBody, "json-body"),
        (Grant::SelfSigned, "self-signed"),
    ];

    /// The contract name.
    pub fn as_str(self) -> &'static str {
        Grant::ALL
            .iter()
            .find(|(g, _)| *g == self)
            .map(|(_, s)| *s)
            .unwrap_or("")
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Grant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Grant::ALL
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(s.trim()))
            .map(|(g, _)| *g)
            .ok_or_else(|| {
                format!("unknown grant '{s}': use client-credentials, jwt-bearer, bearer-header or json-body")
            })
    }
}

/// What goes into a token request besides the assertion.
#[derive(Clone, Debug, Default)]
pub struct RequestParams {
    /// `client_id` form parameter (client credentials only; sent when known).
    pub client_id: Option<String>,
    /// Space-joined scopes, sent as `scope` (omitted when empty or when the scope travels as a claim).
    pub scope: Option<String>,
    /// Extra form or JSON-body parameters, in order.
    pub params: Vec<(String, String)>,
    /// Extra request headers, in order.
    pub headers: Vec<(String, String)>,
}

/// A token request, ready to send. The body holds the assertion, so it is a [`Secret`].
#[derive(Debug)]
pub struct TokenRequest {
    /// The token endpoint.
    pub url: String,
    /// Headers in order (`Authorization` for bearer-header holds the assertion: see [`TokenRequest::redacted_headers`]).
    pub headers: Vec<(String, Secret<String>)>,
    /// The body.
    pub body: Secret<String>,
}

impl TokenRequest {
    /// Header names and values with anything secret replaced, for `-v` logs and the demo.
    pub fn redacted_headers(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .map(|(k, v)| {
                let shown = if k.eq_ignore_ascii_case("authorization") {
                    "Bearer [assertion]".to_string()
                } else {
                    v.expose().clone()
                };
                (k.clone(), shown)
            })
            .collect()
    }
}

/// A `--param` value typed as JSON when it parses, else a string (the rule `--claim` uses too).
pub fn json_value(v: &str) -> serde_json::Value {
    serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::String(v.to_string()))
}

impl Grant {
    /// Builds the request that carries `assertion` to `url`.
    ///
    /// ```
    /// use signet::grant::{Grant, RequestParams};
    /// let p = RequestParams { scope: Some("api".into()), ..Default::default() };
    /// let r = Grant::ClientCredentials.request("https://idp/token", "JWT", &p);
    /// assert_eq!(r.body.expose(), "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=JWT&scope=api");
    /// ```
    pub fn request(self, url: &str, assertion: &str, p: &RequestParams) -> TokenRequest {
        let mut headers: Vec<(String, Secret<String>)> =
            vec![("Accept".into(), Secret::new("application/json".into()))];
        let body = match self {
            Grant::ClientCredentials | Grant::JwtBearer => {
                let mut f = form_urlencoded::Serializer::new(String::new());
                if self == Grant::ClientCredentials {
                    f.append_pair("grant_type", "client_credentials");
                    f.append_pair("client_assertion_type", CLIENT_ASSERTION_TYPE);
                    f.append_pair("client_assertion", assertion);
                } else {
                    f.append_pair("grant_type", JWT_BEARER_GRANT);
                    f.append_pair("assertion", assertion);
                }
                if let Some(s) = p.scope.as_deref().filter(|s| !s.is_empty()) {
                    f.append_pair("scope", s);
                }
                if self == Grant::ClientCredentials {
                    if let Some(c) = &p.client_id {
                        f.append_pair("client_id", c);
                    }
                }
                for (k, v) in &p.params {
                    f.append_pair(k, v);
                }
                headers.push((
                    "Content-Type".into(),
                    Secret::new("application/x-www-form-urlencoded".into()),
                ));
                f.finish()
            }
            Grant::BearerHeader => {
                let mut m = serde_json::Map::new();
                if let Some(s) = p.scope.as_deref().filter(|s| !s.is_empty()) {
                    m.insert("scope".into(), s.into());
                }
                for (k, v) in &p.params {
                    m.insert(k.clone(), json_value(v));
                }
                headers.push(("Authorization".into(), Secret::new(format!("Bearer {assertion}"))));
                headers.push(("Content-Type".into(), Secret::new("application/json".into())));
                serde_json::Value::Object(m).to_string()
            }
            Grant::JsonBody | Grant::SelfSigned => {
                headers.push(("Content-Type".into(), Secret::new("application/json".into())));
                serde_json::Value::String(assertion.into()).to_string()
            }
        };
        for (k, v) in &p.headers {
            headers.push((k.clone(), Secret::new(v.clone())));
        }
        TokenRequest {
            url: url.into(),
            headers,
            body: Secret::new(body),
        }
    }
}

/// Parses `NAME: VALUE` for `--request-header`, refusing the headers signet owns.
pub fn parse_request_header(s: &str) -> Result<(String, String), String> {
    let (name, value) = s
        .split_once(':')
        .ok_or_else(|| format!("--request-header '{s}' is not 'NAME: VALUE'"))?;
    let name = name.trim();
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !valid {
        return Err(format!("--request-header: '{name}' is not a valid header name"));
    }
    if [
        "authorization",
        "content-type",
        "content-length",
        "host",
        "transfer-encoding",
    ]
    .contains(&name.to_ascii_lowercase().as_str())
    {
        return Err(format!(
            "--request-header cannot set {name}: signet sets it for the grant"
        ));
    }
    let value = value.trim();
    if value.chars().any(|c| c.is_control()) {
        return Err(format!(
            "--request-header {name}: the value contains control characters"
        ));
    }
    Ok((name.to_string(), value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> RequestParams {
        RequestParams {
            client_id: Some("cid".into()),
            scope: Some("a b".into()),
            params: vec![("resource".into(), "urn:x".into())],
            headers: vec![("X-Tachyon-Consumer".into(), "nightly".into())],
        }
    }

    #[test]
    fn jwt_bearer_form_is_exact() {
        let r = Grant::JwtBearer.request("https://t", "A.B.C", &params());
        assert_eq!(
            r.body.expose(),
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=A.B.C&scope=a+b&resource=urn%3Ax"
        );
    }

    #[test]
    fn bearer_header_puts_jwt_in_authorization_and_params_in_json() {
        let mut p = params();
        p.scope = None;
        p.params = vec![("deviceName".into(), "ci".into()), ("n".into(), "1".into())];
        let r = Grant::BearerHeader.request("https://t", "A.B.C", &p);
        assert_eq!(r.body.expose(), r#"{"deviceName":"ci","n":1}"#);
        let auth = r.headers.iter().find(|(k, _)| k == "Authorization").unwrap();
        assert_eq!(auth.1.expose(), "Bearer A.B.C");
        assert!(r.redacted_headers().iter().all(|(_, v)| !v.contains("A.B.C")));
        assert!(r
            .headers
            .iter()
            .any(|(k, v)| k == "X-Tachyon-Consumer" && v.expose() == "nightly"));
    }

    #[test]
    fn json_body_is_a_json_string() {
        let r = Grant::JsonBody.request("https://t", "A.B.C", &params());
        assert_eq!(r.body.expose(), r#""A.B.C""#);
    }

    #[test]
    fn request_header_cannot_override_authorization() {
        assert!(parse_request_header("Authorization: x").is_err());
        assert!(parse_request_header("content-type: x").is_err());
        assert!(parse_request_header("X-A: b\r\nX-B: c").is_err());
        assert_eq!(parse_request_header("X-A:  b ").unwrap(), ("X-A".into(), "b".into()));
    }
}
