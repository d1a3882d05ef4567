//! Everything signet writes: stdout for results (only here), stderr for `error:`, `hint:` and
//! `warning:` lines.

use signet::token::Token;
use std::io::Write;

/// Output formats of `signet token`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The token and a newline.
    Raw,
    /// The contract's JSON object.
    Json,
    /// `Authorization: Bearer <token>` (or `NAME: <token>` with --header-name).
    Header,
    /// A Kubernetes ExecCredential, in the apiVersion KUBERNETES_EXEC_INFO asks for (v1 or v1beta1).
    ExecCredential,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        <Format as clap::ValueEnum>::from_str(s, true)
            .map_err(|_| format!("unknown format '{s}': use raw, json, header or exec-credential"))
    }
}

/// Writes to stdout; a closed pipe is not an error (`signet token | head -c0`).
pub fn stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Writes a line to stderr. A closed stderr is no reason to change the exit code: the line is
/// lost and the command ends as it would have (`eprintln!` would panic, exit 101).
fn stderr_line(line: std::fmt::Arguments) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(line).and_then(|_| err.write_all(b"\n"));
}

/// Writes `warning: …` unless quiet.
pub fn warn(quiet: bool, msg: &str) {
    if !quiet {
        stderr_line(format_args!("warning: {msg}"));
    }
}

/// Writes the `error:` line and an optional `hint:` line.
pub fn error(msg: &str, hint: Option<&str>) {
    stderr_line(format_args!("error: {msg}"));
    if let Some(h) = hint {
        stderr_line(format_args!("hint: {h}"));
    }
}

/// The ExecCredential version kubectl reads when it asks for none: the stable one.
pub const EXEC_CREDENTIAL_V1: &str = "client.authentication.k8s.io/v1";

/// The ExecCredential versions signet answers in: v1 (Kubernetes 1.22 on) and v1beta1, which
/// older kubeconfigs still name and kubectl still accepts. The shape of `status` is the same.
const EXEC_CREDENTIAL_VERSIONS: [&str; 2] = [EXEC_CREDENTIAL_V1, "client.authentication.k8s.io/v1beta1"];

/// The apiVersion `--format exec-credential` answers in: the one kubectl asks for in
/// KUBERNETES_EXEC_INFO (from the kubeconfig's `exec.apiVersion`), v1 when it is unset or names
/// none. kubectl refuses an answer in another version ("plugin returned version …"), so a
/// version signet cannot answer in is an error here, before any token is fetched.
pub fn exec_credential_version(env: &signet::env::Env) -> Result<&'static str, signet::config::ConfigError> {
    use signet::config::ConfigError;
    let name = signet::env::EnvVars::KUBERNETES_EXEC_INFO;
    let Some(info) = env.get(name) else {
        return Ok(EXEC_CREDENTIAL_V1);
    };
    let v: serde_json::Value = serde_json::from_str(info).map_err(|_| {
        ConfigError::Usage(format!(
            "{name} is not JSON (kubectl sets it to an ExecCredential object); unset it outside kubectl"
        ))
    })?;
    let Some(asked) = v.get("apiVersion").and_then(serde_json::Value::as_str) else {
        return Ok(EXEC_CREDENTIAL_V1);
    };
    EXEC_CREDENTIAL_VERSIONS
        .into_iter()
        .find(|known| *known == asked)
        .ok_or_else(|| {
            ConfigError::Usage(format!(
                "{name} asks for an ExecCredential in '{}'; signet answers in {}: set that apiVersion in the kubeconfig's exec entry",
                signet::text::sanitize(asked, 80),
                EXEC_CREDENTIAL_VERSIONS.join(" or ")
            ))
        })
}

/// A served token in a format (`exec_api` is the ExecCredential's apiVersion, see
/// [`exec_credential_version`]): a DPoP-bound one goes in `Authorization: DPoP …` and its JSON
/// names the key's thumbprint (`dpop_jkt`).
pub fn render_served(
    served: &signet::Served,
    format: Format,
    header_name: Option<&str>,
    now: i64,
    exec_api: &str,
) -> String {
    render_token_bound(
        &served.token,
        served.dpop_jkt(),
        format,
        header_name,
        served.from_cache,
        now,
        exec_api,
    )
}

/// [`render_served`]'s work, for a token bound to the DPoP key whose thumbprint is `dpop_jkt`.
fn render_token_bound(
    t: &Token,
    dpop_jkt: Option<&str>,
    format: Format,
    header_name: Option<&str>,
    cached: bool,
    now: i64,
    exec_api: &str,
) -> String {
    let tok = t.access_token.expose();
    let scheme = if dpop_jkt.is_some() { "DPoP" } else { "Bearer" };
    match format {
        Format::Raw => format!("{tok}\n"),
        Format::Header => match header_name.filter(|h| !h.eq_ignore_ascii_case("authorization")) {
            Some(name) => format!("{name}: {tok}\n"),
            None => format!("Authorization: {scheme} {tok}\n"),
        },
        Format::Json => {
            let mut v = serde_json::json!({
                "access_token": tok,
                "token_type": t.token_type,
                "expires_in": t.expires_in(now),
                "expires_at": signet::clock::rfc3339(t.expires_at),
                "scope": t.scope,
                "cached": cached,
                "extra": t.extra,
            });
            if let Some(jkt) = dpop_jkt {
                v["dpop_jkt"] = jkt.into();
            }
            format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default())
        }
        Format::ExecCredential => {
            let v = serde_json::json!({
                "apiVersion": exec_api,
                "kind": "ExecCredential",
                "status": {"token": tok, "expirationTimestamp": signet::clock::rfc3339(t.expires_at)},
            });
            format!("{v}\n")
        }
    }
}

/// On GitHub Actions, asks the runner to mask the token in logs before it is printed anywhere.
/// The command goes to stderr so that `$(signet token)` captures only the token; the runner reads
/// workflow commands from both streams.
pub fn github_mask(env: &signet::env::Env, token: &str) {
    if env.get(signet::env::EnvVars::GITHUB_ACTIONS) == Some("true") {
        stderr_line(format_args!("::add-mask::{token}"));
    }
}
