//! `signet exec`: run a command with the token in its environment, passing its exit code through.

use crate::cli::args::ExecArgs;
use crate::cli::{flag_layer, output, resolve, CmdResult, Ctx, Failure};
use signet::config::{ConfigError, Key};
use signet::env::EnvVars;

pub fn run(ctx: &Ctx, a: ExecArgs) -> CmdResult {
    if a.env.is_empty() || a.env.contains('=') || a.env.contains('\0') {
        return Err(ConfigError::Usage(format!("--env '{}' is not a valid variable name", a.env)).into());
    }
    let r = resolve(ctx, flag_layer(&a.signing, &a.exchange)?)?;
    let passphrase_env = r.settings.str(Key::PassphraseEnv).map(String::from);
    let plan = crate::cli::cmd::token::plan(ctx, r)?;
    if a.dry_run {
        let mut out = ctx.client().dry_run(&plan)?.render();
        // The command line is the user's own (visible to `ps` already); it is shown so that a
        // `$SIGNET_TOKEN` the calling shell expanded to nothing can be seen.
        let argv: Vec<String> = a.command.iter().map(|s| shell_word(&s.to_string_lossy())).collect();
        out.push_str(&format!(
            "\n# then it would run: {} (with the token in ${})\n",
            signet::text::sanitize(&argv.join(" "), 400),
            a.env
        ));
        output::stdout(&out);
        return Ok(0);
    }
    if a.serve {
        return crate::cli::cmd::serve::exec(ctx, &a, plan, passphrase_env.as_deref());
    }
    let served = ctx.client().get_token(&plan).map_err(Failure::Lib)?;
    let pending = watch_signals();
    let mut cmd = std::process::Command::new(&a.command[0]);
    scrub_secrets(&mut cmd, passphrase_env.as_deref());
    cmd.args(&a.command[1..])
        .env(&a.env, served.token.access_token.expose());
    // The scheme the child's Authorization header needs; one left by an outer signet is not this token's.
    match served.dpop {
        Some(_) => cmd.env(EnvVars::TOKEN_TYPE, "DPoP"),
        None => cmd.env_remove(EnvVars::TOKEN_TYPE),
    };
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Err(not_started(&a.command[0], &e)),
    };
    Ok(wait(&mut child, pending))
}

/// The child could not be started: its error line, and the shell's codes (127 not found, 126
/// not executable).
pub(crate) fn not_started(command: &std::ffi::OsStr, e: &std::io::Error) -> Failure {
    let (code, why) = match e.kind() {
        std::io::ErrorKind::NotFound => (127, "command not found"),
        std::io::ErrorKind::PermissionDenied => (126, "permission denied"),
        _ => (126, "cannot be started"),
    };
    output::error(&format!("{}: {why}", command.to_string_lossy()), None);
    Failure::Exit(code)
}

/// The secrets signet reads from its environment, removed from a child's: the child gets the
/// token and nothing else secret. `passphrase_env` is the variable a profile names for the key's
/// passphrase.
pub fn scrub_secrets(cmd: &mut std::process::Command, passphrase_env: Option<&str>) {
    for var in [
        EnvVars::KEY_PASSPHRASE,
        EnvVars::PKCS11_PIN,
        EnvVars::CACHE_KEY,
        EnvVars::CACHE_PASSWORD,
    ] {
        cmd.env_remove(var);
    }
    if let Some(var) = passphrase_env.filter(|v| !v.is_empty()) {
        cmd.env_remove(var);
    }
}

/// The signals caught for the child: SIGINT, SIGTERM, SIGHUP and SIGQUIT.
pub struct Watch(Option<signal_hook::iterator::Signals>);

/// Starts catching SIGINT, SIGTERM, SIGHUP and SIGQUIT for [`wait`] to forward. Called before
/// the child starts, so that no signal arrives unforwarded (caught ones queue until then).
pub fn watch_signals() -> Watch {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
    Watch(signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP, SIGQUIT]).ok())
}

/// Waits for the child, forwarding the signals [`watch_signals`] caught; its exit code, or
/// 128+N when signal N ended it (as a shell reports it). The wait blocks in the kernel and a
/// thread forwards signals, so the child's end is seen at once (a 10 ms polling loop here added
/// about 5 ms to every `signet curl`).
pub fn wait(child: &mut std::process::Child, watch: Watch) -> i32 {
    let pid = child.id() as libc::pid_t;
    let forwarder = watch.0.map(|mut signals| {
        let handle = signals.handle();
        let thread = std::thread::spawn(move || {
            for sig in signals.forever() {
                // SAFETY: kill with a pid and a signal number. The loop ends as soon as the
                // child is reaped; a pid is not handed out again within that instant.
                unsafe {
                    libc::kill(pid, sig);
                }
            }
        });
        (handle, thread)
    });
    let status = child.wait();
    if let Some((handle, thread)) = forwarder {
        handle.close();
        let _ = thread.join();
    }
    match status {
        Ok(status) => {
            use std::os::unix::process::ExitStatusExt;
            status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
        }
        Err(_) => 1,
    }
}

/// A word as a POSIX shell would need it quoted to read it back as one word: as is when it needs
/// no quoting (as `ssh-agent -s` prints its socket), else in single quotes.
pub fn shell_word(w: &str) -> String {
    let plain = !w.is_empty()
        && w.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b));
    if plain {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}
