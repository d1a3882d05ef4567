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
    pub const ALL: &'static [(Grant, &'static str)] = &[
        (Grant::ClientCredentials, "client-credentials"),
        (Grant::JwtBearer, "jwt-bearer"),
        (Grant::BearerHeader, "bearer-header"),
        (Grant::JsonBody, "json-body"),
        (Grant::SelfSigned, "self-signed"),
    ];

    /// Every name, as messages and help list them: "a, b or c".
    pub fn names() -> String {
        let names: Vec<&str> = Grant::ALL.iter().map(|(_, n)| *n).collect();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            _ => names.join(""),
        }
    }

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

/// Any case, and `_` for `-`: `client_credentials` is how RFC 6749 spells the grant_type, so
/// users type it that way.
impl FromStr for Grant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().replace('_', "-");
        Grant::ALL
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(&wanted))
            .map(|(g, _)| *g)
            .ok_or_else(|| format!("unknown grant '{s}': use {}", Grant::names()))
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

/// A token request as a server receives it: which grant carries the assertion, and the rest of
/// what [`Grant::request`] put around it. [`Grant::parse_request`] builds it.
#[derive(Debug)]
pub struct ParsedRequest {
    /// The grant the request's shape names. Never [`Grant::SelfSigned`], which sends nothing.
    pub grant: Grant,
    /// The JWT the request carries.
    pub assertion: Secret<String>,
    /// `scope`, `client_id` (client credentials only), the other body parameters in order, and
    /// every header the grant does not own (as received: a server also sees `Host` and the like).
    pub params: RequestParams,
}

/// Why a request is not one [`Grant::request`] could have built. The text is what an
/// authorization server would say to the client.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseRequestError {
    /// A JSON body (the JSON-body grant) that is not a JSON string.
    #[error("the body is not a JSON string holding a JWT")]
    NotJsonString,
    /// A form without `grant_type`.
    #[error("no grant_type")]
    NoGrantType,
    /// A `grant_type` no [`Grant`] sends.
    #[error("grant_type {0} is not supported")]
    UnsupportedGrantType(String),
    /// Client credentials whose `client_assertion_type` is not [`CLIENT_ASSERTION_TYPE`].
    #[error("client_assertion_type must be {CLIENT_ASSERTION_TYPE}")]
    WrongAssertionType,
    /// Client credentials without `client_assertion`.
    #[error("no client_assertion")]
    NoClientAssertion,
    /// A JWT-bearer grant without `assertion`.
    #[error("no assertion")]
    NoAssertion,
}

impl Grant {
    /// The inverse of [`Grant::request`]: which grant a received token request uses, with its
    /// assertion and parameters. `headers` are (name, value) in any case; `body` is the raw body.
    ///
    /// The grant is read from the request's shape in the order a server can tell them apart: an
    /// `Authorization: Bearer` header (bearer-header, whatever the body), then a JSON body
    /// (json-body), then the form's `grant_type`.
    ///
    /// ```
    /// use signet::grant::{Grant, RequestParams};
    /// let p = RequestParams { scope: Some("api".into()), ..Default::default() };
    /// let r = Grant::JwtBearer.request("https://idp/token", "JWT", &p);
    /// // What the server receives: the headers as plain text.
    /// let headers: Vec<(String, String)> =
    ///     r.headers.iter().map(|(k, v)| (k.clone(), v.expose().clone())).collect();
    /// let parsed = Grant::parse_request(&headers, r.body.expose()).unwrap();
    /// assert_eq!((parsed.grant, parsed.assertion.expose().as_str()), (Grant::JwtBearer, "JWT"));
    /// assert_eq!(parsed.params.scope.as_deref(), Some("api"));
    /// ```
    pub fn parse_request(headers: &[(String, String)], body: &str) -> Result<ParsedRequest, ParseRequestError> {
        let header = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.as_str())
        };
        let bearer = header("authorization").and_then(|a| a.strip_prefix("Bearer "));
        // Headers the grant sets are part of its shape, not parameters.
        let owned = |k: &str| {
            k.eq_ignore_ascii_case("accept")
                || k.eq_ignore_ascii_case("content-type")
                || bearer.is_some() && k.eq_ignore_ascii_case("authorization")
        };
        let extra_headers = headers.iter().filter(|(k, _)| !owned(k)).cloned().collect();
        let mut parsed = if let Some(assertion) = bearer {
            parse_bearer_header(assertion, body)
        } else if header("content-type").unwrap_or("").starts_with("application/json") {
            let assertion = serde_json::from_str::<String>(body).map_err(|_| ParseRequestError::NotJsonString)?;
            ParsedRequest {
                grant: Grant::JsonBody,
                assertion: Secret::new(assertion),
                params: RequestParams::default(),
            }
        } else {
            parse_form(body)?
        };
        parsed.params.headers = extra_headers;
        Ok(parsed)
    }
}

/// Bearer header: the JSON body's members are the parameters; a body that is not a JSON object
/// carries none (AIS ignores what it cannot read, and so does this).
fn parse_bearer_header(assertion: &str, body: &str) -> ParsedRequest {
    let members: serde_json::Map<String, serde_json::Value> = serde_json::from_str(body).unwrap_or_default();
    let mut params = RequestParams::default();
    for (k, v) in members {
        // Back to the text `json_value` typed: strings as they are, anything else as JSON.
        let v = v.as_str().map(String::from).unwrap_or_else(|| v.to_string());
        if k == "scope" && params.scope.is_none() {
            params.scope = Some(v);
        } else {
            params.params.push((k, v));
        }
    }
    ParsedRequest {
        grant: Grant::BearerHeader,
        assertion: Secret::new(assertion.to_string()),
        params,
    }
}

/// The two RFC 7523 form grants, told apart by `grant_type`.
fn parse_form(body: &str) -> Result<ParsedRequest, ParseRequestError> {
    let mut form: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    // Takes the first value of a field out of the form, so what remains are the extra params.
    let mut take = |k: &str| {
        let i = form.iter().position(|(n, _)| n == k)?;
        Some(form.remove(i).1)
    };
    let grant_type = take("grant_type").ok_or(ParseRequestError::NoGrantType)?;
    let (grant, assertion) = match grant_type.as_str() {
        "client_credentials" => {
            if take("client_assertion_type").as_deref() != Some(CLIENT_ASSERTION_TYPE) {
                return Err(ParseRequestError::WrongAssertionType);
            }
            let a = take("client_assertion").ok_or(ParseRequestError::NoClientAssertion)?;
            (Grant::ClientCredentials, a)
        }
        JWT_BEARER_GRANT => (
            Grant::JwtBearer,
            take("assertion").ok_or(ParseRequestError::NoAssertion)?,
        ),
        _ => return Err(ParseRequestError::UnsupportedGrantType(grant_type)),
    };
    let scope = take("scope");
    // Only client credentials sends client_id (`Grant::request`); elsewhere it is a plain param.
    let client_id = if grant == Grant::ClientCredentials {
        take("client_id")
    } else {
        None
    };
    Ok(ParsedRequest {
        grant,
        assertion: Secret::new(assertion),
        params: RequestParams {
            client_id,
            scope,
            params: form,
            headers: vec![],
        },
    })
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

    /// What a server receives for `r`: the headers as plain text.
    fn received(r: &TokenRequest) -> Vec<(String, String)> {
        r.headers.iter().map(|(k, v)| (k.clone(), v.expose().clone())).collect()
    }

    fn round_trip(g: Grant, p: &RequestParams) -> ParsedRequest {
        let r = g.request("https://t", "A.B.C", p);
        Grant::parse_request(&received(&r), r.body.expose()).unwrap_or_else(|e| panic!("{g}: {e}"))
    }

    #[test]
    fn every_sent_grant_parses_back_to_itself_with_its_params() {
        for &(g, _) in Grant::ALL {
            let p = params();
            let back = round_trip(g, &p);
            assert_eq!(back.assertion.expose(), "A.B.C", "{g}");
            assert_eq!(back.params.headers, p.headers, "{g}: only the extra headers are left");
            match g {
                Grant::ClientCredentials => {
                    assert_eq!(back.grant, g);
                    assert_eq!(back.params.client_id, p.client_id);
                    assert_eq!(back.params.scope, p.scope);
                    assert_eq!(back.params.params, p.params);
                }
                // client_id is not sent with the JWT-bearer grant.
                Grant::JwtBearer | Grant::BearerHeader => {
                    assert_eq!(back.grant, g);
                    assert_eq!(back.params.client_id, None);
                    assert_eq!(back.params.scope, p.scope);
                    assert_eq!(back.params.params, p.params);
                }
                // The JSON body is only the assertion.
                Grant::JsonBody => {
                    assert_eq!(back.grant, g);
                    assert_eq!((back.params.client_id, back.params.scope), (None, None));
                    assert!(back.params.params.is_empty());
                }
                // Self-signed sends nothing; its request() looks like json-body's.
                Grant::SelfSigned => assert_eq!(back.grant, Grant::JsonBody),
            }
        }
    }

    #[test]
    fn bearer_header_params_typed_as_json_come_back_as_their_text() {
        let p = RequestParams {
            params: vec![
                ("n".into(), "1".into()),
                ("b".into(), "true".into()),
                ("s".into(), "ci".into()),
            ],
            ..Default::default()
        };
        assert_eq!(round_trip(Grant::BearerHeader, &p).params.params, p.params);
    }

    #[test]
    fn requests_no_grant_could_build_are_refused() {
        let refused = |content_type: &str, body: &str| {
            Grant::parse_request(&[("Content-Type".into(), content_type.into())], body).unwrap_err()
        };
        let form = "application/x-www-form-urlencoded";
        assert_eq!(
            refused("application/json", r#"{"a":1}"#),
            ParseRequestError::NotJsonString
        );
        assert_eq!(refused(form, "scope=x"), ParseRequestError::NoGrantType);
        assert_eq!(
            refused(form, "grant_type=password"),
            ParseRequestError::UnsupportedGrantType("password".into())
        );
        assert_eq!(
            refused(form, "grant_type=client_credentials&client_assertion=A"),
            ParseRequestError::WrongAssertionType
        );
        assert_eq!(
            refused(
                form,
                "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
            ),
            ParseRequestError::NoClientAssertion
        );
        assert_eq!(
            refused(form, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"),
            ParseRequestError::NoAssertion
        );
        // A bearer header wins over the body's shape, as AIS reads it.
        let auth = [("authorization".to_string(), "Bearer A.B.C".to_string())];
        let p = Grant::parse_request(&auth, "not json").unwrap();
        assert_eq!((p.grant, p.params.params.len()), (Grant::BearerHeader, 0));
    }

    #[test]
    fn grant_names_take_any_case_and_underscores() {
        for (g, name) in Grant::ALL {
            assert_eq!(name.parse::<Grant>().unwrap(), *g);
            assert_eq!(name.replace('-', "_").to_uppercase().parse::<Grant>().unwrap(), *g);
        }
        assert_eq!(
            " client_credentials ".parse::<Grant>().unwrap(),
            Grant::ClientCredentials
        );
        let e = "client credentials".parse::<Grant>().unwrap_err();
        assert!(e.contains("unknown grant 'client credentials'"), "{e}");
    }

    #[test]
    fn request_header_cannot_override_authorization() {
        assert!(parse_request_header("Authorization: x").is_err());
        assert!(parse_request_header("content-type: x").is_err());
        assert!(parse_request_header("X-A: b\r\nX-B: c").is_err());
        assert_eq!(parse_request_header("X-A:  b ").unwrap(), ("X-A".into(), "b".into()));
    }
}
