//! Reading the files signet is given (keys, certificates, passphrases, CA bundles, assertions,
//! configuration and templates): regular files only, each kind with a size cap, so that
//! `/dev/zero` given as `--key` or a FIFO nobody writes to cannot exhaust memory or hang a job.
//!
//! The caps are far above any real file of the kind (a PKCS#12 with a long chain is a few KiB,
//! the Mozilla CA bundle about 220 KiB) and low enough that a bad input costs a few MiB at most:
//! the size is checked before reading, and the read stops one byte past the cap for files whose
//! size the kernel does not report (procfs).

use crate::secret::SecretBytes;
use std::io::{self, Read};
use std::path::Path;
use zeroize::Zeroizing;

/// What a file is read as: it sets the size cap and the word for it in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileKind {
    /// A private key file (PEM, DER, PKCS#12, a service-account JSON file).
    Key,
    /// A certificate file (`--cert`, `signet thumbprint`).
    Certificate,
    /// A passphrase or PIN file; a pipe is accepted too (`--key-passphrase-file <(pass show k)`).
    Passphrase,
    /// A PEM bundle of CA certificates (`--ca-file`, the Redis CA).
    CaBundle,
    /// An assertion signet sends without signing (`--assertion-file`).
    Assertion,
    /// The shared cache's encryption key file.
    CacheKey,
    /// A configuration (profiles) file.
    Config,
    /// A template file.
    Template,
}

impl FileKind {
    /// The largest file of this kind signet reads, in bytes.
    pub const fn max_bytes(self) -> u64 {
        const KIB: u64 = 1024;
        const MIB: u64 = 1024 * KIB;
        match self {
            FileKind::Key | FileKind::Certificate => 4 * MIB,
            FileKind::CaBundle => 16 * MIB,
            FileKind::Assertion | FileKind::Config | FileKind::Template => MIB,
            FileKind::Passphrase | FileKind::CacheKey => 64 * KIB,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            FileKind::Key => "a key file",
            FileKind::Certificate => "a certificate file",
            FileKind::Passphrase => "a passphrase file",
            FileKind::CaBundle => "a CA bundle",
            FileKind::Assertion => "an assertion file",
            FileKind::CacheKey => "a cache key file",
            FileKind::Config => "a configuration file",
            FileKind::Template => "a template file",
        }
    }
}

/// Reads a public file (a certificate, a CA bundle, configuration) of `kind`.
pub fn read(path: &Path, kind: FileKind) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    read_into(path, kind, &mut buf)?;
    Ok(buf)
}

/// Reads a file that holds a secret (a key, a passphrase, an assertion) into memory that is
/// wiped when dropped; the buffer is sized before reading so it never reallocates and leaves
/// copies behind.
pub fn read_secret(path: &Path, kind: FileKind) -> io::Result<SecretBytes> {
    let mut buf = Zeroizing::new(Vec::new());
    read_into(path, kind, &mut buf)?;
    Ok(buf)
}

/// Reads a UTF-8 file of `kind` (configuration, templates).
pub fn read_text(path: &Path, kind: FileKind) -> io::Result<String> {
    String::from_utf8(read(path, kind)?).map_err(|_| refused("not UTF-8 text".into()))
}

/// How long a pipe may take to give its whole content (a passphrase from `pass` or a vault CLI
/// comes in milliseconds; a writer that never closes must not hold the job).
pub const PIPE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

fn read_into(path: &Path, kind: FileKind, buf: &mut Vec<u8>) -> io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    // Non-blocking open: opening a FIFO that nobody writes to would otherwise wait forever.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut opts, libc::O_NONBLOCK);
    let f = opts.open(path)?;
    let meta = f.metadata()?;
    let max = kind.max_bytes();
    let too_big = || refused(format!("larger than {} KiB, too large for {}", max / 1024, kind.noun()));
    if meta.len() > max {
        return Err(too_big());
    }
    let ft = meta.file_type();
    let pipe = is_pipe(&ft) && kind == FileKind::Passphrase;
    if !ft.is_file() && !pipe {
        let advice = if is_pipe(&ft) && kind == FileKind::Key {
            ": signet reads a key file more than once; write the key to a file with mode 600"
        } else {
            ""
        };
        return Err(refused(format!("{}, not a regular file{advice}", describe(&ft))));
    }
    // Sized once: the buffer never reallocates, so no copy of a secret is left in freed memory.
    // A file whose size the kernel does not report (procfs, a pipe) gets room for a passphrase's
    // cap, 64 KiB: a pipe (only passphrases come through one) never reallocates either, and
    // a procfs file does not make the wipe-on-free allocator wipe megabytes it never used.
    let unknown = FileKind::Passphrase.max_bytes().min(max);
    let room = if meta.len() > 0 { meta.len() + 1 } else { unknown + 1 };
    buf.reserve_exact(room as usize);
    if pipe {
        read_pipe(&f, max, buf)?;
    } else {
        f.take(max + 1).read_to_end(buf)?;
    }
    if buf.len() as u64 > max {
        return Err(too_big());
    }
    Ok(())
}

fn is_pipe(ft: &std::fs::FileType) -> bool {
    #[cfg(unix)]
    return std::os::unix::fs::FileTypeExt::is_fifo(ft);
    #[cfg(not(unix))]
    return false;
}

/// Reads a pipe (opened non-blocking) to its end, at most `max` + 1 bytes, within
/// [`PIPE_DEADLINE`]. Waiting in poll rather than read: a FIFO whose writer has not opened yet
/// reads as an end of file at once, while poll waits for the writer (Linux reports no hang-up
/// before a writer has come).
#[cfg(unix)]
fn read_pipe(f: &std::fs::File, max: u64, buf: &mut Vec<u8>) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let deadline = std::time::Instant::now() + PIPE_DEADLINE;
    let mut chunk = [0u8; 4096];
    let mut r = f;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(refused(format!(
                "a pipe that did not end within {} s",
                PIPE_DEADLINE.as_secs()
            )));
        }
        let mut pfd = libc::pollfd {
            fd: f.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, for a descriptor this function borrows.
        let n = unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(i32::MAX as u128) as i32) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            continue;
        }
        match r.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(k) => {
                let room = (max + 1 - buf.len() as u64).min(k as u64) as usize;
                buf.extend_from_slice(&chunk[..room]);
                zeroize::Zeroize::zeroize(&mut chunk[..k]);
                if buf.len() as u64 > max {
                    return Ok(());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(not(unix))]
fn read_pipe(f: &std::fs::File, max: u64, buf: &mut Vec<u8>) -> io::Result<()> {
    f.take(max + 1).read_to_end(buf).map(|_| ())
}

fn describe(ft: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if ft.is_char_device() {
            return "a character device";
        }
        if ft.is_block_device() {
            return "a block device";
        }
        if ft.is_socket() {
            return "a socket";
        }
    }
    if ft.is_dir() {
        "a folder"
    } else {
        "not a file"
    }
}

/// Why signet refused to read a file, already worded for the user (see [`crate::text::io_reason`]).
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

fn refused(reason: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, Refused(reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mkfifo(dir: &Path) -> std::path::PathBuf {
        let fifo = dir.join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        fifo
    }

    #[test]
    fn a_file_over_its_kinds_cap_is_refused_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big");
        let f = std::fs::File::create(&p).unwrap();
        f.set_len(FileKind::Passphrase.max_bytes() + 1).unwrap();
        let e = read_secret(&p, FileKind::Passphrase).unwrap_err();
        assert!(e.to_string().contains("too large for a passphrase file"), "{e}");
        // The same size is fine for a key file.
        assert_eq!(
            read(&p, FileKind::Key).unwrap().len() as u64,
            FileKind::Passphrase.max_bytes() + 1
        );
    }

    #[test]
    fn devices_folders_and_fifos_are_not_read() {
        assert!(read(Path::new("/dev/zero"), FileKind::Key)
            .unwrap_err()
            .to_string()
            .contains("character device"));
        let dir = tempfile::tempdir().unwrap();
        assert!(read(dir.path(), FileKind::Config)
            .unwrap_err()
            .to_string()
            .contains("folder"));
        let fifo = mkfifo(dir.path());
        assert!(read(&fifo, FileKind::Key)
            .unwrap_err()
            .to_string()
            .contains("write the key to a file"));
    }

    #[test]
    fn a_passphrase_fifo_is_waited_for_until_its_writer_comes() {
        // Opened before its writer: it must not read as an empty passphrase.
        let dir = tempfile::tempdir().unwrap();
        let fifo = mkfifo(dir.path());
        let writer_path = fifo.clone();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            std::fs::write(writer_path, b"late passphrase\n").unwrap();
        });
        let got = read_secret(&fifo, FileKind::Passphrase).unwrap();
        assert_eq!(&got[..], b"late passphrase\n");
        writer.join().unwrap();
    }

    #[test]
    fn a_pipe_that_writes_past_the_cap_is_cut_off() {
        // A pipe has no size to check up front: the read itself stops one byte past the cap.
        let dir = tempfile::tempdir().unwrap();
        let fifo = mkfifo(dir.path());
        let writer_path = fifo.clone();
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            let mut w = std::fs::OpenOptions::new().write(true).open(writer_path).unwrap();
            // The reader stops early and closes: a broken pipe here is expected.
            let _ = w.write_all(&vec![b'x'; 4 * FileKind::Passphrase.max_bytes() as usize]);
        });
        let e = read_secret(&fifo, FileKind::Passphrase).unwrap_err();
        assert!(e.to_string().contains("too large"), "{e}");
        writer.join().unwrap();
    }
}
