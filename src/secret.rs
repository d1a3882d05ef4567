//! Wrappers that keep secrets out of logs, errors and `Debug` output.
//!
//! A [`Secret`] has no `Display`, a redacted `Debug`, and zeroizes its value when dropped.
//! Code that must read the value calls [`Secret::expose`], which makes every read easy to find.

use std::fmt;
use zeroize::{Zeroize, Zeroizing};

/// Bytes that are wiped from memory when dropped (key files, decrypted DER, passphrases).
pub type SecretBytes = Zeroizing<Vec<u8>>;

/// A value that must never be printed: a passphrase, an assertion, an access token.
///
/// ```
/// use signet::Secret;
/// let token = Secret::new(String::from("eyJhbGciOi..."));
/// assert_eq!(format!("{token:?}"), "Secret([redacted])");
/// assert_eq!(token.expose(), "eyJhbGciOi...");
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret<T: Zeroize>(Zeroizing<T>);

impl<T: Zeroize> Secret<T> {
    /// Wraps a value.
    pub fn new(value: T) -> Self {
        Secret(Zeroizing::new(value))
    }

    /// Reads the secret value. Every call site is a place where the secret can escape: keep them few.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Transforms the secret without unwrapping it.
    pub fn map<U: Zeroize>(&self, f: impl FnOnce(&T) -> U) -> Secret<U> {
        Secret::new(f(&self.0))
    }
}

impl<T: Zeroize> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl From<String> for Secret<String> {
    fn from(s: String) -> Self {
        Secret::new(s)
    }
}

/// Shortens a secret for display in the demo: the first and last few characters only.
///
/// ```
/// assert_eq!(signet::secret::shorten("eyJhbGciOiJSUzI1NiJ9.payload.signature"), "eyJhbGci…ture (38 chars)");
/// ```
pub fn shorten(s: &str) -> String {
    let n = s.chars().count();
    if n <= 16 {
        return format!("[{n} chars]");
    }
    let head: String = s.chars().take(8).collect();
    let tail: String = s.chars().skip(n - 4).collect();
    format!("{head}…{tail} ({n} chars)")
}
