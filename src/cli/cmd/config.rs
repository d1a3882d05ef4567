//! `signet config show|path`.

use crate::cli::args::ConfigCommand;
use crate::cli::{flag_layer, output, resolve, CmdResult, Ctx};
use signet::config::Key;
use signet::config::{ConfigError, Origin, Raw, SETTINGS};
use signet::Passphrase;
use signet::TokenPlan;

pub fn run(ctx: &Ctx, c: ConfigCommand) -> CmdResult {
    match c {
        ConfigCommand::Path => {
            let p =
                signet::config::config_path(ctx.config.as_deref(), &ctx.env).ok_or_else(|| ConfigError::Missing {
                    what: "a config path".into(),
                    how: "set SIGNET_CONFIG or --config".into(),
                })?;
            output::stdout(&format!("{}\n", p.0.display()));
            Ok(0)
        }
        ConfigCommand::Show {
            format,
            signing,
            exchange,
        } => {
            let r = resolve(ctx, flag_layer(&signing, &exchange)?)?;
            for w in &r.warnings {
                ctx.warn(w);
            }
            let mut rows: Vec<(String, String, String)> = vec![];
            for st in SETTINGS {
                if st.key == Key::PassphraseEnv {
                    continue;
                }
                let Some((raw, origin)) = r.settings.get(st.key) else {
                    continue;
                };
                let value = match raw {
                    Raw::Str(s) => signet::config::shown_value(st, s),
                    Raw::Bool(b) => b.to_string(),
                    Raw::List(l) => l.join(" "),
                    Raw::Map(m) => m.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" "),
                };
                rows.push((st.name.to_string(), value, origin.to_string()));
            }
            // As `assert` would see them; the passphrase is read (not shown) so that one that cannot be
            // had is reported here rather than at the first cache miss.
            let src = TokenPlan::for_signing(&r.settings, &ctx.env, r.template)
                .map_err(signet::Error::from)
                .and_then(|p| p.passphrase().read().map(|_| p));
            let pass = match src.as_ref().map(|s| s.passphrase()) {
                Ok(Passphrase::None) | Ok(Passphrase::NamedEnv { value: None, .. }) | Err(_) => {
                    ("unset".to_string(), "-".to_string())
                }
                Ok(Passphrase::Env(_)) => ("set".into(), "env SIGNET_KEY_PASSPHRASE".into()),
                Ok(Passphrase::File(p)) => ("set".into(), format!("file {}", p.display())),
                Ok(Passphrase::NamedEnv { name, .. }) => ("set".into(), format!("env {name} (passphrase_env)")),
            };
            rows.push(("key_passphrase".into(), pass.0, pass.1));
            if let Ok(s) = &src {
                if r.settings.str(Key::Audience).is_none() {
                    if let Some(a) = s.audience() {
                        rows.push(("audience".into(), a.to_string(), "template".into()));
                    } else if let Some(u) = s.configured_token_url() {
                        rows.push((
                            "audience".into(),
                            u.to_string(),
                            Origin::Derived("token_url").to_string(),
                        ));
                    }
                }
            }
            let file = r
                .config_file
                .as_ref()
                .map(|(p, o)| format!("{} ({o})", p.display()))
                .unwrap_or_else(|| "-".into());
            if format == "json" {
                let settings: serde_json::Map<String, serde_json::Value> = rows
                    .iter()
                    .map(|(k, v, o)| (k.clone(), serde_json::json!({"value": v, "origin": o})))
                    .collect();
                let v = serde_json::json!({"config_file": file, "profile": r.profile, "settings": settings});
                output::stdout(&format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default()));
            } else if format == "text" {
                let mut out = format!(
                    "config file: {file}\nprofile: {}\n",
                    r.profile.as_deref().unwrap_or("-")
                );
                let w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
                let vw = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(0).min(60);
                for (k, v, o) in rows {
                    out.push_str(&format!("{k:<w$}  {v:<vw$}  ({o})\n"));
                }
                output::stdout(&out);
            } else {
                return Err(ConfigError::Usage(format!("unknown --format '{format}': use text or json")).into());
            }
            if let Err(e) = src {
                ctx.warn(&format!("these settings cannot be used as they are: {e}"));
            }
            Ok(0)
        }
    }
}
