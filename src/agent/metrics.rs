//! `/metrics` in the Prometheus text format (version 0.0.4).
//!
//! Four families written by hand: a crate (prometheus, prometheus-client) would bring a registry,
//! a derive macro and its own locking for what is a loop over the identities the agent already
//! keeps; the format's one subtlety, escaping label values, is [`label`].

use super::http::Answer;
use super::{Protocol, Shared};
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use std::fmt::Write;
use std::sync::atomic::Ordering;

/// A label value as the text format wants it: `\`, `"` and newlines escaped.
fn label(v: &str) -> String {
    v.replace('\\', r"\\").replace('"', "\\\"").replace('\n', r"\n")
}

/// Behind the secret when the agent has one (azure); behind `Metadata-Flavor: Google` when it
/// speaks only the metadata protocol, which has none.
pub(super) fn answer(req: &Request<Incoming>, shared: &Shared) -> Answer {
    if shared.protocols.contains(&Protocol::Azure) {
        if !shared.secret_ok(req, super::azure::SECRET_HEADER) {
            return Answer::error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "the X-IDENTITY-HEADER header is missing or wrong",
            );
        }
    } else if req.headers().get("metadata-flavor").map(|v| v.as_bytes()) != Some(b"Google") {
        return Answer::error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the Metadata-Flavor: Google header is missing",
        );
    }
    Answer::text(StatusCode::OK, "text/plain; version=0.0.4", render(shared))
}

fn render(shared: &Shared) -> String {
    let ids = shared.tokens.identities();
    let now = crate::clock::now();
    let mut out = String::new();
    let families: [(&str, &str, &str); 3] = [
        (
            "signet_agent_tokens_served_total",
            "counter",
            "Answers that carried a token",
        ),
        (
            "signet_agent_fetches_total",
            "counter",
            "Tokens fetched from the token endpoint",
        ),
        (
            "signet_agent_fetch_failures_total",
            "counter",
            "Fetches and refreshes that failed",
        ),
    ];
    for (i, (name, kind, help)) in families.iter().enumerate() {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for id in &ids {
            let v = match i {
                0 => id.served.load(Ordering::Relaxed),
                1 => id.fetches.load(Ordering::Relaxed),
                _ => id.failures.load(Ordering::Relaxed),
            };
            let _ = writeln!(out, "{name}{{identity=\"{}\"}} {v}", label(&id.label));
        }
    }
    let name = "signet_agent_token_expiry_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} Seconds until the token in memory expires\n# TYPE {name} gauge"
    );
    for id in &ids {
        if let Some(s) = id.expires_in(now) {
            let _ = writeln!(out, "{name}{{identity=\"{}\"}} {s}", label(&id.label));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn label_escaping() {
        assert_eq!(super::label("a\"b\\c\nd"), r#"a\"b\\c\nd"#);
    }
}
