//! mTLS (RFC 8705) against the npm oidc-provider with `features.mTLS` behind its https server,
//! which asks for a client certificate: certificate-bound tokens whose `cnf.x5t#S256` is the
//! certificate's SHA-256 thumbprint, with a client assertion (`--mtls`) or with the certificate
//! alone (`--client-auth tls`, `self_signed_tls_client_auth`); and the errors of an endpoint that
//! wants a certificate signet did not present, or a key that cannot be the TLS client key.

use crate::common::*;
use crate::oidc;
use serde_json::{json, Value};

const KEY: &str = "leaf.pkcs8.pem";
const CERT: &str = "leaf.crt.pem";

/// oidc-provider over https (`mode` `1`: a certificate is asked for; `require`: the handshake
/// fails without one signed by the test CA) with `clients`.
fn provider(mode: &str, clients: Value) -> oidc::Provider {
    let (k, c, ca) = (
        fixture_str("server.key.pem"),
        fixture_str("server.crt.pem"),
        fixture_str("ca.crt.pem"),
    );
    oidc::start_with(
        clients,
        &[("OIDC_MTLS", mode), ("TLS_KEY", &k), ("TLS_CERT", &c), ("TLS_CA", &ca)],
    )
}

fn leaf() -> signet::key::Certificate {
    load(KEY, Some(CERT), None).leaf().unwrap().clone()
}

/// A client that authenticates with a client assertion and gets certificate-bound tokens.
fn bound_client() -> Value {
    let mut c = oidc::client("bound", KEY, Some(CERT), "RS256", &leaf().hex_sha1());
    c["tls_client_certificate_bound_access_tokens"] = true.into();
    c
}

/// A client that the certificate alone authenticates (its JWK carries the certificate).
fn self_signed_client() -> Value {
    let mut jwk = load(KEY, None, None).key.public_jwk().to_json();
    jwk["x5c"] = json!([leaf().x5c_entry()]);
    json!({
        "client_id": "by-cert",
        "token_endpoint_auth_method": "self_signed_tls_client_auth",
        "tls_client_certificate_bound_access_tokens": true,
        "jwks": {"keys": [jwk]},
        "grant_types": ["client_credentials"],
        "response_types": [],
        "redirect_uris": [],
        "scope": "api:read api:write",
    })
}

fn token(sb: &Sandbox, p: &oidc::Provider, args: &[&str]) -> std::process::Output {
    sb.signet()
        .args([
            "token",
            "--token-url",
            &p.token_url,
            "--ca-file",
            &fixture_str("ca.crt.pem"),
        ])
        .args(["--scope", "api:read", "--format", "json"])
        .args(args)
        .output()
        .unwrap()
}

fn cnf_x5t(o: &std::process::Output) -> String {
    assert!(o.status.success(), "{}", stderr(o));
    let v: Value = serde_json::from_str(&stdout(o)).unwrap();
    let claims = decode(v["access_token"].as_str().unwrap()).claims;
    claims["cnf"]["x5t#S256"].as_str().unwrap_or_default().to_string()
}

#[test]
fn certificate_bound_tokens_with_an_assertion_and_with_the_certificate_alone() {
    let p = provider("1", json!([bound_client(), self_signed_client()]));
    let want = leaf().x5t_s256();
    let sb = Sandbox::new();
    let (k, c) = (fixture_str(KEY), fixture_str(CERT));
    let o = token(&sb, &p, &["--key", &k, "--cert", &c, "--client-id", "bound", "--mtls"]);
    assert_eq!(cnf_x5t(&o), want, "cnf.x5t#S256 is the certificate's SHA-256");
    let o = token(
        &sb,
        &p,
        &[
            "--key",
            &k,
            "--cert",
            &c,
            "--client-id",
            "by-cert",
            "--client-auth",
            "tls",
        ],
    );
    assert_eq!(cnf_x5t(&o), want);
    // The key and certificate from a PKCS#12, decrypted for the TLS stack.
    let sb = Sandbox::new();
    let o = sb
        .signet()
        .args([
            "token",
            "--token-url",
            &p.token_url,
            "--ca-file",
            &fixture_str("ca.crt.pem"),
        ])
        .args([
            "--key",
            &fixture_str("leaf-chain.pfx"),
            "--client-id",
            "by-cert",
            "--client-auth",
            "tls",
        ])
        .args(["--scope", "api:read", "--format", "json"])
        .env("SIGNET_KEY_PASSPHRASE", PASSPHRASE)
        .output()
        .unwrap();
    assert_eq!(cnf_x5t(&o), want);
    // Without the certificate the bound client gets no token: the check can fail.
    let o = token(
        &Sandbox::new(),
        &p,
        &["--key", &k, "--cert", &c, "--client-id", "bound"],
    );
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
}

#[test]
fn an_endpoint_that_requires_a_client_certificate_names_mtls_with_exit_5() {
    let p = provider("require", json!([bound_client()]));
    let sb = Sandbox::new();
    let o = token(
        &sb,
        &p,
        &[
            "--key",
            &fixture_str(KEY),
            "--cert",
            &fixture_str(CERT),
            "--client-id",
            "bound",
        ],
    );
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.starts_with("error: ") && err.contains("--mtls"), "{err}");
    // With it, the same endpoint answers.
    let o = token(
        &sb,
        &p,
        &[
            "--key",
            &fixture_str(KEY),
            "--cert",
            &fixture_str(CERT),
            "--client-id",
            "bound",
            "--mtls",
        ],
    );
    assert_eq!(cnf_x5t(&o), leaf().x5t_s256());
}

#[test]
fn mtls_refuses_keys_that_are_not_files_and_a_key_without_certificate() {
    let sb = Sandbox::new();
    for key in ["ssh-agent:ci", "pkcs11:token=t;object=k"] {
        let o = sb
            .signet()
            .args(["token", "--key", key, "--client-id", "c", "--mtls"])
            .args(["--token-url", "https://127.0.0.1:1/token"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{key}: {}", stderr(&o));
        assert!(stderr(&o).contains("--mtls needs a key file"), "{}", stderr(&o));
    }
    let iss = issuer_trusting("c", "p256.pkcs8.pem", None);
    let o = sb
        .token_cmd("p256.pkcs8.pem", "c", iss.token_url())
        .arg("--mtls")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--mtls needs the certificate"), "{}", stderr(&o));
}
