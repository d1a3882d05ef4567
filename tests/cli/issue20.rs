//! Issue 20, what a new user stumbles on: spellings users type (item 8), errors that name the
//! template or profile that asked rather than a flag never typed (item 7), a mistyped passphrase
//! flag that must not lead to leaking it (item 2), and a Google key file's `token_uri`.

use crate::common::*;

/// Runs signet and returns (exit code, stdout, stderr).
fn run(sb: &Sandbox, args: &[&str]) -> (i32, String, String) {
    let o = sb.signet().args(args).output().unwrap();
    (o.status.code().unwrap(), stdout(&o), stderr(&o))
}

/// A failure: exit 2, nothing on stdout, one `error:` line; returns stderr.
fn usage_error(sb: &Sandbox, args: &[&str]) -> String {
    let (code, out, err) = run(sb, args);
    assert_eq!(code, 2, "{args:?}: {err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.lines().filter(|l| l.starts_with("error:")).count(), 1, "{err}");
    err
}

fn key(name: &str) -> String {
    fixture_str(name)
}

// ---- item 8: spellings ----

#[test]
fn template_names_are_case_insensitive() {
    let sb = Sandbox::new();
    let (code, out, err) = run(&sb, &["templates", "show", "1E"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("1e — "), "{out}");
    let (code, out, err) = run(
        &sb,
        &[
            "assert",
            "--template",
            "OKTA",
            "--var",
            "domain=dev-1.okta.com",
            "--client-id",
            "c",
            "--key",
            &key("p256.pkcs8.pem"),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(decode(&out).claims["aud"], "https://dev-1.okta.com/oauth2/v1/token");
}

#[test]
fn grant_names_take_underscores() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("c", "p256.pkcs8.pem", None);
    let o = sb
        .token_cmd("p256.pkcs8.pem", "c", iss.token_url())
        .args(["--grant", "client_credentials", "--no-cache"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(iss.request_count(), 1);
}

#[test]
fn durations_take_a_unit() {
    let sb = Sandbox::new();
    let base = [
        "assert",
        "--key",
        &key("p256.pkcs8.pem"),
        "--client-id",
        "c",
        "--audience",
        "a",
    ];
    for (lifetime, secs) in [("2m", 120), ("90s", 90), ("45", 45)] {
        let (code, out, err) = run(&sb, &[&base[..], &["--lifetime", lifetime]].concat());
        assert_eq!(code, 0, "{lifetime}: {err}");
        let c = decode(&out).claims;
        assert_eq!(
            c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
            secs,
            "{lifetime}"
        );
    }
    // The exchange's durations, through one token call.
    let iss = issuer_trusting("c", "p256.pkcs8.pem", None);
    let o = sb
        .token_cmd("p256.pkcs8.pem", "c", iss.token_url())
        .args(["--timeout", "1m", "--min-ttl", "1m", "--default-ttl", "1h"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn a_bad_duration_names_the_flag_and_the_forms() {
    let sb = Sandbox::new();
    let base = [
        "assert",
        "--key",
        &key("p256.pkcs8.pem"),
        "--client-id",
        "c",
        "--audience",
        "a",
    ];
    for (flag, value) in [
        ("--lifetime", "2 minutes"),
        ("--lifetime", "1.5m"),
        ("--timeout", "soon"),
        ("--lifetime", "99999999999999999999"),
    ] {
        let err = usage_error(&sb, &[&base[..], &[flag, value]].concat());
        assert!(err.contains(&format!("invalid {flag} '{value}'")), "{err}");
        assert!(err.contains("2m") && !err.contains("invalid digit"), "{err}");
    }
    let err = usage_error(
        &sb,
        &["check", "--key", &key("p256.pkcs8.pem"), "--warn-expiry", "2 weeks"],
    );
    assert!(err.contains("--warn-expiry") && err.contains("days"), "{err}");
    let (code, _, err) = run(
        &sb,
        &[
            "check",
            "--key",
            &key("p256.pkcs8.pem"),
            "--client-id",
            "c",
            "--audience",
            "a",
            "--warn-expiry",
            "36h",
        ],
    );
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_token_url_without_a_scheme_says_so() {
    let sb = Sandbox::new();
    let err = usage_error(
        &sb,
        &[
            "token",
            "--key",
            &key("p256.pkcs8.pem"),
            "--client-id",
            "c",
            "--token-url",
            "127.0.0.1:18101/token",
        ],
    );
    assert!(err.contains("the scheme is missing"), "{err}");
    assert!(err.contains("http://127.0.0.1:18101/token"), "{err}");
    assert!(!err.contains("relative URL"), "{err}");
}

#[test]
fn every_missing_template_variable_is_named_at_once() {
    let sb = Sandbox::new();
    let err = usage_error(
        &sb,
        &[
            "assert",
            "--template",
            "jde-ais",
            "--client-id",
            "c",
            "--key",
            &key("rsa2048.pkcs8.pem"),
        ],
    );
    for v in ["host", "user", "environment"] {
        assert!(err.contains(&format!("--var {v}=")), "{v}: {err}");
    }
}
