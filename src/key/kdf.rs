//! Limits on the work an encrypted key file may ask for before its passphrase is even tried.
//!
//! The parameters of a password-based key derivation are chosen by whoever wrote the file: a
//! PBKDF2 iteration count of 2^31 runs for minutes, an scrypt cost of 2^30 asks for 128 GiB. The
//! limits sit far above what OpenSSL (2,048 iterations; scrypt N = 2^14, r = 8, p = 1: 16 MiB),
//! Windows (2,000), Azure Key Vault and `signet keygen` (600,000, OWASP's figure) write, and far
//! below what hurts a CI runner.
//!
//! The parameters are found by scanning the DER for the algorithm identifiers that carry them,
//! so one check covers an encrypted PKCS#8 and every bag and MAC of a PKCS#12 alike, each
//! derivation and all of them together (a PKCS#12 reader tries every bag, whatever the
//! passphrase). Only a bag inside another bag's encrypted content stays out of sight until
//! that is decrypted, which takes the file's passphrase; the PKCS#12 reader caps those itself
//! (1,000,000 iterations, 1 GiB of scrypt memory).

use super::KeyError;
use der::asn1::OctetStringRef;
use der::{AnyRef, Decode, Reader, SliceReader};
use std::path::Path;

/// The most PBKDF2 iterations of one derivation in an encrypted PKCS#8: 3⅓ times OWASP's
/// 600,000, about a second of CPU with HMAC-SHA-256 (2½ with SHA-512).
pub const MAX_PBKDF2_ITERATIONS: u64 = 2_000_000;
/// The most iterations of one derivation in a PKCS#12 (its MAC, a PBE, PBKDF2): the PKCS#12
/// reader's own limit, so that a file over it gets this message rather than "damaged".
pub const MAX_PKCS12_ITERATIONS: u64 = 1_000_000;
/// The most iterations of all derivations in one file together: a PKCS#12 derives once per
/// encrypted bag and once for its MAC, and its reader tries every bag whatever the passphrase.
pub const MAX_TOTAL_ITERATIONS: u64 = 2_000_000;
/// The most key derivations in one file (OpenSSL writes three: the key bag, the certificate
/// safe, the MAC).
pub const MAX_DERIVATIONS: u64 = 16;
/// The most memory scrypt may use, 128·N·r bytes: 128 MiB, 8 times OpenSSL's default.
pub const MAX_SCRYPT_MEMORY: u64 = 128 << 20;
/// The most scrypt work, 128·N·r·p bytes mixed: twice [`MAX_SCRYPT_MEMORY`] (OpenSSL's
/// default is 16 MiB).
pub const MAX_SCRYPT_WORK: u64 = 2 * MAX_SCRYPT_MEMORY;
/// The largest scrypt parallelization parameter p.
pub const MAX_SCRYPT_P: u64 = 16;

// DER encodings (tag, length, value) of the object identifiers whose parameters cost time.
const PBKDF2: &[u8] = &[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0c];
const SCRYPT: &[u8] = &[0x06, 0x09, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x04, 0x0b];
/// pkcs-12PbeIds (1.2.840.113549.1.12.1), followed by one byte naming the cipher.
const PKCS12_PBE: &[u8] = &[0x06, 0x0a, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x01];

/// Which container the DER is: the limits and the advice differ.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Container {
    Pkcs8,
    Pkcs12,
}

impl Container {
    fn fix(self) -> &'static str {
        match self {
            Container::Pkcs8 => "openssl pkcs8 -topk8 -v2 aes-256-cbc -iter 600000 -in OLD.pem -out NEW.pem",
            Container::Pkcs12 => "openssl pkcs12 -in OLD.pfx -nodes | openssl pkcs12 -export -out NEW.pfx",
        }
    }
}

/// Refuses a key file whose key derivations ask for more than the limits above, naming the
/// parameter. Parameters that do not parse are left to the decoder, which refuses them.
pub(super) fn check(der: &[u8], path: &Path, container: Container) -> Result<(), KeyError> {
    let over = |parameter: &'static str, value: u64, max: u64| {
        if value > max {
            Err(KeyError::KdfLimit {
                path: path.into(),
                parameter,
                value,
                max,
                fix: container.fix(),
            })
        } else {
            Ok(())
        }
    };
    let one_max = match container {
        Container::Pkcs8 => MAX_PBKDF2_ITERATIONS,
        Container::Pkcs12 => MAX_PKCS12_ITERATIONS,
    };
    let mut iterations: Vec<(&'static str, u64)> = vec![];
    let mut derivations = 0u64;
    for at in find(der, PBKDF2) {
        if let Some([n]) = ints_after_salt::<1>(&der[at + PBKDF2.len()..]) {
            iterations.push(("the PBKDF2 iteration count", n));
        }
    }
    if container == Container::Pkcs12 {
        for at in find(der, PKCS12_PBE) {
            // The OID, one byte more for the cipher, then SEQUENCE { salt, iterations }.
            if let Some([n]) = der.get(at + PKCS12_PBE.len() + 1..).and_then(ints_after_salt::<1>) {
                iterations.push(("the PKCS#12 PBE iteration count", n));
            }
        }
        if let Some(n) = mac_iterations(der) {
            iterations.push(("the PKCS#12 MAC iteration count", n));
        }
    }
    let mut total = 0u64;
    for (parameter, n) in &iterations {
        over(parameter, *n, one_max)?;
        total = total.saturating_add(*n);
        derivations += 1;
    }
    over(
        "the iterations of all its key derivations together",
        total,
        MAX_TOTAL_ITERATIONS,
    )?;
    for at in find(der, SCRYPT) {
        if let Some([n, r, p]) = ints_after_salt::<3>(&der[at + SCRYPT.len()..]) {
            over("the scrypt parallelization p", p, MAX_SCRYPT_P)?;
            let memory = 128u64.saturating_mul(n).saturating_mul(r);
            over("the scrypt memory 128·N·r (bytes)", memory, MAX_SCRYPT_MEMORY)?;
            over(
                "the scrypt work 128·N·r·p (bytes)",
                memory.saturating_mul(p),
                MAX_SCRYPT_WORK,
            )?;
            derivations += 1;
        }
    }
    over("the number of key derivations", derivations, MAX_DERIVATIONS)
}

fn find<'a>(hay: &'a [u8], needle: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    hay.windows(needle.len())
        .enumerate()
        .filter(move |(_, w)| *w == needle)
        .map(|(i, _)| i)
}

/// Reads `SEQUENCE { salt OCTET STRING, INTEGER × N, … }` at the start of `b`: the shape of
/// PBKDF2, scrypt and PKCS#12 PBE parameters. An integer too large for u64 counts as u64::MAX.
fn ints_after_salt<const N: usize>(b: &[u8]) -> Option<[u64; N]> {
    let any = AnyRef::from_der_partial(b).ok()?.0;
    any.sequence(|r: &mut SliceReader<'_>| {
        let _salt: &OctetStringRef = r.decode()?;
        let mut out = [0u64; N];
        for v in &mut out {
            *v = unsigned(r.decode()?);
        }
        // The rest (key length, PRF) is the decoder's business.
        while !r.is_finished() {
            let _: AnyRef<'_> = r.decode()?;
        }
        Ok::<_, der::Error>(out)
    })
    .ok()
}

/// The iteration count of a PFX's MacData (`PFX ::= SEQUENCE { version, authSafe, macData }`,
/// `MacData ::= SEQUENCE { mac, macSalt, iterations INTEGER DEFAULT 1 }`).
fn mac_iterations(der: &[u8]) -> Option<u64> {
    let pfx = AnyRef::from_der_partial(der).ok()?.0;
    pfx.sequence(|r: &mut SliceReader<'_>| {
        let _version: AnyRef<'_> = r.decode()?;
        let _auth_safe: AnyRef<'_> = r.decode()?;
        let Some(mac) = r.decode::<Option<AnyRef<'_>>>()? else {
            return Ok::<_, der::Error>(None);
        };
        while !r.is_finished() {
            let _: AnyRef<'_> = r.decode()?;
        }
        mac.sequence(|m: &mut SliceReader<'_>| {
            let _digest: AnyRef<'_> = m.decode()?;
            let _salt: &OctetStringRef = m.decode()?;
            let it = m.decode::<Option<AnyRef<'_>>>()?.map(unsigned);
            Ok::<_, der::Error>(it)
        })
    })
    .ok()
    .flatten()
}

/// An INTEGER's value as u64: negative is 0 (the decoder refuses it), too large is u64::MAX.
fn unsigned(int: AnyRef<'_>) -> u64 {
    let bytes = int.value();
    if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        return 0;
    }
    let digits: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    if digits.len() > 8 {
        return u64::MAX;
    }
    digits.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `OID, SEQUENCE { salt, iterations }`: what a PBKDF2 occurrence looks like to the scan.
    fn pbkdf2_params(iterations: u32) -> Vec<u8> {
        let it = iterations.to_be_bytes();
        let mut params = vec![0x04, 0x08, 1, 2, 3, 4, 5, 6, 7, 8, 0x02, 0x05, 0x00];
        params.extend_from_slice(&it);
        let mut out = PBKDF2.to_vec();
        out.push(0x30);
        out.push(params.len() as u8);
        out.extend(params);
        out
    }

    fn refused_for(der: &[u8], container: Container) -> Option<&'static str> {
        match check(der, Path::new("k"), container) {
            Err(KeyError::KdfLimit { parameter, .. }) => Some(parameter),
            Err(e) => panic!("{e}"),
            Ok(()) => None,
        }
    }

    #[test]
    fn each_derivation_and_all_of_them_together_are_bounded() {
        // One PKCS#12 derivation at its limit is fine; five of them are 5 M iterations in all,
        // which a reader trying every bag would run whatever the passphrase.
        let one = pbkdf2_params(MAX_PKCS12_ITERATIONS as u32);
        assert_eq!(refused_for(&one, Container::Pkcs12), None);
        assert_eq!(
            refused_for(&pbkdf2_params(MAX_PKCS12_ITERATIONS as u32 + 1), Container::Pkcs12),
            Some("the PBKDF2 iteration count")
        );
        assert_eq!(
            refused_for(&one.repeat(5), Container::Pkcs12),
            Some("the iterations of all its key derivations together")
        );
        // Many cheap derivations: a count limit.
        assert_eq!(
            refused_for(&pbkdf2_params(2048).repeat(17), Container::Pkcs12),
            Some("the number of key derivations")
        );
        assert_eq!(refused_for(&pbkdf2_params(2048).repeat(3), Container::Pkcs12), None);
        // A PKCS#8 has its own, higher, one-derivation limit.
        assert_eq!(
            refused_for(&pbkdf2_params(MAX_PBKDF2_ITERATIONS as u32), Container::Pkcs8),
            None
        );
        assert_eq!(
            refused_for(&pbkdf2_params(MAX_PBKDF2_ITERATIONS as u32 + 1), Container::Pkcs8),
            Some("the PBKDF2 iteration count")
        );
    }

    #[test]
    fn integers_are_read_whatever_their_length() {
        fn der(v: &[u8]) -> AnyRef<'_> {
            AnyRef::new(der::Tag::Integer, v).unwrap()
        }
        assert_eq!(unsigned(der(&[0x00, 0x80])), 128);
        assert_eq!(unsigned(der(&[0x01, 0, 0, 0, 0, 0, 0, 0, 0])), u64::MAX);
        assert_eq!(unsigned(der(&[0xff])), 0, "negative");
    }
}
