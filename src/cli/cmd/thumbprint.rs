//! `signet thumbprint`: every id a provider may use for a certificate.

use crate::cli::args::ThumbprintArgs;
use crate::cli::{output, CmdResult, Ctx};
use signet::config::ConfigError;
use signet::key::{self, Certificate, KeyError, KidFrom};

/// (id, who uses it outside signet's templates); the id is printed by its `--kid-from` name.
/// The templates that send an id are not written here but read from the templates themselves
/// ([`template_uses`]), so a label cannot name a template that sends no such id.
const USES: &[(KidFrom, &str)] = &[
    (
        KidFrom::HexSha1,
        "Windows certificate store, 1E (Get-1ECertificateThumbprint), Entra portal 'Thumbprint'; signet's default kid",
    ),
    (KidFrom::X5t, "ADFS and Azure Stack (x5t header)"),
    (KidFrom::X5tS256, "Entra ID with PS256 (what MSAL sends)"),
    (KidFrom::SpkiS256, "Keycloak (kid of an imported certificate)"),
    (
        KidFrom::Jwk,
        "Okta, any JWKS (RFC 7638 JWK thumbprint); signet's kid without a certificate",
    ),
];

/// Every id a built-in template sends, with the template and when it does: `(X5t, "entra-id
/// (x5t header with RS256)")`.
fn template_uses() -> Vec<(KidFrom, String)> {
    let mut uses = vec![];
    for (name, _) in signet::template::BUILTIN {
        // A built-in template always parses (a unit test loads each one).
        let Ok(t) = signet::template::load(name) else { continue };
        for (rule, when) in t.header_ids() {
            uses.push((rule, format!("{name} ({when})")));
        }
    }
    uses
}

/// The id a `--format` value asks for: a kid rule's name, or `hex` / `x5t#s256` as people
/// write them; `none` is not an id.
fn format_rule(name: &str) -> Option<KidFrom> {
    match name {
        "hex" => Some(KidFrom::HexSha1),
        "x5t#s256" => Some(KidFrom::X5tS256),
        _ => KidFrom::ALL
            .iter()
            .find(|(rule, n)| *n == name && *rule != KidFrom::None)
            .map(|(rule, _)| *rule),
    }
}

fn load_cert(ctx: &Ctx, a: &ThumbprintArgs) -> Result<Certificate, signet::Error> {
    let path = &a.cert;
    let bytes = signet::files::read(path, signet::files::FileKind::Certificate).map_err(|e| KeyError::CertRead {
        path: path.clone(),
        reason: signet::text::io_reason(&e),
    })?;
    let has_key = bytes.windows(16).any(|w| w == b"PRIVATE KEY-----");
    let pem_certs = key::parse_certificates(&bytes).ok().filter(|c| !c.is_empty());
    if let (Some(mut certs), false) = (pem_certs.clone(), has_key) {
        return Ok(certs.remove(0));
    }
    // A PKCS#12 or a key+certificate PEM: the certificate that matches the key comes first, as
    // `signet assert` would use it, whatever order the file lists them in.
    let pass = ctx.passphrase(a.key_passphrase_file.as_deref())?;
    if key::is_pkcs12(&bytes) {
        return key::pkcs12_certificates(&bytes, path, pass.as_ref())?
            .into_iter()
            .next()
            .ok_or_else(|| KeyError::BadCertificate { path: path.clone() }.into());
    }
    let bundle = match key::load_key(path, pass.as_ref()) {
        Ok(b) => b,
        // A bundle whose key cannot be read here (encrypted, no passphrase): its first certificate.
        Err(_) if pem_certs.is_some() => return Ok(pem_certs.unwrap().remove(0)),
        Err(KeyError::UnknownFormat { .. }) => return Err(KeyError::BadCertificate { path: path.clone() }.into()),
        Err(e) => return Err(e.into()),
    };
    bundle
        .chain
        .into_iter()
        .next()
        .ok_or_else(|| KeyError::BadCertificate { path: path.clone() }.into())
}

/// Every id of a certificate, labelled with the providers that use it.
pub fn all_ids(cert: &Certificate) -> String {
    let mut out = format!("certificate: {}\n", cert.subject());
    let by_templates = template_uses();
    for (rule, uses) in USES {
        let name = rule.as_str();
        let v = cert.id(*rule).unwrap_or_else(|| "(unsupported key type)".into());
        let templates: Vec<&str> = by_templates
            .iter()
            .filter(|(r, _)| r == rule)
            .map(|(_, t)| t.as_str())
            .collect();
        let templates = if templates.is_empty() {
            "none".to_string()
        } else {
            templates.join(", ")
        };
        out.push_str(&format!(
            "{name:<10} {v}\n           used by: {uses}\n           templates: {templates}\n"
        ));
    }
    out
}

pub fn run(ctx: &Ctx, a: ThumbprintArgs) -> CmdResult {
    let cert = load_cert(ctx, &a)?;
    let fmt = a.format.to_ascii_lowercase();
    if fmt == "all" {
        output::stdout(&all_ids(&cert));
        return Ok(0);
    }
    let rule = format_rule(&fmt);
    match rule.and_then(|r| cert.id(r)) {
        Some(v) => {
            output::stdout(&format!("{v}\n"));
            Ok(0)
        }
        // A known id the certificate's key type has no value for (only the JWK thumbprint can be).
        None if rule.is_some() => Err(KeyError::UnsupportedKeyType {
            path: a.cert.clone(),
            what: "a certificate whose key type has no JWK form here".into(),
        }
        .into()),
        None => Err(ConfigError::Usage(format!(
            "unknown --format '{}': use hex, x5t, x5t-s256, spki-s256, jwk or all",
            a.format
        ))
        .into()),
    }
}
