//! The shared cache on Redis: entries encrypted and authenticated (AES-256-GCM, the Redis key as
//! associated data), expiring on Redis when the token falls below min-ttl, and a lease so that a
//! cold fleet sends one token request.
//!
//! The lease (`SET lock:<id> <uuid> NX PX <ms>`, released by compare-and-delete) is an efficiency
//! lease, not a correctness fence: if a holder stalls past the lease, a second host may fetch too,
//! and two valid tokens for the same identity are harmless. Redlock would buy nothing here.

use super::{CacheError, CacheKey, Entry, LockGuard, TokenStore};
use crate::secret::Secret;
use aws_lc_rs::aead::{Aad, Nonce, RandomizedNonceKey, AES_256_GCM, NONCE_LEN};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The 32-byte key that encrypts shared entries.
pub struct CacheKeyMaterial(Secret<Vec<u8>>);

impl std::fmt::Debug for CacheKeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CacheKeyMaterial([redacted])")
    }
}

impl CacheKeyMaterial {
    /// Parses 64 hex digits or base64 (standard or URL-safe) of 32 bytes; one trailing newline is ignored.
    ///
    /// ```
    /// use signet::cache::CacheKeyMaterial;
    /// assert!(CacheKeyMaterial::parse(&"ab".repeat(32)).is_ok());
    /// assert!(CacheKeyMaterial::parse("too short").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<CacheKeyMaterial, String> {
        use base64::Engine;
        let t = text.strip_suffix('\n').unwrap_or(text);
        let t = t.strip_suffix('\r').unwrap_or(t).trim();
        let bytes = if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&t[2 * i..2 * i + 2], 16).unwrap_or(0))
                .collect()
        } else {
            let e = base64::engine::general_purpose::STANDARD
                .decode(t)
                .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(t))
                .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(t))
                .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(t));
            e.map_err(|_| "the cache key is neither 64 hex digits nor base64".to_string())?
        };
        if bytes.len() != 32 {
            return Err(format!("the cache key must be 32 bytes, not {}", bytes.len()));
        }
        Ok(CacheKeyMaterial(Secret::new(bytes)))
    }
}

/// Where a shared store lives, parsed from `--cache-url`.
#[derive(Clone)]
pub struct RedisUrl {
    url: String,
    shown: String,
    prefix: String,
}

impl std::fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl RedisUrl {
    /// Parses `redis://[user:password@]host:port/db[?prefix=P]` or `rediss://…`; the password may
    /// come from `password` (SIGNET_CACHE_PASSWORD) instead.
    pub fn parse(url: &str, password: Option<&str>) -> Result<RedisUrl, String> {
        let mut u = url::Url::parse(url).map_err(|e| format!("invalid cache URL: {e}"))?;
        if u.scheme() != "redis" && u.scheme() != "rediss" {
            return Err(format!(
                "cache URL scheme '{}' is not file:, redis: or rediss:",
                u.scheme()
            ));
        }
        let prefix = u
            .query_pairs()
            .find(|(k, _)| k == "prefix")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| "signet:".into());
        u.set_query(None);
        if let (Some(p), None) = (password, u.password()) {
            let _ = u.set_password(Some(p));
        }
        let mut shown = u.clone();
        if shown.password().is_some() {
            let _ = shown.set_password(Some("****"));
        }
        Ok(RedisUrl {
            url: u.to_string(),
            shown: shown.to_string(),
            prefix,
        })
    }

    /// The URL without the password, for messages and `cache path`.
    pub fn shown(&self) -> &str {
        &self.shown
    }
}

/// The Redis store.
pub struct RedisStore {
    conn: std::sync::Arc<std::sync::Mutex<redis::Connection>>,
    key: RandomizedNonceKey,
    prefix: String,
    shown: String,
    min_ttl: u64,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.shown)
            .finish_non_exhaustive()
    }
}

fn err(shown: &str, what: &'static str, e: impl std::fmt::Display) -> CacheError {
    // redis errors may echo the URL: show ours, without the password, and the kind of failure.
    let reason = crate::text::sanitize(&e.to_string(), 160);
    let reason = reason
        .split("redis://")
        .next()
        .unwrap_or(&reason)
        .trim_end_matches(['(', ' ', '-'])
        .to_string();
    CacheError::Io {
        what,
        path: PathBuf::from(shown),
        reason,
    }
}

impl RedisStore {
    /// Connects (within `timeout`) with TLS for `rediss://`, trusting `ca_file` besides the system's roots.
    pub fn connect(
        url: &RedisUrl,
        key: &CacheKeyMaterial,
        ca_file: Option<&Path>,
        timeout: Duration,
        min_ttl: u64,
    ) -> Result<RedisStore, CacheError> {
        let shown = url.shown.clone();
        let client = match ca_file.filter(|_| url.url.starts_with("rediss:")) {
            Some(ca) => {
                let pem =
                    crate::files::read(ca, crate::files::FileKind::CaBundle).map_err(|e| err(&shown, "CA file", e))?;
                redis::Client::build_with_tls(
                    url.url.as_str(),
                    redis::TlsCertificates {
                        client_tls: None,
                        root_cert: Some(pem),
                    },
                )
            }
            None => redis::Client::open(url.url.as_str()),
        }
        .map_err(|e| err(&shown, "URL", e))?;
        let conn = client
            .get_connection_with_timeout(timeout)
            .map_err(|e| err(&shown, "unreachable:", e))?;
        let _ = conn.set_read_timeout(Some(timeout));
        let _ = conn.set_write_timeout(Some(timeout));
        let aead = RandomizedNonceKey::new(&AES_256_GCM, key.0.expose()).map_err(|_| err(&shown, "key", "bad key"))?;
        let store = RedisStore {
            conn: std::sync::Arc::new(std::sync::Mutex::new(conn)),
            key: aead,
            prefix: url.prefix.clone(),
            shown,
            min_ttl,
        };
        // Fail early on auth errors, so that the caller can fall back with one warning.
        store.cmd::<String>(&mut redis::cmd("PING"))?;
        Ok(store)
    }

    fn cmd<T: redis::FromRedisValue>(&self, c: &mut redis::Cmd) -> Result<T, CacheError> {
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| err(&self.shown, "connection", "poisoned"))?;
        c.query(&mut *conn)
            .map_err(|e| err(&self.shown, "command failed at", e))
    }

    fn entry_key(&self, key: &CacheKey) -> String {
        format!("{}{}", self.prefix, key.0)
    }

    /// Encrypts an entry for `name`; the name is the associated data, so an entry copied to
    /// another identity does not decrypt.
    fn seal(&self, name: &str, plain: &[u8]) -> Result<Vec<u8>, CacheError> {
        let mut buf = plain.to_vec();
        let nonce = self
            .key
            .seal_in_place_append_tag(Aad::from(name.as_bytes()), &mut buf)
            .map_err(|_| err(&self.shown, "encrypt", "failed"))?;
        let mut out = b"s1".to_vec();
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&buf);
        Ok(out)
    }

    fn open(&self, name: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        let body = sealed.strip_prefix(b"s1")?;
        if body.len() < NONCE_LEN + 16 {
            return None;
        }
        let nonce = Nonce::try_assume_unique_for_key(&body[..NONCE_LEN]).ok()?;
        let mut buf = body[NONCE_LEN..].to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(name.as_bytes()), &mut buf)
            .ok()?;
        Some(plain.to_vec())
    }

    /// The URL without the password.
    pub fn shown(&self) -> &str {
        &self.shown
    }
}

/// Outcome of reading a shared entry that exists but cannot be used.
pub const UNDECRYPTABLE: &str = "a shared cache entry could not be decrypted: SIGNET_CACHE_KEY (or --cache-key-file) differs from the one that wrote it";

impl TokenStore for RedisStore {
    /// Every entry this key can read (for `cache list`).
    fn entries(&self) -> Result<Vec<(CacheKey, Entry)>, CacheError> {
        let names: Vec<String> = self.cmd(redis::cmd("KEYS").arg(format!("{}*", self.prefix)))?;
        let mut out = vec![];
        for n in names {
            let Some(hex) = n.strip_prefix(&self.prefix) else {
                continue;
            };
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                continue;
            }
            if let Ok(Some(e)) = self.get(&CacheKey(hex.to_string())) {
                out.push((CacheKey(hex.to_string()), e));
            }
        }
        Ok(out)
    }

    /// Removes an entry.
    fn remove(&self, key: &CacheKey) -> Result<(), CacheError> {
        self.cmd::<i64>(redis::cmd("DEL").arg(self.entry_key(key))).map(|_| ())
    }

    fn get(&self, key: &CacheKey) -> Result<Option<Entry>, CacheError> {
        let name = self.entry_key(key);
        let v: Option<Vec<u8>> = self.cmd(redis::cmd("GET").arg(&name))?;
        let Some(v) = v else { return Ok(None) };
        match self.open(&name, &v) {
            Some(plain) => Ok(Entry::parse(&plain)),
            None => Err(CacheError::Untrusted {
                path: PathBuf::from(&self.shown),
                reason: UNDECRYPTABLE.into(),
            }),
        }
    }

    fn put(&self, key: &CacheKey, entry: &Entry) -> Result<(), CacheError> {
        let name = self.entry_key(key);
        let plain = zeroize::Zeroizing::new(serde_json::to_vec(entry).unwrap_or_default());
        let sealed = self.seal(&name, &plain)?;
        // Redis drops the entry when the token falls below min-ttl: no stale token is ever served.
        let ttl_ms = ((entry.expires_at - crate::clock::now() - self.min_ttl as i64) * 1000).max(0);
        if ttl_ms == 0 {
            return Ok(());
        }
        self.cmd::<()>(redis::cmd("SET").arg(&name).arg(sealed).arg("PX").arg(ttl_ms))
    }

    fn lock(
        &self,
        key: &CacheKey,
        timeout: Duration,
        on_wait: &mut dyn FnMut(),
    ) -> Result<Box<dyn LockGuard>, CacheError> {
        let lock = format!("{}lock:{}", self.prefix, key.0);
        let token = uuid::Uuid::new_v4().to_string();
        let lease_ms = timeout.as_millis().max(1000) as u64;
        let deadline = Instant::now() + timeout;
        let mut waited = false;
        loop {
            let got: Option<String> = self.cmd(
                redis::cmd("SET")
                    .arg(&lock)
                    .arg(&token)
                    .arg("NX")
                    .arg("PX")
                    .arg(lease_ms),
            )?;
            if got.is_some() {
                return Ok(Box::new(Lease {
                    conn: self.conn.clone(),
                    lock,
                    token,
                }));
            }
            // Someone else holds the lease: wait for their entry (or for the lease to expire).
            if !waited {
                waited = true;
                on_wait();
            }
            if self
                .get(key)
                .ok()
                .flatten()
                .is_some_and(|e| e.is_fresh(crate::clock::now(), 0))
            {
                return Ok(Box::new(NoLease));
            }
            if Instant::now() >= deadline {
                return Err(CacheError::LockTimeout {
                    path: PathBuf::from(lock),
                    secs: timeout.as_secs(),
                });
            }
            std::thread::sleep(Duration::from_millis(20 + fastrand::u64(0..40)));
        }
    }
}

struct NoLease;
impl LockGuard for NoLease {}

struct Lease {
    conn: std::sync::Arc<std::sync::Mutex<redis::Connection>>,
    lock: String,
    token: String,
}

impl LockGuard for Lease {}

/// Compare-and-delete: only the holder's own lease is released.
const RELEASE: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

impl Drop for Lease {
    fn drop(&mut self) {
        if let Ok(mut c) = self.conn.lock() {
            let _ = redis::Script::new(RELEASE)
                .key(&self.lock)
                .arg(&self.token)
                .invoke::<i64>(&mut *c);
        }
    }
}
