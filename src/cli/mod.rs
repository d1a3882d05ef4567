//! The binary: parse, resolve settings, call the library, print. Nothing here is needed by a
//! library user; everything a Rust program needs lives in `signet`.

mod args;
mod cmd;
mod curl_args;
mod exit;
mod fast_args;
mod output;
mod secret_flags;

use args::{Command, ExchangeArgs, SigningArgs};
use exit::Exit;
use signet::config::{self, ConfigError, Key, Layer, Origin, Raw};
use signet::env::{Env, EnvVars};
pub use signet::resolve::Resolved;

/// What every command gets: the environment and the global flags.
pub struct Ctx {
    pub env: Env,
    pub quiet: bool,
    pub verbose: u8,
    pub config: Option<std::path::PathBuf>,
    pub profile: Option<String>,
    /// "Waiting for another process" notices: a wait that ends well is no warning (20 processes
    /// sharing a cold cache would print 19), so they are logged at -v and kept here, to be shown
    /// as warnings only when the call then fails on the lock's time limit.
    pub waited: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Ctx {
    pub fn warn(&self, msg: &str) {
        output::warn(self.quiet, msg);
    }

    /// Where the library's own warnings go when it takes a sink (a cache store, the agent): the
    /// same `warning:` lines, unless quiet.
    pub fn warning_sink(&self) -> signet::WarningSink {
        let quiet = self.quiet;
        std::sync::Arc::new(move |w: &signet::Warning| output::warn(quiet, &w.message))
    }

    /// The library's token client, its warnings printed as `warning:` lines. With -v a retry is
    /// already logged as it happens, so its warning would say it twice.
    pub fn client(&self) -> signet::Client {
        let (quiet, verbose) = (self.quiet, self.verbose);
        let waited = self.waited.clone();
        // The flow looks at an entry twice (before and under the lock): the same line twice
        // says nothing more.
        let shown = std::sync::Mutex::new(std::collections::HashSet::<String>::new());
        signet::Client::new().on_warning(move |w| match w.kind {
            signet::WarningKind::Waiting => {
                tracing::debug!("{}", w.message);
                if let Ok(mut v) = waited.lock() {
                    v.push(w.message.clone());
                }
            }
            signet::WarningKind::Retry if verbose > 0 => {}
            _ => {
                if shown.lock().map(|mut s| s.insert(w.message.clone())).unwrap_or(true) {
                    output::warn(quiet, &w.message)
                }
            }
        })
    }

    /// The waits that ended in `e`, a lock's time limit, as the warnings they then are.
    fn show_waits_before(&self, e: &signet::Error) {
        if !matches!(e, signet::Error::Cache(signet::cache::CacheError::LockTimeout { .. })) {
            return;
        }
        if let Ok(v) = self.waited.lock() {
            for m in v.iter() {
                output::warn(self.quiet, m);
            }
        }
    }

    /// The key passphrase for commands outside the settings layers: the file, else SIGNET_KEY_PASSPHRASE.
    pub fn passphrase(&self, file: Option<&std::path::Path>) -> Result<Option<signet::Secret<String>>, signet::Error> {
        Ok(match file {
            Some(p) => Some(signet::key::read_passphrase_file(p)?),
            None => self
                .env
                .get(EnvVars::KEY_PASSPHRASE)
                .map(|p| signet::Secret::new(p.to_string())),
        })
    }
}

/// A command's failure: a library error, or an exit code already reported.
pub enum Failure {
    Lib(signet::Error),
    Exit(i32),
}

impl<E: Into<signet::Error>> From<E> for Failure {
    fn from(e: E) -> Failure {
        Failure::Lib(e.into())
    }
}

pub type CmdResult = Result<i32, Failure>;

pub fn main() -> std::process::ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(text) = fast_args::version(&argv) {
        output::stdout(text);
        return std::process::ExitCode::SUCCESS;
    }
    let cli = match args::parse_from(argv) {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return std::process::ExitCode::from(
                    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                        2
                    } else {
                        0
                    },
                );
            }
            // A flag that looks like a way to give a passphrase or PIN: clap's tip would point at
            // a flag that leaks it, so say where a secret goes instead, without its value.
            if let Some((msg, hint)) = secret_flags::mistake(&e) {
                output::error(&msg, Some(hint));
                return std::process::ExitCode::from(Exit::Usage as u8);
            }
            // clap's own text starts with "error:"; keep it, it names the flag and suggests fixes.
            let _ = e.print();
            return std::process::ExitCode::from(Exit::Usage as u8);
        }
    };
    if cli.global.verbose > 0 {
        let level = if cli.global.verbose > 1 {
            tracing::Level::TRACE
        } else {
            tracing::Level::DEBUG
        };
        let _ = tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_max_level(level)
            .with_target(false)
            .without_time()
            // A log line that cannot be written (stderr closed) is dropped: tracing's own report
            // of it would panic, and the command would exit 101 instead of with its code.
            .log_internal_errors(false)
            .try_init();
    }
    let ctx = Ctx {
        env: Env::from_process(),
        quiet: cli.global.quiet,
        verbose: cli.global.verbose,
        config: cli.global.config,
        profile: cli.global.profile,
        waited: Default::default(),
    };
    let result = match cli.command {
        Command::Assert(a) => cmd::assert::run(&ctx, a),
        Command::Token(a) => cmd::token::run(&ctx, a),
        Command::Exec(a) => cmd::exec::run(&ctx, a),
        Command::Curl(a) => cmd::curl::run(&ctx, a),
        Command::Serve(a) => cmd::serve::run(&ctx, a),
        Command::Dpop(args::DpopCommand::Proof(a)) => cmd::dpop::proof(&ctx, a),
        Command::Inspect(a) => cmd::inspect::run(&ctx, a),
        Command::Thumbprint(a) => cmd::thumbprint::run(&ctx, a),
        Command::Cache(c) => cmd::cache::run(&ctx, c),
        Command::Templates(c) => cmd::templates::run(&ctx, c),
        Command::Config(c) => cmd::config::run(&ctx, c),
        Command::Completions { shell } => {
            let mut c = args::command();
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut c, "signet", &mut buf);
            output::stdout(&String::from_utf8_lossy(&buf));
            Ok(0)
        }
        Command::Demo => cmd::demo::run(&ctx),
        Command::Issuer(a) => cmd::demo::issuer(&ctx, a),
        Command::Keygen(a) => cmd::keygen::run(&ctx, a),
        Command::Jwk(a) => cmd::keys::jwk(&ctx, a, false),
        Command::Jwks(a) => cmd::keys::jwk(&ctx, a, true),
        Command::Check(a) => cmd::keys::check(&ctx, a),
        Command::Manpage(a) => manpages(a.dir.as_deref()),
    };
    match result {
        Ok(code) => std::process::ExitCode::from(code.clamp(0, 255) as u8),
        Err(Failure::Exit(code)) => std::process::ExitCode::from(code.clamp(0, 255) as u8),
        Err(Failure::Lib(e)) => {
            ctx.show_waits_before(&e);
            output::error(&e.to_string(), e.hint());
            std::process::ExitCode::from(Exit::from(&e) as u8)
        }
    }
}

/// The man page on stdout, or with `dir` one page per command written into it: signet.1,
/// signet-token.1, signet-cache-list.1, …, the names the pages' SEE ALSO and COMMANDS sections
/// give. Each is written to a temporary file in `dir` and renamed into place, so a `make package`
/// running at the same time never packs a half-written page.
fn manpages(dir: Option<&std::path::Path>) -> CmdResult {
    let fail = |what: String, e: std::io::Error| -> Failure {
        Failure::Lib(
            ConfigError::Usage(format!(
                "cannot write the man page {what}: {}",
                signet::text::io_reason(&e)
            ))
            .into(),
        )
    };
    let Some(dir) = dir else {
        let mut buf = Vec::new();
        clap_mangen::Man::new(args::command())
            .render(&mut buf)
            .map_err(|e| fail("to stdout".into(), e))?;
        output::stdout(&String::from_utf8_lossy(&buf));
        return Ok(0);
    };
    std::fs::create_dir_all(dir).map_err(|e| fail(dir.display().to_string(), e))?;
    // As clap_mangen::generate_to does (built, so each subcommand knows its full name), but
    // written atomically, and without a `help` subcommand at any level: clap would list
    // `signet-cache-help(1)` in signet-cache.1, a page nobody needs.
    fn without_help(mut cmd: clap::Command) -> clap::Command {
        let names: Vec<String> = cmd.get_subcommands().map(|s| s.get_name().to_string()).collect();
        for n in names {
            cmd = cmd.mut_subcommand(n, without_help);
        }
        cmd.disable_help_subcommand(true)
    }
    let mut root = without_help(args::command());
    root.build();
    let mut todo = vec![root];
    let mut written = vec![];
    while let Some(cmd) = todo.pop() {
        todo.extend(cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
        let page = clap_mangen::Man::new(cmd);
        let path = dir.join(page.get_filename());
        let write = || -> std::io::Result<()> {
            let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
            page.render(&mut tmp)?;
            tmp.as_file()
                .set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
            tmp.persist(&path).map_err(|e| e.error)?;
            Ok(())
        };
        write().map_err(|e| fail(path.display().to_string(), e))?;
        written.push(path);
    }
    written.sort();
    let list: Vec<String> = written.iter().map(|p| format!("wrote {}\n", p.display())).collect();
    output::stdout(&list.concat());
    Ok(0)
}

/// The flags as a settings layer.
pub fn flag_layer(s: &SigningArgs, x: &ExchangeArgs) -> Result<Layer, ConfigError> {
    let mut l = Layer::new();
    let mut put = |k: Key, raw: Raw| {
        l.insert(k, (raw, Origin::Flag));
    };
    let strs: [(Key, Option<String>); 26] = [
        (Key::Key, s.key.first().cloned()),
        (Key::NextKey, s.key.get(1).cloned()),
        (Key::NextCert, s.cert.get(1).map(|p| p.to_string_lossy().into_owned())),
        (
            Key::KeyPassphraseFile,
            s.key_passphrase_file.as_ref().map(|p| p.to_string_lossy().into_owned()),
        ),
        (Key::Cert, s.cert.first().map(|p| p.to_string_lossy().into_owned())),
        (Key::Kid, s.kid.clone()),
        (Key::KidFrom, s.kid_from.clone()),
        (Key::Alg, s.alg.clone()),
        (Key::ClientId, s.client_id.clone()),
        (Key::Issuer, s.issuer.clone()),
        (Key::Subject, s.subject.clone()),
        (Key::Audience, s.audience.clone()),
        (Key::Lifetime, s.lifetime.clone()),
        (Key::WarnExpiry, s.warn_expiry.clone()),
        (Key::Template, s.template.clone()),
        (Key::TokenUrl, x.token_url.clone()),
        (Key::Grant, x.grant.clone()),
        (Key::TokenPath, x.token_path.clone()),
        (Key::DefaultTtl, x.default_ttl.clone()),
        (Key::Timeout, x.timeout.clone()),
        (Key::Retries, x.retries.clone()),
        (
            Key::CaFile,
            x.ca_file.as_ref().map(|p| p.to_string_lossy().into_owned()),
        ),
        (
            Key::CacheDir,
            x.cache_dir.as_ref().map(|p| p.to_string_lossy().into_owned()),
        ),
        (Key::MinTtl, x.min_ttl.clone()),
        (
            Key::DpopKey,
            x.dpop_key.as_ref().map(|p| p.to_string_lossy().into_owned()),
        ),
        (Key::ClientAuth, x.client_auth.clone()),
    ];
    for (k, v) in [
        (
            Key::AssertionFile,
            s.assertion_file.as_ref().map(|p| p.to_string_lossy().into_owned()),
        ),
        (Key::AssertionFrom, s.assertion_from.clone()),
        (Key::AssertionEnv, s.assertion_env.clone()),
    ] {
        if let Some(v) = v {
            put(k, Raw::Str(v));
        }
    }
    for (k, v) in strs {
        if let Some(v) = v {
            put(k, Raw::Str(v));
        }
    }
    if let Some(u) = &x.cache_url {
        put(Key::CacheUrl, Raw::Str(u.clone()));
    }
    if let Some(p) = &x.cache_key_file {
        put(Key::CacheKeyFile, Raw::Str(p.to_string_lossy().into_owned()));
    }
    for (k, b) in [
        (Key::X5t, s.x5t),
        (Key::X5tS256, s.x5t_s256),
        (Key::X5c, s.x5c),
        (Key::NoNbf, s.no_nbf),
        (Key::NoCache, x.no_cache),
        (Key::ForceRefresh, x.force_refresh),
        (Key::Dpop, x.dpop),
        (Key::Mtls, x.mtls),
    ] {
        if b {
            put(k, Raw::Bool(true));
        }
    }
    if !x.scope.is_empty() {
        put(
            Key::Scope,
            Raw::List(
                x.scope
                    .iter()
                    .flat_map(|s| s.split_whitespace().map(String::from))
                    .collect(),
            ),
        );
    }
    for (k, vals, flag) in [
        (Key::Claim, &s.claim, "--claim"),
        (Key::Var, &s.var, "--var"),
        (Key::Param, &x.param, "--param"),
    ] {
        if !vals.is_empty() {
            put(
                k,
                Raw::Map(
                    vals.iter()
                        .map(|v| config::split_kv(v, flag))
                        .collect::<Result<_, _>>()?,
                ),
            );
        }
    }
    if !x.request_header.is_empty() {
        let mut pairs = vec![];
        for h in &x.request_header {
            pairs.push(signet::grant::parse_request_header(h).map_err(ConfigError::Usage)?);
        }
        put(Key::RequestHeader, Raw::Map(pairs));
    }
    Ok(l)
}

/// `signet token`'s flags as a settings layer: the shared ones, `--header-name` and `--format`,
/// so that `-v` and `config show` see the format that is used.
pub fn token_flag_layer(a: &args::TokenArgs) -> Result<Layer, ConfigError> {
    let mut flags = flag_layer(&a.signing, &a.exchange)?;
    if let Some(h) = &a.header_name {
        flags.insert(Key::HeaderName, (Raw::Str(h.clone()), Origin::Flag));
    }
    if let Some(name) = a.format.as_ref().and_then(clap::ValueEnum::to_possible_value) {
        flags.insert(Key::Format, (Raw::Str(name.get_name().to_string()), Origin::Flag));
    }
    Ok(flags)
}

/// flag > environment > profile > template > default, with the global `--config`/`--profile`.
pub fn resolve(ctx: &Ctx, flags: Layer) -> Result<Resolved, signet::Error> {
    Ok(signet::resolve::resolve_layers(
        &flags,
        &ctx.env,
        ctx.config.as_deref(),
        ctx.profile.as_deref(),
    )?)
}
