//! DPoP (RFC 9449) end to end: tokens from the npm oidc-provider with `features.dPoP` (with and
//! without a nonce) for a client registered with `dpop_bound_access_tokens`, whose `cnf.jkt` must
//! be the thumbprint of signet's DPoP key; proofs from `signet dpop proof` and `signet curl`
//! verified independently by a resource server written with the `jose` package
//! (tests/oidc/resource.mjs); and the embedded issuer's DPoP mode for what a real provider cannot
//! be made to do (nonces that never settle, a DPoP-Nonce with a control character, a Bearer answer).

use crate::common::*;
use crate::oidc;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

const KEY: &str = "p256.pkcs8.pem";

/// oidc-provider with DPoP (`mode`: `1`, or `nonce` for a server nonce in every proof) and one
/// client, `dpop-client`, that authenticates with the P-256 fixture and gets DPoP-bound tokens.
fn provider(mode: &str) -> oidc::Provider {
    let kid = load(KEY, None, None).key.public_jwk().thumbprint();
    let mut c = oidc::client("dpop-client", KEY, None, "ES256", &kid);
    c["dpop_bound_access_tokens"] = true.into();
    oidc::start_with(json!([c]), &[("OIDC_DPOP", mode)])
}

/// `signet token` for the provider's DPoP client.
fn token_cmd(sb: &Sandbox, p: &oidc::Provider) -> assert_cmd::Command {
    let mut c = sb.token_cmd(KEY, "dpop-client", &p.token_url);
    c.args(["--scope", "api:read"]);
    c
}

fn json_of(o: &std::process::Output) -> Value {
    assert!(o.status.success(), "{}", stderr(o));
    serde_json::from_str(&stdout(o)).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

fn thumbprint(key: &str) -> String {
    load(key, None, None).key.public_jwk().thumbprint()
}

/// The resource server of tests/oidc/resource.mjs, checking tokens of the provider at `issuer`.
struct Resource {
    // Held for its Drop: the server lives as long as this value.
    _child: Reaped,
    port: u16,
}

fn resource(token_url: &str, nonce: Option<&str>) -> Resource {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc");
    let mut c = Command::new("node");
    c.arg("resource.mjs")
        .current_dir(&dir)
        .env("ISSUER", token_url.trim_end_matches("/token"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(n) = nonce {
        c.env("RS_NONCE", n);
    }
    let mut child = c.spawn().expect("node runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .strip_prefix("READY ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("resource server did not start: {line}"));
    Resource {
        _child: Reaped(child),
        port,
    }
}

impl Resource {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// POST /check: the resource server's verdict on a proof given with its token and request.
    fn check(&self, token: &str, proof: &str, method: &str, url: &str) -> (u16, Value) {
        let body = json!({"token": token, "proof": proof, "method": method, "url": url}).to_string();
        // HTTP/1.0: the answer comes whole, not chunked.
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            s,
            "POST /check HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        let status = answer.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        let json = answer.split("\r\n\r\n").nth(1).unwrap_or("");
        (status, serde_json::from_str(json).unwrap_or(Value::Null))
    }
}

#[test]
fn oidc_provider_binds_the_token_to_the_generated_dpop_key_with_and_without_nonces() {
    for mode in ["1", "nonce"] {
        let p = provider(mode);
        let sb = Sandbox::new();
        let first = json_of(
            &token_cmd(&sb, &p)
                .args(["--dpop", "--format", "json"])
                .output()
                .unwrap(),
        );
        assert_eq!(first["token_type"], "DPoP", "{mode}");
        assert_eq!(first["cached"], false);
        let jkt = first["dpop_jkt"].as_str().expect("dpop_jkt").to_string();
        let claims = decode(first["access_token"].as_str().unwrap()).claims;
        assert_eq!(
            claims["cnf"]["jkt"],
            jkt.as_str(),
            "{mode}: cnf.jkt is the key's RFC 7638 thumbprint"
        );
        // A hit: the same token and the same key, from the entry that keeps it (0600).
        let again = json_of(
            &token_cmd(&sb, &p)
                .args(["--dpop", "--format", "json"])
                .output()
                .unwrap(),
        );
        assert_eq!(again["cached"], true);
        assert_eq!(again["dpop_jkt"], jkt.as_str());
        assert_eq!(again["access_token"], first["access_token"]);
        let entry = sb.entry_file();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&entry).unwrap().permissions().mode() & 0o777, 0o600);
        let stored: Value = serde_json::from_slice(&std::fs::read(&entry).unwrap()).unwrap();
        let key = stored["dpop_key"].as_str().expect("the generated key is in the entry");
        // The key is never printed, in any format.
        for format in ["raw", "json", "header"] {
            let o = token_cmd(&sb, &p)
                .args(["--dpop", "--format", format])
                .output()
                .unwrap();
            assert!(o.status.success());
            assert!(!stdout(&o).contains(key) && !stderr(&o).contains(key), "{format}");
            assert!(!stderr(&o).contains("warning"), "{mode}: {}", stderr(&o));
        }
    }
}

#[test]
fn a_dpop_bound_client_without_dpop_is_refused_by_oidc_provider() {
    let p = provider("1");
    let sb = Sandbox::new();
    let o = token_cmd(&sb, &p).output().unwrap();
    // oidc-provider words it "DPoP proof JWT not provided" in error_detail, which it does not send.
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("invalid_grant"), "{}", stderr(&o));
}

#[test]
fn a_dpop_key_file_binds_the_token_to_that_key_in_its_own_algorithm() {
    let p = provider("nonce");
    for key in ["ed25519.pkcs8.pem", "p384.pkcs8.pem"] {
        let sb = Sandbox::new();
        let out = json_of(
            &token_cmd(&sb, &p)
                .args(["--dpop-key", &fixture_str(key), "--format", "json"])
                .output()
                .unwrap(),
        );
        assert_eq!(out["dpop_jkt"], thumbprint(key).as_str(), "{key}");
        assert_eq!(
            decode(out["access_token"].as_str().unwrap()).claims["cnf"]["jkt"],
            thumbprint(key).as_str()
        );
        let stored: Value = serde_json::from_slice(&std::fs::read(sb.entry_file()).unwrap()).unwrap();
        assert!(
            stored.get("dpop_key").is_none(),
            "a key file is not copied into the entry"
        );
    }
}

#[test]
fn dpop_proofs_are_verified_by_an_independent_resource_server() {
    let p = provider("1");
    let rs = resource(&p.token_url, None);
    let sb = Sandbox::new();
    let token = json_of(
        &token_cmd(&sb, &p)
            .args(["--dpop", "--format", "json"])
            .output()
            .unwrap(),
    );
    let token = token["access_token"].as_str().unwrap().to_string();
    let url = rs.url("/api/items?page=2#top");
    let mut jtis = vec![];
    for method in ["GET", "PATCH"] {
        let o = sb
            .signet()
            .args(["dpop", "proof", "--method", method, "--url", &url])
            .args(["--key", &fixture_str(KEY), "--client-id", "dpop-client"])
            .args(["--token-url", &p.token_url, "--scope", "api:read"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let proof = stdout(&o).trim().to_string();
        let d = decode(&proof);
        assert_eq!(d.header["typ"], "dpop+jwt");
        assert!(d.header["jwk"].get("d").is_none());
        let (status, verdict) = rs.check(&token, &proof, method, &url);
        assert_eq!(status, 200, "{verdict}");
        assert_eq!(verdict["htu"], rs.url("/api/items"));
        jtis.push(verdict["jti"].as_str().unwrap().to_string());
        // The same proof for another method is refused: the check can fail.
        let (status, _) = rs.check(&token, &proof, "DELETE", &url);
        assert_eq!(status, 401);
    }
    assert_ne!(jtis[0], jtis[1], "a fresh jti per proof");
    // A resource server's nonce goes into the proof.
    let o = sb
        .signet()
        .args([
            "dpop",
            "proof",
            "--method",
            "GET",
            "--url",
            &url,
            "--nonce",
            "rs-nonce-1",
        ])
        .args(["--key", &fixture_str(KEY), "--client-id", "dpop-client"])
        .args(["--token-url", &p.token_url, "--scope", "api:read"])
        .output()
        .unwrap();
    assert_eq!(decode(stdout(&o).trim()).claims["nonce"], "rs-nonce-1");
    let o = sb
        .signet()
        .args(["dpop", "proof", "--method", "GET", "--url", &url, "--nonce", "a b"])
        .args(["--key", &fixture_str(KEY), "--client-id", "dpop-client"])
        .args(["--token-url", &p.token_url, "--scope", "api:read"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn signet_curl_sends_a_proof_the_resource_server_accepts() {
    let p = provider("nonce");
    let rs = resource(&p.token_url, None);
    let sb = Sandbox::new();
    let curl = |extra: &[&str]| {
        sb.signet()
            .args(["curl", "--dpop", "--url", &rs.url("/api/items?x=1")])
            .args(["--key", &fixture_str(KEY), "--client-id", "dpop-client"])
            .args(["--token-url", &p.token_url, "--scope", "api:read"])
            .args(extra)
            .output()
            .unwrap()
    };
    for (extra, method) in [
        (&[][..], "GET"),
        (&["--request", "DELETE"][..], "DELETE"),
        (&["--", "-s", "-d", "a=1"][..], "POST"),
    ] {
        let o = curl(extra);
        assert!(o.status.success(), "{}", stderr(&o));
        let v: Value = serde_json::from_str(&stdout(&o)).unwrap_or_else(|_| panic!("{}", stdout(&o)));
        assert_eq!(v["ok"], true, "{v}");
        assert_eq!(v["method"], method);
        assert_eq!(v["htu"], rs.url("/api/items"));
    }
    // curl's exit code comes back: -f turns the resource server's 401 into curl's 22.
    let stranger = resource(&p.token_url, Some("rs-nonce"));
    let o = sb
        .signet()
        .args(["curl", "--dpop", "--url", &stranger.url("/x")])
        .args(["--key", &fixture_str(KEY), "--client-id", "dpop-client"])
        .args(["--token-url", &p.token_url, "--scope", "api:read", "--", "-sf"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(22), "{}", stderr(&o));
}

#[test]
fn exec_names_the_token_type_and_header_uses_the_dpop_scheme() {
    let iss = issuer_with("ci", KEY, None, |c| c.dpop = true);
    let sb = Sandbox::new();
    let o = sb
        .token_cmd(KEY, "ci", iss.token_url())
        .args(["--dpop", "--format", "header"])
        .output()
        .unwrap();
    assert!(stdout(&o).starts_with("Authorization: DPoP ey"), "{}", stdout(&o));
    let o = sb
        .signet()
        .args(["exec", "--dpop", "--key", &fixture_str(KEY), "--client-id", "ci"])
        .args([
            "--token-url",
            iss.token_url(),
            "--",
            "sh",
            "-c",
            "echo \"$SIGNET_TOKEN_TYPE\"",
        ])
        .env("SIGNET_TOKEN_TYPE", "stale")
        .output()
        .unwrap();
    assert_eq!(stdout(&o).trim(), "DPoP", "{}", stderr(&o));
    // A bearer token's child gets no stale SIGNET_TOKEN_TYPE from an outer signet.
    let plain = issuer_trusting("ci", KEY, None);
    let o = sb
        .signet()
        .args(["exec", "--key", &fixture_str(KEY), "--client-id", "ci"])
        .args([
            "--token-url",
            plain.token_url(),
            "--",
            "sh",
            "-c",
            "echo \"[$SIGNET_TOKEN_TYPE]\"",
        ])
        .env("SIGNET_TOKEN_TYPE", "DPoP")
        .output()
        .unwrap();
    assert_eq!(stdout(&o).trim(), "[]", "{}", stderr(&o));
}

#[test]
fn a_removed_or_damaged_dpop_key_in_the_entry_is_a_miss_and_a_fresh_token() {
    let iss = issuer_with("ci", KEY, None, |c| c.dpop = true);
    let sb = Sandbox::new();
    let get = || {
        json_of(
            &sb.token_cmd(KEY, "ci", iss.token_url())
                .args(["--dpop", "--format", "json"])
                .output()
                .unwrap(),
        )
    };
    let first = get();
    for damage in [Value::Null, json!("bm90IGEga2V5")] {
        let path = sb.entry_file();
        let mut e: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        match &damage {
            Value::Null => e.as_object_mut().unwrap().remove("dpop_key"),
            d => e.as_object_mut().unwrap().insert("dpop_key".into(), d.clone()),
        };
        std::fs::write(&path, e.to_string()).unwrap();
        let next = get();
        assert_eq!(next["cached"], false, "{damage}");
        assert_ne!(next["dpop_jkt"], first["dpop_jkt"]);
        assert_eq!(
            decode(next["access_token"].as_str().unwrap()).claims["cnf"]["jkt"],
            next["dpop_jkt"]
        );
    }
    assert_eq!(iss.request_count(), 3);
}

#[test]
fn nonces_that_never_settle_or_carry_control_characters_end_with_exit_4() {
    let sb = Sandbox::new();
    let rotating = issuer_with("ci", KEY, None, |c| {
        c.dpop = true;
        c.dpop_nonce = Some("n".into());
        c.dpop_nonce_rotates = true;
    });
    let o = sb
        .token_cmd(KEY, "ci", rotating.token_url())
        .arg("--dpop")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("use_dpop_nonce again") && stderr(&o).contains("'n-1'"),
        "{}",
        stderr(&o)
    );
    assert_eq!(rotating.request_count(), 2);
    let bad = issuer_with("ci", KEY, None, |c| {
        c.dpop = true;
        c.dpop_nonce = Some("bad\tnonce".into());
    });
    let o = sb.token_cmd(KEY, "ci", bad.token_url()).arg("--dpop").output().unwrap();
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("DPoP-Nonce has characters"), "{}", stderr(&o));
    assert_eq!(bad.request_count(), 1);
}

#[test]
fn a_bearer_answer_to_dpop_is_a_warning_and_weak_or_certificate_dpop_keys_exit_3() {
    let iss = issuer_with("ci", KEY, None, |c| {
        c.dpop = true;
        c.extra.insert("token_type".into(), "Bearer".into());
    });
    let sb = Sandbox::new();
    let o = sb.token_cmd(KEY, "ci", iss.token_url()).arg("--dpop").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warning: the token endpoint answered token_type Bearer"),
        "{}",
        stderr(&o)
    );
    for bad in ["rsa1024.pkcs8.pem", "p256.crt.pem"] {
        let o = sb
            .token_cmd(KEY, "ci", iss.token_url())
            .args(["--dpop-key", &fixture_str(bad)])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(3), "{bad}: {}", stderr(&o));
        let line = stderr(&o);
        assert!(line.starts_with("error: --dpop-key "), "{bad}: {line}");
    }
}

#[test]
fn signet_issuer_in_its_dpop_mode_and_the_demo_show_a_dpop_exchange() {
    let sb = Sandbox::new();
    let mut c = sb.signet();
    c.args([
        "issuer",
        "--client-id",
        "ci",
        "--trust",
        &fixture_str(KEY),
        "--dpop-nonce",
        "n-42",
    ]);
    let mut child = spawn(&c, Stdio::piped());
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .strip_prefix("READY ")
        .unwrap_or_else(|| panic!("{line}"))
        .trim()
        .to_string();
    let plain = sb.token_cmd(KEY, "ci", &url).output().unwrap();
    let bound = sb
        .token_cmd(KEY, "ci", &url)
        .args(["--dpop", "--format", "json"])
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        plain.status.code(),
        Some(4),
        "a bearer request is refused: {}",
        stderr(&plain)
    );
    assert!(
        stderr(&plain).contains("DPoP proof JWT not provided"),
        "{}",
        stderr(&plain)
    );
    let v = json_of(&bound);
    assert_eq!(v["token_type"], "DPoP");
    assert_eq!(
        decode(v["access_token"].as_str().unwrap()).claims["cnf"]["jkt"],
        v["dpop_jkt"]
    );

    let o = sb.signet().arg("demo").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("signet answered once: 2 requests, token_type DPoP"),
        "{out}"
    );
    assert!(out.contains(r#""typ":"dpop+jwt""#), "{out}");
}

#[test]
fn the_okta_template_and_a_profile_turn_dpop_on() {
    let iss = issuer_with("okta-app", "rsa2048.pkcs8.pem", None, |c| {
        c.dpop = true;
        c.dpop_nonce = Some("okta-nonce".into());
    });
    let sb = Sandbox::new();
    let okta = |dpop: &str| {
        sb.token_cmd("rsa2048.pkcs8.pem", "okta-app", iss.token_url())
            .args(["--template", "okta", "--var", "domain=example.okta.com", "--var", dpop])
            .args(["--scope", "okta.users.read", "--format", "json"])
            .output()
            .unwrap()
    };
    assert_eq!(okta("dpop=off").status.code(), Some(4));
    let v = json_of(&okta("dpop=on"));
    assert_eq!(v["token_type"], "DPoP");
    assert_eq!(
        iss.request_count(),
        3,
        "one refused bearer request, then the nonce round"
    );
    // A profile's `dpop = true`, shown by config show as the profile's.
    let config = sb.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[profile.ci]\nkey = \"{}\"\nclient_id = \"okta-app\"\ntoken_url = \"{}\"\ndpop = true\n",
            fixture_str("rsa2048.pkcs8.pem"),
            iss.token_url()
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        sb.signet()
            .args(["--config", config.to_str().unwrap(), "--profile", "ci"])
            .args(args)
            .output()
            .unwrap()
    };
    let v = json_of(&run(&["token", "--format", "json"]));
    assert!(v["dpop_jkt"].is_string(), "{v}");
    let shown = stdout(&run(&["config", "show"]));
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("dpop") && l.contains("profile 'ci'")),
        "{shown}"
    );
}

#[test]
fn the_dpop_key_and_the_token_stay_out_of_verbose_logs_and_cache_list() {
    let iss = issuer_with("ci", KEY, None, |c| {
        c.dpop = true;
        c.dpop_nonce = Some("v-nonce".into());
    });
    let sb = Sandbox::new();
    let run = |args: &[&str]| {
        sb.signet()
            .args([
                "-vv",
                "token",
                "--dpop",
                "--key",
                &fixture_str(KEY),
                "--client-id",
                "ci",
            ])
            .args(["--token-url", iss.token_url()])
            .args(args)
            .output()
            .unwrap()
    };
    let first = run(&[]);
    assert!(first.status.success(), "{}", stderr(&first));
    let token = stdout(&first).trim().to_string();
    let entry: Value = serde_json::from_slice(&std::fs::read(sb.entry_file()).unwrap()).unwrap();
    let key = entry["dpop_key"].as_str().unwrap().to_string();
    let again = run(&[]);
    let list = sb.signet().args(["cache", "list"]).output().unwrap();
    for o in [&first, &again, &list] {
        let err = stderr(o);
        assert!(!err.contains(&key) && !stdout(o).contains(&key));
        assert!(!err.contains(&token), "{err}");
        assert_no_secrets(&err, &[]);
    }
    // The proof is logged by its shape only.
    assert!(stderr(&first).contains("DPoP"), "{}", stderr(&first));
}

#[test]
fn with_no_cache_the_dpop_key_lives_for_the_process_only() {
    let iss = issuer_with("ci", KEY, None, |c| c.dpop = true);
    let sb = Sandbox::new();
    let get = || {
        json_of(
            &sb.token_cmd(KEY, "ci", iss.token_url())
                .args(["--dpop", "--no-cache", "--format", "json"])
                .output()
                .unwrap(),
        )
    };
    let (a, b) = (get(), get());
    assert_ne!(a["dpop_jkt"], b["dpop_jkt"], "a new key per process");
    assert_eq!(
        decode(b["access_token"].as_str().unwrap()).claims["cnf"]["jkt"],
        b["dpop_jkt"]
    );
    let written = std::fs::read_dir(sb.cache_dir()).map(|d| d.count()).unwrap_or(0);
    assert_eq!(written, 0, "nothing written to the cache");
}
