use crate::common::*;

#[test]
fn inspect_shows_header_claims_and_expiry_in_words() {
    let sb = Sandbox::new();
    let o = sb
        .signet()
        .args([
            "assert",
            "--key",
            &fixture_str("p256.pkcs8.pem"),
            "--client-id",
            "c",
            "--audience",
            "a",
            "--lifetime",
            "300",
        ])
        .output()
        .unwrap();
    let jwt = stdout(&o);
    let o = sb.signet().args(["inspect", jwt.trim()]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("\"alg\": \"ES256\""), "{out}");
    assert!(out.contains("\"iss\": \"c\""), "{out}");
    assert!(out.contains("expires in 4m") || out.contains("expires in 5m"), "{out}");
    assert!(out.contains("not verified"), "{out}");
    // from stdin too
    let o = sb.signet().arg("inspect").write_stdin(jwt.clone()).output().unwrap();
    assert!(o.status.success());
    assert_eq!(stdout(&o), out);
}

#[test]
fn inspect_says_expired_ago() {
    let header = signet::b64::encode(r#"{"alg":"none"}"#);
    let exp = signet::clock::now() - 3 * 3600 - 30;
    let payload = signet::b64::encode(format!(r#"{{"exp":{exp}}}"#));
    let sb = Sandbox::new();
    let o = sb
        .signet()
        .args(["inspect", &format!("{header}.{payload}.")])
        .output()
        .unwrap();
    assert!(stdout(&o).contains("expired 3h ago"), "{}", stdout(&o));
}

#[test]
fn garbage_gets_one_line_error_never_a_panic() {
    let sb = Sandbox::new();
    for junk in [
        "",
        "abc",
        "a.b",
        "a.b.c",
        "eyJ.eyJ.e",
        "....",
        "\u{1F600}.\u{1F600}.x",
        "eyJhIjoxfQ.bm90IGpzb24.AA",
    ] {
        let o = sb.signet().arg("inspect").write_stdin(junk).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{junk:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.starts_with("error: ") && err.lines().count() == 1,
            "{junk:?}: {err}"
        );
    }
}
