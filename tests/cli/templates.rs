use crate::common::*;
use serde_json::{json, Value};
use signet::issuer::{Fault, Issuer};

fn var_args(vars: &[(&str, &str)]) -> Vec<String> {
    vars.iter()
        .flat_map(|(k, v)| ["--var".to_string(), format!("{k}={v}")])
        .collect()
}

fn sent_assertion(iss: &Issuer) -> signet::inspect::Decoded {
    let r = iss.recorded().pop().unwrap();
    let from_form = url::form_urlencoded::parse(r.body.as_bytes())
        .find(|(k, _)| k == "client_assertion" || k == "assertion")
        .map(|(_, v)| v.into_owned());
    let jwt = from_form
        .or_else(|| {
            r.headers
                .iter()
                .find(|(k, _)| k == "authorization")
                .map(|(_, v)| v.trim_start_matches("Bearer ").to_string())
        })
        .or_else(|| serde_json::from_str::<String>(&r.body).ok())
        .unwrap();
    decode(&jwt)
}

fn form_of(iss: &Issuer) -> Vec<(String, String)> {
    url::form_urlencoded::parse(iss.recorded().pop().unwrap().body.as_bytes())
        .into_owned()
        .collect()
}

fn run(sb: &Sandbox, args: &[String]) -> std::process::Output {
    sb.signet().args(args).output().unwrap()
}

/// `signet <cmd> --template <template> --client-id <client_id> --key <key>` and `extra`, with
/// fixture names (`*.pem`, `*.json`) made paths, as in [`args`].
fn tmpl(cmd: &str, template: &str, client_id: &str, key: &str, extra: &[&str]) -> Vec<String> {
    let head = [cmd, "--template", template, "--client-id", client_id, "--key", key];
    args(&[&head[..], extra].concat())
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter()
        .map(|s| {
            if s.ends_with(".pem") || s.ends_with(".json") {
                fixture_str(s)
            } else {
                s.to_string()
            }
        })
        .collect()
}

#[test]
fn entra_id_sends_ps256_with_x5t_s256_and_no_kid() {
    let sb = Sandbox::new();
    let vars = [("tenant", "contoso.onmicrosoft.com")];
    let iss = provider(
        "entra-id",
        &vars,
        "11111111-2222-3333-4444-555555555555",
        "rsa2048.pkcs8.pem",
        Some("rsa2048.crt.pem"),
        |_| {},
    );
    let mut a = tmpl(
        "token",
        "entra-id",
        "11111111-2222-3333-4444-555555555555",
        "rsa2048.pkcs8.pem",
        &[
            "--no-cache",
            "--cert",
            "rsa2048.crt.pem",
            "--scope",
            "https://graph.microsoft.com/.default",
            "--token-url",
            iss.token_url(),
        ],
    );
    a.extend(var_args(&vars));
    let o = run(&sb, &a);
    assert!(o.status.success(), "{}", stderr(&o));
    let d = sent_assertion(&iss);
    let cert = load("rsa2048.pkcs8.pem", Some("rsa2048.crt.pem"), None);
    assert_eq!(d.header["alg"], "PS256");
    assert_eq!(d.header["x5t#S256"], cert.leaf().unwrap().x5t_s256().as_str());
    assert!(d.header.get("kid").is_none() && d.header.get("x5t").is_none());
    assert_eq!(d.claims["aud"], iss.token_url());
    assert_eq!(d.claims["iss"], d.claims["sub"]);
    assert!(form_of(&iss).contains(&("scope".into(), "https://graph.microsoft.com/.default".into())));
    // RS256 (ADFS, Azure Stack) sends x5t instead
    a.extend(["--alg".into(), "RS256".into()]);
    let o = run(&sb, &a);
    assert!(o.status.success(), "{}", stderr(&o));
    let d = sent_assertion(&iss);
    assert_eq!(d.header["alg"], "RS256");
    assert_eq!(d.header["x5t"], cert.leaf().unwrap().x5t().as_str());
    assert!(d.header.get("x5t#S256").is_none());
}

#[test]
fn entra_id_url_and_audience_come_from_the_tenant() {
    let sb = Sandbox::new();
    let o = run(
        &sb,
        &tmpl(
            "assert",
            "entra-id",
            "app",
            "rsa2048.pkcs8.pem",
            &[
                "--var",
                "tenant=contoso",
                "--cert",
                "rsa2048.crt.pem",
                "--scope",
                "api://x/.default",
            ],
        ),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        decode(&stdout(&o)).claims["aud"],
        "https://login.microsoftonline.com/contoso/oauth2/v2.0/token"
    );
    // a missing scope and a missing tenant are named before anything is signed
    let o = run(
        &sb,
        &tmpl(
            "token",
            "entra-id",
            "app",
            "rsa2048.pkcs8.pem",
            &["--var", "tenant=contoso", "--cert", "rsa2048.crt.pem"],
        ),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("scope"), "{}", stderr(&o));
    let o = run(&sb, &tmpl("token", "entra-id", "app", "rsa2048.pkcs8.pem", &[]));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--var tenant") && stderr(&o).contains("entra-id"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn okta_kid_is_the_jwk_thumbprint_and_ps256_is_refused_before_sending() {
    let sb = Sandbox::new();
    let iss = provider(
        "okta",
        &[("domain", "dev-1.okta.com")],
        "0oa1",
        "p256.pkcs8.pem",
        None,
        |_| {},
    );
    let o = run(
        &sb,
        &tmpl(
            "token",
            "okta",
            "0oa1",
            "p256.pkcs8.pem",
            &[
                "--no-cache",
                "--var",
                "domain=dev-1.okta.com",
                "--scope",
                "okta.users.read",
                "--token-url",
                iss.token_url(),
            ],
        ),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let d = sent_assertion(&iss);
    assert_eq!(
        d.header["kid"],
        load("p256.pkcs8.pem", None, None)
            .key
            .public_jwk()
            .thumbprint()
            .as_str()
    );
    assert_eq!(d.header["alg"], "ES256");
    let o = run(
        &sb,
        &tmpl(
            "assert",
            "okta",
            "0oa1",
            "p256.pkcs8.pem",
            &["--var", "domain=dev-1.okta.com", "--var", "server=default"],
        ),
    );
    assert_eq!(
        decode(&stdout(&o)).claims["aud"],
        "https://dev-1.okta.com/oauth2/default/v1/token"
    );
    let before = iss.request_count();
    let o = run(
        &sb,
        &tmpl(
            "token",
            "okta",
            "0oa1",
            "rsa2048.pkcs8.pem",
            &[
                "--var",
                "domain=dev-1.okta.com",
                "--alg",
                "PS256",
                "--scope",
                "x",
                "--token-url",
                iss.token_url(),
            ],
        ),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("Okta") && stderr(&o).contains("PS256"),
        "{}",
        stderr(&o)
    );
    assert_eq!(iss.request_count(), before);
    let o = run(
        &sb,
        &tmpl(
            "token",
            "okta",
            "0oa1",
            "p256.pkcs8.pem",
            &[
                "--var",
                "domain=dev-1.okta.com",
                "--lifetime",
                "7200",
                "--scope",
                "x",
                "--token-url",
                iss.token_url(),
            ],
        ),
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn auth0_audience_has_the_trailing_slash_and_the_api_goes_in_the_form() {
    let sb = Sandbox::new();
    let vars = [("domain", "tenant.example.com"), ("api", "https://api.example.com")];
    let iss = provider("auth0", &vars, "auth0-client", "rsa2048.pkcs8.pem", None, |_| {});
    let mut a = tmpl(
        "token",
        "auth0",
        "auth0-client",
        "rsa2048.pkcs8.pem",
        &["--no-cache", "--token-url", iss.token_url()],
    );
    a.extend(var_args(&vars));
    let o = run(&sb, &a);
    assert!(o.status.success(), "{}", stderr(&o));
    let d = sent_assertion(&iss);
    assert_eq!(d.claims["aud"], "https://tenant.example.com/");
    assert_eq!(
        d.claims["exp"].as_i64().unwrap() - d.claims["iat"].as_i64().unwrap(),
        60
    );
    assert!(form_of(&iss).contains(&("audience".into(), "https://api.example.com".into())));
    // the Auth0 mode refuses an audience without the slash
    a.extend(["--audience".into(), "https://tenant.example.com".into()]);
    let o = run(&sb, &a);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    // and a reused jti
    let assertion = url::form_urlencoded::parse(iss.recorded()[0].body.as_bytes())
        .find(|(k, _)| k == "client_assertion")
        .unwrap()
        .1
        .into_owned();
    let status = post_form(
        iss.token_url(),
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", signet::grant::CLIENT_ASSERTION_TYPE),
            ("client_assertion", &assertion),
            ("audience", "https://api.example.com"),
        ],
    );
    assert_eq!(status.0, 400, "{}", status.1);
    assert!(status.1.contains("jti"), "{}", status.1);
}

#[test]
fn keycloak_kid_is_spki_s256_and_exchanges() {
    let sb = Sandbox::new();
    let vars = [("base", "https://sso.example.com"), ("realm", "acme")];
    let iss = provider(
        "keycloak",
        &vars,
        "batch",
        "rsa2048.pkcs8.pem",
        Some("rsa2048.crt.pem"),
        |_| {},
    );
    let o = run(
        &sb,
        &tmpl(
            "assert",
            "keycloak",
            "batch",
            "rsa2048.pkcs8.pem",
            &["--var", "base=https://sso.example.com", "--var", "realm=acme"],
        ),
    );
    let d = decode(&stdout(&o));
    assert_eq!(
        d.claims["aud"],
        "https://sso.example.com/realms/acme/protocol/openid-connect/token"
    );
    assert_eq!(
        d.header["kid"],
        load("rsa2048.pkcs8.pem", None, None).key.spki_s256().as_str()
    );
    assert_eq!(
        d.claims["exp"].as_i64().unwrap() - d.claims["iat"].as_i64().unwrap(),
        60
    );
    let mut a = tmpl(
        "token",
        "keycloak",
        "batch",
        "rsa2048.pkcs8.pem",
        &["--no-cache", "--token-url", iss.token_url()],
    );
    a.extend(var_args(&vars));
    let o = run(&sb, &a);
    assert!(o.status.success(), "{}", stderr(&o));
    let bad = args(&["--var", "base=https://sso.example.com/x?y=1"]);
    let o = run(&sb, &[a.clone(), bad].concat());
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn keycloak_and_generic_templates_with_oidc_provider() {
    let spki = load("rsa2048.pkcs8.pem", None, None).key.spki_s256();
    let jwk = load("p256.pkcs8.pem", None, None).key.public_jwk().thumbprint();
    let p = crate::oidc::start(json!([
        crate::oidc::client("kc-client", "rsa2048.pkcs8.pem", None, "RS256", &spki),
        crate::oidc::client("generic-client", "p256.pkcs8.pem", None, "ES256", &jwk),
    ]));
    let sb = Sandbox::new();
    let o = run(
        &sb,
        &tmpl(
            "token",
            "keycloak",
            "kc-client",
            "rsa2048.pkcs8.pem",
            &[
                "--var",
                "base=https://sso.example.com",
                "--var",
                "realm=acme",
                "--token-url",
                &p.token_url,
                "--scope",
                "api:read",
            ],
        ),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(
        &sb,
        &tmpl(
            "token",
            "generic",
            "generic-client",
            "p256.pkcs8.pem",
            &["--token-url", &p.token_url, "--scope", "api:write"],
        ),
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn google_service_account_scope_claim_no_sub_and_kid() {
    let sb = Sandbox::new();
    let sa: Value = serde_json::from_str(&std::fs::read_to_string(fixture("service-account.json")).unwrap()).unwrap();
    let email = sa["client_email"].as_str().unwrap();
    // Google checks aud = its token_uri: the request goes to this issuer (--token-url, as to a
    // proxy) and the assertion keeps the key file's token_uri as aud.
    let token_uri = sa["token_uri"].as_str().unwrap().to_string();
    let iss = provider(
        "google-service-account",
        &[],
        email,
        "service-account.json",
        None,
        |c| c.audience = Some(token_uri.clone()),
    );
    let o = run(
        &sb,
        &args(&[
            "token",
            "--no-cache",
            "--template",
            "google-service-account",
            "--key",
            "service-account.json",
            "--scope",
            "https://www.googleapis.com/auth/cloud-platform",
            "--token-url",
            iss.token_url(),
        ]),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let d = sent_assertion(&iss);
    assert_eq!(d.header["kid"], sa["private_key_id"]);
    assert_eq!(d.header["alg"], "RS256");
    assert_eq!(d.claims["iss"], email);
    assert!(d.claims.get("sub").is_none());
    assert_eq!(d.claims["scope"], "https://www.googleapis.com/auth/cloud-platform");
    assert_eq!(d.claims["aud"], token_uri.as_str());
    let f = form_of(&iss);
    assert!(f.contains(&("grant_type".into(), signet::grant::JWT_BEARER_GRANT.into())));
    assert!(!f.iter().any(|(k, _)| k == "scope"), "scope travels in the claim");
    // the real token URL is the default
    let o = run(
        &sb,
        &args(&[
            "assert",
            "--template",
            "google-service-account",
            "--key",
            "service-account.json",
            "--scope",
            "s",
            "--var",
            "subject=user@example.com",
        ]),
    );
    let d = decode(&stdout(&o));
    assert_eq!(d.claims["aud"], "https://oauth2.googleapis.com/token");
    assert_eq!(d.claims["sub"], "user@example.com");
}

#[test]
fn google_self_signed_jwt_is_the_token_and_is_cached() {
    let sb = Sandbox::new();
    let a = args(&[
        "token",
        "--template",
        "google-self-signed",
        "--var",
        "service=pubsub",
        "--key",
        "service-account.json",
        "--format",
        "json",
    ]);
    let o = run(&sb, &a);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let d = decode(v["access_token"].as_str().unwrap());
    assert_eq!(d.claims["aud"], "https://pubsub.googleapis.com/");
    assert_eq!(d.claims["iss"], d.claims["sub"]);
    assert_eq!(
        d.claims["exp"].as_i64().unwrap() - d.claims["iat"].as_i64().unwrap(),
        3600
    );
    assert_eq!(v["cached"], false);
    let v2: Value = serde_json::from_str(&stdout(&run(&sb, &a))).unwrap();
    assert_eq!(v2["cached"], true);
    assert_eq!(v2["access_token"], v["access_token"]);
}

#[test]
fn salesforce_rules_and_answer_without_expires_in() {
    let sb = Sandbox::new();
    let iss = provider("salesforce", &[], "3MVG9consumer", "rsa2048.pkcs8.pem", None, |c| {
        c.user = Some("integration@example.com".into());
        c.extra
            .insert("instance_url".into(), "https://example.my.salesforce.com".into());
    });
    let base = tmpl(
        "token",
        "salesforce",
        "3MVG9consumer",
        "rsa2048.pkcs8.pem",
        &[
            "--no-cache",
            "--subject",
            "integration@example.com",
            "--token-url",
            iss.token_url(),
        ],
    );
    let o = run(&sb, &[base.clone(), args(&["--format", "json"])].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["extra"]["instance_url"], "https://example.my.salesforce.com");
    assert!(
        (890..=900).contains(&v["expires_in"].as_u64().unwrap()),
        "default TTL: {}",
        v["expires_in"]
    );
    let d = sent_assertion(&iss);
    assert_eq!(d.header.get("kid"), None);
    assert_eq!(d.claims["aud"], "https://login.salesforce.com");
    // refused before sending: ES256, a 300 s assertion, no subject
    let n = iss.request_count();
    for extra in [
        args(&["--key", "p256.pkcs8.pem", "--alg", "ES256"]),
        args(&["--lifetime", "300"]),
    ] {
        let o = run(&sb, &[base.clone(), extra].concat());
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    }
    assert_eq!(iss.request_count(), n);
    // and the Salesforce mode refuses them when they are sent anyway (no template)
    let plain = args(&[
        "token",
        "--no-cache",
        "--grant",
        "jwt-bearer",
        "--client-id",
        "3MVG9consumer",
        "--subject",
        "integration@example.com",
        "--audience",
        "https://login.salesforce.com",
        "--kid-from",
        "none",
        "--token-url",
        iss.token_url(),
    ]);
    let o = run(
        &sb,
        &[
            plain.clone(),
            args(&["--key", "rsa2048.pkcs8.pem", "--lifetime", "300"]),
        ]
        .concat(),
    );
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let o = run(&sb, &[plain, args(&["--key", "p256.pkcs8.pem"])].concat());
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
}

#[test]
fn jde_ais_bearer_header_with_hostile_values_kept_plain() {
    let sb = Sandbox::new();
    let hostile = "JDV920\",\"role\":\"SECURITY\"}{../\\";
    let vars = [
        ("host", "ais.example.com:9300"),
        ("user", "JDE"),
        ("environment", hostile),
    ];
    let iss = provider("jde-ais", &vars, "nightly", "rsa2048.pkcs8.pem", None, |_| {});
    let mut a = tmpl(
        "token",
        "jde-ais",
        "nightly",
        "rsa2048.pkcs8.pem",
        &["--no-cache", "--token-url", iss.token_url(), "--format", "header"],
    );
    a.extend(var_args(&vars));
    let o = run(&sb, &a);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("jde-AIS-Auth: 00D"), "{}", stdout(&o));
    let r = iss.recorded().pop().unwrap();
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        body,
        json!({"deviceName": "signet", "environment": hostile, "role": "*ALL"})
    );
    assert_eq!(sent_assertion(&iss).claims["sub"], "JDE");
    // the URL pattern: host variables must be host names
    let o = run(
        &sb,
        &tmpl(
            "assert",
            "jde-ais",
            "c",
            "rsa2048.pkcs8.pem",
            &[
                "--var",
                "host=ais.example.com/evil",
                "--var",
                "user=JDE",
                "--var",
                "environment=E",
            ],
        ),
    );
    assert_eq!(o.status.code(), Some(2));
    let o = run(
        &sb,
        &tmpl(
            "assert",
            "jde-ais",
            "c",
            "rsa2048.pkcs8.pem",
            &[
                "--var",
                "host=ais.example.com",
                "--var",
                "user=JDE\nX",
                "--var",
                "environment=E",
            ],
        ),
    );
    assert_eq!(o.status.code(), Some(2), "control characters are refused");
    // a missing variable names itself and the template
    let o = run(
        &sb,
        &tmpl(
            "assert",
            "jde-ais",
            "c",
            "rsa2048.pkcs8.pem",
            &["--var", "host=ais.example.com", "--var", "user=JDE"],
        ),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("environment") && stderr(&o).contains("jde-ais"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn one_e_json_body_with_windows_thumbprint_kid() {
    let sb = Sandbox::new();
    let iss = provider(
        "1e",
        &[
            ("api_root", "https://1e.example.com/api"),
            ("audience", "https://idp.example.com/token"),
            ("consumer", "nightly"),
        ],
        "1e-app",
        "rsa2048.pkcs8.pem",
        Some("rsa2048.crt.pem"),
        |c| c.audience = Some("https://idp.example.com/token".into()),
    );
    let api_root = format!("{}/Tachyon/api", iss.base_url());
    let o = run(
        &sb,
        &tmpl(
            "token",
            "1e",
            "1e-app",
            "rsa2048.pkcs8.pem",
            &[
                "--no-cache",
                "--var",
                &format!("api_root={api_root}"),
                "--var",
                "audience=https://idp.example.com/token",
                "--var",
                "consumer=nightly",
                "--cert",
                "rsa2048.crt.pem",
                "--format",
                "header",
            ],
        ),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("X-Tachyon-Authenticate: eyJ"));
    let r = iss.recorded().pop().unwrap();
    assert_eq!(r.path, "/Tachyon/api/Authentication/RequestJwtAuthentication");
    assert!(r
        .headers
        .iter()
        .any(|(k, v)| k == "x-tachyon-consumer" && v == "nightly"));
    let d = sent_assertion(&iss);
    let sha1 = load("rsa2048.pkcs8.pem", Some("rsa2048.crt.pem"), None)
        .leaf()
        .unwrap()
        .hex_sha1();
    assert_eq!(d.header["kid"], sha1.as_str());
    assert_eq!(d.claims["iss"], "1e-app");
    assert_eq!(d.claims["sub"], "1e-app");
    // kid_format=x5t switches to base64url
    let o = run(
        &sb,
        &tmpl(
            "assert",
            "1e",
            "1e-app",
            "rsa2048.pkcs8.pem",
            &[
                "--var",
                "api_root=https://1e.example.com/api",
                "--var",
                "audience=a",
                "--var",
                "consumer=c",
                "--var",
                "kid_format=x5t",
                "--cert",
                "rsa2048.crt.pem",
            ],
        ),
    );
    assert_eq!(decode(&stdout(&o)).header["kid"].as_str().unwrap().len(), 27);
}

#[test]
fn error_hints_use_what_signet_knows() {
    let sb = Sandbox::new();
    let iss = provider(
        "entra-id",
        &[("tenant", "t")],
        "app",
        "rsa2048.pkcs8.pem",
        Some("rsa2048.crt.pem"),
        |_| {},
    );
    let cert = load("rsa2048.pkcs8.pem", Some("rsa2048.crt.pem"), None);
    let base = tmpl(
        "token",
        "entra-id",
        "app",
        "rsa2048.pkcs8.pem",
        &[
            "--no-cache",
            "--var",
            "tenant=t",
            "--cert",
            "rsa2048.crt.pem",
            "--scope",
            "s/.default",
            "--token-url",
            iss.token_url(),
        ],
    );
    iss.push_faults([Fault::json(401, json!({"error": "invalid_client", "error_description": "AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application."}))]);
    let o = run(&sb, &base);
    assert_eq!(o.status.code(), Some(4));
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().collect();
    assert!(
        lines[0].starts_with("error: ") && lines[0].contains("AADSTS700027"),
        "{err}"
    );
    assert!(
        lines[1].starts_with("hint: ") && lines[1].contains(&cert.leaf().unwrap().x5t_s256()),
        "{err}"
    );
    iss.push_faults([Fault::json(400, json!({"error": "invalid_client", "error_description": "AADSTS700024: Client assertion is not within its valid time range."}))]);
    let o = run(&sb, &base);
    assert!(
        stderr(&o).contains("hint: ") && stderr(&o).contains("clock"),
        "{}",
        stderr(&o)
    );
    // Keycloak's unknown kid
    let kc = provider(
        "keycloak",
        &[("base", "https://k.example.com"), ("realm", "r")],
        "c",
        "rsa2048.pkcs8.pem",
        None,
        |_| {},
    );
    kc.push_faults([Fault::json(400, json!({"error": "invalid_client", "error_description": "PublicKey wasn't found in the storage. Requested kid: 'x'"}))]);
    let o = run(
        &sb,
        &tmpl(
            "token",
            "keycloak",
            "c",
            "rsa2048.pkcs8.pem",
            &[
                "--no-cache",
                "--var",
                "base=https://k.example.com",
                "--var",
                "realm=r",
                "--token-url",
                kc.token_url(),
            ],
        ),
    );
    assert!(
        stderr(&o).contains("hint: ") && stderr(&o).contains("spki-s256"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn templates_list_and_show() {
    let sb = Sandbox::new();
    let o = run(&sb, &args(&["templates", "list"]));
    let out = stdout(&o);
    for n in [
        "entra-id",
        "okta",
        "auth0",
        "keycloak",
        "google-service-account",
        "google-self-signed",
        "salesforce",
        "jde-ais",
        "1e",
        "generic",
    ] {
        assert!(out.lines().any(|l| l.starts_with(n)), "{n}: {out}");
    }
    let o = run(&sb, &args(&["templates", "show", "salesforce"]));
    let out = stdout(&o);
    assert!(
        out.contains("RS256") && out.contains("180 s") && out.contains("help.salesforce.com"),
        "{out}"
    );
    let o = run(&sb, &args(&["templates", "show", "nope"]));
    assert_eq!(o.status.code(), Some(2));
    // a template from a file is parsed strictly
    let f = sb.path().join("mine.toml");
    std::fs::write(&f, "name = \"mine\"\ndescription = \"d\"\ndocs = []\ngrant = \"client-credentials\"\ntoken_url = \"https://x/token\"\nkid_rule = \"none\"\n").unwrap();
    let o = run(&sb, &args(&["templates", "show", f.to_str().unwrap()]));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("kid_rule"), "{}", stderr(&o));
}

/// r20 item 9: AIS trusts the certificate from a Java keystore on the HTML server, so `templates
/// show jde-ais` gives the keytool line, the same one as the README's JD Edwards section, and
/// `keygen` points there.
#[test]
fn jde_ais_show_gives_the_readme_keytool_line() {
    let sb = Sandbox::new();
    let o = run(&sb, &args(&["templates", "show", "jde-ais"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let readme = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let line = readme
        .lines()
        .find(|l| l.starts_with("keytool -importcert"))
        .expect("the README's JD Edwards section shows the keytool line");
    assert!(line.contains("-file cert.cer") && line.contains("-keystore"), "{line}");
    assert!(out.contains("registering the key:") && out.contains(line), "{out}");
    let dir = sb.path().join("keys");
    let o = run(
        &sb,
        &args(&["keygen", "--alg", "ES256", "--out", dir.to_str().unwrap()]),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("signet templates show jde-ais"), "{}", stdout(&o));
}

/// POSTs a form to a loopback URL over a raw TCP connection: (status, body).
pub fn post_form(url: &str, fields: &[(&str, &str)]) -> (u16, String) {
    use std::io::{Read, Write};
    let u = url::Url::parse(url).unwrap();
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let mut s = std::net::TcpStream::connect((u.host_str().unwrap(), u.port().unwrap())).unwrap();
    write!(s, "POST {} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", u.path(), body.len()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out[9..12].parse().unwrap();
    (status, out.split("\r\n\r\n").nth(1).unwrap_or("").to_string())
}
