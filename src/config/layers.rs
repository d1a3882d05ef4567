//! The layers and their merge: flag > environment variable > profile > template > default, and
//! which config file and profile take part.
//!
//! The binary and a library user resolve the same way: [`resolve_layers`] takes the flags as a
//! layer and the environment, and does everything else.

use super::{load_profile, ConfigError, Kind, Layer, Origin, Raw, Settings, SETTINGS};
use crate::env::{Env, EnvVars};
use crate::template::Template;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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

/// Resolved settings, the template they name, and what was read to get them.
#[derive(Debug)]
pub struct Resolved {
    /// Every setting with its origin.
    pub settings: Settings,
    /// The template the settings name, with its checked variables.
    pub template: Option<(Template, BTreeMap<String, String>)>,
    /// Warnings to show the user (a config file readable by others that names a key).
    pub warnings: Vec<String>,
    /// The config file looked at, and why that one (`--config`, `SIGNET_CONFIG` or the default).
    pub config_file: Option<(PathBuf, Origin)>,
    /// The profile that was read, if one was.
    pub profile: Option<String>,
}

/// Resolves every setting: `flags` (the command line as a layer) > the environment > the profile
/// > the template the settings name > the built-in defaults.
///
/// The config file is `config_flag`, else `SIGNET_CONFIG`, else the user's default one; the
/// profile is `profile_flag`, else `SIGNET_PROFILE`, else `default`. A profile or config file
/// asked for must exist; the implicit `default` profile and the default file may be missing.
/// The template is named by the merged flags, environment and profile, and then resolved below
/// them, so a flag, variable or profile value beats the template's.
pub fn resolve_layers(
    flags: &Layer,
    env: &Env,
    config_flag: Option<&Path>,
    profile_flag: Option<&str>,
) -> Result<Resolved, ConfigError> {
    let env_layer = env_layer(env);
    let config_file = super::config_path(config_flag, env);
    let (profile_name, explicit) = match (profile_flag, env.get(EnvVars::PROFILE)) {
        (Some(p), _) => (p.to_string(), true),
        (None, Some(p)) => (p.to_string(), true),
        (None, None) => ("default".to_string(), false),
    };
    // A --config given explicitly must exist even when no profile is named.
    let explicit_file = matches!(config_file, Some((_, Origin::Flag)) | Some((_, Origin::Env(_))));
    let mut warnings = vec![];
    let mut profile_used = None;
    let profile_layer = match &config_file {
        Some((path, _)) => {
            if explicit_file && !path.exists() {
                return Err(ConfigError::Read {
                    path: path.clone(),
                    reason: "no such file".into(),
                });
            }
            match load_profile(path, &profile_name, explicit)? {
                Some(p) => {
                    warnings.extend(p.warnings);
                    profile_used = Some(profile_name.clone());
                    p.layer
                }
                None => Layer::new(),
            }
        }
        None if explicit => {
            return Err(ConfigError::Missing {
                what: format!("profile '{profile_name}'"),
                how: "no config file: give --config PATH".into(),
            })
        }
        None => Layer::new(),
    };
    let first = resolve(&[flags, &env_layer, &profile_layer]);
    let (settings, template) = match crate::template::template_layer(&first)? {
        Some((t, vars, tl)) => (resolve(&[flags, &env_layer, &profile_layer, &tl]), Some((t, vars))),
        None => (first, None),
    };
    log_settings(&settings);
    Ok(Resolved {
        settings,
        template,
        warnings,
        config_file,
        profile: profile_used,
    })
}

/// `-v`: every setting with the value that is used and where it came from.
fn log_settings(settings: &Settings) {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
    for st in SETTINGS {
        if let Some((raw, origin)) = settings.get(st.key) {
            // Maps may carry values a user considers sensitive: log their keys only.
            let shown = match raw {
                Raw::Str(s) => s.clone(),
                Raw::Bool(b) => b.to_string(),
                Raw::List(l) => l.join(" "),
                Raw::Map(m) => m.iter().map(|(k, _)| format!("{k}=…")).collect::<Vec<_>>().join(" "),
            };
            tracing::debug!("setting {} = {shown} ({origin})", st.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Key;

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
