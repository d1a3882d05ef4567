//! Reading the files around a key: the key file itself (into zeroizing memory), its passphrase
//! file, its permissions, and certificate files.

use super::{parse_certificates, Certificate, KeyError};
use crate::files::{self, FileKind};
use crate::secret::{Secret, SecretBytes};
use std::path::Path;
use zeroize::Zeroizing;

/// A warning when a private key file can be read by group or others (as ssh warns), or `None`.
pub fn permission_warning(path: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode();
        if mode & 0o077 != 0 && !path.starts_with("/dev") && !path.starts_with("/proc") {
            return Some(format!(
                "the private key {} is readable by group or others (mode {:o}): chmod 600 it",
                path.display(),
                mode & 0o777
            ));
        }
    }
    let _ = path;
    None
}

/// Reads a key file into zeroizing memory (a regular file of at most
/// [`FileKind::Key`]'s size: see [`crate::files`]).
pub fn read_secret_file(path: &Path) -> std::io::Result<SecretBytes> {
    files::read_secret(path, FileKind::Key)
}

/// Reads a passphrase file: one trailing newline (LF or CRLF) is not part of the passphrase.
pub fn read_passphrase_file(path: &Path) -> Result<Secret<String>, KeyError> {
    read_secret_text(path).map_err(|e| KeyError::PassphraseFile {
        path: path.into(),
        reason: crate::text::io_reason(&e),
    })
}

/// Reads a PIN file (a `pkcs11:` URI's `pin-source`), as [`read_passphrase_file`] does.
pub fn read_pin_file(path: &Path) -> Result<Secret<String>, KeyError> {
    read_secret_text(path).map_err(|e| KeyError::PinFile {
        path: path.into(),
        reason: crate::text::io_reason(&e),
    })
}

fn read_secret_text(path: &Path) -> std::io::Result<Secret<String>> {
    let bytes = files::read_secret(path, FileKind::Passphrase)?;
    let mut s = Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned());
    let len = s.len();
    if s.ends_with("\r\n") {
        s.truncate(len - 2);
    } else if s.ends_with('\n') {
        s.truncate(len - 1);
    }
    Ok(Secret::new(std::mem::take(&mut *s)))
}

/// Reads a certificate file (PEM with one or more certificates, or one DER certificate), in the
/// file's order. The one place a certificate file becomes [`KeyError::CertRead`] or
/// [`KeyError::BadCertificate`], so every command words those failures alike.
///
/// ```
/// # let dir = env!("CARGO_MANIFEST_DIR");
/// let certs = signet::key::load_certificates(format!("{dir}/tests/fixtures/rsa2048.crt.pem").as_ref())?;
/// assert_eq!(certs.len(), 1);
/// # Ok::<(), signet::key::KeyError>(())
/// ```
pub fn load_certificates(path: &Path) -> Result<Vec<Certificate>, KeyError> {
    // Certificates are public: a plain read, not the zeroizing one.
    let bytes = files::read(path, FileKind::Certificate).map_err(|e| KeyError::CertRead {
        path: path.into(),
        reason: crate::text::io_reason(&e),
    })?;
    parse_certificates(&bytes).map_err(|_| KeyError::BadCertificate { path: path.into() })
}
