//! Warnings the library gives back instead of printing: the caller decides where they go (the
//! binary writes `warning: …` lines; a service could log them).

use std::fmt;

/// What a warning is about, so that a caller can filter (the binary drops retry notices when
/// `-v` already logs each retry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WarningKind {
    /// The cache could not be used as asked; the token is fetched or kept without it.
    Cache,
    /// Another process or host is fetching the same token; this one waits for it.
    Waiting,
    /// The key file or certificate: permissions, an expiry close by, a kid rewritten.
    Key,
    /// The token endpoint is slow to answer and the request is retried.
    Retry,
    /// A refresh failed and a still-valid cached token is used.
    StaleToken,
    /// Of two keys, the second one worked.
    Rotation,
    /// Settings: a profile file readable by others, a template that asks for care.
    Settings,
    /// What the token endpoint answered (e.g. a token type other than expected).
    Answer,
}

/// One warning: its kind and the line to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// What it is about.
    pub kind: WarningKind,
    /// The text, one line, with no secret in it.
    pub message: String,
}

impl Warning {
    /// A warning of `kind`.
    pub fn new(kind: WarningKind, message: impl Into<String>) -> Warning {
        Warning {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Where warnings go: a callback shared by the flow and the stores it opens.
pub type WarningSink = std::sync::Arc<dyn Fn(&Warning) + Send + Sync>;
