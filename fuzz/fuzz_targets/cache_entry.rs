//! Any bytes as a cache entry: a miss or a usable entry, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(e) = signet::cache::Entry::parse(data) {
        let _ = e.token();
        let _ = e.is_fresh(1_700_000_000, 60);
        let back = serde_json::to_vec(&e).unwrap();
        assert!(signet::cache::Entry::parse(&back).is_some());
    }
});
