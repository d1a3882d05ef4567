//! The token flow: serve a cached token when it is fresh, else fetch one and store it.
//!
//! [`Client::get_token`] is two visible steps:
//! 1. [`cached`](Client::get_token): the plan's identity → the store → fresh? A hit reads the key
//!    and certificate files' bytes (for the identity) and one entry. It does not load the key, read
//!    a passphrase file or a shared cache's key, start a runtime or build an HTTP client.
//! 2. fetch and store: take the lock, look again (another process may have fetched meanwhile),
//!    load the signers (two keys: the newest valid certificate first), sign and exchange, add the
//!    template's hint to a refusal, keep a still-valid token when the refresh fails, store.
//!
//! Warnings come back through [`Client::on_warning`]; the library never prints.
//!
//! The crate documentation shows a cached token in a few lines.

use crate::assertion::Signer;
use crate::cache::{CacheError, CacheKey, Entry, FileStore, TierOptions, TieredStore, TokenStore};
use crate::clock::{Clock, SystemClock};
use crate::config::ConfigError;
use crate::dpop::{DpopKey, DpopSource};
use crate::dry_run::{DryRun, RequestView, ShownAssertion};
use crate::exchange::{self, Attempt, Event, ExchangeError, Outcome};
use crate::files::{self, FileKind};
use crate::grant::{Grant, TokenRequest};
use crate::key::{self, KeyError, KeySpec};
use crate::plan::{External, TokenPlan};
use crate::secret::Secret;
use crate::token::Token;
use crate::warning::{Warning, WarningKind, WarningSink};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// A token and where it came from.
#[derive(Debug)]
pub struct Served {
    /// The token.
    pub token: Token,
    /// True when it came from a cache (local or shared), false when just fetched.
    pub from_cache: bool,
    /// With DPoP: the key the token is bound to (see [`Client::dpop_proof`]).
    pub dpop: Option<Arc<DpopKey>>,
}

impl Served {
    /// The RFC 7638 thumbprint of the DPoP key the token is bound to (`cnf.jkt`), with DPoP.
    pub fn dpop_jkt(&self) -> Option<&str> {
        self.dpop.as_deref().map(DpopKey::jkt)
    }

    /// The scheme of the `Authorization` header that carries the token: `DPoP` for a DPoP-bound
    /// token (RFC 9449 §7.1), else `Bearer`.
    pub fn scheme(&self) -> &'static str {
        if self.dpop.is_some() {
            "DPoP"
        } else {
            "Bearer"
        }
    }
}

/// A cached entry as what it serves, when it can: with DPoP the entry must name the key's
/// thumbprint, and hold the generated key itself (whole, with that thumbprint) or match the
/// `--dpop-key` file. Anything else is a miss, so a token is never sent with a proof signed by
/// a key it is not bound to.
fn serve_entry(plan: &TokenPlan, e: &Entry) -> Option<Served> {
    let dpop = match &plan.dpop {
        None => None,
        Some(src) => {
            let Some(jkt) = e.dpop_jkt.as_deref() else {
                tracing::debug!("the cached entry has no DPoP key: a miss");
                return None;
            };
            let key = match src {
                DpopSource::Generated => e.dpop_key.as_deref().and_then(|k| DpopKey::from_stored(k, jkt)),
                DpopSource::File(p) => DpopKey::from_file(p).ok().filter(|k| k.jkt() == jkt),
            };
            let Some(key) = key else {
                tracing::debug!("the cached entry's DPoP key is missing, damaged or another: a miss");
                return None;
            };
            Some(Arc::new(key))
        }
    };
    Some(Served {
        token: e.token(),
        from_cache: true,
        dpop,
    })
}

/// Gets tokens for plans: the clock it judges freshness by, the store it caches in, and where
/// its warnings go.
pub struct Client {
    clock: Arc<dyn Clock>,
    store: Option<Arc<dyn TokenStore>>,
    warn: WarningSink,
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("store", &self.store.as_ref().map(|_| "given"))
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client on the system clock that caches where each plan says and drops warnings.
    pub fn new() -> Client {
        Client {
            clock: Arc::new(SystemClock),
            store: None,
            warn: Arc::new(|_: &Warning| {}),
        }
    }

    /// Judges freshness by `clock` (and signs assertions at its time).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Client {
        self.clock = clock;
        self
    }

    /// Caches in `store` instead of the folder (and shared cache) each plan names.
    pub fn with_store(mut self, store: Arc<dyn TokenStore>) -> Client {
        self.store = Some(store);
        self
    }

    /// Sends each warning to `f`.
    pub fn on_warning(mut self, f: impl Fn(&Warning) + Send + Sync + 'static) -> Client {
        self.warn = Arc::new(f);
        self
    }

    fn warn(&self, kind: WarningKind, message: impl Into<String>) {
        (self.warn)(&Warning::new(kind, message));
    }

    /// A token for `plan`: from the cache when fresh, else fetched and stored.
    pub fn get_token(&self, plan: &TokenPlan) -> Result<Served, crate::Error> {
        check_exchange(plan)?;
        let Some(store) = self.open_store(plan) else {
            // Without a cache a generated DPoP key lives as long as this process.
            let (token, dpop) = self.fetch_checked(plan)?;
            return Ok(Served {
                token,
                from_cache: false,
                dpop,
            });
        };
        let key = plan.cache_key()?;
        if !plan.cache.force_refresh {
            if let Some(served) = self.cached(plan, &*store, &key)? {
                tracing::debug!("cache hit");
                return Ok(served);
            }
        }
        self.fetch_and_store(plan, &*store, &key)
    }

    /// Step 1, the hit: the entry for `key`, when it has at least `min_ttl` left (and, with
    /// DPoP, the key it is bound to).
    fn cached(&self, plan: &TokenPlan, store: &dyn TokenStore, key: &CacheKey) -> Result<Option<Served>, crate::Error> {
        Ok(self
            .read(store, key)?
            .filter(|e| e.is_fresh(self.clock.now(), plan.cache.min_ttl))
            .and_then(|e| serve_entry(plan, &e)))
    }

    /// Step 2: lock, look again, fetch, store; a failed refresh keeps a still-valid token.
    fn fetch_and_store(
        &self,
        plan: &TokenPlan,
        store: &dyn TokenStore,
        key: &CacheKey,
    ) -> Result<Served, crate::Error> {
        tracing::debug!("cache miss; taking the lock");
        let mut on_wait = || {
            self.warn(
                WarningKind::Waiting,
                "another signet process is fetching this token; waiting for it",
            )
        };
        let _guard = match store.lock(key, plan.timeout, &mut on_wait) {
            Ok(g) => Some(g),
            Err(e @ (CacheError::LockTimeout { .. } | CacheError::Config(_))) => return Err(e.into()),
            Err(e) => {
                self.warn(WarningKind::Cache, format!("{e}; going on without the lock"));
                None
            }
        };
        let existing = self.read(store, key)?;
        if !plan.cache.force_refresh {
            if let Some(served) = existing
                .as_ref()
                .filter(|e| e.is_fresh(self.clock.now(), plan.cache.min_ttl))
                .and_then(|e| serve_entry(plan, e))
            {
                tracing::debug!("cache hit after waiting for the lock");
                return Ok(served);
            }
        }
        let (token, dpop) = match self.fetch_checked(plan) {
            Ok(t) => t,
            Err(err) => {
                // A refresh that fails never throws away a token that still works.
                let now = self.clock.now();
                let Some((e, served)) = existing
                    .filter(|e| e.is_valid(now))
                    .and_then(|e| serve_entry(plan, &e).map(|s| (e, s)))
                else {
                    return Err(err);
                };
                if plan.cache.force_refresh {
                    return Err(crate::Error::ForcedRefresh(Box::new(err)));
                }
                self.warn(
                    WarningKind::StaleToken,
                    format!(
                        "refreshing the cached token failed ({err}); using the cached one, which expires in {}",
                        crate::clock::human_duration((e.expires_at - now).max(0) as u64)
                    ),
                );
                return Ok(served);
            }
        };
        let (token_url, client_id, scope) = plan.entry_labels();
        let mut entry = Entry::new(&token, token_url, client_id, scope);
        plan.label_entry(&mut entry);
        if let Some(k) = &dpop {
            entry.dpop_jkt = Some(k.jkt().to_string());
            entry.dpop_key = k.stored().map(|s| s.expose().clone());
        }
        if let Err(e) = store.put(key, &entry) {
            self.warn(WarningKind::Cache, format!("{e}; the token is not cached"));
        }
        Ok(Served {
            token,
            from_cache: false,
            dpop,
        })
    }

    /// A DPoP proof for a request to `url` with `method` that carries `served`'s token (`ath`),
    /// signed now by the key the token is bound to; `nonce` is a resource server's `DPoP-Nonce`.
    pub fn dpop_proof(
        &self,
        served: &Served,
        method: &str,
        url: &str,
        nonce: Option<&str>,
    ) -> Result<Secret<String>, crate::Error> {
        let key = served.dpop.as_ref().ok_or_else(|| {
            ConfigError::Usage("a DPoP proof needs a DPoP-bound token: give --dpop (or --dpop-key PATH)".into())
        })?;
        if let Some(n) = nonce.filter(|n| !crate::dpop::is_valid_nonce(n)) {
            return Err(ConfigError::Usage(format!(
                "--nonce '{}' has characters a DPoP nonce cannot have (control characters, spaces, quotes or non-ASCII)",
                crate::text::sanitize(n, 80)
            ))
            .into());
        }
        Ok(key.proof(
            method,
            url,
            nonce,
            Some(served.token.access_token.expose()),
            self.clock.now(),
        )?)
    }

    /// Reads an entry; an entry that cannot be trusted is a miss (with a warning), while a cache
    /// whose settings cannot work is an error.
    fn read(&self, store: &dyn TokenStore, key: &CacheKey) -> Result<Option<Entry>, crate::Error> {
        match store.get(key) {
            Ok(e) => Ok(e),
            Err(e @ CacheError::Config(_)) => Err(e.into()),
            Err(e) => {
                self.warn(WarningKind::Cache, format!("{e}; ignoring it"));
                Ok(None)
            }
        }
    }

    /// The store for `plan`: the one given, else its cache folder with its shared cache behind it.
    fn open_store(&self, plan: &TokenPlan) -> Option<Arc<dyn TokenStore>> {
        if plan.cache.no_cache {
            return None;
        }
        if let Some(s) = &self.store {
            return Some(s.clone());
        }
        let Some(dir) = plan.cache.dir.as_deref() else {
            self.warn(
                WarningKind::Cache,
                "no cache folder (set SIGNET_CACHE_DIR); going on without the cache",
            );
            return None;
        };
        match FileStore::open(dir) {
            Ok(local) => Some(Arc::new(TieredStore::new(
                local.with_warnings(self.warn.clone()),
                plan.cache.shared.clone(),
                TierOptions {
                    min_ttl: plan.cache.min_ttl,
                    timeout: plan.timeout,
                    force_refresh: plan.cache.force_refresh,
                },
                self.clock.clone(),
                self.warn.clone(),
            ))),
            Err(e) => {
                self.warn(WarningKind::Cache, format!("{e}; going on without the cache"));
                None
            }
        }
    }

    /// A new token for `plan`, not looking at any cache: signs (a fresh assertion per attempt)
    /// and exchanges, or sends the external assertion. For the self-signed grant the assertion
    /// is the token.
    pub fn fetch(&self, plan: &TokenPlan) -> Result<Token, crate::Error> {
        check_exchange(plan)?;
        Ok(self.fetch_checked(plan)?.0)
    }

    /// [`Client::fetch`] once the plan's URL and requirements are checked; with DPoP, also the
    /// key the token is bound to (the `--dpop-key`, or one generated for this token).
    fn fetch_checked(&self, plan: &TokenPlan) -> Result<(Token, Option<Arc<DpopKey>>), crate::Error> {
        let dpop = match &plan.dpop {
            Some(src) => Some(Arc::new(DpopKey::open(src)?)),
            None => None,
        };
        let token = self.fetch_with(plan, dpop.as_deref())?;
        Ok((token, dpop))
    }

    /// Signs and exchanges, with DPoP proofs by `dpop`.
    fn fetch_with(&self, plan: &TokenPlan, dpop: Option<&DpopKey>) -> Result<Token, crate::Error> {
        if let Some(ext) = &plan.external {
            return self.fetch_external(plan, ext, dpop);
        }
        let signers = self.signers(plan)?;
        let [signer] = &signers[..] else {
            return self.fetch_rotating(plan, &signers, dpop);
        };
        self.check_certificate(plan, signer)?;
        let url = plan.token_url.clone().unwrap_or_default();
        let mut on_event = |e: &Event| match e {
            Event::Sending { attempt } => tracing::debug!("POST {url} (attempt {attempt})"),
            Event::Status { status, elapsed, bytes } => {
                tracing::debug!("HTTP {status}, {bytes} bytes in {} ms", elapsed.as_millis())
            }
            Event::Retry { reason, after } => {
                tracing::debug!("{reason}: retrying in {} ms", after.as_millis());
                if *after > Duration::from_secs(2) {
                    self.warn(
                        WarningKind::Retry,
                        format!("{reason} from the token endpoint; retrying in {} s", after.as_secs()),
                    );
                }
            }
        };
        Ok(self.exchange(plan, signer, dpop, &mut on_event)?.token)
    }

    /// Two keys (rotation): sign with the preferred one; if the endpoint does not know it, try
    /// the other once.
    fn fetch_rotating(
        &self,
        plan: &TokenPlan,
        signers: &[Signer],
        dpop: Option<&DpopKey>,
    ) -> Result<Token, crate::Error> {
        let name = |s: &Signer| s.bundle().source.display().to_string();
        let mut on_event = |e: &Event| tracing::debug!("{e:?}");
        let mut first_err = None;
        for (i, signer) in signers.iter().enumerate() {
            if let Err(e) = self.check_certificate(plan, signer) {
                first_err.get_or_insert(e);
                continue;
            }
            match self.exchange(plan, signer, dpop, &mut on_event) {
                Ok(outcome) => {
                    if i > 0 {
                        self.warn(
                            WarningKind::Rotation,
                            format!(
                                "the token endpoint did not know the key {}; {} worked: retire the other one",
                                name(&signers[0]),
                                name(signer)
                            ),
                        );
                    }
                    return Ok(outcome.token);
                }
                Err(crate::Error::Exchange(e)) if e.is_unknown_key() && i == 0 => {
                    tracing::debug!("key {} refused as unknown; trying the other", name(signer));
                    first_err = Some(e.into());
                }
                Err(e) => return Err(e),
            }
        }
        Err(first_err.unwrap_or_else(|| ConfigError::Usage("no usable key".into()).into()))
    }

    /// One exchange with `signer` (or, for the self-signed grant, the assertion as the token).
    fn exchange(
        &self,
        plan: &TokenPlan,
        signer: &Signer,
        dpop: Option<&DpopKey>,
        on_event: &mut dyn FnMut(&Event),
    ) -> Result<Outcome, crate::Error> {
        if plan.grant == Grant::SelfSigned {
            let now = self.clock.now();
            let token = Token {
                access_token: plan.sign(signer, now)?,
                token_type: Some("Bearer".into()),
                scope: None,
                obtained_at: now,
                expires_at: now + plan.lifetime as i64,
                extra: BTreeMap::new(),
            };
            return Ok(Outcome {
                token,
                attempts: 0,
                warnings: vec![],
            });
        }
        let mut opts = plan.exchange_options()?;
        if plan.mtls {
            opts.client_identity = Some(crate::mtls::identity(plan, signer.bundle())?);
        }
        let mut make = |a: &Attempt| -> Result<TokenRequest, crate::Error> {
            let at = self.clock.now() + a.skew;
            let mut req = match plan.tls_client_auth {
                true => crate::mtls::request(plan)?,
                false => plan.request(signer, at)?,
            };
            add_dpop_proof(&mut req, dpop, a, at)?;
            log_request(&req);
            Ok(req)
        };
        let outcome = exchange::exchange_blocking_with(&opts, &mut make, on_event)
            .map_err(|e| with_hint(plan, flatten(e), signer))?;
        for w in &outcome.warnings {
            self.warn(WarningKind::Answer, w.clone());
        }
        Ok(outcome)
    }

    /// Fetches a token with an external assertion (see [`External`]): the file is re-read and
    /// the variable read again for every attempt; GitHub's token is requested once.
    fn fetch_external(&self, plan: &TokenPlan, ext: &External, dpop: Option<&DpopKey>) -> Result<Token, crate::Error> {
        let opts = plan.exchange_options()?;
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
                    plan.timeout,
                    plan.ca_file.as_deref(),
                )?)
            }
            _ => None,
        };
        let mut make = |a: &Attempt| -> Result<TokenRequest, crate::Error> {
            let assertion = match ext {
                External::File(p) => {
                    let bytes = files::read_secret(p, FileKind::Assertion).map_err(|e| KeyError::AssertionRead {
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
            let mut req = plan.request_for(assertion.expose(), None)?;
            add_dpop_proof(&mut req, dpop, a, self.clock.now() + a.skew)?;
            log_request(&req);
            Ok(req)
        };
        let mut on_event = |e: &Event| tracing::debug!("{e:?}");
        let outcome = exchange::exchange_blocking_with(&opts, &mut make, &mut on_event).map_err(flatten)?;
        for w in &outcome.warnings {
            self.warn(WarningKind::Answer, w.clone());
        }
        Ok(outcome.token)
    }

    /// What [`Client::get_token`] would send for `plan`, sending nothing: the settings checked as
    /// for an exchange, the key loaded and an assertion signed (so a wrong passphrase or an
    /// algorithm the template refuses fails here as it would there), and the request built, with
    /// every assertion decoded and every secret replaced ([`DryRun`]). No cache entry is read or
    /// written and no cache folder is opened. An external assertion is read from its file or
    /// variable when it is there; GitHub's OIDC endpoint is not asked (the dry run says where the
    /// assertion would come from).
    pub fn dry_run(&self, plan: &TokenPlan) -> Result<DryRun, crate::Error> {
        check_exchange(plan)?;
        if let Some(ext) = &plan.external {
            return self.dry_run_external(plan, ext);
        }
        // The signer that would sign first: with two keys, the one whose certificate is newest.
        let signer = self.signers(plan)?.remove(0);
        self.check_certificate(plan, &signer)?;
        let now = self.clock.now();
        if plan.grant == Grant::SelfSigned {
            let token = plan.sign(&signer, now)?;
            let decoded = crate::inspect::dangerous::decode_unverified(token.expose())?;
            return Ok(DryRun {
                request: None,
                self_signed: Some(ShownAssertion {
                    place: "the token".into(),
                    scheme: None,
                    decoded,
                }),
                notes: vec![],
            });
        }
        let mut notes = vec![];
        if plan.next_key.is_some() {
            notes.push(format!(
                "signed with {}; if the endpoint does not know that key, the other one is tried once",
                signer.bundle().source.display()
            ));
        }
        let mut req = match plan.tls_client_auth {
            true => crate::mtls::request(plan)?,
            false => plan.request(&signer, now)?,
        };
        if plan.mtls {
            crate::mtls::identity(plan, signer.bundle())?;
            notes.push(format!(
                "the TLS client certificate is {}{}",
                signer
                    .bundle()
                    .leaf()
                    .map(|c| c.subject().to_string())
                    .unwrap_or_default(),
                if plan.tls_client_auth {
                    ", which alone authenticates the client (no assertion)"
                } else {
                    ""
                }
            ));
        }
        self.dry_run_dpop(plan, &mut req, &mut notes)?;
        Ok(DryRun {
            request: Some(RequestView::of(&req)),
            self_signed: None,
            notes,
        })
    }

    /// [`Client::dry_run`] for an assertion signet does not sign.
    fn dry_run_external(&self, plan: &TokenPlan, ext: &External) -> Result<DryRun, crate::Error> {
        let (note, assertion) = match ext {
            External::File(p) => match files::read_secret(p, FileKind::Assertion) {
                Ok(bytes) => (
                    format!("the assertion is read from {} at every attempt", p.display()),
                    Some(String::from_utf8_lossy(&bytes).trim().to_string()),
                ),
                Err(e) => (
                    format!(
                        "the assertion would be read from {} at every attempt (now: {})",
                        p.display(),
                        crate::text::io_reason(&e)
                    ),
                    None,
                ),
            },
            External::Env { name, value } => match value {
                Some(v) => (format!("the assertion is read from ${name}"), Some(v.expose().clone())),
                None => (format!("the assertion would be read from ${name}, which is not set"), None),
            },
            External::GitHub { audience, url, .. } => (
                format!(
                    "the assertion would be asked for at GitHub's OIDC endpoint ({}) with audience {audience}; not asked in a dry run",
                    match url {
                        Some(_) => "$ACTIONS_ID_TOKEN_REQUEST_URL, with $ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                        None => "ACTIONS_ID_TOKEN_REQUEST_URL is not set: give the job `permissions: id-token: write`",
                    }
                ),
                None,
            ),
        };
        // Without the assertion itself, a stand-in shows where it goes (and is not a JWT, so it
        // cannot be mistaken for one).
        let mut notes = vec![note];
        let assertion = match assertion {
            Some(a) if a.split('.').count() == 3 => a,
            Some(_) => {
                notes.push(format!(
                    "the assertion from {} is not a JWT: the exchange would stop there",
                    ext.identity()
                ));
                "[the external assertion]".into()
            }
            None => "[the external assertion]".into(),
        };
        let mut req = plan.request_for(&assertion, None)?;
        self.dry_run_dpop(plan, &mut req, &mut notes)?;
        Ok(DryRun {
            request: Some(RequestView::of(&req)),
            self_signed: None,
            notes,
        })
    }

    /// The DPoP proof a dry run shows: by the `--dpop-key`, or by a key generated for the dry run
    /// alone (a real request would use the cache entry's, or a new one).
    fn dry_run_dpop(
        &self,
        plan: &TokenPlan,
        req: &mut TokenRequest,
        notes: &mut Vec<String>,
    ) -> Result<(), crate::Error> {
        let Some(src) = &plan.dpop else { return Ok(()) };
        let key = DpopKey::open(src)?;
        if *src == DpopSource::Generated {
            notes.push(
                "the DPoP proof is signed by a P-256 key generated for this dry run; a real request uses the one generated for the cache entry".into(),
            );
        }
        add_dpop_proof(req, Some(&key), &Attempt::default(), self.clock.now())?;
        Ok(())
    }

    /// Loads the plan's key (reading its passphrase) and prepares a signer, checking the
    /// certificate's validity; its warnings (permissions, expiry close by, a rewritten kid) go to
    /// the warning callback. For `assert` and `check`.
    pub fn signer(&self, plan: &TokenPlan) -> Result<Signer, crate::Error> {
        let signer = self.signers_from(plan, false)?.remove(0);
        self.check_certificate(plan, &signer)?;
        Ok(signer)
    }

    /// An assertion for `plan`, signed now (what `signet assert` prints).
    pub fn assertion(&self, plan: &TokenPlan) -> Result<Secret<String>, crate::Error> {
        let signer = self.signer(plan)?;
        plan.sign(&signer, self.clock.now())
    }

    fn signers(&self, plan: &TokenPlan) -> Result<Vec<Signer>, crate::Error> {
        self.signers_from(plan, true)
    }

    /// The signers to try, in order: with two keys (rotation), the one whose certificate is the
    /// newest valid one first; without certificates, the order given.
    fn signers_from(&self, plan: &TokenPlan, both: bool) -> Result<Vec<Signer>, crate::Error> {
        let key_path = plan.key.as_ref().ok_or_else(|| ConfigError::Missing {
            what: "a private key".into(),
            how: "give --key PATH or SIGNET_KEY".into(),
        })?;
        let first = signer_for(plan, key_path, plan.cert.as_deref())?;
        let Some((k, c)) = plan.next_key.as_ref().filter(|_| both) else {
            return Ok(vec![first]);
        };
        let second = signer_for(plan, k, c.as_deref())?;
        let now = self.clock.now();
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

    /// Certificate validity: outside notBefore/notAfter is an error; within the plan's
    /// `--warn-expiry` days of notAfter a warning, on every command that signs, so that a daily
    /// job says so before the certificate stops a nightly one. Also the key file's permissions
    /// and the signer's own warnings.
    fn check_certificate(&self, plan: &TokenPlan, signer: &Signer) -> Result<(), crate::Error> {
        if let Some(w) = key::permission_warning(&signer.bundle().source) {
            self.warn(WarningKind::Key, w);
        }
        if let Some(c) = signer.bundle().leaf() {
            let now = self.clock.now();
            let state = if now < c.not_before() {
                Some("not yet valid")
            } else if now > c.not_after() {
                Some("expired")
            } else {
                None
            };
            if let Some(state) = state {
                return Err(KeyError::CertificateExpired {
                    subject: c.subject().into(),
                    state,
                    not_before: crate::clock::rfc3339(c.not_before()),
                    not_after: crate::clock::rfc3339(c.not_after()),
                }
                .into());
            }
            let left = c.not_after() - now;
            let warn_secs = i64::try_from(plan.warn_expiry_days.saturating_mul(86400)).unwrap_or(i64::MAX);
            if left < warn_secs {
                self.warn(
                    WarningKind::Key,
                    format!(
                        "the certificate {} expires in {} ({}): register its successor before then",
                        c.subject(),
                        crate::clock::human_duration(left as u64),
                        crate::clock::rfc3339(c.not_after())
                    ),
                );
            }
        }
        for w in signer.warnings() {
            self.warn(WarningKind::Key, w.clone());
        }
        Ok(())
    }
}

/// `-v` shows the shape of each request as it is sent (the request line, header and form field
/// names, each assertion as `[assertion: kid=…, alg=…]`); `-vv` adds the values that are not
/// secret (scope, client_id, grant_type, …). Secrets are never logged: see [`RequestView`].
fn log_request(req: &TokenRequest) {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
    let values = tracing::enabled!(tracing::Level::TRACE);
    for line in RequestView::of(req).summary(values) {
        tracing::debug!("{line}");
    }
}

/// Adds the `DPoP` header to a token request: a proof for POST to its URL at `at`, with the
/// nonce the server asked for; signed afresh for every attempt.
fn add_dpop_proof(req: &mut TokenRequest, dpop: Option<&DpopKey>, a: &Attempt, at: i64) -> Result<(), crate::Error> {
    if let Some(k) = dpop {
        let proof = k.proof("POST", &req.url, a.dpop_nonce.as_deref(), None, at)?;
        req.headers.push(("DPoP".into(), proof));
    }
    Ok(())
}

/// The exchange's failure, or the signer's, as the library's error.
fn flatten(f: exchange::Failed<crate::Error>) -> crate::Error {
    match f {
        exchange::Failed::Exchange(e) => e.into(),
        exchange::Failed::Request(e) => e,
    }
}

/// What an exchange needs before any key is read: a scope where the provider requires one, and
/// a usable token URL (the self-signed grant needs none).
fn check_exchange(plan: &TokenPlan) -> Result<(), crate::Error> {
    plan.check_exchange_requirements()?;
    crate::mtls::check_plan(plan)?;
    if plan.mtls && (plan.external.is_some() || plan.grant == Grant::SelfSigned) {
        return Err(ConfigError::Usage(
            "--mtls presents the --key and --cert on the token request: it does not go with an external assertion or the self-signed grant".into(),
        )
        .into());
    }
    if plan.dpop.is_some() && plan.grant == Grant::SelfSigned {
        return Err(ConfigError::Usage(
            "--dpop needs a token endpoint: the self-signed grant makes the token itself, which no DPoP proof can bind"
                .into(),
        )
        .into());
    }
    if plan.grant != Grant::SelfSigned {
        exchange::check_url(plan.token_url()?)?;
    }
    Ok(())
}

fn signer_for(plan: &TokenPlan, spec: &KeySpec, cert: Option<&std::path::Path>) -> Result<Signer, crate::Error> {
    // Only a key file can be encrypted: a token or an agent is never asked for a passphrase.
    let passphrase = match spec.file() {
        Some(_) => plan.passphrase.read()?,
        None => None,
    };
    let bundle = key::load(spec, passphrase.as_ref(), cert, &plan.key_sources)?;
    let alg = match plan.alg {
        // The template's algorithm is a default: an EC key at Okta signs ES256, not RS256.
        Some(a) if plan.alg_from_template && !a.fits(bundle.key.key_type()) => None,
        a => a,
    };
    let signer = Signer::new(bundle, alg, &plan.header)?;
    if let Some(t) = &plan.template {
        let accepted = t.accepted_algs();
        if !accepted.is_empty() && !accepted.contains(&signer.alg()) {
            // No --alg reaches this point (the plan checked it): the algorithm is the key's own
            // default, so the fix depends on whether the key can sign one the provider takes.
            let kt = signer.bundle().key.key_type();
            let provider = format!("{} (the {} template)", t.description_name(), t.name);
            let algs = t.algs.join(", ");
            let msg = if accepted.iter().any(|a| a.fits(kt)) {
                format!(
                    "{provider} does not accept {}, the default for {kt} (it accepts {algs}): choose one with --alg",
                    signer.alg()
                )
            } else {
                format!(
                    "{provider} accepts only {algs} assertions, which {kt} cannot sign: use {}",
                    accepted[0].needs()
                )
            };
            return Err(ConfigError::Usage(msg).into());
        }
    }
    Ok(signer)
}

/// Adds the template's hint (with what signet knows) to a refusal.
fn with_hint(plan: &TokenPlan, e: crate::Error, signer: &Signer) -> crate::Error {
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
        plan.header
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
                    "the local clock is {} the server's by {} s{}",
                    if o > 0 { "behind" } else { "ahead of" },
                    o.abs(),
                    if o.abs() > exchange::MAX_SKEW_CORRECTION {
                        " (more than 15 minutes: not corrected, fix whichever clock is wrong)"
                    } else {
                        ""
                    }
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
    let hint = plan
        .template
        .as_ref()
        .and_then(|t| t.hint_for(&code, &desc, &facts))
        .or_else(|| {
            // AADSTS codes live in the description; a time error anywhere gets the clock fact.
            let lower = desc.to_ascii_lowercase();
            if plan.dpop.is_none() && (code.to_ascii_lowercase().contains("dpop") || lower.contains("dpop")) {
                return Some(
                    "the token endpoint wants DPoP proofs for this client: give --dpop (or --dpop-key PATH)".into(),
                );
            }
            if lower.contains("expired") || lower.contains("not yet valid") || lower.contains("issued in the future") {
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

/// The flow specified with a fixed clock, an in-memory store and the embedded issuer on
/// 127.0.0.1: each test is one rule of the cache policy.
#[cfg(all(test, feature = "issuer"))]
mod tests {
    use super::*;
    use crate::cache::MemoryStore;
    use crate::clock::FixedClock;
    use crate::config::{Key, Settings};
    use crate::issuer::{self, Fault, Issuer, IssuerConfig};
    use std::sync::Mutex;

    fn fixture(name: &str) -> String {
        format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    /// An issuer that trusts `keys` and issues tokens valid for 90 s.
    fn issuer_trusting(keys: &[(&str, &str)]) -> Issuer {
        let clients = keys
            .iter()
            .map(|(k, c)| {
                let b = key::load_bundle(fixture(k).as_ref(), None, Some(fixture(c).as_ref())).unwrap();
                issuer::Client::from_bundle("app", &b, None)
            })
            .collect();
        Issuer::start(IssuerConfig {
            clients,
            expires_in: Some(90),
            ..Default::default()
        })
        .unwrap()
    }

    fn plan(iss: &Issuer, extra: &[(Key, &str)]) -> TokenPlan {
        let mut v = vec![
            (Key::Key, fixture("rsa2048.pkcs8.pem")),
            (Key::Cert, fixture("rsa2048.crt.pem")),
            (Key::ClientId, "app".into()),
            (Key::TokenUrl, iss.token_url().into()),
            (Key::Timeout, "2".into()),
        ];
        v.extend(extra.iter().map(|(k, s)| (*k, s.to_string())));
        TokenPlan::from_settings(&Settings::from_values(v), &crate::env::Env::default(), None).unwrap()
    }

    struct Setup {
        clock: Arc<FixedClock>,
        store: Arc<MemoryStore>,
        warnings: Arc<Mutex<Vec<Warning>>>,
        client: Client,
    }

    fn setup(store: MemoryStore) -> Setup {
        let clock = Arc::new(FixedClock::new(crate::clock::now()));
        let store = Arc::new(store);
        let warnings = Arc::new(Mutex::new(vec![]));
        let sink = warnings.clone();
        let client = Client::new()
            .with_clock(clock.clone())
            .with_store(store.clone())
            .on_warning(move |w| sink.lock().unwrap().push(w.clone()));
        Setup {
            clock,
            store,
            warnings,
            client,
        }
    }

    /// The warnings' kinds, less the key file's permission warning (a fixture checked out with
    /// the umask's mode gets one; which one a test expects is about the flow).
    fn kinds(s: &Setup) -> Vec<WarningKind> {
        s.warnings
            .lock()
            .unwrap()
            .iter()
            .map(|w| w.kind)
            .filter(|k| *k != WarningKind::Key)
            .collect()
    }

    /// Moves both clocks: signet's fixed one and the issuer's, so assertions stay in time.
    fn advance(s: &Setup, iss: &Issuer, secs: i64) {
        s.clock.advance(secs);
        iss.configure(|c| c.clock_offset += secs);
    }

    #[test]
    fn a_miss_fetches_and_stores_then_a_hit_sends_nothing() {
        let iss = issuer_trusting(&[("rsa2048.pkcs8.pem", "rsa2048.crt.pem")]);
        let (s, p) = (setup(MemoryStore::new()), plan(&iss, &[]));
        let first = s.client.get_token(&p).unwrap();
        assert!(!first.from_cache);
        assert_eq!(s.store.puts.load(std::sync::atomic::Ordering::SeqCst), 1);
        let again = s.client.get_token(&p).unwrap();
        assert!(again.from_cache);
        assert_eq!(again.token.access_token.expose(), first.token.access_token.expose());
        assert_eq!(iss.request_count(), 1);
    }

    #[test]
    fn a_token_below_min_ttl_is_fetched_again() {
        let iss = issuer_trusting(&[("rsa2048.pkcs8.pem", "rsa2048.crt.pem")]);
        let (s, p) = (setup(MemoryStore::new()), plan(&iss, &[]));
        let first = s.client.get_token(&p).unwrap();
        advance(&s, &iss, 29); // 61 s left of 90: still fresh with min-ttl 60
        assert!(s.client.get_token(&p).unwrap().from_cache);
        advance(&s, &iss, 5); // 56 s left (the answer's time is the system clock's: a few s of slack)
        let next = s.client.get_token(&p).unwrap();
        assert!(!next.from_cache);
        assert_ne!(next.token.access_token.expose(), first.token.access_token.expose());
        assert_eq!(iss.request_count(), 2);
    }

    #[test]
    fn a_failed_refresh_serves_the_still_valid_token_with_a_warning() {
        let iss = issuer_trusting(&[("rsa2048.pkcs8.pem", "rsa2048.crt.pem")]);
        let (s, p) = (setup(MemoryStore::new()), plan(&iss, &[]));
        let first = s.client.get_token(&p).unwrap();
        advance(&s, &iss, 40);
        iss.push_faults([Fault::json(400, serde_json::json!({"error": "invalid_grant"}))]);
        let served = s.client.get_token(&p).unwrap();
        assert!(served.from_cache);
        assert_eq!(served.token.access_token.expose(), first.token.access_token.expose());
        assert_eq!(kinds(&s), vec![WarningKind::StaleToken]);
    }

    #[test]
    fn an_expired_token_is_not_served_when_the_refresh_fails() {
        let iss = issuer_trusting(&[("rsa2048.pkcs8.pem", "rsa2048.crt.pem")]);
        let (s, p) = (setup(MemoryStore::new()), plan(&iss, &[]));
        s.client.get_token(&p).unwrap();
        advance(&s, &iss, 91);
        iss.push_faults([Fault::json(400, serde_json::json!({"error": "invalid_grant"}))]);
        let e = s.client.get_token(&p).unwrap_err();
        assert_eq!(e.category(), crate::Category::Refused, "{e}");
    }

    #[test]
    fn force_refresh_fetches_although_the_token_is_fresh() {
        let iss = issuer_trusting(&[("rsa2048.pkcs8.pem", "rsa2048.crt.pem")]);
        let s = setup(MemoryStore::new());
        let first = s.client.get_token(&plan(&iss, &[])).unwrap();
        let forced = s.client.get_token(&plan(&iss, &[(Key::ForceRefresh, "true")])).unwrap();
        assert!(!forced.from_cache);
        assert_ne!(forced.token.access_token.expose(), first.token.access_token.expose());
        assert_eq!(iss.request_count(), 2);
    }

    #[test]
    fn a_failed_force_refresh_is_an_error_even_with_a_valid_token() {
        let iss = issuer_trusting(&[("rsa2048.pkcs8.pem", "rsa2048.crt.pem")]);
        let s = setup(MemoryStore::new());
        s.client.get_token(&plan(&iss, &[])).unwrap();
        iss.push_faults([Fault::json(400, serde_json::json!({"error": "invalid_grant"}))]);
        let e = s
            .client
            .get_token(&plan(&iss, &[(Key::ForceRefresh, "true")]))
            .unwrap_err();
        assert!(matches!(e, crate::Error::ForcedRefresh(_)), "{e}");
        assert_eq!(e.category(), crate::Category::Network);
        // The entry is kept: a plain call is still a hit.
        assert!(s.client.get_token(&plan(&iss, &[])).unwrap().from_cache);
    }

    #[test]
    fn a_lock_held_too_long_ends_the_call_without_fetching() {
        let iss = issuer_trusting(&[("rsa2048.pkcs8.pem", "rsa2048.crt.pem")]);
        let s = setup(MemoryStore::with_lock_timeout());
        let e = s.client.get_token(&plan(&iss, &[])).unwrap_err();
        assert!(matches!(e, crate::Error::Cache(CacheError::LockTimeout { .. })), "{e}");
        assert_eq!(e.category(), crate::Category::Network);
        assert_eq!(kinds(&s), vec![WarningKind::Waiting]);
        assert_eq!(iss.request_count(), 0);
    }

    #[test]
    fn a_dry_run_signs_and_sends_nothing_and_leaves_the_store_alone() {
        let iss = issuer_trusting(&[("rsa2048.pkcs8.pem", "rsa2048.crt.pem")]);
        // A store whose lock would time out: a dry run that looked at the cache would fail.
        let s = setup(MemoryStore::with_lock_timeout());
        let d = s.client.dry_run(&plan(&iss, &[(Key::Scope, "api")])).unwrap();
        let r = d.request.as_ref().expect("a request");
        assert_eq!(r.url, iss.token_url());
        assert_eq!(r.assertions.len(), 1);
        assert_eq!(r.assertions[0].decoded.claims["iss"], "app");
        assert_eq!(r.assertions[0].decoded.claims["aud"], iss.token_url());
        assert!(!d.render().contains("eyJ"));
        assert_eq!(iss.request_count(), 0);
        assert_eq!(s.store.puts.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[test]
    fn no_cache_reads_and_writes_nothing() {
        let iss = issuer_trusting(&[("rsa2048.pkcs8.pem", "rsa2048.crt.pem")]);
        let s = setup(MemoryStore::new());
        let p = plan(&iss, &[(Key::NoCache, "true")]);
        assert!(!s.client.get_token(&p).unwrap().from_cache);
        assert!(!s.client.get_token(&p).unwrap().from_cache);
        assert_eq!(s.store.puts.load(std::sync::atomic::Ordering::SeqCst), 0);
        assert_eq!(iss.request_count(), 2);
    }

    #[test]
    fn rotation_tries_the_second_key_when_the_first_is_unknown() {
        // The issuer knows only key b; the plan names the old key first, both without a
        // certificate newer than the other, so the order given is kept.
        let iss = issuer_trusting(&[("rsa2048-b.pkcs8.pem", "rsa2048-b.crt.pem")]);
        let s = setup(MemoryStore::new());
        let v = vec![
            (Key::Key, fixture("rsa2048.pkcs8.pem")),
            (Key::NextKey, fixture("rsa2048-b.pkcs8.pem")),
            (Key::ClientId, "app".into()),
            (Key::TokenUrl, iss.token_url().to_string()),
            (Key::KidFrom, "jwk".into()),
        ];
        let p = TokenPlan::from_settings(&Settings::from_values(v), &crate::env::Env::default(), None).unwrap();
        let served = s.client.get_token(&p).unwrap();
        assert!(!served.from_cache);
        assert_eq!(iss.request_count(), 2, "one refusal, then the other key");
        assert_eq!(kinds(&s), vec![WarningKind::Rotation]);
    }

    #[test]
    fn a_hit_reads_no_passphrase_file() {
        let iss = issuer_trusting(&[("rsa2048.pkcs8.pem", "rsa2048.crt.pem")]);
        let dir = tempfile::tempdir().unwrap();
        let pass = dir.path().join("pass");
        let key = dir.path().join("k.pem");
        std::fs::copy(fixture("rsa2048.enc.pem"), &key).unwrap();
        std::fs::copy(fixture("passphrase.txt"), &pass).unwrap();
        let s = setup(MemoryStore::new());
        let given = [
            (Key::Key, key.to_str().unwrap()),
            (Key::KeyPassphraseFile, pass.to_str().unwrap()),
        ];
        assert!(!s.client.get_token(&plan(&iss, &given)).unwrap().from_cache);
        std::fs::remove_file(&pass).unwrap();
        // A new plan, as the next process would build: neither it nor the hit reads the file.
        assert!(s.client.get_token(&plan(&iss, &given)).unwrap().from_cache);
        // A miss needs it, and says which file.
        let forced = plan(
            &iss,
            &[
                (Key::Key, key.to_str().unwrap()),
                (Key::KeyPassphraseFile, pass.to_str().unwrap()),
                (Key::ForceRefresh, "true"),
            ],
        );
        let e = s.client.get_token(&forced).unwrap_err();
        assert!(e.to_string().contains("pass"), "{e}");
    }
    /// An issuer that trusts the RSA fixture and requires DPoP proofs, configured further by `f`.
    fn dpop_issuer(f: impl FnOnce(&mut IssuerConfig)) -> Issuer {
        let iss = issuer_trusting(&[("rsa2048.pkcs8.pem", "rsa2048.crt.pem")]);
        iss.configure(|c| {
            c.dpop = true;
            f(c)
        });
        iss
    }

    fn cnf_jkt(token: &Token) -> String {
        let d = crate::inspect::dangerous::decode_unverified(token.access_token.expose()).unwrap();
        d.claims["cnf"]["jkt"].as_str().unwrap_or_default().to_string()
    }

    #[test]
    fn a_dpop_token_is_bound_to_a_generated_key_kept_in_its_entry() {
        let iss = dpop_issuer(|_| {});
        let (s, p) = (setup(MemoryStore::new()), plan(&iss, &[(Key::Dpop, "true")]));
        let first = s.client.get_token(&p).unwrap();
        let jkt = first.dpop_jkt().unwrap().to_string();
        assert_eq!(cnf_jkt(&first.token), jkt);
        assert_eq!(first.token.token_type.as_deref(), Some("DPoP"));
        let again = s.client.get_token(&p).unwrap();
        assert!(again.from_cache);
        assert_eq!(
            again.dpop_jkt(),
            Some(jkt.as_str()),
            "the cached token comes with its own key"
        );
        assert_eq!(iss.request_count(), 1);
        assert!(kinds(&s).is_empty(), "{:?}", s.warnings.lock().unwrap());
        // The proof came with the request, and a bearer plan is another cache entry.
        let rec = iss.recorded();
        assert!(rec[0].headers.iter().any(|(k, _)| k == "dpop"));
        assert_ne!(p.cache_key().unwrap(), plan(&iss, &[]).cache_key().unwrap());
    }

    #[test]
    fn an_entry_whose_dpop_key_is_damaged_is_a_miss() {
        let iss = dpop_issuer(|_| {});
        let (s, p) = (setup(MemoryStore::new()), plan(&iss, &[(Key::Dpop, "true")]));
        let first = s.client.get_token(&p).unwrap();
        let key = p.cache_key().unwrap();
        for damage in [Some("AAAA".to_string()), None] {
            let mut e = s.store.get(&key).unwrap().unwrap();
            e.dpop_key = damage;
            s.store.put(&key, &e).unwrap();
            let next = s.client.get_token(&p).unwrap();
            assert!(!next.from_cache);
            assert_ne!(next.dpop_jkt(), first.dpop_jkt());
            assert_eq!(cnf_jkt(&next.token), next.dpop_jkt().unwrap());
        }
        assert_eq!(iss.request_count(), 3);
    }

    #[test]
    fn a_dpop_key_file_binds_the_token_to_that_key() {
        let iss = dpop_issuer(|_| {});
        let s = setup(MemoryStore::new());
        let p = plan(&iss, &[(Key::DpopKey, &fixture("p256.pkcs8.pem"))]);
        let served = s.client.get_token(&p).unwrap();
        let want = key::load_key(fixture("p256.pkcs8.pem").as_ref(), None)
            .unwrap()
            .key
            .public_jwk()
            .thumbprint();
        assert_eq!(served.dpop_jkt(), Some(want.as_str()));
        assert_eq!(cnf_jkt(&served.token), want);
        assert!(
            s.store
                .get(&p.cache_key().unwrap())
                .unwrap()
                .unwrap()
                .dpop_key
                .is_none(),
            "a key file is not copied"
        );
        let proof = s
            .client
            .dpop_proof(&served, "GET", "https://api.example/x?y", None)
            .unwrap();
        let d = crate::inspect::dangerous::decode_unverified(proof.expose()).unwrap();
        assert_eq!(d.claims["ath"], crate::dpop::ath(served.token.access_token.expose()));
        assert_eq!(d.claims["htu"], "https://api.example/x");
    }

    #[test]
    fn one_use_dpop_nonce_is_answered_and_is_not_a_retry() {
        let iss = dpop_issuer(|c| c.dpop_nonce = Some("n0nce-1".into()));
        let s = setup(MemoryStore::new());
        let p = plan(&iss, &[(Key::Dpop, "true"), (Key::Retries, "0")]);
        let served = s.client.get_token(&p).unwrap();
        assert_eq!(cnf_jkt(&served.token), served.dpop_jkt().unwrap());
        let rec = iss.recorded();
        assert_eq!(rec.iter().map(|r| r.status).collect::<Vec<_>>(), [400, 200]);
        let proof = |r: &issuer::Recorded| {
            let h = &r.headers.iter().find(|(k, _)| k == "dpop").unwrap().1;
            crate::inspect::dangerous::decode_unverified(h).unwrap().claims
        };
        assert!(proof(&rec[0]).get("nonce").is_none());
        assert_eq!(proof(&rec[1])["nonce"], "n0nce-1");
        assert_ne!(
            proof(&rec[0])["jti"],
            proof(&rec[1])["jti"],
            "a fresh proof per attempt"
        );
    }

    #[test]
    fn a_server_that_asks_for_a_nonce_again_ends_the_exchange_naming_it() {
        let iss = dpop_issuer(|c| {
            c.dpop_nonce = Some("rotating".into());
            c.dpop_nonce_rotates = true;
        });
        let s = setup(MemoryStore::new());
        let e = s.client.get_token(&plan(&iss, &[(Key::Dpop, "true")])).unwrap_err();
        assert_eq!(e.category(), crate::Category::Refused, "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains("use_dpop_nonce again") && msg.contains("'rotating-1'"),
            "{msg}"
        );
        assert_eq!(iss.request_count(), 2, "one extra round only");
    }

    #[test]
    fn a_nonce_with_control_characters_is_not_sent_back() {
        let iss = dpop_issuer(|c| c.dpop_nonce = Some("bad\tnonce".into()));
        let s = setup(MemoryStore::new());
        let e = s.client.get_token(&plan(&iss, &[(Key::Dpop, "true")])).unwrap_err();
        assert_eq!(e.category(), crate::Category::Refused, "{e}");
        assert!(
            e.to_string().contains("DPoP-Nonce has characters a nonce cannot have"),
            "{e}"
        );
        assert_eq!(iss.request_count(), 1);
    }

    #[test]
    fn a_bearer_answer_to_a_dpop_request_is_a_warning() {
        let iss = dpop_issuer(|c| {
            c.extra.insert("token_type".into(), "Bearer".into());
        });
        let s = setup(MemoryStore::new());
        let served = s.client.get_token(&plan(&iss, &[(Key::Dpop, "true")])).unwrap();
        assert!(served.dpop.is_some());
        assert_eq!(kinds(&s), vec![WarningKind::Answer]);
        let w = s.warnings.lock().unwrap();
        assert!(w
            .iter()
            .any(|w| w.kind == WarningKind::Answer && w.message.contains("token_type Bearer")));
    }

    #[test]
    fn a_refusal_that_asks_for_dpop_says_to_give_it() {
        let iss = issuer_trusting(&[("rsa2048.pkcs8.pem", "rsa2048.crt.pem")]);
        let s = setup(MemoryStore::new());
        iss.push_faults([Fault::json(
            400,
            serde_json::json!({"error": "invalid_dpop_proof", "error_description": "The DPoP proof JWT header is missing."}),
        )]);
        let e = s.client.get_token(&plan(&iss, &[])).unwrap_err();
        assert_eq!(
            e.hint(),
            Some("the token endpoint wants DPoP proofs for this client: give --dpop (or --dpop-key PATH)")
        );
    }

    #[test]
    fn a_dry_run_shows_the_dpop_proof_decoded() {
        let iss = dpop_issuer(|_| {});
        let s = setup(MemoryStore::with_lock_timeout());
        let d = s.client.dry_run(&plan(&iss, &[(Key::Dpop, "true")])).unwrap();
        let r = d.request.as_ref().unwrap();
        assert_eq!(r.assertions.len(), 2);
        let proof = r
            .assertions
            .iter()
            .find(|a| a.place == "header DPoP")
            .expect("the proof");
        assert_eq!(proof.decoded.header["typ"], "dpop+jwt");
        assert_eq!(proof.decoded.claims["htu"], iss.token_url());
        assert!(!d.render().contains("eyJ"));
        assert_eq!(iss.request_count(), 0);
    }
}
