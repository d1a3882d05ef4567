//! A store in memory: for tests of the flow, and for programs that want single-process caching
//! without files.

use super::{CacheError, CacheKey, Entry, LockGuard, TokenStore};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Entries in a map; the lock always succeeds at once (one process), and `lock_timeout` can make
/// it time out instead, to specify what the flow does then.
#[derive(Default)]
pub struct MemoryStore {
    entries: Mutex<BTreeMap<String, Entry>>,
    /// When true, `lock` fails as a lock held elsewhere for too long would.
    pub lock_timeout: bool,
    /// How many `put`s were made (tests count writes with it).
    pub puts: Arc<std::sync::atomic::AtomicUsize>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// An empty store whose lock always times out.
    pub fn with_lock_timeout() -> MemoryStore {
        MemoryStore {
            lock_timeout: true,
            ..MemoryStore::default()
        }
    }
}

struct NoLock;
impl LockGuard for NoLock {}

impl TokenStore for MemoryStore {
    fn get(&self, key: &CacheKey) -> Result<Option<Entry>, CacheError> {
        Ok(self.entries.lock().map_err(poisoned)?.get(&key.0).cloned())
    }

    fn put(&self, key: &CacheKey, entry: &Entry) -> Result<(), CacheError> {
        self.puts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.entries
            .lock()
            .map_err(poisoned)?
            .insert(key.0.clone(), entry.clone());
        Ok(())
    }

    fn lock(
        &self,
        key: &CacheKey,
        timeout: Duration,
        on_wait: &mut dyn FnMut(),
    ) -> Result<Box<dyn LockGuard>, CacheError> {
        if self.lock_timeout {
            on_wait();
            return Err(CacheError::LockTimeout {
                path: format!("memory:{}", key.0).into(),
                secs: timeout.as_secs(),
            });
        }
        Ok(Box::new(NoLock))
    }

    fn entries(&self) -> Result<Vec<(CacheKey, Entry)>, CacheError> {
        Ok(self
            .entries
            .lock()
            .map_err(poisoned)?
            .iter()
            .map(|(k, e)| (CacheKey(k.clone()), e.clone()))
            .collect())
    }

    fn remove(&self, key: &CacheKey) -> Result<(), CacheError> {
        self.entries.lock().map_err(poisoned)?.remove(&key.0);
        Ok(())
    }
}

fn poisoned<T>(_: T) -> CacheError {
    CacheError::Io {
        what: "memory store",
        path: "memory".into(),
        reason: "poisoned lock".into(),
    }
}
