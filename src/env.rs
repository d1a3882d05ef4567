//! Every environment variable signet reads, registered once.
//!
//! The library never calls `std::env::var` itself: it reads through [`Env`], which the binary fills
//! from the process environment and tests fill from a map. An empty variable counts as unset.

use std::collections::BTreeMap;

/// Names of the environment variables signet reads.
pub struct EnvVars;

#[allow(missing_docs)]
impl EnvVars {
    pub const KEY: &'static str = "SIGNET_KEY";
    /// The passphrase itself (not a file).
    pub const KEY_PASSPHRASE: &'static str = "SIGNET_KEY_PASSPHRASE";
    pub const CERT: &'static str = "SIGNET_CERT";
    pub const KID: &'static str = "SIGNET_KID";
    pub const ALG: &'static str = "SIGNET_ALG";
    pub const CLIENT_ID: &'static str = "SIGNET_CLIENT_ID";
    pub const AUDIENCE: &'static str = "SIGNET_AUDIENCE";
    pub const TEMPLATE: &'static str = "SIGNET_TEMPLATE";
    pub const PROFILE: &'static str = "SIGNET_PROFILE";
    pub const CONFIG: &'static str = "SIGNET_CONFIG";
    pub const TOKEN_URL: &'static str = "SIGNET_TOKEN_URL";
    pub const GRANT: &'static str = "SIGNET_GRANT";
    pub const SCOPE: &'static str = "SIGNET_SCOPE";
    pub const TIMEOUT: &'static str = "SIGNET_TIMEOUT";
    pub const RETRIES: &'static str = "SIGNET_RETRIES";
    pub const CA_FILE: &'static str = "SIGNET_CA_FILE";
    pub const CACHE_DIR: &'static str = "SIGNET_CACHE_DIR";
    pub const CACHE_URL: &'static str = "SIGNET_CACHE_URL";
    pub const CACHE_KEY: &'static str = "SIGNET_CACHE_KEY";
    pub const CACHE_PASSWORD: &'static str = "SIGNET_CACHE_PASSWORD";
    pub const PKCS11_MODULE: &'static str = "SIGNET_PKCS11_MODULE";
    pub const PKCS11_PIN: &'static str = "SIGNET_PKCS11_PIN";
    /// The assertion for `--assertion-from gitlab` when `--assertion-env` names no other variable.
    pub const ID_TOKEN: &'static str = "SIGNET_ID_TOKEN";
    /// Set by GitHub Actions: masks tokens in the log, and names the OIDC endpoint.
    pub const GITHUB_ACTIONS: &'static str = "GITHUB_ACTIONS";
    pub const ACTIONS_ID_TOKEN_REQUEST_URL: &'static str = "ACTIONS_ID_TOKEN_REQUEST_URL";
    pub const ACTIONS_ID_TOKEN_REQUEST_TOKEN: &'static str = "ACTIONS_ID_TOKEN_REQUEST_TOKEN";
    /// The ssh-agent socket, for `--key ssh-agent:…`.
    pub const SSH_AUTH_SOCK: &'static str = "SSH_AUTH_SOCK";
    /// Set by kubectl for a credential plugin: JSON whose `apiVersion` is the ExecCredential
    /// version `--format exec-credential` answers in.
    pub const KUBERNETES_EXEC_INFO: &'static str = "KUBERNETES_EXEC_INFO";
    /// Where `signet curl` looks for curl. Not in [`EnvVars::ALL`]: tests keep the harness's PATH.
    pub const PATH: &'static str = "PATH";
    /// Set, not read: `signet exec` gives the child `SIGNET_TOKEN_TYPE=DPoP` with a DPoP-bound
    /// token (the scheme its `Authorization` header needs), and removes it otherwise.
    pub const TOKEN_TYPE: &'static str = "SIGNET_TOKEN_TYPE";
    /// Where the default cache and config folders are.
    pub const XDG_CACHE_HOME: &'static str = "XDG_CACHE_HOME";
    pub const XDG_CONFIG_HOME: &'static str = "XDG_CONFIG_HOME";
    pub const HOME: &'static str = "HOME";

    /// Every variable signet reads (besides one a profile names in `passphrase_env`), for tests
    /// that must run with a clean environment.
    pub const ALL: &'static [&'static str] = &[
        Self::KEY,
        Self::KEY_PASSPHRASE,
        Self::CERT,
        Self::KID,
        Self::ALG,
        Self::CLIENT_ID,
        Self::AUDIENCE,
        Self::TEMPLATE,
        Self::PROFILE,
        Self::CONFIG,
        Self::TOKEN_URL,
        Self::GRANT,
        Self::SCOPE,
        Self::TIMEOUT,
        Self::RETRIES,
        Self::CA_FILE,
        Self::CACHE_DIR,
        Self::CACHE_URL,
        Self::CACHE_KEY,
        Self::CACHE_PASSWORD,
        Self::PKCS11_MODULE,
        Self::PKCS11_PIN,
        Self::ID_TOKEN,
        Self::GITHUB_ACTIONS,
        Self::ACTIONS_ID_TOKEN_REQUEST_URL,
        Self::ACTIONS_ID_TOKEN_REQUEST_TOKEN,
        Self::SSH_AUTH_SOCK,
        Self::KUBERNETES_EXEC_INFO,
        Self::XDG_CACHE_HOME,
        Self::XDG_CONFIG_HOME,
        Self::HOME,
    ];
}

/// A snapshot of the environment: the process's, or a map built by a test.
#[derive(Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl std::fmt::Debug for Env {
    // Values may be secrets (SIGNET_KEY_PASSPHRASE): show names only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.vars.keys()).finish()
    }
}

impl Env {
    /// The process environment (only variables whose names and values are valid UTF-8).
    #[allow(clippy::disallowed_methods)]
    pub fn from_process() -> Self {
        Env {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    /// An environment made from pairs, for tests and embedding.
    ///
    /// ```
    /// use signet::env::Env;
    /// let env = Env::from_pairs([("SIGNET_KID", "abc"), ("SIGNET_ALG", "")]);
    /// assert_eq!(env.get("SIGNET_KID"), Some("abc"));
    /// assert_eq!(env.get("SIGNET_ALG"), None); // empty counts as unset
    /// ```
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        Env {
            vars: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
        }
    }

    /// The value of a variable; `None` when it is unset or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }
}
