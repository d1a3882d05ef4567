//! `signet cache list|clear|path`.

use crate::cli::args::{CacheCommand, SharedCacheArgs};
use crate::cli::{output, CmdResult, Ctx, Failure};
use signet::cache::{FileStore, TokenStore};
use signet::config::ConfigError;
use std::path::PathBuf;

fn dir(ctx: &Ctx, flag: Option<PathBuf>) -> Result<PathBuf, ConfigError> {
    flag.or_else(|| signet::cache::default_dir(&ctx.env))
        .ok_or_else(|| ConfigError::Missing {
            what: "a cache folder".into(),
            how: "set SIGNET_CACHE_DIR or --cache-dir".into(),
        })
}

fn cache_err(e: signet::cache::CacheError) -> Failure {
    Failure::Lib(e.into())
}

/// A store, and whether it is the shared one.
type OpenStore = (Box<dyn TokenStore>, bool);

/// The store `cache list|clear` work on: the shared one named by flags or SIGNET_CACHE_URL
/// (connected, so an unreachable server is an error here), else the cache folder if it exists.
/// Both are used through the one `TokenStore` trait. The bool says whether it is the shared one.
fn open_store(ctx: &Ctx, cache_dir: Option<PathBuf>, a: &SharedCacheArgs) -> Result<Option<OpenStore>, Failure> {
    use signet::config::{Key, Origin, Raw};
    let mut flags = signet::config::Layer::new();
    for (k, v) in [
        (Key::CacheUrl, a.cache_url.clone()),
        (
            Key::CacheKeyFile,
            a.cache_key_file.as_ref().map(|p| p.to_string_lossy().into_owned()),
        ),
        (
            Key::CaFile,
            a.ca_file.as_ref().map(|p| p.to_string_lossy().into_owned()),
        ),
    ] {
        if let Some(v) = v {
            flags.insert(k, (Raw::Str(v), Origin::Flag));
        }
    }
    let env = signet::config::env_layer(&ctx.env);
    let s = signet::config::resolve(&[&flags, &env]);
    if let Some(shared) = signet::cache::SharedCache::from_settings(&s, &ctx.env)? {
        let store = shared
            .connect(std::time::Duration::from_secs(5), 0)
            .map_err(cache_err)?;
        return Ok(Some((store, true)));
    }
    let d = dir(ctx, cache_dir)?;
    // Reading an entry group or others could read makes it 0600: `cache list` says so, as `token` does.
    Ok(FileStore::open_existing(&d).map_err(cache_err)?.map(|f| {
        (
            Box::new(f.with_warnings(ctx.warning_sink())) as Box<dyn TokenStore>,
            false,
        )
    }))
}

pub fn run(ctx: &Ctx, c: CacheCommand) -> CmdResult {
    match c {
        CacheCommand::Path { cache_dir, shared } => {
            let mut out = format!("{}\n", dir(ctx, cache_dir)?.display());
            let url = shared
                .cache_url
                .clone()
                .or_else(|| ctx.env.get(signet::env::EnvVars::CACHE_URL).map(String::from));
            if let Some(u) = url.filter(|u| !u.starts_with("file:")) {
                out.push_str(&format!("{}\n", signet::cache::SharedCache::shown_url(&u)?));
            }
            output::stdout(&out);
            Ok(0)
        }
        CacheCommand::List { cache_dir, shared } => {
            let Some((store, _)) = open_store(ctx, cache_dir, &shared)? else {
                output::stdout("no cached tokens\n");
                return Ok(0);
            };
            let entries = store.entries().map_err(cache_err)?;
            if entries.is_empty() {
                output::stdout("no cached tokens\n");
                return Ok(0);
            }
            let now = signet::clock::now();
            let rows: Vec<[String; 5]> = entries
                .iter()
                .map(|(_, e)| {
                    [
                        e.token_url.clone().unwrap_or_else(|| "-".into()),
                        e.client_id.clone().unwrap_or_else(|| "-".into()),
                        e.requested_scope
                            .clone()
                            .or(e.scope.clone())
                            .unwrap_or_else(|| "-".into()),
                        e.details(),
                        if e.is_valid(now) {
                            signet::clock::human_duration((e.expires_at - now) as u64)
                        } else {
                            format!(
                                "expired {} ago",
                                signet::clock::human_duration((now - e.expires_at) as u64)
                            )
                        },
                    ]
                })
                .collect();
            let head = [
                "TOKEN URL",
                "CLIENT ID",
                "SCOPE",
                "GRANT, TEMPLATE, AUDIENCE",
                "EXPIRES IN",
            ];
            let mut w = [0usize; 5];
            for r in rows
                .iter()
                .map(|r| r.each_ref().map(|s| s.chars().count()))
                .chain([head.map(str::len)])
            {
                for i in 0..5 {
                    w[i] = w[i].max(r[i]);
                }
            }
            let line = |r: [&str; 5]| {
                format!(
                    "{:<a$}  {:<b$}  {:<c$}  {:<d$}  {}\n",
                    r[0],
                    r[1],
                    r[2],
                    r[3],
                    r[4],
                    a = w[0],
                    b = w[1],
                    c = w[2],
                    d = w[3]
                )
            };
            let mut out = line(head);
            for r in &rows {
                out.push_str(&line([&r[0], &r[1], &r[2], &r[3], &r[4]]));
            }
            output::stdout(&out);
            Ok(0)
        }
        CacheCommand::Clear {
            cache_dir,
            token_url,
            client_id,
            expired,
            shared,
        } => {
            let Some((store, is_shared)) = open_store(ctx, cache_dir, &shared)? else {
                output::stdout("removed 0 cached tokens\n");
                return Ok(0);
            };
            let now = signet::clock::now();
            let mut n = 0;
            for (k, e) in store.entries().map_err(cache_err)? {
                let matches = token_url.as_ref().is_none_or(|u| e.token_url.as_ref() == Some(u))
                    && client_id.as_ref().is_none_or(|c| e.client_id.as_ref() == Some(c))
                    && (!expired || !e.is_valid(now));
                if matches {
                    store.remove(&k).map_err(cache_err)?;
                    n += 1;
                }
            }
            let which = if is_shared { "shared cached" } else { "cached" };
            output::stdout(&format!("removed {n} {which} token{}\n", signet::text::plural(n)));
            Ok(0)
        }
    }
}
