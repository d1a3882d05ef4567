//! Every layer resolved into one set of settings: the command line, the environment, the
//! config file's profile, the template those name, and the built-in defaults. It sits above both
//! `config` (the layers and their merge) and `template` (which supplies a layer), so that neither
//! of those needs the other's place in the order.

use crate::config::{self, ConfigError, Layer, Origin, Settings};
use crate::env::{Env, EnvVars};
use crate::template::Template;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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
/// A token URL with `user:password@` in it is refused before it is shown anywhere (the `-v` log,
/// `config show`, errors, the cache, the assertion's `aud`); the message shows it without them.
fn refuse_credentials(url: &str) -> Result<(), ConfigError> {
    let Ok(mut u) = url::Url::parse(url) else {
        return Ok(());
    };
    if u.username().is_empty() && u.password().is_none() {
        return Ok(());
    }
    let _ = u.set_username("");
    let _ = u.set_password(None);
    Err(ConfigError::Usage(format!(
        "the token URL {} has credentials in it (user:password@): remove them; signet authenticates with the signed assertion",
        crate::text::sanitize(u.as_str(), 200)
    )))
}

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
    let env_layer = config::env_layer(env);
    let config_file = config::config_path(config_flag, env);
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
            match config::load_profile(path, &profile_name, explicit)? {
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
    let first = config::resolve(&[flags, &env_layer, &profile_layer]);
    let (settings, template) = match crate::template::template_layer(&first)? {
        Some((t, vars, tl)) => {
            let from_key = if t.token_url_from_key {
                key_file_layer(&first)
            } else {
                Layer::new()
            };
            (
                config::resolve(&[flags, &env_layer, &profile_layer, &from_key, &tl]),
                Some((t, vars)),
            )
        }
        None => (first, None),
    };
    if let Some(u) = settings.str(config::Key::TokenUrl) {
        refuse_credentials(u)?;
    }
    config::log_settings(&settings);
    Ok(Resolved {
        settings,
        template,
        warnings,
        config_file,
        profile: profile_used,
    })
}

/// Where [`key_file_layer`]'s values come from.
pub const FROM_TOKEN_URI: Origin = Origin::Derived("the key file's token_uri");

/// A Google service-account key file's `token_uri` as the token URL and the audience, between
/// the profile and the template: a flag, variable or profile value beats it, and it beats the
/// template's fixed URL. The audience is set too, so that a `--token-url` pointing at a proxy
/// does not change `aud` (google-auth signs for `token_uri` whatever URL it posts to); only
/// `--audience` (or its variable or profile value) changes that.
///
/// A file that cannot be read or is not such a JSON file gives nothing: loading the key
/// reports that properly, with its own exit code. The bytes are read zeroized, as for the
/// cache key's hash of the same file; the private key in them is not parsed.
fn key_file_layer(s: &Settings) -> Layer {
    #[derive(serde::Deserialize)]
    struct TokenUri {
        token_uri: Option<String>,
    }
    let mut l = Layer::new();
    let Some(path) = s.path(config::Key::Key) else {
        return l;
    };
    let Ok(bytes) = crate::key::read_secret_file(&path) else {
        return l;
    };
    let uri = serde_json::from_slice::<TokenUri>(&bytes)
        .ok()
        .and_then(|f| f.token_uri)
        .filter(|u| !u.trim().is_empty());
    if let Some(uri) = uri {
        for k in [config::Key::TokenUrl, config::Key::Audience] {
            l.insert(k, (config::Raw::Str(uri.clone()), FROM_TOKEN_URI));
        }
    }
    l
}
