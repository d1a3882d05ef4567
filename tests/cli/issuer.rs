//! `signet issuer` as a process in a provider's mode (issue 20, item 4): it refuses what the
//! provider refuses (1E: a kid in another form than the thumbprint it maps, a wrong
//! X-Tachyon-Consumer), and `-v` logs each request without a token or assertion.

use crate::common::*;
use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;

const KEY: &str = "rsa2048.pkcs8.pem";
const CERT: &str = "rsa2048.crt.pem";
const AUD: &str = "https://idp.example.com/token";

/// A running `signet -v issuer …`; killed when dropped.
struct IssuerProcess {
    child: Reaped,
    base_url: String,
}

impl IssuerProcess {
    /// Starts it and waits for its `READY <token URL>` line.
    fn start(sb: &Sandbox, args: &[&str]) -> IssuerProcess {
        let mut c = sb.signet();
        c.args(["-v", "issuer"]).args(args);
        let mut child = spawn(&c, Stdio::piped());
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("not ready: {line}"))
            .trim();
        let base_url = url.strip_suffix("/token").unwrap().to_string();
        IssuerProcess {
            child: Reaped(child),
            base_url,
        }
    }

    /// Stops it and returns what it logged.
    fn log(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut s = String::new();
        self.child.stderr.take().unwrap().read_to_string(&mut s).unwrap();
        s
    }
}

/// The 1E issuer: trusts the fixture certificate for `1e-app`, consumer `nightly`.
fn one_e(sb: &Sandbox, extra: &[&str]) -> IssuerProcess {
    let mut a = vec!["--client-id", "1e-app", "--template", "1e"];
    let cert = fixture_str(CERT);
    a.extend(["--trust", &cert]);
    a.extend(["--var", "api_root=https://tachyon.example.com/Tachyon/api"]);
    a.extend([
        "--var",
        "audience=https://idp.example.com/token",
        "--var",
        "consumer=nightly",
    ]);
    a.extend(extra);
    IssuerProcess::start(sb, &a)
}

/// `signet token --template 1e` at the issuer, with `extra` flags.
fn token(sb: &Sandbox, iss: &IssuerProcess, extra: &[&str]) -> std::process::Output {
    sb.signet()
        .args(["token", "--no-cache", "--template", "1e", "--client-id", "1e-app"])
        .args(["--key", &fixture_str(KEY), "--cert", &fixture_str(CERT)])
        .arg("--var")
        .arg(format!("api_root={}/Tachyon/api", iss.base_url))
        .args(["--var", &format!("audience={AUD}")])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn the_1e_issuer_refuses_other_kid_forms_and_other_consumers_and_logs_each_request() {
    let sb = Sandbox::new();
    let iss = one_e(&sb, &[]);
    let ok = token(&sb, &iss, &["--var", "consumer=nightly"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let issued = stdout(&ok);
    for rule in ["x5t", "jwk"] {
        let o = token(&sb, &iss, &["--var", "consumer=nightly", "--kid-from", rule]);
        assert_eq!(o.status.code(), Some(4), "{rule}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("the key's {rule} id")) && stderr(&o).contains("hex-sha1"),
            "{rule}: {}",
            stderr(&o)
        );
    }
    let o = token(&sb, &iss, &["--var", "consumer=someone-else"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("x-tachyon-consumer 'someone-else'"),
        "{}",
        stderr(&o)
    );
    let log = iss.log();
    let path = "/Tachyon/api/Authentication/RequestJwtAuthentication";
    assert!(log.contains(&format!("POST {path} -> 200 token issued")), "{log}");
    assert!(
        log.contains(&format!("POST {path} -> 401 invalid_client: kid")),
        "{log}"
    );
    assert!(log.contains(&format!("POST {path} -> 400 invalid_request")), "{log}");
    assert!(!log.contains("eyJ"), "no token or assertion in the log: {log}");
    assert!(!log.contains(issued.trim()));
}

#[test]
fn the_1e_issuer_follows_the_kid_format_it_is_given() {
    let sb = Sandbox::new();
    let iss = one_e(&sb, &["--var", "kid_format=x5t"]);
    let o = token(&sb, &iss, &["--var", "consumer=nightly", "--var", "kid_format=x5t"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = token(&sb, &iss, &["--var", "consumer=nightly"]);
    assert_eq!(o.status.code(), Some(4), "the hex form is refused now: {}", stderr(&o));
}
