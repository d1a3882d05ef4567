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

/// Which templates send each id, read from templates/*.toml as text (not through signet's own
/// template code): `kid_from` (a literal rule, or a variable's default and choices), `send` and
/// `alg_send`. Keyed by the id's `--kid-from` name.
fn ids_sent_by_templates() -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut by_id: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> = Default::default();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let t: toml::Table = toml::from_str(&std::fs::read_to_string(entry.path()).unwrap()).unwrap();
        let name = t["name"].as_str().unwrap().to_string();
        let mut ids: Vec<String> = vec![];
        if let Some(k) = t.get("kid_from").and_then(|k| k.as_str()) {
            if let Some(var) = k.strip_prefix('{').and_then(|k| k.strip_suffix('}')) {
                let v = &t["vars"][var];
                ids.extend(v.get("default").and_then(|d| d.as_str()).map(String::from));
                for c in v.get("choices").and_then(|c| c.as_array()).into_iter().flatten() {
                    ids.push(c.as_str().unwrap().to_string());
                }
            } else {
                ids.push(k.to_string());
            }
        }
        let mut headers: Vec<&toml::Value> = t.get("send").and_then(|s| s.as_array()).into_iter().flatten().collect();
        for hs in t
            .get("alg_send")
            .and_then(|a| a.as_table())
            .into_iter()
            .flat_map(|a| a.values())
        {
            headers.extend(hs.as_array().unwrap());
        }
        for h in headers {
            match h.as_str().unwrap() {
                "x5t" => ids.push("x5t".into()),
                "x5t#S256" => ids.push("x5t-s256".into()),
                _ => {}
            }
        }
        for id in ids.into_iter().filter(|i| i != "none") {
            by_id.entry(id).or_default().insert(name.clone());
        }
    }
    by_id
}

#[test]
fn all_names_only_the_templates_that_send_each_id() {
    let sb = Sandbox::new();
    let out = run(&sb, &["--cert", &fixture_str("rsa2048.crt.pem"), "--format", "all"]);
    let expected = ids_sent_by_templates();
    // The templates that send something are a few; the check below would pass trivially without them.
    assert!(
        expected.get("x5t").is_some_and(|t| t.contains("entra-id")),
        "{expected:?}"
    );
    let mut id = String::new();
    let mut seen = 0;
    for line in out.lines() {
        if !line.starts_with(' ') && !line.starts_with("certificate:") {
            id = line.split_whitespace().next().unwrap().to_string();
        }
        if let Some(list) = line.trim().strip_prefix("templates: ") {
            seen += 1;
            let named: std::collections::BTreeSet<String> = if list == "none" {
                Default::default()
            } else {
                // "entra-id (x5t header with RS256), 1e (kid with --var kid_format=x5t)"
                list.split("), ")
                    .map(|t| t.split(" (").next().unwrap().to_string())
                    .collect()
            };
            assert_eq!(named, expected.get(&id).cloned().unwrap_or_default(), "{id}: {out}");
        }
    }
    assert_eq!(seen, 5, "{out}");
    // r20 item 9: AIS checks the certificate from its keystore and sends neither kid nor x5t.
    assert!(!out.contains("JD Edwards") && !out.contains("jde-ais"), "{out}");
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
