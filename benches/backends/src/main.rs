//! Signatures per second with jsonwebtoken's `rust_crypto` or `aws_lc_rs` backend, two ways:
//! `jsonwebtoken::encode` (which parses the key again for every signature: what a caller of
//! jsonwebtoken pays) and the backend's own signer with the key parsed once (what signet does).
//! Prints one JSON object; `benches/commands.py` puts it in docs/BENCHMARKS.md.
//!
//! Usage: signet-backend-bench FIXTURES_DIR

use std::hint::black_box;
use std::time::{Duration, Instant};

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};

/// Median signatures per second over `rounds` batches, each batch running about `batch`.
fn rate(mut sign: impl FnMut()) -> f64 {
    sign(); // warm-up: first-use costs are not what a long-lived signer pays
    let mut rates = Vec::new();
    for _ in 0..15 {
        let start = Instant::now();
        let mut n = 0u32;
        while start.elapsed() < Duration::from_millis(200) {
            sign();
            n += 1;
        }
        rates.push(f64::from(n) / start.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

fn claims() -> serde_json::Value {
    serde_json::json!({"iss": "c", "sub": "c", "aud": "a", "jti": "x", "iat": 1, "nbf": 1, "exp": 121})
}

fn main() {
    let dir = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .expect("usage: signet-backend-bench FIXTURES_DIR"),
    );
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let rsa_pem = read("rsa2048.pkcs8.pem");
    let p256_pem = read("p256.pkcs8.pem");
    let ed_pem = read("ed25519.pkcs8.pem");
    let claims = claims();
    let msg = b"eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJjIn0";

    let jwt = |alg: Algorithm, key: EncodingKey| {
        let header = Header::new(alg);
        rate(|| {
            black_box(encode(&header, &claims, &key).unwrap());
        })
    };
    let encode_rates = [
        (
            "RS256",
            jwt(Algorithm::RS256, EncodingKey::from_rsa_pem(&rsa_pem).unwrap()),
        ),
        (
            "ES256",
            jwt(Algorithm::ES256, EncodingKey::from_ec_pem(&p256_pem).unwrap()),
        ),
        (
            "EdDSA",
            jwt(Algorithm::EdDSA, EncodingKey::from_ed_pem(&ed_pem).unwrap()),
        ),
    ];
    let once = backend::key_loaded_once(&rsa_pem, &p256_pem, &ed_pem, msg);

    let obj = |rates: &[(&str, f64)]| {
        serde_json::Value::Object(
            rates
                .iter()
                .map(|(k, v)| (k.to_string(), serde_json::json!(v)))
                .collect(),
        )
    };
    println!(
        "{}",
        serde_json::json!({"backend": backend::NAME, "jsonwebtoken_encode": obj(&encode_rates), "key_loaded_once": obj(&once)})
    );
}

#[cfg(feature = "rust_crypto")]
mod backend {
    use super::{black_box, rate};
    use ed25519_dalek::pkcs8::DecodePrivateKey as _;
    use ed25519_dalek::Signer as _;
    use p256::ecdsa::signature::RandomizedSigner as _;

    pub const NAME: &str = "rust_crypto";

    pub fn key_loaded_once(rsa_pem: &[u8], p256_pem: &[u8], ed_pem: &[u8], msg: &[u8]) -> Vec<(&'static str, f64)> {
        let s = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
        let rsa_key = rsa::RsaPrivateKey::from_pkcs8_pem(&s(rsa_pem)).unwrap();
        // Blinded, as jsonwebtoken signs (RandomizedSigner): the unblinded path is the Marvin one.
        let rsa_signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(rsa_key);
        let p256_signer = p256::ecdsa::SigningKey::from_pkcs8_pem(&s(p256_pem)).unwrap();
        let ed_signer = ed25519_dalek::SigningKey::from_pkcs8_pem(&s(ed_pem)).unwrap();
        let mut rng = rand::thread_rng();
        let mut rng2 = rand::thread_rng();
        vec![
            (
                "RS256",
                rate(|| {
                    black_box(rsa_signer.sign_with_rng(&mut rng, msg));
                }),
            ),
            (
                "ES256",
                rate(|| {
                    let sig: p256::ecdsa::Signature = p256_signer.sign_with_rng(&mut rng2, msg);
                    black_box(sig);
                }),
            ),
            (
                "EdDSA",
                rate(|| {
                    black_box(ed_signer.sign(msg));
                }),
            ),
        ]
    }
}

#[cfg(feature = "aws_lc_rs")]
mod backend {
    use super::{black_box, rate};
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair};

    pub const NAME: &str = "aws_lc_rs";

    fn der(text: &[u8]) -> Vec<u8> {
        pem::parse(text).unwrap().into_contents()
    }

    pub fn key_loaded_once(rsa_pem: &[u8], p256_pem: &[u8], ed_pem: &[u8], msg: &[u8]) -> Vec<(&'static str, f64)> {
        let rng = SystemRandom::new();
        let rsa = RsaKeyPair::from_pkcs8(&der(rsa_pem)).unwrap();
        let p256 = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &der(p256_pem)).unwrap();
        let ed = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der(ed_pem)).unwrap();
        let mut sig = vec![0u8; rsa.public_modulus_len()];
        vec![
            (
                "RS256",
                rate(|| {
                    rsa.sign(&signature::RSA_PKCS1_SHA256, &rng, msg, &mut sig).unwrap();
                    black_box(&sig);
                }),
            ),
            (
                "ES256",
                rate(|| {
                    black_box(p256.sign(&rng, msg).unwrap());
                }),
            ),
            (
                "EdDSA",
                rate(|| {
                    black_box(ed.sign(msg));
                }),
            ),
        ]
    }
}

#[cfg(not(any(feature = "rust_crypto", feature = "aws_lc_rs")))]
compile_error!("build with --features rust_crypto or --features aws_lc_rs");
