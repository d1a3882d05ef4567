//! [`KeySpec`]: what a `--key` value names, recognised once, and the one place each kind of key
//! is opened.
//!
//! Adding a key source (a cloud KMS, say) is a file `key/<source>.rs` implementing
//! `Sign`, one variant here with its arm in `KeySpec::parse` and in `KeySpec::open`,
//! and its Cargo feature.

use super::{pem_file, Certificate, KeyBundle, KeyError, SigningKey};
use crate::env::{Env, EnvVars};
use crate::secret::Secret;
use std::fmt;
use std::path::{Path, PathBuf};

/// What a key setting names: a file, or a key that never leaves its holder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySpec {
    /// A key file (PEM, DER, PKCS#12, service-account JSON).
    File(PathBuf),
    /// A key on a PKCS#11 token: the whole RFC 7512 `pkcs11:` URI, parsed when the token is opened.
    Pkcs11(String),
    /// A key in an ssh-agent: what follows `ssh-agent:`, a `SHA256:` fingerprint or the key's comment.
    Agent(String),
}

impl KeySpec {
    /// Recognises a key setting.
    ///
    /// Never fails: anything without a known scheme is a file name, and a spec that is malformed
    /// for its scheme is reported when opened, by the code that understands it.
    ///
    /// ```
    /// use signet::key::KeySpec;
    /// assert_eq!(KeySpec::parse("ssh-agent:ci"), KeySpec::Agent("ci".into()));
    /// assert!(KeySpec::parse("pkcs11:object=k").file().is_none());
    /// assert_eq!(KeySpec::parse("keys/ci.pem").file(), Some("keys/ci.pem".as_ref()));
    /// ```
    pub fn parse(spec: &str) -> KeySpec {
        KeySpec::from_path(Path::new(spec))
    }

    /// Like [`KeySpec::parse`], from a path as the settings hold it; a file keeps its exact bytes
    /// (a file name need not be UTF-8).
    pub fn from_path(path: &Path) -> KeySpec {
        let text = path.to_string_lossy();
        if text.starts_with("pkcs11:") {
            KeySpec::Pkcs11(text.into_owned())
        } else if let Some(key) = text.strip_prefix("ssh-agent:") {
            KeySpec::Agent(key.to_string())
        } else {
            KeySpec::File(path.to_path_buf())
        }
    }

    /// The key file, or `None` for a key that is not a file.
    pub fn file(&self) -> Option<&Path> {
        match self {
            KeySpec::File(p) => Some(p),
            _ => None,
        }
    }

    /// Opens the key: reads and decodes a file (with `passphrase`), or reaches the token or agent
    /// (with `opts`). Certificates found with the key come leaf first.
    pub(super) fn open(
        &self,
        passphrase: Option<&Secret<String>>,
        opts: &KeySourceOptions,
    ) -> Result<KeyBundle, KeyError> {
        let _ = opts;
        match self {
            KeySpec::File(path) => super::load_key(path, passphrase),
            #[cfg(feature = "pkcs11")]
            KeySpec::Pkcs11(uri) => {
                let (key, certs) = super::pkcs11::open(uri, opts)?;
                Ok(self.held(key, certs))
            }
            #[cfg(not(feature = "pkcs11"))]
            KeySpec::Pkcs11(_) => Err(self.not_built("PKCS#11", "pkcs11")),
            #[cfg(feature = "agent")]
            KeySpec::Agent(key) => {
                let signing = super::agent::open(key, &self.to_string(), opts.agent_socket.as_deref())?;
                Ok(self.held(signing, vec![]))
            }
            #[cfg(not(feature = "agent"))]
            KeySpec::Agent(_) => Err(self.not_built("ssh-agent", "agent")),
        }
    }

    /// The bundle of a key held outside the process.
    #[allow(dead_code)] // unused when every such source is compiled out
    fn held(&self, key: SigningKey, certs: Vec<Certificate>) -> KeyBundle {
        let chain = pem_file::leaf_first(&key, certs);
        KeyBundle {
            key,
            chain,
            service_account: None,
            source: PathBuf::from(self.to_string()),
        }
    }

    #[allow(dead_code)] // unused when every source is compiled in
    fn not_built(&self, what: &'static str, feature: &'static str) -> KeyError {
        KeyError::NotBuilt {
            spec: self.to_string(),
            what,
            feature,
        }
    }
}

/// A key spec with the value of any `pin-value=` attribute (refused, but it may be given)
/// replaced by `****`, for every place a spec is shown: messages, `-v`, `config show`.
pub fn redact_pin_value(spec: &str) -> String {
    let mut out = String::with_capacity(spec.len());
    let mut rest = spec;
    while let Some(i) = rest.to_ascii_lowercase().find("pin-value=") {
        let start = i + "pin-value=".len();
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find([';', '&', '?', '#'])
            .map_or(rest.len(), |e| start + e);
        out.push_str("****");
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

impl fmt::Display for KeySpec {
    /// The spec as it was given (a `pin-value=` redacted).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySpec::File(p) => write!(f, "{}", p.display()),
            KeySpec::Pkcs11(uri) => f.write_str(&redact_pin_value(uri)),
            KeySpec::Agent(key) => write!(f, "ssh-agent:{key}"),
        }
    }
}

/// How keys that are not files are reached: the PKCS#11 module and PIN, the agent's socket.
/// Set but unused for a file key, and for a source this build leaves out.
#[derive(Clone, Debug, Default)]
pub struct KeySourceOptions {
    /// SIGNET_PKCS11_MODULE (the URI's module-path wins).
    pub pkcs11_module: Option<String>,
    /// SIGNET_PKCS11_PIN (the URI's pin-source wins).
    pub pkcs11_pin: Option<Secret<String>>,
    /// SSH_AUTH_SOCK.
    pub agent_socket: Option<PathBuf>,
}

impl KeySourceOptions {
    /// The options from the environment (SIGNET_PKCS11_MODULE, SIGNET_PKCS11_PIN, SSH_AUTH_SOCK).
    pub fn from_env(env: &Env) -> KeySourceOptions {
        KeySourceOptions {
            pkcs11_module: env.get(EnvVars::PKCS11_MODULE).map(String::from),
            pkcs11_pin: env.get(EnvVars::PKCS11_PIN).map(|p| Secret::new(p.to_string())),
            agent_socket: env.get(EnvVars::SSH_AUTH_SOCK).map(PathBuf::from),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_value_is_never_shown() {
        assert_eq!(
            redact_pin_value("pkcs11:object=k;pin-value=1234?module-path=/m.so&PIN-VALUE=99"),
            "pkcs11:object=k;pin-value=****?module-path=/m.so&PIN-VALUE=****"
        );
        assert_eq!(redact_pin_value("pkcs11:object=k"), "pkcs11:object=k");
        assert_eq!(
            KeySpec::parse("pkcs11:object=k?pin-value=1234").to_string(),
            "pkcs11:object=k?pin-value=****"
        );
    }

    #[test]
    fn a_spec_prints_as_it_was_given() {
        // The cache key and every message name a key by this text.
        for s in [
            "keys/ci.pem",
            "pkcs11:token=ci;object=batch?module-path=/usr/lib/x.so",
            "ssh-agent:SHA256:abc",
            "ssh-agent:",
        ] {
            assert_eq!(KeySpec::parse(s).to_string(), s);
        }
        assert_eq!(
            KeySpec::parse("ssh-agent:SHA256:abc"),
            KeySpec::Agent("SHA256:abc".into())
        );
        // Only a scheme at the start counts: this is a relative file name.
        assert_eq!(KeySpec::parse("./pkcs11:x").file(), Some(Path::new("./pkcs11:x")));
    }

    #[cfg(not(feature = "pkcs11"))]
    #[test]
    fn a_pkcs11_spec_without_the_feature_says_so() {
        let e = KeySpec::parse("pkcs11:object=k")
            .open(None, &KeySourceOptions::default())
            .unwrap_err();
        assert!(matches!(e, KeyError::NotBuilt { feature: "pkcs11", .. }), "{e}");
    }

    #[cfg(not(feature = "agent"))]
    #[test]
    fn an_agent_spec_without_the_feature_says_so() {
        let e = KeySpec::parse("ssh-agent:ci")
            .open(None, &KeySourceOptions::default())
            .unwrap_err();
        assert!(e.to_string().contains("built without ssh-agent support"), "{e}");
    }
}
