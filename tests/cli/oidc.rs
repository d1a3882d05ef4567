//! Interop with a real, independent OpenID provider: panva/oidc-provider on 127.0.0.1
//! (installed by `make test` into tests/oidc/node_modules).

use crate::common::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

pub struct Provider {
    // Held for its Drop: the server lives as long as this value.
    _child: Reaped,
    pub token_url: String,
}

/// Registers `clients` and starts the provider; returns when it listens.
pub fn start(clients: Value) -> Provider {
    start_with(clients, &[])
}

/// [`start`] with environment variables for server.mjs (`OIDC_DPOP=1`, `OIDC_DPOP=nonce`).
pub fn start_with(clients: Value, env: &[(&str, &str)]) -> Provider {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc");
    assert!(
        dir.join("node_modules/oidc-provider").exists(),
        "oidc-provider is not installed: run `make test` (it runs npm ci in tests/oidc)"
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), clients.to_string()).unwrap();
    let (_, path) = file.keep().unwrap();
    let mut child = Command::new("node")
        .arg("server.mjs")
        .arg(&path)
        .current_dir(&dir)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let parts: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(parts.first(), Some(&"READY"), "provider did not start: {line}");
    Provider {
        _child: Reaped(child),
        token_url: parts[2].to_string(),
    }
}

/// A client registration for a fixture key, with the kid signet will send.
pub fn client(id: &str, key: &str, cert: Option<&str>, alg: &str, kid: &str) -> Value {
    let b = load(key, cert, None);
    let mut jwk = b.key.public_jwk().to_json();
    jwk["kid"] = kid.into();
    jwk["use"] = "sig".into();
    json!({
        "client_id": id,
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": alg,
        "jwks": {"keys": [jwk]},
        "grant_types": ["client_credentials"],
        "response_types": [],
        "redirect_uris": [],
        "scope": "api:read api:write",
    })
}

#[test]
fn tokens_from_oidc_provider_with_rs256_ps256_es256() {
    let rsa_kid = load("rsa2048.pkcs8.pem", Some("rsa2048.crt.pem"), None)
        .leaf()
        .unwrap()
        .hex_sha1();
    let rsa_jwk = load("rsa2048.pkcs8.pem", None, None).key.public_jwk().thumbprint();
    let ec_kid = load("p256.pkcs8.pem", None, None).key.public_jwk().thumbprint();
    let p = start(json!([
        client(
            "rs256-client",
            "rsa2048.pkcs8.pem",
            Some("rsa2048.crt.pem"),
            "RS256",
            &rsa_kid
        ),
        client("ps256-client", "rsa2048.pkcs8.pem", None, "PS256", &rsa_jwk),
        client("es256-client", "p256.pkcs8.pem", None, "ES256", &ec_kid),
    ]));
    let sb = Sandbox::new();
    let cases: [(&str, Vec<&str>); 3] = [
        (
            "rs256-client",
            vec!["--key", "rsa2048.pkcs8.pem", "--cert", "rsa2048.crt.pem"],
        ),
        ("ps256-client", vec!["--key", "rsa2048.pkcs8.pem", "--alg", "PS256"]),
        ("es256-client", vec!["--key", "p256.pkcs8.pem"]),
    ];
    for (id, args) in cases {
        let args: Vec<String> = args
            .iter()
            .map(|a| {
                if a.ends_with(".pem") {
                    fixture_str(a)
                } else {
                    a.to_string()
                }
            })
            .collect();
        let o = sb
            .signet()
            .arg("token")
            .args(&args)
            .args([
                "--client-id",
                id,
                "--token-url",
                &p.token_url,
                "--scope",
                "api:read",
                "--format",
                "json",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{id}: {}", stderr(&o));
        let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert_eq!(v["token_type"], "Bearer", "{id}");
        assert_eq!(v["scope"], "api:read", "{id}");
        let at = decode(v["access_token"].as_str().unwrap());
        assert_eq!(at.claims["aud"], "urn:signet:test-api", "{id}");
        assert_eq!(at.claims["client_id"], id);
        assert!((290..=300).contains(&v["expires_in"].as_u64().unwrap()));
    }
}

#[test]
fn oidc_provider_refusal_is_exit_4_with_its_words() {
    let ec_kid = load("p256.pkcs8.pem", None, None).key.public_jwk().thumbprint();
    let p = start(json!([client(
        "es256-client",
        "p256.pkcs8.pem",
        None,
        "ES256",
        &ec_kid
    )]));
    let sb = Sandbox::new();
    // the right client id, but signed with a key the provider does not know
    let o = sb
        .token_cmd("p384.pkcs8.pem", "es256-client", &p.token_url)
        .arg("--no-cache")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("invalid_client"), "{}", stderr(&o));
}
