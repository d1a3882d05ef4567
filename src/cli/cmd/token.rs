//! `signet token`: serve from the cache when fresh, else lock, check again, sign, exchange, store.
//!
//! The order matters for speed: a cache hit resolves settings, hashes the key file, reads one
//! entry and prints. It does not parse the key, start a runtime or build an HTTP client.

use signet::config::Key;
use crate::cli::args::TokenArgs;
use crate::cli::output::{self, Format};
use crate::cli::{resolve, token_flag_layer, CmdResult, Ctx, Failure, Resolved};
use signet::cache::{CacheError, CacheKey, Entry, FileStore, TokenStore};
use signet::config::ConfigError;
use signet::exchange::{Event, ExchangeError};
use signet::key::KeyError;
use signet::source::TokenSource;
use signet::token::Token;
use signet::Signer;
use std::time::Duration;

/// Certificate validity: outside notBefore/notAfter is an error; close to notAfter a warning.
pub fn cert_checks(ctx: &Ctx, signer: &Signer) -> Result<(), signet::Error> {
    if let Some(w) = signet::key::permission_warning(&signer.bundle().source) {
        ctx.warn(&w);
    }
    let Some(c) = signer.bundle().leaf() else { return Ok(()) };
    let now = signet::clock::now();
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
            not_before: signet::clock::rfc3339(c.not_before()),
            not_after: signet::clock::rfc3339(c.not_after()),
        }
        .into());
    }
    let left = c.not_after() - now;
    if left < 14 * 86400 {
        ctx.warn(&format!(
            "the certificate {} expires in {} ({}): register its successor before then",
            c.subject(),
            signet::clock::human_duration(left as u64),
            signet::clock::rfc3339(c.not_after())
        ));
    }
    Ok(())
}

/// What the token command needs besides the source.
pub struct Job {
    pub src: TokenSource,
    pub no_cache: bool,
    pub force_refresh: bool,
    pub min_ttl: u64,
    pub cache_dir: Option<std::path::PathBuf>,
    pub shared: Option<Shared>,
}

/// A shared (Redis) cache behind the local one.
pub struct Shared {
    pub url: signet::cache::RedisUrl,
    pub key: signet::cache::CacheKeyMaterial,
    pub ca_file: Option<std::path::PathBuf>,
}

/// The shared-cache settings: `--cache-url`/SIGNET_CACHE_URL, its key and password.
pub fn shared(ctx: &Ctx, s: &signet::config::Settings) -> Result<Option<Shared>, signet::Error> {
    let url = s
        .str(Key::CacheUrl)
        .unwrap_or(signet::config::default_str(Key::CacheUrl));
    if url == "file:" || url.starts_with("file:") {
        return Ok(None);
    }
    let url = signet::cache::RedisUrl::parse(url, ctx.env.get(signet::env::EnvVars::CACHE_PASSWORD))
        .map_err(ConfigError::Usage)?;
    let text = match s.path(Key::CacheKeyFile) {
        Some(p) => {
            let bytes = signet::key::read_secret_file(&p).map_err(|e| {
                ConfigError::Usage(format!(
                    "cannot read cache key file {}: {}",
                    p.display(),
                    signet::text::io_reason(&e)
                ))
            })?;
            zeroize::Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned())
        }
        None => match ctx.env.get(signet::env::EnvVars::CACHE_KEY) {
            Some(k) => zeroize::Zeroizing::new(k.to_string()),
            None => {
                return Err(ConfigError::Missing {
                    what: format!("a key for the shared cache {}", url.shown()),
                    how: "set SIGNET_CACHE_KEY (32 bytes as 64 hex digits or base64) or --cache-key-file".into(),
                }
                .into())
            }
        },
    };
    let key = signet::cache::CacheKeyMaterial::parse(&text)
        .map_err(|e| ConfigError::Usage(format!("{e} (SIGNET_CACHE_KEY or --cache-key-file)")))?;
    Ok(Some(Shared {
        url,
        key,
        ca_file: s.path(Key::CaFile),
    }))
}

pub fn job(ctx: &Ctx, r: Resolved) -> Result<Job, signet::Error> {
    for w in &r.warnings {
        ctx.warn(w);
    }
    let s = &r.settings;
    let min_ttl = s.secs(Key::MinTtl)?.unwrap_or(signet::cache::DEFAULT_MIN_TTL);
    let no_cache = s.flag(Key::NoCache);
    let force_refresh = s.flag(Key::ForceRefresh);
    let shared = shared(ctx, s)?;
    let cache_dir = s.path(Key::CacheDir).or_else(|| signet::cache::default_dir(&ctx.env));
    let src = TokenSource::from_settings(s, &ctx.env, r.template)?;
    for w in &src.warnings {
        ctx.warn(w);
    }
    Ok(Job {
        src,
        no_cache,
        force_refresh,
        min_ttl,
        cache_dir,
        shared,
    })
}

/// Gets a token: (token, served from cache).
pub fn get_token(ctx: &Ctx, job: &Job) -> Result<(Token, bool), signet::Error> {
    let now = signet::clock::now();
    job.src.check_exchange_requirements()?;
    // The self-signed grant needs no URL; every other one does, checked before any key is read.
    if job.src.grant != signet::grant::Grant::SelfSigned {
        signet::exchange::check_url(job.src.token_url()?)?;
    }
    let store = if job.no_cache {
        None
    } else {
        match job.cache_dir.as_deref().map(FileStore::open) {
            Some(Ok(s)) => Some(s),
            Some(Err(e)) => {
                ctx.warn(&format!("{e}; going on without the cache"));
                None
            }
            None => {
                ctx.warn("no cache folder (set SIGNET_CACHE_DIR); going on without the cache");
                None
            }
        }
    };
    let Some(store) = store else {
        let t = fetch(ctx, job)?;
        return Ok((t, false));
    };
    let key = CacheKey::for_identity(&job.src.identity()?);
    let mut trusted = true;
    let mut read = |store: &FileStore| -> Option<Entry> {
        match store.get(&key) {
            Ok(e) => e,
            Err(e) => {
                if trusted {
                    ctx.warn(&format!("{e}; ignoring it (a new token is not written there)"));
                }
                trusted = false;
                None
            }
        }
    };
    if !job.force_refresh {
        if let Some(e) = read(&store).filter(|e| e.is_fresh(now, job.min_ttl)) {
            tracing::debug!("cache hit");
            return Ok((e.token(), true));
        }
    }
    tracing::debug!("cache miss; taking the lock");
    let lock_timeout = job.src.timeout;
    let guard = store.lock(&key, lock_timeout, &mut || {
        ctx.warn("another signet process is fetching this token; waiting for it");
    });
    let _guard = match guard {
        Ok(g) => Some(g),
        Err(CacheError::LockTimeout { path, secs }) => return Err(ExchangeError::LockTimeout { path, secs }.into()),
        Err(e) => {
            ctx.warn(&format!("{e}; going on without the lock"));
            None
        }
    };
    let existing = read(&store);
    if !job.force_refresh {
        if let Some(e) = existing
            .as_ref()
            .filter(|e| e.is_fresh(signet::clock::now(), job.min_ttl))
        {
            tracing::debug!("cache hit after waiting for the lock");
            return Ok((e.token(), true));
        }
    }
    // The shared cache: on a local miss, Redis; on a Redis miss, the fleet-wide lease, then the fetch.
    let mut lease = None;
    let redis = job.shared.as_ref().and_then(|sh| {
        let connect_timeout = job.src.timeout.min(Duration::from_secs(2));
        match signet::cache::RedisStore::connect(&sh.url, &sh.key, sh.ca_file.as_deref(), connect_timeout, job.min_ttl)
        {
            Ok(r) => Some(r),
            Err(e) => {
                ctx.warn(&format!("{e}; going on with the local cache only"));
                None
            }
        }
    });
    if let Some(r) = &redis {
        let read = || match r.get(&key) {
            Ok(e) => e.filter(|e| e.is_fresh(signet::clock::now(), job.min_ttl) && !job.force_refresh),
            Err(e) => {
                ctx.warn(&format!("{e}; ignoring it"));
                None
            }
        };
        let hit = read().or_else(|| {
            match r.lock(&key, job.src.timeout, &mut || {
                ctx.warn("another host is fetching this token; waiting for it")
            }) {
                Ok(g) => lease = Some(g),
                Err(e) => ctx.warn(&format!("{e}; fetching anyway")),
            }
            if job.force_refresh {
                None
            } else {
                read()
            }
        });
        if let Some(e) = hit {
            tracing::debug!("shared cache hit");
            if trusted {
                if let Err(err) = store.put(&key, &e) {
                    ctx.warn(&format!("{err}; the token is not cached locally"));
                }
            }
            return Ok((e.token(), true));
        }
    }
    let token = match fetch(ctx, job) {
        Ok(t) => t,
        Err(err) => {
            // A refresh that fails never throws away a token that still works.
            let still_valid = existing.filter(|e| e.is_valid(signet::clock::now()));
            if still_valid.is_some() && job.force_refresh {
                return Err(ExchangeError::ForcedRefresh { source: Box::new(err) }.into());
            }
            if let Some(e) = still_valid {
                ctx.warn(&format!(
                    "refreshing the cached token failed ({err}); using the cached one, which expires in {}",
                    signet::clock::human_duration((e.expires_at - signet::clock::now()).max(0) as u64)
                ));
                return Ok((e.token(), true));
            }
            return Err(err);
        }
    };
    let scope = (!job.src.scopes.is_empty()).then(|| job.src.scopes.join(" "));
    let entry = Entry::new(
        &token,
        job.src.token_url.clone(),
        job.src.client_id.clone().or(job.src.issuer.clone()),
        scope,
    );
    if trusted {
        if let Err(e) = store.put(&key, &entry) {
            ctx.warn(&format!("{e}; the token is not cached"));
        }
    }
    if let Some(r) = &redis {
        if let Err(e) = r.put(&key, &entry) {
            ctx.warn(&format!("{e}; the token is not in the shared cache"));
        }
    }
    drop(lease);
    Ok((token, false))
}

fn fetch(ctx: &Ctx, job: &Job) -> Result<Token, signet::Error> {
    if job.src.external.is_some() {
        let mut on_event = |e: &Event| tracing::debug!("{e:?}");
        let outcome = job.src.fetch_external(&mut on_event)?;
        for w in &outcome.warnings {
            ctx.warn(w);
        }
        return Ok(outcome.token);
    }
    let mut signers = job.src.signers()?;
    if signers.len() > 1 {
        return fetch_rotating(ctx, job, &mut signers);
    }
    let signer = signers.remove(0);
    cert_checks(ctx, &signer)?;
    for w in signer.warnings() {
        ctx.warn(w);
    }
    let verbose = ctx.verbose;
    let url = job.src.token_url.clone().unwrap_or_default();
    let mut on_event = |e: &Event| match e {
        Event::Sending { attempt } => tracing::debug!("POST {url} (attempt {attempt})"),
        Event::Status { status, elapsed, bytes } => {
            tracing::debug!("HTTP {status}, {bytes} bytes in {} ms", elapsed.as_millis())
        }
        Event::Retry { reason, after } => {
            tracing::debug!("{reason}: retrying in {} ms", after.as_millis());
            if verbose == 0 && *after > Duration::from_secs(2) {
                output::warn(
                    ctx.quiet,
                    &format!("{reason} from the token endpoint; retrying in {} s", after.as_secs()),
                );
            }
        }
    };
    let outcome = job.src.fetch(&signer, &mut on_event)?;
    for w in &outcome.warnings {
        ctx.warn(w);
    }
    Ok(outcome.token)
}

/// Two keys (rotation): sign with the preferred one; if the endpoint does not know it, try the other once.
fn fetch_rotating(ctx: &Ctx, job: &Job, signers: &mut [Signer]) -> Result<Token, signet::Error> {
    let name = |s: &Signer| s.bundle().source.display().to_string();
    let mut on_event = |e: &Event| tracing::debug!("{e:?}");
    let mut first_err = None;
    for (i, signer) in signers.iter().enumerate() {
        if let Err(e) = cert_checks(ctx, signer) {
            first_err.get_or_insert(e);
            continue;
        }
        match job.src.fetch(signer, &mut on_event) {
            Ok(outcome) => {
                if i > 0 {
                    ctx.warn(&format!(
                        "the token endpoint did not know the key {}; {} worked: retire the other one",
                        name(&signers[0]),
                        name(signer)
                    ));
                }
                return Ok(outcome.token);
            }
            Err(signet::Error::Exchange(e)) if e.is_unknown_key() && i == 0 => {
                tracing::debug!("key {} refused as unknown; trying the other", name(signer));
                first_err = Some(e.into());
            }
            Err(e) => return Err(e),
        }
    }
    Err(first_err.unwrap_or_else(|| signet::config::ConfigError::Usage("no usable key".into()).into()))
}

pub fn run(ctx: &Ctx, a: TokenArgs) -> CmdResult {
    let r = resolve(ctx, token_flag_layer(&a)?)?;
    let format = r.settings.parse::<Format>(Key::Format)?.unwrap_or(Format::Raw);
    let header_name = r.settings.str(Key::HeaderName).map(String::from);
    let job = job(ctx, r)?;
    let (token, cached) = get_token(ctx, &job).map_err(Failure::Lib)?;
    output::github_mask(&ctx.env, token.access_token.expose());
    output::stdout(&output::render_token(
        &token,
        format,
        header_name.as_deref(),
        cached,
        signet::clock::now(),
    ));
    Ok(0)
}
