use crate::common::*;
use std::io::Write;

fn b64d(s: &str) -> Vec<u8> {
    signet::b64::decode(s).unwrap()
}

/// DER-encodes a raw r‖s ECDSA signature, which is what openssl verifies.
fn ecdsa_der(raw: &[u8]) -> Vec<u8> {
    let half = raw.len() / 2;
    let int = |b: &[u8]| {
        let mut b = b.iter().skip_while(|&&x| x == 0).copied().collect::<Vec<u8>>();
        if b.is_empty() || b[0] & 0x80 != 0 {
            b.insert(0, 0);
        }
        let mut out = vec![0x02, b.len() as u8];
        out.extend(b);
        out
    };
    let mut body = int(&raw[..half]);
    body.extend(int(&raw[half..]));
    let mut out = vec![0x30];
    if body.len() > 127 {
        out.extend([0x81, body.len() as u8]);
    } else {
        out.push(body.len() as u8);
    }
    out.extend(body);
    out
}

/// Verifies a compact JWS with the openssl CLI: an implementation other than signet's.
pub fn openssl_verify(jwt: &str, pubkey: &std::path::Path) {
    let jwt = jwt.trim();
    let (input, sig) = jwt.rsplit_once('.').unwrap();
    let alg = decode(jwt).header["alg"].as_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let inp = dir.path().join("input");
    let sigf = dir.path().join("sig");
    std::fs::File::create(&inp)
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let raw = b64d(sig);
    let sig_bytes = if alg.starts_with("ES") { ecdsa_der(&raw) } else { raw };
    std::fs::write(&sigf, sig_bytes).unwrap();
    let (p, i, s) = (pubkey.to_str().unwrap(), inp.to_str().unwrap(), sigf.to_str().unwrap());
    let digest = format!("-sha{}", &alg[2..]);
    match alg.as_str() {
        "EdDSA" => {
            openssl(&[
                "pkeyutl", "-verify", "-pubin", "-inkey", p, "-rawin", "-in", i, "-sigfile", s,
            ]);
        }
        a if a.starts_with("PS") => {
            openssl(&[
                "dgst",
                &digest,
                "-verify",
                p,
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                "rsa_pss_saltlen:digest",
                "-signature",
                s,
                i,
            ]);
        }
        _ => {
            openssl(&["dgst", &digest, "-verify", p, "-signature", s, i]);
        }
    }
}

fn assert_ok(sb: &Sandbox, args: &[&str]) -> String {
    let o = sb
        .signet()
        .arg("assert")
        .args(args)
        .env("SIGNET_KEY_PASSPHRASE", PASSPHRASE)
        .output()
        .unwrap();
    assert!(o.status.success(), "signet assert {args:?}: {}", stderr(&o));
    stdout(&o)
}

#[test]
fn every_algorithm_verifies_with_openssl() {
    let sb = Sandbox::new();
    let cases = [
        ("rsa2048.pkcs8.pem", "rsa2048.pub.pem", "RS256"),
        ("rsa2048.pkcs8.pem", "rsa2048.pub.pem", "RS384"),
        ("rsa2048.pkcs8.pem", "rsa2048.pub.pem", "RS512"),
        ("rsa2048.pkcs1.pem", "rsa2048.pub.pem", "PS256"),
        ("rsa2048.pkcs1.pem", "rsa2048.pub.pem", "PS384"),
        ("rsa2048.pkcs1.pem", "rsa2048.pub.pem", "PS512"),
        ("p256.sec1.pem", "p256.pub.pem", "ES256"),
        ("p384.pkcs8.pem", "p384.pub.pem", "ES384"),
        ("ed25519.pkcs8.pem", "ed25519.pub.pem", "EdDSA"),
    ];
    for (key, public, alg) in cases {
        let jwt = assert_ok(
            &sb,
            &[
                "--key",
                &fixture_str(key),
                "--client-id",
                "c1",
                "--audience",
                "https://idp.example/token",
                "--alg",
                alg,
            ],
        );
        let d = decode(&jwt);
        assert_eq!(d.header["alg"], alg);
        assert_eq!(d.header["typ"], "JWT");
        openssl_verify(&jwt, &fixture(public));
    }
}

#[test]
fn default_algorithm_follows_the_key_type() {
    let sb = Sandbox::new();
    for (key, alg) in [
        ("rsa2048.pkcs8.pem", "RS256"),
        ("p256.pkcs8.pem", "ES256"),
        ("p384.sec1.pem", "ES384"),
        ("ed25519.pkcs8.pem", "EdDSA"),
    ] {
        let jwt = assert_ok(
            &sb,
            &["--key", &fixture_str(key), "--client-id", "c", "--audience", "a"],
        );
        assert_eq!(decode(&jwt).header["alg"], alg, "{key}");
    }
}

#[test]
fn claims_are_as_asked_and_jti_is_fresh() {
    let sb = Sandbox::new();
    let args = [
        "--key",
        &fixture_str("rsa2048.pkcs8.pem"),
        "--client-id",
        "my-client",
        "--token-url",
        "https://idp.example/oauth2/token",
        "--lifetime",
        "90",
        "--claim",
        "n=42",
        "--claim",
        "s=plain text",
        "--claim",
        "o={\"a\":[1]}",
    ];
    let a = decode(&assert_ok(&sb, &args));
    let b = decode(&assert_ok(&sb, &args));
    let c = &a.claims;
    assert_eq!(c["iss"], "my-client");
    assert_eq!(c["sub"], "my-client");
    assert_eq!(
        c["aud"], "https://idp.example/oauth2/token",
        "audience defaults to the token URL"
    );
    let now = signet::clock::now();
    let iat = c["iat"].as_i64().unwrap();
    assert!((iat - now).abs() <= 5);
    assert_eq!(c["nbf"].as_i64().unwrap(), iat);
    assert_eq!(c["exp"].as_i64().unwrap() - iat, 90);
    assert_eq!(c["n"], 42);
    assert_eq!(c["s"], "plain text");
    assert_eq!(c["o"]["a"][0], 1);
    let jti = c["jti"].as_str().unwrap();
    let u = uuid::Uuid::parse_str(jti).unwrap();
    assert_eq!(u.get_version_num(), 4);
    assert_ne!(jti, b.claims["jti"].as_str().unwrap());
}

/// --no-nbf, from the flag, a profile or a template (some validators refuse a fresh nbf).
#[test]
fn no_nbf_leaves_nbf_out_from_a_flag_or_a_template() {
    let sb = Sandbox::new();
    let base = [
        "--key",
        &fixture_str("p256.pkcs8.pem"),
        "--client-id",
        "c",
        "--audience",
        "https://idp.example/token",
    ];
    let with = decode(&assert_ok(&sb, &base)).claims;
    assert_eq!(with["nbf"], with["iat"], "nbf is sent unless asked otherwise");
    let without = decode(&assert_ok(&sb, &[&base[..], &["--no-nbf"]].concat())).claims;
    assert!(without.get("nbf").is_none(), "{without:?}");
    assert!(without.get("iat").is_some() && without.get("exp").is_some());
    let t = sb.path().join("no-nbf.toml");
    std::fs::write(
        &t,
        "name = \"no-nbf\"\ndescription = \"a validator that refuses nbf\"\ndocs = []\ngrant = \"client-credentials\"\nno_nbf = true\n",
    )
    .unwrap();
    let from_template = decode(&assert_ok(
        &sb,
        &[&base[..], &["--template", t.to_str().unwrap()]].concat(),
    ))
    .claims;
    assert!(from_template.get("nbf").is_none(), "{from_template:?}");
    // the token flow too: the embedded issuer takes an assertion without nbf, as from MSAL
    let iss = issuer_trusting("c", "p256.pkcs8.pem", None);
    let o = sb
        .token_cmd("p256.pkcs8.pem", "c", iss.token_url())
        .args(["--no-nbf", "--no-cache"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let sent = url::form_urlencoded::parse(iss.recorded()[0].body.as_bytes())
        .find(|(k, _)| k == "client_assertion")
        .unwrap()
        .1
        .into_owned();
    assert!(decode(&sent).claims.get("nbf").is_none());
}

#[test]
fn default_lifetime_is_120_and_issuer_subject_override() {
    let sb = Sandbox::new();
    let jwt = assert_ok(
        &sb,
        &[
            "--key",
            &fixture_str("p256.pkcs8.pem"),
            "--client-id",
            "c",
            "--issuer",
            "i",
            "--subject",
            "JDE_USER",
            "--audience",
            "a",
        ],
    );
    let c = decode(&jwt).claims;
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 120);
    assert_eq!(
        (c["iss"].as_str().unwrap(), c["sub"].as_str().unwrap()),
        ("i", "JDE_USER")
    );
}

fn openssl_fp(cert: &str, algo: &str) -> Vec<u8> {
    let out = openssl(&["x509", "-in", &fixture_str(cert), "-noout", "-fingerprint", algo]);
    let hex = out.trim().split('=').nth(1).unwrap().replace(':', "");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn kid_rules_match_openssl_fingerprints() {
    let sb = Sandbox::new();
    let key = fixture_str("rsa2048.pkcs8.pem");
    let cert = fixture_str("rsa2048.crt.pem");
    let kid = |rule: Option<&str>| {
        let mut args = vec!["--key", &key, "--cert", &cert, "--client-id", "c", "--audience", "a"];
        if let Some(r) = rule {
            args.extend(["--kid-from", r]);
        }
        decode(&assert_ok(&sb, &args))
            .header
            .get("kid")
            .map(|v| v.as_str().unwrap().to_string())
    };
    let sha1 = openssl_fp("rsa2048.crt.pem", "-sha1");
    let sha256 = openssl_fp("rsa2048.crt.pem", "-sha256");
    let hex: String = sha1.iter().map(|b| format!("{b:02X}")).collect();
    assert_eq!(
        kid(None).unwrap(),
        hex,
        "default kid with a certificate is the upper-case hex SHA-1"
    );
    assert_eq!(kid(Some("hex-sha1")).unwrap(), hex);
    assert_eq!(kid(Some("x5t")).unwrap(), signet::b64::encode(&sha1));
    assert_eq!(kid(Some("x5t-s256")).unwrap(), signet::b64::encode(&sha256));
    assert_eq!(kid(Some("none")), None);
    // spki-s256: SHA-256 of the SubjectPublicKeyInfo DER, computed with openssl
    let spki = std::process::Command::new("openssl")
        .args([
            "pkey",
            "-pubin",
            "-in",
            &fixture_str("rsa2048.pub.pem"),
            "-outform",
            "DER",
        ])
        .output()
        .unwrap()
        .stdout;
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &spki);
    assert_eq!(kid(Some("spki-s256")).unwrap(), signet::b64::encode(d.as_ref()));
    // without a certificate the default is the JWK thumbprint, which must equal jwk rule
    let jwk_kid =
        decode(&assert_ok(&sb, &["--key", &key, "--client-id", "c", "--audience", "a"])).header["kid"].clone();
    assert_eq!(jwk_kid.as_str().unwrap(), kid(Some("jwk")).unwrap());
    // explicit kid wins
    let explicit = decode(&assert_ok(
        &sb,
        &[
            "--key",
            &key,
            "--kid",
            "okta-key-1",
            "--client-id",
            "c",
            "--audience",
            "a",
        ],
    ));
    assert_eq!(explicit.header["kid"], "okta-key-1");
}

#[test]
fn x5t_headers_and_x5c_chain_leaf_first() {
    let sb = Sandbox::new();
    let sha1 = openssl_fp("leaf.crt.pem", "-sha1");
    let sha256 = openssl_fp("leaf.crt.pem", "-sha256");
    for (key, pass) in [("leaf-chain.pfx", true), ("leaf-bundle.pem", false)] {
        let mut c = sb.signet();
        c.args([
            "assert",
            "--key",
            &fixture_str(key),
            "--client-id",
            "c",
            "--audience",
            "a",
            "--x5t",
            "--x5t-s256",
            "--x5c",
        ]);
        if pass {
            c.env("SIGNET_KEY_PASSPHRASE", PASSPHRASE);
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{key}: {}", stderr(&o));
        let h = decode(&stdout(&o)).header;
        assert_eq!(h["x5t"].as_str().unwrap(), signet::b64::encode(&sha1), "{key}");
        assert_eq!(h["x5t#S256"].as_str().unwrap(), signet::b64::encode(&sha256), "{key}");
        let x5c: Vec<String> = h["x5c"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(x5c.len(), 2, "{key}: leaf and CA");
        use base64::Engine;
        let leaf_der = base64::engine::general_purpose::STANDARD.decode(&x5c[0]).unwrap();
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &leaf_der);
        assert_eq!(d.as_ref(), sha1.as_slice(), "{key}: x5c[0] is the leaf");
    }
}

#[test]
fn every_key_format_loads_and_signs() {
    let sb = Sandbox::new();
    let pubkey = fixture("rsa2048.pub.pem");
    for key in [
        "rsa2048.pkcs1.pem",
        "rsa2048.pkcs8.pem",
        "rsa2048.enc.pem",
        "rsa2048.enc-scrypt.pem",
        "rsa2048.modern.pfx",
        "rsa2048.legacy.pfx",
        "rsa2048.nopass.pfx",
        "rsa2048-bundle-clcerts.pem",
        "service-account.json",
    ] {
        let mut c = sb.signet();
        c.args([
            "assert",
            "--key",
            &fixture_str(key),
            "--client-id",
            "c",
            "--audience",
            "a",
        ]);
        if key != "rsa2048.nopass.pfx" {
            c.env("SIGNET_KEY_PASSPHRASE", PASSPHRASE);
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{key}: {}", stderr(&o));
        openssl_verify(&stdout(&o), &pubkey);
    }
}

#[test]
fn rsa_keys_ring_refuses_are_signed_by_aws_lc() {
    // *ring* signs RSA keys with e >= 65537 and up to 4096 bits; others (here e = 3) fall back to
    // AWS-LC. Both paths must produce signatures another implementation accepts. On a CPU with
    // AVX-512 IFMA, AWS-LC signs the keys *ring* takes too (src/key/rsa_crt.rs).
    #[cfg(target_arch = "x86_64")]
    let ifma = std::arch::is_x86_feature_detected!("avx512ifma") && std::arch::is_x86_feature_detected!("avx512vl");
    #[cfg(not(target_arch = "x86_64"))]
    let ifma = false;
    let fast = if ifma { "aws-lc" } else { "ring" };
    let sb = Sandbox::new();
    let e3 = sb.path().join("rsa-e3.pem");
    let e3_pub = sb.path().join("rsa-e3.pub.pem");
    let e3_s = e3.to_str().unwrap();
    openssl(&[
        "genpkey",
        "-quiet",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-pkeyopt",
        "rsa_keygen_pubexp:3",
        "-out",
        e3_s,
    ]);
    openssl(&["pkey", "-in", e3_s, "-pubout", "-out", e3_pub.to_str().unwrap()]);
    let e3_pkcs1 = sb.path().join("rsa-e3.pkcs1.pem");
    openssl(&["rsa", "-in", e3_s, "-traditional", "-out", e3_pkcs1.to_str().unwrap()]);
    let cases = [
        (e3_s.to_string(), e3_pub.clone(), "aws-lc"),
        (e3_pkcs1.to_str().unwrap().to_string(), e3_pub.clone(), "aws-lc"),
        (fixture_str("rsa2048.pkcs8.pem"), fixture("rsa2048.pub.pem"), fast),
        (fixture_str("rsa2048.pkcs1.pem"), fixture("rsa2048.pub.pem"), fast),
        (fixture_str("rsa3072.pkcs8.pem"), sb.path().join("unused"), fast),
    ];
    for (key, public, backend) in cases {
        for alg in ["RS256", "PS384"] {
            let o = sb
                .signet()
                .args([
                    "-vv",
                    "assert",
                    "--key",
                    &key,
                    "--client-id",
                    "c",
                    "--audience",
                    "a",
                    "--alg",
                    alg,
                ])
                .output()
                .unwrap();
            assert!(o.status.success(), "{key} {alg}: {}", stderr(&o));
            assert!(
                stderr(&o).contains(&format!("signs with {backend}")),
                "{key}: expected {backend}: {}",
                stderr(&o)
            );
            if key.contains("e3") || key.contains("rsa2048") {
                openssl_verify(&stdout(&o), &public);
            }
        }
    }
}

#[test]
fn pfx_brings_its_certificate_for_the_kid() {
    let sb = Sandbox::new();
    let o = sb
        .signet()
        .args([
            "assert",
            "--key",
            &fixture_str("rsa2048.modern.pfx"),
            "--client-id",
            "c",
            "--audience",
            "a",
        ])
        .env("SIGNET_KEY_PASSPHRASE", PASSPHRASE)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let hex: String = openssl_fp("rsa2048.crt.pem", "-sha1")
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    assert_eq!(decode(&stdout(&o)).header["kid"], hex.as_str());
}

#[test]
fn passphrase_file_with_crlf_and_lf() {
    let sb = Sandbox::new();
    for f in ["passphrase.txt", "passphrase-crlf.txt"] {
        let o = sb
            .signet()
            .args([
                "assert",
                "--key",
                &fixture_str("rsa2048.enc.pem"),
                "--key-passphrase-file",
                &fixture_str(f),
                "--client-id",
                "c",
                "--audience",
                "a",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{f}: {}", stderr(&o));
    }
}

#[test]
fn service_account_file_gives_kid_and_client_id() {
    let sb = Sandbox::new();
    let sa: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("service-account.json")).unwrap()).unwrap();
    let jwt = assert_ok(
        &sb,
        &[
            "--key",
            &fixture_str("service-account.json"),
            "--audience",
            "https://oauth2.googleapis.com/token",
        ],
    );
    let d = decode(&jwt);
    assert_eq!(d.header["kid"], sa["private_key_id"]);
    assert_eq!(d.claims["iss"], sa["client_email"]);
}

#[test]
fn key_and_certificate_from_environment() {
    let sb = Sandbox::new();
    let o = sb
        .signet()
        .arg("assert")
        .env("SIGNET_KEY", fixture("p256.pkcs8.pem"))
        .env("SIGNET_CERT", fixture("p256.crt.pem"))
        .env("SIGNET_CLIENT_ID", "env-client")
        .env("SIGNET_AUDIENCE", "env-aud")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let d = decode(&stdout(&o));
    assert_eq!(d.claims["iss"], "env-client");
    assert_eq!(d.claims["aud"], "env-aud");
    assert_eq!(d.header["kid"].as_str().unwrap().len(), 40);
}

#[test]
fn windows_kid_pasted_with_colons_is_normalised_and_wrong_one_refused() {
    let sb = Sandbox::new();
    let hex: String = openssl_fp("rsa2048.crt.pem", "-sha1")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let pasted = format!(
        "\u{200E}{}",
        hex.as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join(":")
    );
    let o = sb
        .signet()
        .args([
            "assert",
            "--key",
            &fixture_str("rsa2048.pkcs8.pem"),
            "--cert",
            &fixture_str("rsa2048.crt.pem"),
            "--kid",
            &pasted,
            "--client-id",
            "c",
            "--audience",
            "a",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(decode(&stdout(&o)).header["kid"], hex.to_uppercase().as_str());
    assert!(stderr(&o).starts_with("warning: "), "{}", stderr(&o));
    let o = sb
        .signet()
        .args([
            "assert",
            "--key",
            &fixture_str("rsa2048.pkcs8.pem"),
            "--cert",
            &fixture_str("rsa2048.crt.pem"),
            "--kid",
            &"AB".repeat(20),
            "--client-id",
            "c",
            "--audience",
            "a",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("matches none"), "{}", stderr(&o));
}

#[test]
fn kid_and_kid_from_the_higher_layer_wins_the_same_layer_disagrees() {
    let sb = Sandbox::new();
    let key = fixture_str("rsa2048.pkcs8.pem");
    let base = ["assert", "--key", &key, "--client-id", "c", "--audience", "a"];
    // A flag beats an environment variable, whichever of the two names the kid.
    let o = sb
        .signet()
        .args(base)
        .args(["--kid-from", "none"])
        .env("SIGNET_KID", "from-env")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        decode(&stdout(&o)).header.get("kid").is_none(),
        "--kid-from none drops SIGNET_KID"
    );
    let o = sb
        .signet()
        .args(base)
        .args(["--kid-from", "jwk"])
        .env("SIGNET_KID", "from-env")
        .output()
        .unwrap();
    let jwk = load("rsa2048.pkcs8.pem", None, None).key.public_jwk().thumbprint();
    assert_eq!(decode(&stdout(&o)).header["kid"], jwk.as_str());
    // Both on the command line: they disagree, exit 2 with one error line.
    let o = sb
        .signet()
        .args(base)
        .args(["--kid", "k1", "--kid-from", "none"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.starts_with("error: ") && err.contains("--kid-from"), "{err}");
    assert_eq!(err.lines().filter(|l| l.starts_with("error: ")).count(), 1, "{err}");
}

#[test]
fn explicit_kid_of_forty_hex_digits_is_kept_as_written_without_a_certificate() {
    // Google's private_key_id is forty lower-case hex digits, compared as written.
    let sb = Sandbox::new();
    let kid = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432";
    let o = sb
        .signet()
        .args(["assert", "--key", &fixture_str("rsa2048.pkcs8.pem"), "--kid", kid])
        .args(["--client-id", "c", "--audience", "a"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(decode(&stdout(&o)).header["kid"], kid);
    assert!(stderr(&o).is_empty(), "no warning: {}", stderr(&o));
}

#[test]
fn claim_may_not_replace_the_registered_claims() {
    let sb = Sandbox::new();
    for (claim, hint) in [
        ("jti=fixed", "fresh UUID"),
        ("exp=1", "--lifetime"),
        ("iat=5", "current time"),
        ("nbf=5", "current time"),
        ("iss=x", "--issuer"),
        ("sub=x", "--subject"),
        ("aud=x", "--audience"),
    ] {
        let o = sb
            .signet()
            .args(["assert", "--key", &fixture_str("rsa2048.pkcs8.pem"), "--claim", claim])
            .args(["--client-id", "c", "--audience", "a"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "--claim {claim}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.starts_with("error: --claim ") && err.contains(hint), "{err}");
        assert!(o.stdout.is_empty());
    }
}

#[test]
fn encrypted_pkcs8_of_older_openssl_loads_or_is_named() {
    // OpenSSL 1.0 wrote PBES2 with an HMAC-SHA-1 PRF, or PBES1 with -v1: the first is read,
    // the second is named with the command that converts it (exit 3), not called malformed.
    let sb = Sandbox::new();
    let src = fixture_str("rsa2048.pkcs8.pem");
    let sha1 = sb.path().join("prf-sha1.pem");
    let pbes1 = sb.path().join("pbes1.pem");
    let pass = format!("pass:{PASSPHRASE}");
    let s = |p: &std::path::Path| p.to_str().unwrap().to_string();
    openssl(&[
        "pkcs8",
        "-topk8",
        "-in",
        &src,
        "-v2",
        "aes-128-cbc",
        "-v2prf",
        "hmacWithSHA1",
        "-passout",
        &pass,
        "-out",
        &s(&sha1),
    ]);
    openssl(&[
        "pkcs8",
        "-topk8",
        "-in",
        &src,
        "-v1",
        "PBE-SHA1-3DES",
        "-passout",
        &pass,
        "-out",
        &s(&pbes1),
    ]);
    let run = |key: &std::path::Path| {
        sb.signet()
            .args(["assert", "--key", &s(key), "--client-id", "c", "--audience", "a"])
            .env("SIGNET_KEY_PASSPHRASE", PASSPHRASE)
            .output()
            .unwrap()
    };
    let o = run(&sha1);
    assert!(o.status.success(), "{}", stderr(&o));
    openssl_verify(&stdout(&o), &fixture("rsa2048.pub.pem"));
    let o = run(&pbes1);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.starts_with("error: ") && err.contains("3DES") && err.contains("openssl pkcs8 -topk8"),
        "{err}"
    );
    assert_no_secrets(&err, &[]);
}

#[test]
fn cert_chain_file_listing_the_ca_first_is_put_leaf_first() {
    let sb = Sandbox::new();
    let read = |n: &str| std::fs::read_to_string(fixture(n)).unwrap();
    let chain = sb.path().join("ca-then-leaf.pem");
    std::fs::write(&chain, read("ca.crt.pem") + &read("leaf.crt.pem")).unwrap();
    let jwt = assert_ok(
        &sb,
        &[
            "--key",
            &fixture_str("leaf.pkcs8.pem"),
            "--cert",
            chain.to_str().unwrap(),
            "--x5c",
            "--client-id",
            "c",
            "--audience",
            "a",
        ],
    );
    let h = decode(&jwt).header;
    let leaf_sha1: String = openssl_fp("leaf.crt.pem", "-sha1")
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    assert_eq!(h["kid"], leaf_sha1.as_str(), "the kid names the leaf");
    assert_eq!(h["x5c"].as_array().unwrap().len(), 2, "the CA stays in the chain");
}

#[test]
fn empty_identity_values_are_usage_errors() {
    // `--client-id "$UNSET"` must not sign an assertion with an empty iss.
    let sb = Sandbox::new();
    for flag in ["--client-id", "--issuer", "--subject", "--audience", "--kid"] {
        let mut args = vec!["assert", "--key", "K", flag, ""];
        let key = fixture_str("rsa2048.pkcs8.pem");
        args[2] = &key;
        if flag != "--client-id" {
            args.extend(["--client-id", "c"]);
        }
        if flag != "--audience" {
            args.extend(["--audience", "a"]);
        }
        let o = sb.signet().args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{flag}: {}", stderr(&o));
        assert!(
            stderr(&o).starts_with(&format!("error: {flag} is empty")),
            "{}",
            stderr(&o)
        );
        assert!(o.stdout.is_empty());
    }
}

/// `assert` signs and caches nothing: a shared-cache setting it never uses (here without the key
/// the cache would need) does not stop it.
#[test]
fn assert_ignores_cache_settings() {
    let sb = Sandbox::new();
    let o = sb
        .signet()
        .args(["assert", "--key"])
        .arg(fixture("p256.pkcs8.pem"))
        .args(["--client-id", "c", "--audience", "https://idp.example/token"])
        .env("SIGNET_CACHE_URL", "redis://127.0.0.1:1/0")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("eyJ"));
}
