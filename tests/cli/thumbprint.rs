use crate::common::*;

fn fp(cert: &str, algo: &str) -> String {
    let out = openssl(&["x509", "-in", &fixture_str(cert), "-noout", "-fingerprint", algo]);
    out.trim().split('=').nth(1).unwrap().replace(':', "")
}

fn bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn run(sb: &Sandbox, args: &[&str]) -> String {
    let o = sb
        .signet()
        .arg("thumbprint")
        .args(args)
        .env("SIGNET_KEY_PASSPHRASE", PASSPHRASE)
        .output()
        .unwrap();
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    stdout(&o).trim().to_string()
}

#[test]
fn thumbprints_equal_openssl_for_every_source() {
    let sb = Sandbox::new();
    let sha1 = fp("rsa2048.crt.pem", "-sha1");
    let sha256 = fp("rsa2048.crt.pem", "-sha256");
    for src in [
        "rsa2048.crt.pem",
        "rsa2048.crt.der",
        "rsa2048.modern.pfx",
        "rsa2048-bundle-clcerts.pem",
    ] {
        assert_eq!(run(&sb, &["--cert", &fixture_str(src)]), sha1, "{src}");
        assert_eq!(
            run(&sb, &["--cert", &fixture_str(src), "--format", "x5t"]),
            signet::b64::encode(bytes(&sha1))
        );
        assert_eq!(
            run(&sb, &["--cert", &fixture_str(src), "--format", "x5t-s256"]),
            signet::b64::encode(bytes(&sha256))
        );
    }
}

#[test]
fn all_lists_every_id_with_its_providers() {
    let sb = Sandbox::new();
    for cert in ["rsa2048.crt.pem", "p256.crt.pem", "ed25519.crt.pem", "p384.crt.pem"] {
        let out = run(&sb, &["--cert", &fixture_str(cert), "--format", "all"]);
        assert!(out.contains(&fp(cert, "-sha1")), "{out}");
        for label in [
            "hex-sha1",
            "x5t",
            "x5t-s256",
            "spki-s256",
            "jwk",
            "Entra",
            "Keycloak",
            "Okta",
            "1E",
        ] {
            assert!(out.contains(label), "{cert}: {label}: {out}");
        }
        assert!(!out.contains("unsupported"), "{out}");
    }
}

#[test]
fn jwk_thumbprint_of_certificate_equals_the_keys() {
    let sb = Sandbox::new();
    for (key, cert) in [
        ("rsa2048.pkcs8.pem", "rsa2048.crt.pem"),
        ("p256.pkcs8.pem", "p256.crt.pem"),
        ("ed25519.pkcs8.pem", "ed25519.crt.pem"),
    ] {
        let from_cert = run(&sb, &["--cert", &fixture_str(cert), "--format", "jwk"]);
        let from_key = load(key, None, None).key.public_jwk().thumbprint();
        assert_eq!(from_cert, from_key, "{cert}");
    }
}

#[test]
fn bad_format_and_missing_cert() {
    let sb = Sandbox::new();
    let o = sb
        .signet()
        .args([
            "thumbprint",
            "--cert",
            &fixture_str("rsa2048.crt.pem"),
            "--format",
            "md5",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = sb
        .signet()
        .args(["thumbprint", "--cert", "/nonexistent.pem"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    let o = sb
        .signet()
        .args(["thumbprint", "--cert", &fixture_str("not-a-key.txt")])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
}

#[test]
fn bundle_with_the_ca_first_and_certificate_only_pfx_give_the_leaf() {
    let sb = Sandbox::new();
    let leaf = fp("leaf.crt.pem", "-sha1");
    let read = |n: &str| std::fs::read_to_string(fixture(n)).unwrap();
    // CA first, then the leaf, then its key: the id is the leaf's, as `signet assert` would use.
    let bundle = sb.path().join("ca-first.pem");
    std::fs::write(
        &bundle,
        read("ca.crt.pem") + &read("leaf.crt.pem") + &read("leaf.pkcs8.pem"),
    )
    .unwrap();
    assert_eq!(run(&sb, &["--cert", bundle.to_str().unwrap()]), leaf);
    // A PKCS#12 holding only a certificate (`openssl pkcs12 -export -nokeys`).
    let pfx = sb.path().join("cert-only.pfx");
    openssl(&[
        "pkcs12",
        "-export",
        "-nokeys",
        "-in",
        &fixture_str("leaf.crt.pem"),
        "-passout",
        "pass:",
        "-out",
        pfx.to_str().unwrap(),
    ]);
    let o = sb
        .signet()
        .args(["thumbprint", "--cert", pfx.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), leaf);
}
