//! DPoP (RFC 9449): proof JWTs that bind a token to a key the client holds, so that a token that
//! leaks (a CI log, a core dump) is of no use without the key.
//!
//! A [`DpopKey`] is either a key file (`--dpop-key PATH`, any key file signet reads; the algorithm
//! follows the key) or a P-256 key generated for one cache entry and stored inside it (the same
//! 0600 file, or the encrypted Redis entry). Proofs are signed by the same [`SigningKey`] code as
//! assertions.
//!
//! ```
//! let key = signet::dpop::DpopKey::generate()?;
//! let proof = key.proof("POST", "https://idp.example/token?x=1#f", None, None, 1_700_000_000)?;
//! let d = signet::inspect::dangerous::decode_unverified(proof.expose())?;
//! assert_eq!(d.header["typ"], "dpop+jwt");
//! assert_eq!(d.header["alg"], "ES256");
//! assert_eq!(d.claims["htu"], "https://idp.example/token");
//! assert!(d.header["jwk"].get("d").is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::alg::Alg;
use crate::b64;
use crate::key::{KeyError, PublicJwk, SigningKey};
use crate::secret::{Secret, SecretBytes};
use std::path::{Path, PathBuf};

/// Why a DPoP key cannot be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DpopError {
    /// The `--dpop-key` file cannot be used (unreadable, a certificate, RSA under 2048 bits, …).
    #[error("--dpop-key {}: {source}", .path.display())]
    Key {
        /// The file.
        path: PathBuf,
        /// Why.
        source: KeyError,
    },
    /// No P-256 key could be generated (the system's random source failed).
    #[error("cannot generate a DPoP key: {0}")]
    Generate(String),
    /// The settings ask for DPoP where it cannot work.
    #[error("{0}")]
    Usage(String),
}

impl DpopError {
    /// The failure's kind: a key file that cannot be used is a key error (exit 3).
    pub fn category(&self) -> crate::category::Category {
        match self {
            DpopError::Key { source, .. } if source.is_usage() => crate::category::Category::Usage,
            DpopError::Key { .. } => crate::category::Category::Key,
            DpopError::Generate(_) => crate::category::Category::Key,
            DpopError::Usage(_) => crate::category::Category::Usage,
        }
    }
}

/// Where the DPoP key comes from, as the plan holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DpopSource {
    /// Generated for the cache entry and kept inside it (or, with `--no-cache`, for the process).
    Generated,
    /// `--dpop-key PATH`.
    File(PathBuf),
}

/// A DPoP key ready to sign proofs: the key, its algorithm, the encoded header (with the public
/// JWK) and the RFC 7638 thumbprint that a bound token's `cnf.jkt` names.
pub struct DpopKey {
    key: SigningKey,
    alg: Alg,
    jwk: PublicJwk,
    jkt: String,
    header_b64: String,
    /// The PKCS#8 of a generated key, for the cache entry; `None` for a key file.
    stored: Option<SecretBytes>,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopKey")
            .field("alg", &self.alg)
            .field("jkt", &self.jkt)
            .field("generated", &self.stored.is_some())
            .finish_non_exhaustive()
    }
}

/// The name a generated key goes by in messages (it has no file).
const GENERATED: &str = "(the generated DPoP key)";

impl DpopKey {
    fn new(key: SigningKey, stored: Option<SecretBytes>) -> DpopKey {
        let alg = Alg::default_for(key.key_type());
        let jwk = key.public_jwk();
        let header = format!(
            r#"{{"typ":"dpop+jwt","alg":"{}","jwk":{}}}"#,
            alg.as_str(),
            jwk.canonical_json()
        );
        DpopKey {
            jkt: jwk.thumbprint(),
            header_b64: b64::encode(header),
            key,
            alg,
            jwk,
            stored,
        }
    }

    /// A fresh P-256 key (ES256).
    pub fn generate() -> Result<DpopKey, DpopError> {
        use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &aws_lc_rs::rand::SystemRandom::new())
            .map_err(|e| DpopError::Generate(e.to_string()))?;
        let der = SecretBytes::new(doc.as_ref().to_vec());
        let key =
            SigningKey::from_pkcs8_der(&der, Path::new(GENERATED)).map_err(|e| DpopError::Generate(e.to_string()))?;
        Ok(DpopKey::new(key, Some(der)))
    }

    /// A key file (unencrypted: a DPoP key has no passphrase setting). A certificate, an RSA key
    /// under 2048 bits or anything else signet cannot sign with is refused, naming `--dpop-key`.
    pub fn from_file(path: &Path) -> Result<DpopKey, DpopError> {
        let fail = |source| DpopError::Key {
            path: path.into(),
            source,
        };
        let bundle = crate::key::load_key(path, None).map_err(fail)?;
        Ok(DpopKey::new(bundle.key, None))
    }

    /// Opens the key `source` names; a generated one is made now.
    pub fn open(source: &DpopSource) -> Result<DpopKey, DpopError> {
        match source {
            DpopSource::Generated => DpopKey::generate(),
            DpopSource::File(p) => DpopKey::from_file(p),
        }
    }

    /// A generated key as a cache entry stored it; `None` when it is not one (removed,
    /// truncated, edited): the entry is then a miss, never a proof signed by another key.
    pub fn from_stored(text: &str, jkt: &str) -> Option<DpopKey> {
        let der = SecretBytes::new(b64::decode(text).ok()?);
        let key = SigningKey::from_pkcs8_der(&der, Path::new(GENERATED)).ok()?;
        let k = DpopKey::new(key, Some(der));
        (k.jkt == jkt).then_some(k)
    }

    /// What a cache entry stores of a generated key (base64url PKCS#8); `None` for a key file,
    /// which the entry does not copy.
    pub fn stored(&self) -> Option<Secret<String>> {
        self.stored.as_ref().map(|d| Secret::new(b64::encode(d.as_slice())))
    }

    /// The RFC 7638 thumbprint of the public key (`cnf.jkt` of a bound token).
    pub fn jkt(&self) -> &str {
        &self.jkt
    }

    /// The algorithm proofs are signed with.
    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// The public key.
    pub fn public_jwk(&self) -> &PublicJwk {
        &self.jwk
    }

    /// A proof for one request: `htm` = `method`, `htu` = `url` without query and fragment,
    /// `iat` = `now`, a fresh `jti`, the server's `nonce` when given and, for a request that
    /// carries an access token, `ath` = base64url(SHA-256(token)).
    pub fn proof(
        &self,
        method: &str,
        url: &str,
        nonce: Option<&str>,
        access_token: Option<&str>,
        now: i64,
    ) -> Result<Secret<String>, KeyError> {
        let mut claims = serde_json::Map::new();
        claims.insert("jti".into(), uuid::Uuid::new_v4().to_string().into());
        claims.insert("htm".into(), method.into());
        claims.insert("htu".into(), htu(url).into());
        claims.insert("iat".into(), now.into());
        if let Some(n) = nonce {
            claims.insert("nonce".into(), n.into());
        }
        if let Some(t) = access_token {
            claims.insert("ath".into(), ath(t).into());
        }
        let payload = serde_json::Value::Object(claims).to_string();
        let mut out = String::with_capacity(self.header_b64.len() + payload.len() * 4 / 3 + 400);
        out.push_str(&self.header_b64);
        out.push('.');
        out.push_str(&b64::encode(payload));
        let sig = self.key.sign(self.alg, out.as_bytes())?;
        out.push('.');
        out.push_str(&b64::encode(sig));
        Ok(Secret::new(out))
    }
}

/// The `htu` of a request to `url`: the URL without its query and fragment (RFC 9449 §4.2).
///
/// ```
/// assert_eq!(signet::dpop::htu("https://api.example/v1/x?a=1#top"), "https://api.example/v1/x");
/// ```
pub fn htu(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => url.split(['?', '#']).next().unwrap_or_default().to_string(),
    }
}

/// `ath`: base64url of the SHA-256 of the access token (RFC 9449 §4.2).
///
/// ```
/// // RFC 9449 §7.1's example token and its ath
/// assert_eq!(signet::dpop::ath("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
///     "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo");
/// ```
pub fn ath(token: &str) -> String {
    use aws_lc_rs::digest::{digest, SHA256};
    b64::encode(digest(&SHA256, token.as_bytes()).as_ref())
}

/// Whether a server's `DPoP-Nonce` is one signet may send back: RFC 9449 §8.1's `1*NQCHAR`
/// (visible ASCII but `"` and `\`), at most 1 KiB. Control characters, spaces or non-ASCII
/// would be copied into a JWT and from there into logs.
///
/// ```
/// assert!(signet::dpop::is_valid_nonce("eyJ7S_zG.eyJH0-Z.HX4w-7v"));
/// assert!(!signet::dpop::is_valid_nonce("a\r\nSet-Cookie: x"));
/// assert!(!signet::dpop::is_valid_nonce(""));
/// ```
pub fn is_valid_nonce(n: &str) -> bool {
    !n.is_empty() && n.len() <= 1024 && n.bytes().all(|b| matches!(b, 0x21 | 0x23..=0x5b | 0x5d..=0x7e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
    }

    #[test]
    fn a_proof_has_the_rfc_claims_and_a_fresh_jti() {
        let k = DpopKey::generate().unwrap();
        let dec = |p: Secret<String>| crate::inspect::dangerous::decode_unverified(p.expose()).unwrap();
        let a = dec(k
            .proof("POST", "https://idp/t?x#y", Some("n-1"), Some("tok"), 100)
            .unwrap());
        let b = dec(k.proof("POST", "https://idp/t", None, None, 100).unwrap());
        assert_eq!(a.claims["htm"], "POST");
        assert_eq!(a.claims["htu"], "https://idp/t");
        assert_eq!(a.claims["iat"], 100);
        assert_eq!(a.claims["nonce"], "n-1");
        assert_eq!(a.claims["ath"], ath("tok"));
        assert!(b.claims.get("nonce").is_none() && b.claims.get("ath").is_none());
        assert_ne!(a.claims["jti"], b.claims["jti"]);
        let jwk = PublicJwk::from_json(&a.header["jwk"]).unwrap();
        assert_eq!(jwk.thumbprint(), k.jkt());
        assert_eq!(a.header["jwk"].as_object().unwrap().len(), 4, "crv, kty, x, y only");
    }

    #[test]
    fn a_stored_key_comes_back_only_whole_and_with_its_thumbprint() {
        let k = DpopKey::generate().unwrap();
        let s = k.stored().unwrap();
        let back = DpopKey::from_stored(s.expose(), k.jkt()).unwrap();
        assert_eq!(back.jkt(), k.jkt());
        assert!(DpopKey::from_stored(s.expose(), "another-thumbprint").is_none());
        assert!(DpopKey::from_stored(&s.expose()[..40], k.jkt()).is_none());
        assert!(DpopKey::from_stored("", k.jkt()).is_none());
        assert!(!format!("{k:?}").contains(s.expose().as_str()));
    }

    #[test]
    fn key_files_follow_their_algorithm_and_weak_ones_are_refused() {
        assert_eq!(
            DpopKey::from_file(&fixture("ed25519.pkcs8.pem")).unwrap().alg(),
            Alg::EdDSA
        );
        assert_eq!(
            DpopKey::from_file(&fixture("rsa2048.pkcs8.pem")).unwrap().alg(),
            Alg::RS256
        );
        assert!(DpopKey::from_file(&fixture("rsa2048.pkcs8.pem"))
            .unwrap()
            .stored()
            .is_none());
        for bad in ["rsa1024.pkcs8.pem", "p256.crt.pem"] {
            let e = DpopKey::from_file(&fixture(bad)).unwrap_err();
            assert!(e.to_string().starts_with("--dpop-key "), "{e}");
            assert_eq!(e.category(), crate::category::Category::Key, "{e}");
        }
    }
}
