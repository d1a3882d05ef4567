//! Where the agent listens: a loopback TCP address or a unix socket, and nothing else.
//!
//! A token endpoint on a routable address would hand tokens to the network; the contract allows
//! 127.0.0.0/8, `[::1]` and a unix socket that only its owner can open (0600, in a folder no one
//! else can write to, so nobody can swap the socket for their own).

use super::AgentError;
use std::net::SocketAddr;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A place to listen, checked: loopback only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listen {
    /// A loopback address and port (port 0: a free one).
    Tcp(SocketAddr),
    /// A unix socket at this path.
    Unix(PathBuf),
}

impl std::str::FromStr for Listen {
    type Err = AgentError;

    /// `127.0.0.1:PORT`, `[::1]:PORT`, `localhost:PORT` (as 127.0.0.1) or `unix:PATH`.
    fn from_str(s: &str) -> Result<Listen, AgentError> {
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(AgentError::Address {
                    given: "unix:".into(),
                    why: "needs a path (unix:/run/signet/agent.sock)",
                });
            }
            return Ok(Listen::Unix(PathBuf::from(path)));
        }
        let shown = crate::text::sanitize(s, 100);
        let addr = match s.strip_prefix("localhost:") {
            Some(port) => port.parse::<u16>().ok().map(|p| SocketAddr::from(([127, 0, 0, 1], p))),
            None => s.parse::<SocketAddr>().ok(),
        };
        let Some(addr) = addr else {
            return Err(AgentError::Address {
                given: shown,
                why: "is not an address: give 127.0.0.1:PORT, [::1]:PORT or unix:PATH",
            });
        };
        if !addr.ip().is_loopback() {
            return Err(AgentError::Address {
                given: shown,
                why: "is not a loopback address: the agent hands out tokens, so it listens only on 127.0.0.1, [::1] or a unix socket",
            });
        }
        Ok(Listen::Tcp(addr))
    }
}

impl std::fmt::Display for Listen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Listen::Tcp(a) => write!(f, "{a}"),
            Listen::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// Binds a unix socket at `path`, 0600 from its first moment: it is bound inside a fresh 0700
/// folder beside `path`, made 0600 there, and renamed into place. The folder holding `path` must
/// not be writable by group or others. A stale socket (nobody answers on it) is replaced; any
/// other file, or a socket an agent still answers on, is an error.
pub(super) fn bind_unix(path: &Path) -> Result<std::os::unix::net::UnixListener, AgentError> {
    let shown = path.display();
    let refuse = |reason: String| AgentError::Bind {
        address: format!("unix:{shown}"),
        reason,
    };
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let meta = std::fs::metadata(&parent).map_err(|e| {
        refuse(format!(
            "the folder {} cannot be used: {}",
            parent.display(),
            crate::text::io_reason(&e)
        ))
    })?;
    if meta.permissions().mode() & 0o022 != 0 {
        return Err(refuse(format!(
            "the folder {} is writable by group or others, who could replace the socket: use a folder only you can write to (e.g. $XDG_RUNTIME_DIR)",
            parent.display()
        )));
    }
    if let Ok(m) = std::fs::symlink_metadata(path) {
        if !m.file_type().is_socket() {
            return Err(refuse("a file that is not a socket is in the way".into()));
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(refuse("another agent answers on that socket".into()));
        }
        let _ = std::fs::remove_file(path);
    }
    let fail = |e: std::io::Error| refuse(crate::text::io_reason(&e));
    let tmp = tempfile::Builder::new()
        .prefix(".signet-agent-")
        .tempdir_in(&parent)
        .map_err(fail)?;
    let staged = tmp.path().join("s");
    let listener = std::os::unix::net::UnixListener::bind(&staged).map_err(fail)?;
    std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600)).map_err(fail)?;
    std::fs::rename(&staged, path).map_err(fail)?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_only() {
        assert_eq!(
            "127.0.0.1:8080".parse::<Listen>().unwrap(),
            Listen::Tcp("127.0.0.1:8080".parse().unwrap())
        );
        assert!(matches!("[::1]:0".parse::<Listen>(), Ok(Listen::Tcp(_))));
        assert!(matches!("localhost:9".parse::<Listen>(), Ok(Listen::Tcp(_))));
        assert!(matches!("unix:/run/x.sock".parse::<Listen>(), Ok(Listen::Unix(_))));
        for bad in [
            "0.0.0.0:80",
            "10.0.0.1:80",
            "[::]:80",
            "example.com:80",
            "unix:",
            "8080",
        ] {
            assert!(bad.parse::<Listen>().is_err(), "{bad}");
        }
    }
}
