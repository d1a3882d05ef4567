//! `signet curl` with the real curl and with a stand-in that records what it was given, and the
//! README's `exec` line run as a user pastes it.

use crate::common::*;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const KEY: &str = "p256.pkcs8.pem";

/// A one-request HTTP server on 127.0.0.1: answers 200 "ok" and hands back the request's head.
fn serve_once() -> (String, std::thread::JoinHandle<String>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/items", l.local_addr().unwrap());
    let h = std::thread::spawn(move || {
        let (mut c, _) = l.accept().unwrap();
        c.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match c.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let _ = c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        String::from_utf8_lossy(&head).into_owned()
    });
    (url, h)
}

/// The token flags for the issuer, as `signet token` takes them.
fn token_flags(iss: &signet::issuer::Issuer) -> Vec<String> {
    [
        "--key",
        &fixture_str(KEY),
        "--client-id",
        "ci",
        "--token-url",
        iss.token_url(),
    ]
    .map(String::from)
    .to_vec()
}

/// The token `signet token` prints for these flags (cached, so `curl` and `exec` get the same one).
fn token(sb: &Sandbox, iss: &signet::issuer::Issuer) -> String {
    let o = sb.signet().arg("token").args(token_flags(iss)).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o).trim().to_string()
}

/// PATH with `dir` first.
#[allow(clippy::disallowed_methods)] // the harness's PATH, not one signet reads
fn path_with(dir: &Path) -> String {
    format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default())
}

#[test]
fn curl_sends_the_token_in_the_header_with_the_method_and_args() {
    let sb = Sandbox::new();
    // curl runs with -q: a ~/.curlrc (whose options signet cannot check) is not read.
    std::fs::write(sb.path().join(".curlrc"), "header = \"X-From-Curlrc: 1\"\n").unwrap();
    let iss = issuer_trusting("ci", KEY, None);
    let tok = token(&sb, &iss);
    let (url, seen) = serve_once();
    let o = sb
        .signet()
        .arg("curl")
        .args(token_flags(&iss))
        .args(["--url", &url, "--request", "PUT", "--", "-sS", "-H", "X-Extra: 1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "ok");
    let head = seen.join().unwrap();
    assert!(head.starts_with("PUT /api/items HTTP/1.1\r\n"), "{head}");
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains("\r\nx-extra: 1\r\n"), "{head}");
    assert!(!lower.contains("x-from-curlrc"), "{head}");
    assert!(head.contains(&format!("\r\nAuthorization: Bearer {tok}\r\n")), "{head}");
    assert_eq!(iss.request_count(), 1, "the cached token was used");
}

/// A plain-http --url (loopback only) is fetched from that host, never through a proxy that
/// http_proxy names (which would see the token).
#[test]
fn plain_http_to_loopback_goes_through_no_proxy() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("ci", KEY, None);
    let (url, seen) = serve_once();
    let proxy = refused_port();
    let o = sb
        .signet()
        .arg("curl")
        .args(token_flags(&iss))
        .args(["--url", &url, "--", "-sS"])
        .env("http_proxy", format!("http://127.0.0.1:{}", proxy.port))
        .env("HTTP_PROXY", format!("http://127.0.0.1:{}", proxy.port))
        .env_remove("NO_PROXY")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(seen.join().unwrap().starts_with("GET /api/items HTTP/1.1\r\n"));
}

#[test]
fn curl_returns_curls_exit_code() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("ci", KEY, None);
    let down = refused_port();
    let o = sb
        .signet()
        .arg("curl")
        .args(token_flags(&iss))
        .args(["--url", &format!("http://127.0.0.1:{}/", down.port), "--", "-sS"])
        .output()
        .unwrap();
    // curl's 7: failed to connect
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
}

/// A stand-in for curl, first on PATH: records its argv (as /proc shows it), its process id, its
/// environment and what the header file held, then exits 9.
fn fake_curl(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = format!(
        r#"#!/bin/sh
out={out}
tr '\0' '\n' < /proc/$$/cmdline > "$out/cmdline"
echo $$ > "$out/pid"
env > "$out/env"
while [ $# -gt 0 ]; do
  case "$1" in
    --header) printf '%s\n' "$2" > "$out/header-arg"; cat "${{2#@}}" > "$out/header" ;;
  esac
  shift
done
exit 9
"#,
        out = dir.display()
    );
    let p = bin.join("curl");
    std::fs::write(&p, script).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

#[test]
fn curl_never_puts_the_token_in_argv_or_the_environment() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("ci", KEY, None);
    let tok = token(&sb, &iss);
    let bin = fake_curl(sb.path());
    let o = sb
        .signet()
        .arg("curl")
        .args(token_flags(&iss))
        .args([
            "--url",
            "https://api.example.com/v1/x",
            "--request",
            "POST",
            "--",
            "-d",
            "a=1",
        ])
        .env("PATH", path_with(&bin))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(9), "curl's exit code: {}", stderr(&o));
    let read = |n: &str| std::fs::read_to_string(sb.path().join(n)).unwrap();
    assert_eq!(read("header"), format!("Authorization: Bearer {tok}\n"));
    let argv = read("cmdline");
    assert!(!argv.contains(&tok[..20]) && !read("env").contains(&tok[..20]));
    let args: Vec<&str> = argv.lines().skip(2).collect(); // sh, the script
    assert_eq!(
        args,
        [
            "-q",
            "--header",
            read("header-arg").trim(),
            "--request",
            "POST",
            "-d",
            "a=1",
            "--url",
            "https://api.example.com/v1/x"
        ]
    );
    // a pipe, not a file on disk that could be left behind
    assert!(read("header-arg").starts_with("@/dev/fd/"), "{}", read("header-arg"));
    assert_no_secrets(&format!("{}{}", stdout(&o), stderr(&o)), &[&tok[..20]]);
}

/// signet becomes curl (exec) rather than running it as a child: signals from the terminal or a
/// CI runner reach curl itself, and no second process is left to wait for it.
#[test]
fn curl_runs_in_signets_own_process() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("ci", KEY, None);
    let bin = fake_curl(sb.path());
    let mut c = sb.signet();
    c.arg("curl")
        .args(token_flags(&iss))
        .args(["--url", "https://api.example.com/v1/x"])
        .env("PATH", path_with(&bin));
    let mut child = spawn(&c, std::process::Stdio::null());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(9), "curl's exit code");
    let pid = std::fs::read_to_string(sb.path().join("pid")).unwrap();
    assert_eq!(pid.trim(), child.id().to_string());
}

/// A curl that is on PATH but cannot be started (its interpreter is missing) is named with the
/// reason, exit 126 as a shell says it, not "not installed"; and a closed stderr does not kill
/// signet (std resets SIGPIPE for curl just before exec, and signet ignores it again).
#[test]
fn a_curl_that_cannot_start_is_named_with_126() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    let iss = issuer_trusting("ci", KEY, None);
    let bin = sb.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let fake = bin.join("curl");
    std::fs::write(&fake, "#!/nonexistent/interpreter\n").unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut c = sb.signet();
    c.arg("curl")
        .args(token_flags(&iss))
        .args(["--url", "https://api.example.com/v1/x"])
        .env("PATH", path_with(&bin));
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(126), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.starts_with("error: ") && err.contains(&format!("{}: cannot be started", fake.display())),
        "{err}"
    );
    assert!(!err.contains("not installed"), "{err}");
    // The same with nobody reading stderr.
    let mut child = spawn(&c, std::process::Stdio::null());
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(126), "{status:?}");
}

/// A token larger than a pipe's usual 64 KiB still reaches curl whole (the pipe is grown first).
#[test]
fn curl_gets_a_header_larger_than_a_pipe_holds() {
    use std::io::{Read, Write};
    let big = "a".repeat(300 * 1024);
    let body = format!(r#"{{"access_token":"{big}","token_type":"Bearer","expires_in":3600}}"#);
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let token_url = format!("http://{}/token", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten().take(1) {
            let _ = c.set_read_timeout(Some(std::time::Duration::from_millis(500)));
            let mut buf = [0u8; 65536];
            let _ = c.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = c.write_all(head.as_bytes());
            let _ = c.write_all(body.as_bytes());
        }
    });
    let sb = Sandbox::new();
    let bin = fake_curl(sb.path());
    let o = sb
        .signet()
        .args([
            "curl",
            "--key",
            &fixture_str(KEY),
            "--client-id",
            "ci",
            "--token-url",
            &token_url,
        ])
        .args(["--url", "https://api.example.com/v1/x"])
        .env("PATH", path_with(&bin))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(9), "{}", stderr(&o));
    let header = std::fs::read_to_string(sb.path().join("header")).unwrap();
    assert_eq!(header, format!("Authorization: Bearer {big}\n"));
}

#[test]
fn curl_refuses_before_fetching_a_token() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("ci", KEY, None);
    let empty = sb.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    for (extra, path, needle) in [
        (
            vec!["--url", "https://api.example.com/"],
            Some(&empty),
            "curl is not installed",
        ),
        (vec!["--url", "http://api.example.com/"], None, "plain http"),
        (
            vec!["--url", "https://api.example.com/", "--request", "GET /x"],
            None,
            "not an HTTP method",
        ),
        // curl sends -H headers to every URL among its arguments, and custom ones through redirects.
        (
            vec![
                "--url",
                "https://api.example.com/",
                "--",
                "-s",
                "http://elsewhere.example.com/x",
            ],
            None,
            "would get the token too",
        ),
        (
            vec![
                "--url",
                "https://api.example.com/",
                "--",
                "--url",
                "https://other.example.com/",
            ],
            None,
            "give the one URL with signet curl --url",
        ),
        (
            vec![
                "--url",
                "https://api.example.com/",
                "--header-name",
                "X-Tok",
                "--",
                "-sL",
            ],
            None,
            "leave out -L",
        ),
    ] {
        let mut c = sb.signet();
        c.arg("curl").args(token_flags(&iss)).args(&extra);
        if let Some(p) = path {
            c.env("PATH", p);
        }
        let o = c.output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", stderr(&o));
        assert!(
            stderr(&o).starts_with("error: ") && stderr(&o).contains(needle),
            "{}",
            stderr(&o)
        );
    }
    assert_eq!(iss.request_count(), 0);
}

/// The README's `exec` line, pasted into a shell as it stands, with only `…` (the token flags)
/// and the example URL filled in: the API must receive the token.
#[test]
fn the_readmes_exec_line_sends_the_token() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let line = readme
        .lines()
        .find(|l| l.starts_with("signet exec "))
        .expect("the README has a `signet exec` line");
    let sb = Sandbox::new();
    let iss = issuer_trusting("ci", KEY, None);
    let tok = token(&sb, &iss);
    let (url, seen) = serve_once();
    let flags = token_flags(&iss).join(" ");
    assert!(
        line.contains('…') && line.contains("https://api.example.com/"),
        "{line}"
    );
    let pasted = line.replacen('…', &flags, 1).replace("https://api.example.com/", &url);
    let signet = sb.signet();
    let bin = Path::new(signet.get_program()).parent().unwrap().to_path_buf();
    let mut sh = std::process::Command::new("sh");
    for (k, v) in signet.get_envs() {
        match v {
            Some(v) => sh.env(k, v),
            None => sh.env_remove(k),
        };
    }
    // signet found on PATH, as a user has it
    let o = sh.arg("-c").arg(&pasted).env("PATH", path_with(&bin)).output().unwrap();
    assert!(o.status.success(), "{pasted}: {}", stderr(&o));
    let head = seen.join().unwrap();
    assert!(head.contains(&format!("\r\nAuthorization: Bearer {tok}\r\n")), "{head}");
}

#[test]
fn exec_help_says_to_quote_the_variable_for_sh() {
    let o = Sandbox::new().signet().args(["exec", "--help"]).output().unwrap();
    let out = stdout(&o);
    assert!(out.contains("sh -c '") && out.contains("\"$SIGNET_TOKEN\""), "{out}");
    assert!(out.contains("signet curl"), "{out}");
}

/// `curl --dry-run` signs and shows the token request and the curl command line, and runs
/// nothing: no request reaches the endpoint, curl is not started, no token is printed.
#[test]
fn curl_dry_run_shows_the_request_and_runs_nothing() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("ci", KEY, None);
    let bin = fake_curl(sb.path());
    let o = sb
        .signet()
        .arg("curl")
        .args(token_flags(&iss))
        .args(["--url", "https://api.example.com/v1/x", "--request", "PUT", "--dry-run"])
        .env("PATH", path_with(&bin))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("then it would run:") && out.contains("--request PUT"),
        "{out}"
    );
    assert!(out.contains("--url https://api.example.com/v1/x"), "{out}");
    assert!(!out.contains("eyJ"), "no compact JWT: {out}");
    assert_eq!(iss.request_count(), 0);
    assert!(!sb.path().join("cmdline").exists(), "curl was not run");
}
