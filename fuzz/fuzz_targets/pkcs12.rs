//! Any bytes as a PKCS#12 file, with and without a password.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let pass = signet::Secret::new("signet-test-passphrase".to_string());
    let _ = signet::key::load_pkcs12_bytes(data, std::path::Path::new("fuzz.pfx"), Some(&pass));
    let _ = signet::key::load_pkcs12_bytes(data, std::path::Path::new("fuzz.pfx"), None);
});
