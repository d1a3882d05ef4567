//! Settings and where each came from: flag > environment variable > profile > template > default.
//!
//! Every input is registered once in [`SETTINGS`] with its environment variable and default. The
//! layers are plain maps of raw values; [`resolve`] merges them and remembers each value's
//! [`Origin`], so `signet config show` can say where a value came from.

use crate::env::{Env, EnvVars};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

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
    /// Environment variable, if any.
    pub env: Option<&'static str>,
    /// Value shape.
    pub kind: Kind,
    /// Built-in default, if any.
    pub default: Option<&'static str>,
}

/// The settings table: one line per setting, giving its key, config name, environment variable,
/// shape and default. `Key` and [`SETTINGS`] are both made from it, so a setting is looked up by
/// a typed key (a typo does not compile) and its facts are written once.
macro_rules! settings_table {
    ($($variant:ident = $name:literal, $env:expr, $kind:ident, $default:expr;)*) => {
        /// A setting's name, typed.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[allow(missing_docs)]
        pub enum Key { $($variant,)* }

        /// Every setting signet knows, in the order `config show` lists them.
        pub const SETTINGS: &[Setting] = &[
            $(Setting { key: Key::$variant, name: $name, env: $env, kind: Kind::$kind, default: $default },)*
        ];
    };
}

settings_table! {
    Template = "template", Some(EnvVars::TEMPLATE), Str, None;
    Var = "var", None, Map, None;
    Key = "key", Some(EnvVars::KEY), Path, None;
    AssertionFile = "assertion_file", None, Path, None;
    AssertionFrom = "assertion_from", None, Str, None;
    AssertionEnv = "assertion_env", None, Str, None;
    KeyPassphraseFile = "key_passphrase_file", None, Path, None;
    PassphraseEnv = "passphrase_env", None, Str, None;
    Cert = "cert", Some(EnvVars::CERT), Path, None;
    NextKey = "next_key", None, Path, None;
    NextCert = "next_cert", None, Path, None;
    Kid = "kid", Some(EnvVars::KID), Str, None;
    KidFrom = "kid_from", None, Str, None;
    X5t = "x5t", None, Bool, None;
    X5tS256 = "x5t_s256", None, Bool, None;
    X5c = "x5c", None, Bool, None;
    Alg = "alg", Some(EnvVars::ALG), Str, None;
    ClientId = "client_id", Some(EnvVars::CLIENT_ID), Str, None;
    Issuer = "issuer", None, Str, None;
    Subject = "subject", None, Str, None;
    Audience = "audience", Some(EnvVars::AUDIENCE), Str, None;
    Lifetime = "lifetime", None, Str, Some("120");
    Claim = "claim", None, Map, None;
    TokenUrl = "token_url", Some(EnvVars::TOKEN_URL), Str, None;
    Grant = "grant", Some(EnvVars::GRANT), Str, Some("client-credentials");
    Scope = "scope", Some(EnvVars::SCOPE), List, None;
    Param = "param", None, Map, None;
    TokenPath = "token_path", None, Str, Some("/access_token");
    RequestHeader = "request_header", None, Map, None;
    DefaultTtl = "default_ttl", None, Str, Some("600");
    Timeout = "timeout", Some(EnvVars::TIMEOUT), Str, Some("30");
    CaFile = "ca_file", Some(EnvVars::CA_FILE), Path, None;
    CacheDir = "cache_dir", Some(EnvVars::CACHE_DIR), Path, None;
    CacheUrl = "cache_url", Some(EnvVars::CACHE_URL), Str, Some("file:");
    CacheKeyFile = "cache_key_file", None, Path, None;
    NoCache = "no_cache", None, Bool, None;
    ForceRefresh = "force_refresh", None, Bool, None;
    MinTtl = "min_ttl", None, Str, Some("60");
    Format = "format", None, Str, Some("raw");
    HeaderName = "header_name", None, Str, None;
}

impl Key {
    /// The setting's row in [`SETTINGS`].
    pub fn setting(self) -> &'static Setting {
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
}

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

/// The environment as a layer.
pub fn env_layer(env: &Env) -> Layer {
    let mut l = Layer::new();
    for st in SETTINGS {
        if let Some(var) = st.env {
            if let Some(v) = env.get(var) {
                let raw = match st.kind {
                    Kind::List => Raw::List(v.split_whitespace().map(String::from).collect()),
                    _ => Raw::Str(v.to_string()),
                };
                l.insert(st.key, (raw, Origin::Env(var)));
            }
        }
    }
    l
}

/// Merges layers, highest precedence first, then the built-in defaults.
pub fn resolve(layers: &[&Layer]) -> Settings {
    let mut out = Layer::new();
    for st in SETTINGS {
        if st.kind == Kind::Map {
            let mut merged: Vec<(String, String)> = Vec::new();
            let mut origin = None;
            // Lowest layer first so that higher layers overwrite per key but keep first-seen order.
            for layer in layers.iter().rev() {
                if let Some((Raw::Map(pairs), o)) = layer.get(&st.key) {
                    for (k, v) in pairs {
                        match merged.iter_mut().find(|(mk, _)| mk == k) {
                            Some(slot) => slot.1 = v.clone(),
                            None => merged.push((k.clone(), v.clone())),
                        }
                    }
                    origin = Some(o.clone());
                }
            }
            if let Some(o) = origin {
                out.insert(st.key, (Raw::Map(merged), o));
            }
            continue;
        }
        if let Some(v) = layers.iter().find_map(|l| l.get(&st.key)) {
            out.insert(st.key, v.clone());
        } else if let Some(d) = st.default {
            out.insert(st.key, (Raw::Str(d.into()), Origin::Default));
        }
    }
    Settings { values: out }
}

/// Resolved settings with typed accessors whose errors name the value's origin.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    values: Layer,
}

impl Settings {
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

    /// Sets a derived value (e.g. the audience from the token URL).
    pub fn set(&mut self, key: Key, raw: Raw, origin: Origin) {
        self.values.insert(key, (raw, origin));
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

/// The config file's path: `--config`, else `SIGNET_CONFIG`, else `<user config dir>/signet/config.toml`.
pub fn config_path(flag: Option<&Path>, env: &Env) -> Option<(PathBuf, Origin)> {
    if let Some(p) = flag {
        return Some((p.to_path_buf(), Origin::Flag));
    }
    if let Some(p) = env.get(EnvVars::CONFIG) {
        return Some((PathBuf::from(p), Origin::Env(EnvVars::CONFIG)));
    }
    let base = env.get(EnvVars::XDG_CONFIG_HOME).map(PathBuf::from).or_else(|| {
        env.get(EnvVars::HOME)
            .map(|h| PathBuf::from(h).join(".config"))
            .or_else(dirs::config_dir)
    })?;
    Some((base.join("signet").join("config.toml"), Origin::Default))
}

/// A profile read from the config file, as a layer.
#[derive(Debug, Default)]
pub struct Profile {
    /// The values.
    pub layer: Layer,
    /// Warnings (a config file readable by others that names a key).
    pub warnings: Vec<String>,
}

/// Reads profile `name` from `path`. `explicit` says whether the user asked for this profile
/// (then a missing file or profile is an error) or it is the implicit `default`.
pub fn load_profile(path: &Path, name: &str, explicit: bool) -> Result<Option<Profile>, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => return Ok(None),
        Err(e) => {
            return Err(ConfigError::Read {
                path: path.into(),
                reason: crate::text::io_reason(&e),
            })
        }
    };
    parse_profile(&text, path, name, explicit)
}

/// Reads profile `name` from the text of a config file; `path` names it in errors and anchors
/// relative paths.
pub fn parse_profile(text: &str, path: &Path, name: &str, explicit: bool) -> Result<Option<Profile>, ConfigError> {
    let text = text.to_string();
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let doc: toml::Spanned<toml::Table> = toml::from_str(&text).map_err(|e| ConfigError::Syntax {
        path: path.into(),
        line: e.span().map(|s| line_of(s.start)).unwrap_or(1),
        reason: e.message().to_string(),
    })?;
    // Re-parse with spans for line numbers of each value.
    let spanned: BTreeMap<String, toml::Spanned<toml::Value>> =
        toml::from_str(&text).map_err(|e| ConfigError::Syntax {
            path: path.into(),
            line: 1,
            reason: e.message().to_string(),
        })?;
    for k in doc.get_ref().keys() {
        if k != "profile" {
            return Err(ConfigError::Syntax {
                path: path.into(),
                line: spanned.get(k).map(|s| line_of(s.span().start)).unwrap_or(1),
                reason: format!("unknown top-level key '{k}' (settings go under [profile.NAME])"),
            });
        }
    }
    let profiles = match doc.get_ref().get("profile") {
        Some(toml::Value::Table(t)) => t.clone(),
        Some(_) => {
            return Err(ConfigError::Syntax {
                path: path.into(),
                line: 1,
                reason: "'profile' must be a table of profiles".into(),
            })
        }
        None => toml::Table::new(),
    };
    let Some(toml::Value::Table(table)) = profiles.get(name) else {
        if !explicit {
            return Ok(None);
        }
        let known: Vec<&str> = profiles.keys().map(String::as_str).collect();
        return Err(ConfigError::NoProfile {
            name: name.into(),
            path: path.into(),
            known: if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            },
        });
    };
    // Find each key's line by scanning the [profile.NAME] section(s) of the text.
    let lines = key_lines(&text, name);
    let base = path.parent().unwrap_or(Path::new("."));
    let mut layer = Layer::new();
    let mut names_key = false;
    for (k, v) in table {
        let line = lines.get(k.as_str()).copied().unwrap_or(1);
        let err = |reason: String| ConfigError::Syntax {
            path: path.into(),
            line,
            reason,
        };
        let origin = Origin::Profile {
            name: name.into(),
            file: path.into(),
            line,
        };
        let key: &str = match k.as_str() {
            "vars" => "var",
            "passphrase_file" => "key_passphrase_file",
            "passphrase" | "key_passphrase" | "pin" => {
                return Err(err(format!(
                    "'{k}' cannot hold a passphrase literally: use key_passphrase_file = \"PATH\" or passphrase_env = \"VAR\""
                )))
            }
            other => other,
        };
        let Some(st) = setting(key) else {
            return Err(err(format!("unknown key '{k}' in profile '{name}'")));
        };
        let raw = match (st.kind, v) {
            (Kind::Str, toml::Value::String(s)) => Raw::Str(s.clone()),
            (Kind::Str, toml::Value::Integer(i)) => Raw::Str(i.to_string()),
            (Kind::Path, toml::Value::String(s)) => {
                let p = Path::new(s);
                // A key that is not a file (`pkcs11:…`) is not a path to resolve from the config folder.
                let p = if p.is_relative() && crate::key::KeySpec::parse(s).file().is_some() {
                    base.join(p)
                } else {
                    p.to_path_buf()
                };
                if st.key == Key::Key {
                    names_key = true;
                }
                Raw::Str(p.to_string_lossy().into_owned())
            }
            (Kind::Bool, toml::Value::Boolean(b)) => Raw::Bool(*b),
            (Kind::List, toml::Value::String(s)) => Raw::List(s.split_whitespace().map(String::from).collect()),
            (Kind::List, toml::Value::Array(a)) => Raw::List(
                a.iter()
                    .map(|x| {
                        x.as_str()
                            .map(String::from)
                            .ok_or_else(|| err(format!("'{k}' must be a list of strings")))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            (Kind::Map, toml::Value::Table(t)) => Raw::Map(
                t.iter()
                    .map(|(mk, mv)| {
                        let val = match mv {
                            toml::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        (mk.clone(), val)
                    })
                    .collect(),
            ),
            (Kind::Map, toml::Value::Array(a)) => Raw::Map(
                a.iter()
                    .map(|x| {
                        let s = x
                            .as_str()
                            .ok_or_else(|| err(format!("'{k}' must be a table or a list of \"KEY=VALUE\"")))?;
                        split_kv(s, k).map_err(|e| err(e.to_string()))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            (kind, other) => {
                let want = match kind {
                    Kind::Str | Kind::Path => "a string",
                    Kind::Bool => "true or false",
                    Kind::List => "a string or a list of strings",
                    Kind::Map => "a table",
                };
                return Err(err(format!("'{k}' must be {want}, not {}", other.type_str())));
            }
        };
        let raw = if st.key == Key::Template {
            // A template named by path resolves against the config file too.
            match raw {
                Raw::Str(t) if (t.contains('/') || t.ends_with(".toml")) && Path::new(&t).is_relative() => {
                    Raw::Str(base.join(t).to_string_lossy().into_owned())
                }
                r => r,
            }
        } else {
            raw
        };
        layer.insert(st.key, (raw, origin));
    }
    let mut warnings = Vec::new();
    #[cfg(unix)]
    if names_key {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(path) {
            if m.permissions().mode() & 0o044 != 0 {
                warnings.push(format!(
                    "{} names a private key and is readable by group or others; consider chmod 600",
                    path.display()
                ));
            }
        }
    }
    Ok(Some(Profile { layer, warnings }))
}

/// Lines of the keys directly under `[profile.NAME]` (and its `.vars` sub-table).
fn key_lines(text: &str, name: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    let mut in_section = false;
    let headers = [format!("[profile.{name}]"), format!("[profile.\"{name}\"]")];
    let vars_headers = [format!("[profile.{name}.vars]"), format!("[profile.\"{name}\".vars]")];
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('[') {
            let h: String = t.chars().filter(|c| !c.is_whitespace()).collect();
            in_section = headers.contains(&h);
            if vars_headers.contains(&h) {
                out.entry("vars".to_string()).or_insert(i + 1);
            }
            continue;
        }
        if in_section {
            if let Some((k, _)) = t.split_once('=') {
                let k = k.trim().trim_matches('"').to_string();
                out.entry(k).or_insert(i + 1);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(pairs: &[(Key, &str)], origin: Origin) -> Layer {
        pairs
            .iter()
            .map(|(k, v)| (*k, (Raw::Str(v.to_string()), origin.clone())))
            .collect()
    }

    #[test]
    fn higher_layer_wins_and_defaults_fill_in() {
        let flags = layer(&[(Key::Alg, "PS256")], Origin::Flag);
        let env = env_layer(&Env::from_pairs([
            ("SIGNET_ALG", "RS256"),
            ("SIGNET_KID", "k"),
            ("SIGNET_SCOPE", ""),
        ]));
        let s = resolve(&[&flags, &env]);
        assert_eq!(s.str(Key::Alg), Some("PS256"));
        assert_eq!(s.origin(Key::Alg), Some(&Origin::Flag));
        assert_eq!(s.str(Key::Kid), Some("k"));
        assert_eq!(s.origin(Key::Kid), Some(&Origin::Env("SIGNET_KID")));
        assert_eq!(s.list(Key::Scope), Vec::<String>::new());
        assert_eq!(s.str(Key::Timeout), Some("30"));
        assert_eq!(s.origin(Key::Timeout), Some(&Origin::Default));
    }

    #[test]
    fn maps_merge_per_key() {
        let mut hi = Layer::new();
        hi.insert(Key::Var, (Raw::Map(vec![("tenant".into(), "a".into())]), Origin::Flag));
        let mut lo = Layer::new();
        lo.insert(
            Key::Var,
            (
                Raw::Map(vec![("tenant".into(), "b".into()), ("x".into(), "1".into())]),
                Origin::Default,
            ),
        );
        let s = resolve(&[&hi, &lo]);
        assert_eq!(
            s.map(Key::Var),
            vec![("tenant".into(), "a".into()), ("x".into(), "1".into())]
        );
    }

    #[test]
    fn numbers_name_their_origin_when_bad() {
        let flags = layer(&[(Key::Timeout, "soon")], Origin::Flag);
        let e = resolve(&[&flags]).secs(Key::Timeout).unwrap_err().to_string();
        assert!(e.contains("timeout") && e.contains("flag"), "{e}");
    }
}
