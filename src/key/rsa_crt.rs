//! RSA signed by AWS-LC's CRT exponentiation directly, on CPUs where it is the fastest signer:
//! those with AVX-512 IFMA, for which AWS-LC has a 52-bit-limb exponentiation of both CRT halves
//! at once (`RSAZ_mod_exp_avx512_x2`) that *ring* lacks.
//!
//! # Why not through aws-lc-rs
//!
//! Measured on an Intel Xeon with AVX-512 IFMA (family 6 model 207, docs/BENCHMARKS.md), one
//! RSA-2048 signature with the key loaded is ~0.48 ms in AWS-LC against ~1.0 ms in *ring*, but a
//! one-shot `signet assert` through `aws_lc_rs::signature::RsaKeyPair` paid ~1.5 ms: ~0.35 ms in
//! `RSA_check_key` (constant-time divisions checking `d`, which a CRT signature never uses) and
//! ~0.55 ms creating the first blinding value (`BN_mod_inverse_odd` on a 2048-bit number).
//! aws-lc-rs offers no way around either, so this module builds the `RSA` itself:
//!
//! - **Checks.** The same keys *ring* accepts take this path (two primes, `e` odd, 65537 ≤ e <
//!   2³³, n of 2048, 3072 or 4096 bits, p and q of half that). On load: every integer positive,
//!   `p·q = n`, `dP < p`, `dQ < q`, `qInv < p`, `d < n`. On every signature AWS-LC checks the result
//!   with the public key (`sᵉ mod n` must give back the padded digest) before returning it, so a
//!   key whose `dP`, `dQ` or `qInv` is wrong signs nothing: the same checks *ring* makes (it too
//!   checks `dP`/`dQ` only by verifying each signature, and never reads `d`). A key failing a load
//!   check goes on to *ring* and the fully checked AWS-LC path, which report it as before.
//! - **No blinding**, as with *ring*: both rely on constant-time exponentiation and CRT
//!   recombination (AWS-LC's `mod_exp` in rsa_impl.c) instead. The keys *ring* refuses keep
//!   aws-lc-rs's blinded, `RSA_check_key`-checked path.
//! - **Wiping.** The secret integers are copied only into AWS-LC's memory (`BN_bin2bn` reads
//!   them where the DER lies), which AWS-LC wipes when the key is freed (`OPENSSL_free` cleanses).

use super::{KeyError, PublicJwk, Sign};
use crate::alg::{Alg, KeyType};
use aws_lc_sys as ffi;
use der::asn1::UintRef;
use der::{Decode, Reader, SliceReader};

/// An AWS-LC `RSA` holding a CRT private key, checked as the module docs say.
pub(super) struct CrtRsa {
    rsa: *mut ffi::RSA,
    modulus_len: usize,
    jwk: PublicJwk,
}

// SAFETY: AWS-LC's `RSA` is safe to use from several threads at once (its lazily computed
// Montgomery contexts are set under the key's own lock), and this type never mutates it otherwise.
unsafe impl Send for CrtRsa {}
unsafe impl Sync for CrtRsa {}

impl Drop for CrtRsa {
    fn drop(&mut self) {
        // SAFETY: `rsa` came from `RSA_new` and is freed once; RSA_free wipes its integers.
        unsafe { ffi::RSA_free(self.rsa) }
    }
}

/// Whether this CPU runs AWS-LC's AVX-512 IFMA RSA exponentiation (the condition AWS-LC itself
/// dispatches on), where this path signs about twice as fast as *ring*.
pub(super) fn preferred() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512ifma") && std::arch::is_x86_feature_detected!("avx512vl")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The nine integers of a two-prime PKCS#1 `RSAPrivateKey`, borrowed from the DER.
struct Parts<'a> {
    n: &'a [u8],
    e: &'a [u8],
    d: &'a [u8],
    p: &'a [u8],
    q: &'a [u8],
    dp: &'a [u8],
    dq: &'a [u8],
    qinv: &'a [u8],
}

fn parts(der: &[u8]) -> Option<Parts<'_>> {
    let mut r = SliceReader::new(der).ok()?;
    let p = r
        .sequence(|r| {
            let mut next = || UintRef::decode(r).map(|u| u.as_bytes());
            let version = next()?;
            let p = (next()?, next()?, next()?, next()?, next()?, next()?, next()?, next()?);
            Ok::<_, der::Error>((version, p))
        })
        .ok()?;
    if !r.is_finished() {
        return None;
    }
    let (version, (n, e, d, p, q, dp, dq, qinv)) = p;
    // Version 0 is two primes; a multi-prime key (version 1) has more after qInv.
    if version != [0] {
        return None;
    }
    Some(Parts {
        n,
        e,
        d,
        p,
        q,
        dp,
        dq,
        qinv,
    })
}

fn bits(x: &[u8]) -> usize {
    x.first().map_or(0, |b| x.len() * 8 - b.leading_zeros() as usize)
}

/// The keys *ring* would sign, with a size AWS-LC's IFMA code covers.
fn fits(k: &Parts<'_>) -> bool {
    let n_bits = bits(k.n);
    let e_bits = bits(k.e);
    let e_odd = k.e.last().is_some_and(|b| b & 1 == 1);
    matches!(n_bits, 2048 | 3072 | 4096)
        && bits(k.p) == n_bits / 2
        && bits(k.q) == n_bits / 2
        && e_odd
        // Odd and at least 17 bits: e ≥ 65537.
        && (17..=33).contains(&e_bits)
}

/// Owns a `BIGNUM` until it is handed to the `RSA`.
struct Bn(*mut ffi::BIGNUM);

impl Bn {
    fn new(be: &[u8]) -> Option<Bn> {
        // SAFETY: reads `be.len()` bytes from a live slice; a null result is handled.
        let p = unsafe { ffi::BN_bin2bn(be.as_ptr(), be.len(), std::ptr::null_mut()) };
        (!p.is_null()).then_some(Bn(p))
    }
    fn take(mut self) -> *mut ffi::BIGNUM {
        std::mem::replace(&mut self.0, std::ptr::null_mut())
    }
}

impl Drop for Bn {
    fn drop(&mut self) {
        // SAFETY: null or a BIGNUM this value owns; BN_free wipes it (AWS-LC cleanses on free).
        unsafe { ffi::BN_free(self.0) }
    }
}

/// Compares two big-endian magnitudes without leading zeros (the DER's canonical form).
fn less(a: &[u8], b: &[u8]) -> bool {
    (a.len(), a) < (b.len(), b)
}

impl CrtRsa {
    /// Builds the key from a PKCS#1 `RSAPrivateKey`, or `None` when it is not one this path takes
    /// or fails a load check (the caller then tries *ring* and the checked AWS-LC path).
    pub(super) fn from_pkcs1(der: &[u8]) -> Option<CrtRsa> {
        let k = parts(der)?;
        if !fits(&k) || !less(k.dp, k.p) || !less(k.dq, k.q) || !less(k.qinv, k.p) || !less(k.d, k.n) {
            return None;
        }
        if [k.d, k.dp, k.dq, k.qinv].iter().any(|x| bits(x) == 0) {
            return None;
        }
        let n = Bn::new(k.n)?;
        let p = Bn::new(k.p)?;
        let q = Bn::new(k.q)?;
        if !product_is(&p, &q, &n)? {
            return None;
        }
        let (e, d) = (Bn::new(k.e)?, Bn::new(k.d)?);
        let (dp, dq, qinv) = (Bn::new(k.dp)?, Bn::new(k.dq)?, Bn::new(k.qinv)?);
        // SAFETY: RSA_new's result is checked; each set0 call takes ownership of its BIGNUMs
        // (`take` gives them up) and succeeds for non-null arguments on a fresh RSA.
        unsafe {
            let rsa = ffi::RSA_new();
            if rsa.is_null() {
                return None;
            }
            let key = CrtRsa {
                rsa,
                modulus_len: k.n.len(),
                jwk: PublicJwk::Rsa {
                    n: k.n.to_vec(),
                    e: k.e.to_vec(),
                },
            };
            if ffi::RSA_set0_key(rsa, n.take(), e.take(), d.take()) != 1
                || ffi::RSA_set0_factors(rsa, p.take(), q.take()) != 1
                || ffi::RSA_set0_crt_params(rsa, dp.take(), dq.take(), qinv.take()) != 1
            {
                return None;
            }
            // As *ring* signs: constant-time CRT, the result verified, no blinding (module docs).
            ffi::RSA_set_flags(rsa, ffi::RSA_FLAG_NO_BLINDING);
            Some(key)
        }
    }
}

/// Whether p·q = n (cheap: one multiplication; what `RSA_check_key` checks first, and what
/// AWS-LC's CRT code relies on).
fn product_is(p: &Bn, q: &Bn, n: &Bn) -> Option<bool> {
    // SAFETY: every pointer is a live BIGNUM or checked for null; the context and the product are
    // freed here.
    unsafe {
        let ctx = ffi::BN_CTX_new();
        let pq = Bn(ffi::BN_new());
        if ctx.is_null() || pq.0.is_null() {
            ffi::BN_CTX_free(ctx);
            return None;
        }
        let ok = ffi::BN_mul(pq.0, p.0, q.0, ctx) == 1 && ffi::BN_cmp(pq.0, n.0) == 0;
        ffi::BN_CTX_free(ctx);
        Some(ok)
    }
}

impl Sign for CrtRsa {
    fn sign(&self, alg: Alg, msg: &[u8]) -> Result<Vec<u8>, KeyError> {
        use aws_lc_rs::digest;
        let fail = || KeyError::Sign { alg };
        let (pss, d_alg, nid, md) = match alg {
            // SAFETY (the EVP_sha* calls): they return static descriptors.
            Alg::RS256 => (false, &digest::SHA256, ffi::NID_sha256, unsafe { ffi::EVP_sha256() }),
            Alg::RS384 => (false, &digest::SHA384, ffi::NID_sha384, unsafe { ffi::EVP_sha384() }),
            Alg::RS512 => (false, &digest::SHA512, ffi::NID_sha512, unsafe { ffi::EVP_sha512() }),
            Alg::PS256 => (true, &digest::SHA256, ffi::NID_sha256, unsafe { ffi::EVP_sha256() }),
            Alg::PS384 => (true, &digest::SHA384, ffi::NID_sha384, unsafe { ffi::EVP_sha384() }),
            Alg::PS512 => (true, &digest::SHA512, ffi::NID_sha512, unsafe { ffi::EVP_sha512() }),
            _ => return Err(fail()),
        };
        let h = digest::digest(d_alg, msg);
        let h = h.as_ref();
        let mut out = vec![0u8; self.modulus_len];
        // SAFETY: `out` has room for a modulus-sized signature (the length AWS-LC writes, which it
        // checks against the given capacity); the digest slice is live for the call.
        let (ok, len) = unsafe {
            if pss {
                let mut len = 0usize;
                // Salt as long as the digest, as RFC 7518 §3.5 requires (RSA_PSS_SALTLEN_DIGEST).
                let ok = ffi::RSA_sign_pss_mgf1(
                    self.rsa,
                    &mut len,
                    out.as_mut_ptr(),
                    out.len(),
                    h.as_ptr(),
                    h.len(),
                    md,
                    md,
                    ffi::RSA_PSS_SALTLEN_DIGEST,
                );
                (ok, len)
            } else {
                let mut len = 0u32;
                let ok = ffi::RSA_sign(nid, h.as_ptr(), h.len(), out.as_mut_ptr(), &mut len, self.rsa);
                (ok, len as usize)
            }
        };
        if ok != 1 || len != out.len() {
            // SAFETY: clears this thread's AWS-LC error queue (nothing else reads it).
            unsafe { ffi::ERR_clear_error() };
            return Err(fail());
        }
        Ok(out)
    }

    fn key_type(&self) -> KeyType {
        KeyType::Rsa {
            bits: self.modulus_len * 8,
        }
    }

    fn backend(&self) -> &'static str {
        "aws-lc"
    }

    fn public_jwk(&self) -> PublicJwk {
        self.jwk.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature as sig;

    fn pkcs1() -> Vec<u8> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rsa2048.pkcs1.pem");
        pem::parse(crate::files::read(&p, crate::files::FileKind::Key).unwrap())
            .unwrap()
            .contents()
            .to_vec()
    }

    /// The key's DER with the last byte of one integer changed (its length, so the DER, stays
    /// valid).
    fn corrupt(pick: for<'a> fn(&Parts<'a>) -> &'a [u8]) -> Vec<u8> {
        let mut der = pkcs1();
        let at = {
            let k = parts(&der).unwrap();
            let x = pick(&k);
            x.as_ptr() as usize - der.as_ptr() as usize + x.len() - 1
        };
        der[at] ^= 0x02;
        der
    }

    #[test]
    fn signatures_verify_with_the_public_key() {
        // Runs on any CPU: without IFMA AWS-LC takes its other exponentiation, same results.
        let key = CrtRsa::from_pkcs1(&pkcs1()).expect("a ring-acceptable 2048-bit key takes this path");
        for (alg, params) in [
            (Alg::RS256, &sig::RSA_PKCS1_2048_8192_SHA256),
            (Alg::RS512, &sig::RSA_PKCS1_2048_8192_SHA512),
            (Alg::PS256, &sig::RSA_PSS_2048_8192_SHA256),
            (Alg::PS384, &sig::RSA_PSS_2048_8192_SHA384),
        ] {
            let msg = b"header.payload";
            let s = key.sign(alg, msg).unwrap();
            assert_eq!(s.len(), 256);
            let PublicJwk::Rsa { n, e } = key.public_jwk() else {
                panic!()
            };
            sig::RsaPublicKeyComponents { n: &n, e: &e }
                .verify(params, msg, &s)
                .unwrap_or_else(|_| panic!("{alg:?} verifies"));
        }
    }

    #[test]
    fn a_corrupt_key_is_refused_on_load_or_signs_nothing() {
        // p·q ≠ n: refused on load (then *ring* and the checked path report it).
        assert!(CrtRsa::from_pkcs1(&corrupt(|k| k.p)).is_none());
        assert!(CrtRsa::from_pkcs1(&corrupt(|k| k.n)).is_none());
        // dP, dQ, qInv wrong: loads (no division to check them), but the signature fails its
        // check against the public key, so nothing is signed (as with *ring*).
        for (what, der) in [
            ("dP", corrupt(|k| k.dp)),
            ("dQ", corrupt(|k| k.dq)),
            ("qInv", corrupt(|k| k.qinv)),
        ] {
            let key = CrtRsa::from_pkcs1(&der).unwrap_or_else(|| panic!("{what}: loads"));
            assert!(
                key.sign(Alg::RS256, b"x").is_err(),
                "{what}: a wrong signature is not returned"
            );
            assert!(key.sign(Alg::PS256, b"x").is_err(), "{what}: PSS too");
        }
        // An RSAPublicKey, trailing bytes, an empty input: not keys.
        let mut long = pkcs1();
        long.push(0);
        assert!(CrtRsa::from_pkcs1(&long).is_none());
        assert!(CrtRsa::from_pkcs1(&[]).is_none());
    }

    #[test]
    fn keys_ring_refuses_do_not_take_this_path() {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rsa1024.pkcs8.pem");
        let der = pem::parse(crate::files::read(&p, crate::files::FileKind::Key).unwrap())
            .unwrap()
            .contents()
            .to_vec();
        use pkcs8::der::Decode;
        let info = pkcs8::PrivateKeyInfoRef::from_der(&der).unwrap();
        assert!(CrtRsa::from_pkcs1(info.private_key.as_bytes()).is_none(), "1024 bits");
        // e = 3 or 65536 (even), or a multi-prime key: refused by the rules ring applies.
        let k = pkcs1();
        let good = parts(&k).unwrap();
        assert!(fits(&good));
        for e in [&[3u8][..], &[1, 0, 0], &[1, 0, 0, 0, 0, 0, 1]] {
            assert!(
                !fits(&Parts {
                    e,
                    ..parts(&k).unwrap()
                }),
                "e = {e:?}"
            );
        }
    }
}
