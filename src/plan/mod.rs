//! A token plan: everything needed to get a token, typed and checked from the resolved settings.
//!
//! Building a plan does no I/O: the key, the passphrase file and the shared cache's key are read
//! only when a step needs them (see [`crate::flow`]), so that a cache hit reads the one entry it
//! serves and nothing secret.

mod identity;

use crate::alg::Alg;
use crate::assertion::{AskedBy, Claims, HeaderOptions, KidFrom, Signer};
use crate::cache::SharedCache;
use crate::config::{ConfigError, Key, Origin, Settings};
use crate::dpop::DpopSource;
use crate::env::{Env, EnvVars};
use crate::exchange::ExchangeOptions;
use crate::grant::{parse_request_header, Grant, RequestParams, TokenRequest};
use crate::key::{self, KeySpec};
use crate::secret::Secret;
use crate::template::Template;
use crate::token::ResponseShape;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Where the key's passphrase comes from. A file is read only when the key is loaded.
#[derive(Clone, Debug)]
pub enum Passphrase {
    /// None given.
    None,
    /// `SIGNET_KEY_PASSPHRASE`.
    Env(Secret<String>),
    /// A file (`--key-passphrase-file`, or `key_passphrase_file` in a profile).
    File(PathBuf),
    /// An environment variable a profile names in `passphrase_env`, and its value when set.
    NamedEnv {
        /// The variable.
        name: String,
        /// Its value.
        value: Option<Secret<String>>,
    },
}

impl Passphrase {
    /// The passphrase itself: reads the file, or says which variable is unset.
    pub fn read(&self) -> Result<Option<Secret<String>>, crate::Error> {
        match self {
            Passphrase::None => Ok(None),
            Passphrase::Env(v) => Ok(Some(v.clone())),
            Passphrase::File(p) => Ok(Some(
                key::read_passphrase_file(p).map_err(|e| ConfigError::Usage(e.to_string()))?,
            )),
            Passphrase::NamedEnv { name, value } => match value {
                Some(v) => Ok(Some(v.clone())),
                None => Err(ConfigError::Missing {
                    what: format!("the passphrase variable {name} named by passphrase_env"),
                    how: format!("set {name} in the environment"),
                }
                .into()),
            },
        }
    }
}

/// How the token is cached.
#[derive(Debug, Clone)]
pub struct CachePlan {
    /// `--no-cache`: neither read nor write.
    pub no_cache: bool,
    /// `--force-refresh`: fetch even when a fresh token is cached.
    pub force_refresh: bool,
    /// A cached token with fewer seconds left than this is refetched.
    pub min_ttl: u64,
    /// The local cache folder, when one is known.
    pub dir: Option<PathBuf>,
    /// The shared (Redis) cache behind the local one.
    pub shared: Option<SharedCache>,
}

impl CachePlan {
    /// The cache the settings name: `--no-cache`, `--force-refresh`, `--min-ttl`, the folder
    /// (else the user's cache folder) and the shared cache behind it.
    pub fn from_settings(s: &Settings, env: &Env) -> Result<CachePlan, ConfigError> {
        Ok(CachePlan {
            no_cache: s.flag(Key::NoCache),
            force_refresh: s.flag(Key::ForceRefresh),
            min_ttl: s.secs_or_default(Key::MinTtl)?,
            dir: s.path(Key::CacheDir).or_else(|| crate::cache::default_dir(env)),
            shared: SharedCache::from_settings(s, env)?,
        })
    }

    /// No cache: every call fetches.
    pub fn disabled() -> CachePlan {
        CachePlan {
            no_cache: true,
            force_refresh: false,
            min_ttl: crate::cache::DEFAULT_MIN_TTL,
            dir: None,
            shared: None,
        }
    }
}

/// An assertion signet does not sign itself: workload identity federation, where the CI platform
/// or Kubernetes issues a short-lived JWT that the identity provider accepts as the client assertion.
#[derive(Clone, Debug)]
pub enum External {
    /// A file holding the JWT, re-read on every attempt (Kubernetes rotates projected tokens in place).
    File(PathBuf),
    /// An environment variable holding the JWT (GitLab CI `id_tokens`).
    Env {
        /// The variable's name.
        name: String,
        /// Its value, when set.
        value: Option<Secret<String>>,
    },
    /// The GitHub Actions OIDC endpoint (`ACTIONS_ID_TOKEN_REQUEST_URL` with `ACTIONS_ID_TOKEN_REQUEST_TOKEN`).
    GitHub {
        /// The audience to ask for (e.g. `api://AzureADTokenExchange`).
        audience: String,
        /// The request URL, when set.
        url: Option<String>,
        /// The request token, when set.
        token: Option<Secret<String>>,
    },
}

impl External {
    /// What identifies the source in the cache key (never the token).
    pub fn identity(&self) -> String {
        match self {
            External::File(p) => format!("file:{}", p.display()),
            External::Env { name, .. } => format!("env:{name}"),
            External::GitHub { audience, .. } => format!("github-actions:{audience}"),
        }
    }
}

/// Everything needed to get a token, resolved and typed: what to sign, where to send it, how
/// to cache the answer.
#[derive(Clone)]
pub struct TokenPlan {
    /// The private key: a file, a PKCS#11 URI or an ssh-agent key, parsed once from `--key`.
    pub(crate) key: Option<KeySpec>,
    /// Where the key's passphrase comes from (read only when the key is loaded).
    pub(crate) passphrase: Passphrase,
    /// The certificate file.
    pub(crate) cert: Option<PathBuf>,
    /// Where keys that are not files are reached (PKCS#11 module and PIN, ssh-agent socket).
    pub(crate) key_sources: key::KeySourceOptions,
    /// A second key (and certificate) for rotation.
    pub(crate) next_key: Option<(KeySpec, Option<PathBuf>)>,
    /// Header options.
    pub(crate) header: HeaderOptions,
    /// Explicit algorithm.
    pub(crate) alg: Option<Alg>,
    /// Whether `alg` is only the template's default (then a key it does not fit uses its own default).
    pub(crate) alg_from_template: bool,
    /// Client id.
    pub(crate) client_id: Option<String>,
    /// `iss` override.
    pub(crate) issuer: Option<String>,
    /// `sub` override.
    pub(crate) subject: Option<String>,
    /// Omit `sub` when no subject is set.
    pub(crate) omit_subject: bool,
    /// Audience (defaults to the token URL).
    pub(crate) audience: Option<String>,
    /// Assertion lifetime.
    pub(crate) lifetime: u64,
    /// Leave `nbf` out of the assertion.
    pub(crate) omit_nbf: bool,
    /// A certificate with fewer days than this left gets a warning whenever it signs.
    pub(crate) warn_expiry_days: u64,
    /// Extra claims.
    pub(crate) claims: Map<String, Value>,
    /// Grant.
    pub(crate) grant: Grant,
    /// Token URL.
    pub(crate) token_url: Option<String>,
    /// Scopes.
    pub(crate) scopes: Vec<String>,
    /// Whether scopes travel as a `scope` claim instead of a form parameter.
    pub(crate) scope_in_claim: bool,
    /// Extra parameters.
    pub(crate) params: Vec<(String, String)>,
    /// Extra request headers.
    pub(crate) request_headers: Vec<(String, String)>,
    /// How to read the answer.
    pub(crate) shape: ResponseShape,
    /// Whole-exchange limit.
    pub(crate) timeout: Duration,
    /// Retries after a failure worth retrying.
    pub(crate) retries: u32,
    /// Extra CAs.
    pub(crate) ca_file: Option<PathBuf>,
    /// The template, if any.
    pub(crate) template: Option<Template>,
    /// Template variables as resolved.
    pub(crate) vars: BTreeMap<String, String>,
    /// An assertion from elsewhere, sent instead of one signet signs.
    pub(crate) external: Option<External>,
    /// How the token is cached.
    pub(crate) cache: CachePlan,
    /// DPoP (`--dpop`): where the proofs' key comes from.
    pub(crate) dpop: Option<DpopSource>,
    /// mTLS (`--mtls`): the key and certificate as the TLS client certificate.
    pub(crate) mtls: bool,
    /// `--client-auth tls`: the certificate alone authenticates; no assertion is sent.
    pub(crate) tls_client_auth: bool,
}

/// The claims every assertion carries, which `--claim` may not replace: a fixed `jti` would be
/// replayed, and `iat`/`nbf`/`exp` are what the contract promises (now, now, now + lifetime).
fn registered_claim_flag(name: &str) -> Option<&'static str> {
    Some(match name {
        "iss" => "use --issuer",
        "sub" => "use --subject",
        "aud" => "use --audience",
        "exp" => "use --lifetime",
        "iat" => "it is always the current time",
        "nbf" => "it is always the current time (--no-nbf leaves it out)",
        "jti" => "it is a fresh UUID for every assertion",
        _ => return None,
    })
}

/// `--kid` and `--kid-from` both name the kid: the one from the higher layer wins (so
/// `--kid-from none` on the command line drops a SIGNET_KID, and a SIGNET_KID beats a template's
/// rule); both in the same layer disagree, which is a usage error rather than a silent pick.
fn kid_rule(s: &Settings) -> Result<(Option<String>, Option<KidFrom>), ConfigError> {
    let kid = s.str(Key::Kid).map(String::from);
    let kid_from = s.parse::<KidFrom>(Key::KidFrom)?;
    let (Some(_), Some(rule)) = (&kid, kid_from) else {
        return Ok((kid, kid_from));
    };
    let rank = |k: Key| s.origin(k).map_or(0, Origin::rank);
    match rank(Key::Kid).cmp(&rank(Key::KidFrom)) {
        std::cmp::Ordering::Greater => Ok((kid, None)),
        std::cmp::Ordering::Less => Ok((None, Some(rule))),
        std::cmp::Ordering::Equal => Err(ConfigError::Usage(match s.origin(Key::Kid).and_then(Origin::asker) {
            Some(by) => format!("{by} sets both kid and kid_from = {rule}: keep one of them"),
            None => format!(
                "--kid and --kid-from {rule} both set the kid ({}): give one of them",
                s.origin(Key::Kid).map(|o| o.to_string()).unwrap_or_default()
            ),
        })),
    }
}

/// Names what the plan is for, and of the claims, parameters, headers and template variables
/// only their names: their values may be something a user considers secret (as in `-v`).
impl std::fmt::Debug for TokenPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = |pairs: Vec<&String>| pairs.into_iter().cloned().collect::<Vec<_>>();
        f.debug_struct("TokenPlan")
            .field("key", &self.key.as_ref().map(|k| k.to_string()))
            .field("cert", &self.cert)
            .field("client_id", &self.client_id)
            .field("token_url", &self.token_url)
            .field("grant", &self.grant)
            .field("scopes", &self.scopes)
            .field("template", &self.template.as_ref().map(|t| &t.name))
            .field("claims", &names(self.claims.keys().collect()))
            .field("params", &names(self.params.iter().map(|(k, _)| k).collect()))
            .field(
                "request_headers",
                &names(self.request_headers.iter().map(|(k, _)| k).collect()),
            )
            .field("vars", &names(self.vars.keys().collect()))
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

impl TokenPlan {
    /// Types and checks the resolved settings for getting a token, caching included;
    /// `template` is the one [`crate::template::template_layer`] loaded. Reads no file.
    pub fn from_settings(
        s: &Settings,
        env: &Env,
        template: Option<(Template, BTreeMap<String, String>)>,
    ) -> Result<TokenPlan, ConfigError> {
        let mut plan = TokenPlan::for_signing(s, env, template)?;
        plan.cache = CachePlan::from_settings(s, env)?;
        Ok(plan)
    }

    /// The plan for signing only (`assert`, `check`): the cache settings are neither checked nor
    /// used, so a cache setting these commands never touch cannot stop them.
    pub fn for_signing(
        s: &Settings,
        env: &Env,
        template: Option<(Template, BTreeMap<String, String>)>,
    ) -> Result<TokenPlan, ConfigError> {
        let (template, vars) = match template {
            Some((t, v)) => (Some(t), v),
            None => (None, BTreeMap::new()),
        };
        let passphrase = passphrase(s, env);
        let alg = s.parse::<Alg>(Key::Alg)?;
        let (kid, kid_from) = kid_rule(s)?;
        // `--client-id "$UNSET_VAR"` would sign an assertion with an empty iss: say so instead.
        for k in [
            Key::ClientId,
            Key::Issuer,
            Key::Subject,
            Key::Audience,
            Key::TokenUrl,
            Key::Kid,
        ] {
            if s.str(k).is_some_and(|v| v.trim().is_empty()) {
                let from = s.origin(k).map(|o| o.to_string()).unwrap_or_default();
                return Err(ConfigError::Usage(format!(
                    "{} is empty ({from}): give a value or leave it out",
                    k.flag()
                )));
            }
        }
        let grant = s.parse_or_default::<Grant>(Key::Grant)?;
        let lifetime = s.secs_or_default(Key::Lifetime)?;
        if lifetime == 0 {
            return Err(ConfigError::Usage(format!(
                "{} is too short: an assertion must be valid for at least 1 second",
                s.given(Key::Lifetime)
            )));
        }
        let mut claims = Map::new();
        for (k, v) in s.map(Key::Claim) {
            if let Some(instead) = registered_claim_flag(&k) {
                return Err(ConfigError::Usage(format!(
                    "--claim {k}: signet sets the {k} claim itself; {instead}"
                )));
            }
            claims.insert(k, crate::grant::json_value(&v));
        }
        let mut request_headers = vec![];
        for (k, v) in s.map(Key::RequestHeader) {
            let (k, v) = parse_request_header(&format!("{k}: {v}")).map_err(ConfigError::Usage)?;
            request_headers.push((k, v));
        }
        let timeout = s.secs_or_default(Key::Timeout)?;
        if timeout == 0 {
            return Err(ConfigError::Usage(format!(
                "{} is too short: the exchange needs at least 1 second",
                s.given(Key::Timeout)
            )));
        }
        let token_path = s.str_or_default(Key::TokenPath).to_string();
        if token_path != "-" && !token_path.is_empty() && !token_path.starts_with('/') {
            return Err(ConfigError::Usage(format!(
                "--token-path '{}' is not a JSON pointer: it starts with / (e.g. /userInfo/token), or is - for a plain-text answer",
                crate::text::sanitize(&token_path, 60)
            )));
        }
        let scope_in_claim = template
            .as_ref()
            .is_some_and(|t| t.scope_in.as_deref() == Some("claim"));
        let mut plan = TokenPlan {
            key: s.path(Key::Key).map(|p| KeySpec::from_path(&p)),
            passphrase,
            cert: s.path(Key::Cert),
            next_key: s
                .path(Key::NextKey)
                .map(|k| (KeySpec::from_path(&k), s.path(Key::NextCert))),
            key_sources: key::KeySourceOptions::from_env(env),
            header: HeaderOptions {
                kid,
                kid_from,
                x5t: s.flag(Key::X5t),
                x5t_s256: s.flag(Key::X5tS256),
                x5c: s.flag(Key::X5c),
                asked_by: AskedBy {
                    kid_from: asker(s, Key::KidFrom),
                    x5t: asker(s, Key::X5t),
                    x5t_s256: asker(s, Key::X5tS256),
                    x5c: asker(s, Key::X5c),
                },
            },
            alg,
            alg_from_template: matches!(s.origin(Key::Alg), Some(Origin::Template(_))),
            client_id: s.str(Key::ClientId).map(String::from),
            issuer: s.str(Key::Issuer).map(String::from),
            subject: s.str(Key::Subject).map(String::from),
            omit_subject: template.as_ref().is_some_and(|t| t.omit_subject),
            audience: s.str(Key::Audience).map(String::from),
            lifetime,
            omit_nbf: s.flag(Key::NoNbf),
            warn_expiry_days: s.days_or_default(Key::WarnExpiry)?,
            claims,
            grant,
            token_url: s.str(Key::TokenUrl).map(String::from),
            scopes: s.list(Key::Scope),
            scope_in_claim,
            params: s.map(Key::Param),
            request_headers,
            shape: ResponseShape {
                token_path,
                default_ttl: s.secs_or_default(Key::DefaultTtl)?,
            },
            timeout: Duration::from_secs(timeout),
            retries: s.parse_or_default::<u32>(Key::Retries)?,
            ca_file: s.path(Key::CaFile),
            external: external(s, env)?,
            template,
            vars,
            cache: CachePlan::disabled(),
            dpop: dpop_source(s),
            mtls: false,
            tls_client_auth: false,
        };
        (plan.mtls, plan.tls_client_auth) = mtls_settings(s)?;
        plan.apply_template_patterns(s)?;
        plan.apply_alg_send(s);
        plan.check_limits(Some(s))?;
        Ok(plan)
    }

    /// Template patterns that use built-in placeholders (`{client_id}`, `{token_url}`), filled from
    /// the final settings unless a higher layer set the value.
    fn apply_template_patterns(&mut self, s: &Settings) -> Result<(), ConfigError> {
        let Some(t) = &self.template else { return Ok(()) };
        let mut vars = self.vars.clone();
        if let Some(c) = &self.client_id {
            vars.insert("client_id".into(), c.clone());
        }
        if let Some(u) = &self.token_url {
            vars.insert("token_url".into(), u.clone());
        }
        let above_template =
            |key: Key| !matches!(s.origin(key), None | Some(Origin::Template(_)) | Some(Origin::Default));
        if !above_template(Key::Audience) {
            if let Some(p) = &t.audience {
                if let Some(v) = t.render(p, &vars)? {
                    self.audience = Some(v);
                }
            }
        }
        if !above_template(Key::Issuer) {
            if let Some(p) = &t.issuer {
                if let Some(v) = t.render(p, &vars)? {
                    self.issuer = Some(v);
                }
            }
        }
        if !above_template(Key::Subject) {
            if let Some(p) = &t.subject {
                if let Some(v) = t.render(p, &vars)? {
                    self.subject = Some(v);
                }
            }
        }
        Ok(())
    }

    /// A template may name other headers for another algorithm (Entra: RS256 sends `x5t`, not
    /// `x5t#S256`), unless flags chose the headers.
    fn apply_alg_send(&mut self, s: &Settings) {
        let (Some(t), Some(alg)) = (&self.template, self.alg) else {
            return;
        };
        let Some(send) = t.alg_send.get(alg.as_str()) else {
            return;
        };
        let from_template = |k: &Key| matches!(s.origin(*k), None | Some(Origin::Template(_)));
        if [Key::X5t, Key::X5tS256, Key::X5c].iter().all(from_template) {
            self.header.x5t = send.iter().any(|h| h == "x5t");
            self.header.x5t_s256 = send.iter().any(|h| h == "x5t#S256");
            self.header.x5c = send.iter().any(|h| h == "x5c");
            // The template chose these headers for this algorithm: a missing certificate is its request.
            let by = Some(format!("the {} template", t.name));
            let a = &mut self.header.asked_by;
            (a.x5t, a.x5t_s256, a.x5c) = (by.clone(), by.clone(), by);
        }
    }

    /// Limits the provider enforces, checked before anything is signed or sent.
    pub fn check_template_limits(&self) -> Result<(), ConfigError> {
        self.check_limits(None)
    }

    /// [`TokenPlan::check_template_limits`]; with the settings, a message names where the value
    /// that breaks a limit came from (a profile's `lifetime = …`), not only the flag.
    fn check_limits(&self, s: Option<&Settings>) -> Result<(), ConfigError> {
        let Some(t) = &self.template else { return Ok(()) };
        let given = |key: Key, value: String| match s {
            Some(s) => s.given(key),
            None => format!("{} {value}", key.flag()),
        };
        let provider = format!("{} (the {} template)", t.description_name(), t.name);
        if let (Some(alg), false) = (self.alg, t.algs.is_empty()) {
            if !t.accepted_algs().contains(&alg) {
                return Err(ConfigError::Usage(format!(
                    "{provider} does not accept {alg} assertions, which {} asks for: it accepts {}",
                    given(Key::Alg, alg.to_string()),
                    t.algs.join(", ")
                )));
            }
        }
        if let Some(max) = t.max_lifetime {
            if self.lifetime > max {
                return Err(ConfigError::Usage(format!(
                    "{provider} accepts assertions valid for at most {max} s; {} is too long: give --lifetime {max} or less",
                    given(Key::Lifetime, self.lifetime.to_string()),
                )));
            }
        }
        if t.subject_required && self.subject.is_none() {
            return Err(ConfigError::Missing {
                what: format!("a subject for {}", t.description_name()),
                how: "give --subject (the user the token is for)".into(),
            });
        }
        if t.client_id_required && self.client_id.is_none() {
            return Err(ConfigError::Missing {
                what: format!("a client id for {}", t.description_name()),
                how: "give --client-id or SIGNET_CLIENT_ID".into(),
            });
        }
        Ok(())
    }

    /// What an exchange needs beyond an assertion: a scope where the provider requires one.
    pub fn check_exchange_requirements(&self) -> Result<(), ConfigError> {
        if let Some(t) = self
            .template
            .as_ref()
            .filter(|t| t.scope_required && self.scopes.is_empty())
        {
            return Err(ConfigError::Missing {
                what: format!("a scope for {}", t.description_name()),
                how: format!("give --scope SCOPE (see `signet templates show {}`)", t.name),
            });
        }
        Ok(())
    }

    /// The token URL, required for an exchange.
    pub fn token_url(&self) -> Result<&str, ConfigError> {
        self.token_url.as_deref().ok_or_else(|| ConfigError::Missing {
            what: "a token URL".into(),
            how: "give --token-url, SIGNET_TOKEN_URL, or a --template that knows it".into(),
        })
    }

    /// The claims for an assertion signed by `signer`.
    pub fn claims(&self, signer: &Signer) -> Result<Claims, ConfigError> {
        let sa = signer.bundle().service_account.as_ref();
        let client_id = self
            .client_id
            .clone()
            .or_else(|| sa.map(|s| s.client_email.clone()).filter(|e| !e.is_empty()));
        let issuer = self
            .issuer
            .clone()
            .or_else(|| client_id.clone())
            .ok_or_else(|| ConfigError::Missing {
                what: "a client id".into(),
                how: "give --client-id (or SIGNET_CLIENT_ID), or --issuer".into(),
            })?;
        let subject = match &self.subject {
            Some(s) => Some(s.clone()),
            None if self.omit_subject => None,
            None => client_id.clone().or_else(|| Some(issuer.clone())),
        };
        let audience = match (&self.audience, &self.token_url) {
            (Some(a), _) => a.clone(),
            (None, Some(u)) => u.clone(),
            (None, None) => {
                return Err(ConfigError::Missing {
                    what: "an audience".into(),
                    how: "give --audience or --token-url (the audience defaults to the token URL)".into(),
                })
            }
        };
        let mut extra = Map::new();
        if self.scope_in_claim && !self.scopes.is_empty() {
            extra.insert("scope".into(), self.scopes.join(" ").into());
        }
        for (k, v) in &self.claims {
            extra.insert(k.clone(), v.clone());
        }
        Ok(Claims {
            issuer,
            subject,
            audience,
            lifetime: self.lifetime,
            omit_nbf: self.omit_nbf,
            extra,
        })
    }

    /// Signs one assertion issued at `at` (Unix seconds).
    pub fn sign(&self, signer: &Signer, at: i64) -> Result<Secret<String>, crate::Error> {
        let claims = self.claims(signer)?;
        Ok(signer.sign(&claims, at)?)
    }

    /// The request for one attempt, its assertion issued at `at`.
    pub fn request(&self, signer: &Signer, at: i64) -> Result<TokenRequest, crate::Error> {
        let assertion = self.sign(signer, at)?;
        let sa_email = signer.bundle().service_account.as_ref().map(|s| s.client_email.clone());
        self.request_for(assertion.expose(), sa_email)
    }

    /// The request that carries a given assertion.
    pub fn request_for(
        &self,
        assertion: &str,
        default_client_id: Option<String>,
    ) -> Result<TokenRequest, crate::Error> {
        let url = self.token_url()?;
        let client_id = self
            .client_id
            .clone()
            .or_else(|| default_client_id.clone().filter(|e| !e.is_empty()));
        let params = RequestParams {
            client_id,
            scope: if self.scope_in_claim || self.scopes.is_empty() {
                None
            } else {
                Some(self.scopes.join(" "))
            },
            params: self.params.clone(),
            headers: self.request_headers.clone(),
        };
        Ok(self.grant.request(url, assertion, &params))
    }

    /// The exchange options.
    pub fn exchange_options(&self) -> Result<ExchangeOptions, ConfigError> {
        Ok(ExchangeOptions {
            url: self.token_url()?.to_string(),
            timeout: self.timeout,
            ca_file: self.ca_file.clone(),
            shape: self.shape.clone(),
            retries: self.retries,
            dpop: self.dpop.is_some(),
            client_identity: None,
        })
    }

    /// Where the DPoP key comes from, when DPoP is on.
    pub fn dpop(&self) -> Option<&DpopSource> {
        self.dpop.as_ref()
    }

    /// The template, when one is used.
    pub fn template(&self) -> Option<&Template> {
        self.template.as_ref()
    }

    /// Where the key's passphrase comes from.
    pub fn passphrase(&self) -> &Passphrase {
        &self.passphrase
    }

    /// The audience, when set (else it is the token URL).
    pub fn audience(&self) -> Option<&str> {
        self.audience.as_deref()
    }

    /// The token URL, when known.
    pub fn configured_token_url(&self) -> Option<&str> {
        self.token_url.as_deref()
    }

    /// How the token is cached, to change it (e.g. no cache, another folder).
    pub fn cache_mut(&mut self) -> &mut CachePlan {
        &mut self.cache
    }

    /// Writes what tells this plan's entry apart from others in `cache list` (grant, audience,
    /// template) into `entry`. An external assertion's audience is not signet's to know.
    pub fn label_entry(&self, entry: &mut crate::cache::Entry) {
        entry.grant = Some(self.grant.as_str().to_string());
        entry.audience = match self.external {
            Some(_) => None,
            None => self.audience.clone().or_else(|| self.token_url.clone()),
        };
        entry.template = self.template.as_ref().map(|t| t.name.clone());
    }

    /// What `cache list` shows of an entry: the token URL, who asked, and the scopes.
    pub fn entry_labels(&self) -> (Option<String>, Option<String>, Option<String>) {
        let scope = (!self.scopes.is_empty()).then(|| self.scopes.join(" "));
        (
            self.token_url.clone(),
            self.client_id.clone().or(self.issuer.clone()),
            scope,
        )
    }
}

/// `--dpop`, and `--dpop-key`, which implies it (a key for proofs means proofs are wanted).
fn dpop_source(s: &Settings) -> Option<DpopSource> {
    match s.path(Key::DpopKey) {
        Some(p) => Some(DpopSource::File(p)),
        None if s.flag(Key::Dpop) => Some(DpopSource::Generated),
        None => None,
    }
}

/// `--mtls` and `--client-auth`: `tls` authenticates by the certificate alone and implies mTLS.
fn mtls_settings(s: &Settings) -> Result<(bool, bool), ConfigError> {
    let tls = s.parse_or_default::<ClientAuth>(Key::ClientAuth)? == ClientAuth::Tls;
    Ok((tls || s.flag(Key::Mtls), tls))
}

/// `--client-auth`'s values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClientAuth {
    /// A client assertion (RFC 7523), signet's own way.
    Assertion,
    /// The TLS client certificate alone (RFC 8705 §2).
    Tls,
}

impl std::str::FromStr for ClientAuth {
    type Err = String;
    fn from_str(v: &str) -> Result<Self, Self::Err> {
        match v.to_ascii_lowercase().as_str() {
            "assertion" | "private_key_jwt" | "private-key-jwt" => Ok(ClientAuth::Assertion),
            "tls" | "tls_client_auth" | "self_signed_tls_client_auth" => Ok(ClientAuth::Tls),
            _ => Err("use assertion or tls".into()),
        }
    }
}

/// Who set `key`, when a template or profile did (see [`Origin::asker`]).
fn asker(s: &Settings, key: Key) -> Option<String> {
    s.origin(key).and_then(Origin::asker)
}

/// flag file > env value > profile (file or named env var); nothing is read here.
fn passphrase(s: &Settings, env: &Env) -> Passphrase {
    if matches!(s.origin(Key::KeyPassphraseFile), Some(Origin::Flag)) {
        return Passphrase::File(s.path(Key::KeyPassphraseFile).unwrap_or_default());
    }
    if let Some(v) = env.get(EnvVars::KEY_PASSPHRASE) {
        return Passphrase::Env(Secret::new(v.to_string()));
    }
    if let Some(p) = s.path(Key::KeyPassphraseFile) {
        return Passphrase::File(p);
    }
    if let Some(var) = s.str(Key::PassphraseEnv) {
        return Passphrase::NamedEnv {
            name: var.to_string(),
            value: env.get(var).map(|v| Secret::new(v.to_string())),
        };
    }
    Passphrase::None
}

fn external(s: &Settings, env: &Env) -> Result<Option<External>, ConfigError> {
    if let Some(p) = s.path(Key::AssertionFile) {
        return Ok(Some(External::File(p)));
    }
    let from = s.str(Key::AssertionFrom);
    let env_name = s.str(Key::AssertionEnv).map(String::from);
    match from {
        Some("github-actions") => Ok(Some(External::GitHub {
            audience: s.str(Key::Audience).unwrap_or("api://AzureADTokenExchange").to_string(),
            url: env.get(EnvVars::ACTIONS_ID_TOKEN_REQUEST_URL).map(String::from),
            token: env
                .get(EnvVars::ACTIONS_ID_TOKEN_REQUEST_TOKEN)
                .map(|t| Secret::new(t.to_string())),
        })),
        Some("gitlab") | None if from.is_some() || env_name.is_some() => {
            let name = env_name.unwrap_or_else(|| EnvVars::ID_TOKEN.into());
            let value = env.get(&name).map(|v| Secret::new(v.to_string()));
            Ok(Some(External::Env { name, value }))
        }
        None => Ok(None),
        Some(other) => Err(ConfigError::Usage(format!(
            "unknown --assertion-from '{other}': use github-actions or gitlab"
        ))),
    }
}
