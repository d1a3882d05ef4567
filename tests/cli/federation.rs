//! External assertions (workload identity federation): a file, an environment variable, and a
//! fake GitHub Actions OIDC endpoint on 127.0.0.1 whose tokens the embedded issuer trusts.

use crate::common::*;
use serde_json::json;
use signet::issuer::{Client, Issuer, IssuerConfig};

const GH_ISS: &str = "https://token.actions.githubusercontent.com";
const GH_SUB: &str = "repo:acme/batch:ref:refs/heads/main";

/// A JWT as the CI platform would issue it, signed by the "platform" key.
fn platform_token(aud: &str) -> String {
    let b = load("p256.pkcs8.pem", None, None);
    let signer = signet::Signer::new(b, None, &Default::default()).unwrap();
    let mut c = signet::Claims::new(GH_ISS, aud);
    c.subject = Some(GH_SUB.into());
    c.lifetime = 300;
    signer.sign(&c, signet::clock::now()).unwrap().expose().clone()
}

fn federated_issuer() -> Issuer {
    let b = load("p256.pkcs8.pem", None, None);
    Issuer::start(IssuerConfig {
        clients: vec![Client::from_bundle("github", &b, None)],
        audience: Some("api://AzureADTokenExchange".into()),
        federated: Some((GH_ISS.into(), GH_SUB.into())),
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn assertion_file_is_read_again_on_every_attempt() {
    let sb = Sandbox::new();
    let iss = federated_issuer();
    let file = sb.path().join("token.jwt");
    std::fs::write(&file, platform_token("api://AzureADTokenExchange")).unwrap();
    let args = [
        "token",
        "--template",
        "entra-id-federated",
        "--var",
        "tenant=t",
        "--client-id",
        "app-guid",
        "--scope",
        "api://x/.default",
        "--token-url",
        iss.token_url(),
        "--assertion-file",
        file.to_str().unwrap(),
        "--no-cache",
    ];
    // the first attempt gets a 503 with Retry-After: 1; the file is replaced (as Kubernetes
    // rotates it) while signet waits, and the retry must send the new token
    iss.push_faults([signet::issuer::Fault::Status {
        status: 503,
        body: String::new(),
        content_type: "text/plain".into(),
        retry_after: Some("1".into()),
    }]);
    let mut c = sb.signet();
    c.args(args);
    let child = spawn(&c, std::process::Stdio::piped());
    while iss.request_count() == 0 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let rotated = platform_token("api://AzureADTokenExchange");
    std::fs::write(&file, &rotated).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let rec = iss.recorded();
    assert_eq!(rec.len(), 2);
    assert!(rec[1].body.contains("client_id=app-guid"));
    assert!(
        rec[1].body.contains(&rotated),
        "the rotated file was read for the retry"
    );
    assert!(!rec[0].body.contains(&rotated));
    // a file that is not a JWT is a clear error; the identity is the path, never the token
    std::fs::write(&file, "not a jwt").unwrap();
    let o = sb.signet().args(args).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn gitlab_id_token_from_an_environment_variable() {
    let sb = Sandbox::new();
    let iss = federated_issuer();
    let o = sb
        .signet()
        .args([
            "token",
            "--assertion-from",
            "gitlab",
            "--assertion-env",
            "AZURE_ID_TOKEN",
            "--client-id",
            "app-guid",
            "--token-url",
            iss.token_url(),
            "--scope",
            "s",
        ])
        .env("AZURE_ID_TOKEN", platform_token("api://AzureADTokenExchange"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // the wrong audience is refused by the federated issuer
    let o = sb
        .signet()
        .args([
            "token",
            "--no-cache",
            "--assertion-from",
            "gitlab",
            "--assertion-env",
            "AZURE_ID_TOKEN",
            "--client-id",
            "app-guid",
            "--token-url",
            iss.token_url(),
        ])
        .env("AZURE_ID_TOKEN", platform_token("https://wrong"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let o = sb
        .signet()
        .args([
            "token",
            "--assertion-from",
            "gitlab",
            "--client-id",
            "a",
            "--token-url",
            iss.token_url(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("SIGNET_ID_TOKEN"), "{}", stderr(&o));
}

#[test]
fn github_actions_oidc_token_exchanged_at_a_federated_issuer() {
    // a fake GitHub OIDC endpoint: checks the bearer token and the audience, answers {"value": JWT}
    let gh = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let gh_url = format!(
        "http://127.0.0.1:{}/_apis/token?api-version=2.0",
        gh.server_addr().to_ip().unwrap().port()
    );
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        for req in gh.incoming_requests() {
            let auth = req
                .headers()
                .iter()
                .find(|h| h.field.equiv("Authorization"))
                .map(|h| h.value.to_string())
                .unwrap_or_default();
            let aud = url::Url::parse(&format!("http://x{}", req.url()))
                .unwrap()
                .query_pairs()
                .find(|(k, _)| k == "audience")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            seen2.lock().unwrap().push((auth.clone(), aud.clone()));
            let body = if auth == "Bearer gh-request-token" {
                json!({"value": platform_token(&aud)}).to_string()
            } else {
                "{}".into()
            };
            let _ = req.respond(
                tiny_http::Response::from_string(body).with_status_code(if auth == "Bearer gh-request-token" {
                    200
                } else {
                    401
                }),
            );
        }
    });
    let sb = Sandbox::new();
    let iss = federated_issuer();
    let o = sb
        .signet()
        .args([
            "token",
            "--template",
            "entra-id-federated",
            "--var",
            "tenant=t",
            "--assertion-from",
            "github-actions",
            "--client-id",
            "app-guid",
            "--scope",
            "api://x/.default",
            "--token-url",
            iss.token_url(),
            "--format",
            "json",
        ])
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", &gh_url)
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "gh-request-token")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(seen.lock().unwrap()[0].1, "api://AzureADTokenExchange");
    assert!(!stderr(&o).contains("gh-request-token"));
    // without the variables: a clear error naming the permission
    let o = github_token_cmd(&sb, &iss).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("id-token: write"), "{}", stderr(&o));
}

/// `signet token` with the assertion from GitHub's OIDC endpoint, uncached, at `iss`.
fn github_token_cmd(sb: &Sandbox, iss: &signet::issuer::Issuer) -> assert_cmd::Command {
    let mut c = sb.signet();
    c.args([
        "token",
        "--no-cache",
        "--assertion-from",
        "github-actions",
        "--client-id",
        "app-guid",
        "--token-url",
        iss.token_url(),
    ]);
    c
}

/// The GitHub OIDC answer used to be read without a limit (a 2 GB answer: 3.3 GB of memory); it
/// has the token endpoint's 1 MiB cap.
#[test]
fn a_github_oidc_answer_over_the_size_cap_is_refused() {
    let gh = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let gh_url = format!(
        "http://127.0.0.1:{}/_apis/token?api-version=2.0",
        gh.server_addr().to_ip().unwrap().port()
    );
    std::thread::spawn(move || {
        if let Ok(req) = gh.recv() {
            // 2 MiB, sent without a Content-Length (chunked), so only the running count can stop it.
            let body = std::io::Cursor::new(vec![b'a'; 2 * 1024 * 1024]);
            let _ = req.respond(tiny_http::Response::new(200.into(), vec![], body, None, None));
        }
    });
    let sb = Sandbox::new();
    let iss = federated_issuer();
    let o = github_token_cmd(&sb, &iss)
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", &gh_url)
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "gh-request-token")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(stderr(&o).contains("larger than 1024 KiB"), "{}", stderr(&o));
    assert_eq!(iss.request_count(), 0);
}
