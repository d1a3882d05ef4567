//! The on-disk store: a private folder of JSON entries, each replaced atomically, with an
//! advisory lock file per entry for single flight.

use super::{CacheError, CacheKey, Entry, LockGuard, TokenStore};
use crate::env::{Env, EnvVars};
use crate::warning::{Warning, WarningKind, WarningSink};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The default folder: `$XDG_CACHE_HOME/signet`, else `~/.cache/signet` (the platform's cache
/// folder elsewhere).
pub fn default_dir(env: &Env) -> Option<PathBuf> {
    if let Some(d) = env.get(EnvVars::CACHE_DIR) {
        return Some(PathBuf::from(d));
    }
    if let Some(x) = env
        .get(crate::env::EnvVars::XDG_CACHE_HOME)
        .filter(|x| Path::new(x).is_absolute())
    {
        return Some(PathBuf::from(x).join("signet"));
    }
    #[cfg(target_os = "linux")]
    if let Some(h) = env.get(crate::env::EnvVars::HOME) {
        return Some(PathBuf::from(h).join(".cache").join("signet"));
    }
    dirs::cache_dir().map(|d| d.join("signet"))
}

/// The file store. Each entry names the cache key it was written for (`written_for`): an entry
/// copied or renamed to another identity's file is a miss there, as a Redis entry is (whose key
/// is bound as associated data).
pub struct FileStore {
    dir: PathBuf,
    warn: Option<WarningSink>,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// An entry as the file holds it: the entry and the key it was written for.
#[derive(serde::Serialize)]
struct Stored<'a> {
    written_for: &'a str,
    #[serde(flatten)]
    entry: &'a Entry,
}

/// The one field read to check an entry's binding (the token is not kept twice).
#[derive(serde::Deserialize)]
struct WrittenFor {
    written_for: Option<String>,
}

fn io(what: &'static str, path: &Path, e: std::io::Error) -> CacheError {
    CacheError::Io {
        what,
        path: path.into(),
        reason: crate::text::io_reason(&e),
    }
}

#[cfg(unix)]
fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Checks that a file or folder (not followed if a link) belongs to us and is not writable by others.
#[cfg(unix)]
fn check_owner_mode(meta: &std::fs::Metadata, path: &Path) -> Result<(), CacheError> {
    use std::os::unix::fs::MetadataExt;
    let untrusted = |reason: String| CacheError::Untrusted {
        path: path.into(),
        reason,
    };
    if meta.file_type().is_symlink() {
        return Err(untrusted("it is a symbolic link".into()));
    }
    if meta.uid() != euid() {
        return Err(untrusted(format!(
            "it is owned by uid {}, not by this user",
            meta.uid()
        )));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(untrusted(format!(
            "it is writable by group or others (mode {:o})",
            meta.mode() & 0o777
        )));
    }
    Ok(())
}

impl FileStore {
    /// Opens (creating with mode 0700 when missing) the cache folder, and checks it can be trusted.
    pub fn open(dir: &Path) -> Result<FileStore, CacheError> {
        match std::fs::symlink_metadata(dir) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut b = std::fs::DirBuilder::new();
                b.recursive(true);
                #[cfg(unix)]
                std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
                b.create(dir).map_err(|e| io("folder cannot be created:", dir, e))?;
            }
            Err(e) => return Err(io("folder", dir, e)),
        }
        #[cfg(unix)]
        {
            let meta = std::fs::symlink_metadata(dir).map_err(|e| io("folder", dir, e))?;
            check_owner_mode(&meta, dir)?;
            if !meta.is_dir() {
                return Err(CacheError::Untrusted {
                    path: dir.into(),
                    reason: "it is not a folder".into(),
                });
            }
        }
        Ok(FileStore {
            dir: dir.to_path_buf(),
            warn: None,
        })
    }

    /// Where to report what the store fixed on its own (an entry readable by others, made 0600).
    pub fn with_warnings(mut self, sink: WarningSink) -> FileStore {
        self.warn = Some(sink);
        self
    }

    /// Opens an existing folder without creating it (for `cache list`/`clear`).
    pub fn open_existing(dir: &Path) -> Result<Option<FileStore>, CacheError> {
        match std::fs::symlink_metadata(dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            _ => FileStore::open(dir).map(Some),
        }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn entry_path(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(format!("{}.json", key.0))
    }

    /// Reads the entry at `path`, which must have been written for `key`.
    fn read_entry(&self, path: &Path, key: &CacheKey) -> Result<Option<Entry>, CacheError> {
        let mut opts = OpenOptions::new();
        opts.read(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut opts, libc::O_NOFOLLOW | libc::O_NONBLOCK);
        let mut f = match opts.open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            #[cfg(unix)]
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                return Err(CacheError::Untrusted {
                    path: path.into(),
                    reason: "it is a symbolic link".into(),
                })
            }
            Err(e) => return Err(io("entry", path, e)),
        };
        let meta = f.metadata().map_err(|e| io("entry", path, e))?;
        #[cfg(unix)]
        check_owner_mode(&meta, path)?;
        if !meta.is_file() {
            return Err(CacheError::Untrusted {
                path: path.into(),
                reason: "it is not a regular file".into(),
            });
        }
        if meta.len() > crate::token::MAX_BODY as u64 * 2 {
            return Ok(None);
        }
        #[cfg(unix)]
        self.tighten(&f, &meta, path);
        let mut buf = zeroize::Zeroizing::new(Vec::with_capacity(meta.len() as usize + 1));
        f.read_to_end(&mut buf).map_err(|e| io("entry", path, e))?;
        let Some(entry) = Entry::parse(&buf) else {
            return Ok(None);
        };
        match serde_json::from_slice::<WrittenFor>(&buf)
            .ok()
            .and_then(|w| w.written_for)
        {
            Some(k) if k == key.0 => Ok(Some(entry)),
            Some(_) => {
                // Our own file in our own folder, only misnamed: a miss, and the fetch that
                // follows replaces it.
                if let Some(warn) = &self.warn {
                    warn(&Warning::new(
                        WarningKind::Cache,
                        format!(
                            "the cache entry {} was written for another identity (copied or renamed?): ignoring it",
                            path.display()
                        ),
                    ));
                }
                Ok(None)
            }
            // Written by a signet before entries were bound: a miss, fetched and rewritten once.
            None => Ok(None),
        }
    }

    /// An entry that group or others can read (restored from a backup, copied by hand) is made
    /// 0600 through the open descriptor, with a warning: the token may have been read.
    #[cfg(unix)]
    fn tighten(&self, f: &File, meta: &std::fs::Metadata, path: &Path) {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 == 0 {
            return;
        }
        let fixed = f.set_permissions(std::fs::Permissions::from_mode(0o600)).is_ok();
        if let Some(warn) = &self.warn {
            let what = if fixed {
                "its mode is now 600"
            } else {
                "and its mode could not be changed"
            };
            warn(&Warning::new(
                WarningKind::Cache,
                format!(
                    "the cache entry {} was readable by group or others (mode {mode:o}): {what}; the token in it may have been read",
                    path.display()
                ),
            ));
        }
    }
}

struct FileLock {
    _file: File,
}

impl LockGuard for FileLock {}

impl TokenStore for FileStore {
    /// Every entry with its key (untrusted or unreadable ones are skipped).
    fn entries(&self) -> Result<Vec<(CacheKey, Entry)>, CacheError> {
        let mut out = vec![];
        let rd = std::fs::read_dir(&self.dir).map_err(|e| io("folder", &self.dir, e))?;
        for de in rd.flatten() {
            let name = de.file_name().to_string_lossy().into_owned();
            let Some(hex) = name.strip_suffix(".json") else {
                continue;
            };
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                continue;
            }
            let key = CacheKey(hex.to_string());
            if let Ok(Some(e)) = self.read_entry(&de.path(), &key) {
                out.push((key, e));
            }
        }
        out.sort_by(|a, b| {
            a.1.token_url
                .cmp(&b.1.token_url)
                .then(a.1.client_id.cmp(&b.1.client_id))
        });
        Ok(out)
    }

    /// Removes an entry (and its lock file).
    fn remove(&self, key: &CacheKey) -> Result<(), CacheError> {
        let p = self.entry_path(key);
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("entry", &p, e)),
        }
        // The lock file stays: a process fetching this token holds a lock on it, and a new file
        // at the same path would let the next process take a second lock (two requests).
        Ok(())
    }

    fn get(&self, key: &CacheKey) -> Result<Option<Entry>, CacheError> {
        self.read_entry(&self.entry_path(key), key)
    }

    fn put(&self, key: &CacheKey, entry: &Entry) -> Result<(), CacheError> {
        let path = self.entry_path(key);
        // tempfile creates the file with mode 0600 from the start (O_EXCL, no chmod afterwards).
        let mut tmp = tempfile::Builder::new()
            .prefix(".signet-")
            .suffix(".tmp")
            .tempfile_in(&self.dir)
            .map_err(|e| io("entry cannot be written in", &self.dir, e))?;
        let stored = Stored {
            written_for: &key.0,
            entry,
        };
        let json = zeroize::Zeroizing::new(serde_json::to_vec(&stored).unwrap_or_default());
        tmp.write_all(&json)
            .map_err(|e| io("entry cannot be written:", &path, e))?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| io("entry cannot be written:", &path, e))?;
        tmp.persist(&path)
            .map_err(|e| io("entry cannot be replaced:", &path, e.error))?;
        Ok(())
    }

    fn lock(
        &self,
        key: &CacheKey,
        timeout: Duration,
        on_wait: &mut dyn FnMut(),
    ) -> Result<Box<dyn LockGuard>, CacheError> {
        let path = self.dir.join(format!("{}.lock", key.0));
        let mut opts = OpenOptions::new();
        opts.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            std::os::unix::fs::OpenOptionsExt::custom_flags(&mut opts, libc::O_NOFOLLOW);
        }
        let file = opts.open(&path).map_err(|e| io("lock", &path, e))?;
        let deadline = Instant::now() + timeout;
        let mut waited = false;
        let mut pause = Duration::from_millis(5);
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Box::new(FileLock { _file: file })),
                Err(std::fs::TryLockError::WouldBlock) => {
                    if !waited {
                        waited = true;
                        on_wait();
                    }
                    if Instant::now() >= deadline {
                        return Err(CacheError::LockTimeout {
                            path,
                            secs: timeout.as_secs(),
                        });
                    }
                    std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                // A filesystem without locks (some network mounts): go on without single flight.
                Err(std::fs::TryLockError::Error(_)) => return Ok(Box::new(FileLock { _file: file })),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cache clear` used to unlink the lock file of an entry being fetched, so the next process
    /// locked a new file and single flight broke.
    #[test]
    fn removing_an_entry_keeps_the_lock_of_a_fetch_in_progress() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open(&dir.path().join("c")).unwrap();
        let key = CacheKey::for_identity("x");
        let _held = store.lock(&key, Duration::from_secs(1), &mut || {}).unwrap();
        store.remove(&key).unwrap();
        let other = FileStore::open(&dir.path().join("c")).unwrap();
        let again = other.lock(&key, Duration::from_millis(50), &mut || {});
        assert!(
            matches!(again, Err(CacheError::LockTimeout { .. })),
            "a second lock was had"
        );
    }
}
