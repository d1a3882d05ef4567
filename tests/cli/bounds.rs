//! Resource bounds on bad input (#21 items 8 and 9): key files whose key derivation asks for
//! minutes or gigabytes, and inputs that are devices, FIFOs or huge files. Each case must end
//! with its own exit code and a message naming the parameter or file, within `--timeout` + 1 s
//! and with a peak RSS of at most 32 MiB, both measured on the real process (wait4's rusage).

use crate::common::*;
use der::asn1::OctetString;
use der::{AnyRef, Decode, Encode, Reader};
use pkcs5::pbes2::{self, Kdf, Pbkdf2Params, Pbkdf2Prf, ScryptParams};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const TIMEOUT_SECS: u64 = 5;
const MAX_RSS_KIB: i64 = 32 * 1024;

struct Run {
    code: i32,
    stderr: String,
    peak_rss_kib: i64,
    took: Duration,
}

/// Runs the command to its end and reads its peak RSS from the kernel.
fn measured(cmd: assert_cmd::Command) -> Run {
    use std::os::unix::process::ExitStatusExt;
    let start = Instant::now();
    // Reaped below by wait4, which also gives the rusage that Child::wait would not.
    #[allow(clippy::zombie_processes)]
    let mut child = spawn(&cmd, std::process::Stdio::null());
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut err, &mut s).unwrap();
        s
    });
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid out-parameter; the pid is our own child's.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    let took = start.elapsed();
    let status = std::process::ExitStatus::from_raw(status);
    Run {
        code: status.code().unwrap_or(-1),
        stderr: reader.join().unwrap(),
        peak_rss_kib: usage.ru_maxrss,
        took,
    }
}

fn within_bounds(what: &str, r: &Run) {
    assert!(
        r.peak_rss_kib <= MAX_RSS_KIB,
        "{what}: peak RSS {} KiB over {MAX_RSS_KIB} KiB",
        r.peak_rss_kib
    );
    assert!(
        r.took <= Duration::from_secs(TIMEOUT_SECS + 1),
        "{what}: took {:?}, over --timeout {TIMEOUT_SECS} s + 1 s",
        r.took
    );
    // One error line, and at most a hint after it (the contract's "Exit codes and errors").
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert!(lines[0].starts_with("error: "), "{what}: {}", r.stderr);
    assert!(
        lines.len() == 1 || lines.len() == 2 && lines[1].starts_with("hint: "),
        "{what}: {}",
        r.stderr
    );
}

fn assert_with(sb: &Sandbox, key: &Path, extra: &[&str]) -> Run {
    let mut c = sb.signet();
    c.arg("assert")
        .arg("--key")
        .arg(key)
        .args([
            "--client-id",
            "c",
            "--audience",
            "a",
            "--timeout",
            &TIMEOUT_SECS.to_string(),
        ])
        .args(extra)
        .env("SIGNET_KEY_PASSPHRASE", PASSPHRASE);
    measured(c)
}

/// An encrypted PKCS#8 with these derivation parameters; the ciphertext is noise, since
/// signet must refuse the file before deriving anything.
fn encrypted_pkcs8(kdf: Kdf) -> String {
    let info = pkcs8::EncryptedPrivateKeyInfo {
        encryption_algorithm: pkcs5::EncryptionScheme::Pbes2(pbes2::Parameters {
            kdf,
            encryption: pbes2::EncryptionScheme::Aes256Cbc { iv: [7; 16] },
        }),
        encrypted_data: OctetString::new(vec![0x5a; 1232]).unwrap(),
    };
    pem::encode(&pem::Pem::new("ENCRYPTED PRIVATE KEY", info.to_der().unwrap()))
}

fn pbkdf2(iterations: u32) -> Kdf {
    Kdf::Pbkdf2(Pbkdf2Params {
        salt: (&[1u8; 16][..]).try_into().unwrap(),
        iteration_count: iterations,
        key_length: None,
        prf: Pbkdf2Prf::HmacWithSha256,
    })
}

fn scrypt(n: u64, r: u16, p: u16) -> Kdf {
    Kdf::Scrypt(ScryptParams {
        salt: (&[2u8; 16][..]).try_into().unwrap(),
        cost_parameter: n,
        block_size: r,
        parallelization: p,
        key_length: Some(32),
    })
}

fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = body.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(body);
    out
}

/// A fixture PFX re-encoded with another MAC iteration count.
fn pfx_with_mac_iterations(iterations: u32) -> Vec<u8> {
    let der = std::fs::read(fixture("rsa2048.modern.pfx")).unwrap();
    let top = AnyRef::from_der(&der).unwrap();
    let (version, auth_safe, mac) = top
        .sequence(|r: &mut der::SliceReader<'_>| {
            Ok::<_, der::Error>((
                r.decode::<AnyRef<'_>>()?,
                r.decode::<AnyRef<'_>>()?,
                r.decode::<AnyRef<'_>>()?,
            ))
        })
        .unwrap();
    let (digest, salt) = mac
        .sequence(|r: &mut der::SliceReader<'_>| {
            let d = r.decode::<AnyRef<'_>>()?;
            let s = r.decode::<AnyRef<'_>>()?;
            let _old: AnyRef<'_> = r.decode()?;
            Ok::<_, der::Error>((d, s))
        })
        .unwrap();
    let mut it = iterations.to_be_bytes().to_vec();
    while it.len() > 1 && it[0] == 0 && it[1] & 0x80 == 0 {
        it.remove(0);
    }
    let mac = tlv(
        0x30,
        &[digest.to_der().unwrap(), salt.to_der().unwrap(), tlv(0x02, &it)].concat(),
    );
    tlv(
        0x30,
        &[version.to_der().unwrap(), auth_safe.to_der().unwrap(), mac].concat(),
    )
}

fn write(sb: &Sandbox, name: &str, bytes: &[u8]) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = sb.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

#[test]
fn key_derivation_with_extreme_parameters_exits_3_naming_the_parameter() {
    let sb = Sandbox::new();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "pbkdf2-2^31",
            encrypted_pkcs8(pbkdf2(i32::MAX as u32)).into_bytes(),
            "PBKDF2 iteration count = 2147483647",
        ),
        (
            "pbkdf2-2^32",
            encrypted_pkcs8(pbkdf2(u32::MAX)).into_bytes(),
            "PBKDF2 iteration count",
        ),
        (
            "scrypt-n2^30",
            encrypted_pkcs8(scrypt(1 << 30, 8, 1)).into_bytes(),
            "scrypt memory",
        ),
        (
            "scrypt-n2^20",
            encrypted_pkcs8(scrypt(1 << 20, 8, 1)).into_bytes(),
            "scrypt memory",
        ),
        (
            "scrypt-p",
            encrypted_pkcs8(scrypt(1 << 14, 8, 4096)).into_bytes(),
            "scrypt parallelization p = 4096",
        ),
        (
            "scrypt-work",
            encrypted_pkcs8(scrypt(1 << 17, 8, 16)).into_bytes(),
            "scrypt work",
        ),
        (
            "pfx-mac",
            pfx_with_mac_iterations(i32::MAX as u32),
            "PKCS#12 MAC iteration count = 2147483647",
        ),
    ];
    for (name, bytes, says) in cases {
        let key = write(&sb, &format!("{name}.key"), &bytes);
        let r = assert_with(&sb, &key, &[]);
        assert_eq!(r.code, 3, "{name}: {}", r.stderr);
        assert!(r.stderr.contains(says), "{name}: {}", r.stderr);
        assert!(r.stderr.contains(&key.display().to_string()), "{name}: {}", r.stderr);
        within_bounds(name, &r);
    }
}

#[test]
fn key_derivation_within_the_limits_still_decrypts() {
    // The committed fixtures: OpenSSL's scrypt defaults and a PBKDF2 PKCS#8, and a PFX.
    let sb = Sandbox::new();
    for key in [
        "rsa2048.enc-scrypt.pem",
        "rsa2048.enc.pem",
        "rsa2048.modern.pfx",
        "rsa2048.legacy.pfx",
    ] {
        let r = assert_with(&sb, &fixture(key), &[]);
        assert_eq!(r.code, 0, "{key}: {}", r.stderr);
    }
    // Just under the PBKDF2 limit's order of magnitude is not refused for its parameters: the
    // noise ciphertext then fails as a wrong passphrase would, after the derivation ran.
    let key = write(&sb, "pbkdf2-ok.key", encrypted_pkcs8(pbkdf2(2048)).as_bytes());
    let r = assert_with(&sb, &key, &[]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("wrong passphrase"), "{}", r.stderr);
}

#[test]
fn devices_fifos_and_huge_files_are_refused_as_inputs() {
    let sb = Sandbox::new();
    let key = fixture_str("rsa2048.pkcs8.pem");
    let fifo = sb.path().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let huge = sb.path().join("huge.pem");
    std::fs::File::create(&huge).unwrap().set_len(1 << 30).unwrap();
    let zero = "/dev/zero";
    let fifo = fifo.to_str().unwrap();
    let huge = huge.to_str().unwrap();
    // (what, flags, exit code, what stderr says)
    let cases: Vec<(&str, Vec<&str>, i32, &str)> = vec![
        (
            "key /dev/zero",
            vec!["--key", zero],
            3,
            "character device, not a regular file",
        ),
        (
            "key FIFO",
            vec!["--key", fifo],
            3,
            "FIFO (named pipe), not a regular file",
        ),
        ("key 1 GiB", vec!["--key", huge], 3, "too large for a key file"),
        (
            "cert /dev/zero",
            vec!["--key", &key, "--cert", zero],
            3,
            "character device",
        ),
        (
            "passphrase /dev/zero",
            vec!["--key", &key, "--key-passphrase-file", zero],
            2,
            "character device",
        ),
        (
            "passphrase 1 GiB",
            vec!["--key", &key, "--key-passphrase-file", huge],
            2,
            "too large for a passphrase file",
        ),
        (
            "config /dev/zero",
            vec!["--key", &key, "--config", zero],
            2,
            "character device",
        ),
        (
            "config 1 GiB",
            vec!["--key", &key, "--config", huge],
            2,
            "too large for a configuration file",
        ),
        (
            "template /dev/zero",
            vec!["--key", &key, "--template", zero],
            2,
            "character device",
        ),
    ];
    for (what, flags, code, says) in cases {
        let mut c = sb.signet();
        c.arg("assert")
            .args([
                "--client-id",
                "c",
                "--audience",
                "a",
                "--timeout",
                &TIMEOUT_SECS.to_string(),
            ])
            .args(&flags);
        let r = measured(c);
        assert_eq!(r.code, code, "{what}: {}", r.stderr);
        assert!(r.stderr.contains(says), "{what}: {}", r.stderr);
        within_bounds(what, &r);
    }
    // The inputs only `signet token` reads.
    let token_cases: Vec<(&str, Vec<&str>, i32, &str)> = vec![
        (
            "CA /dev/zero",
            vec!["--key", &key, "--ca-file", zero],
            2,
            "character device",
        ),
        ("CA FIFO", vec!["--key", &key, "--ca-file", fifo], 2, "FIFO"),
        (
            "assertion /dev/zero",
            vec!["--assertion-file", zero],
            3,
            "character device",
        ),
        (
            "assertion 1 GiB",
            vec!["--assertion-file", huge],
            3,
            "too large for an assertion file",
        ),
    ];
    for (what, flags, code, says) in token_cases {
        let mut c = sb.signet();
        c.args([
            "token",
            "--client-id",
            "c",
            "--token-url",
            "https://127.0.0.1:9/token",
            "--no-cache",
        ])
        .args(["--timeout", &TIMEOUT_SECS.to_string()])
        .args(&flags);
        let r = measured(c);
        assert_eq!(r.code, code, "{what}: {}", r.stderr);
        assert!(r.stderr.contains(says), "{what}: {}", r.stderr);
        within_bounds(what, &r);
    }
}

#[test]
fn a_passphrase_may_come_through_a_pipe() {
    // `--key-passphrase-file <(pass show key)`: a pipe is the one non-file input accepted.
    let sb = Sandbox::new();
    let o = sb
        .signet()
        .arg("assert")
        .args([
            "--key",
            &fixture_str("rsa2048.enc.pem"),
            "--client-id",
            "c",
            "--audience",
            "a",
        ])
        .args(["--key-passphrase-file", "/dev/stdin"])
        .write_stdin(format!("{PASSPHRASE}\n"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

/// A server on 127.0.0.1 that answers every connection with `head`, then `body_chunk` over and
/// over (every `pause`) until the client goes away.
fn streaming_server(head: &'static [u8], body_chunk: &'static [u8], pause: Duration) -> String {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/token", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for c in l.incoming().flatten().take(20) {
            std::thread::spawn(move || {
                let mut c = c;
                let mut buf = [0u8; 65536];
                let _ = c.set_read_timeout(Some(Duration::from_millis(200)));
                let _ = c.read(&mut buf);
                if c.write_all(head).is_err() {
                    return;
                }
                while c.write_all(body_chunk).is_ok() {
                    if !pause.is_zero() {
                        std::thread::sleep(pause);
                    }
                }
            });
        }
    });
    url
}

#[test]
fn endless_and_slow_answers_stay_within_memory_and_time() {
    const CHUNK: &[u8] = &[b'a'; 65536];
    let endless = streaming_server(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2147483648\r\n\r\n{\"access_token\":\"",
        CHUNK,
        Duration::ZERO,
    );
    let chunked = streaming_server(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"10000\r\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
        Duration::ZERO,
    );
    let trickle = streaming_server(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n",
        b" ",
        Duration::from_millis(300),
    );
    let header_trickle = streaming_server(b"HTTP/1.1 200 OK\r\n", b"X-Slow: a\r\n", Duration::from_millis(300));
    let sb = Sandbox::new();
    let key = fixture_str("p256.pkcs8.pem");
    for (what, url) in [
        ("a 2 GiB answer", &endless),
        ("an endless chunked answer", &chunked),
        ("a body trickling past --timeout", &trickle),
        ("headers trickling past --timeout", &header_trickle),
    ] {
        let mut c = sb.signet();
        c.args([
            "token",
            "--key",
            &key,
            "--client-id",
            "c",
            "--token-url",
            url,
            "--no-cache",
        ])
        .args(["--timeout", &TIMEOUT_SECS.to_string()]);
        let r = measured(c);
        assert_eq!(r.code, 5, "{what}: {}", r.stderr);
        within_bounds(what, &r);
    }
    // GitHub's OIDC endpoint, endless too.
    let mut c = sb.signet();
    c.args([
        "token",
        "--client-id",
        "c",
        "--token-url",
        "https://127.0.0.1:9/token",
        "--no-cache",
    ])
    .args([
        "--assertion-from",
        "github-actions",
        "--timeout",
        &TIMEOUT_SECS.to_string(),
    ])
    .env("ACTIONS_ID_TOKEN_REQUEST_URL", format!("{endless}?x=1"))
    .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "runner-secret");
    let r = measured(c);
    assert_eq!(r.code, 5, "GitHub OIDC: {}", r.stderr);
    within_bounds("a 2 GiB GitHub OIDC answer", &r);
}

#[test]
fn the_fuzz_corpus_seeds_load_or_fail_cleanly() {
    // `make fuzz` starts from these; `make test` checks each still ends in a value or an error,
    // and that the extreme-parameter seeds are refused by the key-derivation limits.
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let pass = signet::Secret::new("fuzz".to_string());
    let mut extreme = 0;
    for dir in ["key_file", "pkcs12"] {
        for e in std::fs::read_dir(corpus.join(dir)).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let bytes = std::fs::read(e.path()).unwrap();
            let started = Instant::now();
            let r = signet::key::load_key_bytes(&bytes, Path::new("seed"), Some(&pass));
            if name.contains("2^") || name.contains("scrypt-p") {
                extreme += 1;
                assert!(
                    matches!(r, Err(signet::key::KeyError::KdfLimit { .. })),
                    "{dir}/{name}: {:?}",
                    r.err()
                );
                assert!(started.elapsed() < Duration::from_secs(1), "{dir}/{name}");
            }
        }
    }
    assert!(extreme >= 6, "the extreme seeds are in the corpus ({extreme})");
}
