use crate::common::*;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;

fn write_config(sb: &Sandbox, text: &str) -> std::path::PathBuf {
    let dir = sb.path().join("conf");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("config.toml");
    std::fs::write(&p, text).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

fn show(sb: &Sandbox, cfg: &std::path::Path, extra: &[&str], env: &[(&str, &str)]) -> Value {
    let mut c = sb.signet();
    c.args(["config", "show", "--format", "json", "--config", cfg.to_str().unwrap()])
        .args(extra);
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}

#[test]
fn each_layer_wins_over_the_ones_below_and_says_so() {
    let sb = Sandbox::new();
    let plain = write_config(&sb, "[profile.other]\nalg = \"RS384\"\n");
    // template (okta: RS256) > built-in default
    let v = show(&sb, &plain, &["--template", "okta", "--var", "domain=x.okta.com"], &[]);
    assert_eq!(v["settings"]["alg"]["value"], "RS256");
    assert_eq!(v["settings"]["alg"]["origin"], "template okta");
    assert_eq!(v["settings"]["timeout"]["origin"], "default");
    let cfg = write_config(&sb, "[profile.ci]\ntemplate = \"okta\"\nalg = \"ES384\"\n\n[profile.ci.vars]\ndomain = \"dev-1.okta.com\"\n\n[profile.default]\nalg = \"RS512\"\n");
    // the implicit default profile > template
    let v = show(&sb, &cfg, &["--template", "okta", "--var", "domain=x.okta.com"], &[]);
    assert_eq!(v["settings"]["alg"]["value"], "RS512");
    // profile > template, with file and line
    let v = show(&sb, &cfg, &["--profile", "ci"], &[]);
    assert_eq!(v["settings"]["alg"]["value"], "ES384");
    let origin = v["settings"]["alg"]["origin"].as_str().unwrap();
    assert!(
        origin.contains("profile 'ci'") && origin.ends_with("config.toml:3"),
        "{origin}"
    );
    assert_eq!(
        v["settings"]["token_url"]["value"],
        "https://dev-1.okta.com/oauth2/v1/token"
    );
    // env > profile
    let v = show(&sb, &cfg, &["--profile", "ci"], &[("SIGNET_ALG", "ES256")]);
    assert_eq!(v["settings"]["alg"]["value"], "ES256");
    assert_eq!(v["settings"]["alg"]["origin"], "env SIGNET_ALG");
    // an empty env var counts as unset
    let v = show(&sb, &cfg, &["--profile", "ci"], &[("SIGNET_ALG", "")]);
    assert_eq!(v["settings"]["alg"]["value"], "ES384");
    // flag > env
    let v = show(
        &sb,
        &cfg,
        &["--profile", "ci", "--alg", "PS256"],
        &[("SIGNET_ALG", "ES256")],
    );
    assert_eq!(v["settings"]["alg"]["value"], "PS256");
    assert_eq!(v["settings"]["alg"]["origin"], "flag");
    // SIGNET_PROFILE picks the profile; without one, 'default' applies
    let v = show(&sb, &cfg, &[], &[("SIGNET_PROFILE", "ci")]);
    assert_eq!(v["profile"], "ci");
    let v = show(&sb, &cfg, &[], &[]);
    assert_eq!(v["settings"]["alg"]["value"], "RS512");
    assert_eq!(v["profile"], "default");
}

#[test]
fn secrets_are_shown_only_as_set() {
    let sb = Sandbox::new();
    let cfg = write_config(&sb, "[profile.default]\nkey = \"k.pem\"\n");
    let o = sb
        .signet()
        .args(["config", "show", "--config", cfg.to_str().unwrap()])
        .env("SIGNET_KEY_PASSPHRASE", PASSPHRASE)
        .output()
        .unwrap();
    let out = stdout(&o);
    assert!(out.contains("key_passphrase") && out.contains("set"), "{out}");
    assert!(!out.contains(PASSPHRASE));
}

#[test]
fn relative_paths_resolve_against_the_config_folder_and_a_profile_gets_a_token() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("prof-client", "p256.pkcs8.pem", None);
    std::fs::create_dir_all(sb.path().join("conf/keys")).unwrap();
    std::fs::copy(fixture("p256.pkcs8.pem"), sb.path().join("conf/keys/app.pem")).unwrap();
    let cfg = write_config(&sb, &format!(
        "[profile.prod]\nkey = \"keys/app.pem\"\nclient_id = \"prof-client\"\ntoken_url = \"{}\"\nscope = [\"a\", \"b\"]\nparam = {{ resource = \"urn:x\" }}\n",
        iss.token_url()
    ));
    // run from another folder: the key path is the config folder's
    let o = sb
        .signet()
        .current_dir("/")
        .args(["token", "--profile", "prod", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let r = &iss.recorded()[0];
    assert!(
        r.body.contains("scope=a+b") && r.body.contains("resource=urn%3Ax"),
        "{}",
        r.body
    );
    let v = show(&sb, &cfg, &["--profile", "prod"], &[]);
    assert_eq!(
        v["settings"]["key"]["value"],
        sb.path().join("conf/keys/app.pem").to_str().unwrap()
    );
}

#[test]
fn profile_naming_a_template_gets_a_token() {
    let sb = Sandbox::new();
    let t = signet::template::load("keycloak").unwrap();
    let vars = t
        .check_vars(&[
            ("base".into(), "https://sso.example.com".into()),
            ("realm".into(), "acme".into()),
        ])
        .unwrap();
    let b = load("rsa2048.pkcs8.pem", None, None);
    let iss = signet::issuer::Issuer::start(signet::issuer::IssuerConfig::for_template(
        &t,
        &vars,
        vec![signet::issuer::Client::from_bundle("kc", &b, None)],
    ))
    .unwrap();
    let cfg = write_config(&sb, &format!(
        "[profile.nightly]\ntemplate = \"keycloak\"\nkey = \"{}\"\nclient_id = \"kc\"\ntoken_url = \"{}\"\n\n[profile.nightly.vars]\nbase = \"https://sso.example.com\"\nrealm = \"acme\"\n",
        fixture_str("rsa2048.pkcs8.pem"), iss.token_url()
    ));
    let o = sb
        .signet()
        .args(["token", "--config", cfg.to_str().unwrap()])
        .env("SIGNET_PROFILE", "nightly")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn bad_config_files_are_exact_errors() {
    let sb = Sandbox::new();
    for (text, needles) in [
        (
            "[profile.ci]\nalg = \"RS256\"\ntoken_uri = \"x\"\n",
            vec!["token_uri", ":3"],
        ),
        ("[profile.ci]\nlifetime = true\n", vec!["lifetime", ":2"]),
        (
            "[profile.ci]\npassphrase = \"hunter2\"\n",
            vec!["passphrase", "key_passphrase_file"],
        ),
        ("[profile.ci\nalg = 1\n", vec!["config.toml:1"]),
        ("alg = \"RS256\"\n", vec!["profile"]),
    ] {
        let cfg = write_config(&sb, text);
        let o = sb
            .signet()
            .args(["config", "show", "--profile", "ci", "--config", cfg.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{text}");
        let err = stderr(&o);
        for n in needles {
            assert!(err.contains(n), "{text}: {n}: {err}");
        }
        assert!(!err.contains("hunter2"));
    }
    let cfg = write_config(&sb, "[profile.ci]\nalg = \"RS256\"\n");
    let o = sb
        .signet()
        .args(["config", "show", "--profile", "prod", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("'prod' not found") && stderr(&o).contains("ci"),
        "{}",
        stderr(&o)
    );
    let o = sb
        .signet()
        .args(["config", "show", "--config", "/nonexistent/config.toml"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn passphrase_by_reference_and_world_readable_config_warning() {
    let sb = Sandbox::new();
    let cfg = write_config(&sb, &format!(
        "[profile.enc]\nkey = \"{}\"\npassphrase_env = \"MY_KEY_PASS\"\nclient_id = \"c\"\naudience = \"a\"\n[profile.file]\nkey = \"{}\"\nkey_passphrase_file = \"{}\"\nclient_id = \"c\"\naudience = \"a\"\n",
        fixture_str("rsa2048.enc.pem"), fixture_str("rsa2048.enc.pem"), fixture_str("passphrase.txt")
    ));
    let o = sb
        .signet()
        .args(["assert", "--profile", "enc", "--config", cfg.to_str().unwrap()])
        .env("MY_KEY_PASS", PASSPHRASE)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let o = sb
        .signet()
        .args(["assert", "--profile", "file", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).is_empty());
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = sb
        .signet()
        .args(["assert", "--profile", "file", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(
        stderr(&o).contains("warning:") && stderr(&o).contains("readable by group or others"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn config_path_and_default_location() {
    let sb = Sandbox::new();
    let o = sb.signet().args(["config", "path"]).output().unwrap();
    assert_eq!(
        stdout(&o).trim(),
        sb.path().join("xdg-config/signet/config.toml").to_str().unwrap()
    );
    let o = sb
        .signet()
        .args(["config", "path"])
        .env("SIGNET_CONFIG", "/etc/signet.toml")
        .output()
        .unwrap();
    assert_eq!(stdout(&o).trim(), "/etc/signet.toml");
}

#[test]
fn completions_for_every_shell() {
    let sb = Sandbox::new();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let o = sb.signet().args(["completions", shell]).output().unwrap();
        assert!(o.status.success(), "{shell}");
        let out = stdout(&o);
        assert!(
            out.contains("signet") && out.contains("token") && out.contains("key-passphrase-file"),
            "{shell}"
        );
    }
    let o = sb.signet().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn verbose_logs_show_steps_and_no_secret() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("vv", "rsa2048.enc.pem", None);
    let run = || {
        sb.signet()
            .args([
                "-vv",
                "token",
                "--key",
                &fixture_str("rsa2048.enc.pem"),
                "--client-id",
                "vv",
                "--token-url",
                iss.token_url(),
            ])
            .env("SIGNET_KEY_PASSPHRASE", PASSPHRASE)
            .output()
            .unwrap()
    };
    let first = run();
    let second = run();
    assert!(first.status.success(), "{}", stderr(&first));
    let log = format!("{}{}", stderr(&first), stderr(&second));
    for step in [
        "setting token_url",
        "cache miss",
        "loaded an RSA-2048 key",
        "POST ",
        "HTTP 200",
        "cache hit",
    ] {
        assert!(log.contains(step), "{step}: {log}");
    }
    let token = stdout(&first).trim().to_string();
    let r = &iss.recorded()[0];
    let assertion = url::form_urlencoded::parse(r.body.as_bytes())
        .find(|(k, _)| k == "client_assertion")
        .unwrap()
        .1
        .into_owned();
    assert_no_secrets(
        &log,
        &[
            &token[..30],
            &token[token.len() - 30..],
            &assertion[assertion.len() - 30..],
        ],
    );
}

#[test]
fn verbose_logs_the_format_that_is_used() {
    let sb = Sandbox::new();
    // Nothing listens on port 1: the exchange fails after the settings are resolved and logged.
    let o = sb
        .signet()
        .args(["-v", "token", "--format", "json", "--no-cache", "--client-id", "c"])
        .args(["--token-url", "http://127.0.0.1:1/t", "--timeout", "1"])
        .arg("--key")
        .arg(fixture("p256.pkcs8.pem"))
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(err.contains("setting format = json (flag)"), "{err}");
}
