//! Keys held by an ssh-agent (`SSH_AUTH_SOCK`), named `ssh-agent:SHA256:<fingerprint>` or
//! `ssh-agent:<comment>`. The agent protocol (draft-miller-ssh-agent) signs RSA with
//! rsa-sha2-256 or rsa-sha2-512 (RS256, RS512), ECDSA (ES256, ES384) and Ed25519 (EdDSA);
//! it cannot do PSS or SHA-384 RSA.
//!
//! The client is written here: the Rust agent clients either hard-code rsa-sha2-512 or are async
//! frameworks, and the two messages signet needs (and the key blobs) are small.

use super::{KeyError, PublicJwk, Sign, SigningKey};
use crate::alg::{Alg, KeyType};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

const REQUEST_IDENTITIES: u8 = 11;
const IDENTITIES_ANSWER: u8 = 12;
const SIGN_REQUEST: u8 = 13;
const SIGN_RESPONSE: u8 = 14;
const RSA_SHA2_256: u32 = 2;
const RSA_SHA2_512: u32 = 4;

fn fail(spec: &str, reason: impl Into<String>) -> KeyError {
    KeyError::Backend {
        spec: spec.into(),
        reason: reason.into(),
    }
}

/// A key in the agent.
struct AgentKey {
    socket: std::path::PathBuf,
    blob: Vec<u8>,
    // Decoded once from the blob at open.
    jwk: PublicJwk,
    key_type: KeyType,
    // The spec as given, for messages.
    spec: String,
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s);
}

fn take_u32(b: &mut &[u8]) -> Option<u32> {
    let (h, t) = b.split_at_checked(4)?;
    *b = t;
    Some(u32::from_be_bytes(h.try_into().ok()?))
}

fn take_string<'a>(b: &mut &'a [u8]) -> Option<&'a [u8]> {
    let n = take_u32(b)? as usize;
    let (h, t) = b.split_at_checked(n)?;
    *b = t;
    Some(h)
}

fn roundtrip(socket: &Path, msg: &[u8], spec: &str) -> Result<Vec<u8>, KeyError> {
    let mut s = UnixStream::connect(socket).map_err(|e| {
        fail(
            spec,
            format!(
                "cannot reach the agent at {}: {}",
                socket.display(),
                crate::text::io_reason(&e)
            ),
        )
    })?;
    let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(30)));
    let mut framed = (msg.len() as u32).to_be_bytes().to_vec();
    framed.extend_from_slice(msg);
    s.write_all(&framed)
        .map_err(|e| fail(spec, crate::text::io_reason(&e)))?;
    let mut len = [0u8; 4];
    s.read_exact(&mut len)
        .map_err(|e| fail(spec, crate::text::io_reason(&e)))?;
    let n = u32::from_be_bytes(len) as usize;
    if n > 256 * 1024 {
        return Err(fail(spec, "the agent's answer is too large"));
    }
    let mut body = vec![0u8; n];
    s.read_exact(&mut body)
        .map_err(|e| fail(spec, crate::text::io_reason(&e)))?;
    Ok(body)
}

/// Finds the key `want` (a `SHA256:` fingerprint or a comment) in the agent at `socket` (from
/// SSH_AUTH_SOCK); `spec` is the whole `ssh-agent:` spec, for messages.
pub(super) fn open(want: &str, spec: &str, socket: Option<&Path>) -> Result<SigningKey, KeyError> {
    let socket = socket.ok_or_else(|| {
        fail(
            spec,
            "SSH_AUTH_SOCK is not set: start an agent (eval $(ssh-agent)) and ssh-add the key",
        )
    })?;
    let answer = roundtrip(socket, &[REQUEST_IDENTITIES], spec)?;
    let mut b = &answer[..];
    let bad = || fail(spec, "the agent's answer is malformed");
    if b.first() != Some(&IDENTITIES_ANSWER) {
        return Err(bad());
    }
    b = &b[1..];
    let count = take_u32(&mut b).ok_or_else(bad)?;
    let mut names = vec![];
    for _ in 0..count.min(1000) {
        let blob = take_string(&mut b).ok_or_else(bad)?.to_vec();
        let comment = String::from_utf8_lossy(take_string(&mut b).ok_or_else(bad)?).into_owned();
        let fp = fingerprint(&blob);
        if fp == want || comment == want {
            let jwk = jwk_of(&blob).ok_or_else(|| {
                fail(
                    spec,
                    format!("the agent's key {fp} is of a type signet cannot sign with"),
                )
            })?;
            let key_type = super::held_key_type(&jwk, spec)?;
            return Ok(SigningKey::from_backend(Box::new(AgentKey {
                socket: socket.to_path_buf(),
                blob,
                jwk,
                key_type,
                spec: spec.into(),
            })));
        }
        names.push(if comment.is_empty() {
            fp
        } else {
            format!("{fp} ({comment})")
        });
    }
    Err(fail(
        spec,
        format!(
            "the agent holds no key {want} (it holds: {})",
            if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            }
        ),
    ))
}

/// `SHA256:…` as `ssh-add -l` prints it: unpadded standard base64 of the key blob's SHA-256.
fn fingerprint(blob: &[u8]) -> String {
    use base64::Engine;
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, blob);
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(d.as_ref())
    )
}

/// The public key in an SSH key blob (RFC 4253 §6.6, RFC 5656 §3.1, RFC 8709 §4).
fn jwk_of(blob: &[u8]) -> Option<PublicJwk> {
    let mut b = blob;
    let kind = take_string(&mut b)?;
    let strip = |v: &[u8]| v.iter().copied().skip_while(|x| *x == 0).collect::<Vec<u8>>();
    match kind {
        b"ssh-rsa" => {
            let e = strip(take_string(&mut b)?);
            let n = strip(take_string(&mut b)?);
            Some(PublicJwk::Rsa { n, e })
        }
        b"ecdsa-sha2-nistp256" | b"ecdsa-sha2-nistp384" => {
            let _curve = take_string(&mut b)?;
            let p = take_string(&mut b)?;
            let w = (p.len().checked_sub(1)?) / 2;
            let crv = match (kind, w) {
                (b"ecdsa-sha2-nistp256", 32) => "P-256",
                (b"ecdsa-sha2-nistp384", 48) => "P-384",
                _ => return None,
            };
            (p.first() == Some(&4)).then(|| PublicJwk::Ec {
                crv,
                x: p[1..1 + w].to_vec(),
                y: p[1 + w..].to_vec(),
            })
        }
        b"ssh-ed25519" => {
            let x = take_string(&mut b)?;
            (x.len() == 32).then(|| PublicJwk::Okp { x: x.to_vec() })
        }
        _ => None,
    }
}

impl Sign for AgentKey {
    fn key_type(&self) -> KeyType {
        self.key_type
    }

    fn backend(&self) -> &'static str {
        "ssh-agent"
    }

    fn public_jwk(&self) -> PublicJwk {
        self.jwk.clone()
    }

    /// Signs a JWS signing input through the agent.
    fn sign(&self, alg: Alg, msg: &[u8]) -> Result<Vec<u8>, KeyError> {
        let flags = match alg {
            Alg::RS256 => RSA_SHA2_256,
            Alg::RS512 => RSA_SHA2_512,
            Alg::ES256 | Alg::ES384 | Alg::EdDSA => 0,
            other => {
                return Err(fail(
                    &self.spec,
                    format!("{other} cannot be signed through ssh-agent (the agent protocol offers RS256, RS512, ES256, ES384 and EdDSA)"),
                ))
            }
        };
        let mut req = vec![SIGN_REQUEST];
        put_string(&mut req, &self.blob);
        put_string(&mut req, msg);
        req.extend_from_slice(&flags.to_be_bytes());
        let answer = roundtrip(&self.socket, &req, &self.spec)?;
        let bad = || fail(&self.spec, "the agent refused to sign or answered something else");
        let mut b = &answer[..];
        if b.first() != Some(&SIGN_RESPONSE) {
            return Err(bad());
        }
        b = &b[1..];
        let mut sig = take_string(&mut b).ok_or_else(bad)?;
        let _algo = take_string(&mut sig).ok_or_else(bad)?;
        let raw = take_string(&mut sig).ok_or_else(bad)?;
        match alg {
            Alg::ES256 | Alg::ES384 => {
                // SSH encodes r and s as mpints; JWS wants them fixed width, concatenated.
                let w = if alg == Alg::ES256 { 32 } else { 48 };
                let mut inner = raw;
                let mut out = vec![];
                for _ in 0..2 {
                    let v = take_string(&mut inner).ok_or_else(bad)?;
                    let v: Vec<u8> = v.iter().copied().skip_while(|b| *b == 0).collect();
                    if v.len() > w {
                        return Err(bad());
                    }
                    out.extend(std::iter::repeat_n(0u8, w - v.len()));
                    out.extend(v);
                }
                Ok(out)
            }
            _ => Ok(raw.to_vec()),
        }
    }
}
