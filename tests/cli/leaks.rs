use crate::common::*;

/// Every bad input of the suite's key tests, run once more: nothing secret on either stream.
#[test]
fn bad_inputs_never_print_key_material_or_passphrases() {
    let sb = Sandbox::new();
    let cases: Vec<(Vec<String>, Option<&str>)> = vec![
        (
            vec!["--key".into(), fixture_str("rsa2048.enc.pem")],
            Some("wrong-passphrase-123"),
        ),
        (vec!["--key".into(), fixture_str("rsa2048.enc.pem")], None),
        (
            vec!["--key".into(), fixture_str("rsa2048.modern.pfx")],
            Some("wrong-passphrase-123"),
        ),
        (
            vec![
                "--key".into(),
                fixture_str("rsa2048.pkcs8.pem"),
                "--alg".into(),
                "ES256".into(),
            ],
            None,
        ),
        (
            vec![
                "--key".into(),
                fixture_str("rsa2048.pkcs8.pem"),
                "--cert".into(),
                fixture_str("rsa2048-b.crt.pem"),
            ],
            None,
        ),
        (vec!["--key".into(), fixture_str("rsa1024.pkcs8.pem")], None),
        (vec!["--key".into(), fixture_str("rsa2048.rc4.pfx")], Some(PASSPHRASE)),
        (
            vec![
                "--key".into(),
                fixture_str("p256.pkcs8.pem"),
                "--kid-from".into(),
                "x5t".into(),
            ],
            None,
        ),
    ];
    for (args, pass) in cases {
        for verbose in ["-vv", "-q"] {
            let mut c = sb.signet();
            c.arg(verbose)
                .arg("assert")
                .args(&args)
                .args(["--client-id", "c", "--audience", "a"]);
            if let Some(p) = pass {
                c.env("SIGNET_KEY_PASSPHRASE", p);
            }
            let o = c.output().unwrap();
            assert!(!o.status.success());
            let all = format!("{}{}", stdout(&o), stderr(&o));
            assert_no_secrets(&all, &[pass.unwrap_or("")]);
        }
    }
}

#[test]
fn debug_output_of_keys_and_secrets_is_redacted() {
    let b = load("rsa2048.enc.pem", Some("rsa2048.crt.pem"), Some(PASSPHRASE));
    let dbg = format!("{b:?}");
    assert_no_secrets(&dbg, &[]);
    let signer = signet::Signer::new(b, None, &Default::default()).unwrap();
    let jwt = signer.sign(&signet::Claims::new("c", "a"), 1).unwrap();
    assert!(!format!("{jwt:?} {signer:?}").contains(jwt.expose().as_str()));
    let pass = signet::key::read_passphrase_file(&fixture("passphrase.txt")).unwrap();
    assert_eq!(pass.expose(), PASSPHRASE);
    assert!(!format!("{pass:?}").contains(PASSPHRASE));
    let e = signet::key::load_key(&fixture("rsa2048.enc.pem"), Some(&signet::Secret::new("nope".into()))).unwrap_err();
    assert!(!format!("{e:?} {e}").contains("nope"));
}

#[test]
fn a_key_readable_by_others_is_warned_about() {
    let sb = Sandbox::new();
    let k = sb.copy("p256.pkcs8.pem", 0o644);
    let o = sb
        .signet()
        .args([
            "assert",
            "--key",
            k.to_str().unwrap(),
            "--client-id",
            "c",
            "--audience",
            "a",
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(
        stderr(&o).contains("warning: the private key") && stderr(&o).contains("chmod 600"),
        "{}",
        stderr(&o)
    );
    let k = sb.copy("ed25519.pkcs8.pem", 0o600);
    let o = sb
        .signet()
        .args([
            "assert",
            "--key",
            k.to_str().unwrap(),
            "--client-id",
            "c",
            "--audience",
            "a",
        ])
        .output()
        .unwrap();
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
}

#[test]
fn the_passphrase_cannot_be_a_flag_value() {
    let sb = Sandbox::new();
    for flag in ["--key-passphrase", "--passphrase", "--pass"] {
        let o = sb
            .signet()
            .args(["assert", "--key", &fixture_str("rsa2048.enc.pem"), flag, PASSPHRASE])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{flag}");
    }
}

/// `signet exec` used to hand the child every secret signet read from its environment.
#[test]
fn exec_child_gets_the_token_but_not_signets_secrets() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("ci", "rsa2048.pkcs8.pem", None);
    let cfg = sb.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[profile.enc]\nkey = \"{}\"\npassphrase_env = \"MY_KEY_PASS\"\nclient_id = \"ci\"\ntoken_url = \"{}\"\n",
            fixture_str("rsa2048.enc.pem"),
            iss.token_url()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &cfg,
        <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o600),
    )
    .unwrap();
    let secrets = [
        ("SIGNET_PKCS11_PIN", "pin-4711"),
        ("SIGNET_CACHE_KEY", "/nonexistent/cache-key-4711"),
        ("SIGNET_CACHE_PASSWORD", "cache-pass-4711"),
    ];
    let check = |o: std::process::Output, names: &[&str]| {
        assert!(o.status.success(), "{}", stderr(&o));
        let out = stdout(&o);
        assert!(out.contains("SIGNET_TOKEN="), "{out}");
        for n in names {
            assert!(!out.contains(&format!("{n}=")), "{n} reached the child: {out}");
        }
        assert!(!out.contains(PASSPHRASE) && !out.contains("4711"), "{out}");
    };
    // the passphrase in SIGNET_KEY_PASSPHRASE
    let mut c = sb.signet();
    c.args([
        "exec",
        "--key",
        &fixture_str("rsa2048.enc.pem"),
        "--client-id",
        "ci",
        "--token-url",
        iss.token_url(),
        "--",
        "env",
    ])
    .env("SIGNET_KEY_PASSPHRASE", PASSPHRASE)
    .envs(secrets);
    check(
        c.output().unwrap(),
        &[
            "SIGNET_KEY_PASSPHRASE",
            "SIGNET_PKCS11_PIN",
            "SIGNET_CACHE_KEY",
            "SIGNET_CACHE_PASSWORD",
        ],
    );
    // the passphrase in the variable a profile names
    let mut c = sb.signet();
    c.args([
        "exec",
        "--config",
        cfg.to_str().unwrap(),
        "--profile",
        "enc",
        "--",
        "env",
    ])
    .env("MY_KEY_PASS", PASSPHRASE);
    check(c.output().unwrap(), &["MY_KEY_PASS"]);
}

/// The Redis password in SIGNET_CACHE_URL used to be shown by `config show` and `-v`, and the
/// PIN of a refused `pin-value=` by its error, `-vv` and `config show`.
#[test]
fn config_show_and_verbose_never_print_the_redis_password_or_a_pin_value() {
    let sb = Sandbox::new();
    let url = "redis://app:redis-pw-4711@127.0.0.1:1/0";
    let key = "pkcs11:object=k?pin-value=pin-4711";
    let o = sb
        .signet()
        .args(["config", "show", "--key", key])
        .env("SIGNET_CACHE_URL", url)
        .output()
        .unwrap();
    let out = stdout(&o);
    assert!(out.contains("redis://app:****@127.0.0.1:1/0"), "{out}");
    assert!(out.contains("pin-value=****"), "{out}");
    assert!(
        !out.contains("4711") && !stderr(&o).contains("4711"),
        "{out}{}",
        stderr(&o)
    );
    let o = sb
        .signet()
        .args(["assert", "-vv", "--key", key, "--client-id", "c", "--audience", "a"])
        .env("SIGNET_CACHE_URL", url)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("pin-value is refused"), "{err}");
    assert!(!err.contains("4711") && !stdout(&o).contains("4711"), "{err}");
}

/// A server on 127.0.0.1 that answers 400 with the assertion it received echoed by `echo`.
fn echo_server(echo: fn(&str) -> serde_json::Value) -> String {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/token", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten().take(20) {
            let mut buf = vec![0u8; 65536];
            let _ = c.set_read_timeout(Some(std::time::Duration::from_millis(300)));
            let mut got = Vec::new();
            while let Ok(n) = c.read(&mut buf) {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
                if String::from_utf8_lossy(&got).contains("client_assertion=") && got.ends_with(b"") {
                    let t = String::from_utf8_lossy(&got);
                    let a = t.split("client_assertion=").nth(1).unwrap_or("");
                    let a: String = a
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
                        .collect();
                    if a.matches('.').count() >= 2 && !a.ends_with('.') {
                        break;
                    }
                }
            }
            let t = String::from_utf8_lossy(&got).to_string();
            let a = t.split("client_assertion=").nth(1).unwrap_or("");
            let a: String = a
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
                .collect();
            let body = echo(&a).to_string();
            let _ = c.write_all(
                format!(
                    "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
        }
    });
    url
}

#[test]
fn an_assertion_echoed_in_an_oauth_error_is_never_printed() {
    let echoes: [fn(&str) -> serde_json::Value; 4] = [
        |a| serde_json::json!({"error": "invalid_client", "error_description": format!("bad assertion {a}")}),
        |a| serde_json::json!({"error": "invalid_client", "error_description": format!("bad {}", &a[3..a.len() - 5])}),
        |a| {
            let (x, y) = a.split_at(a.len() / 2);
            serde_json::json!({"error": format!("invalid_client {}", &x[4..]), "error_description": y})
        },
        |a| serde_json::json!({"error": "invalid_client", "error_description": format!("x{}", &a[10..])}),
    ];
    for echo in echoes {
        let sb = Sandbox::new();
        let url = echo_server(echo);
        let o = sb
            .token_cmd("p256.pkcs8.pem", "c", &url)
            .args(["--timeout", "5", "--retries", "0"])
            .output()
            .unwrap();
        let err = stderr(&o);
        assert!(!o.status.success(), "{err}");
        assert!(err.contains("invalid_client"), "{err}");
        // no run of 16 characters of any JWT part survives
        for w in err.split(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c))) {
            for part in w.split('.') {
                assert!(part.len() < 16 || !part.starts_with("eyJ"), "{err}");
            }
            assert!(w.len() < 24, "a long base64url run in: {err}");
        }
    }
}
