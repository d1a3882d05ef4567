//! Fault injection: a queued [`Fault`] replaces (or delays) the answer to one token request.

use super::answer::{Answer, AnswerFormat};
use super::respond;
use serde_json::Value;
use std::io::Write;
use std::time::Duration;

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

    /// The status this fault answers with in place of the issuer's answer; `None` for a delay,
    /// after which the issuer answers as usual.
    pub(super) fn status(&self) -> Option<u16> {
        match self {
            Fault::Status { status, .. } => Some(*status),
            Fault::Redirect(_) => Some(307),
            Fault::Trickle(_) | Fault::Body(_) => Some(200),
            Fault::Delay(_) => None,
        }
    }

    /// Answers in the fault's way. A trickle sends the issuer's own answer (`answer`), slowly;
    /// after a delay `answer` goes out as usual.
    pub(super) fn send(self, req: tiny_http::Request, answer: Answer, format: AnswerFormat, clock_offset: i64) {
        match self {
            Fault::Status {
                status,
                body,
                content_type,
                retry_after,
            } => {
                let extra: Vec<(&str, String)> = retry_after.map(|r| vec![("Retry-After", r)]).unwrap_or_default();
                respond(req, status, body, &content_type, &extra, clock_offset)
            }
            Fault::Redirect(loc) => respond(
                req,
                307,
                String::new(),
                "text/plain",
                &[("Location", loc)],
                clock_offset,
            ),
            Fault::Body(bytes) => {
                let _ = req.respond(tiny_http::Response::from_data(bytes).with_status_code(200));
            }
            Fault::Trickle(pause) => trickle(req, &answer.body.to_string(), pause),
            Fault::Delay(_) => answer.send(req, format, clock_offset),
        }
    }
}

/// Writes the response by hand, one flushed byte at a time, so a client's read timeout can trip
/// mid-body.
fn trickle(req: tiny_http::Request, body: &str, pause: Duration) {
    let mut w = req.into_writer();
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
