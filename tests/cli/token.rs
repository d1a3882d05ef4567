use crate::common::*;
use serde_json::{json, Value};
use signet::issuer::{AnswerFormat, Fault};
use std::time::Duration;

const KEY: &str = "rsa2048.pkcs8.pem";
const CERT: &str = "rsa2048.crt.pem";

fn token_cmd(sb: &Sandbox, url: &str, extra: &[&str]) -> std::process::Output {
    sb.token_cmd(KEY, "app-1", url)
        .args(["--no-cache", "--cert", &fixture_str(CERT)])
        .args(extra)
        .output()
        .unwrap()
}

fn form(body: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body.as_bytes()).into_owned().collect()
}

#[test]
fn client_credentials_sends_rfc7523_form_and_prints_token() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("app-1", KEY, Some(CERT));
    let o = token_cmd(
        &sb,
        iss.token_url(),
        &[
            "--scope",
            "api.read",
            "--scope",
            "api.write",
            "--param",
            "resource=urn:x",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let tok = stdout(&o);
    assert_eq!(tok.lines().count(), 1);
    let claims = decode(&tok).claims;
    assert_eq!(claims["sub"], "app-1");
    let r = &iss.recorded()[0];
    let f = form(&r.body);
    let get = |k: &str| f.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("grant_type").as_deref(), Some("client_credentials"));
    assert_eq!(
        get("client_assertion_type").as_deref(),
        Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    );
    assert_eq!(get("scope").as_deref(), Some("api.read api.write"));
    assert_eq!(get("resource").as_deref(), Some("urn:x"));
    let a = decode(&get("client_assertion").unwrap());
    assert_eq!(a.claims["aud"], iss.token_url());
    let ua = r.headers.iter().find(|(k, _)| k == "user-agent").unwrap();
    assert!(ua.1.starts_with("signet/"), "{ua:?}");
}

#[test]
fn jwt_bearer_grant_with_subject() {
    let sb = Sandbox::new();
    let iss = issuer_with("consumer-key", KEY, Some(CERT), |c| {
        c.user = Some("alice@example.com".into())
    });
    let o = sb
        .signet()
        .args([
            "token",
            "--no-cache",
            "--grant",
            "jwt-bearer",
            "--key",
            &fixture_str(KEY),
            "--client-id",
            "consumer-key",
            "--subject",
            "alice@example.com",
            "--token-url",
            iss.token_url(),
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["cached"], false);
    let f = form(&iss.recorded()[0].body);
    assert!(f
        .iter()
        .any(|(k, v)| k == "grant_type" && v == "urn:ietf:params:oauth:grant-type:jwt-bearer"));
    assert!(f.iter().any(|(k, _)| k == "assertion"));
    assert!(!f.iter().any(|(k, _)| k == "client_assertion"));
}

#[test]
fn bearer_header_grant_jde_style() {
    let sb = Sandbox::new();
    let iss = issuer_with("jde", KEY, Some(CERT), |c| {
        c.user = Some("JDEUSER".into());
        c.answer_format = AnswerFormat::Jde;
        c.allow_unnamed_key = true;
        c.expires_in = None;
    });
    let o = sb
        .signet()
        .args([
            "token",
            "--no-cache",
            "--grant",
            "bearer-header",
            "--key",
            &fixture_str(KEY),
            "--issuer",
            "jde",
            "--subject",
            "JDEUSER",
            "--kid-from",
            "none",
            "--token-url",
            iss.token_url(),
            "--token-path",
            "/userInfo/token",
            "--param",
            "deviceName=ci-runner",
            "--param",
            "environment=JDV920",
            "--param",
            "role=*ALL",
            "--format",
            "header",
            "--header-name",
            "jde-AIS-Auth",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let line = stdout(&o);
    assert!(line.starts_with("jde-AIS-Auth: eyJ"), "{line}");
    let r = &iss.recorded()[0];
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        body,
        json!({"deviceName": "ci-runner", "environment": "JDV920", "role": "*ALL"})
    );
    assert!(r
        .headers
        .iter()
        .any(|(k, v)| k == "authorization" && v.starts_with("Bearer eyJ")));
    assert!(r
        .headers
        .iter()
        .any(|(k, v)| k == "content-type" && v.starts_with("application/json")));
}

#[test]
fn json_body_grant_with_plain_text_answer() {
    let sb = Sandbox::new();
    let iss = issuer_with("1e-app", KEY, Some(CERT), |c| {
        c.answer_format = AnswerFormat::Plain;
        c.user = None;
    });
    let o = sb
        .signet()
        .args([
            "token",
            "--no-cache",
            "--grant",
            "json-body",
            "--key",
            &fixture_str(KEY),
            "--cert",
            &fixture_str(CERT),
            "--client-id",
            "1e-app",
            "--token-url",
            iss.token_url(),
            "--token-path",
            "-",
            "--request-header",
            "X-Tachyon-Consumer: nightly",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let r = &iss.recorded()[0];
    assert!(r.body.starts_with("\"eyJ") && r.body.ends_with('"'), "{}", r.body);
    assert!(r
        .headers
        .iter()
        .any(|(k, v)| k == "x-tachyon-consumer" && v == "nightly"));
    assert!(stdout(&o).starts_with("eyJ"));
}

fn refused(sb: &Sandbox, url: &str, fault: Option<Fault>, iss: &signet::issuer::Issuer) -> (i32, String, String) {
    if let Some(f) = fault {
        iss.push_faults([f]);
    }
    let o = token_cmd(sb, url, &["--timeout", "5"]);
    let err = stderr(&o);
    (o.status.code().unwrap(), err, stdout(&o))
}

#[test]
fn refusals_exit_4_with_the_oauth_error() {
    let sb = Sandbox::new();
    // invalid_client: the issuer trusts another key
    let iss = issuer_trusting("app-1", "p256.pkcs8.pem", None);
    let (code, err, out) = refused(&sb, iss.token_url(), None, &iss);
    assert_eq!(code, 4, "{err}");
    assert!(out.is_empty());
    assert!(
        err.starts_with(&format!(
            "error: token request refused at {}: invalid_client: ",
            iss.token_url()
        )),
        "{err}"
    );
    // invalid_grant from the server
    let iss = issuer_trusting("app-1", KEY, Some(CERT));
    let f = Fault::json(
        400,
        json!({"error": "invalid_grant", "error_description": "user not consented\u{1b}[31m"}),
    );
    let (code, err, _) = refused(&sb, iss.token_url(), Some(f), &iss);
    assert_eq!(code, 4);
    assert!(
        err.contains("invalid_grant: user not consented") && !err.contains('\u{1b}'),
        "{err}"
    );
    // 401 without a body
    let f = Fault::Status {
        status: 401,
        body: String::new(),
        content_type: "text/plain".into(),
        retry_after: None,
    };
    let (code, err, _) = refused(&sb, iss.token_url(), Some(f), &iss);
    assert_eq!(code, 4);
    assert!(err.contains("HTTP 401"), "{err}");
    // an HTML error page
    let f = Fault::Status {
        status: 403,
        body: "<html><body><h1>Access denied</h1></body></html>".into(),
        content_type: "text/html".into(),
        retry_after: None,
    };
    let (code, err, _) = refused(&sb, iss.token_url(), Some(f), &iss);
    assert_eq!(code, 4);
    assert!(
        err.contains("HTTP 403") && err.contains("Access denied") && !err.contains("<h1>"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn answers_that_are_not_understood_exit_5() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("app-1", KEY, Some(CERT));
    for (fault, needle) in [
        (Fault::Body(b"<html>maintenance</html>".to_vec()), "not JSON"),
        (Fault::Body(br#"{"token":"x"}"#.to_vec()), "no token at /access_token"),
        (Fault::Body(vec![b'a'; 2 * 1024 * 1024]), "larger than 1024 KiB"),
        (
            Fault::Body(br#"{"access_token":"x","expires_in":-5}"#.to_vec()),
            "expires_in",
        ),
        (Fault::Body(vec![0xff, 0xfe, 0x80]), "not JSON"),
        (Fault::Redirect("https://elsewhere.example/token".into()), "redirect"),
    ] {
        let (code, err, out) = refused(&sb, iss.token_url(), Some(fault), &iss);
        assert_eq!(code, 5, "{err}");
        assert!(out.is_empty());
        assert!(err.contains(needle), "{needle}: {err}");
        assert!(err.contains(iss.token_url()), "{err}");
    }
}

#[test]
fn a_200_with_an_oauth_error_is_a_refusal() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("app-1", KEY, Some(CERT));
    let (code, err, _) = refused(
        &sb,
        iss.token_url(),
        Some(Fault::json(200, json!({"error": "invalid_scope"}))),
        &iss,
    );
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("invalid_scope"));
}

#[test]
fn connection_refused_and_timeout_exit_5() {
    let sb = Sandbox::new();
    let refused = refused_port();
    let url = format!("http://127.0.0.1:{}/token", refused.port);
    let o = token_cmd(&sb, &url, &["--timeout", "2"]);
    assert_eq!(o.status.code(), Some(5));
    assert!(stderr(&o).contains("connection refused"), "{}", stderr(&o));
    let iss = issuer_trusting("app-1", KEY, Some(CERT));
    iss.push_faults([Fault::Delay(Duration::from_secs(4))]);
    let o = token_cmd(&sb, iss.token_url(), &["--timeout", "1"]);
    assert_eq!(o.status.code(), Some(5));
    assert!(stderr(&o).contains("timed out after 1 s"), "{}", stderr(&o));
}

#[test]
fn retries_503_twice_then_succeeds_with_fresh_jtis() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("app-1", KEY, Some(CERT));
    let f = || Fault::Status {
        status: 503,
        body: "busy".into(),
        content_type: "text/plain".into(),
        retry_after: None,
    };
    iss.push_faults([f(), f()]);
    let o = token_cmd(&sb, iss.token_url(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rec = iss.recorded();
    assert_eq!(rec.len(), 3);
    let jtis: std::collections::HashSet<_> = rec.iter().map(|r| r.jti.clone().unwrap()).collect();
    assert_eq!(jtis.len(), 3, "every attempt signs a new assertion");
}

#[test]
fn honours_retry_after_on_429_and_gives_up_within_timeout() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("app-1", KEY, Some(CERT));
    iss.push_faults([Fault::Status {
        status: 429,
        body: "{}".into(),
        content_type: "application/json".into(),
        retry_after: Some("1".into()),
    }]);
    let o = token_cmd(&sb, iss.token_url(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(iss.request_count(), 2);
    // Retry-After beyond the time limit: no pointless wait, exit 5
    iss.push_faults([Fault::Status {
        status: 429,
        body: "{}".into(),
        content_type: "application/json".into(),
        retry_after: Some("60".into()),
    }]);
    let o = token_cmd(&sb, iss.token_url(), &["--timeout", "3"]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(stderr(&o).contains("HTTP 429"), "{}", stderr(&o));
    // 400 is not retried
    let before = iss.request_count();
    iss.push_faults([Fault::json(400, json!({"error": "invalid_request"}))]);
    let o = token_cmd(&sb, iss.token_url(), &[]);
    assert_eq!(o.status.code(), Some(4));
    assert_eq!(iss.request_count(), before + 1);
}

fn busy() -> Fault {
    Fault::Status {
        status: 503,
        body: "busy".into(),
        content_type: "text/plain".into(),
        retry_after: None,
    }
}

/// The contract's "Retries": --retries N (default 3) bounds the attempts, and the error says how many.
#[test]
fn a_503_that_lasts_is_tried_four_times_and_the_error_says_so() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("app-1", KEY, Some(CERT));
    iss.push_faults((0..20).map(|_| busy()));
    let o = token_cmd(&sb, iss.token_url(), &[]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(5), "{err}");
    assert_eq!(iss.request_count(), 4, "default --retries 3: at most 4 attempts");
    assert!(err.contains("HTTP 503 Service Unavailable after 4 attempts"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let jtis: std::collections::HashSet<_> = iss.recorded().iter().map(|r| r.jti.clone().unwrap()).collect();
    assert_eq!(jtis.len(), 4, "a fresh assertion for every attempt");
    // --retries 0: one request
    let o = token_cmd(&sb, iss.token_url(), &["--retries", "0"]);
    assert_eq!(o.status.code(), Some(5));
    assert_eq!(iss.request_count(), 5);
    assert!(stderr(&o).contains("after 1 attempt"), "{}", stderr(&o));
    // SIGNET_RETRIES=1: two
    let o = sb
        .token_cmd(KEY, "app-1", iss.token_url())
        .args(["--no-cache", "--cert", &fixture_str(CERT)])
        .env("SIGNET_RETRIES", "1")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(5));
    assert_eq!(iss.request_count(), 7);
    assert!(stderr(&o).contains("after 2 attempts"), "{}", stderr(&o));
    // not a number: a usage error before anything is sent
    let o = token_cmd(&sb, iss.token_url(), &["--retries", "many"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("retries"), "{}", stderr(&o));
    assert_eq!(iss.request_count(), 7);
}

#[test]
fn connection_refused_is_retried_up_to_retries() {
    let sb = Sandbox::new();
    let refused = refused_port();
    let url = format!("http://127.0.0.1:{}/token", refused.port);
    let o = token_cmd(&sb, &url, &[]);
    assert_eq!(o.status.code(), Some(5));
    assert!(
        stderr(&o).contains("connection refused (after 4 attempts)"),
        "{}",
        stderr(&o)
    );
    let o = token_cmd(&sb, &url, &["--retries", "0"]);
    assert!(
        stderr(&o).contains("connection refused (after 1 attempt)"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn an_unresolvable_host_ends_after_one_attempt() {
    let sb = Sandbox::new();
    // .invalid never resolves (RFC 6761)
    let o = token_cmd(&sb, "https://nonexistent.invalid/token", &[]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(5), "{err}");
    assert!(
        err.contains("the host name could not be resolved (after 1 attempt)"),
        "{err}"
    );
}

#[test]
fn plain_http_to_a_remote_host_is_refused_before_connecting() {
    let sb = Sandbox::new();
    let o = token_cmd(&sb, "http://idp.example.com/token", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("plain http"), "{}", stderr(&o));
    let o = token_cmd(&sb, "not a url", &[]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn clock_skew_is_corrected_once_with_a_warning() {
    let sb = Sandbox::new();
    // The issuer's clock runs 5 minutes ahead: a 120 s assertion looks expired to it.
    let iss = issuer_with("app-1", KEY, Some(CERT), |c| c.clock_offset = 300);
    let o = token_cmd(&sb, iss.token_url(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(iss.request_count(), 2);
    let err = stderr(&o);
    assert!(err.starts_with("warning: ") && err.contains("300 s"), "{err}");
    let second = decode(
        &form(&iss.recorded()[1].body)
            .into_iter()
            .find(|(k, _)| k == "client_assertion")
            .unwrap()
            .1,
    );
    let shifted = second.claims["iat"].as_i64().unwrap() - signet::clock::now();
    assert!((295..=305).contains(&shifted), "{shifted}");
}

#[test]
fn a_date_ten_years_away_is_not_trusted_for_a_skew_correction() {
    for years in [10i64, -10] {
        let sb = Sandbox::new();
        let iss = issuer_with("app-1", KEY, Some(CERT), |c| c.clock_offset = years * 365 * 86400);
        let o = token_cmd(&sb, iss.token_url(), &[]);
        let err = stderr(&o);
        assert!(!o.status.success(), "{err}");
        assert_eq!(iss.request_count(), 1, "{err}");
        assert!(err.contains("clock") && err.contains("not corrected"), "{err}");
        assert!(err.contains(&(years.abs() * 365 * 86400).to_string()), "{err}");
    }
}

#[test]
fn no_output_contains_the_assertion_or_token() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("app-1", KEY, Some(CERT));
    let ok = token_cmd(&sb, iss.token_url(), &[]);
    let token = stdout(&ok).trim().to_string();
    iss.push_faults([Fault::json(
        400,
        json!({"error": "invalid_grant", "error_description": "bad"}),
    )]);
    let o = sb
        .signet()
        .args([
            "-vv",
            "token",
            "--no-cache",
            "--key",
            &fixture_str(KEY),
            "--client-id",
            "app-1",
            "--token-url",
            iss.token_url(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4));
    let assertion = form(&iss.recorded().last().unwrap().body)
        .into_iter()
        .find(|(k, _)| k == "client_assertion")
        .unwrap()
        .1;
    let all = format!("{}{}{}", stdout(&o), stderr(&o), stderr(&ok));
    assert!(!all.contains(&token[..40]));
    assert_no_secrets(&all, &[&assertion[..40], &assertion[assertion.len() - 40..]]);
}

#[test]
fn lifetime_comes_from_the_token_jwt_exp_when_the_answer_has_none() {
    let sb = Sandbox::new();
    let iss = issuer_with("app-1", KEY, Some(CERT), |c| c.expires_in = None);
    let o = token_cmd(&sb, iss.token_url(), &["--format", "json"]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    // the issuer's JWT access tokens live 1800 s when it announces no expires_in
    assert!((1795..=1800).contains(&v["expires_in"].as_u64().unwrap()), "{v}");
    let iss = issuer_with("app-1", KEY, Some(CERT), |c| {
        c.expires_in = None;
        c.opaque_tokens = true;
    });
    let o = token_cmd(&sb, iss.token_url(), &["--format", "json", "--default-ttl", "77"]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!((75..=77).contains(&v["expires_in"].as_u64().unwrap()), "{v}");
}

/// What MSAL Python sends: x5t in standard base64 with padding, fractional NumericDates, no iat.
#[test]
fn the_issuer_accepts_msal_style_assertions() {
    use base64::Engine;
    let iss = issuer_trusting("msal", KEY, Some(CERT));
    let b = load(KEY, Some(CERT), None);
    let sha1 = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, b.leaf().unwrap().der());
    let x5t = base64::engine::general_purpose::STANDARD.encode(sha1.as_ref());
    let now = signet::clock::now() as f64 + 0.25;
    let header = signet::b64::encode(json!({"alg": "RS256", "typ": "JWT", "x5t": x5t}).to_string());
    let payload = signet::b64::encode(
        json!({"iss": "msal", "sub": "msal", "aud": iss.token_url(), "jti": "j-1", "nbf": now, "exp": now + 600.0})
            .to_string(),
    );
    let input = format!("{header}.{payload}");
    let sig = signet::b64::encode(b.key.sign(signet::Alg::RS256, input.as_bytes()).unwrap());
    let jwt = format!("{input}.{sig}");
    let (status, body) = crate::templates::post_form(
        iss.token_url(),
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", signet::grant::CLIENT_ASSERTION_TYPE),
            ("client_assertion", &jwt),
        ],
    );
    assert_eq!(status, 200, "{body}");
}

#[test]
fn https_proxy_is_honoured() {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = format!("http://{}", l.local_addr().unwrap());
    let seen = std::thread::spawn(move || {
        let (mut c, _) = l.accept().unwrap();
        let mut buf = [0u8; 1024];
        let n = c.read(&mut buf).unwrap_or(0);
        let _ = c.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    });
    let sb = Sandbox::new();
    let o = sb
        .token_cmd(KEY, "p", "https://idp.example.com/token")
        .args(["--no-cache", "--timeout", "1"])
        .env("HTTPS_PROXY", &proxy)
        .env_remove("NO_PROXY")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    let request = seen.join().unwrap();
    assert!(request.starts_with("CONNECT idp.example.com:443"), "{request}");
}

/// HTTP_PROXY and ALL_PROXY used to carry a loopback http:// request, assertion included, in
/// clear to the proxy (and signet took the proxy's answer for the token).
#[test]
fn a_proxy_never_sees_a_loopback_or_plain_http_request() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("app-1", KEY, None);
    let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    proxy.set_nonblocking(true).unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    for var in ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"] {
        let o = sb
            .token_cmd(KEY, "app-1", iss.token_url())
            .args(["--no-cache", "--timeout", "3s"])
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .env(var, &proxy_url)
            .output()
            .unwrap();
        assert!(o.status.success(), "{var}: {}", stderr(&o));
        assert!(!stdout(&o).trim().is_empty());
        assert!(proxy.accept().is_err(), "{var}: the request went to the proxy");
    }
}

/// `user:pass@` in a token URL used to appear in errors, -v, config show, cache list, the cache
/// file and the assertion's `aud`.
#[test]
fn credentials_in_the_token_url_are_refused_without_showing_the_password() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("app-1", KEY, None);
    let url = iss.token_url().replacen("http://", "http://admin:hunter2-secret@", 1);
    let o = sb.token_cmd(KEY, "app-1", &url).arg("-vv").output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let (out, err) = (stdout(&o), stderr(&o));
    assert!(err.contains("credentials"), "{err}");
    assert!(!err.contains("hunter2") && !out.contains("hunter2"), "{err}");
    assert!(!sb.cache_dir().exists() || std::fs::read_dir(sb.cache_dir()).unwrap().next().is_none());
    let o = sb
        .signet()
        .args(["config", "show"])
        .env("SIGNET_TOKEN_URL", &url)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(!stdout(&o).contains("hunter2") && !stderr(&o).contains("hunter2"));
}
