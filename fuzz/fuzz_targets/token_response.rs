//! Any bytes as a token endpoint's answer: JSON with the default and a nested token path,
//! plain text, and OAuth error parsing.
#![no_main]
use libfuzzer_sys::fuzz_target;
use signet::token::{parse_oauth_error, parse_success, ResponseShape};

fuzz_target!(|data: &[u8]| {
    for path in ["/access_token", "/userInfo/token", "-", "/a/0/~1b"] {
        let shape = ResponseShape { token_path: path.into(), default_ttl: 600 };
        if let Ok(t) = parse_success(data, &shape, 1_700_000_000) {
            assert!(!t.access_token.expose().is_empty());
            assert!(t.expires_at >= t.obtained_at && t.expires_at <= t.obtained_at + 366 * 86400);
        }
    }
    if let Some(e) = parse_oauth_error(data) {
        assert!(!e.error.chars().any(char::is_control));
    }
    let _ = signet::text::redact_jwts(&String::from_utf8_lossy(data));
});
