//! The two PKCS#1 fields signet reads itself, through the `der` crate.
//!
//! The `pkcs1` crate would decode these whole, but it is not in the dependency tree, and decoding
//! an `RSAPrivateKey` whole would also copy every secret integer: only the modulus is needed here,
//! to refuse a weak key before a backend spends time on it.

use der::asn1::UintRef;
use der::{Decode, Reader, SliceReader};

/// The modulus length in bits of a PKCS#1 `RSAPrivateKey`, read without decoding the rest; `None`
/// when the DER does not start like one.
pub(super) fn rsa_private_modulus_bits(der: &[u8]) -> Option<usize> {
    // RSAPrivateKey ::= SEQUENCE { version INTEGER, modulus INTEGER, publicExponent INTEGER, … }
    let mut r = SliceReader::new(der).ok()?;
    let (version, modulus) = r
        .sequence(|r| {
            let version = UintRef::decode(r)?;
            let modulus = UintRef::decode(r)?;
            // A PKCS#1 key has at least 9 integers; a bare SEQUENCE of two is something else
            // (an RSAPublicKey, say).
            let more = !r.is_finished();
            // The secret integers are skipped unread.
            r.read_slice(r.remaining_len())?;
            Ok::<_, der::Error>(more.then_some((version, modulus)))
        })
        .ok()??;
    // Version 0 (two primes) or 1 (multi-prime).
    if version.as_bytes().len() != 1 {
        return None;
    }
    let m = modulus.as_bytes();
    let first = *m.first().filter(|b| **b != 0)?;
    Some(m.len() * 8 - first.leading_zeros() as usize)
}

/// `n` and `e` of a PKCS#1 `RSAPublicKey` DER, big-endian without leading zeros.
pub(super) fn rsa_public_components(der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
    let mut r = SliceReader::new(der).ok()?;
    r.sequence(|r| {
        let n = UintRef::decode(r)?;
        let e = UintRef::decode(r)?;
        Ok::<_, der::Error>((n.as_bytes().to_vec(), e.as_bytes().to_vec()))
    })
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem_contents(fixture: &str) -> Vec<u8> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(fixture);
        pem::parse(crate::files::read(&p, crate::files::FileKind::Key).unwrap())
            .unwrap()
            .contents()
            .to_vec()
    }

    #[test]
    fn modulus_bits_of_a_pkcs1_key() {
        assert_eq!(rsa_private_modulus_bits(&pem_contents("rsa2048.pkcs1.pem")), Some(2048));
    }

    #[test]
    fn a_public_key_or_an_ec_key_is_not_a_pkcs1_private_key() {
        // rsa2048.pub.pem is an SPKI; its RSAPublicKey inside is SEQUENCE { n, e }.
        let spki = pem_contents("rsa2048.pub.pem");
        assert_eq!(rsa_private_modulus_bits(&spki), None);
        assert_eq!(rsa_private_modulus_bits(&pem_contents("p256.sec1.pem")), None);
        assert_eq!(rsa_private_modulus_bits(&[]), None);
        assert_eq!(rsa_private_modulus_bits(&[0x30, 0x03, 0x02, 0x01, 0x00]), None);
    }

    #[test]
    fn public_components_match_the_certificate() {
        let cert = crate::key::load_certificates(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rsa2048.crt.pem"),
        )
        .unwrap()
        .remove(0);
        let (n, e) = rsa_public_components(cert.public_key_bits()).unwrap();
        assert_eq!(n.len(), 256);
        assert_eq!(e, vec![1, 0, 1]);
        // Two integers and nothing else.
        assert_eq!(rsa_public_components(&[0x30, 0x03, 0x02, 0x01, 0x05]), None);
    }
}
