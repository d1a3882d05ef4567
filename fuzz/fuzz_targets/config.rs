//! Any text as a config file, for two profile names.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    for name in ["default", "ci"] {
        let _ = signet::config::parse_profile(&s, std::path::Path::new("/tmp/fuzz/config.toml"), name, true);
    }
});
