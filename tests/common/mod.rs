//! Test helpers: a hermetic `signet` command, fixtures, and issuers trusting fixture keys.
#![allow(dead_code)]

use assert_cmd::Command;
use signet::issuer::{Client, Issuer, IssuerConfig};
use std::path::{Path, PathBuf};

pub const PASSPHRASE: &str = "signet-test-passphrase";

pub fn fixture(name: &str) -> PathBuf {
    private_fixture_modes();
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// git checks files out 0644; private keys are kept 0600 as a user would, so that signet's
/// "readable by others" warning appears only where a test asks for it.
fn private_fixture_modes() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use std::os::unix::fs::PermissionsExt;
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            let public = n.contains(".crt.")
                || n.contains(".pub.")
                || n.ends_with(".md")
                || n.ends_with(".sh")
                || n == "thumbprints.txt";
            if !public {
                let _ = std::fs::set_permissions(e.path(), std::fs::Permissions::from_mode(0o600));
            }
        }
    });
}

pub fn fixture_str(name: &str) -> String {
    fixture(name).to_string_lossy().into_owned()
}

/// A private HOME with its own cache and config folders.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::Builder::new().prefix("signet-test-").tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    /// The one cache entry in the sandbox's cache folder.
    pub fn entry_file(&self) -> PathBuf {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.cache_dir())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        assert_eq!(v.len(), 1, "{v:?}");
        v.remove(0)
    }

    /// `signet` with every SIGNET_* variable removed and HOME/XDG folders inside the sandbox.
    /// SIGNET_TEST_BIN runs the suite against another build (`make test-release`: the static one).
    // The harness's own setting, not one signet reads: it does not go through signet's Env.
    #[allow(clippy::disallowed_methods)]
    pub fn signet(&self) -> Command {
        let mut c = match std::env::var_os("SIGNET_TEST_BIN") {
            Some(bin) => Command::new(bin),
            None => Command::cargo_bin("signet").unwrap(),
        };
        for v in signet::env::EnvVars::ALL {
            c.env_remove(v);
        }
        for v in [
            "GITHUB_ACTIONS",
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "ALL_PROXY",
            "all_proxy",
        ] {
            c.env_remove(v);
        }
        c.env("HOME", self.path())
            .env("XDG_CACHE_HOME", self.path().join("xdg-cache"))
            .env("XDG_CONFIG_HOME", self.path().join("xdg-config"))
            .env("SIGNET_CACHE_DIR", self.cache_dir())
            .env("NO_PROXY", "127.0.0.1,localhost");
        c
    }

    /// `signet token --key <fixture key> --client-id <client_id> --token-url <token_url>`; each
    /// test adds its own flags.
    pub fn token_cmd(&self, key: &str, client_id: &str, token_url: &str) -> Command {
        let mut c = self.signet();
        c.args([
            "token",
            "--key",
            &fixture_str(key),
            "--client-id",
            client_id,
            "--token-url",
            token_url,
        ]);
        c
    }

    /// Copies a fixture into the sandbox with the given mode (keys checked for permissions).
    pub fn copy(&self, name: &str, mode: u32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let to = self.path().join(name);
        std::fs::copy(fixture(name), &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(mode)).unwrap();
        to
    }
}

pub fn load(key: &str, cert: Option<&str>, pass: Option<&str>) -> signet::KeyBundle {
    let p = pass.map(|p| signet::Secret::new(p.to_string()));
    signet::key::load_bundle(&fixture(key), p.as_ref(), cert.map(fixture).as_deref()).unwrap()
}

/// An issuer trusting `key` (+ `cert`) for client `client_id`.
pub fn issuer_trusting(client_id: &str, key: &str, cert: Option<&str>) -> Issuer {
    issuer_with(client_id, key, cert, |_| {})
}

pub fn issuer_with(client_id: &str, key: &str, cert: Option<&str>, f: impl FnOnce(&mut IssuerConfig)) -> Issuer {
    let pass = if key.contains(".enc") || key.ends_with(".pfx") {
        Some(PASSPHRASE)
    } else {
        None
    };
    let b = load(key, cert, pass);
    let mut cfg = IssuerConfig {
        clients: vec![Client::from_bundle(client_id, &b, None)],
        ..Default::default()
    };
    f(&mut cfg);
    Issuer::start(cfg).unwrap()
}

pub fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Decodes a JWT's header and claims (no verification).
pub fn decode(jwt: &str) -> signet::inspect::Decoded {
    signet::inspect::dangerous::decode_unverified(jwt.trim()).unwrap()
}

/// Runs openssl; panics with its stderr on failure.
pub fn openssl(args: &[&str]) -> String {
    let o = std::process::Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl runs");
    assert!(
        o.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The PEM text of every private key fixture (leak tests grep for their lines).
pub fn secret_markers() -> Vec<String> {
    let mut out = vec![PASSPHRASE.to_string()];
    for name in [
        "rsa2048.pkcs8.pem",
        "rsa2048.pkcs1.pem",
        "p256.pkcs8.pem",
        "ed25519.pkcs8.pem",
        "p384.pkcs8.pem",
    ] {
        if let Ok(t) = std::fs::read_to_string(fixture(name)) {
            out.extend(
                t.lines()
                    .filter(|l| !l.starts_with("-----") && l.len() > 20)
                    .map(String::from),
            );
        }
    }
    out
}

/// Asserts that no secret marker (nor any of `extra`) appears in `text`.
pub fn assert_no_secrets(text: &str, extra: &[&str]) {
    for m in secret_markers().iter().map(String::as_str).chain(extra.iter().copied()) {
        if m.len() >= 8 {
            assert!(!text.contains(m), "secret material leaked into output: {text}");
        }
    }
}

/// An assert_cmd command as a std one (same program, arguments and environment), for a test
/// that sets up the child's descriptors itself.
pub fn std_command(c: &Command) -> std::process::Command {
    let mut p = std::process::Command::new(c.get_program());
    for (k, v) in c.get_envs() {
        match v {
            Some(v) => p.env(k, v),
            None => p.env_remove(k),
        };
    }
    p.args(c.get_args());
    p
}

/// Starts an assert_cmd command as a child process, its stderr piped.
pub fn spawn(c: &Command, stdout: std::process::Stdio) -> std::process::Child {
    std_command(c)
        .stdout(stdout)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// The one cache entry in the sandbox's cache folder.
pub fn entry_file(sb: &Sandbox) -> PathBuf {
    sb.entry_file()
}

/// Polls `ready` every 10 ms until it holds (true) or `limit` has passed (false).
pub fn wait_for(limit: std::time::Duration, mut ready: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    loop {
        if ready() {
            return true;
        }
        if start.elapsed() >= limit {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// A port on 127.0.0.1 where nothing listens, for as long as this lives: a socket bound to it that
/// never listens, so a connection is refused and no server of another test can take the port
/// (a released port may be handed to the next bind).
pub struct RefusedPort {
    fd: libc::c_int,
    pub port: u16,
}

impl Drop for RefusedPort {
    fn drop(&mut self) {
        // SAFETY: the socket this struct owns.
        unsafe { libc::close(self.fd) };
    }
}

pub fn refused_port() -> RefusedPort {
    // SAFETY: a new socket, bound and named through sockaddr_in values that live on this stack.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let mut a: libc::sockaddr_in = std::mem::zeroed();
        a.sin_family = libc::AF_INET as libc::sa_family_t;
        a.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
        let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let p = &mut a as *mut libc::sockaddr_in as *mut libc::sockaddr;
        assert_eq!(libc::bind(fd, p, len), 0, "bind: {}", std::io::Error::last_os_error());
        assert_eq!(libc::getsockname(fd, p, &mut len), 0);
        RefusedPort {
            fd,
            port: u16::from_be(a.sin_port),
        }
    }
}

/// An issuer in a provider's mode, trusting `key` (+ `cert`) for `client_id`.
pub fn provider(
    name: &str,
    vars: &[(&str, &str)],
    client_id: &str,
    key: &str,
    cert: Option<&str>,
    f: impl FnOnce(&mut IssuerConfig),
) -> Issuer {
    let t = signet::template::load(name).unwrap();
    let given: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let vars = t.check_vars(&given).unwrap();
    let b = load(key, cert, None);
    let mut cfg = IssuerConfig::for_template(&t, &vars, vec![Client::from_bundle(client_id, &b, None)]);
    f(&mut cfg);
    Issuer::start(cfg).unwrap()
}

/// A child process (a server a test started) killed and reaped when dropped, so that no test
/// leaves one running, whichever way it ends.
pub struct Reaped(pub std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl std::ops::Deref for Reaped {
    type Target = std::process::Child;
    fn deref(&self) -> &std::process::Child {
        &self.0
    }
}

impl std::ops::DerefMut for Reaped {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        &mut self.0
    }
}
