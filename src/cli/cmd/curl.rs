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
    check_url(&a.url)?;
    if let Some(m) = &a.request {
        check_method(m)?;
    }
    let seen = read_curl_args(&a.curl_args)?;
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
        let mut argv = vec![curl.display().to_string(), "--header".into(), "@/dev/fd/N".into()];
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
            .dpop_proof(&served, &method, &a.url, None)
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
    cmd.arg("--header").arg(format!("@/dev/fd/{fd}"));
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

/// curl's short options that take a value (curl(1)): in a cluster (`-sXPUT`) the rest of the
/// word is the value, else the next argument.
const SHORT_WITH_VALUE: &[u8] = b"AbcCdDeEFHKmoPQrtTuUwxXyYz";

/// curl's long options whose value is a URL that does not get the request's headers.
const URL_VALUED: &[&str] = &["--proxy", "--preproxy", "--referer", "--doh-url"];

/// What signet needs to know of curl's own arguments, read as curl reads them.
#[derive(Debug, Default, PartialEq)]
struct Seen {
    /// The last `-X`/`--request`.
    request: Option<String>,
    head: bool,
    get: bool,
    upload: bool,
    data: bool,
    /// `-L`/`--location`: curl follows redirects, sending custom headers to every host.
    location: bool,
}

impl Seen {
    /// The method curl sends, as it picks it: the DPoP proof's `htm` must be that method. `-X`
    /// wins wherever it is; `-G` makes data part of a GET's URL.
    fn method(&self) -> String {
        if let Some(m) = &self.request {
            return m.clone();
        }
        match () {
            _ if self.head => "HEAD",
            _ if self.get => "GET",
            _ if self.upload => "PUT",
            _ if self.data => "POST",
            _ => "GET",
        }
        .into()
    }
}

/// Reads curl's arguments, refusing those that would send the token somewhere signet has not
/// checked: another URL in plain http (curl sends `-H` headers to every URL it is given),
/// `--url`/`--next` (give the URL with signet's `--url`), `--location-trusted` (Authorization to
/// any host a redirect names).
fn read_curl_args(args: &[std::ffi::OsString]) -> Result<Seen, ConfigError> {
    let refuse = |what: &str, why: &str| {
        Err(ConfigError::Usage(format!(
            "curl's argument {} {why}",
            signet::text::sanitize(what, 100)
        )))
    };
    let mut seen = Seen::default();
    let mut it = args.iter().map(|a| a.to_string_lossy());
    while let Some(a) = it.next() {
        let a = a.as_ref();
        if let Some(long) = a.strip_prefix("--").filter(|l| !l.is_empty()) {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let mut value = || inline.clone().or_else(|| it.next().map(|v| v.into_owned()));
            // curl takes any unambiguous start of a long option's name (`--location-t` is
            // `--location-trusted`, `--nex` is `--next`): a start of a refused one is refused.
            let abbreviates = |full: &str| full.starts_with(name) && name != full && name != "location";
            let name = match ["url", "next", "location-trusted"].into_iter().find(|f| abbreviates(f)) {
                Some(full) => full,
                None => name,
            };
            match name {
                "url" | "next" => {
                    return refuse(a, "would send the token to another request: give the one URL with signet curl --url")
                }
                "location-trusted" => {
                    return refuse(a, "would send the token to any host a redirect names: leave it out (curl's -L keeps Authorization to the first host)")
                }
                "location" => seen.location = true,
                "no-location" => seen.location = false,
                "request" => seen.request = value(),
                "head" => seen.head = true,
                "get" => seen.get = true,
                "upload-file" => {
                    seen.upload = true;
                    value();
                }
                n if n.starts_with("data") || n.starts_with("form") || n == "json" => {
                    seen.data = true;
                    value();
                }
                _ if URL_VALUED.contains(&format!("--{name}").as_str()) => {
                    value();
                }
                _ => {}
            }
        } else if let Some(cluster) = a.strip_prefix('-').filter(|c| !c.is_empty()) {
            let bytes = cluster.as_bytes();
            for (i, &b) in bytes.iter().enumerate() {
                if b == b':' {
                    return refuse(
                        a,
                        "(--next) would send the token to another request: give the one URL with signet curl --url",
                    );
                }
                if SHORT_WITH_VALUE.contains(&b) {
                    let rest = &cluster[i + 1..];
                    let v = if rest.is_empty() {
                        it.next().map(|v| v.into_owned())
                    } else {
                        Some(rest.to_string())
                    };
                    match b {
                        b'X' => seen.request = v,
                        b'd' | b'F' => seen.data = true,
                        b'T' => seen.upload = true,
                        _ => {}
                    }
                    break;
                }
                match b {
                    b'I' => seen.head = true,
                    b'G' => seen.get = true,
                    b'L' => seen.location = true,
                    _ => {}
                }
            }
        } else if let Ok(u) = url::Url::parse(a) {
            // curl fetches every URL among its arguments, each with signet's header.
            if u.has_host() && check_url(a).is_err() {
                return refuse(
                    a,
                    "is a URL that would get the token too, and it is not https (or http to a loopback host): leave it out, or use https",
                );
            }
        }
    }
    Ok(seen)
}

/// The URL must be one a bearer token may travel to: https, or http to a loopback host.
fn check_url(url: &str) -> Result<(), ConfigError> {
    let u = url::Url::parse(url)
        .map_err(|e| ConfigError::Usage(format!("invalid --url '{}': {e}", signet::text::sanitize(url, 200))))?;
    match u.scheme() {
        "https" => Ok(()),
        "http" if signet::exchange::is_loopback(&u) => Ok(()),
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
        for m in ["GET", "POST", "PROPFIND"] {
            assert!(check_method(m).is_ok(), "{m}");
        }
        for m in ["", "-o", "GET /x", "GET\n"] {
            assert!(check_method(m).is_err(), "{m:?}");
        }
    }

    #[test]
    fn the_proof_names_the_method_curl_sends() {
        let m = |a: &[&str]| {
            read_curl_args(&a.iter().map(std::ffi::OsString::from).collect::<Vec<_>>())
                .unwrap()
                .method()
        };
        assert_eq!(m(&[]), "GET");
        assert_eq!(m(&["-s", "-d", "x=1"]), "POST");
        assert_eq!(m(&["--data-raw", "x"]), "POST");
        assert_eq!(m(&["-d", "x", "-X", "PUT"]), "PUT");
        assert_eq!(m(&["-X", "PUT", "-d", "x"]), "PUT");
        assert_eq!(m(&["--request=PATCH"]), "PATCH");
        assert_eq!(m(&["-XDELETE"]), "DELETE");
        assert_eq!(m(&["-I"]), "HEAD");
        assert_eq!(m(&["-T", "f"]), "PUT");
        // -G puts the data in a GET's query; clusters of short options as curl reads them.
        assert_eq!(m(&["-G", "-d", "q=1"]), "GET");
        assert_eq!(m(&["-sX", "PUT"]), "PUT");
        assert_eq!(m(&["-sXPATCH"]), "PATCH");
        assert_eq!(m(&["-sI"]), "HEAD");
        assert_eq!(m(&["-dx=1"]), "POST");
        assert_eq!(m(&["-sGd", "q=1"]), "GET");
        // A value is not read as options: -o's file, -H's header.
        assert_eq!(m(&["-o", "-X", "-H", "X-I: 1"]), "GET");
        assert_eq!(m(&["-oX"]), "GET");
    }

    #[test]
    fn curl_args_that_would_send_the_token_elsewhere_are_refused() {
        let read = |a: &[&str]| read_curl_args(&a.iter().map(std::ffi::OsString::from).collect::<Vec<_>>());
        for bad in [
            &["-s", "http://localhost.example.com/x"][..],
            &["http://10.0.0.1/"],
            &["ftp://files.example.com/"],
            &["--url", "https://api.example.com/"],
            &["--url=https://api.example.com/"],
            &["--next"],
            &["-:"],
            &["-s:"],
            &["--location-trusted"],
            // curl's abbreviations of them
            &["--location-t"],
            &["--nex"],
            &["--ur", "https://api.example.com/"],
        ] {
            let e = read(bad).unwrap_err().to_string();
            assert!(e.starts_with("curl's argument"), "{bad:?}: {e}");
        }
        for good in [
            &["-s", "-o", "/dev/null"][..],
            &["https://api.example.com/other"],
            &["http://127.0.0.1:8080/x"],
            &["-x", "http://proxy.corp:3128"],
            &["--proxy", "http://proxy.corp:3128"],
            &["-e", "http://referer.example.com/"],
            &["-H", "X-Note: see http://example.com/"],
            &["-L"],
            &["--location"],
            &["--no-location"],
        ] {
            assert!(read(good).is_ok(), "{good:?}");
        }
        assert!(read(&["-sL"]).unwrap().location);
        assert!(!read(&["-L", "--no-location"]).unwrap().location);
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
