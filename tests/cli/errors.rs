use crate::common::*;

/// Runs `signet assert` and returns (exit code, stderr).
fn fail(sb: &Sandbox, args: &[&str], pass: Option<&str>) -> (i32, String) {
    let mut c = sb.signet();
    c.arg("assert").args(args).args(["--client-id", "c", "--audience", "a"]);
    if let Some(p) = pass {
        c.env("SIGNET_KEY_PASSPHRASE", p);
    }
    let o = c.output().unwrap();
    assert!(o.stdout.is_empty(), "nothing on stdout on failure");
    let err = stderr(&o);
    assert!(err.starts_with("error: "), "one error line: {err}");
    assert_eq!(err.lines().filter(|l| l.starts_with("error:")).count(), 1, "{err}");
    (o.status.code().unwrap(), err)
}

#[test]
fn missing_key_file_exits_3_naming_it() {
    let sb = Sandbox::new();
    let (code, err) = fail(&sb, &["--key", "/nonexistent/key.pem"], None);
    assert_eq!(code, 3);
    assert!(
        err.contains("/nonexistent/key.pem") && err.contains("no such file"),
        "{err}"
    );
}

#[test]
fn unreadable_key_exits_3() {
    let sb = Sandbox::new();
    // a folder cannot be read as a file, even by root
    let (code, err) = fail(&sb, &["--key", sb.path().to_str().unwrap()], None);
    assert_eq!(code, 3, "{err}");
}

#[test]
fn certificate_given_as_key_exits_3() {
    let sb = Sandbox::new();
    for f in ["rsa2048.crt.pem", "rsa2048.crt.der"] {
        let (code, err) = fail(&sb, &["--key", &fixture_str(f)], None);
        assert_eq!(code, 3);
        assert!(err.contains("certificate, not a private key"), "{err}");
    }
}

#[test]
fn junk_key_exits_3() {
    let sb = Sandbox::new();
    for f in ["not-a-key.txt", "garbage.pfx"] {
        let (code, _) = fail(&sb, &["--key", &fixture_str(f)], None);
        assert_eq!(code, 3, "{f}");
    }
}

#[test]
fn wrong_passphrase_exits_3() {
    let sb = Sandbox::new();
    for f in [
        "rsa2048.enc.pem",
        "rsa2048.enc-scrypt.pem",
        "rsa2048.modern.pfx",
        "rsa2048.legacy.pfx",
    ] {
        let (code, err) = fail(&sb, &["--key", &fixture_str(f)], Some("not-the-passphrase"));
        assert_eq!(code, 3, "{f}");
        assert!(err.contains("wrong passphrase"), "{f}: {err}");
    }
}

#[test]
fn missing_passphrase_exits_3_and_says_how() {
    let sb = Sandbox::new();
    for f in ["rsa2048.enc.pem", "rsa2048.modern.pfx"] {
        let (code, err) = fail(&sb, &["--key", &fixture_str(f)], None);
        assert_eq!(code, 3, "{f}");
        assert!(
            err.contains("SIGNET_KEY_PASSPHRASE") && err.contains("--key-passphrase-file"),
            "{err}"
        );
    }
}

#[test]
fn unsupported_pkcs12_cipher_names_the_fix() {
    let sb = Sandbox::new();
    let (code, err) = fail(&sb, &["--key", &fixture_str("rsa2048.rc4.pfx")], Some(PASSPHRASE));
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("openssl pkcs12"), "{err}");
}

#[test]
fn key_certificate_mismatch_exits_3() {
    let sb = Sandbox::new();
    let (code, err) = fail(
        &sb,
        &[
            "--key",
            &fixture_str("rsa2048.pkcs8.pem"),
            "--cert",
            &fixture_str("rsa2048-b.crt.pem"),
        ],
        None,
    );
    assert_eq!(code, 3);
    assert!(err.contains("does not match"), "{err}");
}

#[test]
fn alg_key_mismatch_exits_2() {
    let sb = Sandbox::new();
    let (code, err) = fail(
        &sb,
        &["--key", &fixture_str("rsa2048.pkcs8.pem"), "--alg", "ES256"],
        None,
    );
    assert_eq!(code, 2);
    assert!(err.contains("ES256") && err.contains("RSA"), "{err}");
    let (code, _) = fail(&sb, &["--key", &fixture_str("p256.pkcs8.pem"), "--alg", "ES384"], None);
    assert_eq!(code, 2);
    let (code, _) = fail(&sb, &["--key", &fixture_str("p256.pkcs8.pem"), "--alg", "HS256"], None);
    assert_eq!(code, 2);
}

#[test]
fn rsa_1024_is_too_weak() {
    let sb = Sandbox::new();
    let (code, err) = fail(&sb, &["--key", &fixture_str("rsa1024.pkcs8.pem")], None);
    assert_eq!(code, 3);
    assert!(err.contains("1024") && err.contains("2048"), "{err}");
}

#[test]
fn kid_rule_needing_a_certificate_exits_2() {
    let sb = Sandbox::new();
    let (code, err) = fail(
        &sb,
        &["--key", &fixture_str("p256.pkcs8.pem"), "--kid-from", "x5t"],
        None,
    );
    assert_eq!(code, 2);
    assert!(err.contains("--cert"), "{err}");
}

#[test]
fn missing_passphrase_file_and_bad_flag_values() {
    let sb = Sandbox::new();
    let (code, _) = fail(
        &sb,
        &[
            "--key",
            &fixture_str("rsa2048.enc.pem"),
            "--key-passphrase-file",
            "/nonexistent/pass",
        ],
        None,
    );
    assert_eq!(code, 2);
    let (code, err) = fail(
        &sb,
        &["--key", &fixture_str("p256.pkcs8.pem"), "--lifetime", "soon"],
        None,
    );
    assert_eq!(code, 2);
    assert!(err.contains("lifetime"), "{err}");
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let sb = Sandbox::new();
    let o = sb.signet().args(["assert", "--passphrase", "x"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).starts_with("error:"));
}

#[test]
fn no_key_at_all_is_a_usage_error() {
    let sb = Sandbox::new();
    let o = sb
        .signet()
        .args(["assert", "--client-id", "c", "--audience", "a"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--key"));
}

#[test]
fn a_huge_timeout_lifetime_or_min_ttl_is_a_usage_error_not_a_panic() {
    let sb = Sandbox::new();
    for (flag, v) in [
        ("--timeout", "9223372036854775807"),
        ("--timeout", "18446744073709551615"),
        ("--min-ttl", "9223372036854775808"),
        ("--lifetime", "18446744073709551615"),
    ] {
        let o = sb
            .token_cmd("p256.pkcs8.pem", "c", "http://127.0.0.1:9/token")
            .args([flag, v])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{flag} {v}: {}", stderr(&o));
        assert!(stderr(&o).contains("maximum"), "{}", stderr(&o));
    }
    let o = sb
        .token_cmd("p256.pkcs8.pem", "c", "http://127.0.0.1:9/token")
        .env("SIGNET_TIMEOUT", "9223372036854775807")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

/// An error (or warning) written to a stderr nobody reads any more ends the command with its own
/// exit code, not a panic's 101 (`signet token … 2>&1 | head -c0`).
#[test]
fn a_closed_stderr_keeps_the_exit_code() {
    use std::os::fd::FromRawFd;
    let sb = Sandbox::new();
    // Without and with -v (tracing's own report of a failed write would panic too).
    for verbose in [&[][..], &["-v"], &["-vv"]] {
        let mut fds = [0; 2];
        // SAFETY: pipe writes two new descriptors into the array.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: both were just created; the read end is closed at once, the write end owned below.
        let write_end = unsafe {
            libc::close(fds[0]);
            std::os::fd::OwnedFd::from_raw_fd(fds[1])
        };
        let mut c = sb.signet();
        c.args(verbose).args(["token", "--key", "/nonexistent/key.pem"]);
        let status = std_command(&c)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::from(write_end))
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(2), "{verbose:?}: {status:?}");
    }
}
