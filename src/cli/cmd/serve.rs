//! `signet serve` and `signet exec --serve`: the token agent ([`signet::agent`]) started from the
//! resolved settings, as a service or for one command's lifetime.

use crate::cli::args::{ExecArgs, ServeArgs};
use crate::cli::cmd::exec;
use crate::cli::{flag_layer, output, resolve, CmdResult, Ctx};
use signet::agent::{Agent, AgentConfig, AgentError, Bound, Listen, Protocol, Running};
use signet::{Secret, TokenPlan};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The protocols asked for, else those the settings can serve.
fn protocols(asked: &[String], plan: &TokenPlan) -> Result<Vec<Protocol>, AgentError> {
    if asked.is_empty() {
        return Ok(Protocol::defaults_for(plan));
    }
    let mut v = vec![];
    for p in asked.iter().filter(|p| !p.trim().is_empty()) {
        let p = p.parse::<Protocol>()?;
        if !v.contains(&p) {
            v.push(p);
        }
    }
    Ok(v)
}

fn config(ctx: &Ctx, protocols: Vec<Protocol>, secret: Secret<String>) -> AgentConfig {
    let mut cfg = AgentConfig::new(protocols, secret);
    cfg.access_log = ctx.verbose > 0;
    cfg.warn = ctx.warning_sink();
    cfg
}

/// Variables that would make an SDK in the child pick another kind of managed identity (Service
/// Fabric, Azure Arc, the older App Service protocol) or another metadata server than the agent.
const AZURE_VARS: &[&str] = &[
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "IDENTITY_SERVER_THUMBPRINT",
    "IMDS_ENDPOINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
];
const GCE_VARS: &[&str] = &["GCE_METADATA_HOST", "GCE_METADATA_IP", "GCE_METADATA_ROOT"];

/// `signet exec --serve`: the agent on 127.0.0.1 (a free port, a fresh secret) for CMD's life.
pub fn exec(ctx: &Ctx, a: &ExecArgs, plan: TokenPlan, passphrase_env: Option<&str>) -> CmdResult {
    let protocols = protocols(&a.serve_protocol, &plan)?;
    let secret = signet::agent::random_secret()?;
    let listen = Listen::Tcp(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
    let running = Agent::start(plan, ctx.client(), config(ctx, protocols, secret), &listen)?;
    let pending = exec::watch_signals();
    let mut cmd = std::process::Command::new(&a.command[0]);
    exec::scrub_secrets(&mut cmd, passphrase_env);
    for p in running.protocols() {
        let vars = match p {
            Protocol::Azure => AZURE_VARS,
            Protocol::Gce => GCE_VARS,
        };
        for v in vars {
            cmd.env_remove(v);
        }
    }
    for (k, v) in running.client_env() {
        cmd.env(k, v.expose());
    }
    cmd.args(&a.command[1..]);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            running.stop();
            return Err(exec::not_started(&a.command[0], &e));
        }
    };
    let code = exec::wait(&mut child, pending);
    running.stop();
    Ok(code)
}

/// The secret: read from `--secret-file` when it exists (one trailing newline ignored), else
/// generated, and written there (0600, never over another file) when a path is given.
fn secret(ctx: &Ctx, path: Option<&std::path::Path>) -> Result<Secret<String>, signet::Error> {
    let Some(path) = path else {
        return signet::agent::random_secret();
    };
    let shown = path.display();
    // A passphrase's kind of file: at most 64 KiB, and a pipe will do (`--secret-file <(vault …)`).
    match signet::files::read_secret(path, signet::files::FileKind::Passphrase) {
        Ok(bytes) => {
            use std::os::unix::fs::PermissionsExt;
            if let Ok(m) = std::fs::metadata(path) {
                let mode = m.permissions().mode();
                if m.is_file() && mode & 0o077 != 0 {
                    ctx.warn(&format!(
                        "the agent's secret file {shown} is readable by group or others (mode {:o}): whoever reads it can get tokens from the agent; chmod 600 it",
                        mode & 0o777
                    ));
                }
            }
            let text = String::from_utf8_lossy(bytes.as_ref()).to_string();
            let s = text.strip_suffix('\n').unwrap_or(&text);
            let s = s.strip_suffix('\r').unwrap_or(s);
            if s.len() < 16 || s.chars().any(|c| !c.is_ascii_graphic()) {
                return Err(AgentError::SecretFile {
                    path: shown.to_string(),
                    reason: "the secret must be at least 16 visible ASCII characters (leave the file out and signet writes a random one)".into(),
                }
                .into());
            }
            Ok(Secret::new(s.to_string()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let s = signet::agent::random_secret()?;
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .and_then(|mut f| f.write_all(format!("{}\n", s.expose()).as_bytes()))
                .map_err(|e| secret_file(&shown, &e))?;
            Ok(s)
        }
        Err(e) => Err(secret_file(&shown, &e).into()),
    }
}

fn secret_file(shown: &impl std::fmt::Display, e: &std::io::Error) -> AgentError {
    AgentError::SecretFile {
        path: shown.to_string(),
        reason: signet::text::io_reason(e),
    }
}

/// The client environment as `ssh-agent -s` prints it. With `--secret-file` the secret is not
/// printed (stdout may go to a journal): the assignment reads the file.
fn env_lines(running: &Running, secret_file: Option<&std::path::Path>) -> String {
    let mut out = String::new();
    for (k, v) in running.client_env() {
        let value = match (k, secret_file) {
            ("IDENTITY_HEADER", Some(p)) => format!("\"$(cat {})\"", exec::shell_word(&p.display().to_string())),
            _ => exec::shell_word(v.expose()),
        };
        out.push_str(&format!("{k}={value}; export {k};\n"));
    }
    out.push_str(&format!(
        "echo signet agent pid {} listening on {};\n",
        std::process::id(),
        match running.bound() {
            Bound::Tcp(a) => a.to_string(),
            Bound::Unix(p) => format!("unix:{}", p.display()),
        }
    ));
    out
}

/// `signet serve`: the agent until SIGTERM or SIGINT.
pub fn run(ctx: &Ctx, a: ServeArgs) -> CmdResult {
    let listen = a.listen.parse::<Listen>()?;
    let r = resolve(ctx, flag_layer(&a.signing, &a.exchange)?)?;
    let plan = crate::cli::cmd::token::plan(ctx, r)?;
    let protocols = protocols(&a.serve_protocol, &plan)?;
    let secret = secret(ctx, a.secret_file.as_deref())?;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        let _ = signal_hook::flag::register(sig, stop.clone());
    }
    let running = Agent::start(plan, ctx.client(), config(ctx, protocols, secret), &listen)?;
    output::stdout(&env_lines(&running, a.secret_file.as_deref()));
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    tracing::debug!("stopping the agent");
    running.stop();
    Ok(0)
}
