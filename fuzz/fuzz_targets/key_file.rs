//! Any bytes as a key file (PEM, encrypted PEM, DER, PKCS#12, service-account JSON): an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let pass = signet::Secret::new("fuzz".to_string());
    let _ = signet::key::load_key_bytes(data, std::path::Path::new("fuzz.pem"), Some(&pass));
    let _ = signet::key::load_key_bytes(data, std::path::Path::new("fuzz.pem"), None);
    let _ = signet::key::parse_certificates(data);
});
