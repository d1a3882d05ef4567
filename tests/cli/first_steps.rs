//! Issue 20, what a new user stumbles on: spellings users type (item 8), errors that name the
//! template or profile that asked rather than a flag never typed (item 7), a mistyped passphrase
//! flag that must not lead to leaking it (item 2), and a Google key file's `token_uri`.

use crate::common::*;
use serde_json::Value;
use signet::issuer::{Client, Issuer, IssuerConfig};

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

// ---- item 7: who asked ----

/// Flags that only the user can have typed; no message about a template's request names them.
const UNTYPED_FLAGS: [&str; 4] = ["--x5t", "--x5t-s256", "--x5c", "--kid-from"];

fn entra(extra: &[&str]) -> Vec<String> {
    let k = key("rsa2048.pkcs8.pem");
    let head = [
        "assert",
        "--template",
        "entra-id",
        "--var",
        "tenant=contoso",
        "--client-id",
        "c",
        "--key",
        &k,
    ];
    [&head[..], extra].concat().into_iter().map(String::from).collect()
}

#[test]
fn entra_without_a_certificate_names_the_template() {
    let sb = Sandbox::new();
    let a = entra(&[]);
    let err = usage_error(&sb, &a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        err.contains("the entra-id template sends x5t#S256, which needs the certificate: give --cert or a PFX"),
        "{err}"
    );
    // RS256 makes the template send x5t instead: still its request.
    let a = entra(&["--alg", "RS256"]);
    let err = usage_error(&sb, &a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        err.contains("the entra-id template sends x5t, which needs the certificate"),
        "{err}"
    );
    for f in UNTYPED_FLAGS {
        assert!(!err.contains(&format!("{f} ")), "{f}: {err}");
    }
    // With the certificate, it signs.
    let a = entra(&["--cert", &key("rsa2048.crt.pem")]);
    let (code, _, err) = run(&sb, &a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "{err}");
}

#[test]
fn one_e_kid_rule_without_a_certificate_names_the_template() {
    let sb = Sandbox::new();
    let err = usage_error(
        &sb,
        &[
            "assert",
            "--template",
            "1e",
            "--var",
            "api_root=https://tachyon.example.com/api",
            "--var",
            "consumer=nightly",
            "--var",
            "audience=https://idp.example.com/token",
            "--client-id",
            "app",
            "--key",
            &key("rsa2048.pkcs8.pem"),
        ],
    );
    assert!(
        err.contains("the 1e template sends the certificate's hex-sha1 thumbprint as the kid, which needs the certificate: give --cert or a PFX"),
        "{err}"
    );
    assert!(!err.contains("--kid-from"), "{err}");
}

#[test]
fn a_flag_the_user_typed_is_still_named() {
    let sb = Sandbox::new();
    let base = [
        "assert",
        "--key",
        &key("rsa2048.pkcs8.pem"),
        "--client-id",
        "c",
        "--audience",
        "a",
    ];
    let err = usage_error(&sb, &[&base[..], &["--x5t-s256"]].concat());
    assert!(err.contains("--x5t-s256 needs a certificate"), "{err}");
    let err = usage_error(&sb, &[&base[..], &["--kid-from", "hex-sha1"]].concat());
    assert!(err.contains("--kid-from hex-sha1 needs a certificate"), "{err}");
}

#[test]
fn a_profile_that_asks_for_a_certificate_is_named() {
    let sb = Sandbox::new();
    let cfg = sb.path().join("signet.toml");
    std::fs::write(
        &cfg,
        "[profile.ci]\nclient_id = \"c\"\naudience = \"a\"\nx5c = true\nlifetime = \"15m\"\n",
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap();
    let k = key("rsa2048.pkcs8.pem");
    let err = usage_error(&sb, &["--config", cfg, "--profile", "ci", "assert", "--key", &k]);
    assert!(
        err.contains("profile 'ci' (")
            && err.contains("sends x5c (the certificate chain), which needs the certificate"),
        "{err}"
    );
    // A profile's lifetime past a template's limit is named as the profile's.
    let err = usage_error(
        &sb,
        &[
            "--config",
            cfg,
            "--profile",
            "ci",
            "assert",
            "--key",
            &k,
            "--cert",
            &key("rsa2048.crt.pem"),
            "--template",
            "entra-id",
            "--var",
            "tenant=contoso",
        ],
    );
    assert!(err.contains("lifetime = 15m in profile 'ci' ("), "{err}");
    assert!(err.contains("at most 600 s"), "{err}");
    assert!(!err.contains("--lifetime 900"), "{err}");
}

#[test]
fn a_template_limit_names_the_template_and_what_to_do() {
    let sb = Sandbox::new();
    let head = [
        "assert",
        "--template",
        "salesforce",
        "--client-id",
        "3MVG9",
        "--subject",
        "u@example.com",
    ];
    // An EC key cannot sign what Salesforce takes: no --alg can fix that.
    let err = usage_error(&sb, &[&head[..], &["--key", &key("p256.pkcs8.pem")]].concat());
    assert!(
        err.contains("Salesforce (the salesforce template) accepts only RS256 assertions, which an EC P-256 key cannot sign: use an RSA key"),
        "{err}"
    );
    let err = usage_error(
        &sb,
        &[&head[..], &["--key", &key("rsa2048.pkcs8.pem"), "--alg", "PS256"]].concat(),
    );
    assert!(
        err.contains("(the salesforce template) does not accept PS256") && err.contains("--alg PS256"),
        "{err}"
    );
    let err = usage_error(
        &sb,
        &[&head[..], &["--key", &key("rsa2048.pkcs8.pem"), "--lifetime", "5m"]].concat(),
    );
    assert!(err.contains("at most 180 s; --lifetime 5m is too long"), "{err}");
}

/// Every built-in template, signed with a key that has no certificate: whatever it asks for
/// that needs one is reported as its request, never as a flag the user did not type.
#[test]
fn no_built_in_template_blames_an_untyped_flag() {
    let sb = Sandbox::new();
    for (name, _) in signet::template::BUILTIN {
        let t = signet::template::load(name).unwrap();
        let mut a: Vec<String> = ["assert", "--template", name, "--client-id", "c", "--subject", "s"]
            .into_iter()
            .map(String::from)
            .collect();
        for (v, var) in &t.vars {
            let sample = match var.kind {
                signet::template::VarKind::Host => "idp.example.com".to_string(),
                signet::template::VarKind::Segment => "seg".into(),
                signet::template::VarKind::Url => "https://idp.example.com/base".into(),
                signet::template::VarKind::Value => var.choices.as_ref().map_or("value".into(), |c| c[0].clone()),
            };
            if v != "subject" {
                a.extend(["--var".to_string(), format!("{v}={sample}")]);
            }
        }
        let key = if name.starts_with("google") {
            "service-account.json"
        } else {
            "rsa2048.pkcs8.pem"
        };
        a.extend(["--key".to_string(), fixture_str(key)]);
        let (code, _, err) = run(&sb, &a.iter().map(String::as_str).collect::<Vec<_>>());
        if code != 0 {
            for f in UNTYPED_FLAGS {
                assert!(!err.contains(&format!("{f} ")), "{name} names {f}: {err}");
            }
            if err.contains("certificate") {
                assert!(err.contains(&format!("the {name} template")), "{name}: {err}");
            }
        }
    }
}

// ---- item 2: a mistyped passphrase flag ----

const SECRET: &str = "S3cr3t-Passphrase-9876";

#[test]
fn a_passphrase_flag_gets_a_hint_that_does_not_leak() {
    let sb = Sandbox::new();
    let k = key("rsa2048.enc.pem");
    for args in [
        vec!["token", "--key", &k, "--passphrase", SECRET],
        vec!["token", "--key", &k, &format!("--passphrase={SECRET}")],
        vec!["assert", "--key", &k, "--key-passphrase", SECRET],
        vec!["assert", "--password", SECRET, "--key", &k],
    ] {
        let (code, out, err) = run(&sb, &args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(!out.contains(SECRET) && !err.contains(SECRET), "{args:?}: {err}");
        assert!(err.starts_with("error: unexpected argument '--"), "{err}");
        assert!(
            err.contains("SIGNET_KEY_PASSPHRASE") && err.contains("--key-passphrase-file"),
            "{err}"
        );
        assert!(
            !err.contains("--param"),
            "clap's tip would send it to the endpoint: {err}"
        );
    }
    let (code, _, err) = run(&sb, &["token", "--key", "pkcs11:token=t;object=k", "--pin", SECRET]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("SIGNET_PKCS11_PIN") && !err.contains(SECRET), "{err}");
    // Any other unknown flag keeps clap's own message and tip.
    let (code, _, err) = run(&sb, &["token", "--scop", "x"]);
    assert_eq!(code, 2);
    assert!(err.contains("--scope"), "{err}");
}

#[test]
fn an_unreadable_passphrase_file_is_not_echoed() {
    let sb = Sandbox::new();
    let enc = key("rsa2048.enc.pem");
    let pfx = key("rsa2048.modern.pfx");
    for args in [
        vec![
            "assert",
            "--key",
            &enc,
            "--client-id",
            "c",
            "--audience",
            "a",
            "--key-passphrase-file",
            SECRET,
        ],
        vec![
            "-v",
            "assert",
            "--key",
            &enc,
            "--client-id",
            "c",
            "--audience",
            "a",
            "--key-passphrase-file",
            SECRET,
        ],
        vec!["thumbprint", "--cert", &pfx, "--key-passphrase-file", SECRET],
        vec!["config", "show", "--key", &enc, "--key-passphrase-file", SECRET],
    ] {
        let (code, out, err) = run(&sb, &args);
        assert!(!out.contains(SECRET) && !err.contains(SECRET), "{args:?}: {out}{err}");
        if args[0] != "config" {
            assert_eq!(code, 2, "{args:?}: {err}");
            assert!(
                err.contains("cannot read the file given by --key-passphrase-file (no such file)")
                    && err.contains("SIGNET_KEY_PASSPHRASE"),
                "{err}"
            );
        }
    }
}

// ---- google-service-account: the key file's token_uri ----

/// The fixture service-account file with `token_uri` replaced.
fn sa_with_token_uri(sb: &Sandbox, token_uri: &str) -> (String, String) {
    let mut sa: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("service-account.json")).unwrap()).unwrap();
    sa["token_uri"] = token_uri.into();
    let p = sb.path().join("sa.json");
    std::fs::write(&p, sa.to_string()).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    (
        p.to_string_lossy().into_owned(),
        sa["client_email"].as_str().unwrap().to_string(),
    )
}

fn google_issuer(email: &str) -> Issuer {
    let t = signet::template::load("google-service-account").unwrap();
    let vars = t.check_vars(&[]).unwrap();
    let b = load("service-account.json", None, None);
    Issuer::start(IssuerConfig::for_template(
        &t,
        &vars,
        vec![Client::from_bundle(email, &b, None)],
    ))
    .unwrap()
}

#[test]
fn google_token_uri_is_the_default_token_url_and_audience() {
    let sb = Sandbox::new();
    let email = "signet-test@signet-test.iam.gserviceaccount.com";
    let iss = google_issuer(email);
    let (sa, file_email) = sa_with_token_uri(&sb, iss.token_url());
    assert_eq!(file_email, email);
    // No --token-url: the request goes to token_uri, with aud = token_uri (the issuer checks it).
    let (code, out, err) = run(
        &sb,
        &[
            "token",
            "--no-cache",
            "--template",
            "google-service-account",
            "--key",
            &sa,
            "--scope",
            "s",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(!out.trim().is_empty());
    assert_eq!(iss.request_count(), 1);
    // config show says where the token URL came from.
    let (code, out, err) = run(
        &sb,
        &["config", "show", "--template", "google-service-account", "--key", &sa],
    );
    assert_eq!(code, 0, "{err}");
    let line = out.lines().find(|l| l.starts_with("token_url")).unwrap_or_default();
    assert!(line.contains(iss.token_url()) && line.contains("token_uri"), "{out}");
}

#[test]
fn google_aud_stays_token_uri_through_a_proxy_and_audience_wins() {
    let sb = Sandbox::new();
    let (sa, _) = sa_with_token_uri(&sb, "https://oauth2.example.test/token");
    let assert_aud = |extra: &[&str]| {
        let a = [
            &["assert", "--template", "google-service-account", "--key", &sa][..],
            extra,
        ]
        .concat();
        let (code, out, err) = run(&sb, &a);
        assert_eq!(code, 0, "{err}");
        decode(&out).claims["aud"].as_str().unwrap().to_string()
    };
    assert_eq!(assert_aud(&[]), "https://oauth2.example.test/token");
    assert_eq!(
        assert_aud(&["--token-url", "https://proxy.example.com/google/token"]),
        "https://oauth2.example.test/token"
    );
    assert_eq!(
        assert_aud(&["--audience", "https://other.example/aud"]),
        "https://other.example/aud"
    );
    // Without the template, a service-account file's token_uri changes nothing.
    let (code, out, err) = run(
        &sb,
        &["assert", "--key", &sa, "--token-url", "https://proxy.example.com/t"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(decode(&out).claims["aud"], "https://proxy.example.com/t");
}
