//! A token source: everything needed to get a token, resolved from settings, and the steps that
//! get it (sign an assertion, exchange it, or serve it from the cache).
//!
//! Resolving a source reads no key: the key is loaded only when an assertion must be signed, so
//! a cache hit costs a hash of the key file and one small read.

use crate::alg::Alg;
use crate::assertion::{Claims, HeaderOptions, KidFrom, Signer};
use crate::config::{split_kv, ConfigError, Key, Origin, Raw, Settings};
use crate::env::{Env, EnvVars};
use crate::exchange::{self, Event, ExchangeError, ExchangeOptions, Outcome};
use crate::grant::{parse_request_header, Grant, RequestParams, TokenRequest};
use crate::key::{self, KeyError};
use crate::secret::Secret;
use crate::template::Template;
use crate::token::ResponseShape;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Where the passphrase came from (for `config show`; never the value).
#[derive(Clone, Debug)]
pub enum PassphraseSource {
    /// None given.
    None,
    /// `SIGNET_KEY_PASSPHRASE`.
    Env,
    /// A file.
    File(PathBuf),
    /// An environment variable named by the profile.
    NamedEnv(String),
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

/// Everything needed to sign and exchange, resolved and typed.
#[derive(Debug)]
pub struct TokenSource {
    /// The private key file.
    pub key: Option<PathBuf>,
    /// The passphrase (never printed).
    pub passphrase: Option<Secret<String>>,
    /// Where the passphrase came from.
    pub passphrase_source: PassphraseSource,
    /// The certificate file.
    pub cert: Option<PathBuf>,
    /// Where keys that are not files are reached (PKCS#11 module and PIN, ssh-agent socket).
    pub key_sources: key::KeySourceOptions,
    /// A second key (and certificate) for rotation.
    pub next_key: Option<(PathBuf, Option<PathBuf>)>,
    /// Header options.
    pub header: HeaderOptions,
    /// Explicit algorithm.
    pub alg: Option<Alg>,
    /// Whether `alg` is only the template's default (then a key it does not fit uses its own default).
    pub alg_from_template: bool,
    /// Client id.
    pub client_id: Option<String>,
    /// `iss` override.
    pub issuer: Option<String>,
    /// `sub` override.
    pub subject: Option<String>,
    /// Omit `sub` when no subject is set.
    pub omit_subject: bool,
    /// Audience (defaults to the token URL).
    pub audience: Option<String>,
    /// Assertion lifetime.
    pub lifetime: u64,
    /// Extra claims.
    pub claims: Map<String, Value>,
    /// Grant.
    pub grant: Grant,
    /// Token URL.
    pub token_url: Option<String>,
    /// Scopes.
    pub scopes: Vec<String>,
    /// Whether scopes travel as a `scope` claim instead of a form parameter.
    pub scope_in_claim: bool,
    /// Extra parameters.
    pub params: Vec<(String, String)>,
    /// Extra request headers.
    pub request_headers: Vec<(String, String)>,
    /// How to read the answer.
    pub shape: ResponseShape,
    /// Whole-exchange limit.
    pub timeout: Duration,
    /// Extra CAs.
    pub ca_file: Option<PathBuf>,
    /// The template, if any.
    pub template: Option<Template>,
    /// Template variables as resolved.
    pub vars: BTreeMap<String, String>,
    /// Warnings gathered while resolving.
    pub warnings: Vec<String>,
    /// An assertion from elsewhere, sent instead of one signet signs.
    pub external: Option<External>,
}

fn bool_or(s: &Settings, key: Key) -> bool {
    s.flag(key)
}

/// A loaded template, its checked variables, and its values as a settings layer.
pub type TemplateLayer = (Template, BTreeMap<String, String>, crate::config::Layer);

/// Builds the template layer for the template the settings name (if any), so the caller can
/// resolve again with it in place. Returns the template and its checked variables.
pub fn template_layer(s: &Settings) -> Result<Option<TemplateLayer>, ConfigError> {
    let Some(name) = s.str(Key::Template) else { return Ok(None) };
    let t = crate::template::load(name)?;
    let vars = t.check_vars(&s.map(Key::Var))?;
    let layer = t.layer(&vars)?;
    Ok(Some((t, vars, layer)))
}

/// The claims every assertion carries, which `--claim` may not replace: a fixed `jti` would be
/// replayed, and `iat`/`nbf`/`exp` are what the contract promises (now, now, now + lifetime).
fn registered_claim_flag(name: &str) -> Option<&'static str> {
    Some(match name {
        "iss" => "use --issuer",
        "sub" => "use --subject",
        "aud" => "use --audience",
        "exp" => "use --lifetime",
        "iat" | "nbf" => "it is always the current time",
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
        std::cmp::Ordering::Equal => Err(ConfigError::Usage(format!(
            "--kid and --kid-from {rule} both set the kid ({}): give one of them",
            s.origin(Key::Kid).map(|o| o.to_string()).unwrap_or_default()
        ))),
    }
}

impl TokenSource {
    /// Types the resolved settings. `template` is the one [`template_layer`] loaded.
    pub fn from_settings(
        s: &Settings,
        env: &Env,
        template: Option<(Template, BTreeMap<String, String>)>,
    ) -> Result<TokenSource, ConfigError> {
        let (template, vars) = match template {
            Some((t, v)) => (Some(t), v),
            None => (None, BTreeMap::new()),
        };
        let mut warnings = vec![];
        let (passphrase, passphrase_source) = passphrase(s, env)?;
        let alg = s.parse::<Alg>(Key::Alg)?;
        let (kid, kid_from) = kid_rule(s)?;
        // `--client-id "$UNSET_VAR"` would sign an assertion with an empty iss: say so instead.
        for k in [Key::ClientId, Key::Issuer, Key::Subject, Key::Audience, Key::TokenUrl, Key::Kid] {
            if s.str(k).is_some_and(|v| v.trim().is_empty()) {
                let from = s.origin(k).map(|o| o.to_string()).unwrap_or_default();
                return Err(ConfigError::Usage(format!(
                    "{} is empty ({from}): give a value or leave it out",
                    k.flag()
                )));
            }
        }
        let grant = s.parse::<Grant>(Key::Grant)?.unwrap_or(Grant::ClientCredentials);
        let lifetime = s.secs(Key::Lifetime)?.unwrap_or(crate::assertion::DEFAULT_LIFETIME);
        if lifetime == 0 {
            return Err(ConfigError::Usage("--lifetime must be at least 1 second".into()));
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
        let timeout = s.secs(Key::Timeout)?.unwrap_or(30);
        if timeout == 0 {
            return Err(ConfigError::Usage("--timeout must be at least 1 second".into()));
        }
        let token_path = s.str(Key::TokenPath).unwrap_or("/access_token").to_string();
        if token_path != "-" && !token_path.is_empty() && !token_path.starts_with('/') {
            return Err(ConfigError::Usage(format!(
                "--token-path '{}' is not a JSON pointer: it starts with / (e.g. /userInfo/token), or is - for a plain-text answer",
                crate::text::sanitize(&token_path, 60)
            )));
        }
        let scope_in_claim = template
            .as_ref()
            .is_some_and(|t| t.scope_in.as_deref() == Some("claim"));
        let mut src = TokenSource {
            key: s.path(Key::Key),
            passphrase,
            passphrase_source,
            cert: s.path(Key::Cert),
            next_key: s.path(Key::NextKey).map(|k| (k, s.path(Key::NextCert))),
            key_sources: key::KeySourceOptions::from_env(env),
            header: HeaderOptions {
                kid,
                kid_from,
                x5t: bool_or(s, Key::X5t),
                x5t_s256: bool_or(s, Key::X5tS256),
                x5c: bool_or(s, Key::X5c),
            },
            alg,
            alg_from_template: matches!(s.origin(Key::Alg), Some(Origin::Template(_))),
            client_id: s.str(Key::ClientId).map(String::from),
            issuer: s.str(Key::Issuer).map(String::from),
            subject: s.str(Key::Subject).map(String::from),
            omit_subject: template.as_ref().is_some_and(|t| t.omit_subject),
            audience: s.str(Key::Audience).map(String::from),
            lifetime,
            claims,
            grant,
            token_url: s.str(Key::TokenUrl).map(String::from),
            scopes: s.list(Key::Scope),
            scope_in_claim,
            params: s.map(Key::Param),
            request_headers,
            shape: ResponseShape {
                token_path,
                default_ttl: s.secs(Key::DefaultTtl)?.unwrap_or(crate::token::DEFAULT_TTL),
            },
            timeout: Duration::from_secs(timeout),
            ca_file: s.path(Key::CaFile),
            external: external(s, env)?,
            template,
            vars,
            warnings: vec![],
        };
        src.apply_template_patterns(s)?;
        src.apply_alg_send(s);
        src.check_template_limits()?;
        warnings.append(&mut src.warnings);
        src.warnings = warnings;
        Ok(src)
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
        }
    }

    /// Limits the provider enforces, checked before anything is signed or sent.
    pub fn check_template_limits(&self) -> Result<(), ConfigError> {
        let Some(t) = &self.template else { return Ok(()) };
        if let (Some(alg), false) = (self.alg, t.algs.is_empty()) {
            if !t.accepted_algs().contains(&alg) {
                return Err(ConfigError::Usage(format!(
                    "{} does not accept {alg} assertions (it accepts {})",
                    t.description_name(),
                    t.algs.join(", ")
                )));
            }
        }
        if let Some(max) = t.max_lifetime {
            if self.lifetime > max {
                return Err(ConfigError::Usage(format!(
                    "{} accepts assertions valid for at most {max} s; --lifetime {} is too long",
                    t.description_name(),
                    self.lifetime
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

    /// Loads the key (and certificate) and prepares a signer, checking the algorithm against the
    /// key and the template.
    pub fn signer(&self) -> Result<Signer, crate::Error> {
        let key_path = self.key.as_ref().ok_or_else(|| ConfigError::Missing {
            what: "a private key".into(),
            how: "give --key PATH or SIGNET_KEY".into(),
        })?;
        self.signer_for(key_path, self.cert.as_deref())
    }

    /// The signers to try, in order: with two keys (rotation), the one whose certificate is the
    /// newest valid one first; without certificates, the order given.
    pub fn signers(&self) -> Result<Vec<Signer>, crate::Error> {
        let first = self.signer()?;
        let Some((k, c)) = &self.next_key else {
            return Ok(vec![first]);
        };
        let second = self.signer_for(k, c.as_deref())?;
        let now = crate::clock::now();
        let start = |s: &Signer| {
            s.bundle()
                .leaf()
                .filter(|c| c.not_before() <= now && now <= c.not_after())
                .map(|c| c.not_before())
                .unwrap_or(i64::MIN)
        };
        Ok(if start(&second) > start(&first) {
            vec![second, first]
        } else {
            vec![first, second]
        })
    }

    fn signer_for(&self, key_path: &std::path::Path, cert: Option<&std::path::Path>) -> Result<Signer, crate::Error> {
        let spec = key::KeySpec::from_path(key_path);
        let bundle = key::load(&spec, self.passphrase.as_ref(), cert, &self.key_sources)?;
        let alg = match self.alg {
            // The template's algorithm is a default: an EC key at Okta signs ES256, not RS256.
            Some(a) if self.alg_from_template && !a.fits(bundle.key.key_type()) => None,
            a => a,
        };
        let signer = Signer::new(bundle, alg, &self.header)?;
        if let Some(t) = &self.template {
            if !t.algs.is_empty() && !t.accepted_algs().contains(&signer.alg()) {
                return Err(ConfigError::Usage(format!(
                    "{} does not accept {} assertions (it accepts {}): choose one with --alg",
                    t.description_name(),
                    signer.alg(),
                    t.algs.join(", ")
                ))
                .into());
            }
        }
        Ok(signer)
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
            extra,
        })
    }

    /// Signs one assertion at `now + skew`.
    pub fn sign(&self, signer: &Signer, skew: i64) -> Result<Secret<String>, crate::Error> {
        let claims = self.claims(signer)?;
        Ok(signer.sign(&claims, crate::clock::now() + skew)?)
    }

    /// The request for one attempt.
    pub fn request(&self, signer: &Signer, skew: i64) -> Result<TokenRequest, crate::Error> {
        let assertion = self.sign(signer, skew)?;
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

    /// Fetches a token with an external assertion (see [`External`]): the file is re-read and the
    /// variable read again for every attempt; GitHub's token is requested once.
    pub fn fetch_external(&self, on_event: &mut dyn FnMut(&Event)) -> Result<Outcome, crate::Error> {
        let Some(ext) = &self.external else {
            return Err(ConfigError::Usage("no external assertion source".into()).into());
        };
        let opts = self.exchange_options()?;
        exchange::check_url(&opts.url)?;
        let github = match ext {
            External::GitHub { audience, url, token } => {
                let (Some(url), Some(token)) = (url, token) else {
                    return Err(ConfigError::Missing {
                        what: "the GitHub Actions OIDC request variables".into(),
                        how: "give the job `permissions: id-token: write` (ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN are then set)".into(),
                    }
                    .into());
                };
                Some(exchange::fetch_github_oidc(
                    url,
                    token,
                    audience,
                    self.timeout,
                    self.ca_file.as_deref(),
                )?)
            }
            _ => None,
        };
        let mut make = |_skew: i64| -> Result<TokenRequest, crate::Error> {
            let assertion = match ext {
                External::File(p) => {
                    let bytes = key::read_secret_file(p).map_err(|e| KeyError::Read {
                        path: p.clone(),
                        reason: crate::text::io_reason(&e),
                    })?;
                    Secret::new(String::from_utf8_lossy(&bytes).trim().to_string())
                }
                External::Env { name, value } => value.clone().ok_or_else(|| ConfigError::Missing {
                    what: format!("the assertion in {name}"),
                    how: format!("set {name} (GitLab: an id_tokens entry named {name})"),
                })?,
                External::GitHub { .. } => github.clone().unwrap_or_default(),
            };
            if assertion.expose().split('.').count() != 3 {
                return Err(ConfigError::Usage(format!("the assertion from {} is not a JWT", ext.identity())).into());
            }
            self.request_for(assertion.expose(), None)
        };
        exchange::exchange_blocking(&opts, &mut make, on_event)
    }

    /// The exchange options.
    pub fn exchange_options(&self) -> Result<ExchangeOptions, ConfigError> {
        Ok(ExchangeOptions {
            url: self.token_url()?.to_string(),
            timeout: self.timeout,
            ca_file: self.ca_file.clone(),
            shape: self.shape.clone(),
        })
    }

    /// Fetches a token: signs (a fresh assertion per attempt) and exchanges. For the self-signed
    /// grant the assertion itself is the token.
    pub fn fetch(&self, signer: &Signer, on_event: &mut dyn FnMut(&Event)) -> Result<Outcome, crate::Error> {
        if self.grant == Grant::SelfSigned {
            let now = crate::clock::now();
            let jwt = self.sign(signer, 0)?;
            let token = crate::token::Token {
                access_token: jwt,
                token_type: Some("Bearer".into()),
                scope: None,
                obtained_at: now,
                expires_at: now + self.lifetime as i64,
                extra: BTreeMap::new(),
            };
            return Ok(Outcome {
                token,
                attempts: 0,
                warnings: vec![],
            });
        }
        let opts = self.exchange_options()?;
        exchange::check_url(&opts.url)?;
        let mut make = |skew: i64| self.request(signer, skew);
        let result = exchange::exchange_blocking(&opts, &mut make, on_event);
        result.map_err(|e| self.with_hint(e, signer))
    }

    /// Adds the template's hint (with what signet knows) to a refusal.
    pub fn with_hint(&self, e: crate::Error, signer: &Signer) -> crate::Error {
        let crate::Error::Exchange(ExchangeError::Refused {
            url,
            status,
            oauth,
            excerpt,
            clock_offset,
            hint: None,
        }) = e
        else {
            return e;
        };
        let mut facts: BTreeMap<&str, String> = BTreeMap::new();
        facts.insert("kid", signer.kid().unwrap_or("(none)").to_string());
        facts.insert(
            "kid_rule",
            self.header
                .kid_from
                .map(|k| k.to_string())
                .unwrap_or_else(|| "default".into()),
        );
        facts.insert("alg", signer.alg().to_string());
        if let Some(c) = signer.bundle().leaf() {
            facts.insert("x5t", c.x5t());
            facts.insert("x5t_s256", c.x5t_s256());
            facts.insert("sha1", c.hex_sha1());
        }
        facts.insert(
            "offset",
            match clock_offset {
                Some(o) if o.abs() > exchange::SKEW_TOLERANCE => {
                    format!(
                        "the local clock is {} the server's by {} s",
                        if o > 0 { "behind" } else { "ahead of" },
                        o.abs()
                    )
                }
                Some(o) => format!("the local clock agrees with the server's within {} s", o.abs().max(1)),
                None => "the server sent no Date header to compare clocks with".into(),
            },
        );
        let code = oauth
            .as_ref()
            .map(|o| o.error.clone())
            .unwrap_or_else(|| status.to_string());
        let desc = oauth.as_ref().and_then(|o| o.description.clone()).unwrap_or_default();
        let hint = self
            .template
            .as_ref()
            .and_then(|t| t.hint_for(&code, &desc, &facts))
            .or_else(|| {
                // AADSTS codes live in the description; a time error anywhere gets the clock fact.
                let lower = desc.to_ascii_lowercase();
                if lower.contains("expired")
                    || lower.contains("not yet valid")
                    || lower.contains("issued in the future")
                {
                    Some(format!("assertion times were refused: {}", facts["offset"]))
                } else {
                    None
                }
            });
        ExchangeError::Refused {
            url,
            status,
            oauth,
            excerpt,
            clock_offset,
            hint,
        }
        .into()
    }

    /// Identity of everything that changes which token comes back, as canonical text, for the
    /// cache key. Reads the key and certificate files' bytes (hashing them, never parsing), and
    /// never includes the passphrase.
    pub fn identity(&self) -> Result<String, KeyError> {
        use aws_lc_rs::digest::{digest, SHA256};
        let file_hash = |p: &PathBuf, cert: bool| -> Result<String, KeyError> {
            let bytes = key::read_secret_file(p).map_err(|e| {
                let reason = crate::text::io_reason(&e);
                if cert {
                    KeyError::CertRead {
                        path: p.clone(),
                        reason,
                    }
                } else {
                    KeyError::Read {
                        path: p.clone(),
                        reason,
                    }
                }
            })?;
            Ok(crate::b64::encode(digest(&SHA256, &bytes).as_ref()))
        };
        let mut key_id = match (&self.external, &self.key) {
            (Some(e), _) => e.identity(),
            // A key that is not a file is identified by its spec: the cache hit opens no session.
            (None, Some(p)) => match key::KeySpec::from_path(p) {
                key::KeySpec::File(p) => file_hash(&p, false)?,
                spec => spec.to_string(),
            },
            (None, None) => String::new(),
        };
        if let Some((k, c)) = &self.next_key {
            key_id.push('+');
            key_id.push_str(&file_hash(k, false)?);
            if let Some(c) = c {
                key_id.push('+');
                key_id.push_str(&file_hash(c, true)?);
            }
        }
        let cert_id = match &self.cert {
            Some(p) => file_hash(p, true)?,
            None => String::new(),
        };
        let mut scopes = self.scopes.clone();
        scopes.sort();
        scopes.dedup();
        let v = serde_json::json!({
            "token_url": self.token_url,
            "grant": self.grant.as_str(),
            "client_id": self.client_id,
            "iss": self.issuer,
            "sub": self.subject,
            "aud": self.audience,
            "scopes": scopes,
            "claims": self.claims,
            "params": self.params,
            "headers": self.request_headers,
            "token_path": self.shape.token_path,
            "template": self.template.as_ref().map(|t| t.name.clone()),
            "vars": self.vars,
            "alg": self.alg.map(|a| a.to_string()),
            "kid": self.header.kid,
            "kid_from": self.header.kid_from.map(|k| k.to_string()),
            "x5t": [self.header.x5t, self.header.x5t_s256, self.header.x5c],
            "key": key_id,
            "cert": cert_id,
        });
        Ok(v.to_string())
    }
}

impl Template {
    /// The provider's name for messages.
    pub fn description_name(&self) -> String {
        self.description
            .split(':')
            .next()
            .unwrap_or(&self.name)
            .trim()
            .to_string()
    }
}

fn passphrase(s: &Settings, env: &Env) -> Result<(Option<Secret<String>>, PassphraseSource), ConfigError> {
    let from_file = |p: PathBuf| -> Result<(Option<Secret<String>>, PassphraseSource), ConfigError> {
        let secret = key::read_passphrase_file(&p).map_err(|e| ConfigError::Usage(e.to_string()))?;
        Ok((Some(secret), PassphraseSource::File(p)))
    };
    // flag file > env value > profile (file or named env var)
    if matches!(s.origin(Key::KeyPassphraseFile), Some(Origin::Flag)) {
        return from_file(s.path(Key::KeyPassphraseFile).unwrap_or_default());
    }
    if let Some(v) = env.get(EnvVars::KEY_PASSPHRASE) {
        return Ok((Some(Secret::new(v.to_string())), PassphraseSource::Env));
    }
    if let Some(p) = s.path(Key::KeyPassphraseFile) {
        return from_file(p);
    }
    if let Some(var) = s.str(Key::PassphraseEnv) {
        return match env.get(var) {
            Some(v) => Ok((Some(Secret::new(v.to_string())), PassphraseSource::NamedEnv(var.into()))),
            None => Err(ConfigError::Missing {
                what: format!("the passphrase variable {var} named by passphrase_env"),
                how: format!("set {var} in the environment"),
            }),
        };
    }
    Ok((None, PassphraseSource::None))
}

/// Parses repeated `KEY=VALUE` flags into a map layer value.
pub fn kv_list(values: &[String], flag: &str) -> Result<Raw, ConfigError> {
    Ok(Raw::Map(
        values.iter().map(|v| split_kv(v, flag)).collect::<Result<_, _>>()?,
    ))
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
