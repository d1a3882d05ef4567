//! `signet curl`: become curl (exec) with the token's header in a pipe (`--header @/dev/fd/N`),
//! so the token is in neither curl's argv (which `ps` shows every user of the host) nor its
//! environment, and never on disk.

use crate::cli::args::CurlArgs;
use crate::cli::cmd::exec;
use crate::cli::output::{self, Format};
use crate::cli::{flag_layer, resolve, CmdResult, Ctx, Failure};
use signet::config::{ConfigError, Key, Origin, Raw};
use signet::env::EnvVars;
use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

pub fn run(ctx: &Ctx, a: CurlArgs) -> CmdResult {
    // Everything that can be refused is refused before a token is fetched.
    let url_is_http = check_url(&a.url)?.scheme() == "http";
    if let Some(m) = &a.request {
        check_method(m)?;
    }
    let seen =
        crate::cli::curl_args::read(&a.curl_args, url_is_http, |u| check_url(u).is_ok()).map_err(ConfigError::Usage)?;
    let curl = find_on_path("curl", ctx.env.get(EnvVars::PATH)).ok_or_else(not_installed)?;
    let mut flags = flag_layer(&a.signing, &a.exchange)?;
    if let Some(h) = &a.header_name {
        flags.insert(Key::HeaderName, (Raw::Str(h.clone()), Origin::Flag));
    }
    let r = resolve(ctx, flags)?;
    // A template's header (1E's X-Tachyon-Authenticate, JD Edwards' jde-AIS-Auth) as `--format header` uses it.
    let header_name = r.settings.str(Key::HeaderName).map(String::from);
    let passphrase_env = r.settings.str(Key::PassphraseEnv).map(String::from);
    if let Some(h) = header_name
        .as_deref()
        .filter(|h| seen.location && !h.eq_ignore_ascii_case("authorization"))
    {
        return Err(ConfigError::Usage(format!(
            "-L with the header {}: curl sends a custom header to every host a redirect names (it drops only Authorization): leave out -L",
            signet::text::sanitize(h, 60)
        ))
        .into());
    }
    let plan = crate::cli::cmd::token::plan(ctx, r)?;
    if a.dry_run {
        let mut out = ctx.client().dry_run(&plan)?.render();
        let mut argv = vec![
            curl.display().to_string(),
            "-q".into(),
            "--header".into(),
            "@/dev/fd/N".into(),
        ];
        if url_is_http {
            argv.extend(["--noproxy".into(), "'*'".into()]);
        }
        if let Some(m) = &a.request {
            argv.extend(["--request".into(), m.clone()]);
        }
        argv.extend(a.curl_args.iter().map(|s| s.to_string_lossy().into_owned()));
        argv.extend(["--url".into(), a.url.clone()]);
        let headers = match (plan.dpop(), header_name.as_deref()) {
            (Some(_), h) => format!("the {} and DPoP headers", h.unwrap_or("Authorization: DPoP")),
            (None, h) => format!("the {} header", h.unwrap_or("Authorization")),
        };
        out.push_str(&format!(
            "\n# then it would run: {} ({headers} read from a pipe)\n",
            signet::text::sanitize(&argv.join(" "), 400),
        ));
        output::stdout(&out);
        return Ok(0);
    }
    let client = ctx.client();
    let served = client.get_token(&plan).map_err(Failure::Lib)?;
    // `curl -v` prints the header it sends: on GitHub Actions the runner masks it in the log.
    output::github_mask(&ctx.env, served.token.access_token.expose());
    let mut header = output::render_served(
        &served,
        Format::Header,
        header_name.as_deref(),
        0,
        output::EXEC_CREDENTIAL_V1,
    );
    if served.dpop.is_some() {
        // The proof for the request curl makes: its method and URL, with ath for this token.
        let method = a.request.clone().unwrap_or_else(|| seen.method());
        let proof = client
            .dpop_proof(&served, &method, &seen.request_url(&a.url), None)
            .map_err(Failure::Lib)?;
        header.push_str(&format!("DPoP: {}\n", proof.expose()));
    }
    let header = signet::Secret::new(header);
    drop(served);

    // The whole header goes into the pipe first, then signet becomes curl (exec, same process):
    // curl gets signals, the terminal and the exit status first-hand, and nothing waits for it.
    // A second process and a thread to forward signals cost ~1 ms per call (make bench).
    let read_end = header_fd(header.expose().as_bytes())?;
    drop(header);
    let fd: RawFd = std::os::fd::AsRawFd::as_raw_fd(&read_end);
    // SAFETY: clears close-on-exec on a descriptor this function owns, so curl inherits it.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } == -1 {
        let e = std::io::Error::last_os_error();
        return Err(ConfigError::Usage(format!("cannot hand the header to curl: {e}")).into());
    }
    let mut cmd = std::process::Command::new(&curl);
    exec::scrub_secrets(&mut cmd, passphrase_env.as_deref());
    // -q (first, or curl ignores it): no ~/.curlrc, whose options (`location-trusted`, a `url`)
    // signet cannot check any more than a -K file's; the request is what this command line says.
    cmd.arg("-q").arg("--header").arg(format!("@/dev/fd/{fd}"));
    if url_is_http {
        // Plain http goes to the loopback host --url names, not to a proxy from http_proxy.
        cmd.arg("--noproxy").arg("*");
    }
    if let Some(m) = &a.request {
        cmd.arg("--request").arg(m);
    }
    cmd.args(&a.curl_args).arg("--url").arg(&a.url);
    // Returns only when curl could not be started (curl was found, so not "not installed": a
    // missing interpreter, no permission, a broken binary).
    let e = cmd.exec();
    // std put SIGPIPE back to its default for curl; signet reports a closed stderr, not dies of it.
    // SAFETY: sets a signal's disposition; signet has no other thread that handles SIGPIPE.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    drop(read_end);
    output::error(
        &format!("{}: cannot be started: {}", curl.display(), signet::text::io_reason(&e)),
        None,
    );
    Err(Failure::Exit(126))
}

/// A descriptor curl reads the header from: a pipe holding all of it, else (the pipe cannot be
/// grown to hold it: a header over /proc/sys/fs/pipe-max-size, or a user past
/// pipe-user-pages-soft, whose pipes hold 8 KiB) an anonymous in-memory file, 0600. Neither is on
/// disk; both close with curl.
fn header_fd(header: &[u8]) -> Result<OwnedFd, ConfigError> {
    let fail = |e: std::io::Error| ConfigError::Usage(format!("cannot pass the header to curl: {e}"));
    let (read_end, write_end) = pipe().map_err(fail)?;
    if hold(&write_end, header.len()) {
        std::fs::File::from(write_end).write_all(header).map_err(fail)?;
        return Ok(read_end);
    }
    in_memory_file(header).map_err(fail)
}

/// The header in a memfd (Linux), with its offset at 0 for curl to read.
fn in_memory_file(header: &[u8]) -> std::io::Result<OwnedFd> {
    use std::io::{Seek, SeekFrom};
    // SAFETY: memfd_create takes a C string and flags, and returns a new descriptor or -1.
    let fd = unsafe { libc::memfd_create(c"signet-curl-header".as_ptr(), libc::MFD_CLOEXEC) };
    if fd == -1 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the descriptor was just created and is owned by nothing else.
    let mut f = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    f.write_all(header)?;
    f.seek(SeekFrom::Start(0))?;
    Ok(OwnedFd::from(f))
}

/// Whether the pipe holds `len` bytes, grown if need be, so that the header is written whole
/// before curl reads it: a pipe holds 64 KiB, and can be grown to /proc/sys/fs/pipe-max-size
/// (1 MiB by default).
fn hold(pipe: &OwnedFd, len: usize) -> bool {
    let fd = std::os::fd::AsRawFd::as_raw_fd(pipe);
    // SAFETY: F_GETPIPE_SZ and F_SETPIPE_SZ read and set a pipe's capacity, on a descriptor owned here.
    let size = unsafe { libc::fcntl(fd, libc::F_GETPIPE_SZ) };
    if size >= 0 && len <= size as usize {
        return true;
    }
    let wanted = libc::c_int::try_from(len).unwrap_or(libc::c_int::MAX);
    // SAFETY: as above.
    unsafe { libc::fcntl(fd, libc::F_SETPIPE_SZ, wanted) >= wanted }
}

fn not_installed() -> ConfigError {
    ConfigError::Usage(
        "curl is not installed (no curl on PATH): install it (e.g. apt-get install curl), or use signet exec".into(),
    )
}

/// The URL must be one a bearer token may travel to: https, or http to a loopback host.
/// The URL as parsed, for what else depends on it (plain http or not).
fn check_url(url: &str) -> Result<url::Url, ConfigError> {
    // curl reads URLs by RFC 3986 and this check by WHATWG's rules, which differ on a few
    // characters: `http://127.0.0.1\@evil.example/` is loopback here and evil.example to curl.
    // Such characters, and curl's globs ({a,b}, [1-9]), are refused rather than guessed at.
    let odd = url
        .chars()
        .find(|c| !c.is_ascii_graphic() || "\\{}|^\"<>`".contains(*c));
    // Brackets only around an IPv6 host (`http://[::1]:8080/`): any other pair is a glob.
    let brackets_ok = !url.contains(['[', ']'])
        || url.split_once("://").is_some_and(|(_, rest)| rest.starts_with('['))
            && url.matches('[').count() == 1
            && url.matches(']').count() == 1;
    if odd.is_some() || !brackets_ok {
        return Err(ConfigError::Usage(format!(
            "--url '{}' has a character curl may read differently from signet ({}): write the URL percent-encoded",
            signet::text::sanitize(url, 200),
            odd.map_or("a glob bracket".to_string(), |c| format!("{c:?}"))
        )));
    }
    let u = url::Url::parse(url)
        .map_err(|e| ConfigError::Usage(format!("invalid --url '{}': {e}", signet::text::sanitize(url, 200))))?;
    match u.scheme() {
        "https" => Ok(u),
        "http" if signet::exchange::is_loopback(&u) => Ok(u),
        "http" => Err(ConfigError::Usage(format!(
            "refusing to send the token over plain http to {}: use https (plain http is allowed only for loopback hosts)",
            signet::text::sanitize(url, 200)
        ))),
        s => Err(ConfigError::Usage(format!(
            "--url '{}': scheme '{s}' is not http(s)",
            signet::text::sanitize(url, 200)
        ))),
    }
}

/// An HTTP method is a token (RFC 9110 §9.1): letters, digits and a few marks, nothing curl
/// could read as another option.
pub fn check_method(m: &str) -> Result<(), ConfigError> {
    let tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if m.is_empty() || m.starts_with('-') || !m.chars().all(tchar) {
        return Err(ConfigError::Usage(format!(
            "--request '{}' is not an HTTP method (e.g. GET, POST, PUT)",
            signet::text::sanitize(m, 40)
        )));
    }
    Ok(())
}

/// The executable `name` in the first folder of `path` that has it, as the shell would find it;
/// without PATH, the folders execvp uses.
fn find_on_path(name: &str, path: Option<&str>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    path.unwrap_or("/usr/local/bin:/usr/bin:/bin")
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// A pipe whose two ends are closed on exec (the read end is opened up for curl alone).
fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 writes two descriptors into the array it is given, which this function then owns.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nothing else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_methods() {
        assert!(check_url("https://api.example.com/x").is_ok());
        assert!(check_url("http://127.0.0.1:8080/").is_ok());
        assert!(check_url("http://api.example.com/").is_err());
        assert!(check_url("file:///etc/passwd").is_err());
        assert!(check_url("api.example.com").is_err());
        assert!(check_url("http://[::1]:8080/x").is_ok());
        for odd in [
            "http://127.0.0.1\\@evil.example.com/",
            "http://127.0.0.1/{a,b}",
            "http://127.0.0.1/[1-9]",
            "http://[::1]/[1-2]",
            "https://api.example.com/a b",
            "http://127.0.0.1/\tx",
        ] {
            assert!(check_url(odd).is_err(), "{odd}");
        }
        for m in ["GET", "POST", "PROPFIND"] {
            assert!(check_method(m).is_ok(), "{m}");
        }
        for m in ["", "-o", "GET /x", "GET\n"] {
            assert!(check_method(m).is_err(), "{m:?}");
        }
    }

    #[test]
    #[allow(clippy::disallowed_methods)] // reads back what the test wrote
    fn a_header_no_pipe_holds_goes_in_a_0600_memory_file() {
        use std::os::unix::fs::PermissionsExt;
        let header = b"Authorization: Bearer abc\n".repeat(1000);
        let fd = in_memory_file(&header).unwrap();
        let n = std::os::fd::AsRawFd::as_raw_fd(&fd);
        // What curl does with @/dev/fd/N: opens the path and reads it from the start.
        let path = format!("/dev/fd/{n}");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(std::fs::read(&path).unwrap(), header);
        // Closed on exec unless handed to curl.
        // SAFETY: F_GETFD only reads the descriptor's flags.
        assert_eq!(
            unsafe { libc::fcntl(n, libc::F_GETFD) } & libc::FD_CLOEXEC,
            libc::FD_CLOEXEC
        );
    }

    #[test]
    fn path_lookup() {
        assert!(find_on_path("sh", Some("/nonexistent:/bin:/usr/bin")).is_some());
        assert!(find_on_path("sh", Some("/nonexistent")).is_none());
    }
}
