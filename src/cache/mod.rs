//! The token cache: one entry per identity, found by a hash of everything that changes which
//! token comes back ([`crate::TokenPlan::cache_key`]), never by a secret.
//!
//! Every store is a [`TokenStore`]: the local files ([`FileStore`]), Redis ([`RedisStore`], feature
//! `redis`), both as one ([`TieredStore`]), and [`MemoryStore`] for tests. The token flow
//! ([`crate::flow`]) sees only the trait, so a new backend is one file and one arm where
//! [`TieredStore`] is opened.

mod file;
mod memory;
#[cfg(feature = "redis")]
mod redis;
mod tiered;

pub use file::{default_dir, FileStore};
pub use memory::MemoryStore;
#[cfg(feature = "redis")]
pub use redis::{CacheKeyMaterial, RedisStore, RedisUrl, UNDECRYPTABLE};
pub use tiered::{CacheKeySource, SharedCache, TierOptions, TieredStore};

use crate::token::Token;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// A token with less than this many seconds left is refetched (the default of `--min-ttl`).
/// 60 s leaves room for a CI step to use the token after it is printed; gcp_auth and the Azure SDKs
/// refresh a few minutes early for long-running services, which a one-shot command does not need.
/// The value is `--min-ttl`'s default in the settings table.
pub const DEFAULT_MIN_TTL: u64 = crate::config::default_secs(crate::config::Key::MinTtl);

/// The on-disk format version.
pub const FORMAT_VERSION: u32 = 1;

/// Why the cache could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// An I/O error on a cache file or folder.
    #[error("cache {what} {path}: {reason}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The folder or entry is not safe to use.
    #[error("cache {path} is not trusted: {reason}")]
    Untrusted {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The lock could not be had within the time limit (the flow gives up: exit 5).
    #[error("waited {secs} s for the cache lock {path} held by another signet process (--timeout)")]
    LockTimeout {
        /// The lock file.
        path: PathBuf,
        /// The limit.
        secs: u64,
    },
    /// The cache is configured in a way that cannot work (a shared cache's key that cannot be
    /// read or parsed): an error of the settings, not a cache to go on without.
    #[error("{0}")]
    Config(String),
}

impl CacheError {
    /// What kind of failure it is: a lock timeout ends an exchange that could not complete
    /// (exit 5); anything else is a problem of the cache or its settings.
    pub fn category(&self) -> crate::category::Category {
        match self {
            CacheError::LockTimeout { .. } => crate::category::Category::Network,
            _ => crate::category::Category::Usage,
        }
    }
}

/// The hex SHA-256 of an identity: the entry's name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CacheKey(pub String);

impl CacheKey {
    /// The key for an identity string.
    ///
    /// ```
    /// let k = signet::cache::CacheKey::for_identity("x");
    /// assert_eq!(k.0.len(), 64);
    /// ```
    pub fn for_identity(identity: &str) -> CacheKey {
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, identity.as_bytes());
        CacheKey(d.as_ref().iter().map(|b| format!("{b:02x}")).collect())
    }
}

/// A cached token with what `cache list` shows about it.
#[derive(Clone, Serialize, Deserialize)]
pub struct Entry {
    /// Format version; another value is a miss.
    pub v: u32,
    /// The token.
    pub access_token: String,
    /// `token_type`.
    pub token_type: Option<String>,
    /// `scope` of the answer.
    pub scope: Option<String>,
    /// When it was received.
    pub obtained_at: i64,
    /// When it expires.
    pub expires_at: i64,
    /// The answer's other string fields.
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
    /// For `cache list`: the token URL.
    #[serde(default)]
    pub token_url: Option<String>,
    /// For `cache list`: the client id.
    #[serde(default)]
    pub client_id: Option<String>,
    /// For `cache list`: the scopes asked for.
    #[serde(default)]
    pub requested_scope: Option<String>,
    /// For `cache list`: the grant (entries written before it was kept have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<String>,
    /// For `cache list`: the assertion's audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// For `cache list`: the template's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// With DPoP: the RFC 7638 thumbprint of the key the token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
    /// With DPoP and no `--dpop-key`: the generated key itself (base64url PKCS#8), kept only
    /// here, in the entry that holds the token it is bound to (a 0600 file, or encrypted in Redis).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_key: Option<String>,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.access_token.zeroize();
        if let Some(k) = self.dpop_key.as_mut() {
            k.zeroize();
        }
    }
}

impl Entry {
    /// An entry for a token.
    pub fn new(
        token: &Token,
        token_url: Option<String>,
        client_id: Option<String>,
        requested_scope: Option<String>,
    ) -> Entry {
        Entry {
            v: FORMAT_VERSION,
            access_token: token.access_token.expose().clone(),
            token_type: token.token_type.clone(),
            scope: token.scope.clone(),
            obtained_at: token.obtained_at,
            expires_at: token.expires_at,
            extra: token.extra.clone(),
            token_url,
            client_id,
            requested_scope,
            grant: None,
            audience: None,
            template: None,
            dpop_jkt: None,
            dpop_key: None,
        }
    }

    /// What tells entries with the same token URL, client and scope apart in `cache list`: the
    /// grant, the template, and the audience where it is not the token URL. `-` for an entry
    /// written before these were kept.
    ///
    /// ```
    /// let t = signet::token::Token {
    ///     access_token: signet::Secret::new("t".into()), token_type: None, scope: None,
    ///     obtained_at: 0, expires_at: 1, extra: Default::default(),
    /// };
    /// let mut e = signet::cache::Entry::new(&t, Some("https://idp/token".into()), None, None);
    /// assert_eq!(e.details(), "-");
    /// e.grant = Some("jwt-bearer".into());
    /// e.audience = Some("https://idp/".into());
    /// e.template = Some("auth0".into());
    /// assert_eq!(e.details(), "jwt-bearer, template auth0, aud https://idp/");
    /// ```
    pub fn details(&self) -> String {
        let mut parts = vec![];
        parts.extend(self.grant.clone());
        parts.extend(self.template.as_ref().map(|t| format!("template {t}")));
        parts.extend(
            self.audience
                .as_ref()
                .filter(|a| Some(*a) != self.token_url.as_ref())
                .map(|a| format!("aud {a}")),
        );
        if parts.is_empty() {
            "-".into()
        } else {
            parts.join(", ")
        }
    }

    /// The token.
    pub fn token(&self) -> Token {
        Token {
            access_token: crate::Secret::new(self.access_token.clone()),
            token_type: self.token_type.clone(),
            scope: self.scope.clone(),
            obtained_at: self.obtained_at,
            expires_at: self.expires_at,
            extra: self.extra.clone(),
        }
    }

    /// Parses an entry; anything malformed, or of another version, is `None` (a miss).
    ///
    /// ```
    /// assert!(signet::cache::Entry::parse(br#"{"v":2,"access_token":"x"}"#).is_none());
    /// assert!(signet::cache::Entry::parse(b"{trunc").is_none());
    /// ```
    pub fn parse(bytes: &[u8]) -> Option<Entry> {
        let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
        if v.get("v")?.as_u64()? != FORMAT_VERSION as u64 {
            return None;
        }
        let e: Entry = serde_json::from_value(v).ok()?;
        if e.access_token.is_empty() {
            return None;
        }
        Some(e)
    }

    /// Whether at least `min_ttl` seconds are left at `now`.
    pub fn is_fresh(&self, now: i64, min_ttl: u64) -> bool {
        // Checked: an entry with expires_at = i64::MIN (or a min_ttl past i64::MAX) must not
        // wrap into "fresh".
        let Ok(min_ttl) = i64::try_from(min_ttl) else {
            return false;
        };
        self.expires_at.checked_sub(now).is_some_and(|left| left >= min_ttl)
    }

    /// Whether it has not yet expired.
    pub fn is_valid(&self, now: i64) -> bool {
        self.expires_at > now
    }
}

/// A held lock; released when dropped (and by the kernel if the process dies).
pub trait LockGuard: Send {}

/// A place to keep tokens. Send + Sync, so that one store can serve a long-running process's threads.
pub trait TokenStore: Send + Sync {
    /// The entry for `key`, if it exists and can be trusted.
    fn get(&self, key: &CacheKey) -> Result<Option<Entry>, CacheError>;
    /// Writes the entry for `key`, replacing any old one atomically.
    fn put(&self, key: &CacheKey, entry: &Entry) -> Result<(), CacheError>;
    /// Takes the exclusive lock for `key`, waiting at most `timeout`; `on_wait` is called once if
    /// the lock is busy.
    fn lock(
        &self,
        key: &CacheKey,
        timeout: Duration,
        on_wait: &mut dyn FnMut(),
    ) -> Result<Box<dyn LockGuard>, CacheError>;
    /// Every entry it holds that can be read (for `cache list`).
    fn entries(&self) -> Result<Vec<(CacheKey, Entry)>, CacheError>;
    /// Removes the entry for `key`; a missing one is not an error.
    fn remove(&self, key: &CacheKey) -> Result<(), CacheError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_expiring_at_i64_min_or_a_huge_min_ttl_never_wraps_into_fresh() {
        let t = Token {
            access_token: crate::secret::Secret::new("t".into()),
            token_type: None,
            scope: None,
            obtained_at: 0,
            expires_at: i64::MIN,
            extra: Default::default(),
        };
        let mut e = Entry::new(&t, None, None, None);
        assert!(!e.is_fresh(1_700_000_000, 60));
        assert!(!e.is_valid(1_700_000_000));
        e.expires_at = i64::MAX;
        assert!(e.is_fresh(1_700_000_000, 60));
        assert!(!e.is_fresh(1_700_000_000, 9_223_372_036_854_775_808));
    }
}
