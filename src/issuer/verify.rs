//! The checks on a token request: which grant it is (through [`Grant::parse_request`]), then the
//! assertion's algorithm, key, signature, lifetime, audience, `jti` and principal, in that order,
//! stopping at the first that fails.

use super::answer::{self, Answer};
use super::{Client, IssuerConfig, State};
use crate::alg::Alg;
use crate::grant::{Grant, ParseRequestError, ParsedRequest};
use crate::inspect::Decoded;
use crate::key::{KidFrom, PublicJwk};
use serde_json::{Map, Value};

/// The answer to a token request, and the `jti` of its assertion (recorded even when refused).
pub(super) struct Verdict {
    pub(super) answer: Answer,
    pub(super) jti: Option<String>,
}

/// Why an assertion is refused: an OAuth error code and its description.
struct Refusal {
    code: &'static str,
    description: String,
}

fn refuse<T>(code: &'static str, description: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal {
        code,
        description: description.into(),
    })
}

/// Reads the request, checks its assertion and issues a token for the principal it names.
pub(super) fn verify_and_issue(st: &State, cfg: &IssuerConfig, headers: &[(String, String)], body: &str) -> Verdict {
    let refused = |code, description: String, jti| Verdict {
        answer: Answer::error(code, description),
        jti,
    };
    if let Err(r) = required_headers(cfg, headers) {
        return refused(r.code, r.description, None);
    }
    let req = match Grant::parse_request(headers, body) {
        Ok(r) => r,
        Err(e) => return refused(request_error_code(&e), e.to_string(), None),
    };
    let Ok(decoded) = crate::inspect::dangerous::decode_unverified(req.assertion.expose()) else {
        return refused("invalid_client", "the assertion is not a JWT".into(), None);
    };
    let jti = decoded.claims.get("jti").and_then(Value::as_str).map(String::from);
    let sub = match check(st, cfg, &req, &decoded) {
        Ok(sub) => sub,
        Err(r) => return refused(r.code, r.description, jti),
    };
    // The proof is checked after the client: a client that cannot authenticate learns nothing
    // about nonces.
    let jkt = match cfg.dpop.then(|| super::dpop::check_proof(st, cfg, headers)) {
        None => None,
        Some(Ok(jkt)) => Some(jkt),
        Some(Err(r)) => {
            let mut answer = Answer::error(r.code, r.description);
            answer.status = 400;
            answer.headers.extend(r.nonce.map(|n| ("DPoP-Nonce", n)));
            return Verdict { answer, jti };
        }
    };
    Verdict {
        answer: answer::issue(st, cfg, &sub, &req.params, jkt.as_deref()),
        jti,
    }
}

/// The headers the provider requires, with the values it has registered (1E's
/// `X-Tachyon-Consumer`). `headers` have lower-case names.
fn required_headers(cfg: &IssuerConfig, headers: &[(String, String)]) -> Result<(), Refusal> {
    for (name, want) in &cfg.required_headers {
        let got = headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        match got {
            Some(v) if v == want => {}
            Some(v) => {
                return refuse(
                    "invalid_request",
                    format!(
                        "{} does not know the {name} '{}': it expects '{want}'",
                        cfg.mode,
                        crate::text::sanitize(v, 80)
                    ),
                )
            }
            None => return refuse("invalid_request", format!("{} requires the {name} header", cfg.mode)),
        }
    }
    Ok(())
}

/// The OAuth error code for a request no grant could have built (RFC 6749 §5.2): a malformed
/// client authentication is `invalid_client`, a grant signet does not send
/// `unsupported_grant_type`, anything else missing `invalid_request`.
fn request_error_code(e: &ParseRequestError) -> &'static str {
    match e {
        ParseRequestError::WrongAssertionType | ParseRequestError::NoClientAssertion => "invalid_client",
        ParseRequestError::UnsupportedGrantType(_) => "unsupported_grant_type",
        ParseRequestError::NotJsonString | ParseRequestError::NoGrantType | ParseRequestError::NoAssertion => {
            "invalid_request"
        }
    }
}

/// Every check, in order. Returns the principal the token is issued for.
fn check(st: &State, cfg: &IssuerConfig, req: &ParsedRequest, d: &Decoded) -> Result<String, Refusal> {
    let alg = accepted_alg(cfg, d)?;
    let candidates = named_keys(cfg, d)?;
    let client = signed_by(candidates, req.assertion.expose(), alg)?;
    let claims = Claims(&d.claims);
    check_lifetime(cfg, &claims)?;
    check_audience(st, cfg, &claims)?;
    check_jti(st, cfg, &claims)?;
    principal(cfg, req, client, &claims)
}

/// The header's `alg`, if the issuer accepts it.
fn accepted_alg(cfg: &IssuerConfig, d: &Decoded) -> Result<Alg, Refusal> {
    let alg_name = d.header.get("alg").and_then(Value::as_str).unwrap_or("");
    let Ok(alg) = alg_name.parse::<Alg>() else {
        return refuse("invalid_client", format!("alg '{alg_name}' is not accepted"));
    };
    if !cfg.algs.is_empty() && !cfg.algs.contains(&alg) {
        return refuse(
            "invalid_client",
            format!("{} does not accept {alg} assertions", cfg.mode),
        );
    }
    Ok(alg)
}

/// The trusted keys the header names by `kid`, `x5t` or `x5t#S256`; with none of them, every key
/// where the provider configures the key rather than naming it.
fn named_keys<'c>(cfg: &'c IssuerConfig, d: &Decoded) -> Result<Vec<&'c Client>, Refusal> {
    let kid = d.header.get("kid").and_then(Value::as_str);
    let x5t = d.header.get("x5t").and_then(Value::as_str);
    let x5t256 = d.header.get("x5t#S256").and_then(Value::as_str);
    if cfg.require_x5t && x5t.is_none() && x5t256.is_none() {
        return refuse(
            "invalid_client",
            "the assertion has neither x5t nor x5t#S256 to identify the certificate",
        );
    }
    if let Some(rule) = cfg.kid_rule {
        return keys_by_rule(cfg, rule, kid);
    }
    let named = kid.is_some() || x5t.is_some() || x5t256.is_some();
    let candidates: Vec<&Client> = cfg
        .clients
        .iter()
        .filter(|c| {
            if !named {
                return cfg.allow_unnamed_key;
            }
            kid.is_some_and(|k| c.kids.iter().any(|ck| ck == k))
                || x5t.is_some_and(|t| c.x5t.as_deref() == Some(normalize_b64(t).as_str()))
                || x5t256.is_some_and(|t| c.x5t_s256.as_deref() == Some(normalize_b64(t).as_str()))
        })
        .collect();
    if candidates.is_empty() {
        let what = match (kid, x5t256, x5t) {
            (Some(k), _, _) => format!("kid '{}'", crate::text::sanitize(k, 80)),
            (None, Some(t), _) => format!("x5t#S256 '{}'", crate::text::sanitize(t, 80)),
            (None, None, Some(t)) => format!("x5t '{}'", crate::text::sanitize(t, 80)),
            _ => "no kid, x5t or x5t#S256".into(),
        };
        return refuse(
            "invalid_client",
            format!("key not found: {what} names no registered key"),
        );
    }
    Ok(candidates)
}

/// A provider that knows each key by its id under one rule: the kid must be that id (another
/// id of a trusted key is named as such, so the refusal says what to change).
fn keys_by_rule<'c>(cfg: &'c IssuerConfig, rule: KidFrom, kid: Option<&str>) -> Result<Vec<&'c Client>, Refusal> {
    let Some(kid) = kid else {
        return refuse(
            "invalid_client",
            format!("{} names the key by kid ({rule}), and the assertion has none", cfg.mode),
        );
    };
    let by_rule: Vec<&Client> = cfg
        .clients
        .iter()
        .filter(|c| c.rule_ids.iter().any(|(r, id)| *r == rule && id == kid))
        .collect();
    if !by_rule.is_empty() {
        return Ok(by_rule);
    }
    let other_rule = cfg
        .clients
        .iter()
        .flat_map(|c| c.rule_ids.iter())
        .find(|(_, id)| id == kid)
        .map(|(r, _)| *r);
    let shown = crate::text::sanitize(kid, 80);
    match other_rule {
        Some(r) => refuse(
            "invalid_client",
            format!(
                "kid '{shown}' is the key's {r} id; {} knows the key by its {rule} id ({})",
                cfg.mode,
                rule_words(rule)
            ),
        ),
        None => refuse(
            "invalid_client",
            format!("key not found: kid '{shown}' is not the {rule} id of a registered key"),
        ),
    }
}

/// What a kid rule's id is, in a refusal.
fn rule_words(rule: KidFrom) -> &'static str {
    match rule {
        KidFrom::HexSha1 => "the certificate's SHA-1 thumbprint in upper-case hex, as Windows shows it",
        KidFrom::X5t => "base64url SHA-1 of the certificate",
        KidFrom::X5tS256 => "base64url SHA-256 of the certificate",
        KidFrom::Jwk => "the RFC 7638 JWK thumbprint",
        KidFrom::SpkiS256 => "base64url SHA-256 of the public key",
        KidFrom::None => "no kid",
    }
}

/// Thumbprints as clients send them: base64url, or (MSAL Python) standard base64 with padding.
fn normalize_b64(t: &str) -> String {
    t.trim_end_matches('=').replace('+', "-").replace('/', "_")
}

/// The first candidate whose key verifies the signature. jsonwebtoken checks it, not signet's
/// own code, so a signer bug cannot hide behind a matching verifier bug.
fn signed_by<'c>(candidates: Vec<&'c Client>, assertion: &str, alg: Alg) -> Result<&'c Client, Refusal> {
    let (msg, sig) = assertion.rsplit_once('.').unwrap_or((assertion, ""));
    let jalg = jsonwebtoken_alg(alg);
    let verifies = |c: &&Client| {
        decoding_key(&c.jwk)
            .ok()
            .and_then(|k| jsonwebtoken::crypto::verify(sig, msg.as_bytes(), &k, jalg).ok())
            .unwrap_or(false)
    };
    match candidates.into_iter().find(verifies) {
        Some(c) => Ok(c),
        None => refuse(
            "invalid_client",
            "the assertion's signature does not verify with the registered key",
        ),
    }
}

fn jsonwebtoken_alg(alg: Alg) -> jsonwebtoken::Algorithm {
    match alg {
        Alg::RS256 => jsonwebtoken::Algorithm::RS256,
        Alg::RS384 => jsonwebtoken::Algorithm::RS384,
        Alg::RS512 => jsonwebtoken::Algorithm::RS512,
        Alg::PS256 => jsonwebtoken::Algorithm::PS256,
        Alg::PS384 => jsonwebtoken::Algorithm::PS384,
        Alg::PS512 => jsonwebtoken::Algorithm::PS512,
        Alg::ES256 => jsonwebtoken::Algorithm::ES256,
        Alg::ES384 => jsonwebtoken::Algorithm::ES384,
        Alg::EdDSA => jsonwebtoken::Algorithm::EdDSA,
    }
}

/// Verifies a compact JWS signed with `alg` by `jwk` (the DPoP proof's own key).
pub(super) fn verify_signature(jws: &str, jwk: &PublicJwk, alg: Alg) -> Result<(), ()> {
    let key = decoding_key(jwk).map_err(|_| ())?;
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken_alg(alg));
    v.validate_exp = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    jsonwebtoken::decode::<Value>(jws, &key, &v).map(|_| ()).map_err(|_| ())
}

fn decoding_key(jwk: &PublicJwk) -> jsonwebtoken::errors::Result<jsonwebtoken::DecodingKey> {
    use crate::b64::encode;
    match jwk {
        PublicJwk::Rsa { n, e } => jsonwebtoken::DecodingKey::from_rsa_components(&encode(n), &encode(e)),
        PublicJwk::Ec { x, y, .. } => jsonwebtoken::DecodingKey::from_ec_components(&encode(x), &encode(y)),
        PublicJwk::Okp { x } => jsonwebtoken::DecodingKey::from_ed_components(&encode(x)),
    }
}

/// Typed reads of the assertion's claims.
struct Claims<'a>(&'a Map<String, Value>);

impl Claims<'_> {
    /// A NumericDate, which may be fractional (RFC 7519 §2; MSAL Python sends floats).
    fn num(&self, k: &str) -> Option<i64> {
        self.0
            .get(k)
            .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
    }

    fn text(&self, k: &str) -> Option<&str> {
        self.0.get(k).and_then(Value::as_str)
    }
}

/// `exp` is in the future, `iat`/`nbf` are not, and the lifetime is within the provider's limit,
/// all by the issuer's (possibly skewed) clock with its leeway.
fn check_lifetime(cfg: &IssuerConfig, c: &Claims) -> Result<(), Refusal> {
    let now = crate::clock::now() + cfg.clock_offset;
    let Some(exp) = c.num("exp") else {
        return refuse("invalid_client", "the assertion needs exp");
    };
    // RFC 7523 makes iat optional (MSAL omits it): the lifetime is then counted from nbf or now.
    let iat = c.num("iat").or(c.num("nbf")).unwrap_or(now);
    if exp <= now - cfg.leeway {
        return refuse(
            "invalid_client",
            format!(
                "the assertion expired {} s ago (exp {exp}, server time {now})",
                now - exp
            ),
        );
    }
    if iat > now + cfg.leeway || c.num("nbf").is_some_and(|n| n > now + cfg.leeway) {
        return refuse(
            "invalid_client",
            format!("the assertion is not yet valid: issued in the future (iat {iat}, server time {now})"),
        );
    }
    if exp - iat > cfg.max_lifetime as i64 {
        return refuse(
            "invalid_client",
            format!(
                "the assertion lifetime {} s is longer than {} s",
                exp - iat,
                cfg.max_lifetime
            ),
        );
    }
    Ok(())
}

/// `aud` is one string: the configured audience (default: the token URL), an also-accepted one,
/// or the token URL under the public URL.
fn check_audience(st: &State, cfg: &IssuerConfig, c: &Claims) -> Result<(), Refusal> {
    let want_aud = cfg.audience.clone().unwrap_or_else(|| st.token_url.clone());
    let public_aud = cfg.public_url.as_ref().map(|u| format!("{u}/token"));
    let aud_ok = match c.0.get("aud") {
        Some(Value::String(a)) => *a == want_aud || cfg.also_audiences.contains(a) || public_aud.as_ref() == Some(a),
        _ => false,
    };
    if !aud_ok {
        return refuse("invalid_client", format!("aud must be the single value {want_aud}"));
    }
    Ok(())
}

/// Every assertion has a `jti`; where the provider says so, one never seen before.
fn check_jti(st: &State, cfg: &IssuerConfig, c: &Claims) -> Result<(), Refusal> {
    let Some(jti) = c.text("jti") else {
        return refuse("invalid_client", "the assertion has no jti");
    };
    if cfg.single_use_jti {
        let mut seen = st.seen_jti.lock().map_err(|_| Refusal {
            code: "server_error",
            description: "lock".into(),
        })?;
        if !seen.insert(jti.to_string()) {
            return refuse("invalid_grant", "jti already used: an assertion can be used only once");
        }
    }
    Ok(())
}

/// Who the token is for, by the grant's rules for `iss` and `sub`.
fn principal(cfg: &IssuerConfig, req: &ParsedRequest, client: &Client, c: &Claims) -> Result<String, Refusal> {
    let client_id = req.params.client_id.as_deref();
    match req.grant {
        Grant::ClientCredentials => match &cfg.federated {
            Some((iss, sub)) => federated_app(iss, sub, c, client_id),
            None => client_itself(client, c, client_id),
        },
        Grant::BearerHeader | Grant::JsonBody if cfg.user.is_some() => configured_user(cfg, c),
        // The assertion is an authorization grant (RFC 7523 §2.1): the client issues it, for a
        // user or for itself.
        Grant::JwtBearer | Grant::BearerHeader | Grant::JsonBody | Grant::SelfSigned => {
            issued_by_client(cfg, client, c)
        }
    }
}

/// Workload identity federation: the assertion is the external issuer's token for the configured
/// subject, and the form names the app.
fn federated_app(iss: &str, sub: &str, c: &Claims, client_id: Option<&str>) -> Result<String, Refusal> {
    if c.text("iss") != Some(iss) || c.text("sub") != Some(sub) {
        return refuse(
            "invalid_client",
            format!("the federated assertion must have iss {iss} and sub {sub}"),
        );
    }
    match client_id {
        Some(id) => Ok(id.to_string()),
        None => refuse("invalid_request", "a federated assertion needs client_id"),
    }
}

/// Client authentication (RFC 7523 §3): `iss` = `sub` = the key's client, and a `client_id` in
/// the form, if any, agrees.
fn client_itself(client: &Client, c: &Claims, client_id: Option<&str>) -> Result<String, Refusal> {
    let id = client.client_id.as_str();
    if c.text("iss") != Some(id) || c.text("sub") != Some(id) {
        return refuse(
            "invalid_client",
            format!("iss and sub must both be the client id of the key ({id})"),
        );
    }
    if client_id.is_some_and(|c| c != id) {
        return refuse("invalid_client", "client_id does not match the assertion");
    }
    Ok(id.to_string())
}

/// AIS and 1E: the key is configured for one user, whom `sub` (or `prn`, `upn`) must name.
fn configured_user(cfg: &IssuerConfig, c: &Claims) -> Result<String, Refusal> {
    let user = cfg.user.clone().unwrap_or_default();
    let principal = c.text("sub").or(c.text("prn")).or(c.text("upn"));
    if principal != Some(user.as_str()) {
        return refuse("invalid_grant", format!("the principal (sub) must be the user {user}"));
    }
    Ok(user)
}

/// The JWT-bearer rule (RFC 7523 §3): the client the key belongs to is `iss`; `sub` is the user
/// the token is for, which must be the configured one if there is one.
fn issued_by_client(cfg: &IssuerConfig, client: &Client, c: &Claims) -> Result<String, Refusal> {
    let (iss, sub) = (c.text("iss"), c.text("sub"));
    if iss != Some(client.client_id.as_str()) {
        return refuse("invalid_grant", format!("iss must be {}", client.client_id));
    }
    if let Some(user) = &cfg.user {
        if sub != Some(user.as_str()) {
            return refuse("invalid_grant", format!("sub must be the user {user}"));
        }
    }
    Ok(sub.unwrap_or(&client.client_id).to_string())
}
