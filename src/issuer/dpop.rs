//! The issuer's DPoP mode (RFC 9449 §5): a token request must carry a valid proof for POST to the
//! token URL, optionally with the issuer's current nonce; the token it issues names the proof
//! key's thumbprint in `cnf.jkt` and is answered with `token_type: DPoP`.

use super::{IssuerConfig, State};
use crate::key::PublicJwk;
use serde_json::Value;

/// How long a proof's `iat` may be from the issuer's clock.
const PROOF_WINDOW: i64 = 60;

/// Why a proof is refused: an error code (`invalid_dpop_proof` or `use_dpop_nonce`), its
/// description, and the nonce to send back with `use_dpop_nonce`.
pub(super) struct DpopRefusal {
    pub(super) code: &'static str,
    pub(super) description: String,
    pub(super) nonce: Option<String>,
}

fn invalid(description: impl Into<String>) -> DpopRefusal {
    DpopRefusal {
        code: "invalid_dpop_proof",
        description: description.into(),
        nonce: None,
    }
}

/// The nonce a proof must carry now: the configured one, or with `dpop_nonce_rotates` a new one
/// for every request (a server whose nonces a client can never catch up with).
pub(super) fn current_nonce(st: &State, cfg: &IssuerConfig) -> Option<String> {
    let n = cfg.dpop_nonce.clone()?;
    if cfg.dpop_nonce_rotates {
        let count = st.count.load(std::sync::atomic::Ordering::SeqCst);
        return Some(format!("{n}-{count}"));
    }
    Some(n)
}

/// Checks the request's `DPoP` header; the thumbprint of the key that signed it.
pub(super) fn check_proof(st: &State, cfg: &IssuerConfig, headers: &[(String, String)]) -> Result<String, DpopRefusal> {
    let proofs: Vec<&str> = headers
        .iter()
        .filter(|(k, _)| k == "dpop")
        .map(|(_, v)| v.as_str())
        .collect();
    let [proof] = proofs[..] else {
        return Err(invalid(if proofs.is_empty() {
            "DPoP proof JWT not provided"
        } else {
            "more than one DPoP header"
        }));
    };
    let d = crate::inspect::dangerous::decode_unverified(proof).map_err(|_| invalid("the DPoP proof is not a JWT"))?;
    if d.header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
        return Err(invalid("the DPoP proof's typ must be dpop+jwt"));
    }
    let jwk_value = d
        .header
        .get("jwk")
        .ok_or_else(|| invalid("the DPoP proof has no jwk"))?;
    if ["d", "p", "q", "dp", "dq", "qi", "k"]
        .iter()
        .any(|m| jwk_value.get(m).is_some())
    {
        return Err(invalid("the DPoP proof's jwk has private key members"));
    }
    let jwk = PublicJwk::from_json(jwk_value).ok_or_else(|| invalid("the DPoP proof's jwk is not a key"))?;
    let alg = d
        .header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(|a| a.parse::<crate::alg::Alg>().ok())
        .ok_or_else(|| invalid("the DPoP proof's alg is not an asymmetric JWS algorithm"))?;
    super::verify::verify_signature(proof, &jwk, alg)
        .map_err(|_| invalid("the DPoP proof's signature is not valid"))?;
    let claim = |k: &str| d.claims.get(k).and_then(Value::as_str);
    if claim("jti").is_none_or(str::is_empty) {
        return Err(invalid("the DPoP proof has no jti"));
    }
    if claim("htm") != Some("POST") {
        return Err(invalid("DPoP proof htm mismatch"));
    }
    let public = cfg.public_url.as_ref().map(|u| format!("{u}/token"));
    if claim("htu") != Some(st.token_url.as_str()) && claim("htu") != public.as_deref() {
        return Err(invalid("DPoP proof htu mismatch"));
    }
    let now = crate::clock::now() + cfg.clock_offset;
    let iat = d
        .claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or_else(|| invalid("the DPoP proof has no iat"))?;
    if (iat - now).abs() > PROOF_WINDOW {
        return Err(invalid("DPoP proof iat is not recent enough"));
    }
    if d.claims.get("ath").is_some() {
        return Err(invalid("a proof for the token endpoint has no ath"));
    }
    if let Some(want) = current_nonce(st, cfg) {
        if claim("nonce") != Some(want.as_str()) {
            return Err(DpopRefusal {
                code: "use_dpop_nonce",
                description: if claim("nonce").is_some() {
                    "invalid nonce in DPoP proof".into()
                } else {
                    "nonce is required in the DPoP proof".into()
                },
                nonce: Some(want),
            });
        }
    }
    Ok(jwk.thumbprint())
}
