//! An embedded token endpoint on 127.0.0.1 that checks assertions strictly. `signet demo` and the
//! tests use it; users can point their own setups at it to test offline.
//!
//! It verifies the signature (with `jsonwebtoken`, an implementation independent of signet's
//! signer) by `kid`, `x5t` or `x5t#S256` against registered public keys; `aud`; the lifetime;
//! single-use `jti`; `iss`/`sub` rules per grant; then issues a signed JWT access token. It counts
//! requests and can be told to fail in given ways.
//!
//! ```
//! use signet::issuer::{Issuer, IssuerConfig};
//! let issuer = Issuer::start(IssuerConfig::default())?;
//! assert!(issuer.token_url().starts_with("http://127.0.0.1:"));
//! assert_eq!(issuer.request_count(), 0);
//! # Ok::<(), std::io::Error>(())
//! ```

use crate::alg::Alg;
use crate::assertion::Signer;
use crate::key::{KeyBundle, PublicJwk, SigningKey};
use serde_json::{json, Map, Value};
use std::collections::{HashSet, VecDeque};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A client (or user key) the issuer trusts.
#[derive(Clone, Debug)]
pub struct Client {
    /// The client id (`iss`/`sub` for client credentials).
    pub client_id: String,
    /// Its public key.
    pub jwk: PublicJwk,
    /// `kid` values that name this key.
    pub kids: Vec<String>,
    /// base64url SHA-1 of its certificate.
    pub x5t: Option<String>,
    /// base64url SHA-256 of its certificate.
    pub x5t_s256: Option<String>,
}

impl Client {
    /// Registers a key under every id a provider may use for it: certificate SHA-1 hex, x5t,
    /// x5t#S256, SPKI SHA-256, the JWK thumbprint, and `extra_kid`.
    pub fn from_bundle(client_id: &str, bundle: &KeyBundle, extra_kid: Option<&str>) -> Client {
        let jwk = bundle.key.public_jwk();
        let mut kids = vec![jwk.thumbprint(), bundle.key.spki_s256()];
        if let Some(c) = bundle.leaf() {
            kids.extend([c.hex_sha1(), c.x5t(), c.x5t_s256()]);
        }
        if let Some(sa) = &bundle.service_account {
            kids.push(sa.private_key_id.clone());
        }
        kids.extend(extra_kid.map(String::from));
        Client {
            client_id: client_id.into(),
            jwk,
            kids,
            x5t: bundle.leaf().map(|c| c.x5t()),
            x5t_s256: bundle.leaf().map(|c| c.x5t_s256()),
        }
    }
}

/// How answers look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerShape {
    /// RFC 6749 JSON.
    OAuth,
    /// JD Edwards AIS: the token at `/userInfo/token`, no expiry.
    Jde,
    /// A plain-text token (1E).
    Plain,
}

/// One way to fail, applied to the next request.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer with this status, body, content type and optional `Retry-After`.
    Status {
        /// Status.
        status: u16,
        /// Body.
        body: String,
        /// Content-Type.
        content_type: String,
        /// Retry-After value.
        retry_after: Option<String>,
    },
    /// Wait, then answer normally.
    Delay(Duration),
    /// Send the body one byte at a time with this pause between bytes.
    Trickle(Duration),
    /// Answer 200 with these raw body bytes.
    Body(Vec<u8>),
    /// Answer 307 to this location.
    Redirect(String),
}

impl Fault {
    /// A JSON answer with a status.
    pub fn json(status: u16, body: Value) -> Fault {
        Fault::Status {
            status,
            body: body.to_string(),
            content_type: "application/json".into(),
            retry_after: None,
        }
    }
}

/// The issuer's rules. Defaults are the strict generic rules.
#[derive(Clone, Debug)]
pub struct IssuerConfig {
    /// Trusted keys.
    pub clients: Vec<Client>,
    /// Required `aud` (default: the token URL).
    pub audience: Option<String>,
    /// Accepted algorithms (empty: all).
    pub algs: Vec<Alg>,
    /// Longest `exp - iat`.
    pub max_lifetime: u64,
    /// Reject a `jti` seen before.
    pub single_use_jti: bool,
    /// Accept an assertion without `kid`/`x5t` when exactly one key could match (JD Edwards,
    /// Salesforce: the key is configured, not named).
    pub allow_unnamed_key: bool,
    /// Refuse a `kid` header (Entra identifies the key by `x5t#S256`).
    pub require_x5t: bool,
    /// For bearer-header: the user `sub` must name.
    pub user: Option<String>,
    /// `expires_in` of issued tokens; `None` answers without it.
    pub expires_in: Option<u64>,
    /// Answer shape.
    pub shape: AnswerShape,
    /// Seconds added to the system clock (to test clock skew).
    pub clock_offset: i64,
    /// Extra string fields in answers (e.g. Salesforce's `instance_url`).
    pub extra: Map<String, Value>,
    /// Leeway for `iat`/`nbf` in the future and `exp` in the past.
    pub leeway: i64,
    /// Audiences accepted besides the required one.
    pub also_audiences: Vec<String>,
    /// Label for messages (`generic`, a provider name).
    pub mode: String,
    /// Issue opaque tokens instead of JWTs (Salesforce session ids, JD Edwards AIS tokens), so
    /// that a client cannot learn their lifetime from them.
    pub opaque_tokens: bool,
    /// Workload identity federation: client assertions are tokens of this issuer (`iss`) for this
    /// subject (`sub`), signed by one of `clients`' keys, and the app is named by `client_id`.
    pub federated: Option<(String, String)>,
    /// The URL clients use when the issuer sits behind a TLS terminator (stunnel in the
    /// benchmarks): discovery advertises it and `<public_url>/token` is accepted as `aud`.
    pub public_url: Option<String>,
}

impl Default for IssuerConfig {
    fn default() -> Self {
        IssuerConfig {
            clients: vec![],
            audience: None,
            algs: vec![],
            max_lifetime: 600,
            single_use_jti: true,
            allow_unnamed_key: false,
            require_x5t: false,
            user: None,
            expires_in: Some(300),
            shape: AnswerShape::OAuth,
            clock_offset: 0,
            extra: Map::new(),
            leeway: 5,
            also_audiences: vec![],
            mode: "generic".into(),
            opaque_tokens: false,
            federated: None,
            public_url: None,
        }
    }
}

impl Client {
    /// Trusts the key of a certificate (ids: SHA-1 hex, x5t, x5t#S256, SPKI SHA-256, JWK thumbprint).
    pub fn from_certificate(client_id: &str, cert: &crate::key::Certificate) -> Option<Client> {
        let jwk = cert.public_jwk()?;
        Some(Client {
            client_id: client_id.into(),
            kids: vec![
                jwk.thumbprint(),
                cert.spki_s256(),
                cert.hex_sha1(),
                cert.x5t(),
                cert.x5t_s256(),
            ],
            jwk,
            x5t: Some(cert.x5t()),
            x5t_s256: Some(cert.x5t_s256()),
        })
    }
}

impl IssuerConfig {
    /// The rules of a provider, from its template: the audience form, accepted algorithms,
    /// longest lifetime, how the key is named, single-use `jti`, and the answer's shape.
    /// `vars` are the template variables (as `Template::check_vars` returns them).
    pub fn for_template(
        t: &crate::template::Template,
        vars: &std::collections::BTreeMap<String, String>,
        clients: Vec<Client>,
    ) -> IssuerConfig {
        use crate::grant::Grant;
        let grant = t.grant.parse::<Grant>().unwrap_or(Grant::ClientCredentials);
        // An audience that follows the token URL is the issuer's own token URL (its default).
        let audience = t
            .audience
            .as_ref()
            .filter(|a| !a.contains("{token_url}"))
            .and_then(|a| t.render(a, vars).ok().flatten());
        let kid_none = t.kid_from.as_deref().map(|k| t.render(k, vars).ok().flatten()) == Some(Some("none".into()));
        IssuerConfig {
            clients,
            audience,
            algs: t.accepted_algs(),
            max_lifetime: t.max_lifetime.unwrap_or(600),
            single_use_jti: t.single_use_jti,
            allow_unnamed_key: kid_none && t.send.is_empty()
                || t.kid_from.is_none() && grant != Grant::ClientCredentials,
            require_x5t: kid_none && !t.send.is_empty(),
            user: t.subject.as_ref().and_then(|p| t.render(p, vars).ok().flatten()),
            expires_in: t.answer_has_expires_in.then_some(3599),
            shape: match grant {
                Grant::BearerHeader => AnswerShape::Jde,
                Grant::JsonBody => AnswerShape::Plain,
                _ => AnswerShape::OAuth,
            },
            mode: t.description_name(),
            opaque_tokens: !t.answer_has_expires_in,
            ..IssuerConfig::default()
        }
    }
}

/// What the issuer saw in one request (tests read it; it holds the assertion, so it is never printed).
#[derive(Clone)]
pub struct Recorded {
    /// Request path.
    pub path: String,
    /// Headers (lower-case names).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: String,
    /// The assertion's `jti`, when one was found.
    pub jti: Option<String>,
    /// Status answered.
    pub status: u16,
}

impl std::fmt::Debug for Recorded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorded")
            .field("path", &self.path)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

struct State {
    config: Mutex<IssuerConfig>,
    faults: Mutex<VecDeque<Fault>>,
    seen_jti: Mutex<HashSet<String>>,
    recorded: Mutex<Vec<Recorded>>,
    count: AtomicUsize,
    signer: Signer,
    token_url: String,
    base_url: String,
}

/// A running issuer; stops when dropped.
pub struct Issuer {
    state: Arc<State>,
    server: Arc<tiny_http::Server>,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer")
            .field("token_url", &self.state.token_url)
            .finish_non_exhaustive()
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

impl Issuer {
    /// Starts an issuer on a free port of 127.0.0.1.
    pub fn start(config: IssuerConfig) -> std::io::Result<Issuer> {
        Issuer::start_on("127.0.0.1:0", config)
    }

    /// Starts an issuer on the given address (loopback only).
    pub fn start_on(addr: &str, config: IssuerConfig) -> std::io::Result<Issuer> {
        let server = tiny_http::Server::http(addr).map_err(|e| std::io::Error::other(e.to_string()))?;
        let port = server.server_addr().to_ip().map(|a| a.port()).unwrap_or(0);
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let doc =
            aws_lc_rs::signature::Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| std::io::Error::other("keygen"))?;
        let key = SigningKey::from_pkcs8_der(doc.as_ref(), std::path::Path::new("<issuer>"))
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let bundle = KeyBundle {
            key,
            chain: vec![],
            service_account: None,
            source: PathBuf::from("<issuer>"),
        };
        let signer = Signer::new(bundle, Some(Alg::EdDSA), &Default::default())
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let base_url = format!("http://127.0.0.1:{port}");
        let state = Arc::new(State {
            config: Mutex::new(config),
            faults: Mutex::new(VecDeque::new()),
            seen_jti: Mutex::new(HashSet::new()),
            recorded: Mutex::new(vec![]),
            count: AtomicUsize::new(0),
            signer,
            token_url: format!("{base_url}/token"),
            base_url,
        });
        let server = Arc::new(server);
        let (srv, st) = (server.clone(), state.clone());
        std::thread::spawn(move || {
            for req in srv.incoming_requests() {
                let st = st.clone();
                std::thread::spawn(move || handle(&st, req));
            }
        });
        Ok(Issuer { state, server })
    }

    /// The token endpoint URL.
    pub fn token_url(&self) -> &str {
        &self.state.token_url
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> &str {
        &self.state.base_url
    }

    /// Token requests received so far.
    pub fn request_count(&self) -> usize {
        self.state.count.load(Ordering::SeqCst)
    }

    /// Requests received so far, in order.
    pub fn recorded(&self) -> Vec<Recorded> {
        self.state.recorded.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Queues faults, one per coming request.
    pub fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        if let Ok(mut q) = self.state.faults.lock() {
            q.extend(faults);
        }
    }

    /// Changes the rules.
    pub fn configure(&self, f: impl FnOnce(&mut IssuerConfig)) {
        if let Ok(mut c) = self.state.config.lock() {
            f(&mut c);
        }
    }

    /// The public JWK of the key that signs issued tokens.
    pub fn token_signing_jwk(&self) -> PublicJwk {
        self.state.signer.bundle().key.public_jwk()
    }
}

fn respond(
    req: tiny_http::Request,
    status: u16,
    body: String,
    content_type: &str,
    extra: &[(&str, String)],
    clock_offset: i64,
) {
    let mut resp = tiny_http::Response::from_string(body).with_status_code(status);
    let mut headers = vec![("Content-Type", content_type.to_string())];
    if clock_offset != 0 {
        headers.push(("Date", crate::clock::http_date(crate::clock::now() + clock_offset)));
    }
    headers.extend(extra.iter().cloned());
    for (k, v) in headers {
        if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
            resp.add_header(h);
        }
    }
    let _ = req.respond(resp);
}

fn oauth_error(code: &str, desc: impl Into<String>) -> (u16, Value) {
    let status = if code == "invalid_client" { 401 } else { 400 };
    (status, json!({"error": code, "error_description": desc.into()}))
}

fn handle(st: &State, mut req: tiny_http::Request) {
    let path = req.url().split('?').next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_ascii_lowercase(),
                h.value.as_str().to_string(),
            )
        })
        .collect();
    let mut body = String::new();
    let _ = req.as_reader().take(2 * 1024 * 1024).read_to_string(&mut body);
    let config = st.config.lock().map(|c| c.clone()).unwrap_or_default();
    // OpenID discovery under any prefix (an authority such as https://host/tenant), answered for
    // the public URL when the issuer sits behind a TLS terminator.
    if let Some(prefix) = path.strip_suffix("/.well-known/openid-configuration") {
        let base = config.public_url.clone().unwrap_or_else(|| st.base_url.clone());
        let doc = json!({
            "issuer": format!("{base}{prefix}"),
            "token_endpoint": format!("{base}/token"),
            // No interactive flows here; clients such as MSAL require the member to exist.
            "authorization_endpoint": format!("{base}/authorize"),
            "jwks_uri": format!("{base}/jwks"),
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        });
        return respond(req, 200, doc.to_string(), "application/json", &[], config.clock_offset);
    }
    if path == "/stats" {
        let v = json!({"token_requests": st.count.load(Ordering::SeqCst)});
        return respond(req, 200, v.to_string(), "application/json", &[], config.clock_offset);
    }
    if path == "/jwks" {
        let mut k = st.signer.bundle().key.public_jwk().to_json();
        if let Some(o) = k.as_object_mut() {
            o.insert("kid".into(), st.signer.kid().unwrap_or("").into());
            o.insert("alg".into(), "EdDSA".into());
            o.insert("use".into(), "sig".into());
        }
        return respond(
            req,
            200,
            json!({"keys": [k]}).to_string(),
            "application/json",
            &[],
            config.clock_offset,
        );
    }
    // Every POST is a token request, whatever its path: providers' paths differ (1E, JD Edwards).
    if req.method() != &tiny_http::Method::Post {
        return respond(
            req,
            404,
            r#"{"error":"not_found"}"#.into(),
            "application/json",
            &[],
            config.clock_offset,
        );
    }
    st.count.fetch_add(1, Ordering::SeqCst);
    let fault = st.faults.lock().ok().and_then(|mut q| q.pop_front());
    let mut record = Recorded {
        path: path.clone(),
        headers: headers.clone(),
        body: body.clone(),
        jti: None,
        status: 0,
    };
    let outcome = match &fault {
        Some(Fault::Delay(d)) => {
            std::thread::sleep(*d);
            None
        }
        Some(Fault::Status { status, .. }) => Some(*status),
        Some(Fault::Redirect(_)) => Some(307),
        Some(_) => Some(200),
        None => None,
    };
    // Even a faulted request's assertion is parsed, so tests can see each attempt's jti.
    let verdict = verify_and_issue(st, &config, &headers, &body);
    record.jti = verdict.1.clone();
    record.status = outcome.unwrap_or(verdict.0 .0);
    if let Ok(mut r) = st.recorded.lock() {
        r.push(record);
    }
    let off = config.clock_offset;
    match fault {
        Some(Fault::Status {
            status,
            body,
            content_type,
            retry_after,
        }) => {
            let extra: Vec<(&str, String)> = retry_after.map(|r| vec![("Retry-After", r)]).unwrap_or_default();
            respond(req, status, body, &content_type, &extra, off)
        }
        Some(Fault::Redirect(loc)) => respond(req, 307, String::new(), "text/plain", &[("Location", loc)], off),
        Some(Fault::Body(bytes)) => {
            let resp = tiny_http::Response::from_data(bytes).with_status_code(200);
            let _ = req.respond(resp);
        }
        Some(Fault::Trickle(pause)) => {
            let mut w = req.into_writer();
            let body = verdict.0 .1.to_string();
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            let _ = w.write_all(head.as_bytes());
            for b in body.bytes() {
                if w.write_all(&[b]).and_then(|_| w.flush()).is_err() {
                    break;
                }
                std::thread::sleep(pause);
            }
        }
        _ => {
            let ((status, answer), _) = verdict;
            match (status, config.shape) {
                (200, AnswerShape::Plain) => respond(
                    req,
                    200,
                    answer["access_token"].as_str().unwrap_or("").to_string(),
                    "text/plain",
                    &[],
                    off,
                ),
                _ => respond(req, status, answer.to_string(), "application/json", &[], off),
            }
        }
    }
}

type Verdict = ((u16, Value), Option<String>);

/// Thumbprints as clients send them: base64url, or (MSAL Python) standard base64 with padding.
fn normalize_b64(t: &str) -> String {
    t.trim_end_matches('=').replace('+', "-").replace('/', "_")
}

fn form(body: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(body.as_bytes()).into_owned().collect()
}

fn verify_and_issue(st: &State, cfg: &IssuerConfig, headers: &[(String, String)], body: &str) -> Verdict {
    let header = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    let ct = header("content-type").unwrap_or("");
    let auth = header("authorization");
    // Which grant is this?
    let (grant, assertion, fields) = if let Some(a) = auth.and_then(|a| a.strip_prefix("Bearer ")) {
        let fields: Map<String, Value> = serde_json::from_str(body).unwrap_or_default();
        (
            "bearer-header",
            a.to_string(),
            fields
                .into_iter()
                .map(|(k, v)| (k, v.as_str().map(String::from).unwrap_or(v.to_string())))
                .collect(),
        )
    } else if ct.starts_with("application/json") {
        match serde_json::from_str::<String>(body) {
            Ok(s) => ("json-body", s, vec![]),
            Err(_) => {
                return (
                    oauth_error("invalid_request", "the body is not a JSON string holding a JWT"),
                    None,
                )
            }
        }
    } else {
        let f = form(body);
        let get = |k: &str| f.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        match get("grant_type").as_deref() {
            Some("client_credentials") => {
                if get("client_assertion_type").as_deref() != Some(crate::grant::CLIENT_ASSERTION_TYPE) {
                    return (
                        oauth_error(
                            "invalid_client",
                            "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                        ),
                        None,
                    );
                }
                match get("client_assertion") {
                    Some(a) => ("client-credentials", a, f.clone()),
                    None => return (oauth_error("invalid_client", "no client_assertion"), None),
                }
            }
            Some(crate::grant::JWT_BEARER_GRANT) => match get("assertion") {
                Some(a) => ("jwt-bearer", a, f.clone()),
                None => return (oauth_error("invalid_request", "no assertion"), None),
            },
            Some(other) => {
                return (
                    oauth_error("unsupported_grant_type", format!("grant_type {other} is not supported")),
                    None,
                )
            }
            None => return (oauth_error("invalid_request", "no grant_type"), None),
        }
    };
    let decoded = match crate::inspect::dangerous::decode_unverified(&assertion) {
        Ok(d) => d,
        Err(_) => return (oauth_error("invalid_client", "the assertion is not a JWT"), None),
    };
    let jti = decoded.claims.get("jti").and_then(Value::as_str).map(String::from);
    match check(st, cfg, grant, &assertion, &decoded, &fields) {
        Ok(sub) => (issue(st, cfg, &sub, &fields), jti),
        Err((code, desc)) => (oauth_error(code, desc), jti),
    }
}

fn check(
    st: &State,
    cfg: &IssuerConfig,
    grant: &str,
    assertion: &str,
    d: &crate::inspect::Decoded,
    fields: &[(String, String)],
) -> Result<String, (&'static str, String)> {
    let bad = |code: &'static str, s: String| Err((code, s));
    let alg_name = d.header.get("alg").and_then(Value::as_str).unwrap_or("");
    let Ok(alg) = alg_name.parse::<Alg>() else {
        return bad("invalid_client", format!("alg '{alg_name}' is not accepted"));
    };
    if !cfg.algs.is_empty() && !cfg.algs.contains(&alg) {
        return bad(
            "invalid_client",
            format!("{} does not accept {alg} assertions", cfg.mode),
        );
    }
    let kid = d.header.get("kid").and_then(Value::as_str);
    let x5t = d.header.get("x5t").and_then(Value::as_str);
    let x5t256 = d.header.get("x5t#S256").and_then(Value::as_str);
    if cfg.require_x5t && x5t.is_none() && x5t256.is_none() {
        return bad(
            "invalid_client",
            "the assertion has neither x5t nor x5t#S256 to identify the certificate".into(),
        );
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
        return bad(
            "invalid_client",
            format!("key not found: {what} names no registered key"),
        );
    }
    let (msg, sig) = assertion.rsplit_once('.').unwrap_or((assertion, ""));
    let jalg = match alg {
        Alg::RS256 => jsonwebtoken::Algorithm::RS256,
        Alg::RS384 => jsonwebtoken::Algorithm::RS384,
        Alg::RS512 => jsonwebtoken::Algorithm::RS512,
        Alg::PS256 => jsonwebtoken::Algorithm::PS256,
        Alg::PS384 => jsonwebtoken::Algorithm::PS384,
        Alg::PS512 => jsonwebtoken::Algorithm::PS512,
        Alg::ES256 => jsonwebtoken::Algorithm::ES256,
        Alg::ES384 => jsonwebtoken::Algorithm::ES384,
        Alg::EdDSA => jsonwebtoken::Algorithm::EdDSA,
    };
    let client = candidates.into_iter().find(|c| {
        let key = match &c.jwk {
            PublicJwk::Rsa { n, e } => {
                jsonwebtoken::DecodingKey::from_rsa_components(&crate::b64::encode(n), &crate::b64::encode(e))
            }
            PublicJwk::Ec { x, y, .. } => {
                jsonwebtoken::DecodingKey::from_ec_components(&crate::b64::encode(x), &crate::b64::encode(y))
            }
            PublicJwk::Okp { x } => jsonwebtoken::DecodingKey::from_ed_components(&crate::b64::encode(x)),
        };
        key.ok()
            .and_then(|k| jsonwebtoken::crypto::verify(sig, msg.as_bytes(), &k, jalg).ok())
            .unwrap_or(false)
    });
    let Some(client) = client else {
        return bad(
            "invalid_client",
            "the assertion's signature does not verify with the registered key".into(),
        );
    };
    let now = crate::clock::now() + cfg.clock_offset;
    // NumericDate may be fractional (RFC 7519 §2; MSAL Python sends floats).
    let num = |k: &str| {
        d.claims
            .get(k)
            .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
    };
    let text = |k: &str| d.claims.get(k).and_then(Value::as_str);
    // RFC 7523 makes iat optional (MSAL omits it): the lifetime is then counted from nbf or now.
    let Some(exp) = num("exp") else {
        return bad("invalid_client", "the assertion needs exp".into());
    };
    let iat = num("iat").or(num("nbf")).unwrap_or(now);
    if exp <= now - cfg.leeway {
        return bad(
            "invalid_client",
            format!(
                "the assertion expired {} s ago (exp {exp}, server time {now})",
                now - exp
            ),
        );
    }
    if iat > now + cfg.leeway || num("nbf").is_some_and(|n| n > now + cfg.leeway) {
        return bad(
            "invalid_client",
            format!("the assertion is not yet valid: issued in the future (iat {iat}, server time {now})"),
        );
    }
    if exp - iat > cfg.max_lifetime as i64 {
        return bad(
            "invalid_client",
            format!(
                "the assertion lifetime {} s is longer than {} s",
                exp - iat,
                cfg.max_lifetime
            ),
        );
    }
    let token_url = st.token_url.clone();
    let want_aud = cfg.audience.clone().unwrap_or(token_url);
    let public_aud = cfg.public_url.as_ref().map(|u| format!("{u}/token"));
    let aud_ok = match d.claims.get("aud") {
        Some(Value::String(a)) => *a == want_aud || cfg.also_audiences.contains(a) || public_aud.as_ref() == Some(a),
        _ => false,
    };
    if !aud_ok {
        return bad("invalid_client", format!("aud must be the single value {want_aud}"));
    }
    let Some(jti) = text("jti") else {
        return bad("invalid_client", "the assertion has no jti".into());
    };
    if cfg.single_use_jti {
        let mut seen = st.seen_jti.lock().map_err(|_| ("server_error", "lock".to_string()))?;
        if !seen.insert(jti.to_string()) {
            return bad(
                "invalid_grant",
                "jti already used: an assertion can be used only once".into(),
            );
        }
    }
    let (iss, sub) = (text("iss"), text("sub"));
    match grant {
        "client-credentials" if cfg.federated.is_some() => {
            let (fi, fs) = cfg.federated.clone().unwrap_or_default();
            if iss != Some(fi.as_str()) || sub != Some(fs.as_str()) {
                return bad(
                    "invalid_client",
                    format!("the federated assertion must have iss {fi} and sub {fs}"),
                );
            }
            match fields.iter().find(|(k, _)| k == "client_id") {
                Some((_, c)) => Ok(c.clone()),
                None => bad("invalid_request", "a federated assertion needs client_id".into()),
            }
        }
        "client-credentials" => {
            if iss != Some(client.client_id.as_str()) || sub != Some(client.client_id.as_str()) {
                return bad(
                    "invalid_client",
                    format!(
                        "iss and sub must both be the client id of the key ({})",
                        client.client_id
                    ),
                );
            }
            let form_cid = fields.iter().find(|(k, _)| k == "client_id").map(|(_, v)| v.as_str());
            if form_cid.is_some_and(|c| c != client.client_id) {
                return bad("invalid_client", "client_id does not match the assertion".into());
            }
            Ok(client.client_id.clone())
        }
        "bearer-header" | "json-body" if cfg.user.is_some() => {
            let user = cfg.user.clone().unwrap_or_default();
            let principal = sub.or(text("prn")).or(text("upn"));
            if principal != Some(user.as_str()) {
                return bad("invalid_grant", format!("the principal (sub) must be the user {user}"));
            }
            Ok(user)
        }
        _ => {
            if iss != Some(client.client_id.as_str()) {
                return bad("invalid_grant", format!("iss must be {}", client.client_id));
            }
            if let Some(user) = &cfg.user {
                if sub != Some(user.as_str()) {
                    return bad("invalid_grant", format!("sub must be the user {user}"));
                }
            }
            Ok(sub.unwrap_or(&client.client_id).to_string())
        }
    }
}

fn issue(st: &State, cfg: &IssuerConfig, sub: &str, fields: &[(String, String)]) -> (u16, Value) {
    let now = crate::clock::now() + cfg.clock_offset;
    let life = cfg.expires_in.unwrap_or(1800) as i64;
    let scope = fields.iter().find(|(k, _)| k == "scope").map(|(_, v)| v.clone());
    let claims = json!({
        "iss": st.base_url, "sub": sub, "aud": "signet-test-api", "iat": now, "exp": now + life,
        "jti": uuid::Uuid::new_v4().to_string(), "scope": scope,
    });
    let token = if cfg.opaque_tokens {
        format!("00D{}!{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
    } else {
        let Ok(token) = st.signer.sign_payload(&claims.to_string()) else {
            return oauth_error("server_error", "signing failed");
        };
        token.expose().clone()
    };
    let mut answer = match cfg.shape {
        AnswerShape::Jde => {
            let get = |k: &str| {
                fields
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
        _ => {
            let mut a = json!({"access_token": token, "token_type": "Bearer"});
            if let Some(e) = cfg.expires_in {
                a["expires_in"] = e.into();
            }
            if let Some(s) = scope {
                a["scope"] = s.into();
            }
            a
        }
    };
    if let Some(o) = answer.as_object_mut() {
        for (k, v) in &cfg.extra {
            o.insert(k.clone(), v.clone());
        }
    }
    (200, answer)
}
