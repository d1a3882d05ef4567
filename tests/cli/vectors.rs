use serde_json::Value;
use std::path::PathBuf;

fn vector(name: &str) -> Value {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn key(name: &str) -> signet::KeyBundle {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(name);
    signet::key::load_key(&p, None).unwrap()
}

#[test]
fn rfc7515_a2_rs256_signature_is_reproduced_exactly() {
    let v = vector("rfc7515-a2.json");
    let b = key("rfc7515-a2.pkcs1.pem");
    // the PEM holds the RFC's key
    let jwk = signet::key::PublicJwk::from_json(&v["jwk"]).unwrap();
    assert_eq!(b.key.public_jwk(), jwk);
    let input = format!(
        "{}.{}",
        v["header_b64"].as_str().unwrap(),
        v["payload_b64"].as_str().unwrap()
    );
    let sig = b.key.sign(signet::Alg::RS256, input.as_bytes()).unwrap();
    assert_eq!(signet::b64::encode(sig), v["signature_b64"].as_str().unwrap());
}

#[test]
fn rfc7638_thumbprint() {
    let v = vector("rfc7638-3.1.json");
    let jwk = signet::key::PublicJwk::from_json(&v["jwk"]).unwrap();
    assert_eq!(jwk.thumbprint(), v["thumbprint_b64"].as_str().unwrap());
}

#[test]
fn rfc8037_ed25519_key_thumbprint_and_signature() {
    let v = vector("rfc8037-a.json");
    let b = key("rfc8037-a1.pkcs8.pem");
    let public = signet::key::PublicJwk::from_json(&v["public_jwk"]).unwrap();
    assert_eq!(
        b.key.public_jwk(),
        public,
        "A.2: the public key derived from the private one"
    );
    assert_eq!(public.thumbprint(), v["thumbprint_b64"].as_str().unwrap(), "A.3");
    let input = format!(
        "{}.{}",
        v["header_b64"].as_str().unwrap(),
        v["payload_b64"].as_str().unwrap()
    );
    let sig = b.key.sign(signet::Alg::EdDSA, input.as_bytes()).unwrap();
    assert_eq!(signet::b64::encode(sig), v["signature_b64"].as_str().unwrap(), "A.4");
}
