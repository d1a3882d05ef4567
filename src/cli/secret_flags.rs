//! Unknown flags that look like a way to pass a passphrase, password or PIN.
//!
//! clap answers `--passphrase 12345` with "a similar argument exists: '--param'", and following
//! that tip sends the secret to the token endpoint; `--key-passphrase` gets '--key-passphrase-file'
//! as its tip, which puts the secret where a path belongs (and into the error about that path).
//! signet takes no secret as a flag value, so such a flag gets a hint that names where a secret
//! does go, and nothing after the flag's name (an `=value` or the next argument) is printed.

use clap::error::{ContextKind, ContextValue, ErrorKind};

/// The `error:` and `hint:` lines for an unknown flag that names a secret, else `None` (clap's
/// own message is fine).
pub fn mistake(e: &clap::Error) -> Option<(String, &'static str)> {
    if e.kind() != ErrorKind::UnknownArgument {
        return None;
    }
    let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else {
        return None;
    };
    let name = flag_name(arg)?;
    let hint = hint_for(name)?;
    Some((format!("unexpected argument '{name}' found"), hint))
}

/// `--name` of `--name=value` or `-n`; `None` for something that is not a flag.
fn flag_name(arg: &str) -> Option<&str> {
    if !arg.starts_with('-') || arg == "-" || arg == "--" {
        return None;
    }
    Some(arg.split_once('=').map_or(arg, |(n, _)| n))
}

const PASSPHRASE_HINT: &str = "signet takes no passphrase on the command line (it would be kept in \
    shell history and CI logs): set SIGNET_KEY_PASSPHRASE, or give --key-passphrase-file PATH, a file \
    holding it";
const PIN_HINT: &str = "signet takes no PIN on the command line (it would be kept in shell history \
    and CI logs): set SIGNET_PKCS11_PIN, or add pin-source=FILE to the pkcs11: key URI";

/// The hint for a flag whose name says it carries a secret. Words are matched whole where a
/// substring would catch ordinary flags (`pin` in `--spinner`, `pass` in `--bypass`).
fn hint_for(flag: &str) -> Option<&'static str> {
    let name = flag.trim_start_matches('-').to_ascii_lowercase();
    let words: Vec<&str> = name.split(['-', '_', '.']).collect();
    let has_word = |set: &[&str]| words.iter().any(|w| set.contains(w));
    if has_word(&["pin", "pincode", "userpin", "sopin"]) {
        return Some(PIN_HINT);
    }
    let secret_word = has_word(&[
        "pass",
        "pw",
        "pwd",
        "passwd",
        "passcode",
        "secret",
        "password",
        "passphrase",
    ]);
    let secret_part = ["passphrase", "password", "passwd", "phrase", "secret"]
        .iter()
        .any(|p| name.contains(p));
    (secret_word || secret_part).then_some(PASSPHRASE_HINT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_looking_flags_get_the_hint() {
        for f in [
            "--passphrase",
            "--pass",
            "--password",
            "--key-password",
            "--key-passphrase",
            "--pasphrase",
            "--keypassphrase",
            "--pfx-pass",
            "--secret",
            "--client-secret",
            "--pw",
            "-pwd",
        ] {
            assert_eq!(hint_for(f), Some(PASSPHRASE_HINT), "{f}");
        }
        for f in ["--pin", "--pkcs11-pin", "--user_pin"] {
            assert_eq!(hint_for(f), Some(PIN_HINT), "{f}");
        }
        for f in [
            "--param",
            "--spinner",
            "--bypass",
            "--passthrough",
            "--scope",
            "--ping",
            "--compass",
        ] {
            assert_eq!(hint_for(f), None, "{f}");
        }
    }

    #[test]
    fn the_value_is_never_part_of_the_name() {
        assert_eq!(flag_name("--passphrase=12345"), Some("--passphrase"));
        assert_eq!(flag_name("--passphrase"), Some("--passphrase"));
        assert_eq!(flag_name("12345"), None);
        assert_eq!(flag_name("--"), None);
    }
}
