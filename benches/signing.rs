//! In-process costs: one assertion per algorithm with the key loaded once, key loading per
//! format, and a cache lookup. `make bench` runs these and the whole-command script.

// The disallowed methods (clippy.toml) are the library's rules: tests and benches read their
// fixtures and the process environment directly.
#![allow(clippy::disallowed_methods)]

use criterion::{criterion_group, criterion_main, Criterion};
use signet::cache::{CacheKey, Entry, FileStore, TokenStore};
use signet::{Alg, Claims, Secret, Signer, SigningKey};
use std::hint::black_box;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn signing(c: &mut Criterion) {
    let mut g = c.benchmark_group("sign_assertion");
    for (key, alg) in [
        ("rsa2048.pkcs8.pem", Alg::RS256),
        ("rsa2048.pkcs8.pem", Alg::PS256),
        ("p256.pkcs8.pem", Alg::ES256),
        ("p384.pkcs8.pem", Alg::ES384),
        ("ed25519.pkcs8.pem", Alg::EdDSA),
    ] {
        let b = signet::key::load_bundle(&fixture(key), None, None).unwrap();
        let signer = Signer::new(b, Some(alg), &Default::default()).unwrap();
        let claims = Claims::new("client-id", "https://login.example.com/tenant/oauth2/v2.0/token");
        g.bench_function(alg.as_str(), |bch| {
            bch.iter(|| black_box(signer.sign(&claims, 1_700_000_000).unwrap()))
        });
    }
    g.finish();
    // The bare signature over a typical signing input, comparable with `openssl speed`.
    let mut g = c.benchmark_group("signature_only");
    let input = [b'x'; 400];
    for (key, alg) in [
        ("rsa2048.pkcs8.pem", Alg::RS256),
        ("p256.pkcs8.pem", Alg::ES256),
        ("ed25519.pkcs8.pem", Alg::EdDSA),
    ] {
        let b = signet::key::load_key(&fixture(key), None).unwrap();
        g.bench_function(alg.as_str(), |bch| {
            bch.iter(|| black_box(b.key.sign(alg, &input).unwrap()))
        });
    }
    g.finish();
}

/// What a one-shot `signet assert` pays for RSA-2048, per backend and per step, on this CPU:
/// - `rsa2048_one_shot`: parse a PKCS#8 key and sign once (what `signet assert` pays);
/// - `rsa2048_signature_only`: one signature with the key loaded;
/// - `rsa2048_parse`: loading alone (*ring* checks and precomputes; aws-lc-rs includes
///   `RSA_check_key`);
/// - `rsa2048_aws_lc_steps`: AWS-LC's own steps, through aws-lc-sys: `RSA_check_key` alone, and
///   the first signature of a freshly parsed key with and without blinding (the first one builds
///   the Montgomery contexts and, blinded, inverts a blinding value);
///
/// `signet` in each group is `SigningKey::from_pkcs8_der` and its `sign`: the backend signet picks
/// on this CPU (AWS-LC's unblinded CRT where AVX-512 IFMA is, *ring* elsewhere; src/key/rsa_crt.rs).
fn rsa_backends(c: &mut Criterion) {
    let text = std::fs::read_to_string(fixture("rsa2048.pkcs8.pem")).unwrap();
    let der = pem::parse(&text).unwrap().into_contents();
    let pkcs1 = pem::parse(std::fs::read_to_string(fixture("rsa2048.pkcs1.pem")).unwrap())
        .unwrap()
        .into_contents();
    let input = [b'x'; 400];
    let path = fixture("rsa2048.pkcs8.pem");
    let mut g = c.benchmark_group("rsa2048_one_shot");
    g.bench_function("ring", |bch| {
        let rng = ring::rand::SystemRandom::new();
        bch.iter(|| {
            let k = ring::signature::RsaKeyPair::from_pkcs8(&der).unwrap();
            let mut sig = vec![0; k.public().modulus_len()];
            k.sign(&ring::signature::RSA_PKCS1_SHA256, &rng, &input, &mut sig)
                .unwrap();
            black_box(sig)
        })
    });
    g.bench_function("aws_lc", |bch| {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        bch.iter(|| {
            let k = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&der).unwrap();
            let mut sig = vec![0; k.public_modulus_len()];
            k.sign(&aws_lc_rs::signature::RSA_PKCS1_SHA256, &rng, &input, &mut sig)
                .unwrap();
            black_box(sig)
        })
    });
    g.bench_function("signet", |bch| {
        bch.iter(|| {
            let k = SigningKey::from_pkcs8_der(&der, &path).unwrap();
            black_box(k.sign(Alg::RS256, &input).unwrap())
        })
    });
    g.finish();
    let mut g = c.benchmark_group("rsa2048_signature_only");
    let rk = ring::signature::RsaKeyPair::from_pkcs8(&der).unwrap();
    let rrng = ring::rand::SystemRandom::new();
    g.bench_function("ring", |bch| {
        let mut sig = vec![0; rk.public().modulus_len()];
        bch.iter(|| {
            rk.sign(&ring::signature::RSA_PKCS1_SHA256, &rrng, &input, &mut sig)
                .unwrap();
            black_box(&sig);
        })
    });
    let ak = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&der).unwrap();
    let arng = aws_lc_rs::rand::SystemRandom::new();
    g.bench_function("aws_lc", |bch| {
        let mut sig = vec![0; ak.public_modulus_len()];
        bch.iter(|| {
            ak.sign(&aws_lc_rs::signature::RSA_PKCS1_SHA256, &arng, &input, &mut sig)
                .unwrap();
            black_box(&sig);
        })
    });
    let sk = SigningKey::from_pkcs8_der(&der, &path).unwrap();
    g.bench_function("signet", |bch| {
        bch.iter(|| black_box(sk.sign(Alg::RS256, &input).unwrap()))
    });
    g.finish();
    let mut g = c.benchmark_group("rsa2048_parse");
    g.bench_function("ring", |bch| {
        bch.iter(|| black_box(ring::signature::RsaKeyPair::from_pkcs8(&der).unwrap()))
    });
    g.bench_function("aws_lc", |bch| {
        bch.iter(|| black_box(aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&der).unwrap()))
    });
    g.bench_function("signet", |bch| {
        bch.iter(|| black_box(SigningKey::from_pkcs8_der(&der, &path).unwrap()))
    });
    g.finish();
    aws_lc_steps(c, &pkcs1, &input);
}

/// An AWS-LC `RSA` parsed from PKCS#1 (`RSA_parse_private_key`, which runs `RSA_check_key`).
struct LcRsa(*mut aws_lc_sys::RSA);

impl LcRsa {
    fn parse(pkcs1: &[u8]) -> LcRsa {
        // SAFETY: the CBS reads the live slice; the result is checked.
        unsafe {
            let mut cbs = std::mem::zeroed::<aws_lc_sys::CBS>();
            aws_lc_sys::CBS_init(&mut cbs, pkcs1.as_ptr(), pkcs1.len());
            let r = aws_lc_sys::RSA_parse_private_key(&mut cbs);
            assert!(!r.is_null());
            LcRsa(r)
        }
    }
    fn sign(&self, digest: &[u8; 32]) -> [u8; 256] {
        let mut sig = [0u8; 256];
        let mut len = 0u32;
        // SAFETY: a 256-byte buffer for a 2048-bit key; the key is live.
        let ok = unsafe {
            aws_lc_sys::RSA_sign(
                aws_lc_sys::NID_sha256,
                digest.as_ptr(),
                32,
                sig.as_mut_ptr(),
                &mut len,
                self.0,
            )
        };
        assert_eq!(ok, 1);
        sig
    }
}

impl Drop for LcRsa {
    fn drop(&mut self) {
        // SAFETY: owned, freed once.
        unsafe { aws_lc_sys::RSA_free(self.0) }
    }
}

fn aws_lc_steps(c: &mut Criterion, pkcs1: &[u8], input: &[u8]) {
    let digest: [u8; 32] = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, input)
        .as_ref()
        .try_into()
        .unwrap();
    let mut g = c.benchmark_group("rsa2048_aws_lc_steps");
    let parsed = LcRsa::parse(pkcs1);
    g.bench_function("check_key", |bch| {
        // SAFETY: a live, parsed key.
        bch.iter(|| assert_eq!(unsafe { aws_lc_sys::RSA_check_key(parsed.0) }, 1))
    });
    g.bench_function("first_sign_blinded", |bch| {
        bch.iter_batched(
            || LcRsa::parse(pkcs1),
            |k| black_box(k.sign(&digest)),
            criterion::BatchSize::SmallInput,
        )
    });
    g.bench_function("first_sign_unblinded", |bch| {
        bch.iter_batched(
            || {
                let k = LcRsa::parse(pkcs1);
                // SAFETY: a live key; the flag only skips blinding.
                unsafe { aws_lc_sys::RSA_set_flags(k.0, aws_lc_sys::RSA_FLAG_NO_BLINDING) };
                k
            },
            |k| black_box(k.sign(&digest)),
            criterion::BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn loading(c: &mut Criterion) {
    let pass = Secret::new("signet-test-passphrase".to_string());
    let mut g = c.benchmark_group("load_key");
    g.sample_size(20);
    for (name, file, p) in [
        ("pem_pkcs1", "rsa2048.pkcs1.pem", false),
        ("pem_pkcs8", "rsa2048.pkcs8.pem", false),
        ("pem_sec1_p256", "p256.sec1.pem", false),
        ("encrypted_pkcs8_pbkdf2", "rsa2048.enc.pem", true),
        ("pkcs12_modern", "rsa2048.modern.pfx", true),
        ("pkcs12_legacy", "rsa2048.legacy.pfx", true),
    ] {
        let path = fixture(file);
        let pass = p.then_some(&pass);
        g.bench_function(name, |bch| {
            bch.iter(|| black_box(signet::key::load_key(&path, pass).unwrap()))
        });
    }
    g.finish();
}

fn cache(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::open(&dir.path().join("cache")).unwrap();
    let t = signet::token::Token {
        access_token: Secret::new("eyJ".to_string() + &"a".repeat(1200)),
        token_type: Some("Bearer".into()),
        scope: Some("api".into()),
        obtained_at: 1,
        expires_at: i64::MAX / 2,
        extra: Default::default(),
    };
    let key = CacheKey::for_identity("bench");
    store
        .put(
            &key,
            &Entry::new(&t, Some("https://x/token".into()), Some("c".into()), None),
        )
        .unwrap();
    c.bench_function("cache_lookup", |bch| {
        bch.iter(|| black_box(store.get(&CacheKey::for_identity("bench")).unwrap().unwrap()))
    });
}

/// What DPoP adds to a cache hit: the generated key read back from the entry (checked against
/// its thumbprint), and one ES256 proof with `ath` (what `signet dpop proof` signs).
fn dpop(c: &mut Criterion) {
    let key = signet::dpop::DpopKey::generate().unwrap();
    let stored = key.stored().unwrap();
    let jkt = key.jkt().to_string();
    let mut g = c.benchmark_group("dpop");
    g.bench_function("key_from_entry", |bch| {
        bch.iter(|| black_box(signet::dpop::DpopKey::from_stored(stored.expose(), &jkt).unwrap()))
    });
    g.bench_function("proof_es256", |bch| {
        bch.iter(|| {
            black_box(
                key.proof(
                    "GET",
                    "https://api.example.com/v1/items?page=2",
                    None,
                    Some("eyJtoken"),
                    1_700_000_000,
                )
                .unwrap(),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, signing, rsa_backends, loading, cache, dpop);
criterion_main!(benches);
