//! Limits on the work an encrypted key file may ask for before its passphrase is even tried.
//!
//! The parameters of a password-based key derivation are chosen by whoever wrote the file: a
//! PBKDF2 iteration count of 2^31 runs for minutes, an scrypt cost of 2^30 asks for 128 GiB. The
//! limits sit far above what OpenSSL (2,048 iterations; scrypt N = 2^14, r = 8, p = 1: 16 MiB),
//! Windows (2,000), Azure Key Vault and `signet keygen` (600,000, OWASP's figure) write, and far
//! below what hurts a CI runner.
//!
//! The parameters are found by scanning the DER for the algorithm identifiers that carry them,
//! so one check covers an encrypted PKCS#8 and every bag and MAC of a PKCS#12 alike; only a
//! bag inside another bag's encrypted content stays out of sight until that is decrypted (and
//! the PKCS#12 reader caps those itself, at 1,000,000 iterations and 1 GiB of scrypt memory).

use super::KeyError;
use der::asn1::OctetStringRef;
use der::{AnyRef, Decode, Reader, SliceReader};
use std::path::Path;

/// The most PBKDF2 iterations signet runs in an encrypted PKCS#8 (RFC 8018's figure "for
/// especially critical keys").
pub const MAX_PBKDF2_ITERATIONS: u64 = 10_000_000;
/// The most iterations of a PKCS#12's MAC or PBE, and of PBKDF2 inside a PKCS#12: the PKCS#12
/// reader's own limit, so that a file over it gets this message rather than "damaged".
pub const MAX_PKCS12_ITERATIONS: u64 = 1_000_000;
/// The most memory scrypt may use, 128·N·r bytes: 256 MiB, 16 times OpenSSL's default.
pub const MAX_SCRYPT_MEMORY: u64 = 256 << 20;
/// The most scrypt work, 128·N·r·p bytes mixed: four times [`MAX_SCRYPT_MEMORY`].
pub const MAX_SCRYPT_WORK: u64 = 4 * MAX_SCRYPT_MEMORY;
/// The largest scrypt parallelization parameter p.
pub const MAX_SCRYPT_P: u64 = 16;

// DER encodings (tag, length, value) of the object identifiers whose parameters cost time.
const PBKDF2: &[u8] = &[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0c];
const SCRYPT: &[u8] = &[0x06, 0x09, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x04, 0x0b];
/// pkcs-12PbeIds (1.2.840.113549.1.12.1), followed by one byte naming the cipher.
const PKCS12_PBE: &[u8] = &[0x06, 0x0a, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x01];

/// Which container the DER is: the PBKDF2 limit differs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Container {
    Pkcs8,
    Pkcs12,
}

/// Refuses a key file whose key derivation asks for more than the limits above, naming the
/// parameter. Parameters that do not parse are left to the decoder, which refuses them.
pub(super) fn check(der: &[u8], path: &Path, container: Container) -> Result<(), KeyError> {
    let over = |parameter: &'static str, value: u64, max: u64| {
        if value > max {
            Err(KeyError::KdfLimit {
                path: path.into(),
                parameter,
                value,
                max,
            })
        } else {
            Ok(())
        }
    };
    let pbkdf2_max = match container {
        Container::Pkcs8 => MAX_PBKDF2_ITERATIONS,
        Container::Pkcs12 => MAX_PKCS12_ITERATIONS,
    };
    for at in find(der, PBKDF2) {
        if let Some([iterations]) = ints_after_salt::<1>(&der[at + PBKDF2.len()..]) {
            over("the PBKDF2 iteration count", iterations, pbkdf2_max)?;
        }
    }
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
        }
    }
    if container == Container::Pkcs12 {
        for at in find(der, PKCS12_PBE) {
            // The OID, one byte more for the cipher, then SEQUENCE { salt, iterations }.
            if let Some([iterations]) = der.get(at + PKCS12_PBE.len() + 1..).and_then(ints_after_salt::<1>) {
                over("the PKCS#12 PBE iteration count", iterations, MAX_PKCS12_ITERATIONS)?;
            }
        }
        if let Some(iterations) = mac_iterations(der) {
            over("the PKCS#12 MAC iteration count", iterations, MAX_PKCS12_ITERATIONS)?;
        }
    }
    Ok(())
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
