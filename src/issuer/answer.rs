//! What the issuer sends back: an access token in the provider's answer format, or an OAuth error.

use super::{respond, IssuerConfig, State};
use crate::grant::{Grant, RequestParams};
use serde_json::{json, Value};

/// How the issuer's answers look on the wire. This is the server's side; the client reads answers
/// with [`ResponseShape`](crate::token::ResponseShape).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerFormat {
    /// RFC 6749 JSON.
    OAuth,
    /// JD Edwards AIS: the token at `/userInfo/token`, no expiry.
    Jde,
    /// A plain-text token (1E).
    Plain,
}

impl AnswerFormat {
    /// The format the providers that use a grant answer in: AIS for bearer-header, 1E's plain
    /// text for json-body, RFC 6749 JSON otherwise.
    pub(super) fn for_grant(grant: Grant) -> AnswerFormat {
        match grant {
            Grant::BearerHeader => AnswerFormat::Jde,
            Grant::JsonBody => AnswerFormat::Plain,
            _ => AnswerFormat::OAuth,
        }
    }
}

/// A status and a JSON body, before the answer format decides how it goes on the wire.
#[derive(Clone, Debug)]
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) body: Value,
    /// Headers besides the content type (`DPoP-Nonce`).
    pub(super) headers: Vec<(&'static str, String)>,
}

impl Answer {
    /// An RFC 6749 §5.2 error: 401 for `invalid_client` (§5.2 allows it; clients must handle it),
    /// 400 otherwise.
    pub(super) fn error(code: &str, description: impl Into<String>) -> Answer {
        let status = if code == "invalid_client" { 401 } else { 400 };
        Answer {
            status,
            body: json!({"error": code, "error_description": description.into()}),
            headers: vec![],
        }
    }

    /// Sends it: a successful plain-text answer is the bare token, everything else JSON.
    pub(super) fn send(self, req: tiny_http::Request, format: AnswerFormat, clock_offset: i64) {
        match (self.status, format) {
            (200, AnswerFormat::Plain) => respond(
                req,
                200,
                self.body["access_token"].as_str().unwrap_or("").to_string(),
                "text/plain",
                &self.headers,
                clock_offset,
            ),
            _ => respond(
                req,
                self.status,
                self.body.to_string(),
                "application/json",
                &self.headers,
                clock_offset,
            ),
        }
    }
}

/// Issues a token for `sub` and wraps it in the configured format. `params` are the request's
/// (its scope is echoed; AIS echoes `environment` and `role`).
/// With DPoP, `jkt` is the proof key's thumbprint: the token's `cnf.jkt`, answered as
/// `token_type: DPoP`.
pub(super) fn issue(st: &State, cfg: &IssuerConfig, sub: &str, params: &RequestParams, jkt: Option<&str>) -> Answer {
    let Some(token) = access_token(st, cfg, sub, params.scope.as_deref(), jkt) else {
        return Answer::error("server_error", "signing failed");
    };
    let mut body = match cfg.answer_format {
        AnswerFormat::Jde => {
            let get = |k: &str| {
                params
                    .params
                    .iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            json!({
                "username": sub, "environment": get("environment"), "role": get("role"),
                "jasserver": st.base_url, "userInfo": {"token": token, "langPref": "", "locale": "en"},
                "aisSessionCookie": uuid::Uuid::new_v4().to_string(),
            })
        }
        AnswerFormat::OAuth | AnswerFormat::Plain => {
            let token_type = if jkt.is_some() { "DPoP" } else { "Bearer" };
            let mut a = json!({"access_token": token, "token_type": token_type});
            if let Some(e) = cfg.expires_in {
                a["expires_in"] = e.into();
            }
            if let Some(s) = &params.scope {
                a["scope"] = s.as_str().into();
            }
            a
        }
    };
    if let Some(o) = body.as_object_mut() {
        for (k, v) in &cfg.extra {
            o.insert(k.clone(), v.clone());
        }
    }
    Answer {
        status: 200,
        body,
        headers: vec![],
    }
}

/// A JWT signed by the issuer's own key, or an opaque string where the provider issues those.
/// A JWT without an announced `expires_in` lives 1800 s, which a client can read from its `exp`.
fn access_token(st: &State, cfg: &IssuerConfig, sub: &str, scope: Option<&str>, jkt: Option<&str>) -> Option<String> {
    if cfg.opaque_tokens {
        return Some(format!(
            "00D{}!{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        ));
    }
    let now = crate::clock::now() + cfg.clock_offset;
    let life = cfg.expires_in.unwrap_or(1800) as i64;
    let mut claims = json!({
        "iss": st.base_url, "sub": sub, "aud": "signet-test-api", "iat": now, "exp": now + life,
        "jti": uuid::Uuid::new_v4().to_string(), "scope": scope,
    });
    if let Some(jkt) = jkt {
        claims["cnf"] = json!({"jkt": jkt});
    }
    st.signer
        .sign_payload(&claims.to_string())
        .ok()
        .map(|t| t.expose().clone())
}
