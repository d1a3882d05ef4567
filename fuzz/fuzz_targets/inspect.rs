//! Any text as a JWT for `signet inspect`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    if let Ok(d) = signet::inspect::dangerous::decode_unverified(&s) {
        let _ = signet::inspect::render(&d, 1_700_000_000);
    }
});
