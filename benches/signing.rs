//! In-process costs: one assertion per algorithm with the key loaded once, key loading per
//! format, and a cache lookup. `make bench` runs these and the whole-command script.

use criterion::{criterion_group, criterion_main, Criterion};
use signet::cache::{CacheKey, Entry, FileStore, TokenStore};
use signet::{Alg, Claims, Secret, Signer};
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

criterion_group!(benches, signing, loading, cache);
criterion_main!(benches);
