//! The token agent (`signet exec --serve`, `signet serve`): the real SDKs (azure-identity and
//! google-auth, from the pinned venv `make test-deps` installs) as the child of `exec --serve`
//! against the embedded issuer in its entra-id and google-service-account modes; the protocol's
//! guards with raw HTTP over TCP; `serve` on a port and a unix socket; refresh-ahead.

use crate::common::*;
use signet::issuer::Issuer;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

const KEY: &str = "rsa2048.pkcs8.pem";
const CERT: &str = "rsa2048.crt.pem";
const CLOUD: &str = "https://www.googleapis.com/auth/cloud-platform";

/// The venv `make test-deps` makes; a test that needs it fails (never skips) without it.
fn sdk_python() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/sdk-venv");
    assert!(
        dir.join(".installed").exists(),
        "the SDK venv {} is missing: run `make test-deps` (make test does)",
        dir.display()
    );
    dir.join("bin/python")
}

fn script(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sdk")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// `signet` for the SDKs: no Azure or Google settings of the machine's leak into the child.
fn sdk_signet(sb: &Sandbox) -> assert_cmd::Command {
    let mut c = sb.signet();
    for v in [
        "AZURE_CLIENT_ID",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_FEDERATED_TOKEN_FILE",
        "AZURE_AUTHORITY_HOST",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "GOOGLE_CLOUD_PROJECT",
        "CLOUDSDK_CONFIG",
        "NO_GCE_CHECK",
        "GCE_METADATA_MTLS_MODE",
    ] {
        c.env_remove(v);
    }
    c
}

fn entra_args(iss: &Issuer) -> Vec<String> {
    [
        "--template",
        "entra-id",
        "--var",
        "tenant=contoso",
        "--token-url",
        iss.token_url(),
        "--key",
        &fixture_str(KEY),
        "--cert",
        &fixture_str(CERT),
        "--client-id",
        "app-1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn azure_identity_managed_and_default_credential_get_the_issuers_token() {
    let python = sdk_python();
    let sb = Sandbox::new();
    let iss = provider("entra-id", &[("tenant", "contoso")], "app-1", KEY, Some(CERT), |_| {});
    let scope = "https://management.azure.com/.default";
    let mut tokens = vec![];
    for which in ["managed", "default"] {
        let o = sdk_signet(&sb)
            .args(["exec", "--serve"])
            .args(entra_args(&iss))
            .args(["--", python.to_str().unwrap(), &script("azure_token.py"), which, scope])
            .output()
            .unwrap();
        assert!(o.status.success(), "{which}: {}{}", stdout(&o), stderr(&o));
        let out = stdout(&o);
        let mut lines = out.lines();
        let token = lines.next().unwrap().to_string();
        let expires_on: i64 = lines.next().unwrap().parse().unwrap();
        let d = decode(&token);
        assert_eq!(d.claims["iss"], iss.base_url(), "the issuer's token");
        assert_eq!(d.claims["scope"], scope);
        assert_eq!(d.claims["exp"].as_i64().unwrap(), expires_on);
        tokens.push(token);
    }
    // One exchange: the second SDK got the cached token, and `signet token` shares that cache.
    assert_eq!(tokens[0], tokens[1]);
    assert_eq!(iss.request_count(), 1);
    let o = sb
        .signet()
        .arg("token")
        .args(entra_args(&iss))
        .args(["--scope", scope])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), tokens[0]);
    assert_eq!(iss.request_count(), 1);
}

#[test]
fn google_auth_compute_engine_and_default_get_the_issuers_token() {
    let python = sdk_python();
    let sb = Sandbox::new();
    let sa: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("service-account.json")).unwrap()).unwrap();
    let email = sa["client_email"].as_str().unwrap().to_string();
    let token_uri = sa["token_uri"].as_str().unwrap().to_string();
    // Google checks aud = the key file's token_uri; signet sends it there through --token-url.
    let iss = provider(
        "google-service-account",
        &[],
        &email,
        "service-account.json",
        None,
        |c| c.audience = Some(token_uri.clone()),
    );
    let base: Vec<String> = [
        "--template",
        "google-service-account",
        "--key",
        &fixture_str("service-account.json"),
        "--token-url",
        iss.token_url(),
        "--scope",
        CLOUD,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut tokens = vec![];
    for (which, scopes) in [("compute", vec![]), ("default", vec![CLOUD])] {
        let o = sdk_signet(&sb)
            .args(["exec", "--serve"])
            .args(&base)
            .args(["--", python.to_str().unwrap(), &script("gce_token.py"), which])
            .args(scopes)
            .output()
            .unwrap();
        assert!(o.status.success(), "{which}: {}{}", stdout(&o), stderr(&o));
        let out = stdout(&o);
        let lines: Vec<&str> = out.lines().collect();
        let d = decode(lines[0]);
        assert_eq!(d.claims["iss"], iss.base_url(), "the issuer's token");
        assert_eq!(d.claims["sub"], email.as_str());
        assert_eq!(lines[1], email, "the account's email");
        if which == "default" {
            assert_eq!(lines[2], sa["project_id"].as_str().unwrap(), "the key file's project");
        }
        tokens.push(lines[0].to_string());
    }
    assert_eq!(tokens[0], tokens[1]);
    assert_eq!(iss.request_count(), 1);
}

// ---- signet serve as a process, and raw HTTP ----

/// A running `signet serve`; killed when dropped.
struct Served {
    child: Reaped,
    env: HashMap<String, String>,
}

impl Served {
    /// Starts `signet [-v] serve ARGS` and reads the environment it prints.
    fn start(c: &assert_cmd::Command) -> Served {
        let mut child = spawn(c, Stdio::piped());
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut env = HashMap::new();
        loop {
            let mut line = String::new();
            if out.read_line(&mut line).unwrap() == 0 {
                let mut err = String::new();
                child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
                panic!("signet serve ended: {err}");
            }
            if line.starts_with("echo ") {
                break;
            }
            let (k, rest) = line.split_once('=').unwrap();
            let v = rest.split("; export").next().unwrap();
            env.insert(k.to_string(), v.trim_matches('\'').to_string());
        }
        Served {
            child: Reaped(child),
            env,
        }
    }

    fn addr(&self) -> String {
        let ep = &self.env["IDENTITY_ENDPOINT"];
        ep.strip_prefix("http://")
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .to_string()
    }

    fn secret(&self) -> &str {
        &self.env["IDENTITY_HEADER"]
    }

    /// SIGTERM, then its exit code and stderr.
    fn terminate(mut self) -> (Option<i32>, String) {
        // SAFETY: kill with our child's pid.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(start.elapsed() < Duration::from_secs(10), "no clean stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut err = String::new();
        self.child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        (status.code(), err)
    }
}

/// `signet serve --listen 127.0.0.1:0 --key … --client-id app --token-url …` plus `extra`.
fn serve_cmd(sb: &Sandbox, token_url: &str, extra: &[&str]) -> assert_cmd::Command {
    let mut c = sb.signet();
    c.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--key",
        &fixture_str(KEY),
        "--cert",
        &fixture_str(CERT),
    ])
    .args(["--client-id", "app", "--token-url", token_url])
    .args(extra);
    c
}

/// An HTTP answer: status, headers (lower-case names), body.
struct Answer {
    status: u16,
    headers: HashMap<String, String>,
    body: String,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

fn parse_answer(raw: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no head: {text:?}"));
    let mut lines = head.lines();
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_string(),
    }
}

/// Sends `head` (request line and headers, without the blank line) and `Connection: close`, then
/// reads the whole answer.
fn raw(addr: &str, head: &str) -> Answer {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(s, "{head}\r\nConnection: close\r\n\r\n").unwrap();
    let mut buf = vec![];
    s.read_to_end(&mut buf).unwrap();
    parse_answer(&buf)
}

fn azure_get(addr: &str, resource: &str, extra: &str) -> Answer {
    let head =
        format!("GET /msi/token?api-version=2019-08-01&resource={resource} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}");
    raw(addr, head.trim_end())
}

#[test]
fn guards_secret_host_origin_flavor_path_body() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("app", KEY, Some(CERT));
    let agent = Served::start(&serve_cmd(&sb, iss.token_url(), &["--serve-protocol", "azure,gce"]));
    let addr = agent.addr();
    let secret = agent.secret().to_string();
    let ok_secret = format!("X-IDENTITY-HEADER: {secret}");
    // the token, with the secret
    let a = azure_get(&addr, "api://res", &ok_secret);
    assert_eq!(a.status, 200, "{}", a.body);
    let j = a.json();
    let token = j["access_token"].as_str().unwrap().to_string();
    assert_eq!(decode(&token).claims["scope"], "api://res/.default");
    assert!(j["expires_on"].as_str().unwrap().parse::<i64>().unwrap() > signet::clock::now());
    assert_eq!(j["resource"], "api://res");
    assert_eq!(j["client_id"], "app");
    assert_eq!(a.headers.get("cache-control").map(String::as_str), Some("no-store"));
    let mut errors = vec![];
    // 401: no secret, a wrong one, one of another length
    for extra in [
        "",
        "X-IDENTITY-HEADER: wrong",
        &format!("X-IDENTITY-HEADER: {}x", &secret[..secret.len() - 1]),
    ] {
        let a = azure_get(&addr, "api://res", extra);
        assert_eq!(a.status, 401, "{extra}: {}", a.body);
        assert!(a.json()["access_token"].is_null());
        errors.push(a.body);
    }
    // 403: a Host that is not loopback (DNS rebinding), an Origin (a browser)
    let q = "GET /msi/token?api-version=2019-08-01&resource=api://res HTTP/1.1";
    for (head, want) in [
        (format!("{q}\r\nHost: evil.example:80\r\n{ok_secret}"), 403),
        (format!("{q}\r\nHost: 127.0.0.1\r\nOrigin: https://evil.example\r\n{ok_secret}"), 403),
        // no Metadata-Flavor on the metadata protocol
        ("GET /computeMetadata/v1/instance/service-accounts/default/token HTTP/1.1\r\nHost: 127.0.0.1".into(), 403),
        ("GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1".into(), 404),
        (format!("{q}\r\nHost: 127.0.0.1\r\n{ok_secret}\r\nContent-Length: 5\r\n\r\nhello"), 400),
        (format!("POST /msi/token HTTP/1.1\r\nHost: 127.0.0.1\r\n{ok_secret}\r\nContent-Length: 0"), 405),
        (format!("GET /msi/token?api-version=2017-09-01&resource=x HTTP/1.1\r\nHost: 127.0.0.1\r\n{ok_secret}"), 400),
        (format!("GET /msi/token?api-version=2019-08-01 HTTP/1.1\r\nHost: 127.0.0.1\r\n{ok_secret}"), 400),
        (
            format!("GET /msi/token?api-version=2019-08-01&resource=api://res&client_id=other HTTP/1.1\r\nHost: 127.0.0.1\r\n{ok_secret}"),
            400,
        ),
        ("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1".into(), 401),
    ] {
        let head = match head.split_once("\r\n\r\n") {
            // a request with a body: sent as is
            Some(_) => {
                let mut s = TcpStream::connect(&addr).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                let (h, b) = head.split_once("\r\n\r\n").unwrap();
                write!(s, "{h}\r\nConnection: close\r\n\r\n{b}").unwrap();
                let mut buf = vec![];
                s.read_to_end(&mut buf).unwrap();
                let a = parse_answer(&buf);
                assert_eq!(a.status, want, "{head}: {}", a.body);
                errors.push(a.body);
                continue;
            }
            None => head,
        };
        let a = raw(&addr, &head);
        assert_eq!(a.status, want, "{head}: {}", a.body);
        assert!(a.json()["error"].is_string(), "{}", a.body);
        errors.push(a.body);
    }
    for e in &errors {
        assert!(!e.contains(&secret) && !e.contains(&token), "a secret in an error: {e}");
    }
    // the metadata protocol with its header; `/` says what it is
    let a = raw(&addr, "GET / HTTP/1.1\r\nHost: 127.0.0.1");
    assert_eq!(a.status, 200);
    assert_eq!(a.headers.get("metadata-flavor").map(String::as_str), Some("Google"));
    let a = raw(
        &addr,
        "GET /computeMetadata/v1/instance/service-accounts/default/token?scopes=api://res/.default HTTP/1.1\r\nHost: 127.0.0.1\r\nMetadata-Flavor: Google",
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        a.json()["access_token"].as_str(),
        Some(token.as_str()),
        "one identity, one token"
    );
    assert!(a.json()["expires_in"].as_i64().unwrap() > 200);
    // health, and metrics behind the secret
    let a = raw(&addr, "GET /healthz HTTP/1.1\r\nHost: localhost");
    assert_eq!((a.status, a.body.as_str()), (200, "ok"));
    let a = raw(&addr, &format!("GET /metrics HTTP/1.1\r\nHost: [::1]\r\n{ok_secret}"));
    assert_eq!(a.status, 200);
    assert!(
        a.body
            .contains("signet_agent_tokens_served_total{identity=\"api://res/.default\"} 2"),
        "{}",
        a.body
    );
    assert!(
        a.body
            .contains("signet_agent_fetches_total{identity=\"api://res/.default\"} 1"),
        "{}",
        a.body
    );
    assert!(
        a.body
            .contains("signet_agent_token_expiry_seconds{identity=\"api://res/.default\"}"),
        "{}",
        a.body
    );
    assert_eq!(iss.request_count(), 1);
    let (code, _) = agent.terminate();
    assert_eq!(code, Some(0));
}

#[test]
fn slow_clients_many_connections_and_hang_ups_do_not_stop_the_others() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("app", KEY, Some(CERT));
    let agent = Served::start(&serve_cmd(&sb, iss.token_url(), &[]));
    let addr = agent.addr();
    let auth = format!("X-IDENTITY-HEADER: {}", agent.secret());
    // a client that never finishes its headers
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.write_all(b"GET /msi/token HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .unwrap();
    let slow_started = Instant::now();
    // others are served meanwhile
    assert_eq!(azure_get(&addr, "api://a", &auth).status, 200);
    // clients that hang up before (or while) the answer is written
    for _ in 0..20 {
        let mut s = TcpStream::connect(&addr).unwrap();
        write!(
            s,
            "GET /msi/token?api-version=2019-08-01&resource=api://a HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n\r\n"
        )
        .unwrap();
        drop(s);
    }
    // 1,000 connections at once, each asking once
    let conns: Vec<TcpStream> = (0..1000).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    let handles: Vec<_> = conns
        .into_iter()
        .map(|mut s| {
            let auth = auth.clone();
            std::thread::spawn(move || {
                s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                write!(s, "GET /msi/token?api-version=2019-08-01&resource=api://a HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\nConnection: close\r\n\r\n").unwrap();
                let mut buf = vec![];
                s.read_to_end(&mut buf).unwrap();
                parse_answer(&buf).status
            })
        })
        .collect();
    let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(
        statuses.iter().all(|s| *s == 200),
        "{:?}",
        statuses.iter().filter(|s| **s != 200).collect::<Vec<_>>()
    );
    // the slow one is cut off after the header timeout (5 s), not kept forever
    slow.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut buf = vec![];
    let _ = slow.read_to_end(&mut buf);
    let waited = slow_started.elapsed();
    assert!(waited < Duration::from_secs(14), "the slow client was kept {waited:?}");
    assert_eq!(azure_get(&addr, "api://a", &auth).status, 200);
    assert_eq!(iss.request_count(), 1, "one exchange for every caller");
}

#[test]
fn provider_down_at_start_up_is_a_json_error_and_nothing_is_cached() {
    let sb = Sandbox::new();
    let down = refused_port();
    let url = format!("http://127.0.0.1:{}/token", down.port);
    let mut c = serve_cmd(&sb, &url, &["--retries", "0", "--timeout", "3"]);
    c.arg("-v");
    let agent = Served::start(&c);
    let addr = agent.addr();
    let secret = agent.secret().to_string();
    let a = azure_get(&addr, "api://a", &format!("X-IDENTITY-HEADER: {secret}"));
    assert_eq!(a.status, 502, "{}", a.body);
    let j = a.json();
    assert_eq!(j["error"], "token_request_failed");
    assert!(j["error_description"].as_str().unwrap().contains("127.0.0.1"), "{j}");
    // still serving
    assert_eq!(raw(&addr, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1").status, 200);
    let entries: Vec<_> = std::fs::read_dir(sb.cache_dir())
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect()
        })
        .unwrap_or_default();
    assert!(entries.is_empty(), "{entries:?}");
    let (code, log) = agent.terminate();
    assert_eq!(code, Some(0));
    assert!(log.contains("GET /msi/token 502"), "{log}");
    assert_no_secrets(&log, &[&secret]);
}

#[test]
fn access_log_names_requests_never_tokens_and_the_cache_holds_only_tokens() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("app", KEY, Some(CERT));
    let mut c = serve_cmd(&sb, iss.token_url(), &[]);
    c.arg("-vv");
    let agent = Served::start(&c);
    let addr = agent.addr();
    let secret = agent.secret().to_string();
    let a = azure_get(&addr, "api://a", &format!("X-IDENTITY-HEADER: {secret}"));
    let token = a.json()["access_token"].as_str().unwrap().to_string();
    assert_eq!(azure_get(&addr, "api://a", "X-IDENTITY-HEADER: nope").status, 401);
    let (_, log) = agent.terminate();
    assert!(log.contains("GET /msi/token 200 identity=api://a/.default"), "{log}");
    assert!(log.contains("GET /msi/token 401"), "{log}");
    assert_no_secrets(&log, &[&secret, &token]);
    // the one entry holds the token signet token would serve
    let entry: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(sb.entry_file()).unwrap()).unwrap();
    assert!(entry.to_string().contains(&token));
    let o = sb
        .token_cmd(KEY, "app", iss.token_url())
        .args(["--cert", &fixture_str(CERT), "--scope", "api://a/.default"])
        .output()
        .unwrap();
    assert_eq!(stdout(&o).trim(), token, "{}", stderr(&o));
}

#[test]
fn serve_prints_the_client_environment_and_stops_on_sigterm() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("app", KEY, Some(CERT));
    let secret_file = sb.path().join("agent.secret");
    let agent = Served::start(&serve_cmd(
        &sb,
        iss.token_url(),
        &[
            "--serve-protocol",
            "azure,gce",
            "--secret-file",
            secret_file.to_str().unwrap(),
        ],
    ));
    // the secret is written 0600 and not printed: the assignment reads the file
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&secret_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let secret = std::fs::read_to_string(&secret_file).unwrap().trim().to_string();
    assert!(agent.env["IDENTITY_HEADER"].contains("$(cat"), "{:?}", agent.env);
    assert!(agent.env["IDENTITY_ENDPOINT"].starts_with("http://127.0.0.1:"));
    assert!(agent.env["IDENTITY_ENDPOINT"].ends_with("/msi/token"));
    assert_eq!(agent.env["GCE_METADATA_HOST"], agent.addr());
    assert_eq!(agent.env["GCE_METADATA_IP"], agent.addr());
    let a = azure_get(&agent.addr(), "api://a", &format!("X-IDENTITY-HEADER: {secret}"));
    assert_eq!(a.status, 200, "{}", a.body);
    let addr = agent.addr();
    let (code, _) = agent.terminate();
    assert_eq!(code, Some(0));
    assert!(TcpStream::connect(&addr).is_err(), "still listening after SIGTERM");
    // a second agent with the same file uses the same secret, and says so when others can read it
    std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let again = Served::start(&serve_cmd(
        &sb,
        iss.token_url(),
        &["--secret-file", secret_file.to_str().unwrap()],
    ));
    assert_eq!(
        azure_get(&again.addr(), "api://a", &format!("X-IDENTITY-HEADER: {secret}")).status,
        200
    );
    let (_, err) = again.terminate();
    assert!(err.contains("secret file") && err.contains("(mode 644)"), "{err}");
    assert!(!err.contains(&secret), "{err}");
}

#[test]
fn serve_refuses_addresses_that_are_not_loopback() {
    let sb = Sandbox::new();
    for bad in ["0.0.0.0:0", "192.0.2.1:80", "[::]:0", "example.com:80"] {
        let o = sb
            .signet()
            .args(["serve", "--listen", bad, "--key", &fixture_str(KEY), "--client-id", "a"])
            .args(["--token-url", "http://127.0.0.1:9/token"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", stderr(&o));
        assert!(stderr(&o).starts_with("error: --listen"), "{}", stderr(&o));
    }
}

#[test]
fn serve_on_a_unix_socket_0600_and_removed_on_stop() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::net::UnixStream;
    let sb = Sandbox::new();
    let iss = issuer_trusting("app", KEY, Some(CERT));
    let dir = sb.path().join("run");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let sock = dir.join("agent.sock");
    let mut c = sb.signet();
    c.args([
        "serve",
        "--listen",
        &format!("unix:{}", sock.display()),
        "--key",
        &fixture_str(KEY),
    ])
    .args(["--client-id", "app", "--token-url", iss.token_url()]);
    let agent = Served::start(&c);
    assert_eq!(agent.env["SIGNET_AGENT_SOCKET"], sock.to_string_lossy());
    assert_eq!(std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777, 0o600);
    let mut s = UnixStream::connect(&sock).unwrap();
    write!(
        s,
        "GET /msi/token?api-version=2019-08-01&resource=api://u HTTP/1.1\r\nHost: localhost\r\nX-IDENTITY-HEADER: {}\r\nConnection: close\r\n\r\n",
        agent.secret()
    )
    .unwrap();
    let mut buf = vec![];
    s.read_to_end(&mut buf).unwrap();
    let a = parse_answer(&buf);
    assert_eq!(a.status, 200, "{}", a.body);
    let (code, _) = agent.terminate();
    assert_eq!(code, Some(0));
    assert!(!sock.exists(), "the socket is removed on a clean stop");
    // a folder others can write to is refused
    let open = sb.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let o = sb
        .signet()
        .args([
            "serve",
            "--listen",
            &format!("unix:{}/a.sock", open.display()),
            "--key",
            &fixture_str(KEY),
        ])
        .args(["--client-id", "app", "--token-url", iss.token_url()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("writable by group or others"), "{}", stderr(&o));
}

#[test]
fn exec_serve_passes_the_exit_code_and_no_secret_but_its_own() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("app", "rsa2048.enc.pem", Some(CERT));
    let envfile = sb.path().join("child.env");
    let o = sb
        .signet()
        .args([
            "exec",
            "--serve",
            "--key",
            &fixture_str("rsa2048.enc.pem"),
            "--cert",
            &fixture_str(CERT),
        ])
        .args(["--client-id", "app", "--token-url", iss.token_url()])
        .env("SIGNET_KEY_PASSPHRASE", PASSPHRASE)
        .env("MSI_ENDPOINT", "http://169.254.169.254/old")
        .args(["--", "sh", "-c", &format!("env > '{}'; exit 3", envfile.display())])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let env = std::fs::read_to_string(&envfile).unwrap();
    assert!(!env.contains(PASSPHRASE), "the passphrase reached the child");
    assert!(
        !env.contains("SIGNET_TOKEN="),
        "no token in the environment with --serve"
    );
    assert!(
        !env.contains("MSI_ENDPOINT="),
        "another managed identity's variable was kept"
    );
    let endpoint = env.lines().find_map(|l| l.strip_prefix("IDENTITY_ENDPOINT=")).unwrap();
    assert!(env.lines().any(|l| l.starts_with("IDENTITY_HEADER=") && l.len() > 40));
    assert!(
        !env.contains("GCE_METADATA_HOST="),
        "gce is not the default for these settings"
    );
    // the agent ended with the child
    let addr = endpoint.strip_prefix("http://").unwrap().split('/').next().unwrap();
    assert!(TcpStream::connect(addr).is_err(), "the agent outlived its child");
    // a command that is not there: 127, as exec
    let o = sb
        .signet()
        .args(["exec", "--serve", "--key", &fixture_str(KEY), "--client-id", "app"])
        .args(["--token-url", iss.token_url(), "--", "/nonexistent/cmd"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(127), "{}", stderr(&o));
}

#[test]
fn refresh_ahead_fetches_before_expiry_with_no_caller_waiting_and_idle_tokens_stop() {
    let sb = Sandbox::new();
    // tokens of 6 s; --min-ttl 1: due at two thirds (4 s)
    let iss = issuer_with("app", KEY, Some(CERT), |c| c.expires_in = Some(6));
    let agent = Served::start(&serve_cmd(&sb, iss.token_url(), &["--min-ttl", "1"]));
    let addr = agent.addr();
    let auth = format!("X-IDENTITY-HEADER: {}", agent.secret());
    let first = azure_get(&addr, "api://r", &auth).json();
    let first_exp: i64 = first["expires_on"].as_str().unwrap().parse().unwrap();
    assert_eq!(iss.request_count(), 1);
    // nobody asks; the agent fetches again before the first token expires
    assert!(
        wait_for(Duration::from_secs(8), || iss.request_count() >= 2),
        "no refresh ahead of expiry"
    );
    assert!(signet::clock::now() <= first_exp, "the refresh came after the expiry");
    // (the issuer counts a request before the agent has its answer)
    let refreshed = || azure_get(&addr, "api://r", &auth).json()["access_token"] != first["access_token"];
    assert!(
        wait_for(Duration::from_secs(2), refreshed),
        "the refreshed token is not served"
    );
    assert_eq!(iss.request_count(), 2, "served from memory, no wait");
    // asked once during its life: refreshed once more; then nobody asks and refreshing stops
    assert!(wait_for(Duration::from_secs(8), || iss.request_count() >= 3));
    std::thread::sleep(Duration::from_secs(7));
    assert_eq!(iss.request_count(), 3, "an idle identity is still refreshed");
}

#[test]
fn a_failed_refresh_keeps_serving_the_valid_token_backs_off_and_warns() {
    let sb = Sandbox::new();
    // tokens of 12 s; --min-ttl 1: the refresh is due at 8 s, its retry 2 s later
    let iss = issuer_with("app", KEY, Some(CERT), |c| c.expires_in = Some(12));
    let agent = Served::start(&serve_cmd(&sb, iss.token_url(), &["--min-ttl", "1", "--retries", "0"]));
    let addr = agent.addr();
    let secret = agent.secret().to_string();
    let auth = format!("X-IDENTITY-HEADER: {secret}");
    let first = azure_get(&addr, "api://f", &auth).json();
    let token = first["access_token"].as_str().unwrap().to_string();
    let exp: i64 = first["expires_on"].as_str().unwrap().parse().unwrap();
    let down = || signet::issuer::Fault::json(503, serde_json::json!({"error": "temporarily_unavailable"}));
    iss.push_faults([down(), down()]);
    assert!(
        wait_for(Duration::from_secs(11), || iss.request_count() >= 2),
        "no refresh"
    );
    let failed_at = Instant::now();
    // the refresh failed: the valid token is still served, at once
    let a = azure_get(&addr, "api://f", &auth);
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["access_token"].as_str(), Some(token.as_str()));
    // retried after a backoff, not in a loop
    assert!(
        wait_for(Duration::from_secs(6), || iss.request_count() >= 3),
        "no retry"
    );
    assert!(
        failed_at.elapsed() >= Duration::from_millis(1500),
        "retried after {:?}",
        failed_at.elapsed()
    );
    let metrics = || raw(&addr, &format!("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}")).body;
    let two_failures = "signet_agent_fetch_failures_total{identity=\"api://f/.default\"} 2";
    assert!(
        wait_for(Duration::from_secs(3), || metrics().contains(two_failures)),
        "{}",
        metrics()
    );
    // once it has expired, the next caller gets a new one (the issuer is back)
    while signet::clock::now() <= exp {
        std::thread::sleep(Duration::from_millis(100));
    }
    let a = azure_get(&addr, "api://f", &auth);
    assert_eq!(a.status, 200, "{}", a.body);
    assert_ne!(a.json()["access_token"].as_str(), Some(token.as_str()));
    let (_, log) = agent.terminate();
    assert!(log.contains("warning: refreshing the cached token failed"), "{log}");
    assert_no_secrets(&log, &[&secret, &token]);
}

#[test]
fn the_agent_refuses_dpop_settings_its_sdks_could_not_use() {
    // An SDK sends `Authorization: Bearer`: a DPoP-bound token would be refused by every API.
    let sb = Sandbox::new();
    let iss = issuer_trusting("app", KEY, None);
    for extra in [vec!["--dpop"], vec!["--dpop-key", &fixture_str("p256.pkcs8.pem")]] {
        let o = sb
            .signet()
            .args(["exec", "--serve", "--key", &fixture_str(KEY), "--client-id", "app"])
            .args(["--token-url", iss.token_url()])
            .args(&extra)
            .args(["--", "true"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("cannot send DPoP proofs"), "{}", stderr(&o));
    }
    assert_eq!(iss.request_count(), 0);
}
