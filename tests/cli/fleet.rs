//! The shared cache on a real Redis (redis-server on 127.0.0.1, started by the tests): hosts are
//! separate processes with separate local cache folders.

use crate::common::*;
use serde_json::Value;
use signet::issuer::Fault;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const CACHE_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const KEY: &str = "p256.pkcs8.pem";

struct Redis {
    // Held for its Drop: the server lives as long as this value.
    _child: Reaped,
    port: u16,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A redis-server on a free port. free_port() releases the port before redis binds it, so another
/// test's server may take it in between: redis then logs that the bind failed and exits, and it is
/// started again on another port. Ready once its own log says it accepts connections (a PING could
/// be answered by another test's redis on that port).
fn redis(extra: &[&str], tls: bool) -> Redis {
    assert!(
        Command::new("redis-server").arg("--version").output().is_ok(),
        "redis-server is not installed: run `make test`"
    );
    let mut failures = Vec::new();
    for _ in 0..10 {
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("redis.log");
        let mut args: Vec<String> = vec![
            "--bind".into(),
            "127.0.0.1".into(),
            "--save".into(),
            "".into(),
            "--appendonly".into(),
            "no".into(),
            "--dir".into(),
            dir.path().to_str().unwrap().into(),
            "--logfile".into(),
            log.to_str().unwrap().into(),
        ];
        if tls {
            args.extend(
                [
                    "--port",
                    "0",
                    "--tls-port",
                    &port.to_string(),
                    "--tls-cert-file",
                    &fixture_str("server.crt.pem"),
                    "--tls-key-file",
                    &fixture_str("server.key.pem"),
                    "--tls-ca-cert-file",
                    &fixture_str("ca.crt.pem"),
                    "--tls-auth-clients",
                    "no",
                ]
                .map(String::from),
            );
        } else {
            args.extend(["--port".to_string(), port.to_string()]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut child = Command::new("redis-server")
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let logged = || std::fs::read_to_string(&log).unwrap_or_default();
        let mut exited = false;
        let ready = wait_for(Duration::from_secs(20), || {
            exited = child.try_wait().unwrap().is_some();
            exited || logged().contains("Ready to accept connections")
        });
        if ready && !exited {
            return Redis {
                _child: Reaped(child),
                port,
                _dir: dir,
            };
        }
        let _ = child.kill();
        let _ = child.wait();
        failures.push(format!("port {port}: {}", logged()));
    }
    panic!("redis-server did not start:\n{}", failures.join("\n"));
}

/// One "host": its own local cache folder, the shared Redis.
fn host(sb: &Sandbox, name: &str, url: &str, token_url: &str, extra: &[&str]) -> assert_cmd::Command {
    let mut c = sb.token_cmd(KEY, "fleet", token_url);
    c.env("SIGNET_CACHE_DIR", sb.path().join(format!("host-{name}")))
        .env("SIGNET_CACHE_URL", url)
        .env("SIGNET_CACHE_KEY", CACHE_KEY)
        .args(extra);
    c
}

#[test]
fn three_hosts_times_sixteen_cold_processes_send_one_request() {
    let r = redis(&[], false);
    let url = format!("redis://127.0.0.1:{}/0", r.port);
    let sb = Sandbox::new();
    let iss = issuer_trusting("fleet", KEY, None);
    iss.push_faults([Fault::Delay(Duration::from_millis(700))]);
    let children: Vec<Child> = (0..48)
        .map(|i| {
            spawn(
                &host(&sb, &format!("{}", i % 3), &url, iss.token_url(), &[]),
                Stdio::piped(),
            )
        })
        .collect();
    let outs: Vec<_> = children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
    for o in &outs {
        assert!(o.status.success(), "{}", stderr(o));
    }
    let first = stdout(&outs[0]);
    assert!(outs.iter().all(|o| stdout(o) == first), "all 48 print the same token");
    assert_eq!(iss.request_count(), 1);
    // a fourth host with an empty local cache: served from Redis, no request
    let o = host(&sb, "new", &url, iss.token_url(), &["--format", "json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["cached"], true);
    assert_eq!(v["access_token"].as_str().unwrap(), first.trim());
    assert_eq!(iss.request_count(), 1);
    // entries on Redis are encrypted: the token does not appear in the stored value
    let keys = Command::new("redis-cli")
        .args(["-p", &r.port.to_string(), "--raw", "KEYS", "signet:*"])
        .output()
        .unwrap();
    let name = stdout(&keys).lines().next().unwrap().to_string();
    let raw = Command::new("redis-cli")
        .args(["-p", &r.port.to_string(), "--raw", "GET", &name])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&raw.stdout).contains(&first.trim()[..40]));
    let ttl = Command::new("redis-cli")
        .args(["-p", &r.port.to_string(), "PTTL", &name])
        .output()
        .unwrap();
    let ttl: i64 = stdout(&ttl).trim().parse().unwrap();
    assert!(
        (200_000..=240_000).contains(&ttl),
        "expires on Redis at the token's life minus min-ttl: {ttl}"
    );
    // cache path shows the URL, list shows the entry
    let o = sb
        .signet()
        .args([
            "cache",
            "path",
            "--cache-url",
            &format!("redis://u:secretpw@127.0.0.1:{}/0", r.port),
        ])
        .output()
        .unwrap();
    assert!(
        stdout(&o).contains("127.0.0.1") && !stdout(&o).contains("secretpw"),
        "{}",
        stdout(&o)
    );
    let o = sb
        .signet()
        .args(["cache", "list", "--cache-url", &url])
        .env("SIGNET_CACHE_KEY", CACHE_KEY)
        .output()
        .unwrap();
    assert!(stdout(&o).contains(iss.token_url()), "{}", stdout(&o));
}

#[test]
fn a_killed_lease_holder_expires_and_another_host_fetches() {
    let r = redis(&[], false);
    let url = format!("redis://127.0.0.1:{}/0", r.port);
    let sb = Sandbox::new();
    let iss = issuer_trusting("fleet", KEY, None);
    iss.push_faults([Fault::Delay(Duration::from_secs(30))]);
    let mut holder = spawn(
        &host(&sb, "a", &url, iss.token_url(), &["--timeout", "2"]),
        Stdio::null(),
    );
    while iss.request_count() == 0 {
        std::thread::sleep(Duration::from_millis(10));
    }
    unsafe { libc::kill(holder.id() as i32, libc::SIGKILL) };
    holder.wait().unwrap();
    let o = host(&sb, "b", &url, iss.token_url(), &["--timeout", "10"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(iss.request_count(), 2);
}

#[test]
fn faults_fall_back_to_the_local_cache() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("fleet", KEY, None);
    // Redis down
    let down = refused_port();
    let url = format!("redis://127.0.0.1:{}/0", down.port);
    let o = host(&sb, "a", &url, iss.token_url(), &[]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warning:") && stderr(&o).contains("local cache only"),
        "{}",
        stderr(&o)
    );
    let o = host(&sb, "a", &url, iss.token_url(), &[]).output().unwrap();
    assert!(
        o.status.success() && stderr(&o).is_empty(),
        "a local hit never touches the network: {}",
        stderr(&o)
    );
    // Redis stopped mid-run
    let r = redis(&[], false);
    let url = format!("redis://127.0.0.1:{}/0", r.port);
    assert!(host(&sb, "b", &url, iss.token_url(), &[])
        .output()
        .unwrap()
        .status
        .success());
    drop(r);
    let o = host(&sb, "c", &url, iss.token_url(), &[]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("eyJ"));
}

#[test]
fn wrong_key_and_corrupted_entries_are_misses() {
    let r = redis(&[], false);
    let url = format!("redis://127.0.0.1:{}/0", r.port);
    let sb = Sandbox::new();
    let iss = issuer_trusting("fleet", KEY, None);
    let first = host(&sb, "a", &url, iss.token_url(), &[]).output().unwrap();
    assert!(first.status.success());
    let o = host(&sb, "b", &url, iss.token_url(), &[])
        .env("SIGNET_CACHE_KEY", "ff".repeat(32))
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(stderr(&o).contains("SIGNET_CACHE_KEY"), "{}", stderr(&o));
    assert_eq!(iss.request_count(), 2);
    // corrupt every entry
    let keys = Command::new("redis-cli")
        .args(["-p", &r.port.to_string(), "--raw", "KEYS", "signet:*"])
        .output()
        .unwrap();
    for k in stdout(&keys).lines().filter(|k| !k.contains("lock:")) {
        Command::new("redis-cli")
            .args([
                "-p",
                &r.port.to_string(),
                "SET",
                k,
                "s1garbage-garbage-garbage-garbage-garbage",
            ])
            .output()
            .unwrap();
    }
    let o = host(&sb, "c", &url, iss.token_url(), &[]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stdout(&o).contains("garbage") && !stderr(&o).contains("garbage"));
    assert_eq!(iss.request_count(), 3);
    // a shared cache without a key is a configuration error
    let o = host(&sb, "d", &url, iss.token_url(), &[])
        .env_remove("SIGNET_CACHE_KEY")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("SIGNET_CACHE_KEY"), "{}", stderr(&o));
}

#[test]
fn password_and_tls_with_a_private_ca() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("fleet", KEY, None);
    let r = redis(&["--requirepass", "fleet-secret"], false);
    let url = format!("redis://127.0.0.1:{}/0", r.port);
    let o = host(&sb, "a", &url, iss.token_url(), &[]).output().unwrap();
    assert!(o.status.success());
    assert!(
        stderr(&o).contains("local cache only") && !stderr(&o).contains("fleet-secret"),
        "{}",
        stderr(&o)
    );
    let o = host(&sb, "b", &url, iss.token_url(), &[])
        .env("SIGNET_CACHE_PASSWORD", "fleet-secret")
        .output()
        .unwrap();
    assert!(o.status.success() && stderr(&o).is_empty(), "{}", stderr(&o));
    let o = host(&sb, "c", &url, iss.token_url(), &["--format", "json"])
        .env("SIGNET_CACHE_PASSWORD", "fleet-secret")
        .output()
        .unwrap();
    assert_eq!(serde_json::from_str::<Value>(&stdout(&o)).unwrap()["cached"], true);
    // rediss:// with the test CA given by --ca-file
    let t = redis(&[], true);
    let url = format!("rediss://127.0.0.1:{}/0", t.port);
    let o = host(
        &sb,
        "d",
        &url,
        iss.token_url(),
        &["--ca-file", &fixture_str("ca.crt.pem")],
    )
    .output()
    .unwrap();
    assert!(o.status.success() && stderr(&o).is_empty(), "{}", stderr(&o));
    let o = host(
        &sb,
        "e",
        &url,
        iss.token_url(),
        &["--ca-file", &fixture_str("ca.crt.pem"), "--format", "json"],
    )
    .output()
    .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&stdout(&o)).unwrap()["cached"],
        true,
        "{}",
        stderr(&o)
    );
}

/// A local hit reads no shared-cache key: the key file is gone by the second call on the same
/// host, which still answers from its local cache; another host, which must ask Redis, says it
/// cannot read the file (exit 2).
#[test]
fn a_local_hit_reads_no_cache_key_file() {
    let r = redis(&[], false);
    let url = format!("redis://127.0.0.1:{}/0", r.port);
    let sb = Sandbox::new();
    let iss = issuer_trusting("fleet", KEY, None);
    let key_file = sb.path().join("cache.key");
    std::fs::write(&key_file, CACHE_KEY).unwrap();
    let run = |name: &str| {
        let mut c = host(&sb, name, &url, iss.token_url(), &[]);
        c.env_remove("SIGNET_CACHE_KEY").arg("--cache-key-file").arg(&key_file);
        c.output().unwrap()
    };
    let first = run("a");
    assert!(first.status.success(), "{}", stderr(&first));
    std::fs::remove_file(&key_file).unwrap();
    let hit = run("a");
    assert!(hit.status.success(), "{}", stderr(&hit));
    assert_eq!(stdout(&hit), stdout(&first));
    let other = run("b");
    assert_eq!(other.status.code(), Some(2), "{}", stderr(&other));
    assert!(
        stderr(&other).contains("cannot read cache key file"),
        "{}",
        stderr(&other)
    );
    assert_eq!(iss.request_count(), 1);
}

/// `cache clear --expired` on Redis used to delete the fleet's valid entries: only expired ones
/// go, and Redis drops those itself, so a valid shared entry stays.
#[test]
fn cache_clear_expired_keeps_the_fleets_valid_entries() {
    let r = redis(&[], false);
    let url = format!("redis://127.0.0.1:{}/0", r.port);
    let sb = Sandbox::new();
    let iss = issuer_trusting("fleet", KEY, None);
    let o = host(&sb, "a", &url, iss.token_url(), &[]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let cache = |args: &[&str]| {
        sb.signet()
            .args(["cache"])
            .args(args)
            .args(["--cache-url", &url])
            .env("SIGNET_CACHE_KEY", CACHE_KEY)
            .output()
            .unwrap()
    };
    let o = cache(&["clear", "--expired"]);
    assert!(stdout(&o).contains("removed 0 shared cached tokens"), "{}", stdout(&o));
    assert!(stdout(&cache(&["list"])).contains(iss.token_url()));
}

#[test]
fn a_dpop_token_and_its_key_travel_in_the_encrypted_redis_entry() {
    let r = redis(&[], false);
    let url = format!("redis://127.0.0.1:{}/0", r.port);
    let sb = Sandbox::new();
    let iss = crate::common::issuer_with("fleet", KEY, None, |c| c.dpop = true);
    let get = |name: &str| {
        let o = host(&sb, name, &url, iss.token_url(), &["--dpop", "--format", "json"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_str::<Value>(&stdout(&o)).unwrap()
    };
    let a = get("a");
    let b = get("b");
    assert_eq!(b["cached"], true, "host b: a Redis hit");
    assert_eq!(b["dpop_jkt"], a["dpop_jkt"], "with the key the token is bound to");
    assert_eq!(b["access_token"], a["access_token"]);
    assert_eq!(iss.request_count(), 1);
    // Host a's local entry holds the key; Redis holds it encrypted only.
    let local = std::fs::read_dir(sb.path().join("host-a"))
        .unwrap()
        .flatten()
        .find(|e| e.path().extension().is_some_and(|x| x == "json"))
        .unwrap()
        .path();
    let entry: Value = serde_json::from_slice(&std::fs::read(local).unwrap()).unwrap();
    let key = entry["dpop_key"].as_str().unwrap();
    let keys = Command::new("redis-cli")
        .args(["-p", &r.port.to_string(), "--raw", "KEYS", "signet:*"])
        .output()
        .unwrap();
    let name = stdout(&keys).lines().next().unwrap().to_string();
    let raw = Command::new("redis-cli")
        .args(["-p", &r.port.to_string(), "--raw", "GET", &name])
        .output()
        .unwrap();
    assert!(!raw.stdout.is_empty());
    assert!(!String::from_utf8_lossy(&raw.stdout).contains(&key[..40]));
}
