//! X.509 certificates: the ids providers use to name a key (thumbprints, chosen by a [`KidFrom`]
//! rule) and the key/cert match.

use crate::b64;
use aws_lc_rs::digest;
use der::{Decode, Encode};
use std::fmt;
use std::str::FromStr;

/// A parsed X.509 certificate, kept as its DER bytes plus the few fields signet needs.
#[derive(Clone)]
pub struct Certificate {
    der: Vec<u8>,
    spki_der: Vec<u8>,
    public_key_bits: Vec<u8>,
    subject: String,
    not_before: i64,
    not_after: i64,
    key_alg: String,
    curve: Option<String>,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.subject)
            .field("sha1", &self.hex_sha1())
            .finish_non_exhaustive()
    }
}

/// How the `kid` header is derived (contract `--kid-from`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KidFrom {
    /// Certificate SHA-1 thumbprint, upper-case hex (as Windows shows it).
    HexSha1,
    /// base64url SHA-1 of the certificate.
    X5t,
    /// base64url SHA-256 of the certificate.
    X5tS256,
    /// RFC 7638 JWK thumbprint.
    Jwk,
    /// base64url SHA-256 of the SubjectPublicKeyInfo (Keycloak).
    SpkiS256,
    /// No `kid` header.
    None,
}

impl KidFrom {
    /// All rules with their contract names.
    pub const ALL: [(KidFrom, &'static str); 6] = [
        (KidFrom::HexSha1, "hex-sha1"),
        (KidFrom::X5t, "x5t"),
        (KidFrom::X5tS256, "x5t-s256"),
        (KidFrom::Jwk, "jwk"),
        (KidFrom::SpkiS256, "spki-s256"),
        (KidFrom::None, "none"),
    ];

    /// The contract name.
    pub fn as_str(self) -> &'static str {
        KidFrom::ALL
            .iter()
            .find(|(k, _)| *k == self)
            .map(|(_, s)| *s)
            .unwrap_or("none")
    }
}

impl fmt::Display for KidFrom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KidFrom {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KidFrom::ALL
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(s.trim()))
            .map(|(k, _)| *k)
            .ok_or_else(|| format!("unknown kid rule '{s}': use hex-sha1, x5t, x5t-s256, jwk, spki-s256 or none"))
    }
}

/// A certificate that could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error("not a valid X.509 certificate")]
pub struct BadCertificate;

impl Certificate {
    /// Parses a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Certificate, BadCertificate> {
        let cert = x509_cert::Certificate::from_der(der).map_err(|_| BadCertificate)?;
        let tbs = cert.tbs_certificate();
        let spki = tbs.subject_public_key_info();
        let validity = tbs.validity();
        Ok(Certificate {
            der: der.to_vec(),
            spki_der: spki.to_der().map_err(|_| BadCertificate)?,
            public_key_bits: spki.subject_public_key.raw_bytes().to_vec(),
            subject: tbs.subject().to_string(),
            not_before: validity.not_before.to_unix_duration().as_secs() as i64,
            not_after: validity.not_after.to_unix_duration().as_secs() as i64,
            key_alg: spki.algorithm.oid.to_string(),
            curve: spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok())
                .map(|o| o.to_string()),
        })
    }

    /// The DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The subject distinguished name, RFC 4514 style.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// notBefore as Unix seconds.
    pub fn not_before(&self) -> i64 {
        self.not_before
    }

    /// notAfter as Unix seconds.
    pub fn not_after(&self) -> i64 {
        self.not_after
    }

    /// The subject public key bits (RSAPublicKey DER, an EC point, or an Ed25519 key).
    pub fn public_key_bits(&self) -> &[u8] {
        &self.public_key_bits
    }

    /// SHA-1 of the DER as upper-case hex: what Windows, `Get-1ECertificateThumbprint` and
    /// `openssl x509 -fingerprint -sha1` (without colons) show.
    pub fn hex_sha1(&self) -> String {
        hex_upper(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &self.der).as_ref())
    }

    /// `x5t`: base64url SHA-1 of the DER.
    pub fn x5t(&self) -> String {
        b64::encode(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &self.der).as_ref())
    }

    /// `x5t#S256`: base64url SHA-256 of the DER.
    pub fn x5t_s256(&self) -> String {
        b64::encode(digest::digest(&digest::SHA256, &self.der).as_ref())
    }

    /// base64url SHA-256 of the SubjectPublicKeyInfo DER (Keycloak's key id for an imported certificate).
    pub fn spki_s256(&self) -> String {
        b64::encode(digest::digest(&digest::SHA256, &self.spki_der).as_ref())
    }

    /// The certificate's public key as a JWK (RSA, EC P-256/P-384, Ed25519).
    pub fn public_jwk(&self) -> Option<super::PublicJwk> {
        let bits = &self.public_key_bits;
        match (self.key_alg.as_str(), self.curve.as_deref()) {
            ("1.2.840.113549.1.1.1", _) => {
                let (n, e) = super::asn1::rsa_public_components(bits)?;
                Some(super::PublicJwk::Rsa { n, e })
            }
            ("1.2.840.10045.2.1", Some(curve)) => {
                let crv = match curve {
                    "1.2.840.10045.3.1.7" => "P-256",
                    "1.3.132.0.34" => "P-384",
                    _ => return None,
                };
                if bits.first() != Some(&4) {
                    return None;
                }
                let w = (bits.len() - 1) / 2;
                Some(super::PublicJwk::Ec {
                    crv,
                    x: bits[1..1 + w].to_vec(),
                    y: bits[1 + w..].to_vec(),
                })
            }
            ("1.3.101.112", _) => Some(super::PublicJwk::Okp { x: bits.clone() }),
            _ => None,
        }
    }

    /// The id `rule` names this certificate by, as a provider registers it: `None` for
    /// [`KidFrom::None`], and for [`KidFrom::Jwk`] when the key type has no JWK form here.
    ///
    /// The one place a kid rule becomes a value, so `--kid-from`, `signet jwk`, `signet
    /// thumbprint` and the test issuer cannot drift apart.
    pub fn id(&self, rule: KidFrom) -> Option<String> {
        match rule {
            KidFrom::HexSha1 => Some(self.hex_sha1()),
            KidFrom::X5t => Some(self.x5t()),
            KidFrom::X5tS256 => Some(self.x5t_s256()),
            KidFrom::SpkiS256 => Some(self.spki_s256()),
            KidFrom::Jwk => self.public_jwk().map(|j| j.thumbprint()),
            KidFrom::None => None,
        }
    }

    /// Standard base64 of the DER, as `x5c` carries it.
    pub fn x5c_entry(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(&self.der)
    }
}

/// Upper-case hex.
pub fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Whether a PEM block's label holds a certificate (OpenSSL writes the last two variants too).
pub(crate) fn is_certificate_label(label: &str) -> bool {
    matches!(label, "CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE")
}

/// Reads certificates from PEM (any number of CERTIFICATE blocks) or a single DER certificate.
pub fn parse_certificates(bytes: &[u8]) -> Result<Vec<Certificate>, BadCertificate> {
    if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        let blocks = pem::parse_many(bytes).map_err(|_| BadCertificate)?;
        let certs: Vec<Certificate> = blocks
            .iter()
            .filter(|p| is_certificate_label(p.tag()))
            .map(|p| Certificate::from_der(p.contents()))
            .collect::<Result<_, _>>()?;
        if certs.is_empty() {
            return Err(BadCertificate);
        }
        Ok(certs)
    } else {
        Ok(vec![Certificate::from_der(bytes)?])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kid_rule_names_a_certificate_as_its_own_method_does() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rsa2048.crt.pem");
        let c = crate::key::load_certificates(&path).unwrap().remove(0);
        assert_eq!(c.id(KidFrom::HexSha1), Some(c.hex_sha1()));
        assert_eq!(c.id(KidFrom::X5t), Some(c.x5t()));
        assert_eq!(c.id(KidFrom::X5tS256), Some(c.x5t_s256()));
        assert_eq!(c.id(KidFrom::SpkiS256), Some(c.spki_s256()));
        assert_eq!(c.id(KidFrom::Jwk), c.public_jwk().map(|j| j.thumbprint()));
        assert_eq!(c.id(KidFrom::None), None);
    }
}
