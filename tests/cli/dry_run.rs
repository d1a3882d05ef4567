//! `--dry-run` (issue 20, item 6): the request that would be sent, every assertion decoded, no
//! secret, nothing sent, no cache touched; and `-v`, which shows each request's shape.

use crate::common::*;
use std::path::Path;

const KEY: &str = "rsa2048.enc.pem";
const CERT: &str = "rsa2048.crt.pem";

/// The cache folder's entries (none, when the folder does not exist).
fn cache_files(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// `signet token --dry-run` with the encrypted key, its passphrase in SIGNET_KEY_PASSPHRASE.
fn dry_run(sb: &Sandbox, token_url: &str, extra: &[&str]) -> std::process::Output {
    sb.signet()
        .args([
            "token",
            "--dry-run",
            "--key",
            &fixture_str(KEY),
            "--cert",
            &fixture_str(CERT),
        ])
        .args(["--client-id", "app", "--token-url", token_url])
        .args(extra)
        .env("SIGNET_KEY_PASSPHRASE", PASSPHRASE)
        .output()
        .unwrap()
}

/// What every dry run promises: exit 0, the request line, the claims decoded, no compact JWT,
/// no secret, nothing at the issuer, no cache entry.
fn assert_dry(sb: &Sandbox, iss: &signet::issuer::Issuer, o: &std::process::Output, extra_secrets: &[&str]) -> String {
    assert_eq!(o.status.code(), Some(0), "{}", stderr(o));
    let out = stdout(o);
    assert!(out.contains(&format!("POST {}", iss.token_url())), "{out}");
    assert!(out.contains("\"iss\": \"app\""), "the claims, decoded: {out}");
    assert!(out.contains("\"alg\": \"RS256\""), "the header, decoded: {out}");
    assert!(
        !out.contains("eyJ") && !stderr(o).contains("eyJ"),
        "no compact JWT: {out}"
    );
    assert_no_secrets(&format!("{out}{}", stderr(o)), extra_secrets);
    assert_eq!(iss.request_count(), 0, "nothing is sent");
    assert!(cache_files(&sb.cache_dir()).is_empty(), "no cache entry is written");
    out
}

#[test]
fn each_grant_shows_the_request_with_its_assertion_decoded_and_sends_nothing() {
    let iss = issuer_trusting("app", KEY, Some(CERT));
    for (grant, shows) in [
        ("client-credentials", "client_assertion=[assertion 1, decoded below]"),
        ("jwt-bearer", "assertion=[assertion 1, decoded below]"),
        ("bearer-header", "Authorization: Bearer [assertion 1, decoded below]"),
        ("json-body", "\"[assertion 1, decoded below]\""),
    ] {
        let sb = Sandbox::new();
        let o = dry_run(
            &sb,
            iss.token_url(),
            &[
                "--grant",
                grant,
                "--scope",
                "api.read",
                "--param",
                "client_secret=do-not-show-this",
                "--param",
                "environment=JPS920",
                "--request-header",
                "X-Tachyon-Consumer: nightly",
                "--request-header",
                "X-Api-Key: hidden-api-key",
            ],
        );
        let out = assert_dry(&sb, &iss, &o, &["do-not-show-this", "hidden-api-key"]);
        assert!(out.contains(shows), "{grant}: {out}");
        assert!(out.contains("X-Tachyon-Consumer: nightly"), "{grant}: {out}");
        if grant != "json-body" {
            // (the JSON-body grant's body is the assertion alone: no parameters)
            assert!(out.contains("JPS920"), "harmless values are shown: {grant}: {out}");
        }
        assert!(out.contains("[redacted]"), "{grant}: {out}");
        let sha1 = load("rsa2048.pkcs8.pem", Some(CERT), None).leaf().unwrap().hex_sha1();
        assert!(out.contains(&sha1), "the kid: {grant}: {out}");
    }
}

#[test]
fn a_cached_token_is_neither_read_nor_changed() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("app", KEY, Some(CERT));
    let o = sb
        .signet()
        .args([
            "token",
            "--key",
            &fixture_str(KEY),
            "--client-id",
            "app",
            "--token-url",
            iss.token_url(),
        ])
        .env("SIGNET_KEY_PASSPHRASE", PASSPHRASE)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let token = stdout(&o).trim().to_string();
    let entry = entry_file(&sb);
    let before = std::fs::read(&entry).unwrap();
    let o = sb
        .signet()
        .args(["token", "--dry-run", "--key", &fixture_str(KEY), "--client-id", "app"])
        .args(["--token-url", iss.token_url()])
        .env("SIGNET_KEY_PASSPHRASE", PASSPHRASE)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("client_assertion=[assertion 1"),
        "signed anew: {}",
        stdout(&o)
    );
    assert!(!stdout(&o).contains(&token[..30]), "not the cached token");
    assert_eq!(iss.request_count(), 1, "only the first call was sent");
    assert_eq!(std::fs::read(&entry).unwrap(), before);
}

#[test]
fn a_wrong_passphrase_fails_as_the_exchange_would() {
    let sb = Sandbox::new();
    let o = sb
        .signet()
        .args(["token", "--dry-run", "--key", &fixture_str(KEY), "--client-id", "app"])
        .args(["--token-url", "http://127.0.0.1:1/token"])
        .env("SIGNET_KEY_PASSPHRASE", "not-the-passphrase")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(!stderr(&o).contains("not-the-passphrase"), "{}", stderr(&o));
}

#[test]
fn the_self_signed_grant_shows_the_token_it_would_print() {
    let sb = Sandbox::new();
    let o = sb
        .signet()
        .args([
            "token",
            "--dry-run",
            "--grant",
            "self-signed",
            "--key",
            &fixture_str(KEY),
        ])
        .args(["--client-id", "app", "--audience", "https://api.example.com/"])
        .env("SIGNET_KEY_PASSPHRASE", PASSPHRASE)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("no request") && out.contains("\"aud\": \"https://api.example.com/\""),
        "{out}"
    );
    assert!(!out.contains("eyJ") && !out.contains("POST"), "{out}");
    assert!(cache_files(&sb.cache_dir()).is_empty());
}

#[test]
fn exec_dry_run_runs_nothing() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("app", KEY, Some(CERT));
    let marker = sb.path().join("ran");
    let o = sb
        .signet()
        .args(["exec", "--dry-run", "--key", &fixture_str(KEY), "--client-id", "app"])
        .args(["--token-url", iss.token_url(), "--", "touch"])
        .arg(&marker)
        .env("SIGNET_KEY_PASSPHRASE", PASSPHRASE)
        .output()
        .unwrap();
    let out = assert_dry(&sb, &iss, &o, &[]);
    assert!(
        out.contains("then it would run: touch") && out.contains("$SIGNET_TOKEN"),
        "{out}"
    );
    assert!(!marker.exists(), "the command did not run");
}

#[test]
fn external_assertions_are_shown_and_github_is_not_asked() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("app", KEY, Some(CERT));
    // a file: its JWT decoded
    let jwt = stdout(
        &sb.signet()
            .args([
                "assert",
                "--key",
                &fixture_str("p256.pkcs8.pem"),
                "--client-id",
                "ci-platform",
            ])
            .args(["--audience", "api://AzureADTokenExchange"])
            .output()
            .unwrap(),
    );
    let file = sb.path().join("id-token");
    std::fs::write(&file, &jwt).unwrap();
    let o = sb
        .signet()
        .args(["token", "--dry-run", "--assertion-file"])
        .arg(&file)
        .args(["--client-id", "app", "--token-url", iss.token_url()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("\"iss\": \"ci-platform\"") && out.contains("id-token"),
        "{out}"
    );
    assert!(!out.contains("eyJ"), "{out}");
    // GitHub: where it would come from; the endpoint (a port where nothing listens) is not asked
    let nothing = refused_port();
    let o = sb
        .signet()
        .args(["token", "--dry-run", "--assertion-from", "github-actions"])
        .args(["--client-id", "app", "--token-url", iss.token_url()])
        .env(
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            format!("http://127.0.0.1:{}/_apis/token", nothing.port),
        )
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "gh-request-token-value")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("GitHub") && out.contains("not asked"), "{out}");
    assert!(!out.contains("gh-request-token-value"), "{out}");
    assert_eq!(iss.request_count(), 0);
    assert!(cache_files(&sb.cache_dir()).is_empty());
}

#[test]
fn verbose_shows_the_request_shape_and_vv_its_harmless_values() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("app", KEY, Some(CERT));
    let run = |v: &str| {
        sb.signet()
            .args([
                v,
                "token",
                "--no-cache",
                "--key",
                &fixture_str(KEY),
                "--cert",
                &fixture_str(CERT),
            ])
            .args([
                "--client-id",
                "app",
                "--token-url",
                iss.token_url(),
                "--scope",
                "api.read",
            ])
            .args(["--param", "client_secret=do-not-show-this"])
            .env("SIGNET_KEY_PASSPHRASE", PASSPHRASE)
            .output()
            .unwrap()
    };
    let o = run("-v");
    assert!(o.status.success(), "{}", stderr(&o));
    let log = stderr(&o);
    let sha1 = load("rsa2048.pkcs8.pem", Some(CERT), None).leaf().unwrap().hex_sha1();
    assert!(log.contains(&format!("request: POST {}", iss.token_url())), "{log}");
    assert!(log.contains("request headers: Accept, Content-Type"), "{log}");
    assert!(
        log.contains(&format!("client_assertion=[assertion: kid={sha1}, alg=RS256]")),
        "{log}"
    );
    assert!(
        log.contains("grant_type, ") && !log.contains("grant_type=client_credentials"),
        "{log}"
    );
    let o = run("-vv");
    let log2 = stderr(&o);
    assert!(
        log2.contains("grant_type=client_credentials") && log2.contains("scope=api.read"),
        "{log2}"
    );
    let token = stdout(&o);
    let token = token.trim();
    for l in [&log, &log2] {
        assert!(!l.contains("eyJ"), "{l}");
        assert_no_secrets(l, &["do-not-show-this", &token[token.len() - 30..]]);
    }
}

#[test]
fn verbose_shows_template_variables_and_hides_claim_values() {
    let sb = Sandbox::new();
    let o = sb
        .signet()
        .args([
            "-v",
            "assert",
            "--template",
            "1e",
            "--client-id",
            "app",
            "--key",
            &fixture_str(KEY),
        ])
        .args(["--cert", &fixture_str(CERT)])
        .args([
            "--var",
            "api_root=https://tachyon.example.com/Tachyon/api",
            "--var",
            "audience=a",
        ])
        .args(["--var", "consumer=nightly", "--claim", "note=a-claim-value"])
        .env("SIGNET_KEY_PASSPHRASE", PASSPHRASE)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let log = stderr(&o);
    assert!(
        log.contains("api_root=https://tachyon.example.com/Tachyon/api"),
        "{log}"
    );
    assert!(log.contains("consumer=nightly"), "{log}");
    assert!(log.contains("note=…") && !log.contains("a-claim-value"), "{log}");
}

#[test]
fn the_readme_dry_run_line_runs_as_pasted() {
    // The README's command, its continuation lines joined, with the fixture PFX for app.pfx.
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find("signet token --dry-run")
        .expect("the README shows --dry-run");
    let mut line = String::new();
    for l in readme[start..].lines() {
        match l.strip_suffix('\\') {
            Some(head) => line.push_str(head),
            None => {
                line.push_str(l);
                break;
            }
        }
    }
    let args: Vec<String> = line
        .split_whitespace()
        .skip(1)
        .map(|w| w.replace("app.pfx", &fixture_str("rsa2048.modern.pfx")))
        .collect();
    let sb = Sandbox::new();
    let o = sb
        .signet()
        .args(&args)
        .env("SIGNET_KEY_PASSPHRASE", PASSPHRASE)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{line}: {}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("POST https://tachyon.example.com/Tachyon/api/Authentication/RequestJwtAuthentication"),
        "{out}"
    );
    assert!(
        out.contains("X-Tachyon-Consumer: nightly") && !out.contains("eyJ"),
        "{out}"
    );
}
