//! Keys on a PKCS#11 token (HSM, YubiKey, SoftHSM), named by an RFC 7512 URI:
//! `pkcs11:token=…;object=…;id=%01?module-path=…&pin-source=file:…`.
//! The session is opened once per process and closed when the key is dropped.

use super::{Certificate, KeyError, KeySourceOptions, PublicJwk, Sign, SigningKey};
use crate::alg::{Alg, KeyType};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use std::path::PathBuf;

/// A parsed `pkcs11:` URI (RFC 7512).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pkcs11Uri {
    /// `token`: the token label.
    pub token: Option<String>,
    /// `object`: the key's label.
    pub object: Option<String>,
    /// `id`: the key's CKA_ID bytes.
    pub id: Option<Vec<u8>>,
    /// `slot-id`.
    pub slot_id: Option<u64>,
    /// `module-path`.
    pub module_path: Option<PathBuf>,
    /// `pin-source`: a file holding the PIN.
    pub pin_source: Option<PathBuf>,
}

fn pct_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

impl Pkcs11Uri {
    /// Parses a URI; a `pin-value` is refused (a PIN is never part of a command line).
    ///
    /// ```
    /// let u = signet::key::Pkcs11Uri::parse("pkcs11:token=ci;object=batch;id=%01%02?module-path=/usr/lib/x.so").unwrap();
    /// assert_eq!(u.id, Some(vec![1, 2]));
    /// assert!(signet::key::Pkcs11Uri::parse("pkcs11:object=k?pin-value=1234").is_err());
    /// ```
    pub fn parse(uri: &str) -> Result<Pkcs11Uri, String> {
        let rest = uri.strip_prefix("pkcs11:").ok_or("not a pkcs11: URI")?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut u = Pkcs11Uri::default();
        let text = |v: &str| String::from_utf8_lossy(&pct_decode(v)).into_owned();
        for attr in path.split(';').filter(|a| !a.is_empty()) {
            let (k, v) = attr
                .split_once('=')
                .ok_or_else(|| format!("'{attr}' is not NAME=VALUE"))?;
            match k {
                "token" => u.token = Some(text(v)),
                "object" => u.object = Some(text(v)),
                "id" => u.id = Some(pct_decode(v)),
                "slot-id" => u.slot_id = Some(v.parse().map_err(|_| format!("slot-id '{v}' is not a number"))?),
                "type" if v == "private" => {}
                "manufacturer"
                | "model"
                | "serial"
                | "library-manufacturer"
                | "library-description"
                | "library-version"
                | "slot-description"
                | "slot-manufacturer" => {}
                other => return Err(format!("unsupported pkcs11 URI attribute '{other}'")),
            }
        }
        for attr in query.split('&').filter(|a| !a.is_empty()) {
            let (k, v) = attr
                .split_once('=')
                .ok_or_else(|| format!("'{attr}' is not NAME=VALUE"))?;
            match k {
                "module-path" => u.module_path = Some(PathBuf::from(text(v))),
                "pin-source" => u.pin_source = Some(PathBuf::from(text(v).trim_start_matches("file:").to_string())),
                "pin-value" => {
                    return Err(
                        "pin-value is refused: give the PIN in SIGNET_PKCS11_PIN or with pin-source=FILE".into(),
                    )
                }
                "module-name" => {}
                other => return Err(format!("unsupported pkcs11 URI query attribute '{other}'")),
            }
        }
        if u.object.is_none() && u.id.is_none() {
            return Err("the URI names no key: give object= (label) or id=".into());
        }
        Ok(u)
    }
}

/// A signing key on a PKCS#11 token.
struct Pkcs11Key {
    // A PKCS#11 session may be used by one thread at a time.
    session: std::sync::Mutex<Session>,
    key: ObjectHandle,
    // Read once at open: the token is not asked again for each JWK or certificate match.
    jwk: PublicJwk,
    key_type: KeyType,
    // The URI as given, for messages.
    spec: String,
    _ctx: Pkcs11,
}

fn fail(uri: &str, reason: impl Into<String>) -> KeyError {
    KeyError::Backend {
        spec: uri.into(),
        reason: reason.into(),
    }
}

fn describe(e: cryptoki::error::Error) -> String {
    let s = e.to_string();
    let l = s.to_ascii_lowercase();
    if l.contains("pinincorrect") || l.contains("pin_incorrect") || l.contains("pin is incorrect") {
        "wrong PIN (check SIGNET_PKCS11_PIN or the pin-source file)".into()
    } else if l.contains("pinlocked") || l.contains("pin_locked") || l.contains("pin is locked") || l.contains("locked")
    {
        "the token's PIN is locked: unlock it with the security officer PIN".into()
    } else if l.contains("mechanism") && (l.contains("invalid") || l.contains("not supported")) {
        "the token does not support this signature mechanism".into()
    } else {
        crate::text::sanitize(&s, 160)
    }
}

/// Opens the token, logs in and finds the key, its public key and (same id or label) its certificate.
pub(super) fn open(spec: &str, opts: &KeySourceOptions) -> Result<(SigningKey, Vec<Certificate>), KeyError> {
    let module_env = opts.pkcs11_module.as_deref();
    let pin_env = opts.pkcs11_pin.as_ref();
    let uri = Pkcs11Uri::parse(spec).map_err(|e| fail(spec, e))?;
    let module = uri
        .module_path
        .clone()
        .or_else(|| module_env.map(PathBuf::from))
        .ok_or_else(|| {
            fail(
                spec,
                "no PKCS#11 module: add ?module-path=… to the URI or set SIGNET_PKCS11_MODULE",
            )
        })?;
    let pin = match (&uri.pin_source, pin_env) {
        (Some(p), _) => super::read_pin_file(p)?,
        (None, Some(p)) => p.clone(),
        (None, None) => {
            return Err(fail(
                spec,
                "no PIN: set SIGNET_PKCS11_PIN or pin-source=FILE in the URI",
            ))
        }
    };
    let ctx = Pkcs11::new(&module).map_err(|e| {
        fail(
            spec,
            format!("cannot load module {}: {}", module.display(), describe(e)),
        )
    })?;
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .map_err(|e| fail(spec, describe(e)))?;
    let slots = ctx.get_slots_with_token().map_err(|e| fail(spec, describe(e)))?;
    let slot = slots
        .into_iter()
        .find(|s| {
            let label_ok = uri
                .token
                .as_ref()
                .is_none_or(|t| ctx.get_token_info(*s).map(|i| i.label().trim() == t).unwrap_or(false));
            let id_ok = uri.slot_id.is_none_or(|id| s.id() == id);
            label_ok && id_ok
        })
        .ok_or_else(|| {
            fail(
                spec,
                format!(
                    "no token {} is present",
                    uri.token.as_deref().unwrap_or("matching the URI")
                ),
            )
        })?;
    let session = ctx.open_ro_session(slot).map_err(|e| fail(spec, describe(e)))?;
    session
        .login(UserType::User, Some(&AuthPin::new(pin.expose().clone().into())))
        .map_err(|e| fail(spec, describe(e)))?;
    let mut template = vec![];
    if let Some(l) = &uri.object {
        template.push(Attribute::Label(l.as_bytes().to_vec()));
    }
    if let Some(id) = &uri.id {
        template.push(Attribute::Id(id.clone()));
    }
    let find = |class: ObjectClass| {
        let mut t = template.clone();
        t.push(Attribute::Class(class));
        session.find_objects(&t).ok().and_then(|v| v.into_iter().next())
    };
    let key =
        find(ObjectClass::PRIVATE_KEY).ok_or_else(|| fail(spec, "no private key on the token matches the URI"))?;
    let public = find(ObjectClass::PUBLIC_KEY).unwrap_or(key);
    let attrs = session
        .get_attributes(
            public,
            &[
                AttributeType::KeyType,
                AttributeType::Modulus,
                AttributeType::PublicExponent,
                AttributeType::EcPoint,
                AttributeType::EcParams,
            ],
        )
        .map_err(|e| fail(spec, describe(e)))?;
    let mut n = None;
    let mut e = None;
    let mut point = None;
    let mut params = None;
    for a in attrs {
        match a {
            Attribute::Modulus(v) => n = Some(v),
            Attribute::PublicExponent(v) => e = Some(v),
            Attribute::EcPoint(v) => point = Some(v),
            Attribute::EcParams(v) => params = Some(v),
            _ => {}
        }
    }
    let jwk = if let (Some(n), Some(e)) = (n, e) {
        let strip = |v: Vec<u8>| v.into_iter().skip_while(|b| *b == 0).collect::<Vec<u8>>();
        PublicJwk::Rsa {
            n: strip(n),
            e: strip(e),
        }
    } else if let Some(point) = point {
        // CKA_EC_POINT is a DER OCTET STRING around the point (some tokens omit the wrapper).
        let raw = if point.first() == Some(&0x04) && point.len() > 2 && point[1] as usize == point.len() - 2 {
            point[2..].to_vec()
        } else {
            point
        };
        let params = params.unwrap_or_default();
        if params == [0x06, 0x03, 0x2b, 0x65, 0x70]
            || params.windows(3).any(|w| w == [0x2b, 0x65, 0x70])
            || params.starts_with(&[0x13])
        {
            PublicJwk::Okp { x: raw }
        } else if raw.first() == Some(&4) {
            let w = (raw.len() - 1) / 2;
            let crv = if w == 32 {
                "P-256"
            } else if w == 48 {
                "P-384"
            } else {
                return Err(fail(spec, "an EC key on a curve signet does not sign with"));
            };
            PublicJwk::Ec {
                crv,
                x: raw[1..1 + w].to_vec(),
                y: raw[1 + w..].to_vec(),
            }
        } else {
            PublicJwk::Okp { x: raw }
        }
    } else {
        return Err(fail(spec, "the key's public values cannot be read from the token"));
    };
    let mut certs = vec![];
    if let Some(c) = find(ObjectClass::CERTIFICATE) {
        if let Ok(attrs) = session.get_attributes(c, &[AttributeType::Value]) {
            for a in attrs {
                if let Attribute::Value(der) = a {
                    if let Ok(cert) = Certificate::from_der(&der) {
                        certs.push(cert);
                    }
                }
            }
        }
    }
    let key_type = super::held_key_type(&jwk, spec)?;
    let key = Pkcs11Key {
        session: std::sync::Mutex::new(session),
        key,
        jwk,
        key_type,
        spec: spec.into(),
        _ctx: ctx,
    };
    Ok((SigningKey::from_backend(Box::new(key)), certs))
}

impl Sign for Pkcs11Key {
    fn key_type(&self) -> KeyType {
        self.key_type
    }

    fn backend(&self) -> &'static str {
        "pkcs11"
    }

    fn public_jwk(&self) -> PublicJwk {
        self.jwk.clone()
    }

    /// Signs a JWS signing input on the token.
    fn sign(&self, alg: Alg, msg: &[u8]) -> Result<Vec<u8>, KeyError> {
        let spec = self.spec.as_str();
        use aws_lc_rs::digest::{digest, SHA256, SHA384};
        let pss = |hash: MechanismType, mgf: PkcsMgfType, len: u64| PkcsPssParams {
            hash_alg: hash,
            mgf,
            s_len: len.into(),
        };
        let (mech, data): (Mechanism, Vec<u8>) = match alg {
            Alg::RS256 => (Mechanism::Sha256RsaPkcs, msg.to_vec()),
            Alg::RS384 => (Mechanism::Sha384RsaPkcs, msg.to_vec()),
            Alg::RS512 => (Mechanism::Sha512RsaPkcs, msg.to_vec()),
            Alg::PS256 => (
                Mechanism::Sha256RsaPkcsPss(pss(MechanismType::SHA256, PkcsMgfType::MGF1_SHA256, 32)),
                msg.to_vec(),
            ),
            Alg::PS384 => (
                Mechanism::Sha384RsaPkcsPss(pss(MechanismType::SHA384, PkcsMgfType::MGF1_SHA384, 48)),
                msg.to_vec(),
            ),
            Alg::PS512 => (
                Mechanism::Sha512RsaPkcsPss(pss(MechanismType::SHA512, PkcsMgfType::MGF1_SHA512, 64)),
                msg.to_vec(),
            ),
            // CKM_ECDSA signs a digest and returns r‖s, fixed width: exactly the JWS form.
            Alg::ES256 => (Mechanism::Ecdsa, digest(&SHA256, msg).as_ref().to_vec()),
            Alg::ES384 => (Mechanism::Ecdsa, digest(&SHA384, msg).as_ref().to_vec()),
            Alg::EdDSA => (
                Mechanism::Eddsa(cryptoki::mechanism::eddsa::EddsaParams::new(
                    cryptoki::mechanism::eddsa::EddsaSignatureScheme::Pure,
                )),
                msg.to_vec(),
            ),
        };
        let session = self
            .session
            .lock()
            .map_err(|_| fail(spec, "the PKCS#11 session is unusable"))?;
        session
            .sign(&mech, self.key, &data)
            .map_err(|e| fail(spec, format!("signing with {alg} failed: {}", describe(e))))
    }
}
