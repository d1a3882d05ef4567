//! mTLS (RFC 8705): the key and certificate as the TLS client certificate of the token request,
//! for certificate-bound tokens (§3) and for client authentication by the certificate alone
//! (`tls_client_auth` / `self_signed_tls_client_auth`, §2).
//!
//! rustls (through reqwest) takes the private key as DER, so the key file is read again here and
//! its key handed over in the form the file holds (PKCS#8, PKCS#1, SEC1; an encrypted PKCS#8 or
//! a PKCS#12 decrypted first). A key that never leaves a PKCS#11 token or an ssh-agent cannot be
//! handed over this way: it is refused, naming its kind.

use crate::config::ConfigError;
use crate::grant::{Grant, TokenRequest};
use crate::key::{self, KeyBundle, KeyError, KeySpec};
use crate::plan::TokenPlan;
use crate::secret::{Secret, SecretBytes};
use std::path::Path;

/// What mTLS needs before any key is read: a key file (a PKCS#11 or ssh-agent key is refused,
/// naming its kind, with exit 2).
pub(crate) fn check_plan(plan: &TokenPlan) -> Result<(), ConfigError> {
    if !plan.mtls {
        return Ok(());
    }
    let why = if plan.tls_client_auth {
        "--client-auth tls"
    } else {
        "--mtls"
    };
    match plan.key.as_ref() {
        Some(KeySpec::Pkcs11(_)) => Err(not_a_file(why, "a PKCS#11 key")),
        Some(KeySpec::Agent(_)) => Err(not_a_file(why, "an ssh-agent key")),
        _ => Ok(()),
    }
}

/// The TLS client identity for `plan`'s key, whose loaded form (with its certificate chain) is
/// `bundle`.
pub(crate) fn identity(plan: &TokenPlan, bundle: &KeyBundle) -> Result<reqwest::Identity, crate::Error> {
    let why = if plan.tls_client_auth {
        "--client-auth tls"
    } else {
        "--mtls"
    };
    let path = match plan.key.as_ref() {
        Some(KeySpec::File(p)) => p.clone(),
        Some(KeySpec::Pkcs11(_)) => return Err(not_a_file(why, "a PKCS#11 key").into()),
        Some(KeySpec::Agent(_)) => return Err(not_a_file(why, "an ssh-agent key").into()),
        None => {
            return Err(ConfigError::Missing {
                what: format!("a key file for {why}"),
                how: "give --key PATH and --cert PATH (the TLS client certificate and its key)".into(),
            }
            .into())
        }
    };
    if bundle.chain.is_empty() {
        return Err(ConfigError::Usage(format!(
            "{why} needs the certificate to present: give --cert PATH (or a PKCS#12 or key+certificate PEM)"
        ))
        .into());
    }
    let passphrase = plan.passphrase.read()?;
    let (tag, der) = key_der(&path, passphrase.as_ref())?;
    let mut pem = String::new();
    pem.push_str(&pem::encode(&pem::Pem::new(tag, der.to_vec())));
    for c in &bundle.chain {
        pem.push_str(&pem::encode(&pem::Pem::new("CERTIFICATE", c.der().to_vec())));
    }
    let pem = Secret::new(pem);
    reqwest::Identity::from_pem(pem.expose().as_bytes()).map_err(|_| {
        KeyError::Malformed {
            path: path.clone(),
            reason: "the key and certificate could not be made a TLS client identity",
        }
        .into()
    })
}

fn not_a_file(why: &str, kind: &str) -> ConfigError {
    ConfigError::Usage(format!(
        "{why} needs a key file: {kind} cannot be the TLS client key (signet hands rustls the key's bytes, which such a key never gives out)"
    ))
}

/// The private key of a key file as DER with its PEM label: what the file holds, decrypted.
fn key_der(path: &Path, passphrase: Option<&Secret<String>>) -> Result<(&'static str, SecretBytes), KeyError> {
    let bytes = crate::files::read_secret(path, crate::files::FileKind::Key).map_err(|e| KeyError::Read {
        path: path.into(),
        reason: crate::text::io_reason(&e),
    })?;
    if key::is_pkcs12(&bytes) {
        return Ok(("PRIVATE KEY", key::pkcs12_key_der(&bytes, path, passphrase)?));
    }
    let unknown = || KeyError::UnknownFormat { path: path.into() };
    if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        let blocks = pem::parse_many(&bytes[..]).map_err(|_| unknown())?;
        for b in &blocks {
            let der = SecretBytes::new(b.contents().to_vec());
            match b.tag() {
                "PRIVATE KEY" => return Ok(("PRIVATE KEY", der)),
                "RSA PRIVATE KEY" => return Ok(("RSA PRIVATE KEY", der)),
                "EC PRIVATE KEY" => return Ok(("EC PRIVATE KEY", der)),
                "ENCRYPTED PRIVATE KEY" => return Ok(("PRIVATE KEY", key::decrypt_pkcs8_der(&der, path, passphrase)?)),
                _ => {}
            }
        }
        return Err(unknown());
    }
    if key::is_encrypted_pkcs8_der(&bytes) {
        return Ok(("PRIVATE KEY", key::decrypt_pkcs8_der(&bytes, path, passphrase)?));
    }
    let der = SecretBytes::new(bytes.to_vec());
    if key::SigningKey::from_pkcs8_der(&der, path).is_ok() {
        return Ok(("PRIVATE KEY", der));
    }
    if key::SigningKey::from_pkcs1_der(&der, path).is_ok() {
        return Ok(("RSA PRIVATE KEY", der));
    }
    Ok(("EC PRIVATE KEY", der))
}

/// The request for `--client-auth tls`: the client credentials grant with `client_id` and no
/// assertion (RFC 8705 §2: the TLS client certificate authenticates the client).
pub(crate) fn request(plan: &TokenPlan) -> Result<TokenRequest, crate::Error> {
    if plan.grant != Grant::ClientCredentials {
        return Err(ConfigError::Usage(format!(
            "--client-auth tls works with the client-credentials grant, not {}",
            plan.grant.as_str()
        ))
        .into());
    }
    let client_id = plan.client_id.clone().ok_or_else(|| ConfigError::Missing {
        what: "a client id for --client-auth tls".into(),
        how: "give --client-id (it is the only thing the form says about the client)".into(),
    })?;
    let mut f = form_urlencoded::Serializer::new(String::new());
    f.append_pair("grant_type", "client_credentials");
    f.append_pair("client_id", &client_id);
    if !plan.scopes.is_empty() {
        f.append_pair("scope", &plan.scopes.join(" "));
    }
    for (k, v) in &plan.params {
        f.append_pair(k, v);
    }
    let mut headers: Vec<(String, Secret<String>)> = vec![
        ("Accept".into(), Secret::new("application/json".into())),
        (
            "Content-Type".into(),
            Secret::new("application/x-www-form-urlencoded".into()),
        ),
    ];
    for (k, v) in &plan.request_headers {
        headers.push((k.clone(), Secret::new(v.clone())));
    }
    Ok(TokenRequest {
        url: plan.token_url()?.to_string(),
        headers,
        body: Secret::new(f.finish()),
    })
}
