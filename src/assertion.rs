//! Client assertions: the signed JWT (RFC 7523) that proves who is asking.
//!
//! A [`Signer`] owns the key in the crypto backend's form and the encoded header, so every
//! assertion it makes costs one signature and nothing else.
//!
//! ```
//! use signet::assertion::{Claims, HeaderOptions, Signer};
//! # let dir = env!("CARGO_MANIFEST_DIR");
//! let bundle = signet::key::load_bundle(format!("{dir}/tests/fixtures/ed25519.pkcs8.pem").as_ref(), None, None)?;
//! let signer = Signer::new(bundle, None, &HeaderOptions::default())?;
//! let claims = Claims::new("my-client", "https://idp.example/token");
//! let jwt = signer.sign(&claims, 1_700_000_000)?;
//! assert_eq!(jwt.expose().split('.').count(), 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::alg::Alg;
use crate::b64;
/// Re-exported from [`crate::key`], where the ids it names are computed.
pub use crate::key::KidFrom;
use crate::key::{Certificate, KeyBundle, KeyError};
use crate::secret::Secret;
use serde_json::{Map, Value};
use std::fmt;

/// Which key-identifying headers to send besides `kid`.
#[derive(Clone, Debug, Default)]
pub struct HeaderOptions {
    /// An explicit `kid` (wins over every rule).
    pub kid: Option<String>,
    /// The kid rule; `None` means the default chain (service-account id, hex-sha1 with a certificate, else jwk).
    pub kid_from: Option<KidFrom>,
    /// Send `x5t`.
    pub x5t: bool,
    /// Send `x5t#S256`.
    pub x5t_s256: bool,
    /// Send `x5c` (the chain, leaf first).
    pub x5c: bool,
    /// Who asked for the parts that need a certificate, when it was not a flag of the user's.
    pub asked_by: AskedBy,
}

/// Who asked for each part of the header that needs a certificate, when it was not the user's
/// own flag: `the entra-id template`, `profile 'ci' (/etc/signet.toml:4)`. A missing certificate
/// is then reported as that template's or profile's request, not as a flag the user never typed.
#[derive(Clone, Debug, Default)]
pub struct AskedBy {
    /// Who set the kid rule.
    pub kid_from: Option<String>,
    /// Who asked for `x5t`.
    pub x5t: Option<String>,
    /// Who asked for `x5t#S256`.
    pub x5t_s256: Option<String>,
    /// Who asked for `x5c`.
    pub x5c: Option<String>,
}

/// The claims of an assertion other than the ones signet sets each time (`jti`, `iat`, `nbf`, `exp`).
#[derive(Clone, Debug)]
pub struct Claims {
    /// `iss`.
    pub issuer: String,
    /// `sub`; `None` omits it (Google without delegation).
    pub subject: Option<String>,
    /// `aud`.
    pub audience: String,
    /// `exp - iat` in seconds.
    pub lifetime: u64,
    /// Leave `nbf` out (`--no-nbf`): MSAL and google-auth send none, and some validators refuse
    /// an `nbf` equal to the time they receive it at.
    pub omit_nbf: bool,
    /// Extra claims, added after the registered ones (and replacing them when named alike).
    pub extra: Map<String, Value>,
}

/// The default assertion lifetime: short enough for Salesforce (180 s) and Keycloak's 60 s use window.
/// The value is `--lifetime`'s default in the settings table.
pub const DEFAULT_LIFETIME: u64 = crate::config::default_secs(crate::config::Key::Lifetime);

impl Claims {
    /// Claims with `iss = sub = client_id`, the given audience and the default lifetime.
    pub fn new(client_id: &str, audience: &str) -> Claims {
        Claims {
            issuer: client_id.into(),
            subject: Some(client_id.into()),
            audience: audience.into(),
            lifetime: DEFAULT_LIFETIME,
            omit_nbf: false,
            extra: Map::new(),
        }
    }

    /// The claim set for one assertion made at `now` with this `jti`.
    pub fn to_json(&self, now: i64, jti: &str) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("iss".into(), self.issuer.clone().into());
        if let Some(s) = &self.subject {
            m.insert("sub".into(), s.clone().into());
        }
        m.insert("aud".into(), self.audience.clone().into());
        m.insert("jti".into(), jti.into());
        m.insert("iat".into(), now.into());
        if !self.omit_nbf {
            m.insert("nbf".into(), now.into());
        }
        m.insert(
            "exp".into(),
            now.saturating_add(i64::try_from(self.lifetime).unwrap_or(i64::MAX))
                .into(),
        );
        for (k, v) in &self.extra {
            m.insert(k.clone(), v.clone());
        }
        m
    }
}

/// A problem with the signing options (exit 2): they ask for something the key cannot give.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AssertionError {
    /// A kid rule or header needs a certificate and none is known.
    #[error("{what} needs a certificate: give one with --cert (or use a PKCS#12 or key+certificate PEM)")]
    NeedsCertificate {
        /// The option that needs it.
        what: String,
    },
    /// A template or profile asked for something that needs a certificate, and none is known.
    #[error("{asked_by} {what}, which needs the certificate: give --cert or a PFX")]
    CertificateAskedFor {
        /// The template or profile (`the entra-id template`).
        asked_by: String,
        /// What it asked for (`sends x5t#S256`).
        what: String,
    },
    /// A pasted thumbprint matches none of the certificate's.
    #[error("--kid {kid} looks like a certificate thumbprint but matches none of {subject}'s (SHA-1 {sha1}): check that --kid and --cert name the same certificate")]
    KidMismatch {
        /// The normalised kid.
        kid: String,
        /// Certificate subject.
        subject: String,
        /// The certificate's SHA-1 thumbprint.
        sha1: String,
    },
    /// The key could not be used.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// Signs assertions with one key, one algorithm and one header.
pub struct Signer {
    bundle: KeyBundle,
    alg: Alg,
    kid: Option<String>,
    header_b64: String,
    warnings: Vec<String>,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Prepares a signer: checks the algorithm against the key, derives the `kid` and encodes the header once.
    pub fn new(bundle: KeyBundle, alg: Option<Alg>, opts: &HeaderOptions) -> Result<Signer, AssertionError> {
        let alg = alg.unwrap_or_else(|| Alg::default_for(bundle.key.key_type()));
        bundle.key.check_alg(alg)?;
        let mut warnings = Vec::new();
        let leaf = bundle.leaf();
        let need = |flag: &str, asked_by: &Option<String>, asks: &str| need_certificate(leaf, flag, asked_by, asks);
        let kid = match (&opts.kid, opts.kid_from) {
            (Some(k), _) => Some(normalize_kid(k, leaf, &mut warnings)?),
            (None, Some(rule)) => derive_kid(rule, &bundle, || {
                need(
                    &format!("--kid-from {rule}"),
                    &opts.asked_by.kid_from,
                    &format!("sends the certificate's {rule} thumbprint as the kid"),
                )
            })?,
            (None, None) => {
                if let Some(sa) = bundle.service_account.as_ref().filter(|s| !s.private_key_id.is_empty()) {
                    Some(sa.private_key_id.clone())
                } else if let Some(c) = leaf {
                    Some(c.hex_sha1())
                } else {
                    Some(bundle.key.public_jwk().thumbprint())
                }
            }
        };
        let mut h = Map::new();
        h.insert("alg".into(), alg.as_str().into());
        h.insert("typ".into(), "JWT".into());
        if let Some(k) = &kid {
            h.insert("kid".into(), k.clone().into());
        }
        let by = &opts.asked_by;
        if opts.x5t {
            h.insert("x5t".into(), need("--x5t", &by.x5t, "sends x5t")?.x5t().into());
        }
        if opts.x5t_s256 {
            let c = need("--x5t-s256", &by.x5t_s256, "sends x5t#S256")?;
            h.insert("x5t#S256".into(), c.x5t_s256().into());
        }
        if opts.x5c {
            need("--x5c", &by.x5c, "sends x5c (the certificate chain)")?;
            let chain: Vec<Value> = bundle.chain.iter().map(|c| c.x5c_entry().into()).collect();
            h.insert("x5c".into(), chain.into());
        }
        let header_b64 = b64::encode(Value::Object(h).to_string());
        Ok(Signer {
            bundle,
            alg,
            kid,
            header_b64,
            warnings,
        })
    }

    /// The algorithm.
    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// The `kid` header, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The key and its certificates.
    pub fn bundle(&self) -> &KeyBundle {
        &self.bundle
    }

    /// Warnings found while preparing (a normalised `--kid`), for the caller to show.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Signs `claims` at time `now` with a fresh UUID v4 `jti`.
    pub fn sign(&self, claims: &Claims, now: i64) -> Result<Secret<String>, KeyError> {
        let jti = uuid::Uuid::new_v4().to_string();
        self.sign_payload(&Value::Object(claims.to_json(now, &jti)).to_string())
    }

    /// Signs an arbitrary JSON payload (already serialised) with this signer's header.
    pub fn sign_payload(&self, payload_json: &str) -> Result<Secret<String>, KeyError> {
        let mut out = String::with_capacity(self.header_b64.len() + payload_json.len() * 4 / 3 + 400);
        out.push_str(&self.header_b64);
        out.push('.');
        out.push_str(&b64::encode(payload_json));
        let sig = self.bundle.key.sign(self.alg, out.as_bytes())?;
        out.push('.');
        out.push_str(&b64::encode(sig));
        Ok(Secret::new(out))
    }
}

/// The leaf certificate, or the error for a missing one: `flag` names the option when the user
/// gave it; `asks` says what a template or profile that set it asked for.
fn need_certificate<'c>(
    leaf: Option<&'c Certificate>,
    flag: &str,
    asked_by: &Option<String>,
    asks: &str,
) -> Result<&'c Certificate, AssertionError> {
    leaf.ok_or_else(|| match asked_by {
        Some(by) => AssertionError::CertificateAskedFor {
            asked_by: by.clone(),
            what: asks.into(),
        },
        None => AssertionError::NeedsCertificate { what: flag.into() },
    })
}

fn derive_kid<'a>(
    rule: KidFrom,
    bundle: &'a KeyBundle,
    need: impl Fn() -> Result<&'a Certificate, AssertionError>,
) -> Result<Option<String>, AssertionError> {
    Ok(match rule {
        // These two name the key itself, so a key without a certificate has them too.
        KidFrom::Jwk => Some(bundle.key.public_jwk().thumbprint()),
        KidFrom::SpkiS256 => Some(bundle.key.spki_s256()),
        KidFrom::None => None,
        KidFrom::HexSha1 | KidFrom::X5t | KidFrom::X5tS256 => need()?.id(rule),
    })
}

/// Cleans a `--kid` pasted from Windows: when it is a hex thumbprint written with colons, spaces,
/// lower case or invisible marks (U+200E…), returns it as upper-case hex with a warning; when a
/// certificate is known and the thumbprint is not its SHA-1, that is an error.
/// Forty plain hex digits with no certificate known are left as given: Google's
/// `private_key_id` looks like that, in lower case, and is compared as written.
pub fn normalize_kid(
    kid: &str,
    cert: Option<&Certificate>,
    warnings: &mut Vec<String>,
) -> Result<String, AssertionError> {
    let cleaned: String = kid
        .chars()
        .filter(|c| {
            !matches!(
                c,
                '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{FEFF}' | '\u{200B}'
            )
        })
        .filter(|c| !matches!(c, ':' | ' ' | '-'))
        .collect();
    let is_hex = cleaned.len() == 40 && cleaned.chars().all(|c| c.is_ascii_hexdigit());
    if is_hex && cert.is_none() && cleaned == kid {
        return Ok(kid.to_string());
    }
    if !is_hex {
        if cleaned.len() != kid.len() && kid.chars().any(|c| c as u32 > 0x7f && !c.is_alphanumeric()) {
            warnings.push("--kid contained invisible characters, which were removed".into());
            let stripped: String = kid
                .chars()
                .filter(|c| (*c as u32) < 0x7f || c.is_alphanumeric())
                .collect();
            return Ok(stripped);
        }
        return Ok(kid.to_string());
    }
    let upper = cleaned.to_ascii_uppercase();
    if upper != kid {
        warnings.push(format!(
            "--kid normalised to {upper} (colons, spaces, lower case or invisible marks removed)"
        ));
    }
    if let Some(c) = cert {
        if upper != c.hex_sha1() {
            return Err(AssertionError::KidMismatch {
                kid: upper,
                subject: c.subject().into(),
                sha1: c.hex_sha1(),
            });
        }
    }
    Ok(upper)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_put_registered_first_and_extras_win() {
        let mut c = Claims::new("cid", "https://aud");
        c.extra.insert("scope".into(), "a b".into());
        c.extra.insert("sub".into(), "user".into());
        let m = c.to_json(100, "j");
        let keys: Vec<&str> = m.keys().map(String::as_str).collect();
        assert_eq!(keys, ["iss", "sub", "aud", "jti", "iat", "nbf", "exp", "scope"]);
        assert_eq!(m["sub"], "user");
        assert_eq!(m["exp"], 100 + DEFAULT_LIFETIME as i64);
        c.omit_nbf = true;
        let m = c.to_json(100, "j");
        assert!(m.get("nbf").is_none() && m["iat"] == 100);
    }

    #[test]
    fn pasted_windows_thumbprint_is_normalised() {
        let mut w = vec![];
        let k = normalize_kid(
            "\u{200E}ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01",
            None,
            &mut w,
        )
        .unwrap();
        assert_eq!(k, "ABCDEF0123456789ABCDEF0123456789ABCDEF01");
        assert_eq!(w.len(), 1);
        let mut w = vec![];
        assert_eq!(normalize_kid("my-okta-key", None, &mut w).unwrap(), "my-okta-key");
        let google = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(normalize_kid(google, None, &mut w).unwrap(), google);
        assert!(w.is_empty());
    }

    #[test]
    fn kid_rules_parse() {
        for (k, n) in KidFrom::ALL {
            assert_eq!(n.parse::<KidFrom>().unwrap(), k);
        }
        assert!("sha1".parse::<KidFrom>().is_err());
    }
}
