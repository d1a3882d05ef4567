//! An embedded token endpoint on 127.0.0.1 that checks assertions strictly. `signet demo` and the
//! tests use it; users can point their own setups at it to test offline.
//!
//! It verifies the signature (with `jsonwebtoken`, an implementation independent of signet's
//! signer) by `kid`, `x5t` or `x5t#S256` against registered public keys; `aud`; the lifetime;
//! single-use `jti`; `iss`/`sub` rules per grant; then issues a signed JWT access token. It counts
//! requests and can be told to fail in given ways.
//!
//! The parts: this module serves HTTP; [`IssuerConfig`] and [`Client`] (`config.rs`) are the
//! rules and the trusted keys; `verify.rs` reads a token request through
//! [`Grant::parse_request`](crate::grant::Grant::parse_request) and checks its assertion;
//! `answer.rs` shapes what is sent back; [`Fault`] (`fault.rs`) replaces an answer with a failure.
//!
//! ```
//! use signet::issuer::{Issuer, IssuerConfig};
//! let issuer = Issuer::start(IssuerConfig::default())?;
//! assert!(issuer.token_url().starts_with("http://127.0.0.1:"));
//! assert_eq!(issuer.request_count(), 0);
//! # Ok::<(), std::io::Error>(())
//! ```

mod answer;
mod config;
mod dpop;
mod fault;
mod verify;

pub use answer::AnswerFormat;
pub use config::{Client, IssuerConfig};
pub use fault::Fault;

use crate::alg::Alg;
use crate::assertion::Signer;
use crate::key::{KeyBundle, PublicJwk, SigningKey};
use serde_json::{json, Value};
use std::collections::{HashSet, VecDeque};
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

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

/// What the serving threads share with the [`Issuer`] handle.
struct State {
    config: Mutex<IssuerConfig>,
    faults: Mutex<VecDeque<Fault>>,
    seen_jti: Mutex<HashSet<String>>,
    recorded: Mutex<Vec<Recorded>>,
    count: AtomicUsize,
    /// Signs the access tokens it issues.
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
        let base_url = format!("http://127.0.0.1:{port}");
        let state = Arc::new(State {
            config: Mutex::new(config),
            faults: Mutex::new(VecDeque::new()),
            seen_jti: Mutex::new(HashSet::new()),
            recorded: Mutex::new(vec![]),
            count: AtomicUsize::new(0),
            signer: token_signer()?,
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

/// A fresh Ed25519 key per issuer: issued tokens verify against its `/jwks` and nothing else.
fn token_signer() -> std::io::Result<Signer> {
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
    Signer::new(bundle, Some(Alg::EdDSA), &Default::default()).map_err(|e| std::io::Error::other(e.to_string()))
}

/// Writes an answer. With a clock offset the `Date` header shows the issuer's skewed clock, which
/// is how a client learns the skew.
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

/// A request as read off the connection, before anything is decided about it.
struct Incoming {
    path: String,
    /// Lower-case names.
    headers: Vec<(String, String)>,
    body: String,
}

impl Incoming {
    /// Reads the path (without query), the headers and at most 2 MiB of body.
    fn read(req: &mut tiny_http::Request) -> Incoming {
        let path = req.url().split('?').next().unwrap_or("").to_string();
        let headers = req
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
        Incoming { path, headers, body }
    }
}

/// One connection's request: metadata documents by path, every POST a token request, else 404.
fn handle(st: &State, mut req: tiny_http::Request) {
    let incoming = Incoming::read(&mut req);
    // A copy, so that `configure` during a slow (delayed, trickled) answer does not wait for it.
    let config = st.config.lock().map(|c| c.clone()).unwrap_or_default();
    let off = config.clock_offset;
    if let Some(doc) = metadata(st, &config, &incoming.path) {
        log_request(req.method(), &incoming.path, 200, "");
        return respond(req, 200, doc.to_string(), "application/json", &[], off);
    }
    // Every POST is a token request, whatever its path: providers' paths differ (1E, JD Edwards).
    if req.method() != &tiny_http::Method::Post {
        log_request(req.method(), &incoming.path, 404, "not found");
        return respond(
            req,
            404,
            r#"{"error":"not_found"}"#.into(),
            "application/json",
            &[],
            off,
        );
    }
    token_request(st, &config, req, incoming);
}

/// `signet issuer -v`: one line per request: method, path, status and why. Never a header value
/// or the body: the reasons are the issuer's own refusal texts (kid, aud, lifetime), which name
/// no assertion or token.
fn log_request(method: &tiny_http::Method, path: &str, status: u16, reason: &str) {
    tracing::debug!(
        "issuer: {method} {} -> {status}{}{}",
        crate::text::sanitize(path, 200),
        if reason.is_empty() { "" } else { " " },
        reason
    );
}

/// The documents served by GET: OpenID discovery, request statistics and the token-signing JWKS.
fn metadata(st: &State, config: &IssuerConfig, path: &str) -> Option<Value> {
    // OpenID discovery under any prefix (an authority such as https://host/tenant), answered for
    // the public URL when the issuer sits behind a TLS terminator.
    if let Some(prefix) = path.strip_suffix("/.well-known/openid-configuration") {
        let base = config.public_url.clone().unwrap_or_else(|| st.base_url.clone());
        return Some(json!({
            "issuer": format!("{base}{prefix}"),
            "token_endpoint": format!("{base}/token"),
            // No interactive flows here; clients such as MSAL require the member to exist.
            "authorization_endpoint": format!("{base}/authorize"),
            "jwks_uri": format!("{base}/jwks"),
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        }));
    }
    match path {
        "/stats" => Some(json!({"token_requests": st.count.load(Ordering::SeqCst)})),
        "/jwks" => {
            let mut k = st.signer.bundle().key.public_jwk().to_json();
            if let Some(o) = k.as_object_mut() {
                o.insert("kid".into(), st.signer.kid().unwrap_or("").into());
                o.insert("alg".into(), "EdDSA".into());
                o.insert("use".into(), "sig".into());
            }
            Some(json!({"keys": [k]}))
        }
        _ => None,
    }
}

/// A token request: counted, checked, recorded, then answered, or failed as the next fault says.
fn token_request(st: &State, config: &IssuerConfig, req: tiny_http::Request, incoming: Incoming) {
    st.count.fetch_add(1, Ordering::SeqCst);
    let fault = st.faults.lock().ok().and_then(|mut q| q.pop_front());
    if let Some(Fault::Delay(d)) = &fault {
        std::thread::sleep(*d);
    }
    // Even a faulted request's assertion is parsed, so tests can see each attempt's jti.
    let verdict = verify::verify_and_issue(st, config, &incoming.headers, &incoming.body);
    let fault_status = fault.as_ref().and_then(Fault::status);
    let path = incoming.path.clone();
    if let Ok(mut r) = st.recorded.lock() {
        r.push(Recorded {
            path: incoming.path,
            headers: incoming.headers,
            body: incoming.body,
            jti: verdict.jti,
            status: fault_status.unwrap_or(verdict.answer.status),
        });
    }
    let reason = match (&fault, fault_status) {
        (Some(_), Some(status)) => format!("a fault was asked for (HTTP {status})"),
        _ if verdict.answer.status == 200 => "token issued".to_string(),
        _ => {
            let field = |k: &str| verdict.answer.body.get(k).and_then(Value::as_str).unwrap_or("");
            format!("{}: {}", field("error"), field("error_description"))
        }
    };
    log_request(
        req.method(),
        &path,
        fault_status.unwrap_or(verdict.answer.status),
        &reason,
    );
    match fault {
        Some(f) => f.send(req, verdict.answer, config.answer_format, config.clock_offset),
        None => verdict.answer.send(req, config.answer_format, config.clock_offset),
    }
}
