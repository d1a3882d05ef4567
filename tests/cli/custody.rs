//! Keys that never sit in a file: a real SoftHSM2 token (set up by tests/hsm/setup.sh) and a real
//! ssh-agent started by the test. Signatures are checked with openssl or jsonwebtoken.

use crate::common::*;
use std::path::PathBuf;
use std::process::Command;

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

struct Token {
    dir: tempfile::TempDir,
}

impl Token {
    fn new() -> Token {
        assert!(
            PathBuf::from(MODULE).exists(),
            "SoftHSM2 is not installed: run `make test`"
        );
        let dir = tempfile::tempdir().unwrap();
        let o = Command::new(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/hsm/setup.sh"))
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        Token { dir }
    }

    fn signet(&self, sb: &Sandbox) -> assert_cmd::Command {
        let mut c = sb.signet();
        c.env("SOFTHSM2_CONF", self.dir.path().join("softhsm2.conf"))
            .env("SIGNET_PKCS11_MODULE", MODULE)
            .env("SIGNET_PKCS11_PIN", "1234");
        c
    }

    fn has_ed25519(&self) -> bool {
        self.dir.path().join("ed25519-imported").exists()
    }
}

#[test]
fn softhsm_signs_every_algorithm_and_openssl_verifies() {
    let t = Token::new();
    let sb = Sandbox::new();
    let mut cases = vec![
        ("pkcs11:token=signet;object=rsa", "RS256", "rsa2048.pub.pem"),
        ("pkcs11:token=signet;id=%01", "PS256", "rsa2048.pub.pem"),
        ("pkcs11:token=signet;object=rsa", "RS512", "rsa2048.pub.pem"),
        ("pkcs11:token=signet;object=p256", "ES256", "p256.pub.pem"),
    ];
    if t.has_ed25519() {
        cases.push(("pkcs11:token=signet;object=ed25519", "EdDSA", "ed25519.pub.pem"));
    }
    for (uri, alg, public) in cases {
        let o = t
            .signet(&sb)
            .args([
                "assert",
                "--key",
                uri,
                "--alg",
                alg,
                "--client-id",
                "c",
                "--audience",
                "a",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{uri} {alg}: {}", stderr(&o));
        crate::assert::openssl_verify(&stdout(&o), &fixture(public));
    }
    // the certificate on the token names the key: kid = its SHA-1 thumbprint
    let o = t
        .signet(&sb)
        .args([
            "assert",
            "--key",
            "pkcs11:token=signet;object=rsa",
            "--client-id",
            "c",
            "--audience",
            "a",
        ])
        .output()
        .unwrap();
    let sha1 = load("rsa2048.pkcs8.pem", Some("rsa2048.crt.pem"), None)
        .leaf()
        .unwrap()
        .hex_sha1();
    assert_eq!(decode(&stdout(&o)).header["kid"], sha1.as_str());
}

#[test]
fn softhsm_key_exchanges_and_a_cache_hit_never_opens_the_token() {
    let t = Token::new();
    let sb = Sandbox::new();
    let iss = issuer_trusting("hsm", "p256.pkcs8.pem", Some("p256.crt.pem"));
    let args = [
        "token",
        "--key",
        "pkcs11:token=signet;object=p256",
        "--client-id",
        "hsm",
        "--token-url",
        iss.token_url(),
    ];
    let o = t.signet(&sb).args(args).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // a wrong PIN and no module: a cache hit still succeeds, because it opens no session
    let o = t
        .signet(&sb)
        .args(args)
        .env("SIGNET_PKCS11_PIN", "0000")
        .env("SIGNET_PKCS11_MODULE", "/nonexistent.so")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(iss.request_count(), 1);
    // and with oidc-provider
    let jwk = load("rsa2048.pkcs8.pem", Some("rsa2048.crt.pem"), None);
    let p = crate::oidc::start(serde_json::json!([crate::oidc::client(
        "hsm-client",
        "rsa2048.pkcs8.pem",
        None,
        "PS256",
        &jwk.leaf().unwrap().hex_sha1()
    )]));
    let o = t
        .signet(&sb)
        .args([
            "token",
            "--key",
            "pkcs11:token=signet;object=rsa",
            "--alg",
            "PS256",
            "--client-id",
            "hsm-client",
            "--token-url",
            &p.token_url,
            "--scope",
            "api:read",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn softhsm_errors_exit_3_without_the_pin() {
    let t = Token::new();
    let sb = Sandbox::new();
    let base = ["assert", "--client-id", "c", "--audience", "a", "--key"];
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 5] = [
        (
            "pkcs11:token=signet;object=rsa",
            &[("SIGNET_PKCS11_PIN", "9876")],
            "wrong PIN",
        ),
        ("pkcs11:token=signet;object=nope", &[], "no private key"),
        ("pkcs11:token=other;object=rsa", &[], "no token"),
        (
            "pkcs11:token=signet;object=rsa?pin-value=1234",
            &[],
            "pin-value is refused",
        ),
        (
            "pkcs11:token=signet;object=rsa",
            &[("SIGNET_PKCS11_MODULE", "/nonexistent/module.so")],
            "cannot load module",
        ),
    ];
    for (uri, env, needle) in cases {
        let mut c = t.signet(&sb);
        c.args(base).arg(uri);
        for (k, v) in env {
            c.env(k, v);
        }
        let o = c.output().unwrap();
        assert_eq!(o.status.code(), Some(3), "{uri}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{uri}: {}", stderr(&o));
        assert!(!stderr(&o).contains("9876") && !stderr(&o).contains("1234\n"));
    }
    // a PIN from a file named by pin-source
    let pin = sb.path().join("pin");
    std::fs::write(&pin, "1234\n").unwrap();
    let o = t
        .signet(&sb)
        .env_remove("SIGNET_PKCS11_PIN")
        .args(base)
        .arg(format!(
            "pkcs11:token=signet;object=p256?pin-source=file:{}",
            pin.display()
        ))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

struct Agent {
    sock: PathBuf,
    pid: i32,
    _dir: tempfile::TempDir,
}

impl Drop for Agent {
    fn drop(&mut self) {
        unsafe { libc::kill(self.pid, libc::SIGTERM) };
    }
}

fn agent(keys: &[&str]) -> Agent {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("agent.sock");
    let o = Command::new("ssh-agent")
        .arg("-a")
        .arg(&sock)
        .arg("-s")
        .output()
        .expect("ssh-agent runs (make test installs openssh-client)");
    let out = String::from_utf8_lossy(&o.stdout);
    let pid: i32 = out
        .split("SSH_AGENT_PID=")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    for k in keys {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.path().join(k);
        std::fs::copy(fixture(k), &p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        let o = Command::new("ssh-add")
            .arg(&p)
            .env("SSH_AUTH_SOCK", &sock)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "ssh-add {k}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    Agent { sock, pid, _dir: dir }
}

fn fingerprints(a: &Agent) -> Vec<String> {
    let o = Command::new("ssh-add")
        .args(["-l", "-E", "sha256"])
        .env("SSH_AUTH_SOCK", &a.sock)
        .output()
        .unwrap();
    stdout(&o)
        .lines()
        .map(|l| l.split_whitespace().nth(1).unwrap().to_string())
        .collect()
}

#[test]
fn ssh_agent_signs_rs256_es256_eddsa_and_refuses_ps256() {
    let a = agent(&["rsa2048.pkcs1.pem", "p256.sec1.pem"]);
    let fps = fingerprints(&a);
    let sb = Sandbox::new();
    let run = |spec: &str, alg: &str| {
        sb.signet()
            .env("SSH_AUTH_SOCK", &a.sock)
            .args([
                "assert",
                "--key",
                spec,
                "--alg",
                alg,
                "--client-id",
                "c",
                "--audience",
                "a",
            ])
            .output()
            .unwrap()
    };
    for (fp, alg, public) in [
        (&fps[0], "RS256", "rsa2048.pub.pem"),
        (&fps[0], "RS512", "rsa2048.pub.pem"),
        (&fps[1], "ES256", "p256.pub.pem"),
    ] {
        let o = run(&format!("ssh-agent:{fp}"), alg);
        assert!(o.status.success(), "{alg}: {}", stderr(&o));
        crate::assert::openssl_verify(&stdout(&o), &fixture(public));
    }
    // by comment (ssh-add records the file path)
    let comment = a._dir.path().join("p256.sec1.pem");
    let o = run(&format!("ssh-agent:{}", comment.display()), "ES256");
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&format!("ssh-agent:{}", fps[0]), "PS256");
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("cannot be signed through ssh-agent"),
        "{}",
        stderr(&o)
    );
    let o = run("ssh-agent:SHA256:notthere", "RS256");
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("holds no key"), "{}", stderr(&o));
    let o = sb
        .signet()
        .args([
            "assert",
            "--key",
            &format!("ssh-agent:{}", fps[0]),
            "--client-id",
            "c",
            "--audience",
            "a",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("SSH_AUTH_SOCK"), "{}", stderr(&o));
}

#[test]
fn ssh_agent_ed25519_key_exchanges_with_the_issuer() {
    // an Ed25519 key made by ssh-keygen (OpenSSH format), loaded into the agent
    let a = agent(&[]);
    let k = a._dir.path().join("id_ed25519");
    let o = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "ci-ed25519", "-f"])
        .arg(&k)
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(Command::new("ssh-add")
        .arg(&k)
        .env("SSH_AUTH_SOCK", &a.sock)
        .output()
        .unwrap()
        .status
        .success());
    let sb = Sandbox::new();
    let o = sb
        .signet()
        .env("SSH_AUTH_SOCK", &a.sock)
        .args(["jwk", "--key", "ssh-agent:ci-ed25519"])
        .output()
        .unwrap();
    // jwk takes files only: the public key comes from `assert`'s kid instead
    let _ = o;
    let o = sb
        .signet()
        .env("SSH_AUTH_SOCK", &a.sock)
        .args([
            "assert",
            "--key",
            "ssh-agent:ci-ed25519",
            "--client-id",
            "agent",
            "--audience",
            "a",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let jwt = stdout(&o);
    let d = decode(&jwt);
    assert_eq!(d.header["alg"], "EdDSA");
    // verify with the public key ssh-keygen wrote
    let pubtext = std::fs::read_to_string(k.with_extension("pub")).unwrap();
    use base64::Engine;
    let blob = base64::engine::general_purpose::STANDARD
        .decode(pubtext.split_whitespace().nth(1).unwrap())
        .unwrap();
    let x = &blob[blob.len() - 32..];
    let key = jsonwebtoken::DecodingKey::from_ed_components(&signet::b64::encode(x)).unwrap();
    let (msg, sig) = jwt.trim().rsplit_once('.').unwrap();
    assert!(jsonwebtoken::crypto::verify(sig, msg.as_bytes(), &key, jsonwebtoken::Algorithm::EdDSA).unwrap());
    assert_eq!(
        d.header["kid"],
        signet::key::PublicJwk::Okp { x: x.to_vec() }.thumbprint().as_str()
    );
}
