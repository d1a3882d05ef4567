//! Settings and where each came from: flag > environment variable > profile > template > default.
//!
//! Every input is registered once in [`SETTINGS`] with its environment variable, default and
//! help. The layers are plain maps of raw values; [`resolve_layers`] picks the config file and
//! profile, and [`resolve`] merges the layers and remembers each value's [`Origin`], so
//! `signet config show` can say where a value came from.

mod layers;
mod profile;

pub use layers::{env_layer, log_settings, resolve};
pub use profile::{config_path, load_profile, parse_profile, Profile};

use crate::env::EnvVars;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// A configuration problem (exit 2).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A value does not parse.
    #[error("invalid {key} '{value}' ({origin}): {reason}")]
    Invalid {
        /// Setting name.
        key: String,
        /// The value (never a secret).
        value: String,
        /// Where it came from.
        origin: Origin,
        /// Why.
        reason: String,
    },
    /// A required setting is missing.
    #[error("{what} is required: {how}")]
    Missing {
        /// What.
        what: String,
        /// How to give it.
        how: String,
    },
    /// The config file cannot be read.
    #[error("cannot read config file {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The config file is not valid TOML or has a wrong structure.
    #[error("{path}:{line}: {reason}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// Why.
        reason: String,
    },
    /// The profile does not exist.
    #[error("profile '{name}' not found in {path} (profiles there: {known})")]
    NoProfile {
        /// Requested profile.
        name: String,
        /// The file.
        path: PathBuf,
        /// Profiles that exist.
        known: String,
    },
    /// A template problem.
    #[error("{0}")]
    Template(String),
    /// Flags that disagree or are out of range.
    #[error("{0}")]
    Usage(String),
}

/// Where a setting's value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A command-line flag.
    Flag,
    /// An environment variable.
    Env(&'static str),
    /// A profile in the config file.
    Profile {
        /// Profile name.
        name: String,
        /// The config file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
    },
    /// A provider template.
    Template(String),
    /// Derived from another setting or the key (e.g. audience = token URL).
    Derived(&'static str),
    /// signet's built-in default.
    Default,
}

impl Origin {
    /// The layer's place in the one order signet resolves everything in (flag > environment >
    /// profile > template > default): a higher rank wins. Used where two settings compete for
    /// one thing, such as `--kid` and `--kid-from`.
    pub fn rank(&self) -> u8 {
        match self {
            Origin::Flag => 5,
            Origin::Env(_) => 4,
            Origin::Profile { .. } => 3,
            Origin::Template(_) => 2,
            Origin::Derived(_) => 1,
            Origin::Default => 0,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Flag => f.write_str("flag"),
            Origin::Env(v) => write!(f, "env {v}"),
            Origin::Profile { name, file, line } => write!(f, "profile '{name}' at {}:{line}", file.display()),
            Origin::Template(t) => write!(f, "template {t}"),
            Origin::Derived(what) => write!(f, "derived from {what}"),
            Origin::Default => f.write_str("default"),
        }
    }
}

/// The shape of a setting's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// One string (numbers too, parsed on use).
    Str,
    /// A file path (resolved against the config file's folder when given in a profile).
    Path,
    /// A list of strings (scopes).
    List,
    /// A flag.
    Bool,
    /// KEY=VALUE pairs merged across layers (claims, params, vars, request headers).
    Map,
}

/// One registered setting.
#[derive(Clone, Copy, Debug)]
pub struct Setting {
    /// Which setting.
    pub key: Key,
    /// Name (the long flag in snake_case; the config key).
    pub name: &'static str,
    /// Value shape.
    pub kind: Kind,
    /// Environment variable read as this setting's layer, if any.
    pub env: Option<&'static str>,
    /// Environment variable that holds what this setting's file holds (the passphrase itself, the
    /// cache key itself). It is never read as a layer, since its value is not a path: the code
    /// that would read the file reads it instead.
    pub content_env: Option<&'static str>,
    /// Built-in default, as a flag would give it.
    pub default: Option<&'static str>,
    /// What the flag's value is called in help (`SECS`, `PATH`); empty for an on/off flag.
    pub value_name: &'static str,
    /// The flag's help, without its environment variable or default (see [`Key::help`]).
    pub help: &'static str,
}

/// The settings table: one line per setting, giving its key, config name, shape, environment
/// variable, content variable, default, value name and help. `Key` and [`SETTINGS`] are both
/// made from it, so a setting is looked up by a typed key (a typo does not compile), and its
/// default and variables are written here only: the library's default constants are read from
/// it at compile time ([`default_secs`], [`default_str`]) and the CLI's help from [`Key::help`].
macro_rules! settings_table {
    ($($variant:ident = $name:literal, $kind:ident, $env:expr, $content_env:expr, $default:expr, $value_name:literal,
        $help:literal;)*) => {
        /// A setting's name, typed.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[allow(missing_docs)]
        pub enum Key { $($variant,)* }

        /// Every setting signet knows, in the order `config show` lists them.
        pub const SETTINGS: &[Setting] = &[
            $(Setting {
                key: Key::$variant,
                name: $name,
                kind: Kind::$kind,
                env: $env,
                content_env: $content_env,
                default: $default,
                value_name: $value_name,
                help: $help,
            },)*
        ];
    };
}

// key = name, kind, env, content env, default, value name, help;
settings_table! {
    Template = "template", Str, Some(EnvVars::TEMPLATE), None, None, "NAME|PATH",
        "Provider template name or .toml path";
    Var = "var", Map, None, None, None, "KEY=VALUE",
        "Template variable KEY=VALUE, repeatable";
    Key = "key", Path, Some(EnvVars::KEY), None, None, "PATH",
        "Private key: PEM, encrypted PEM, PKCS#12/PFX or service-account JSON; twice for rotation (the newest valid certificate signs; the other is tried once if refused)";
    AssertionFile = "assertion_file", Path, None, None, None, "PATH",
        "Send this file's JWT as the assertion instead of signing one (re-read on every attempt)";
    AssertionFrom = "assertion_from", Str, None, None, None, "SOURCE",
        "Get the assertion from the CI's OIDC provider: github-actions or gitlab (workload identity federation)";
    AssertionEnv = "assertion_env", Str, None, None, None, "NAME",
        "Environment variable holding the assertion (GitLab id_tokens; default SIGNET_ID_TOKEN)";
    KeyPassphraseFile = "key_passphrase_file", Path, None, Some(EnvVars::KEY_PASSPHRASE), None, "PATH",
        "File holding the key's passphrase; never a flag value";
    PassphraseEnv = "passphrase_env", Str, None, None, None, "NAME",
        "Environment variable holding the key's passphrase (config profiles only)";
    Cert = "cert", Path, Some(EnvVars::CERT), None, None, "PATH",
        "X.509 certificate, PEM or DER";
    NextKey = "next_key", Path, None, None, None, "PATH",
        "The second --key (rotation)";
    NextCert = "next_cert", Path, None, None, None, "PATH",
        "The second --cert (rotation)";
    Kid = "kid", Str, Some(EnvVars::KID), None, None, "KID",
        "Explicit kid header";
    KidFrom = "kid_from", Str, None, None, None, "RULE",
        "Derive the kid: hex-sha1, x5t, x5t-s256, jwk, spki-s256 or none";
    X5t = "x5t", Bool, None, None, None, "",
        "Add the x5t header (base64url SHA-1 of the certificate)";
    X5tS256 = "x5t_s256", Bool, None, None, None, "",
        "Add the x5t#S256 header (base64url SHA-256 of the certificate)";
    X5c = "x5c", Bool, None, None, None, "",
        "Add the x5c header (the certificate chain)";
    Alg = "alg", Str, Some(EnvVars::ALG), None, None, "ALG",
        "RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA";
    ClientId = "client_id", Str, Some(EnvVars::CLIENT_ID), None, None, "ID",
        "Client id: default iss and sub";
    Issuer = "issuer", Str, None, None, None, "ISS",
        "Override iss";
    Subject = "subject", Str, None, None, None, "SUB",
        "Override sub (e.g. the user for bearer-header or JWT-bearer)";
    Audience = "audience", Str, Some(EnvVars::AUDIENCE), None, None, "AUD",
        "Audience (default: the token URL)";
    Lifetime = "lifetime", Str, None, None, Some("120"), "SECS",
        "Assertion lifetime in seconds";
    WarnExpiry = "warn_expiry", Str, None, None, Some("14"), "DAYS",
        "Warn when the certificate expires within this many days";
    Claim = "claim", Map, None, None, None, "KEY=VALUE",
        "Extra claim KEY=VALUE (VALUE as JSON when it parses), repeatable; not iss/sub/aud/exp/iat/nbf/jti";
    NoNbf = "no_nbf", Bool, None, None, None, "",
        "Leave nbf out of the assertion (MSAL and google-auth send none; some validators refuse a fresh nbf)";
    TokenUrl = "token_url", Str, Some(EnvVars::TOKEN_URL), None, None, "URL",
        "Token endpoint (https, or http on loopback)";
    Grant = "grant", Str, Some(EnvVars::GRANT), None, Some("client-credentials"), "GRANT",
        "The grant: how the assertion travels";
    Scope = "scope", List, Some(EnvVars::SCOPE), None, None, "SCOPE",
        "Scope, repeatable (space-joined)";
    Param = "param", Map, None, None, None, "KEY=VALUE",
        "Extra form (or JSON body) parameter KEY=VALUE, repeatable";
    TokenPath = "token_path", Str, None, None, Some("/access_token"), "POINTER",
        "JSON pointer to the token in the answer; - = the whole body";
    RequestHeader = "request_header", Map, None, None, None, "'NAME: VALUE'",
        "Extra request header 'NAME: VALUE', repeatable";
    DefaultTtl = "default_ttl", Str, None, None, Some("600"), "SECS",
        "Lifetime assumed when the answer gives none";
    Timeout = "timeout", Str, Some(EnvVars::TIMEOUT), None, Some("30"), "SECS",
        "Whole-exchange time limit, retries included";
    Retries = "retries", Str, Some(EnvVars::RETRIES), None, Some("3"), "N",
        "Retries after a connection failure, a timeout, 408, 429 or 5xx (backoff from 0.5 s; Retry-After honoured)";
    CaFile = "ca_file", Path, Some(EnvVars::CA_FILE), None, None, "PATH",
        "Extra trusted CA certificates, PEM";
    CacheDir = "cache_dir", Path, Some(EnvVars::CACHE_DIR), None, None, "DIR",
        "Cache folder";
    CacheUrl = "cache_url", Str, Some(EnvVars::CACHE_URL), None, Some("file:"), "URL",
        "Cache backend: file: (the disk cache) or redis://… / rediss://… (shared by a fleet)";
    CacheKeyFile = "cache_key_file", Path, None, Some(EnvVars::CACHE_KEY), None, "PATH",
        "Key that encrypts entries on a shared cache";
    NoCache = "no_cache", Bool, None, None, None, "",
        "Neither read nor write the cache";
    ForceRefresh = "force_refresh", Bool, None, None, None, "",
        "Ignore a cached token (the new one is still written)";
    MinTtl = "min_ttl", Str, None, None, Some("60"), "SECS",
        "Refetch a cached token with less than this many seconds left";
    Format = "format", Str, None, None, Some("raw"), "FORMAT",
        "Output: raw, json, header or exec-credential";
    HeaderName = "header_name", Str, None, None, None, "NAME",
        "Header name for --format header (e.g. jde-AIS-Auth)";
}

impl Key {
    /// The setting's row in [`SETTINGS`].
    pub const fn setting(self) -> &'static Setting {
        &SETTINGS[self as usize]
    }

    /// The config-file name (the long flag in snake_case).
    pub fn name(self) -> &'static str {
        self.setting().name
    }

    /// The long flag, as messages name it.
    pub fn flag(self) -> String {
        format!("--{}", self.name().replace('_', "-"))
    }

    /// What the flag's value is called in help.
    pub const fn value_name(self) -> &'static str {
        self.setting().value_name
    }

    /// The flag's help: the table's text, then the setting's environment variables and default.
    pub fn help(self) -> String {
        self.help_as(self.setting().help)
    }

    /// `text` as the help of a flag that sets this setting (a command that words it its own way,
    /// such as `cache list --cache-url`), followed by the setting's environment variables and
    /// default, so no help text can name a variable or default other than the table's.
    pub fn help_as(self, text: &str) -> String {
        let st = self.setting();
        let mut h = flag_help(text, st.env, st.default);
        if let Some(v) = st.content_env {
            // After flag_help's own [env: …] the way clap would place it.
            h.push_str(&format!(" [env: {v}, the value itself]"));
        }
        h
    }
}

/// A flag's help as clap writes its own: `text [env: VAR] [default: VALUE]`. For the flags that
/// are not settings (`--config`, `--profile`) as well as for [`Key::help`].
pub fn flag_help(text: &str, env: Option<&str>, default: Option<&str>) -> String {
    let mut h = text.to_string();
    if let Some(v) = env {
        h.push_str(&format!(" [env: {v}]"));
    }
    if let Some(d) = default {
        h.push_str(&format!(" [default: {d}]"));
    }
    h
}

/// A setting's built-in default as a string, read from [`SETTINGS`]; usable in constants.
///
/// # Panics
///
/// When the setting has no default: at compile time when used in a constant.
pub const fn default_str(key: Key) -> &'static str {
    match key.setting().default {
        Some(d) => d,
        None => panic!("this setting has no default in the settings table"),
    }
}

/// A setting's built-in default in whole seconds, parsed from [`SETTINGS`] at compile time when
/// used in a constant, so the library's `DEFAULT_*` constants cannot drift from the table.
///
/// # Panics
///
/// When the setting has no default or it is not a whole number of seconds.
pub const fn default_secs(key: Key) -> u64 {
    let digits = default_str(key).as_bytes();
    assert!(!digits.is_empty(), "an empty default is not a number of seconds");
    let mut n: u64 = 0;
    let mut i = 0;
    while i < digits.len() {
        assert!(
            digits[i].is_ascii_digit(),
            "this default is not a whole number of seconds"
        );
        n = n * 10 + (digits[i] - b'0') as u64;
        i += 1;
    }
    n
}

// The timeout has no library constant of its own: check its default here, when the crate compiles.
const _: u64 = default_secs(Key::Timeout);

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Looks a setting up by its config-file name.
pub fn setting(name: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.name == name)
}

/// A raw value before typing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Raw {
    /// A string.
    Str(String),
    /// A list.
    List(Vec<String>),
    /// A flag.
    Bool(bool),
    /// Ordered pairs.
    Map(Vec<(String, String)>),
}

/// One layer: values with their origins.
pub type Layer = BTreeMap<Key, (Raw, Origin)>;

/// Resolved settings with typed accessors whose errors name the value's origin.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    values: Layer,
}

impl Settings {
    /// Settings from values given by a program (as if by flags), with the defaults filled in:
    /// the way a library user builds a [`crate::TokenPlan`] without a command line. Lists are
    /// split on whitespace, flags are "true"/"false", maps are `k=v` pairs separated by spaces.
    pub fn from_values<V: Into<String>>(values: impl IntoIterator<Item = (Key, V)>) -> Settings {
        let mut layer = Layer::new();
        for (k, v) in values {
            let v: String = v.into();
            let raw = match k.setting().kind {
                Kind::Bool => Raw::Bool(v == "true"),
                Kind::List => Raw::List(v.split_whitespace().map(String::from).collect()),
                Kind::Map => Raw::Map(
                    v.split_whitespace()
                        .filter_map(|p| split_kv(p, k.name()).ok())
                        .collect(),
                ),
                Kind::Str | Kind::Path => Raw::Str(v),
            };
            layer.insert(k, (raw, Origin::Flag));
        }
        resolve(&[&layer])
    }

    /// A string setting.
    pub fn str(&self, key: Key) -> Option<&str> {
        match self.values.get(&key) {
            Some((Raw::Str(s), _)) => Some(s.as_str()),
            _ => None,
        }
    }

    /// A path setting.
    pub fn path(&self, key: Key) -> Option<PathBuf> {
        self.str(key).map(PathBuf::from)
    }

    /// A flag.
    pub fn flag(&self, key: Key) -> bool {
        matches!(self.values.get(&key), Some((Raw::Bool(true), _)))
    }

    /// A list (empty when unset).
    pub fn list(&self, key: Key) -> Vec<String> {
        match self.values.get(&key) {
            Some((Raw::List(l), _)) => l.clone(),
            Some((Raw::Str(s), _)) => s.split_whitespace().map(String::from).collect(),
            _ => vec![],
        }
    }

    /// Pairs (empty when unset).
    pub fn map(&self, key: Key) -> Vec<(String, String)> {
        match self.values.get(&key) {
            Some((Raw::Map(m), _)) => m.clone(),
            _ => vec![],
        }
    }

    /// Where a setting came from.
    pub fn origin(&self, key: Key) -> Option<&Origin> {
        self.values.get(&key).map(|(_, o)| o)
    }

    /// The raw value and origin.
    pub fn get(&self, key: Key) -> Option<&(Raw, Origin)> {
        self.values.get(&key)
    }

    /// Parses a setting with `FromStr`, naming its origin on failure.
    pub fn parse<T: std::str::FromStr>(&self, key: Key) -> Result<Option<T>, ConfigError>
    where
        T::Err: fmt::Display,
    {
        let Some((Raw::Str(v), origin)) = self.values.get(&key) else {
            return Ok(None);
        };
        v.trim().parse::<T>().map(Some).map_err(|e| ConfigError::Invalid {
            key: key.name().into(),
            value: crate::text::sanitize(v, 80),
            origin: origin.clone(),
            reason: e.to_string(),
        })
    }

    /// A non-negative number of seconds.
    pub fn secs(&self, key: Key) -> Result<Option<u64>, ConfigError> {
        self.parse::<u64>(key)
    }

    /// A string setting: the value, else the table's default (which [`resolve`] puts in place,
    /// so the fallback serves only settings made another way), else "".
    pub fn str_or_default(&self, key: Key) -> &str {
        self.str(key).or(key.setting().default).unwrap_or_default()
    }

    /// [`Settings::parse`] for a setting that has a built-in default, which stands in when the
    /// setting is unset: the caller writes no default of its own. A setting with neither a value
    /// nor a default is a missing setting.
    pub fn parse_or_default<T: std::str::FromStr>(&self, key: Key) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        if let Some(v) = self.parse::<T>(key)? {
            return Ok(v);
        }
        let Some(d) = key.setting().default else {
            return Err(ConfigError::Missing {
                what: format!("a value for {}", key.flag()),
                how: format!("give {}", key.flag()),
            });
        };
        d.parse::<T>().map_err(|e| ConfigError::Invalid {
            key: key.name().into(),
            value: d.into(),
            origin: Origin::Default,
            reason: e.to_string(),
        })
    }

    /// [`Settings::secs`] for a setting that has a built-in default.
    pub fn secs_or_default(&self, key: Key) -> Result<u64, ConfigError> {
        self.parse_or_default::<u64>(key)
    }
}

/// Whether a `--template` value names a file rather than a built-in: it contains `/` or ends in
/// `.toml`, as the contract says (an absolute path contains `/`; a Windows path without one must
/// end in `.toml`). The one rule for loading a template and for the config file, which resolves
/// a relative template path against its own folder.
pub fn is_template_path(s: &str) -> bool {
    s.contains('/') || s.ends_with(".toml")
}

/// Splits `KEY=VALUE`.
pub fn split_kv(s: &str, flag: &str) -> Result<(String, String), ConfigError> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(ConfigError::Usage(format!(
            "{flag} '{}' is not KEY=VALUE",
            crate::text::sanitize(s, 60)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_defaults_are_the_tables() {
        assert_eq!(default_secs(Key::Lifetime), 120);
        assert_eq!(crate::assertion::DEFAULT_LIFETIME, 120);
        assert_eq!(crate::token::DEFAULT_TTL, 600);
        assert_eq!(crate::cache::DEFAULT_MIN_TTL, 60);
        assert_eq!(crate::exchange::DEFAULT_RETRIES, 3);
        assert_eq!(default_str(Key::TokenPath), "/access_token");
        // Every default of a value given in seconds reads as seconds, and every other default
        // is something its parser takes.
        for st in SETTINGS {
            if st.value_name == "SECS" {
                assert!(st.default.is_none_or(|d| d.parse::<u64>().is_ok()), "{}", st.name);
            }
        }
        let unset = Settings::default();
        assert_eq!(unset.secs_or_default(Key::Timeout).unwrap(), 30);
        assert_eq!(unset.str_or_default(Key::CacheUrl), "file:");
        assert_eq!(
            unset.parse_or_default::<crate::grant::Grant>(Key::Grant).unwrap(),
            crate::grant::Grant::ClientCredentials
        );
    }

    #[test]
    fn help_names_the_variables_and_default_of_the_table() {
        assert_eq!(
            Key::Timeout.help(),
            "Whole-exchange time limit, retries included [env: SIGNET_TIMEOUT] [default: 30]"
        );
        assert_eq!(Key::Lifetime.help(), "Assertion lifetime in seconds [default: 120]");
        assert!(Key::KeyPassphraseFile
            .help()
            .ends_with("[env: SIGNET_KEY_PASSPHRASE, the value itself]"));
        assert_eq!(Key::CacheDir.help_as("Where"), "Where [env: SIGNET_CACHE_DIR]");
        for st in SETTINGS {
            // Only prose defaults the table cannot hold ("default: the token URL") may be typed.
            assert!(!st.help.is_empty() && !st.help.contains("[env") && !st.help.contains("[default"));
            assert!(st.default.is_none() || !st.help.contains("default"), "{}", st.name);
            assert_eq!(st.value_name.is_empty(), st.kind == Kind::Bool, "{}", st.name);
        }
    }
}
