//! The Compute Engine metadata protocol, as google-auth and the Google Cloud SDKs use it when
//! `GCE_METADATA_HOST`/`GCE_METADATA_IP` point at the agent: `/` (detection), the default
//! service account's token, email and scopes, and the project id. Every path under
//! `/computeMetadata/` needs `Metadata-Flavor: Google`. The protocol has no secret.

use super::http::{params, refusal, Answer};
use super::Shared;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use std::path::Path;

/// The scope asked for when a caller names none and the settings name none.
pub(super) const DEFAULT_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// What the metadata server says about the account besides tokens.
#[derive(Clone, Debug, Default)]
pub(super) struct Info {
    /// The service account's email (the client id, else the key file's `client_email`).
    pub email: Option<String>,
    /// The key file's `project_id`.
    pub project_id: Option<String>,
}

impl Info {
    /// From the client id and, for a service-account key file, its `client_email` and
    /// `project_id` (read as JSON; the private key in it is not looked at).
    pub fn new(client_id: Option<&str>, key_file: Option<&Path>) -> Info {
        // Only these two fields are kept: the private key in the same file is skipped by the
        // parser, never copied out of the (zeroized) bytes.
        #[derive(serde::Deserialize)]
        struct Account {
            client_email: Option<String>,
            project_id: Option<String>,
        }
        let file: Option<Account> = key_file
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .and_then(|p| crate::key::read_secret_file(p).ok())
            .and_then(|b| serde_json::from_slice(&b).ok());
        let (email, project_id) = file.map_or((None, None), |a| (a.client_email, a.project_id));
        Info {
            email: client_id.map(String::from).or(email),
            project_id,
        }
    }
}

fn text(body: String) -> Answer {
    Answer::text(StatusCode::OK, "application/text", body)
}

fn not_found() -> Answer {
    Answer::error(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such metadata path on this agent",
    )
}

/// The scopes the settings allow, or the default one.
fn default_scopes(shared: &Shared) -> Vec<String> {
    let allowed = shared.tokens.allowed_scopes();
    if allowed.is_empty() {
        vec![DEFAULT_SCOPE.to_string()]
    } else {
        allowed.to_vec()
    }
}

pub(super) async fn answer(req: &Request<Incoming>, path: &str, query: &str, shared: &Shared) -> Answer {
    if path == "/" {
        return text("computeMetadata/\n".into());
    }
    let flavor = req.headers().get("metadata-flavor").map(|v| v.as_bytes());
    if flavor != Some(b"Google") {
        return Answer::error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the Metadata-Flavor: Google header is missing",
        );
    }
    let p = params(query);
    let get = |k: &str| p.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let Some(rest) = path.strip_prefix("/computeMetadata/v1/") else {
        return not_found();
    };
    match rest {
        "project/project-id" => return shared.gce.project_id.clone().map_or_else(not_found, text),
        "universe/universe-domain" => return text("googleapis.com".into()),
        "instance/service-accounts/" | "instance/service-accounts" => {
            let mut s = "default/\n".to_string();
            if let Some(e) = &shared.gce.email {
                s.push_str(&format!("{e}/\n"));
            }
            return text(s);
        }
        _ => {}
    }
    let Some(account_path) = rest.strip_prefix("instance/service-accounts/") else {
        return not_found();
    };
    let (account, what) = account_path.split_once('/').unwrap_or((account_path, ""));
    if account != "default" && Some(account) != shared.gce.email.as_deref() {
        return not_found();
    }
    match what {
        "" if get("recursive") == Some("true") => Answer::json(
            StatusCode::OK,
            serde_json::json!({
                "aliases": ["default"],
                "email": shared.gce.email.as_deref().unwrap_or("default"),
                "scopes": default_scopes(shared),
            }),
        ),
        "" => text("aliases\nemail\nidentity\nscopes\ntoken\n".into()),
        "email" => text(shared.gce.email.clone().unwrap_or_else(|| "default".into())),
        "aliases" => text("default\n".into()),
        "scopes" => text(default_scopes(shared).iter().map(|s| format!("{s}\n")).collect()),
        "token" => token(get("scopes"), shared).await,
        _ => not_found(),
    }
}

async fn token(scopes: Option<&str>, shared: &Shared) -> Answer {
    let asked: Vec<String> = scopes
        .map(|s| {
            s.split([',', ' '])
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let scopes = if asked.is_empty() {
        default_scopes(shared)
    } else {
        asked
    };
    let allowed = shared.tokens.allowed_scopes();
    if let Some(bad) = scopes.iter().find(|s| !allowed.is_empty() && !allowed.contains(s)) {
        return Answer::error(
            StatusCode::FORBIDDEN,
            "scope_not_allowed",
            format!(
                "the scope {} is not one this agent's settings name ({})",
                crate::text::sanitize(bad, 200),
                allowed.join(" ")
            ),
        );
    }
    let (id, r) = shared.tokens.get(scopes).await;
    let mut a = match r {
        Ok(t) => {
            let mut a = Answer::json(
                StatusCode::OK,
                serde_json::json!({
                    "access_token": t.access_token.expose(),
                    "expires_in": (t.expires_at - crate::clock::now()).max(0),
                    "token_type": "Bearer",
                }),
            );
            a.no_store = true;
            a
        }
        Err(r) => refusal(r),
    };
    a.identity = id.map(|i| i.label.clone());
    a
}
