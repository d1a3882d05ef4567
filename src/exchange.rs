//! Sending a token request: HTTPS only (loopback excepted), no redirects, a size limit, retries
//! with backoff for what is worth retrying, a fresh assertion on every attempt, and one clock-skew
//! correction when the endpoint says the assertion's times are wrong.

use crate::grant::TokenRequest;
use crate::token::{self, OAuthError, ParseFailure, ResponseShape, Token};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Why an exchange failed. Messages name the URL; none holds an assertion, token or body.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeError {
    /// The token URL is not https and not loopback.
    #[error("refusing to send a client assertion over plain http to {url}: use https (plain http is allowed only for loopback hosts)")]
    Insecure {
        /// The URL.
        url: String,
    },
    /// The token URL does not parse.
    #[error("invalid token URL '{url}': {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// Why.
        reason: String,
    },
    /// The CA file could not be used.
    #[error("cannot use CA file {path}: {reason}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The endpoint answered and refused (OAuth error or a 4xx).
    #[error("token request refused at {url}: {}", refusal_text(.status, .oauth, .excerpt))]
    Refused {
        /// The URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// The OAuth error, when the body had one.
        oauth: Option<OAuthError>,
        /// A short sanitised excerpt of a non-OAuth body.
        excerpt: Option<String>,
        /// Local clock minus the server's `Date`, when measured.
        clock_offset: Option<i64>,
        /// A hint for the user, filled by whoever knows the provider.
        hint: Option<String>,
    },
    /// 408/429/5xx, after retries.
    #[error("token endpoint failed at {url}: HTTP {status}{} after {attempts} attempt{}", reason_suffix(*.status), crate::text::plural(*.attempts))]
    Server {
        /// The URL.
        url: String,
        /// Last HTTP status.
        status: u16,
        /// Attempts made.
        attempts: u32,
    },
    /// Connection-level failure, after retries.
    #[error("cannot reach {url}: {reason} (after {attempts} attempt{})", crate::text::plural(*.attempts))]
    Network {
        /// The URL.
        url: String,
        /// Why, in words.
        reason: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The TLS handshake failed (usually an untrusted certificate).
    #[error("TLS handshake with {url} failed: {reason}")]
    Tls {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The whole exchange took longer than `--timeout`.
    #[error("token request to {url} timed out after {secs} s (--timeout; {attempts} attempt{})", crate::text::plural(*.attempts))]
    Timeout {
        /// The URL.
        url: String,
        /// The limit.
        secs: u64,
        /// Requests sent before the time was up (the last one unanswered).
        attempts: u32,
    },
    /// The endpoint answered with a redirect, which signet does not follow for a POST.
    #[error("token endpoint {url} answered HTTP {status} redirecting to {location}: signet does not follow redirects; use the final URL as --token-url")]
    Redirect {
        /// The URL.
        url: String,
        /// Status.
        status: u16,
        /// Where it pointed (sanitised).
        location: String,
    },
    /// A DPoP nonce round that cannot go on: the server asked again for a nonce after the one it
    /// gave was sent, or gave none signet may send back.
    #[error("token request refused at {url}: {reason}")]
    DpopNonce {
        /// The URL.
        url: String,
        /// What the server did, in words (a nonce it gave is named, sanitised).
        reason: String,
    },
    /// The token endpoint wants a TLS client certificate that signet did not present, or refused
    /// the one it did (`--mtls`).
    #[error("TLS handshake with {url} failed: {}", if *.presented {
        "the token endpoint refused the TLS client certificate (--mtls): check that it is the certificate registered for the client, signed by a CA the endpoint trusts"
    } else {
        "the token endpoint asks for a TLS client certificate and signet presented none: give --mtls (the --key and --cert become the client certificate)"
    })]
    ClientCertificate {
        /// The URL.
        url: String,
        /// Whether a client certificate was presented.
        presented: bool,
    },
    /// The answer is not HTTP a client can read (a header over the client's limit, a malformed
    /// header or status line, another protocol): not retried, since the server will answer so
    /// again.
    #[error("the answer from {url} is not valid HTTP: {reason} (is this {endpoint}?)")]
    NotHttp {
        /// The URL.
        url: String,
        /// What was wrong, in words.
        reason: String,
        /// What the URL should have been, and where it came from.
        endpoint: &'static str,
    },
    /// A 2xx answer that is not understood.
    #[error("token endpoint {url} answered HTTP {status} but {reason}")]
    BadResponse {
        /// The URL.
        url: String,
        /// Status.
        status: u16,
        /// What was wrong, with at most a short sanitised excerpt.
        reason: String,
    },
}

fn reason_suffix(status: u16) -> String {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map(|r| format!(" {r}"))
        .unwrap_or_default()
}

fn refusal_text(status: &u16, oauth: &Option<OAuthError>, excerpt: &Option<String>) -> String {
    match (oauth, excerpt) {
        (Some(o), _) => o.to_string(),
        (None, Some(e)) => format!("HTTP {status}{}: {e}", reason_suffix(*status)),
        (None, None) => format!("HTTP {status}{} with no error details", reason_suffix(*status)),
    }
}

impl ExchangeError {
    /// The failure's kind.
    pub fn category(&self) -> crate::category::Category {
        use crate::category::Category::*;
        match self {
            ExchangeError::Insecure { .. } | ExchangeError::BadUrl { .. } | ExchangeError::CaFile { .. } => Usage,
            ExchangeError::Refused { .. } | ExchangeError::DpopNonce { .. } => Refused,
            _ => Network,
        }
    }

    /// A hint line, when there is one.
    pub fn hint(&self) -> Option<&str> {
        match self {
            ExchangeError::Refused { hint, .. } => hint.as_deref(),
            ExchangeError::Tls { .. } => {
                Some("if the endpoint uses a private CA, give its certificate with --ca-file PATH (PEM)")
            }
            ExchangeError::Timeout { .. } => Some("raise --timeout (or SIGNET_TIMEOUT) if the endpoint is slow"),
            _ => None,
        }
    }

    /// Whether the endpoint said it does not know the key that signed (Entra AADSTS700027,
    /// Keycloak "PublicKey wasn't found", an unknown kid): the refusal that key rotation retries.
    pub fn is_unknown_key(&self) -> bool {
        let ExchangeError::Refused { oauth: Some(o), .. } = self else {
            return false;
        };
        let d = o.description.as_deref().unwrap_or("").to_ascii_lowercase();
        o.error == "invalid_client"
            && [
                "aadsts700027",
                "publickey wasn't found",
                "key not found",
                "not registered",
                "unknown kid",
                "no key",
                "kid",
            ]
            .iter()
            .any(|k| d.contains(k))
    }
}

/// Checks a token URL: it must parse, and be https unless the host is loopback.
///
/// ```
/// use signet::exchange::check_url;
/// assert!(check_url("http://127.0.0.1:8080/token").is_ok());
/// assert!(check_url("http://idp.example/token").is_err());
/// ```
pub fn check_url(url: &str) -> Result<reqwest::Url, ExchangeError> {
    if let Some(reason) = missing_scheme(url) {
        return Err(ExchangeError::BadUrl {
            url: url.into(),
            reason,
        });
    }
    let u = reqwest::Url::parse(url).map_err(|e| ExchangeError::BadUrl {
        url: url.into(),
        reason: e.to_string(),
    })?;
    match u.scheme() {
        "https" => {}
        "http" if is_loopback(&u) => {}
        "http" => return Err(ExchangeError::Insecure { url: url.into() }),
        s => {
            return Err(ExchangeError::BadUrl {
                url: url.into(),
                reason: format!("scheme '{s}' is not http(s)"),
            })
        }
    }
    if u.host().is_none() {
        return Err(ExchangeError::BadUrl {
            url: url.into(),
            reason: "no host".into(),
        });
    }
    Ok(u)
}

/// `127.0.0.1:18101/token` or `idp.example.com/token`: a host (and port) with no scheme in
/// front. The URL parser calls the first "a relative URL without a base" and takes the
/// `localhost` of `localhost:8080/token` for a scheme, neither of which says what to add.
pub(crate) fn missing_scheme(url: &str) -> Option<String> {
    if url.contains("://") {
        return None;
    }
    let authority = url.split(['/', '?', '#']).next().unwrap_or_default();
    let host_like = if authority.starts_with('[') {
        authority.contains(']')
    } else {
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        // A dot, a port or `localhost` tells a host from a misspelt scheme (`https//x`).
        let named = host.contains('.') || port.is_some() || host.eq_ignore_ascii_case("localhost");
        named
            && !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
            && port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    };
    if !host_like {
        return None;
    }
    let loopback = reqwest::Url::parse(&format!("http://{url}")).is_ok_and(|u| is_loopback(&u));
    Some(if loopback {
        format!(
            "the scheme is missing: write http://{url} (plain http is allowed for a loopback host) or https://{url}"
        )
    } else {
        format!("the scheme is missing: write https://{url}")
    })
}

/// Whether the URL's host is 127.0.0.0/8, ::1, or `localhost` itself resolving to loopback
/// addresses only. Any other name (`anything.localhost` included) could resolve, through
/// /etc/hosts or DNS, to any address: it is not taken for loopback by its name.
pub fn is_loopback(u: &reqwest::Url) -> bool {
    match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost") && localhost_is_loopback(),

        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Whether every address `localhost` resolves to is a loopback one (and it resolves at all).
fn localhost_is_loopback() -> bool {
    use std::net::ToSocketAddrs;
    match ("localhost", 0).to_socket_addrs() {
        Ok(addrs) => {
            let addrs: Vec<_> = addrs.collect();
            !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback())
        }
        Err(_) => false,
    }
}

/// Settings of one exchange.
#[derive(Clone, Debug)]
pub struct ExchangeOptions {
    /// The token endpoint.
    pub url: String,
    /// Whole-exchange limit, retries included.
    pub timeout: Duration,
    /// Extra trusted CAs (PEM).
    pub ca_file: Option<PathBuf>,
    /// How to read the answer.
    pub shape: ResponseShape,
    /// Retries after a failure worth retrying (connection failure, timeout, 408, 429, 5xx):
    /// at most `retries + 1` requests, all within `timeout`.
    pub retries: u32,
    /// DPoP: answer one `use_dpop_nonce` with the server's `DPoP-Nonce`, and check that the
    /// answer's `token_type` is `DPoP`. The request builder signs the proofs.
    pub dpop: bool,
    /// mTLS: the TLS client certificate (and key) presented to the token endpoint.
    pub client_identity: Option<reqwest::Identity>,
}

/// What one attempt's request is built for: the clock-skew correction to sign with and the DPoP
/// nonce the server asked for, if any.
#[derive(Clone, Debug, Default)]
pub struct Attempt {
    /// Seconds to add to the local clock for this attempt's times.
    pub skew: i64,
    /// The server's `DPoP-Nonce`, once it asked for one (`use_dpop_nonce`).
    pub dpop_nonce: Option<String>,
}

/// `--retries`' default, from the settings table: 3 retries, at most 4 requests. Enough to ride
/// out a restart or a brief overload (0.5 + 1 + 2 s of backoff), and few enough that a batch job
/// whose endpoint is down learns it in seconds rather than after `--timeout`.
pub const DEFAULT_RETRIES: u32 = crate::config::default_secs(crate::config::Key::Retries) as u32;

/// Something that happened during an exchange, for `-v` logs and the demo.
#[derive(Debug, Clone)]
pub enum Event {
    /// A request is about to be sent.
    Sending {
        /// 1-based attempt.
        attempt: u32,
    },
    /// A response arrived.
    Status {
        /// HTTP status.
        status: u16,
        /// Time from sending to the full body.
        elapsed: Duration,
        /// Body length.
        bytes: usize,
    },
    /// A retry is scheduled.
    Retry {
        /// Why.
        reason: String,
        /// How long until it.
        after: Duration,
    },
}

/// The result of a successful exchange.
#[derive(Debug)]
pub struct Outcome {
    /// The token.
    pub token: Token,
    /// Requests sent.
    pub attempts: u32,
    /// Warnings for the user (a clock-skew correction).
    pub warnings: Vec<String>,
}

/// Longest single backoff pause without a `Retry-After` (reached only with `--retries` above 4).
const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// First backoff pause, doubled for each retry (the contract's "from 0.5 s").
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// Clock offsets up to this many seconds are normal and not corrected.
pub const SKEW_TOLERANCE: i64 = 5;
/// Clock offsets beyond this many seconds (15 minutes) are not corrected: one answer's `Date`
/// must not make signet sign an assertion dated years away. The refusal then names the offset.
pub const MAX_SKEW_CORRECTION: i64 = 15 * 60;

fn retriable(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// Whether a request to `url` may go through a proxy from the environment (`HTTPS_PROXY`,
/// `ALL_PROXY`, …): only https to a host that is not loopback. A loopback destination is reached
/// directly, and a plain-http request (which carries the assertion in clear) never leaves the host.
fn may_use_proxy(url: &str) -> bool {
    reqwest::Url::parse(url).is_ok_and(|u| u.scheme() == "https" && !is_loopback(&u))
}

/// Builds the HTTP client: rustls with the system's roots plus `--ca-file`, no redirects, signet's User-Agent.
pub fn client(opts: &ExchangeOptions) -> Result<reqwest::Client, ExchangeError> {
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(format!("signet/{}", crate::VERSION))
        .connect_timeout(opts.timeout.min(Duration::from_secs(10)));
    if !may_use_proxy(&opts.url) {
        b = b.no_proxy();
    }
    if let Some(id) = &opts.client_identity {
        b = b.identity(id.clone());
    }
    if let Some(path) = &opts.ca_file {
        let pem = crate::files::read(path, crate::files::FileKind::CaBundle).map_err(|e| ExchangeError::CaFile {
            path: path.clone(),
            reason: crate::text::io_reason(&e),
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|_| ExchangeError::CaFile {
            path: path.clone(),
            reason: "not a PEM certificate bundle".into(),
        })?;
        if certs.is_empty() {
            return Err(ExchangeError::CaFile {
                path: path.clone(),
                reason: "no certificate in the file".into(),
            });
        }
        b = b.tls_certs_merge(certs);
    }
    b.build().map_err(|e| ExchangeError::BadUrl {
        url: opts.url.clone(),
        reason: format!("HTTP client setup failed: {e}"),
    })
}

/// Why an exchange ended without a token: its own failure, or the failure of the caller's
/// request builder (signing), passed through as it is.
#[derive(Debug)]
pub enum Failed<E> {
    /// Sending or the answer.
    Exchange(ExchangeError),
    /// Building the request.
    Request(E),
}

impl<E> From<ExchangeError> for Failed<E> {
    fn from(e: ExchangeError) -> Self {
        Failed::Exchange(e)
    }
}

/// Runs an exchange on a single-threaded runtime. `make_request(skew)` signs a fresh assertion
/// (times shifted by `skew` seconds) and builds the request; it is called once per attempt.
pub fn exchange_blocking<E>(
    opts: &ExchangeOptions,
    make_request: &mut dyn FnMut(i64) -> Result<TokenRequest, E>,
    on_event: &mut dyn FnMut(&Event),
) -> Result<Outcome, Failed<E>> {
    exchange_blocking_with(opts, &mut |a: &Attempt| make_request(a.skew), on_event)
}

/// [`exchange_blocking`] with a request builder that sees the whole [`Attempt`] (the DPoP
/// nonce as well as the skew), for requests that carry a DPoP proof.
pub fn exchange_blocking_with<E>(
    opts: &ExchangeOptions,
    make_request: &mut dyn FnMut(&Attempt) -> Result<TokenRequest, E>,
    on_event: &mut dyn FnMut(&Event),
) -> Result<Outcome, Failed<E>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ExchangeError::Network {
            url: opts.url.clone(),
            reason: format!("runtime: {e}"),
            attempts: 0,
        })?;
    rt.block_on(exchange_with(opts, make_request, on_event))
}

/// The exchange itself; see [`exchange_blocking`].
pub async fn exchange<E>(
    opts: &ExchangeOptions,
    make_request: &mut dyn FnMut(i64) -> Result<TokenRequest, E>,
    on_event: &mut dyn FnMut(&Event),
) -> Result<Outcome, Failed<E>> {
    exchange_with(opts, &mut |a: &Attempt| make_request(a.skew), on_event).await
}

/// The exchange itself; see [`exchange_blocking_with`].
pub async fn exchange_with<E>(
    opts: &ExchangeOptions,
    make_request: &mut dyn FnMut(&Attempt) -> Result<TokenRequest, E>,
    on_event: &mut dyn FnMut(&Event),
) -> Result<Outcome, Failed<E>> {
    check_url(&opts.url)?;
    let client = client(opts)?;
    let deadline = Instant::now() + opts.timeout;
    // Counted inside the loop, read here too: a timeout says how many requests it cut short.
    let attempts = std::cell::Cell::new(0u32);
    match tokio::time::timeout_at(
        deadline.into(),
        run(opts, &client, deadline, &attempts, make_request, on_event),
    )
    .await
    {
        Ok(r) => r,
        Err(_) => Err(ExchangeError::Timeout {
            url: opts.url.clone(),
            secs: opts.timeout.as_secs(),
            attempts: attempts.get(),
        }
        .into()),
    }
}

struct Answer {
    status: u16,
    date: Option<i64>,
    retry_after: Option<Duration>,
    location: Option<String>,
    content_type: Option<String>,
    /// `DPoP-Nonce`, as bytes turned to text (a byte that is not ASCII shows as U+FFFD, which
    /// the nonce check then refuses).
    dpop_nonce: Option<String>,
    body: Vec<u8>,
    received_at: i64,
}

/// The attempts: a failure worth retrying (connection failure, timeout, 408, 429, 5xx) is tried
/// again up to `opts.retries` times, after a jittered pause that doubles from 0.5 s, or after the
/// server's `Retry-After`; a pause that would end past the deadline ends the exchange at once
/// with the last failure. What a retry cannot fix (an unresolvable name, TLS, another 4xx, a
/// redirect, an answer not understood) ends it after the attempt that saw it. The one re-signing
/// for a clock-skew correction is not a retry: it answers the server, not a failure.
async fn run<E>(
    opts: &ExchangeOptions,
    client: &reqwest::Client,
    deadline: Instant,
    attempt_count: &std::cell::Cell<u32>,
    make_request: &mut dyn FnMut(&Attempt) -> Result<TokenRequest, E>,
    on_event: &mut dyn FnMut(&Event),
) -> Result<Outcome, Failed<E>> {
    let url = opts.url.clone();
    // The DPoP nonce sent back, once the server asked for one; asked again after that, the
    // exchange ends (one extra round, as for the clock).
    let mut dpop_nonce: Option<String> = None;
    let mut attempts = 0u32;
    let mut retries_left = opts.retries;
    let mut skew = 0i64;
    let mut skew_corrected = false;
    let mut warnings = Vec::new();
    let mut backoff = FIRST_BACKOFF;
    let mut sent: Vec<String> = Vec::new();
    loop {
        attempts += 1;
        attempt_count.set(attempts);
        let req = make_request(&Attempt {
            skew,
            dpop_nonce: dpop_nonce.clone(),
        })
        .map_err(Failed::Request)?;
        // What this attempt sends that is secret, for redacting what the server says back.
        sent.extend(crate::text::jwt_runs(req.body.expose()));
        for (_, v) in &req.headers {
            sent.extend(crate::text::jwt_runs(v.expose()));
        }
        on_event(&Event::Sending { attempt: attempts });
        let started = Instant::now();
        let answer = send(client, &req).await;
        let (pause, last_err): (Duration, ExchangeError) = match answer {
            Err(SendError::Tls(reason)) => return Err(ExchangeError::Tls { url, reason }.into()),
            Err(SendError::ClientCertificate) => {
                return Err(ExchangeError::ClientCertificate {
                    url,
                    presented: opts.client_identity.is_some(),
                }
                .into())
            }
            Err(SendError::NotHttp(reason)) => {
                return Err(ExchangeError::NotHttp {
                    url,
                    reason,
                    endpoint: "the token endpoint's URL",
                }
                .into())
            }
            // A name that does not resolve now will not resolve in two seconds either.
            Err(SendError::Unresolved(reason)) => return Err(ExchangeError::Network { url, reason, attempts }.into()),
            Err(SendError::TooLarge(status)) => {
                return Err(ExchangeError::BadResponse {
                    url,
                    status,
                    reason: format!("the answer is larger than {} KiB", token::MAX_BODY / 1024),
                }
                .into())
            }
            Err(SendError::Network(reason)) => {
                let e = ExchangeError::Network {
                    url: url.clone(),
                    reason: reason.clone(),
                    attempts,
                };
                if retries_left == 0 {
                    return Err(e.into());
                }
                let p = jitter(backoff);
                on_event(&Event::Retry { reason, after: p });
                (p, e)
            }
            Ok(a) => {
                on_event(&Event::Status {
                    status: a.status,
                    elapsed: started.elapsed(),
                    bytes: a.body.len(),
                });
                let offset = a.date.map(|d| d - a.received_at);
                match a.status {
                    200..=299 => match token::parse_success(&a.body, &opts.shape, a.received_at) {
                        Ok(token) => {
                            if opts.dpop {
                                warnings.extend(dpop_token_type_warning(token.token_type.as_deref()));
                            }
                            return Ok(Outcome {
                                token,
                                attempts,
                                warnings,
                            });
                        }
                        Err(ParseFailure::OAuth(o)) => {
                            return Err(refused(&url, a.status, Some(o), None, offset, &sent).into());
                        }
                        Err(f) => return Err(bad_response(&url, &a, f).into()),
                    },
                    300..=399 => {
                        return Err(ExchangeError::Redirect {
                            url,
                            status: a.status,
                            location: a
                                .location
                                .as_deref()
                                .map(|l| crate::text::sanitize(l, 200))
                                .unwrap_or_else(|| "nowhere".into()),
                        }
                        .into())
                    }
                    s if retriable(s) => {
                        let last = ExchangeError::Server {
                            url: url.clone(),
                            status: s,
                            attempts,
                        };
                        if retries_left == 0 {
                            return Err(last.into());
                        }
                        let p = a.retry_after.unwrap_or_else(|| jitter(backoff));
                        on_event(&Event::Retry {
                            reason: format!("HTTP {s}"),
                            after: p,
                        });
                        (p, last)
                    }
                    s if (400..500).contains(&s) => {
                        let oauth = token::parse_oauth_error(&a.body);
                        if opts.dpop && oauth.as_ref().is_some_and(|o| o.error == "use_dpop_nonce") {
                            dpop_nonce = Some(next_dpop_nonce(&url, a.dpop_nonce.as_deref(), dpop_nonce.as_deref())?);
                            continue;
                        }
                        let time_problem = oauth.as_ref().is_some_and(is_time_error);
                        if let (true, Some(off), false) = (time_problem, offset, skew_corrected) {
                            if off.abs() > SKEW_TOLERANCE && off.abs() <= MAX_SKEW_CORRECTION {
                                skew_corrected = true;
                                skew = off;
                                warnings.push(format!(
                                    "the local clock is {} the token endpoint's by {} s; signed again with corrected times",
                                    if off > 0 { "behind" } else { "ahead of" },
                                    off.abs()
                                ));

                                continue;
                            }
                        }
                        let excerpt = if oauth.is_none() { excerpt(&a) } else { None };
                        return Err(refused(&url, s, oauth, excerpt, offset, &sent).into());
                    }
                    s => {
                        return Err(ExchangeError::Server {
                            url,
                            status: s,
                            attempts,
                        }
                        .into())
                    }
                }
            }
        };
        // A pause (a Retry-After too) that does not fit in what is left of --timeout is not
        // waited out only to time out: the last failure is the answer now.
        if Instant::now() + pause >= deadline {
            return Err(last_err.into());
        }
        tokio::time::sleep(pause).await;
        retries_left -= 1;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// The nonce to answer a `use_dpop_nonce` with: the server's `DPoP-Nonce`, when it gave one
/// that may be sent back and signet has not already answered once.
fn next_dpop_nonce(url: &str, given: Option<&str>, sent: Option<&str>) -> Result<String, ExchangeError> {
    let fail = |reason: String| ExchangeError::DpopNonce {
        url: url.into(),
        reason,
    };
    let Some(n) = given else {
        return Err(fail(
            "use_dpop_nonce: the token endpoint asked for a DPoP nonce but sent no DPoP-Nonce header".into(),
        ));
    };
    if !crate::dpop::is_valid_nonce(n) {
        return Err(fail(
            "use_dpop_nonce: the token endpoint's DPoP-Nonce has characters a nonce cannot have (control characters, spaces, quotes or non-ASCII), so it is not sent back".into(),
        ));
    }
    if let Some(sent) = sent {
        return Err(fail(format!(
            "use_dpop_nonce again: the token endpoint asked for a DPoP nonce after signet sent the nonce '{}' it gave (it now gives '{}'); its nonces may expire too fast, or it does not keep them",
            crate::text::sanitize(sent, 80),
            crate::text::sanitize(n, 80)
        )));
    }
    Ok(n.to_string())
}

/// A token endpoint asked for a DPoP-bound token that answers another `token_type` did not bind
/// it: the token works as a bearer token, which is what DPoP was asked for to prevent.
fn dpop_token_type_warning(token_type: Option<&str>) -> Option<String> {
    match token_type {
        Some(t) if t.eq_ignore_ascii_case("dpop") => None,
        Some(t) => Some(format!(
            "the token endpoint answered token_type {} to a DPoP request: the token is not bound to the DPoP key (is DPoP required for this client?)",
            crate::text::sanitize(t, 40)
        )),
        None => Some(
            "the token endpoint answered no token_type to a DPoP request: the token may not be bound to the DPoP key".into(),
        ),
    }
}

fn refused(
    url: &str,
    status: u16,
    oauth: Option<OAuthError>,
    excerpt: Option<String>,
    offset: Option<i64>,
    sent: &[String],
) -> ExchangeError {
    let redact = |t: String| crate::text::redact_secrets(&t, sent);
    let oauth = oauth.map(|o| OAuthError {
        error: redact(o.error),
        description: o.description.map(redact),
        uri: o.uri.map(redact),
    });
    ExchangeError::Refused {
        url: url.into(),
        status,
        oauth,
        excerpt: excerpt.map(redact),
        clock_offset: offset,
        hint: None,
    }
}

fn bad_response(url: &str, a: &Answer, f: ParseFailure) -> ExchangeError {
    let reason = match f {
        ParseFailure::NotJson => match body_shape(a) {
            Some(e) => format!(
                "the body is not JSON ({e}); if the endpoint answers with a plain-text token, use --token-path -"
            ),
            None => "the body is not JSON".into(),
        },
        ParseFailure::NoToken(p) => {
            format!("the answer has no token at {p} (set --token-path to the JSON pointer of the token)")
        }
        ParseFailure::BadLifetime(v) => format!("its expires_in '{v}' is not a number of seconds ≥ 0"),
        ParseFailure::BadPlainToken => "the plain-text answer is empty or not a token".into(),
        ParseFailure::BadTokenChars => {
            "the token has a character outside visible ASCII (0x21–0x7E: no space, CR, LF, NUL or ESC); it is not printed or cached".into()
        }
        ParseFailure::OAuth(o) => o.to_string(),
    };
    ExchangeError::BadResponse {
        url: url.into(),
        status: a.status,
        reason,
    }
}

/// The shape of a 2xx body that could not be used — its length, content type, the class of its
/// first bytes and where JSON parsing stopped — never its content: a 2xx body that is almost
/// JSON (a BOM, trailing text, `NaN`) still carries the token.
fn body_shape(a: &Answer) -> Option<String> {
    if a.body.is_empty() {
        return None;
    }
    let ct = a.content_type.as_deref().unwrap_or("unknown type");
    let body = &a.body[..];
    let start = if body.starts_with(b"\xef\xbb\xbf") {
        "a UTF-8 byte-order mark".to_string()
    } else {
        match body.iter().find(|b| !b.is_ascii_whitespace()) {
            None => "whitespace only".into(),
            Some(b) if b.is_ascii_alphabetic() => "a letter".into(),
            Some(b) if b.is_ascii_digit() => "a digit".into(),
            Some(b) if b.is_ascii_punctuation() => format!("'{}'", *b as char),
            Some(b) if b.is_ascii() => "a control character".into(),
            Some(_) => "a non-ASCII byte".into(),
        }
    };
    let utf8 = if std::str::from_utf8(body).is_ok() {
        ""
    } else {
        ", not valid UTF-8"
    };
    let position = match serde_json::from_slice::<serde_json::Value>(body) {
        Err(e) if e.line() > 0 => format!(", JSON error at line {} column {}", e.line(), e.column()),
        _ => String::new(),
    };
    Some(format!(
        "{} bytes of {}, starting with {start}{utf8}{position}",
        a.body.len(),
        crate::text::sanitize(ct, 60)
    ))
}

/// A short, sanitised excerpt of a body that is not an OAuth error, with its content type.
/// A JSON body is not excerpted (it could echo the assertion); its field names are shown instead.
fn excerpt(a: &Answer) -> Option<String> {
    if a.body.is_empty() {
        return None;
    }
    let ct = a.content_type.as_deref().unwrap_or("unknown type");
    if let Ok(serde_json::Value::Object(m)) = serde_json::from_slice::<serde_json::Value>(&a.body) {
        let keys: Vec<&str> = m.keys().map(String::as_str).take(8).collect();
        return Some(format!(
            "a JSON body with fields {}",
            crate::text::sanitize(&keys.join(", "), 120)
        ));
    }
    let text = String::from_utf8_lossy(&a.body);
    // Drop markup so an HTML error page shows its words.
    let mut plain = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                plain.push(' ');
            }
            c if !in_tag => plain.push(c),
            _ => {}
        }
    }
    let plain = crate::text::redact_jwts(&plain);
    Some(format!(
        "{} bytes of {}: \"{}\"",
        a.body.len(),
        crate::text::sanitize(ct, 60),
        crate::text::sanitize(&plain, 80)
    ))
}

fn is_time_error(o: &OAuthError) -> bool {
    let text = format!("{} {}", o.error, o.description.as_deref().unwrap_or("")).to_ascii_lowercase();
    [
        "expired",
        "not yet valid",
        "nbf",
        "iat",
        "future",
        "clock",
        "time",
        "aadsts700024",
        "too far in the past",
        "issued in the future",
    ]
    .iter()
    .any(|k| text.contains(k))
}

fn jitter(d: Duration) -> Duration {
    // Full jitter between half and all of the pause, so that many clients spread out.
    let ms = d.as_millis() as u64;
    Duration::from_millis(ms / 2 + fastrand::u64(0..=ms / 2))
}

enum SendError {
    /// Worth retrying: refused, reset, timed out, closed early.
    Network(String),
    /// The host name does not resolve: not worth retrying.
    Unresolved(String),
    Tls(String),
    /// The server asked for a TLS client certificate (none presented), or refused the one given.
    ClientCertificate,
    TooLarge(u16),
    /// The answer does not parse as HTTP: not worth retrying.
    NotHttp(String),
}

async fn send(client: &reqwest::Client, req: &TokenRequest) -> Result<Answer, SendError> {
    let mut rb = client.post(&req.url);
    for (k, v) in &req.headers {
        rb = rb.header(k.as_str(), v.expose().as_str());
    }
    rb = rb.body(req.body.expose().clone());
    let mut resp = rb.send().await.map_err(classify)?;
    let status = resp.status().as_u16();
    let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(String::from);
    let date = header("date").as_deref().and_then(crate::clock::parse_http_date);
    let retry_after = header("retry-after").and_then(|v| parse_retry_after(&v, crate::clock::now()));
    let location = header("location");
    let content_type = header("content-type");
    let dpop_nonce = resp
        .headers()
        .get("dpop-nonce")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    if resp.content_length().is_some_and(|l| l as usize > token::MAX_BODY) {
        return Err(SendError::TooLarge(status));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(classify)? {
        if body.len() + chunk.len() > token::MAX_BODY {
            return Err(SendError::TooLarge(status));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer {
        status,
        date,
        retry_after,
        location,
        content_type,
        dpop_nonce,
        body,
        received_at: crate::clock::now(),
    })
}

/// Asks the GitHub Actions OIDC endpoint for a token with `audience` (workload identity
/// federation). `url` is `ACTIONS_ID_TOKEN_REQUEST_URL`, `token` is `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
pub fn fetch_github_oidc(
    url: &str,
    token: &crate::Secret<String>,
    audience: &str,
    timeout: Duration,
    ca_file: Option<&std::path::Path>,
) -> Result<crate::Secret<String>, ExchangeError> {
    let mut u = check_url(url)?;
    u.query_pairs_mut().append_pair("audience", audience);
    let shown = {
        let mut s = u.clone();
        s.set_query(None);
        s.to_string()
    };
    let opts = ExchangeOptions {
        url: shown.clone(),
        timeout,
        ca_file: ca_file.map(Into::into),
        shape: Default::default(),
        // Asked once: see the request below.
        retries: 0,
        dpop: false,
        client_identity: None,
    };
    let client = client(&opts)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ExchangeError::Network {
            url: shown.clone(),
            reason: format!("runtime: {e}"),
            attempts: 0,
        })?;
    rt.block_on(async {
        let fut = async {
            let resp = client
                .get(u)
                .header("Authorization", format!("Bearer {}", token.expose()))
                .header("Accept", "application/json")
                .send()
                .await
                .map_err(|e| match classify(e) {
                    SendError::Tls(reason) => ExchangeError::Tls {
                        url: shown.clone(),
                        reason,
                    },
                    SendError::Network(reason) | SendError::Unresolved(reason) => ExchangeError::Network {
                        url: shown.clone(),
                        reason,
                        attempts: 1,
                    },
                    SendError::TooLarge(status) => ExchangeError::BadResponse {
                        url: shown.clone(),
                        status,
                        reason: "the answer is too large".into(),
                    },
                    SendError::ClientCertificate => ExchangeError::ClientCertificate {
                        url: shown.clone(),
                        presented: false,
                    },
                    SendError::NotHttp(reason) => ExchangeError::NotHttp {
                        url: shown.clone(),
                        reason,
                        endpoint: "GitHub's OIDC endpoint, from ACTIONS_ID_TOKEN_REQUEST_URL",
                    },
                })?;
            let status = resp.status().as_u16();
            // The same cap as the token endpoint's answer: a huge body is refused as it arrives.
            let too_large = || ExchangeError::BadResponse {
                url: shown.clone(),
                status,
                reason: format!("the answer is larger than {} KiB", token::MAX_BODY / 1024),
            };
            if resp.content_length().is_some_and(|l| l as usize > token::MAX_BODY) {
                return Err(too_large());
            }
            let mut resp = resp;
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(|_| ExchangeError::Network {
                url: shown.clone(),
                reason: "the answer could not be read".into(),
                attempts: 1,
            })? {
                if body.len() + chunk.len() > token::MAX_BODY {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            if !(200..300).contains(&status) {
                return Err(ExchangeError::Refused {
                    url: shown.clone(),
                    status,
                    oauth: token::parse_oauth_error(&body),
                    excerpt: None,
                    clock_offset: None,
                    hint: Some("the job needs `permissions: id-token: write`".into()),
                });
            }
            let v: serde_json::Value = serde_json::from_slice(&body).map_err(|_| ExchangeError::BadResponse {
                url: shown.clone(),
                status,
                reason: "the body is not JSON".into(),
            })?;
            v.get("value")
                .and_then(serde_json::Value::as_str)
                .map(|s| crate::Secret::new(s.to_string()))
                .ok_or_else(|| ExchangeError::BadResponse {
                    url: shown.clone(),
                    status,
                    reason: "the answer has no value".into(),
                })
        };
        match tokio::time::timeout(timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(ExchangeError::Timeout {
                url: shown.clone(),
                secs: timeout.as_secs(),
                attempts: 1,
            }),
        }
    })
}

/// Parses `Retry-After`: delta-seconds or an HTTP date.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(signet::exchange::parse_retry_after("3", 0), Some(Duration::from_secs(3)));
/// assert_eq!(signet::exchange::parse_retry_after("Thu, 01 Jan 1970 00:00:10 GMT", 4), Some(Duration::from_secs(6)));
/// ```
pub fn parse_retry_after(v: &str, now: i64) -> Option<Duration> {
    if let Ok(n) = v.trim().parse::<u64>() {
        return Some(Duration::from_secs(n));
    }
    let t = crate::clock::parse_http_date(v)?;
    Some(Duration::from_secs((t - now).max(0) as u64))
}

fn classify(e: reqwest::Error) -> SendError {
    let mut src: Option<&dyn std::error::Error> = Some(&e);
    while let Some(s) = src {
        if let Some(h) = s.downcast_ref::<hyper::Error>() {
            if h.is_parse_status() {
                return SendError::NotHttp("its status code does not parse".into());
            }
            if h.is_parse() {
                // hyper's own words: "message head is too large", "invalid HTTP header parsed"…
                return SendError::NotHttp(crate::text::sanitize(&h.to_string(), 80));
            }
        }
        src = s.source();
    }
    let mut chain = String::new();
    let mut src: Option<&dyn std::error::Error> = Some(&e);
    while let Some(s) = src {
        chain.push_str(&s.to_string());
        chain.push(' ');
        src = s.source();
    }
    tracing::debug!("transport error: {}", crate::text::sanitize(&chain, 300));
    let lower = chain.to_ascii_lowercase();
    // TLS 1.3's certificate_required alert (RFC 8446 §4.4.2.4), or the alerts a server sends
    // about the client certificate it was given; a TLS 1.2 server that needs one says
    // handshake_failure, which is not told apart from other handshake failures.
    if [
        "certificaterequired",
        "certificate required",
        "badcertificate",
        "bad certificate",
        "certificateunknown",
        "unknownca",
    ]
    .iter()
    .any(|k| lower.contains(k))
        && lower.contains("alert")
    {
        return SendError::ClientCertificate;
    }
    if lower.contains("certificate")
        || lower.contains("unknownissuer")
        || lower.contains("tls") && lower.contains("handshake")
    {
        let reason = if lower.contains("unknownissuer") || lower.contains("unknown issuer") {
            "the server's certificate is not signed by a trusted CA".to_string()
        } else {
            "the server's certificate was not accepted".to_string()
        };
        return SendError::Tls(reason);
    }
    if lower.contains("dns error")
        || lower.contains("failed to lookup address")
        || lower.contains("name or service")
        || lower.contains("name resolution")
    {
        return SendError::Unresolved("the host name could not be resolved".into());
    }
    // A body that does not decode as HTTP framing (a chunk size line that is not hex): hyper
    // reports it as an I/O error of kind InvalidInput or InvalidData. TLS failures, which can
    // be InvalidData too, are classified above.
    let mut src: Option<&dyn std::error::Error> = Some(&e);
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::InvalidInput
            ) {
                return SendError::NotHttp(crate::text::sanitize(&io.to_string(), 80));
            }
        }
        src = s.source();
    }
    let reason = if lower.contains("connection refused") {
        "connection refused".into()
    } else if lower.contains("reset") {
        "connection reset by the server".into()
    } else if e.is_timeout() {
        "the request timed out".into()
    } else if lower.contains("incomplete")
        || lower.contains("closed")
        || lower.contains("eof")
        || e.is_body()
        || e.is_decode()
    {
        "the connection closed before the answer was complete".into()
    } else {
        crate::text::sanitize(&chain, 160)
    };
    SendError::Network(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_under_localhost_is_not_loopback() {
        for u in [
            "http://anything.localhost/t",
            "http://evil.localhost:8080/t",
            "http://localhost.example.com/t",
        ] {
            assert!(matches!(check_url(u), Err(ExchangeError::Insecure { .. })), "{u}");
        }
        assert!(check_url("http://127.0.0.1/t").is_ok());
    }

    #[test]
    fn only_https_to_a_remote_host_may_use_a_proxy() {
        assert!(may_use_proxy("https://idp.example.com/token"));
        for u in [
            "http://127.0.0.1:8080/token",
            "https://127.0.0.1/token",
            "https://[::1]/token",
            "https://localhost/token",
            "http://idp.example.com/token",
        ] {
            assert!(!may_use_proxy(u), "{u}");
        }
    }

    #[test]
    fn jwts_in_server_text_are_redacted() {
        let s = crate::text::redact_jwts("bad assertion eyJhbGciOi.eyJzdWIi.c2ln here 'eyJa.b.c'");
        assert_eq!(s, "bad assertion [jwt] here '[jwt]'");
    }

    #[test]
    fn loopback_rules() {
        assert!(check_url("http://localhost:1/t").is_ok());
        assert!(check_url("http://[::1]:1/t").is_ok());
        assert!(check_url("http://127.1.2.3/t").is_ok());
        assert!(matches!(
            check_url("http://10.0.0.1/t"),
            Err(ExchangeError::Insecure { .. })
        ));
        assert!(matches!(check_url("ftp://x/t"), Err(ExchangeError::BadUrl { .. })));
        assert!(check_url("https://login.example/t").is_ok());
    }

    #[test]
    fn a_missing_scheme_is_named_with_the_fix() {
        let reason = |u: &str| match check_url(u) {
            Err(ExchangeError::BadUrl { reason, .. }) => reason,
            other => panic!("{u}: {other:?}"),
        };
        for (u, fix) in [
            ("127.0.0.1:18101/token", "write http://127.0.0.1:18101/token"),
            ("localhost:8080/token", "write http://localhost:8080/token"),
            ("[::1]:8080/t", "write http://[::1]:8080/t"),
            (
                "login.example.com/oauth2/token",
                "write https://login.example.com/oauth2/token",
            ),
        ] {
            let r = reason(u);
            assert!(r.starts_with("the scheme is missing: ") && r.contains(fix), "{u}: {r}");
        }
        assert!(!reason("login.example.com/t").contains("http://"));
        // Not a host without a scheme: the parser's own reason stands.
        for u in ["mailto:a@b", "file:/etc/x", "ftp://x/t", "https//x"] {
            assert!(!reason(u).contains("scheme is missing"), "{u}");
        }
    }
}
