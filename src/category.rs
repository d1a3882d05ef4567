//! The kinds of failure, in a module of their own below every layer: each layer's error says
//! which kind it is, [`crate::Error`] asks them, and the binary maps a kind to an exit code once.

/// What kind of failure an error is; the binary turns this into an exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    /// Bad flags or configuration (exit 2).
    Usage,
    /// The key or certificate cannot be used (exit 3).
    Key,
    /// The endpoint answered and refused (exit 4).
    Refused,
    /// The exchange could not complete (exit 5).
    Network,
}
