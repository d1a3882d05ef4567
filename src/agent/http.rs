//! The HTTP side of the agent: hyper's HTTP/1.1 server with bounded headers, a header timeout and
//! a bounded number of connections; the checks every request passes (loopback `Host`, no
//! `Origin`, no body); routing to the protocols; JSON errors; the access log.

use super::{azure, gce, metrics, Protocol, Shared};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, HOST, ORIGIN, TRANSFER_ENCODING};
use hyper::{Method, Request, Response, StatusCode};
use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Semaphore};

/// Connections served at once; more wait in the listen backlog until one ends. Each costs a
/// task and a 16 KiB buffer at most, so the agent's memory stays bounded.
pub(super) const MAX_CONNECTIONS: usize = 512;
/// A client must send its whole request head within this; a slow or stalled one is cut off
/// (hyper closes the connection) without holding up the others.
pub(super) const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest request head read (hyper's minimum is 8 KiB); a longer one is refused.
const MAX_HEAD: usize = 16 * 1024;

/// An answer before it becomes an HTTP response: status, body, type, and the identity it was for
/// (for the access log).
pub(super) struct Answer {
    pub status: StatusCode,
    pub body: Vec<u8>,
    pub content_type: &'static str,
    pub identity: Option<String>,
    /// A token is in the body: never cached by anything between.
    pub no_store: bool,
}

impl Answer {
    /// A JSON answer.
    pub fn json(status: StatusCode, v: serde_json::Value) -> Answer {
        Answer {
            status,
            body: v.to_string().into_bytes(),
            content_type: "application/json",
            identity: None,
            no_store: false,
        }
    }

    /// A plain-text answer (the metadata server's `application/text`, Prometheus' text format).
    pub fn text(status: StatusCode, content_type: &'static str, body: String) -> Answer {
        Answer {
            status,
            body: body.into_bytes(),
            content_type,
            identity: None,
            no_store: false,
        }
    }

    /// A JSON error: `{"error": code, "error_description": text}`. `text` never holds a secret
    /// (library errors are written without them).
    pub fn error(status: StatusCode, code: &str, text: impl Into<String>) -> Answer {
        Answer::json(
            status,
            serde_json::json!({"error": code, "error_description": text.into()}),
        )
    }
}

/// Accepts connections until `stop` says so, at most [`MAX_CONNECTIONS`] at once.
pub(super) async fn accept_loop(listener: super::Listener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            _ = stop.changed() => return,
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => return,
        };
        match accepted {
            Ok(stream) => {
                let shared = shared.clone();
                let stop = stop.clone();
                tokio::spawn(async move {
                    match stream {
                        super::Stream::Tcp(s) => {
                            let _ = s.set_nodelay(true);
                            serve_connection(s, shared, stop).await
                        }
                        super::Stream::Unix(s) => serve_connection(s, shared, stop).await,
                    }
                    drop(permit);
                });
            }
            // Out of file descriptors and the like: wait a little rather than spin.
            Err(e) => {
                tracing::debug!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// One connection, kept alive between requests, ended gracefully when the agent stops.
async fn serve_connection<S>(stream: S, shared: Arc<Shared>, mut stop: watch::Receiver<bool>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(handle(req, &shared).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(MAX_HEAD)
        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!("connection ended: {e}");
            }
        }
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(2), conn).await;
        }
    }
}

/// A `Host` header naming a loopback name or address (with or without a port): anything else is
/// a page on another site reaching the agent through a DNS name that resolves to 127.0.0.1.
pub(super) fn loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((ip, port)) if port.is_empty() || port.starts_with(':') => ip,
            _ => return false,
        },
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether the request carries a body (a length other than 0, or chunks).
fn has_body(req: &Request<Incoming>) -> bool {
    req.headers().contains_key(TRANSFER_ENCODING)
        || req.headers().get(CONTENT_LENGTH).is_some_and(|v| v.as_bytes() != b"0")
}

async fn handle(req: Request<Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let answer = route(&req, shared).await;
    if shared.access_log {
        // The path without its query (a resource or scope is no secret, but the line stays short).
        tracing::info!(
            "{} {} {} identity={} {:.2} ms",
            req.method(),
            crate::text::sanitize(req.uri().path(), 200),
            answer.status.as_u16(),
            answer
                .identity
                .as_deref()
                .map_or("-".into(), |i| crate::text::sanitize(i, 200)),
            started.elapsed().as_secs_f64() * 1000.0
        );
    }
    let mut resp = Response::new(Full::new(Bytes::from(answer.body)));
    *resp.status_mut() = answer.status;
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(answer.content_type));
    if answer.no_store {
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if shared.protocols.contains(&Protocol::Gce) {
        // The metadata server marks every answer so; google-auth's detection checks it on `/`.
        h.insert("metadata-flavor", HeaderValue::from_static("Google"));
    }
    resp
}

async fn route(req: &Request<Incoming>, shared: &Shared) -> Answer {
    let host = req
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    if !host.is_some_and(loopback_host) {
        return Answer::error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the Host header must name a loopback address (127.0.0.1, [::1] or localhost)",
        );
    }
    if req.headers().contains_key(ORIGIN) {
        return Answer::error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "requests from a web page (with an Origin header) are refused",
        );
    }
    if req.method() != Method::GET {
        return Answer::error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "only GET is served",
        );
    }
    if has_body(req) {
        return Answer::error(StatusCode::BAD_REQUEST, "invalid_request", "a GET request has no body");
    }
    let path = req.uri().path();
    let query = req.uri().query().unwrap_or("");
    match path {
        "/healthz" => return Answer::text(StatusCode::OK, "text/plain", "ok".into()),
        "/metrics" => return metrics::answer(req, shared),
        _ => {}
    }
    if shared.protocols.contains(&Protocol::Azure) && path == super::AZURE_PATH {
        return azure::token(req, query, shared).await;
    }
    if shared.protocols.contains(&Protocol::Gce) && (path == "/" || path.starts_with("/computeMetadata/")) {
        return gce::answer(req, path, query, shared).await;
    }
    Answer::error(StatusCode::NOT_FOUND, "not_found", "no such path on this agent")
}

/// The query's parameters, decoded.
pub(super) fn params(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}

/// The answer for a flow that served no token.
pub(super) fn refusal(r: super::tokens::Refusal) -> Answer {
    match r {
        super::tokens::Refusal::Full => Answer::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_identities",
            format!(
                "this agent already serves {} sets of scopes",
                super::tokens::MAX_IDENTITIES
            ),
        ),
        super::tokens::Refusal::Failed(e) => {
            Answer::error(StatusCode::BAD_GATEWAY, "token_request_failed", e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::loopback_host;

    #[test]
    fn hosts() {
        for ok in [
            "127.0.0.1",
            "127.0.0.1:8080",
            "localhost",
            "LOCALHOST:1",
            "[::1]:9",
            "[::1]",
            "127.1.2.3:4",
        ] {
            assert!(loopback_host(ok), "{ok}");
        }
        for bad in [
            "example.com",
            "evil.localhost",
            "10.0.0.1:80",
            "[::1]x",
            "",
            "0.0.0.0:1",
            "attacker.example:127",
        ] {
            assert!(!loopback_host(bad), "{bad}");
        }
    }
}
