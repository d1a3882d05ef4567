//! The layers and their merge: flag > environment variable > profile > template > default, and
//! which config file and profile take part.
//!
//! The binary and a library user resolve the same way: [`resolve_layers`] takes the flags as a
//! layer and the environment, and does everything else.

use super::{Kind, Layer, Origin, Raw, Settings, SETTINGS};
use crate::env::Env;

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

/// `-v`: every setting with the value that is used and where it came from.
///
/// Template variables are shown with their values: they are URLs, host names and names
/// (`api_root=… consumer=…`), and a template places them where anyone who sees the request sees
/// them. Claims, parameters and request headers may carry something a user considers secret (a
/// `client_secret` parameter, an `X-Api-Key` header): at `-v` only their names, at `-vv` also the
/// values whose names do not say they are secret ([`crate::dry_run::is_secret_name`]).
pub fn log_settings(settings: &Settings) {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
    let values = tracing::enabled!(tracing::Level::TRACE);
    for st in SETTINGS {
        if let Some((raw, origin)) = settings.get(st.key) {
            let shown = match raw {
                Raw::Str(s) => super::shown_value(st, s),
                Raw::Bool(b) => b.to_string(),
                Raw::List(l) => l.join(" "),
                Raw::Map(m) => m
                    .iter()
                    .map(|(k, v)| {
                        let show = st.key == super::Key::Var || (values && !crate::dry_run::is_secret_name(k));
                        if show {
                            format!("{k}={v}")
                        } else {
                            format!("{k}=…")
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" "),
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
        assert!(e.starts_with("invalid --timeout 'soon'"), "{e}");
    }
}
