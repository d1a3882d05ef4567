//! Any text as a template file, then its variables and rendering.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    if let Ok(t) = signet::template::parse(&s, "fuzz.toml") {
        let given: Vec<(String, String)> = t.vars.keys().map(|k| (k.clone(), "x".to_string())).collect();
        if let Ok(vars) = t.check_vars(&given) {
            let _ = t.layer(&vars);
        }
    }
});
