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
    /// A value does not parse. Named as the user gave it: the flag (`--lifetime`) when it came
    /// from the command line, the variable when from the environment, else the setting with its
    /// origin (a profile's `lifetime = …`).
    #[error("invalid {} '{value}'{}: {reason}", given_as(.key, .origin), origin_suffix(.origin))]
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

/// How an [`ConfigError::Invalid`] names the value: as it was typed, where that is known.
fn given_as(key: &str, origin: &Origin) -> String {
    match origin {
        Origin::Flag => format!("--{}", key.replace('_', "-")),
        Origin::Env(var) => (*var).to_string(),
        _ => key.to_string(),
    }
}

/// The origin in parentheses, unless [`given_as`] already says it.
fn origin_suffix(origin: &Origin) -> String {
    match origin {
        Origin::Flag | Origin::Env(_) => String::new(),
        o => format!(" ({o})"),
    }
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

impl Origin {
    /// Who set a value, for an error about something the user did not type: `the entra-id
    /// template`, `profile 'ci' (/home/me/.config/signet/config.toml:4)`. `None` for a flag, an
    /// environment variable, a default or a derived value, whose messages name the flag itself.
    pub fn asker(&self) -> Option<String> {
        match self {
            Origin::Template(t) => Some(format!("the {t} template")),
            Origin::Profile { name, file, line } => Some(format!("profile '{name}' ({}:{line})", file.display())),
            _ => None,
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
    /// `help` followed by the environment variables and default, as [`Key::help`] returns it:
    /// joined at compile time, so that building the command line formats nothing.
    pub full_help: &'static str,
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
                full_help: {
                    const PARTS: [&str; HELP_PARTS] = help_parts($help, $env, $content_env, $default);
                    const BYTES: [u8; joined_len(&PARTS)] = join(&PARTS);
                    match std::str::from_utf8(&BYTES) {
                        Ok(s) => s,
                        Err(_) => panic!("help texts are UTF-8"),
                    }
                },
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
        "Assertion lifetime: seconds, or with a unit (90s, 2m)";
    WarnExpiry = "warn_expiry", Str, None, None, Some("14"), "DAYS",
        "Warn when the certificate expires within this many days (or with a unit: 36h, 2d; 0: never)";
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
        "Lifetime assumed when the answer gives none (seconds, or 10m, 1h)";
    Timeout = "timeout", Str, Some(EnvVars::TIMEOUT), None, Some("30"), "SECS",
        "Whole-exchange time limit, retries included (seconds, or 2m)";
    Retries = "retries", Str, Some(EnvVars::RETRIES), None, Some("3"), "N",
        "Retries after a connection failure, a timeout, 408, 429 or 5xx (backoff from 0.5 s; Retry-After honoured)";
    CaFile = "ca_file", Path, Some(EnvVars::CA_FILE), None, None, "PATH",
        "Extra trusted CA certificates, PEM";
    Dpop = "dpop", Bool, None, None, None, "",
        "DPoP (RFC 9449): a proof on every token request, binding the token to a key signet holds";
    DpopKey = "dpop_key", Path, None, None, None, "PATH",
        "Key file for DPoP proofs (default: a P-256 key generated for the cache entry and kept in it)";
    Mtls = "mtls", Bool, None, None, None, "",
        "Present the key and certificate as the TLS client certificate of the token request (RFC 8705)";
    ClientAuth = "client_auth", Str, None, None, Some("assertion"), "METHOD",
        "How the client authenticates: assertion, or tls (the TLS client certificate alone; implies --mtls)";
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
        "Refetch a cached token with less than this left (seconds, or 5m)";
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

    /// The flag's help: the table's text, then the setting's environment variables and default
    /// (what [`Key::help_as`] would make of the table's text, joined at compile time: `signet
    /// --version` spent ~0.4 ms formatting ~250 of these at start-up).
    // The row's `help` field is the bare text; this is the whole help, by design.
    #[allow(clippy::misnamed_getters)]
    pub const fn help(self) -> &'static str {
        self.setting().full_help
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

/// How many pieces [`help_parts`] cuts a help into.
const HELP_PARTS: usize = 10;

/// The pieces of [`Key::help_as`]'s result, for joining at compile time: the text, then
/// ` [env: VAR]`, ` [default: VALUE]` and ` [env: VAR, the value itself]` where they apply.
const fn help_parts(
    text: &'static str,
    env: Option<&'static str>,
    content_env: Option<&'static str>,
    default: Option<&'static str>,
) -> [&'static str; HELP_PARTS] {
    let mut p = [""; HELP_PARTS];
    p[0] = text;
    if let Some(v) = env {
        (p[1], p[2], p[3]) = (" [env: ", v, "]");
    }
    if let Some(d) = default {
        (p[4], p[5], p[6]) = (" [default: ", d, "]");
    }
    if let Some(v) = content_env {
        (p[7], p[8], p[9]) = (" [env: ", v, ", the value itself]");
    }
    p
}

/// The length of `parts` joined.
const fn joined_len(parts: &[&str]) -> usize {
    let (mut n, mut i) = (0, 0);
    while i < parts.len() {
        n += parts[i].len();
        i += 1;
    }
    n
}

/// `parts` joined, as bytes (`N` is [`joined_len`]).
const fn join<const N: usize>(parts: &[&str]) -> [u8; N] {
    let mut out = [0u8; N];
    let (mut at, mut i) = (0, 0);
    while i < parts.len() {
        let b = parts[i].as_bytes();
        let mut j = 0;
        while j < b.len() {
            out[at] = b[j];
            at += 1;
            j += 1;
        }
        i += 1;
    }
    out
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

/// A setting's value as `-v` and `config show` print it. The path of a file that holds a secret
/// (`--key-passphrase-file`, `--cache-key-file`) is shown only when it names a file: one that
/// names none may be the passphrase itself, typed where its file's path belongs.
pub fn shown_value(st: &Setting, value: &str) -> String {
    if st.content_env.is_some() && !std::path::Path::new(value).is_file() {
        return "(names no file; not shown, in case it is the secret itself)".into();
    }
    match st.key {
        Key::Key => crate::key::redact_pin_value(value),
        Key::CacheUrl => without_password(value),
        _ => value.to_string(),
    }
}

/// A URL with its password (if any) shown as `****`.
fn without_password(value: &str) -> String {
    match url::Url::parse(value) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("****"));
            u.to_string()
        }
        _ => value.to_string(),
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

    /// A string setting as a message names it: as the user gave it (`--lifetime 900`,
    /// `SIGNET_ALG=ES256`), or with where it came from (`lifetime = 900 in profile 'ci' (c.toml:3)`,
    /// `the okta template's lifetime 900`), so no message names a flag the user never typed.
    pub fn given(&self, key: Key) -> String {
        let value = self.str(key).unwrap_or_default();
        match self.origin(key) {
            Some(Origin::Flag) | None => format!("{} {value}", key.flag()),
            Some(Origin::Env(var)) => format!("{var}={value}"),
            Some(Origin::Template(t)) => format!("the {t} template's {key} {value}"),
            Some(o @ Origin::Profile { .. }) => {
                format!("{key} = {value} in {}", o.asker().unwrap_or_default())
            }
            Some(o @ Origin::Derived(_)) => format!("{key} {value} ({o})"),
            Some(Origin::Default) => format!("the default {key} {value}"),
        }
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

    /// A duration in seconds: plain seconds or a number with `s`, `m`, `h` or `d` (see
    /// [`parse_duration`]); a bad value names the flag (or its origin) and the accepted forms.
    pub fn secs(&self, key: Key) -> Result<Option<u64>, ConfigError> {
        let Some((Raw::Str(v), origin)) = self.values.get(&key) else {
            return Ok(None);
        };
        let invalid = |reason: String| ConfigError::Invalid {
            key: key.name().into(),
            value: crate::text::sanitize(v, 80),
            origin: origin.clone(),
            reason,
        };
        let n = parse_duration(v, 1).map_err(invalid)?;
        let (max, shown) = max_secs(key);
        if n > max {
            return Err(invalid(format!("it is longer than the maximum, {shown}")));
        }
        Ok(Some(n))
    }

    /// A number of whole days (`14`, or with a unit: `36h` counts as 2 days), else the table's
    /// default: `--warn-expiry`.
    pub fn days_or_default(&self, key: Key) -> Result<u64, ConfigError> {
        let (v, origin) = match self.values.get(&key) {
            Some((Raw::Str(v), origin)) => (v.as_str(), origin.clone()),
            _ => (key.setting().default.unwrap_or("0"), Origin::Default),
        };
        parse_duration(v, 86400)
            .map(|secs| secs.div_ceil(86400))
            .map_err(|reason| ConfigError::Invalid {
                key: key.name().into(),
                value: crate::text::sanitize(v, 80),
                origin,
                reason,
            })
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
        match self.secs(key)? {
            Some(v) => Ok(v),
            // The table's defaults are plain seconds (checked when the crate compiles).
            None => self.parse_or_default::<u64>(key),
        }
    }
}

/// The longest value a duration setting takes, and how a message names it: beyond it a value is
/// a usage error, so no time arithmetic downstream can overflow (`--timeout` of 2^63 s panicked).
pub fn max_secs(key: Key) -> (u64, &'static str) {
    match key {
        Key::Timeout => (86400, "1 day"),
        _ => (366 * 86400, "1 year (366 days)"),
    }
}

/// The one duration parser behind every duration setting and flag: a whole number of `unit`
/// seconds (1 for `--lifetime`, `--timeout`, `--min-ttl`, `--default-ttl`; 86400 for
/// `--warn-expiry`, which counts days), or a whole number followed by `s`, `m`, `h` or `d`
/// (`90`, `2m`, `1h`, `14d`), in seconds. The reason it gives for a bad value lists the forms
/// it takes, since Rust's own ("invalid digit found in string") does not say what would do.
///
/// ```
/// use signet::config::parse_duration;
/// assert_eq!(parse_duration("2m", 1), Ok(120));
/// assert_eq!(parse_duration("90", 1), Ok(90));
/// assert_eq!(parse_duration("14", 86400), Ok(14 * 86400));
/// assert!(parse_duration("2 minutes", 1).unwrap_err().contains("2m"));
/// ```
pub fn parse_duration(text: &str, unit: u64) -> Result<u64, String> {
    let forms = if unit == 86400 {
        "give days, or a number with s, m, h or d (e.g. 14, 36h, 2d)"
    } else {
        "give seconds, or a number with s, m, h or d (e.g. 90, 2m, 1h)"
    };
    let t = text.trim();
    let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, suffix) = t.split_at(digits_end);
    let per = match suffix.trim_start().to_ascii_lowercase().as_str() {
        "" => unit,
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(forms.into()),
    };
    if digits.is_empty() {
        return Err(forms.into());
    }
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(per))
        .ok_or_else(|| format!("it is too long ({forms})"))
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
    fn durations_take_seconds_or_a_unit() {
        for (text, secs) in [
            ("0", 0),
            ("90", 90),
            (" 90 ", 90),
            ("90s", 90),
            ("2m", 120),
            ("2 m", 120),
            ("1h", 3600),
            ("1H", 3600),
            ("2d", 172_800),
            ("007", 7),
        ] {
            assert_eq!(parse_duration(text, 1), Ok(secs), "{text}");
        }
        assert_eq!(parse_duration("14", 86400), Ok(14 * 86400));
        assert_eq!(parse_duration("36h", 86400), Ok(36 * 3600));
        for garbage in [
            "",
            "m",
            "-5",
            "1.5h",
            "2x",
            "2mm",
            "1h30m",
            "ten",
            "+3",
            "2 minutes",
            "0x10",
        ] {
            let e = parse_duration(garbage, 1).unwrap_err();
            assert!(e.contains("seconds") && e.contains("2m"), "{garbage}: {e}");
        }
        assert!(parse_duration("x", 86400).unwrap_err().contains("days"));
        // u64 itself overflows, and so does a unit's multiple of a number that fits.
        for big in ["18446744073709551616", "18446744073709551615m", "213503982334602d"] {
            assert!(parse_duration(big, 1).unwrap_err().contains("too long"), "{big}");
        }
        assert_eq!(parse_duration("18446744073709551615", 1), Ok(u64::MAX));
    }

    #[test]
    fn a_duration_beyond_its_maximum_is_a_usage_error_not_a_panic() {
        for (key, v) in [
            (Key::Timeout, "9223372036854775807"),
            (Key::Timeout, "2d"),
            (Key::MinTtl, "9223372036854775808"),
            (Key::Lifetime, "18446744073709551615"),
            (Key::DefaultTtl, "367d"),
        ] {
            let e = Settings::from_values([(key, v)]).secs_or_default(key).unwrap_err();
            assert!(e.to_string().contains("longer than the maximum"), "{e}");
        }
        assert_eq!(
            Settings::from_values([(Key::Timeout, "1d")])
                .secs_or_default(Key::Timeout)
                .unwrap(),
            86400
        );
    }

    #[test]
    fn a_bad_duration_names_the_flag_and_the_forms() {
        let s = Settings::from_values([(Key::Lifetime, "2 minutes")]);
        let e = s.secs_or_default(Key::Lifetime).unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid --lifetime '2 minutes': give seconds, or a number with s, m, h or d (e.g. 90, 2m, 1h)"
        );
        assert!(!e.contains("invalid digit"));
        assert_eq!(
            Settings::from_values([(Key::Timeout, "1m")])
                .secs_or_default(Key::Timeout)
                .unwrap(),
            60
        );
        let mut env = Layer::new();
        env.insert(Key::Timeout, (Raw::Str("soon".into()), Origin::Env("SIGNET_TIMEOUT")));
        let e = resolve(&[&env]).secs(Key::Timeout).unwrap_err().to_string();
        assert!(e.starts_with("invalid SIGNET_TIMEOUT 'soon': "), "{e}");
        let mut profile = Layer::new();
        let origin = Origin::Profile {
            name: "ci".into(),
            file: "c.toml".into(),
            line: 3,
        };
        profile.insert(Key::MinTtl, (Raw::Str("1x".into()), origin));
        let e = resolve(&[&profile]).secs(Key::MinTtl).unwrap_err().to_string();
        assert!(
            e.starts_with("invalid min_ttl '1x' (profile 'ci' at c.toml:3): "),
            "{e}"
        );
    }

    #[test]
    fn help_names_the_variables_and_default_of_the_table() {
        assert_eq!(
            Key::Timeout.help(),
            "Whole-exchange time limit, retries included (seconds, or 2m) [env: SIGNET_TIMEOUT] [default: 30]"
        );
        assert_eq!(
            Key::Lifetime.help(),
            "Assertion lifetime: seconds, or with a unit (90s, 2m) [default: 120]"
        );
        assert!(Key::KeyPassphraseFile
            .help()
            .ends_with("[env: SIGNET_KEY_PASSPHRASE, the value itself]"));
        assert_eq!(Key::CacheDir.help_as("Where"), "Where [env: SIGNET_CACHE_DIR]");
        for st in SETTINGS {
            // The compile-time join says what the run-time one would.
            assert_eq!(st.full_help, st.key.help_as(st.help), "{}", st.name);
            // Only prose defaults the table cannot hold ("default: the token URL") may be typed.
            assert!(!st.help.is_empty() && !st.help.contains("[env") && !st.help.contains("[default"));
            assert!(st.default.is_none() || !st.help.contains("default"), "{}", st.name);
            assert_eq!(st.value_name.is_empty(), st.kind == Kind::Bool, "{}", st.name);
        }
    }
}
