//! The App Service managed-identity protocol (api-version 2019-08-01), which every Azure SDK's
//! `ManagedIdentityCredential` (and so `DefaultAzureCredential`) speaks when `IDENTITY_ENDPOINT`
//! and `IDENTITY_HEADER` are set: `GET IDENTITY_ENDPOINT?api-version=2019-08-01&resource=R` with
//! the header `X-IDENTITY-HEADER: <secret>`, answered with the token for scope `R/.default`.

use super::http::{params, refusal, Answer};
use super::Shared;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};

/// The only version of the protocol served (the one azure-identity asks for).
pub(super) const API_VERSION: &str = "2019-08-01";
/// The secret's header.
pub(super) const SECRET_HEADER: &str = "x-identity-header";

/// The scope asked for by resource `r`: `r/.default`, a trailing `/` of `r` kept as given (Entra
/// then sees `https://management.azure.com//.default`, as the SDKs send for such a resource).
pub(super) fn scope_for(resource: &str) -> String {
    format!("{resource}/.default")
}

pub(super) async fn token(req: &Request<Incoming>, query: &str, shared: &Shared) -> Answer {
    if !shared.secret_ok(req, SECRET_HEADER) {
        return Answer::error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the X-IDENTITY-HEADER header is missing or wrong (it is IDENTITY_HEADER from the agent's environment)",
        );
    }
    let p = params(query);
    let get = |k: &str| p.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    match get("api-version") {
        Some(API_VERSION) => {}
        other => {
            return Answer::error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!(
                    "api-version {} is not served: this agent speaks {API_VERSION}",
                    crate::text::sanitize(other.unwrap_or("(none)"), 40)
                ),
            )
        }
    }
    let Some(resource) = get("resource").filter(|r| !r.trim().is_empty()) else {
        return Answer::error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the resource parameter is missing",
        );
    };
    if let (Some(asked), Some(own)) = (get("client_id"), shared.client_id.as_deref()) {
        if asked != own {
            return Answer::error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!(
                    "this agent serves client id {own}, not {}",
                    crate::text::sanitize(asked, 80)
                ),
            );
        }
    }
    for other in ["principal_id", "object_id", "mi_res_id", "msi_res_id"] {
        if get(other).is_some() {
            return Answer::error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("{other} names another identity; this agent serves only its own"),
            );
        }
    }
    let scope = scope_for(resource);
    let allowed = shared.tokens.allowed_scopes();
    if !allowed.is_empty() && !allowed.contains(&scope) {
        return Answer::error(
            StatusCode::FORBIDDEN,
            "scope_not_allowed",
            format!(
                "the scope {} is not one this agent's settings name ({})",
                crate::text::sanitize(&scope, 200),
                allowed.join(" ")
            ),
        );
    }
    let (id, r) = shared.tokens.get(vec![scope]).await;
    let mut a = match r {
        Ok(t) => {
            let mut a = Answer::json(
                StatusCode::OK,
                serde_json::json!({
                    "access_token": t.access_token.expose(),
                    "expires_on": t.expires_at.to_string(),
                    "resource": resource,
                    "token_type": t.token_type.as_deref().unwrap_or("Bearer"),
                    "client_id": shared.client_id.as_deref().unwrap_or(""),
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
