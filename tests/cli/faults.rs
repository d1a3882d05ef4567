//! Fault injection against the embedded issuer: each with a defined exit code, one line, and the
//! cache left as it was.

use crate::common::*;
use serde_json::Value;
use signet::issuer::{Fault, Issuer};
use std::time::Duration;

const KEY: &str = "p256.pkcs8.pem";

fn token(sb: &Sandbox, iss: &Issuer, extra: &[&str]) -> std::process::Output {
    sb.token_cmd(KEY, "f", iss.token_url())
        .args(["--timeout", "3"])
        .args(extra)
        .output()
        .unwrap()
}

/// Runs a fault after a good token is cached with --force-refresh, and checks the cache entry is untouched.
fn fault_keeps_cache(fault: Fault, code: i32, needle: &str) -> String {
    let sb = Sandbox::new();
    let iss = issuer_trusting("f", KEY, None);
    assert!(token(&sb, &iss, &[]).status.success());
    let entry = sb.entry_file();
    let before = std::fs::read(&entry).unwrap();
    iss.push_faults((0..10).map(|_| fault.clone()));
    let o = token(&sb, &iss, &["--force-refresh"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(code), "{needle}: {err}");
    assert!(o.stdout.is_empty());
    assert!(
        err.lines().next().unwrap().starts_with("error: ") && err.contains(needle),
        "{needle}: {err}"
    );
    assert!(err.lines().count() <= 2, "{err}");
    assert_eq!(std::fs::read(&entry).unwrap(), before, "cache untouched");
    err
}

/// A raw TCP server on 127.0.0.1 that reads each request, writes `answer`, and closes.
fn raw_server(answer: &'static [u8]) -> String {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/token", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten().take(50) {
            let mut buf = [0u8; 65536];
            let _ = c.set_read_timeout(Some(Duration::from_millis(200)));
            let _ = c.read(&mut buf);
            let _ = c.write_all(answer);
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    });
    url
}

#[test]
fn connection_closed_mid_body() {
    let url = raw_server(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n{\"access_token\":\"abc",
    );
    let sb = Sandbox::new();
    let o = sb.token_cmd(KEY, "f", &url).args(["--timeout", "2"]).output().unwrap();
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("closed before the answer was complete"),
        "{}",
        stderr(&o)
    );
    assert!(
        !sb.cache_dir().exists()
            || std::fs::read_dir(sb.cache_dir())
                .unwrap()
                .flatten()
                .all(|e| e.path().extension().is_none_or(|x| x != "json"))
    );
}

#[test]
fn a_body_trickling_past_the_timeout() {
    fault_keeps_cache(Fault::Trickle(Duration::from_millis(200)), 5, "timed out after 3 s");
}

#[test]
fn a_ten_megabyte_body() {
    fault_keeps_cache(Fault::Body(vec![b' '; 10 * 1024 * 1024]), 5, "larger than 1024 KiB");
}

#[test]
fn invalid_utf8() {
    fault_keeps_cache(Fault::Body(vec![0xc3, 0x28, 0xff]), 5, "not JSON");
}

#[test]
fn deeply_nested_json() {
    let deep = "[".repeat(100_000) + &"]".repeat(100_000);
    fault_keeps_cache(Fault::Body(deep.into_bytes()), 5, "not JSON");
    let deep_obj = "{\"a\":".repeat(50_000) + "1" + &"}".repeat(50_000);
    fault_keeps_cache(Fault::Body(deep_obj.into_bytes()), 5, "not JSON");
}

#[test]
fn odd_expires_in_values() {
    fault_keeps_cache(
        Fault::Body(br#"{"access_token":"t","expires_in":-1}"#.to_vec()),
        5,
        "expires_in",
    );
    fault_keeps_cache(
        Fault::Body(br#"{"access_token":"t","expires_in":"soon"}"#.to_vec()),
        5,
        "expires_in",
    );
    fault_keeps_cache(
        Fault::Body(br#"{"access_token":"t","expires_in":[1]}"#.to_vec()),
        5,
        "expires_in",
    );
    let sb = Sandbox::new();
    let iss = issuer_trusting("f", KEY, None);
    for (body, lo, hi) in [
        (r#"{"access_token":"t","expires_in":"3600"}"#, 3595, 3600),
        (
            r#"{"access_token":"t","expires_in":1e30}"#,
            366 * 86400 - 5,
            366 * 86400,
        ),
        (r#"{"access_token":"t","expires_in":0}"#, 0, 0),
    ] {
        iss.push_faults([Fault::Body(body.as_bytes().to_vec())]);
        let o = token(&sb, &iss, &["--no-cache", "--format", "json"]);
        assert!(o.status.success(), "{body}: {}", stderr(&o));
        let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
        let e = v["expires_in"].as_u64().unwrap();
        assert!((lo..=hi).contains(&e), "{body}: {e}");
    }
}

#[test]
fn a_200_with_an_oauth_error() {
    // A refusal exits 4, except when --force-refresh found a still-valid token it keeps: the
    // contract makes every failure of a forced refresh exit 5.
    let refusal = || {
        Fault::json(
            200,
            serde_json::json!({"error": "invalid_grant", "error_description": "x"}),
        )
    };
    fault_keeps_cache(refusal(), 5, "invalid_grant");
    fault_keeps_cache(
        Fault::json(
            400,
            serde_json::json!({"error": "invalid_client", "error_description": "gone"}),
        ),
        5,
        "--force-refresh: token request refused",
    );
    let sb = Sandbox::new();
    let iss = issuer_trusting("f", KEY, None);
    iss.push_faults([refusal()]);
    let o = token(&sb, &iss, &["--force-refresh"]);
    assert_eq!(o.status.code(), Some(4), "nothing cached: {}", stderr(&o));
    assert!(stderr(&o).contains("invalid_grant"), "{}", stderr(&o));
}

#[test]
fn a_redirect_is_not_followed() {
    fault_keeps_cache(
        Fault::Redirect("https://evil.example/token".into()),
        5,
        "does not follow redirects",
    );
}

#[test]
fn unusable_cache_folder_still_prints_the_token() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("f", KEY, None);
    let o = token(&sb, &iss, &[]);
    let good = stdout(&o);
    // the folder cannot be created
    let o = sb
        .token_cmd(KEY, "f", iss.token_url())
        .args(["--scope", "other"])
        .env("SIGNET_CACHE_DIR", "/dev/null/signet-cache")
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(stdout(&o).starts_with("eyJ"));
    assert!(
        stderr(&o).starts_with("warning: ") && stderr(&o).contains("/dev/null/signet-cache"),
        "{}",
        stderr(&o)
    );
    // the entry cannot be written (its path is taken by a folder)
    let entry = sb.entry_file();
    std::fs::remove_file(&entry).unwrap();
    std::fs::create_dir(&entry).unwrap();
    let o = token(&sb, &iss, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("eyJ") && stdout(&o) != good);
    assert!(stderr(&o).contains("warning:"), "{}", stderr(&o));
}

/// An HTTPS endpoint whose certificate is signed by the test CA: refused without --ca-file,
/// trusted with it. `openssl s_server -www` answers any request with an HTML page.
#[test]
fn untrusted_tls_certificate_names_ca_file() {
    use std::io::BufRead;
    // port 0: s_server binds a free port itself and says which (`ACCEPT 127.0.0.1:<port>`) once
    // it listens, so no other test can take the port in between
    let mut server = std::process::Command::new("openssl")
        .args([
            "s_server",
            "-accept",
            "127.0.0.1:0",
            "-cert",
            &fixture_str("server.crt.pem"),
            "-key",
            &fixture_str("server.key.pem"),
            "-www",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(server.stdout.take().unwrap()).lines();
    let port: u16 = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| Some(l.strip_prefix("ACCEPT ")?.rsplit(':').next()?.parse().unwrap()))
        .expect("openssl s_server says where it listens");
    // the rest of what it prints is read and dropped, so that it never blocks on a full pipe
    std::thread::spawn(move || lines.for_each(drop));
    let sb = Sandbox::new();
    let url = format!("https://127.0.0.1:{port}/token");
    let run = |extra: &[&str]| {
        sb.token_cmd(KEY, "f", &url)
            .args(["--no-cache", "--timeout", "2"])
            .args(extra)
            .output()
            .unwrap()
    };
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("TLS") && stderr(&o).contains("--ca-file"),
        "{}",
        stderr(&o)
    );
    let o = run(&["--ca-file", &fixture_str("ca.crt.pem")]);
    let _ = server.kill();
    let _ = server.wait();
    // s_server -www does not answer a POST: the handshake passed, then the request timed out.
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(
        !stderr(&o).contains("TLS") && !stderr(&o).contains("--ca-file"),
        "the handshake succeeded with --ca-file: {}",
        stderr(&o)
    );
    // a missing CA file is a configuration error
    let o = run(&["--ca-file", "/nonexistent/ca.pem"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

/// A cache folder the user cannot write to (read-only for its owner): the token is still printed.
/// Root ignores permissions, so signet runs as `nobody` (setpriv) with its own copy of the key.
#[test]
#[ignore = "needs root: runs signet as another user (setpriv); `make test` runs it when root"]
fn read_only_cache_folder_still_prints_the_token() {
    use std::os::unix::fs::{chown, PermissionsExt};
    let iss = issuer_trusting("f", KEY, None);
    let dir = tempfile::Builder::new()
        .prefix("signet-ro-")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let key = dir.path().join("key.pem");
    std::fs::copy(fixture(KEY), &key).unwrap();
    let cache = dir.path().join("cache");
    std::fs::create_dir(&cache).unwrap();
    for p in [&key, &cache] {
        chown(p, Some(65534), Some(65534)).unwrap();
    }
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o500)).unwrap();
    let sb = Sandbox::new();
    let c = sb.signet();
    let o = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(c.get_program())
        .args([
            "token",
            "--key",
            key.to_str().unwrap(),
            "--client-id",
            "f",
            "--token-url",
            iss.token_url(),
        ])
        .env("SIGNET_CACHE_DIR", &cache)
        .env("HOME", dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("eyJ"));
    assert!(
        stderr(&o).starts_with("warning: ") && stderr(&o).contains("permission denied"),
        "{}",
        stderr(&o)
    );
}

/// A full disk under the cache folder (a 16 KiB tmpfs, filled, in a private mount namespace):
/// the token is still printed, with a warning.
#[test]
#[ignore = "needs root: mounts a tmpfs in a private mount namespace; `make test` runs it when root"]
fn full_disk_under_the_cache_folder_still_prints_the_token() {
    let iss = issuer_trusting("f", KEY, None);
    let sb = Sandbox::new();
    let cache = sb.path().join("full");
    std::fs::create_dir(&cache).unwrap();
    let c = sb.signet();
    let script = format!(
        "mount -t tmpfs -o size=16k,mode=0700 tmpfs {d} && (head -c 1000000 /dev/zero > {d}/filler 2>/dev/null; true) && exec \"$0\" \"$@\"",
        d = cache.display()
    );
    let mut cmd = std::process::Command::new("unshare");
    cmd.args(["-m", "sh", "-c", &script]).arg(c.get_program()).args([
        "token",
        "--key",
        &fixture_str(KEY),
        "--client-id",
        "f",
        "--token-url",
        iss.token_url(),
    ]);
    for (k, v) in c.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let o = cmd.env("SIGNET_CACHE_DIR", &cache).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("eyJ"));
    assert!(
        stderr(&o).contains("warning:") && stderr(&o).contains("no space"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_token_with_control_characters_or_spaces_is_never_printed_or_cached() {
    for bad in [
        "Zq\r\nX-Evil: injected",
        "Zq\nBASH_ENV=/tmp/x",
        "Zq\u{0}nul",
        "Zq\u{1b}[31mesc",
        "Zq tab\tspace",
    ] {
        let err = fault_keeps_cache(
            Fault::json(200, serde_json::json!({ "access_token": bad })),
            5,
            "visible ASCII",
        );
        assert!(
            !err.contains("X-Evil") && !err.contains("BASH_ENV") && !err.contains("Zq"),
            "{err}"
        );
    }
    // plain-text answers too, and with --format header
    let sb = Sandbox::new();
    let iss = issuer_trusting("f", KEY, None);
    iss.push_faults((0..3).map(|_| Fault::Body(b"tok\r\nX-Evil: 1".to_vec())));
    let o = token(&sb, &iss, &["--token-path", "-", "--format", "header"]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    assert!(!stderr(&o).contains("X-Evil"), "{}", stderr(&o));
}

#[test]
fn an_almost_json_2xx_answer_never_shows_the_token() {
    const T: &str = "SeCrEtAcCeSsToKeN0123456789";
    let bodies: Vec<Vec<u8>> = vec![
        [
            b"\xef\xbb\xbf".to_vec(),
            format!(r#"{{"access_token":"{T}"}}"#).into_bytes(),
        ]
        .concat(),
        format!(r#"{{"access_token":"{T}"}} trailing"#).into_bytes(),
        format!(r#"{{"access_token":"{T}","expires_in":NaN}}"#).into_bytes(),
        format!(r#"{{"access_token":"{T}","expires_in":1e309}}"#).into_bytes(),
        format!(r#"{{"access_token":"{T}",}}"#).into_bytes(),
        [
            format!(r#"{{"access_token":"{T}","x":""#).into_bytes(),
            vec![0xff, 0xfe],
            b"\"}".to_vec(),
        ]
        .concat(),
        format!("access_token={T}&token_type=bearer").into_bytes(),
    ];
    for body in bodies {
        let err = fault_keeps_cache(Fault::Body(body), 5, "not JSON");
        assert!(!err.contains("SeCrEt") && !err.contains("0123456789"), "{err}");
        assert!(err.contains("bytes"), "{err}");
    }
}

/// A raw TCP server that answers every connection with `answer` and counts the connections.
fn counting_server(answer: Vec<u8>) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/token", l.local_addr().unwrap());
    let n = std::sync::Arc::new(AtomicUsize::new(0));
    let count = n.clone();
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten().take(50) {
            count.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 65536];
            let _ = c.set_read_timeout(Some(Duration::from_millis(200)));
            let _ = c.read(&mut buf);
            let _ = c.write_all(&answer);
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    });
    (url, n)
}

#[test]
fn a_permanent_protocol_error_is_not_retried() {
    let big = [
        b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec(),
        vec![b'a'; 1 << 20],
        b"\r\n\r\n{}".to_vec(),
    ]
    .concat();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("a 1 MiB header", big),
        (
            "a header line without a colon",
            b"HTTP/1.1 200 OK\r\nNo colon here\r\nContent-Length: 2\r\n\r\n{}".to_vec(),
        ),
        (
            "a status line that is not HTTP",
            b"HTTP/1.1 two hundred OK\r\n\r\n".to_vec(),
        ),
        ("not HTTP at all", b"SSH-2.0-OpenSSH_9.2\r\n".to_vec()),
        (
            "a chunk size that is not hex",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n".to_vec(),
        ),
        (
            "a chunk size past 64 bits",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\n{}\r\n0\r\n\r\n".to_vec(),
        ),
        (
            "a chunk not ended by CRLF",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n".to_vec(),
        ),
    ];
    let sb = Sandbox::new();
    for (what, answer) in cases {
        let (url, connections) = counting_server(answer);
        let started = std::time::Instant::now();
        let o = sb
            .token_cmd(KEY, "f", &url)
            .args(["--timeout", "10", "--retries", "5"])
            .output()
            .unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(5), "{what}: {err}");
        assert!(err.contains("not valid HTTP"), "{what}: {err}");
        assert_eq!(
            connections.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "{what}: retried: {err}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{what}: {:?}",
            started.elapsed()
        );
    }
}
