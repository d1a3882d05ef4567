//! Onboarding: public JWKs for registration, `check`, certificate validity.

use crate::common::*;
use serde_json::Value;

#[test]
fn jwk_is_public_and_its_thumbprint_is_rfc7638() {
    let sb = Sandbox::new();
    for key in ["rsa2048.pkcs8.pem", "p256.pkcs8.pem", "ed25519.pkcs8.pem"] {
        let o = sb
            .signet()
            .args(["jwk", "--key", &fixture_str(key), "--kid-from", "jwk"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(v.get(private).is_none(), "{key}: {private}");
        }
        assert_eq!(v["use"], "sig");
        // an independent RFC 7638 computation: required members, sorted, no whitespace
        let members: Vec<&str> = match v["kty"].as_str().unwrap() {
            "RSA" => vec!["e", "kty", "n"],
            "EC" => vec!["crv", "kty", "x", "y"],
            _ => vec!["crv", "kty", "x"],
        };
        let canon = format!(
            "{{{}}}",
            members
                .iter()
                .map(|m| format!("\"{m}\":\"{}\"", v[*m].as_str().unwrap()))
                .collect::<Vec<_>>()
                .join(",")
        );
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canon.as_bytes());
        assert_eq!(v["kid"].as_str().unwrap(), signet::b64::encode(d.as_ref()), "{key}");
    }
}

#[test]
fn jwks_for_rotation_and_from_certificates() {
    let sb = Sandbox::new();
    let o = sb
        .signet()
        .args([
            "jwks",
            "--key",
            &fixture_str("rsa2048.pkcs8.pem"),
            "--cert",
            &fixture_str("rsa2048.crt.pem"),
            "--key",
            &fixture_str("rsa2048-b.pkcs8.pem"),
            "--cert",
            &fixture_str("rsa2048-b.crt.pem"),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let keys = v["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_ne!(keys[0]["kid"], keys[1]["kid"]);
    assert!(keys
        .iter()
        .all(|k| k["x5c"].as_array().is_some_and(|a| a.len() == 1) && k["alg"] == "RS256"));
    let o = sb
        .signet()
        .args(["jwks", "--cert", &fixture_str("p256.crt.pem")])
        .output()
        .unwrap();
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["keys"][0]["crv"], "P-256");
    assert_eq!(v["keys"][0]["kid"].as_str().unwrap().len(), 40);
    let o = sb
        .signet()
        .args([
            "jwk",
            "--key",
            &fixture_str("p256.pkcs8.pem"),
            "--key",
            &fixture_str("p384.pkcs8.pem"),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_jwk_from_signet_is_accepted_by_oidc_provider() {
    let sb = Sandbox::new();
    let o = sb
        .signet()
        .args(["jwk", "--key", &fixture_str("p384.pkcs8.pem")])
        .output()
        .unwrap();
    let jwk: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let p = crate::oidc::start(serde_json::json!([{
        "client_id": "jwk-client", "token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_signing_alg": "ES384",
        "jwks": {"keys": [jwk]}, "grant_types": ["client_credentials"], "response_types": [], "redirect_uris": [], "scope": "api:read",
    }]));
    let o = sb
        .token_cmd("p384.pkcs8.pem", "jwk-client", &p.token_url)
        .args(["--scope", "api:read"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

/// `signet check --key <fixture key> --client-id c` and `extra`.
fn check(sb: &Sandbox, key: &str, extra: &[&str]) -> std::process::Output {
    sb.signet()
        .args(["check", "--key", &fixture_str(key), "--client-id", "c"])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn check_reports_and_exits_0_or_3() {
    let sb = Sandbox::new();
    let o = check(
        &sb,
        "rsa2048.pkcs8.pem",
        &[
            "--cert",
            &fixture_str("rsa2048.crt.pem"),
            "--template",
            "entra-id",
            "--var",
            "tenant=t",
            "--format",
            "json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["alg"], "PS256");
    assert!(v["certificate"]["expires_in"].as_u64().unwrap() > 86400 * 300);
    let o = check(
        &sb,
        "rsa2048.pkcs8.pem",
        &["--cert", &fixture_str("rsa2048-b.crt.pem"), "--audience", "a"],
    );
    assert_eq!(o.status.code(), Some(3));
    let o = check(&sb, "rsa1024.pkcs8.pem", &["--audience", "a"]);
    assert_eq!(o.status.code(), Some(3));
    let o = check(&sb, "p256.pkcs8.pem", &["--template", "salesforce", "--subject", "u"]);
    assert_eq!(o.status.code(), Some(2), "ES256 at Salesforce: {}", stderr(&o));
}

/// Certificates outside their validity, made with openssl at test time.
#[test]
fn expired_and_not_yet_valid_certificates_exit_3_and_expiry_warns() {
    let sb = Sandbox::new();
    let key = fixture_str("rsa2048.pkcs8.pem");
    let make = |name: &str, start: &str, end: &str| {
        let cfg = sb.path().join("ca.cnf");
        std::fs::write(&cfg, format!("[ca]\ndefault_ca=d\n[d]\ndatabase={0}/index.txt\nnew_certs_dir={0}\nserial={0}/serial\ndefault_md=sha256\npolicy=p\nunique_subject=no\n[p]\ncommonName=supplied\n", sb.path().display())).unwrap();
        std::fs::write(sb.path().join("index.txt"), "").unwrap();
        std::fs::write(sb.path().join("serial"), "01\n").unwrap();
        let csr = sb.path().join(format!("{name}.csr"));
        openssl(&[
            "req",
            "-new",
            "-key",
            &key,
            "-subj",
            &format!("/CN={name}"),
            "-out",
            csr.to_str().unwrap(),
        ]);
        let out = sb.path().join(format!("{name}.pem"));
        openssl(&[
            "ca",
            "-batch",
            "-config",
            cfg.to_str().unwrap(),
            "-selfsign",
            "-keyfile",
            &key,
            "-in",
            csr.to_str().unwrap(),
            "-startdate",
            start,
            "-enddate",
            end,
            "-out",
            out.to_str().unwrap(),
        ]);
        out
    };
    let expired = make("expired", "20200101000000Z", "20210101000000Z");
    let future = make("future", "20990101000000Z", "20991231000000Z");
    let soon = {
        let t = time::OffsetDateTime::now_utc() + time::Duration::days(5);
        make(
            "soon",
            "20200101000000Z",
            &format!("{:04}{:02}{:02}000000Z", t.year(), t.month() as u8, t.day()),
        )
    };
    for (cert, needle) in [(&expired, "expired"), (&future, "not yet valid")] {
        let o = sb
            .signet()
            .args([
                "assert",
                "--key",
                &key,
                "--cert",
                cert.to_str().unwrap(),
                "--client-id",
                "c",
                "--audience",
                "a",
            ])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
        assert!(
            stderr(&o).contains(needle) && stderr(&o).contains("valid from"),
            "{}",
            stderr(&o)
        );
    }
    let o = sb
        .signet()
        .args([
            "assert",
            "--key",
            &key,
            "--cert",
            soon.to_str().unwrap(),
            "--client-id",
            "c",
            "--audience",
            "a",
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(
        stderr(&o).contains("warning: the certificate") && stderr(&o).contains("expires in"),
        "{}",
        stderr(&o)
    );
}

/// --warn-expiry is a setting of every command that signs (default 14 days), not only of `check`.
/// The fixture certificate ends in 2036: a limit of 100000 days (274 years) puts it inside.
#[test]
fn warn_expiry_applies_to_every_signing_command() {
    let sb = Sandbox::new();
    let key = fixture_str("rsa2048.pkcs8.pem");
    let cert = fixture_str("rsa2048.crt.pem");
    let iss = issuer_trusting("c", "rsa2048.pkcs8.pem", Some("rsa2048.crt.pem"));
    let signing = [
        "--key",
        &key,
        "--cert",
        &cert,
        "--client-id",
        "c",
        "--token-url",
        iss.token_url(),
    ];
    let run = |cmd: &str, extra: &[&str]| {
        let o = sb
            .signet()
            .arg(cmd)
            .args(signing)
            .args(["--no-cache"].iter().filter(|_| cmd == "token"))
            .args(extra)
            .output()
            .unwrap();
        (o.status.code(), stderr(&o))
    };
    for cmd in ["assert", "token", "check"] {
        let (code, err) = run(cmd, &[]);
        assert_eq!(code, Some(0), "{cmd}: {err}");
        assert!(!err.contains("expires in"), "{cmd}, default 14 days: {err}");
        let (code, err) = run(cmd, &["--warn-expiry", "100000"]);
        assert_eq!(code, Some(0), "{cmd}: {err}");
        assert_eq!(
            err.lines()
                .filter(|l| l.starts_with("warning: the certificate") && l.contains("expires in"))
                .count(),
            1,
            "{cmd}: one warning: {err}"
        );
    }
    // from a profile, and the bad value names its origin
    let cfg = sb.path().join("config.toml");
    std::fs::write(&cfg, "[profile.default]\nwarn_expiry = 100000\n").unwrap();
    let o = sb
        .signet()
        .args(["--config", cfg.to_str().unwrap(), "assert"])
        .args(signing)
        .output()
        .unwrap();
    assert!(
        o.status.success() && stderr(&o).contains("expires in"),
        "{}",
        stderr(&o)
    );
    let (code, err) = run("assert", &["--warn-expiry", "soon"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.starts_with("error: invalid --warn-expiry 'soon'"), "{err}");
}

#[test]
fn keygen_for_each_algorithm_is_read_back_by_openssl_and_signs() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    for alg in ["RS256", "PS256", "ES256", "ES384", "EdDSA"] {
        let out = sb.path().join(alg);
        let o = sb
            .signet()
            .args([
                "keygen",
                "--alg",
                alg,
                "--subject",
                "CN=nightly,O=Example",
                "--days",
                "30",
                "--out",
                out.to_str().unwrap(),
                "--pfx",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{alg}: {}", stderr(&o));
        // an empty PFX password is said, with the way to set one (issue 20)
        assert!(
            stderr(&o).contains("warning: ") && stderr(&o).contains("empty password"),
            "{alg}: {}",
            stderr(&o)
        );
        assert!(stderr(&o).contains("--key-passphrase-file"), "{}", stderr(&o));
        let summary = stdout(&o);
        let key = out.join("key.pem");
        let cert = out.join("cert.pem");
        let pfx = out.join("key.pfx");
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600,
            "{alg}"
        );
        assert_eq!(
            std::fs::metadata(&pfx).unwrap().permissions().mode() & 0o777,
            0o600,
            "{alg}"
        );
        openssl(&["pkey", "-in", key.to_str().unwrap(), "-noout"]);
        let subject = openssl(&["x509", "-in", cert.to_str().unwrap(), "-noout", "-subject"]);
        assert!(
            subject.contains("CN = nightly") || subject.contains("CN=nightly"),
            "{subject}"
        );
        // the certificate's public key is the key's
        let pub_from_key = openssl(&["pkey", "-in", key.to_str().unwrap(), "-pubout"]);
        let pub_from_cert = openssl(&["x509", "-in", cert.to_str().unwrap(), "-noout", "-pubkey"]);
        assert_eq!(pub_from_key, pub_from_cert, "{alg}");
        openssl(&["pkcs12", "-in", pfx.to_str().unwrap(), "-passin", "pass:", "-noout"]);
        // the summary carries the SHA-1 thumbprint openssl computes
        let fp = openssl(&["x509", "-in", cert.to_str().unwrap(), "-noout", "-fingerprint", "-sha1"]);
        assert!(
            summary.contains(&fp.trim().split('=').nth(1).unwrap().replace(':', "")),
            "{summary}"
        );
        // and signet signs with what it made, checked by openssl
        let o = sb
            .signet()
            .args([
                "assert",
                "--key",
                pfx.to_str().unwrap(),
                "--alg",
                alg,
                "--client-id",
                "c",
                "--audience",
                "a",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{alg}: {}", stderr(&o));
        let pubf = out.join("pub.pem");
        std::fs::write(&pubf, pub_from_key).unwrap();
        crate::assert::openssl_verify(&stdout(&o), &pubf);
    }
}

#[test]
fn keygen_encrypts_with_a_passphrase_writes_legacy_pfx_and_never_overwrites() {
    let sb = Sandbox::new();
    let out = sb.path().join("k");
    let o = sb
        .signet()
        .args([
            "keygen",
            "--alg",
            "ES256",
            "--out",
            out.to_str().unwrap(),
            "--pfx",
            "--legacy",
        ])
        .env("SIGNET_KEY_PASSPHRASE", PASSPHRASE)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("empty password"), "{}", stderr(&o));
    let key = std::fs::read_to_string(out.join("key.pem")).unwrap();
    assert!(key.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    openssl(&[
        "pkey",
        "-in",
        out.join("key.pem").to_str().unwrap(),
        "-passin",
        &format!("pass:{PASSPHRASE}"),
        "-noout",
    ]);
    let info = std::process::Command::new("openssl")
        .args([
            "pkcs12",
            "-info",
            "-legacy",
            "-in",
            out.join("key.pfx").to_str().unwrap(),
            "-passin",
            &format!("pass:{PASSPHRASE}"),
            "-noout",
        ])
        .output()
        .unwrap();
    assert!(info.status.success());
    assert!(
        String::from_utf8_lossy(&info.stderr).contains("3DES")
            || String::from_utf8_lossy(&info.stderr).contains("TripleDES"),
        "{}",
        String::from_utf8_lossy(&info.stderr)
    );
    let before = std::fs::read(out.join("key.pem")).unwrap();
    let o = sb
        .signet()
        .args(["keygen", "--alg", "ES256", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("never overwrites"), "{}", stderr(&o));
    assert_eq!(std::fs::read(out.join("key.pem")).unwrap(), before);
    let o = sb
        .signet()
        .args([
            "keygen",
            "--alg",
            "RS256",
            "--bits",
            "1024",
            "--out",
            sb.path().join("w").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn rotation_tries_the_other_key_once_when_the_newest_is_unknown() {
    let sb = Sandbox::new();
    // the issuer knows only key B (the one being retired); key A has a certificate made now,
    // newer than B's, so it is preferred and refused as unknown first
    let iss = issuer_trusting("rot", "rsa2048-b.pkcs8.pem", Some("rsa2048-b.crt.pem"));
    let a_cert = sb.path().join("a.crt.pem");
    openssl(&[
        "req",
        "-new",
        "-x509",
        "-key",
        &fixture_str("rsa2048.pkcs8.pem"),
        "-days",
        "30",
        "-subj",
        "/CN=new-key",
        "-out",
        a_cert.to_str().unwrap(),
    ]);
    let o = sb
        .signet()
        .args([
            "token",
            "--client-id",
            "rot",
            "--token-url",
            iss.token_url(),
            "--key",
            &fixture_str("rsa2048.pkcs8.pem"),
            "--cert",
            a_cert.to_str().unwrap(),
            "--key",
            &fixture_str("rsa2048-b.pkcs8.pem"),
            "--cert",
            &fixture_str("rsa2048-b.crt.pem"),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(iss.request_count(), 2);
    let err = stderr(&o);
    assert!(
        err.contains("warning:") && err.contains("rsa2048-b.pkcs8.pem worked"),
        "{err}"
    );
    // when the issuer knows the newest key, one request and no warning
    let b = signet::key::load_bundle(&fixture("rsa2048.pkcs8.pem"), None, Some(&a_cert)).unwrap();
    let iss2 = signet::issuer::Issuer::start(signet::issuer::IssuerConfig {
        clients: vec![signet::issuer::Client::from_bundle("rot", &b, None)],
        ..Default::default()
    })
    .unwrap();
    let o = sb
        .signet()
        .args([
            "token",
            "--no-cache",
            "--client-id",
            "rot",
            "--token-url",
            iss2.token_url(),
            "--key",
            &fixture_str("rsa2048-b.pkcs8.pem"),
            "--cert",
            &fixture_str("rsa2048-b.crt.pem"),
            "--key",
            &fixture_str("rsa2048.pkcs8.pem"),
            "--cert",
            a_cert.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(iss2.request_count(), 1);
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
}
