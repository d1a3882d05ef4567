//! The cache identity of a plan (kept beside the plan, which names every field it covers).

use super::TokenPlan;
use crate::cache::CacheKey;
use crate::files::FileKind;
use crate::key::{KeyError, KeySpec};
use std::path::Path;

impl TokenPlan {
    /// The cache key of the token this plan gets: a hash of everything in it that changes which
    /// token comes back. Reads the key and certificate files' bytes to hash them (a rotated key
    /// in the same path is another identity), never parses them; the passphrase and the cache
    /// settings are not part of it, since they do not change the token.
    pub fn cache_key(&self) -> Result<CacheKey, KeyError> {
        Ok(CacheKey::for_identity(&identity(self)?))
    }
}

fn file_hash(p: &Path, cert: bool) -> Result<String, KeyError> {
    use aws_lc_rs::digest::{digest, SHA256};
    let kind = if cert { FileKind::Certificate } else { FileKind::Key };
    let bytes = crate::files::read_secret(p, kind).map_err(|e| {
        let reason = crate::text::io_reason(&e);
        if cert {
            KeyError::CertRead { path: p.into(), reason }
        } else {
            KeyError::Read { path: p.into(), reason }
        }
    })?;
    Ok(crate::b64::encode(digest(&SHA256, &bytes).as_ref()))
}

/// A file key by the hash of its bytes; a key that is not a file by its spec, so that the cache
/// hit opens no session with a token or an agent.
fn spec_id(spec: &KeySpec) -> Result<String, KeyError> {
    match spec.file() {
        Some(p) => file_hash(p, false),
        None => Ok(spec.to_string()),
    }
}

/// Identity as canonical text. Every field of the plan is named below, so that a new field does
/// not compile until someone decides whether it changes the token.
fn identity(plan: &TokenPlan) -> Result<String, KeyError> {
    let TokenPlan {
        key,
        passphrase: _,
        cert,
        key_sources: _,
        next_key,
        header,
        alg,
        alg_from_template: _,
        client_id,
        issuer,
        subject,
        omit_subject: _,
        audience,
        lifetime: _,
        omit_nbf: _,
        warn_expiry_days: _,
        claims,
        grant,
        token_url,
        scopes,
        scope_in_claim: _,
        params,
        request_headers,
        shape,
        timeout: _,
        retries: _,
        ca_file: _,
        template,
        vars,
        external,
        cache: _,
        dpop,
        mtls,
        tls_client_auth,
    } = plan;
    let mut key_id = match (external, key) {
        (Some(e), _) => e.identity(),
        (None, Some(spec)) => spec_id(spec)?,
        (None, None) => String::new(),
    };
    if let Some((k, c)) = next_key {
        key_id.push('+');
        key_id.push_str(&spec_id(k)?);
        if let Some(c) = c {
            key_id.push('+');
            key_id.push_str(&file_hash(c, true)?);
        }
    }
    let cert_id = match cert {
        Some(p) => file_hash(p, true)?,
        None => String::new(),
    };
    // A DPoP-bound token is another token than a bearer one; a key file by its bytes' hash (a
    // generated key is inside the entry, never in its name).
    let dpop_id = match dpop {
        None => None,
        Some(crate::dpop::DpopSource::Generated) => Some("generated".to_string()),
        Some(crate::dpop::DpopSource::File(p)) => Some(format!("file:{}", file_hash(p, false)?)),
    };
    let mut scopes = scopes.clone();
    scopes.sort();
    scopes.dedup();
    let v = serde_json::json!({
        "token_url": token_url,
        "grant": grant.as_str(),
        "client_id": client_id,
        "iss": issuer,
        "sub": subject,
        "aud": audience,
        "scopes": scopes,
        "claims": claims,
        "params": params,
        "headers": request_headers,
        "token_path": shape.token_path,
        "template": template.as_ref().map(|t| t.name.clone()),
        "vars": vars,
        "alg": alg.map(|a| a.to_string()),
        "kid": header.kid,
        "kid_from": header.kid_from.map(|k| k.to_string()),
        "x5t": [header.x5t, header.x5t_s256, header.x5c],
        "key": key_id,
        "cert": cert_id,
        "dpop": dpop_id,
        "mtls": [mtls, tls_client_auth],
    });
    Ok(v.to_string())
}
