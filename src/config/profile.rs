//! The config file: where it is, and a profile `[profile.NAME]` in it as a settings layer with
//! the file and line of each value.

use super::{setting, split_kv, ConfigError, Key, Kind, Layer, Origin, Raw};
use crate::env::{Env, EnvVars};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use toml::de::{DeTable, DeValue, ValueDeserializer};

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
    let text = match crate::files::read_text(path, crate::files::FileKind::Config) {
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
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let syntax = |line: usize, reason: String| ConfigError::Syntax {
        path: path.into(),
        line,
        reason,
    };
    // One parse that keeps every key's span: each value's line comes from the parser, not from a
    // second reading of the text.
    let doc = DeTable::parse(text)
        .map_err(|e| syntax(e.span().map(|s| line_of(s.start)).unwrap_or(1), e.message().to_string()))?
        .into_inner();
    let mut profiles = None;
    for (k, v) in &doc {
        if k.get_ref() != "profile" {
            return Err(syntax(
                line_of(k.span().start),
                format!(
                    "unknown top-level key '{}' (settings go under [profile.NAME])",
                    k.get_ref()
                ),
            ));
        }
        profiles = Some(v.get_ref());
    }
    let profiles = match profiles {
        Some(DeValue::Table(t)) => Some(t),
        Some(_) => return Err(syntax(1, "'profile' must be a table of profiles".into())),
        None => None,
    };
    let table = profiles
        .and_then(|p| p.iter().find(|(k, _)| k.get_ref() == name))
        .map(|(_, v)| v.get_ref());
    let Some(DeValue::Table(table)) = table else {
        if !explicit {
            return Ok(None);
        }
        let known: Vec<&str> = profiles
            .into_iter()
            .flatten()
            .map(|(k, _)| k.get_ref().as_ref())
            .collect();
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
    let base = path.parent().unwrap_or(Path::new("."));
    let mut layer = Layer::new();
    let mut names_key = false;
    for (k, v) in table {
        let line = line_of(k.span().start);
        let err = |reason: String| syntax(line, reason);
        let k: &str = k.get_ref();
        // The parsed value, typed as TOML values are (integers as numbers, not as written).
        let v =
            toml::Value::deserialize(ValueDeserializer::from(v.clone())).map_err(|e| err(e.message().to_string()))?;
        let v = &v;
        let origin = Origin::Profile {
            name: name.into(),
            file: path.into(),
            line,
        };
        let key: &str = match k {
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
                Raw::Str(t) if super::is_template_path(&t) && Path::new(&t).is_relative() => {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn line(p: &Profile, key: Key) -> usize {
        match p.layer.get(&key) {
            Some((_, Origin::Profile { line, .. })) => *line,
            other => panic!("{key}: {other:?}"),
        }
    }

    #[test]
    fn each_value_names_its_own_line() {
        let text = "[profile.other]\nalg = \"RS384\"\n\n[profile.ci]\nalg = \"ES384\"\n  timeout = 9\nvars.x = \"1\"\n\n[profile.ci.claim]\na = \"b\"\n";
        let p = parse_profile(text, Path::new("/etc/signet/config.toml"), "ci", true)
            .unwrap()
            .unwrap();
        assert_eq!(line(&p, Key::Alg), 5);
        assert_eq!(line(&p, Key::Timeout), 6);
        assert_eq!(p.layer[&Key::Timeout].0, Raw::Str("9".into()));
        assert_eq!(line(&p, Key::Var), 7);
        assert_eq!(line(&p, Key::Claim), 9);
    }

    #[test]
    fn the_implicit_profile_may_be_missing_an_asked_one_may_not() {
        let path = Path::new("c.toml");
        assert!(parse_profile("[profile.a]\n", path, "default", false)
            .unwrap()
            .is_none());
        let e = parse_profile("[profile.a]\n", path, "b", true).unwrap_err().to_string();
        assert!(
            e.contains("profile 'b' not found") && e.contains("profiles there: a"),
            "{e}"
        );
        let e = parse_profile("\n\nalg = 1\n", path, "b", true).unwrap_err().to_string();
        assert!(e.starts_with("c.toml:3: unknown top-level key 'alg'"), "{e}");
    }
}
