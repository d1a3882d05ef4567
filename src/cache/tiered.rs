//! The local file cache with an optional shared (Redis) cache behind it, as one [`TokenStore`].
//!
//! A read tries the local entry first and goes to Redis only when that is missing or about to
//! expire, connecting then (so a local hit reads no cache key and opens no connection); a fresh
//! shared entry is copied into the local cache. The lock is the local one, then the fleet-wide
//! lease. A shared cache that cannot be used degrades to the local one with a warning.

use super::{CacheError, CacheKey, Entry, FileStore, LockGuard, TokenStore};
use crate::clock::Clock;
use crate::config::{ConfigError, Key, Settings};
use crate::env::Env;
use crate::secret::Secret;
use crate::warning::{Warning, WarningKind, WarningSink};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Where the shared cache's encryption key comes from; a file is read only when Redis is used.
#[derive(Clone, Debug)]
pub enum CacheKeySource {
    /// `--cache-key-file` / `cache_key_file`.
    File(PathBuf),
    /// `SIGNET_CACHE_KEY`.
    Env(Secret<String>),
}

/// The shared-cache settings: `--cache-url`/SIGNET_CACHE_URL, its key and password, its CA.
#[derive(Clone, Debug)]
pub struct SharedCache {
    backend: Backend,
    /// The encryption key's source.
    pub key: CacheKeySource,
    /// Extra CAs for `rediss://`.
    pub ca_file: Option<PathBuf>,
}

/// The shared backends, one arm each (a new one: its file, an arm here and in the two matches
/// below). Without the `redis` feature there is none, and a shared URL is a usage error.
#[derive(Clone, Debug)]
enum Backend {
    /// The Redis URL (its password kept apart from what is shown).
    #[cfg(feature = "redis")]
    Redis(super::RedisUrl),
    /// Never made: keeps the matches whole when no backend is compiled in.
    #[allow(dead_code)]
    None(std::convert::Infallible),
}

impl SharedCache {
    /// The shared cache the settings name, if any; `file:` (the default) names none.
    /// Checks what can be checked without reading a file.
    pub fn from_settings(s: &Settings, env: &Env) -> Result<Option<SharedCache>, ConfigError> {
        let url = s.str_or_default(Key::CacheUrl);
        if url.starts_with("file:") {
            return Ok(None);
        }
        #[cfg(feature = "redis")]
        let backend = Backend::Redis(
            super::RedisUrl::parse(url, env.get(crate::env::EnvVars::CACHE_PASSWORD)).map_err(ConfigError::Usage)?,
        );
        #[cfg(not(feature = "redis"))]
        let _ = env;
        #[cfg(not(feature = "redis"))]
        return Err(ConfigError::Usage(format!(
            "--cache-url {}: this signet was built without its shared-cache (redis) feature",
            crate::text::sanitize(url.split('@').next_back().unwrap_or(url), 80)
        )));
        #[cfg(feature = "redis")]
        let shown = match &backend {
            Backend::Redis(u) => u.shown().to_string(),
            Backend::None(never) => match *never {},
        };
        #[cfg(feature = "redis")]
        let key = match s.path(Key::CacheKeyFile) {
            Some(p) => CacheKeySource::File(p),
            None => match env.get(crate::env::EnvVars::CACHE_KEY) {
                Some(k) => CacheKeySource::Env(Secret::new(k.to_string())),
                None => {
                    return Err(ConfigError::Missing {
                        what: format!("a key for the shared cache {shown}"),
                        how: "set SIGNET_CACHE_KEY (32 bytes as 64 hex digits or base64) or --cache-key-file".into(),
                    })
                }
            },
        };
        #[cfg(feature = "redis")]
        Ok(Some(SharedCache {
            backend,
            key,
            ca_file: s.path(Key::CaFile),
        }))
    }

    /// A shared-cache URL as messages show it (without its password), checked as
    /// [`SharedCache::from_settings`] would, needing no key.
    pub fn shown_url(url: &str) -> Result<String, ConfigError> {
        #[cfg(feature = "redis")]
        return Ok(super::RedisUrl::parse(url, None)
            .map_err(ConfigError::Usage)?
            .shown()
            .to_string());
        #[cfg(not(feature = "redis"))]
        Err(ConfigError::Usage(format!(
            "--cache-url {}: this signet was built without its shared-cache (redis) feature",
            crate::text::sanitize(url.split('@').next_back().unwrap_or(url), 80)
        )))
    }

    /// The URL as shown in messages (never with its password).
    pub fn shown(&self) -> String {
        match &self.backend {
            #[cfg(feature = "redis")]
            Backend::Redis(u) => u.shown().to_string(),
            Backend::None(never) => match *never {},
        }
    }

    /// Reads the key and connects within `timeout`. A key that cannot be read or parsed is a
    /// configuration error ([`CacheError::Config`]); an unreachable server is an I/O error.
    pub fn connect(&self, timeout: Duration, min_ttl: u64) -> Result<Box<dyn TokenStore>, CacheError> {
        let text = match &self.key {
            CacheKeySource::File(p) => {
                let bytes = crate::files::read_secret(p, crate::files::FileKind::CacheKey).map_err(|e| {
                    CacheError::Config(format!(
                        "cannot read cache key file {}: {}",
                        p.display(),
                        crate::text::io_reason(&e)
                    ))
                })?;
                zeroize::Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned())
            }
            CacheKeySource::Env(k) => zeroize::Zeroizing::new(k.expose().clone()),
        };
        match &self.backend {
            #[cfg(feature = "redis")]
            Backend::Redis(url) => {
                let key = super::CacheKeyMaterial::parse(&text)
                    .map_err(|e| CacheError::Config(format!("{e} (SIGNET_CACHE_KEY or --cache-key-file)")))?;
                let store = super::RedisStore::connect(url, &key, self.ca_file.as_deref(), timeout, min_ttl)?;
                Ok(Box::new(store))
            }
            Backend::None(never) => {
                let _ = (text, timeout, min_ttl);
                match *never {}
            }
        }
    }
}

/// The local cache, and the shared one behind it when configured.
///
/// The order is the fleet's single flight: before the local lock only the local entry is read;
/// the process holding the local lock reads the shared entry, then takes the fleet-wide lease and
/// reads it again; the lease is released before the local lock. So each host makes one Redis
/// round trip per refresh and one request goes to the endpoint for the fleet.
pub struct TieredStore {
    local: FileStore,
    /// False once the local entry could not be trusted: no token is written there then.
    local_trusted: AtomicBool,
    shared: Option<SharedCache>,
    shared_store: OnceLock<Option<Box<dyn TokenStore>>>,
    /// Set while this process holds the local lock: only then is the shared tier read.
    locked: Arc<AtomicBool>,
    /// The fleet-wide lease, held from the shared miss until the token is stored or the local
    /// lock is released.
    lease: Arc<Mutex<Option<Box<dyn LockGuard>>>>,
    /// `--force-refresh`: the shared entry is not read (the lease is still taken).
    force_refresh: bool,
    min_ttl: u64,
    timeout: Duration,
    clock: Arc<dyn Clock>,
    warn: WarningSink,
}

/// How a [`TieredStore`] judges and waits: the plan's freshness, time limit and refresh mode.
#[derive(Clone, Copy, Debug)]
pub struct TierOptions {
    /// A token with fewer seconds left is not served.
    pub min_ttl: u64,
    /// Bounds the shared cache's connection (at most 2 s) and the lease.
    pub timeout: Duration,
    /// Skip reading the shared entry (a forced refresh).
    pub force_refresh: bool,
}

impl TieredStore {
    /// The local store with `shared` behind it; `warn` hears each degradation.
    pub fn new(
        local: FileStore,
        shared: Option<SharedCache>,
        opts: TierOptions,
        clock: Arc<dyn Clock>,
        warn: WarningSink,
    ) -> TieredStore {
        TieredStore {
            local,
            local_trusted: AtomicBool::new(true),
            shared,
            shared_store: OnceLock::new(),
            locked: Arc::new(AtomicBool::new(false)),
            lease: Arc::new(Mutex::new(None)),
            force_refresh: opts.force_refresh,
            min_ttl: opts.min_ttl,
            timeout: opts.timeout,
            clock,
            warn,
        }
    }

    fn warn(&self, message: String) {
        (self.warn)(&Warning::new(WarningKind::Cache, message));
    }

    /// The shared store, connected on first use; `Ok(None)` when there is none or it failed (warned).
    fn shared_store(&self) -> Result<Option<&dyn TokenStore>, CacheError> {
        let Some(shared) = &self.shared else { return Ok(None) };
        if let Some(r) = self.shared_store.get() {
            return Ok(r.as_deref());
        }
        let connected = match shared.connect(self.timeout.min(Duration::from_secs(2)), self.min_ttl) {
            Ok(r) => Some(r),
            Err(e @ CacheError::Config(_)) => return Err(e),
            Err(e) => {
                self.warn(format!("{e}; going on with the local cache only"));
                None
            }
        };
        Ok(self.shared_store.get_or_init(|| connected).as_deref())
    }

    fn fresh(&self, e: &Entry) -> bool {
        e.is_fresh(self.clock.now(), self.min_ttl)
    }

    fn put_local(&self, key: &CacheKey, entry: &Entry, what: &str) {
        if self.local_trusted.load(Ordering::SeqCst) {
            if let Err(e) = self.local.put(key, entry) {
                self.warn(format!("{e}; {what}"));
            }
        }
    }

    /// A fresh shared entry (copied into the local cache), or `None`; read errors are warnings.
    fn shared_hit(&self, shared: &dyn TokenStore, key: &CacheKey) -> Option<Entry> {
        if self.force_refresh {
            return None;
        }
        match shared.get(key) {
            Ok(Some(e)) if self.fresh(&e) => {
                tracing::debug!("shared cache hit");
                self.put_local(key, &e, "the token is not cached locally");
                Some(e)
            }
            Ok(_) => None,
            Err(e) => {
                self.warn(format!("{e}; ignoring it"));
                None
            }
        }
    }

    /// Takes the fleet-wide lease (waiting while another host fetches), once per local lock.
    fn take_lease(&self, shared: &dyn TokenStore, key: &CacheKey) {
        let Ok(mut slot) = self.lease.lock() else { return };
        if slot.is_some() {
            return;
        }
        let warn = self.warn.clone();
        let mut waiting = || {
            warn(&Warning::new(
                WarningKind::Waiting,
                "another host is fetching this token; waiting for it",
            ))
        };
        match shared.lock(key, self.timeout, &mut waiting) {
            Ok(g) => *slot = Some(g),
            Err(e) => self.warn(format!("{e}; fetching anyway")),
        }
    }

    fn release_lease(&self) {
        if let Ok(mut slot) = self.lease.lock() {
            slot.take();
        }
    }
}

/// The local lock; dropping it releases the lease first, then the local lock.
struct TierGuard {
    local: Option<Box<dyn LockGuard>>,
    locked: Arc<AtomicBool>,
    lease: Arc<Mutex<Option<Box<dyn LockGuard>>>>,
}

impl LockGuard for TierGuard {}

impl Drop for TierGuard {
    fn drop(&mut self) {
        if let Ok(mut slot) = self.lease.lock() {
            slot.take();
        }
        self.locked.store(false, Ordering::SeqCst);
        self.local.take();
    }
}

impl TokenStore for TieredStore {
    fn get(&self, key: &CacheKey) -> Result<Option<Entry>, CacheError> {
        let local = match self.local.get(key) {
            Ok(e) => e,
            Err(e) => {
                if self.local_trusted.swap(false, Ordering::SeqCst) {
                    self.warn(format!("{e}; ignoring it (a new token is not written there)"));
                }
                None
            }
        };
        // Before the local lock, or with a fresh local entry, the local tier answers alone.
        if !self.locked.load(Ordering::SeqCst) || local.as_ref().is_some_and(|e| self.fresh(e)) {
            return Ok(local);
        }
        let Some(shared) = self.shared_store()? else {
            return Ok(local);
        };
        if let Some(e) = self.shared_hit(shared, key) {
            return Ok(Some(e));
        }
        self.take_lease(shared, key);
        // While this host waited for the lease, another may have stored the token.
        Ok(self.shared_hit(shared, key).or(local))
    }

    fn put(&self, key: &CacheKey, entry: &Entry) -> Result<(), CacheError> {
        self.put_local(key, entry, "the token is not cached");
        if let Some(Some(r)) = self.shared_store.get() {
            if let Err(e) = r.put(key, entry) {
                self.warn(format!("{e}; the token is not in the shared cache"));
            }
        }
        self.release_lease();
        Ok(())
    }

    fn lock(
        &self,
        key: &CacheKey,
        timeout: Duration,
        on_wait: &mut dyn FnMut(),
    ) -> Result<Box<dyn LockGuard>, CacheError> {
        let local = match self.local.lock(key, timeout, on_wait) {
            Ok(g) => Some(g),
            Err(e @ CacheError::LockTimeout { .. }) => return Err(e),
            Err(e) => {
                self.warn(format!("{e}; going on without the lock"));
                None
            }
        };
        self.locked.store(true, Ordering::SeqCst);
        Ok(Box::new(TierGuard {
            local,
            locked: self.locked.clone(),
            lease: self.lease.clone(),
        }))
    }

    /// The shared cache's entries when one is configured (what `cache list` shows for a
    /// fleet), else the local ones.
    fn entries(&self) -> Result<Vec<(CacheKey, Entry)>, CacheError> {
        match self.shared_store()? {
            Some(r) => r.entries(),
            None => self.local.entries(),
        }
    }

    fn remove(&self, key: &CacheKey) -> Result<(), CacheError> {
        self.local.remove(key)?;
        if let Some(r) = self.shared_store()? {
            r.remove(key)?;
        }
        Ok(())
    }
}
