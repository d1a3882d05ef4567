//! The token agent: a local token endpoint that unmodified SDKs get their tokens from, in the
//! protocols they already speak (Azure's App Service managed identity, Google's Compute Engine
//! metadata server). It is a second caller of the library's flow: every token comes through
//! [`Client::get_token`] with the same cache and cache identity as `signet token`.
//!
//! [`Agent::start`] binds a loopback port or a unix socket and serves on a tokio runtime of its
//! own until [`Running::stop`]; `signet exec --serve` and `signet serve` are its two callers.
//!
//! ```no_run
//! # fn f(plan: signet::TokenPlan) -> Result<(), signet::Error> {
//! use signet::agent::{Agent, AgentConfig, Listen, Protocol};
//! let cfg = AgentConfig::new(vec![Protocol::Azure], signet::agent::random_secret()?);
//! let running = Agent::start(plan, signet::Client::new(), cfg, &"127.0.0.1:0".parse::<Listen>()?)?;
//! for (k, v) in running.client_env() {
//!     println!("{k}={}", v.expose());
//! }
//! running.stop();
//! # Ok(()) }
//! ```

mod azure;
mod error;
mod gce;
mod http;
mod listen;
mod metrics;
mod tokens;

pub use error::AgentError;
pub use listen::Listen;

use crate::clock::{Clock, SystemClock};
use crate::secret::Secret;
use crate::warning::WarningSink;
use crate::{Client, TokenPlan};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The path of the App Service endpoint (`IDENTITY_ENDPOINT` names it).
pub const AZURE_PATH: &str = "/msi/token";

/// How often the refresher looks for tokens due.
const REFRESH_TICK: Duration = Duration::from_millis(500);

/// A protocol the agent speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// Azure App Service managed identity (`IDENTITY_ENDPOINT`, `IDENTITY_HEADER`).
    Azure,
    /// The Compute Engine metadata server (`GCE_METADATA_HOST`, `GCE_METADATA_IP`); no secret.
    Gce,
}

impl std::str::FromStr for Protocol {
    type Err = AgentError;
    fn from_str(s: &str) -> Result<Protocol, AgentError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "azure" => Ok(Protocol::Azure),
            "gce" => Ok(Protocol::Gce),
            other => Err(AgentError::UnknownProtocol {
                given: crate::text::sanitize(other, 40),
            }),
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Protocol::Azure => "azure",
            Protocol::Gce => "gce",
        })
    }
}

impl Protocol {
    /// The protocols settings can serve when none is asked for: Google's metadata protocol for a
    /// Google template (its tokens are for Google APIs), Azure's otherwise (any provider's token
    /// for a resource's `/.default` scope). The metadata protocol has no secret, so it is never
    /// the default for settings that are not Google's.
    pub fn defaults_for(plan: &TokenPlan) -> Vec<Protocol> {
        match &plan.template {
            Some(t) if t.name.starts_with("google") => vec![Protocol::Gce],
            _ => vec![Protocol::Azure],
        }
    }
}

/// A fresh random secret: 32 bytes from the system's generator, base64url.
pub fn random_secret() -> Result<Secret<String>, crate::Error> {
    let mut b = [0u8; 32];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| AgentError::Random)?;
    Ok(Secret::new(crate::b64::encode(b)))
}

/// How the agent serves.
pub struct AgentConfig {
    /// The protocols it speaks.
    pub protocols: Vec<Protocol>,
    /// The secret callers of a protocol that has one must send.
    pub secret: Secret<String>,
    /// One log line per request (tracing, at info level): method, path, status, identity, time.
    pub access_log: bool,
    /// Where warnings go (a failed refresh that keeps serving the current token).
    pub warn: WarningSink,
}

impl AgentConfig {
    /// `protocols` with `secret`, no access log, warnings dropped.
    pub fn new(protocols: Vec<Protocol>, secret: Secret<String>) -> AgentConfig {
        AgentConfig {
            protocols,
            secret,
            access_log: false,
            warn: Arc::new(|_: &crate::Warning| {}),
        }
    }
}

/// What every request handler sees.
pub(crate) struct Shared {
    tokens: Arc<tokens::Tokens>,
    protocols: Vec<Protocol>,
    secret: Secret<String>,
    access_log: bool,
    client_id: Option<String>,
    gce: gce::Info,
}

impl Shared {
    /// The secret header `name` holds the secret, compared in constant time.
    fn secret_ok(&self, req: &hyper::Request<hyper::body::Incoming>, name: &str) -> bool {
        req.headers().get(name).is_some_and(|v| {
            aws_lc_rs::constant_time::verify_slices_are_equal(v.as_bytes(), self.secret.expose().as_bytes()).is_ok()
        })
    }
}

/// A bound listener.
enum Listener {
    Tcp(tokio::net::TcpListener),
    Unix(tokio::net::UnixListener),
}

/// An accepted connection.
enum Stream {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

impl Listener {
    async fn accept(&self) -> std::io::Result<Stream> {
        match self {
            Listener::Tcp(l) => l.accept().await.map(|(s, _)| Stream::Tcp(s)),
            Listener::Unix(l) => l.accept().await.map(|(s, _)| Stream::Unix(s)),
        }
    }
}

/// Where a running agent listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bound {
    /// A loopback address (the port chosen when 0 was asked for).
    Tcp(SocketAddr),
    /// A unix socket.
    Unix(PathBuf),
}

/// The agent.
pub struct Agent;

/// A running agent; [`Running::stop`] ends it (dropping it does too).
pub struct Running {
    bound: Bound,
    protocols: Vec<Protocol>,
    secret: Secret<String>,
    stop: tokio::sync::watch::Sender<bool>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Agent {
    /// Binds `listen` and serves `plan`'s tokens (its scopes replaced by each caller's) through
    /// `client`, on a runtime of its own, until stopped. Fails on an address that is not
    /// loopback-only or cannot be bound (a usage error: exit 2).
    pub fn start(plan: TokenPlan, client: Client, cfg: AgentConfig, listen: &Listen) -> Result<Running, crate::Error> {
        if cfg.protocols.is_empty() {
            return Err(AgentError::NoProtocol.into());
        }
        // The SDKs these protocols serve send a bearer token; a DPoP-bound one is useless to
        // them without a proof per request, which they cannot ask signet for.
        if plan.dpop().is_some() {
            return Err(AgentError::Dpop.into());
        }
        // What would fail every request fails here instead, with its exit code: no token URL, a
        // key that cannot be read or decrypted.
        if plan.grant != crate::grant::Grant::SelfSigned {
            plan.token_url()?;
        }
        if plan.external.is_none() {
            client.signer(&plan)?;
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("signet-agent")
            .build()
            .map_err(|e| AgentError::Runtime {
                what: "cannot start the agent",
                reason: e.to_string(),
            })?;
        let (listener, bound) = {
            let _in = runtime.enter();
            bind(listen)?
        };
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let gce = gce::Info::new(
            plan.client_id.as_deref(),
            match &plan.key {
                Some(crate::key::KeySpec::File(p)) => Some(p.as_path()),
                _ => None,
            },
        );
        let shared = Arc::new(Shared {
            client_id: plan.client_id.clone().or_else(|| gce.email.clone()),
            gce,
            tokens: Arc::new(tokens::Tokens::new(plan, Arc::new(client), clock, cfg.warn.clone())),
            protocols: cfg.protocols.clone(),
            secret: cfg.secret.clone(),
            access_log: cfg.access_log,
        });
        let (stop, stopped) = tokio::sync::watch::channel(false);
        runtime.spawn(http::accept_loop(listener, shared.clone(), stopped.clone()));
        let tokens = shared.tokens.clone();
        let mut stopped_r = stopped;
        runtime.spawn(async move {
            let mut tick = tokio::time::interval(REFRESH_TICK);
            loop {
                tokio::select! {
                    _ = tick.tick() => tokens.refresh_due(),
                    _ = stopped_r.changed() => return,
                }
            }
        });
        Ok(Running {
            bound,
            protocols: cfg.protocols,
            secret: cfg.secret,
            stop,
            runtime: Some(runtime),
        })
    }
}

fn bind(listen: &Listen) -> Result<(Listener, Bound), crate::Error> {
    match listen {
        Listen::Tcp(addr) => {
            // A backlog of 1024 (std's is 128): a burst of connections beyond the ones served at
            // once waits in the kernel's queue instead of retrying its handshake seconds later.
            let bound = || -> std::io::Result<(tokio::net::TcpListener, SocketAddr)> {
                let socket = match addr {
                    SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
                    SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
                };
                socket.bind(*addr)?;
                let l = socket.listen(1024)?;
                let a = l.local_addr()?;
                Ok((l, a))
            };
            bound().map(|(l, a)| (Listener::Tcp(l), Bound::Tcp(a))).map_err(|e| {
                AgentError::Bind {
                    address: addr.to_string(),
                    reason: crate::text::io_reason(&e),
                }
                .into()
            })
        }
        Listen::Unix(path) => {
            let std = listen::bind_unix(path)?;
            std.set_nonblocking(true)
                .and_then(|_| tokio::net::UnixListener::from_std(std))
                .map(|l| (Listener::Unix(l), Bound::Unix(path.clone())))
                .map_err(|e| {
                    AgentError::Bind {
                        address: format!("unix:{}", path.display()),
                        reason: crate::text::io_reason(&e),
                    }
                    .into()
                })
        }
    }
}

impl Running {
    /// Where it listens.
    pub fn bound(&self) -> &Bound {
        &self.bound
    }

    /// The protocols it speaks.
    pub fn protocols(&self) -> &[Protocol] {
        &self.protocols
    }

    /// The environment a client needs, per protocol: `IDENTITY_ENDPOINT` and `IDENTITY_HEADER`
    /// (the secret) for azure; `GCE_METADATA_HOST` and `GCE_METADATA_IP` for gce. A unix socket
    /// has no URL an SDK understands: `SIGNET_AGENT_SOCKET` names it, and `IDENTITY_HEADER` is
    /// the secret for a client that speaks HTTP over it (`curl --unix-socket`).
    pub fn client_env(&self) -> Vec<(&'static str, Secret<String>)> {
        let plain = |s: String| Secret::new(s);
        let mut v = vec![];
        match &self.bound {
            Bound::Tcp(a) => {
                for p in &self.protocols {
                    match p {
                        Protocol::Azure => {
                            v.push(("IDENTITY_ENDPOINT", plain(format!("http://{a}{AZURE_PATH}"))));
                            v.push(("IDENTITY_HEADER", self.secret.clone()));
                        }
                        Protocol::Gce => {
                            v.push(("GCE_METADATA_HOST", plain(a.to_string())));
                            v.push(("GCE_METADATA_IP", plain(a.to_string())));
                        }
                    }
                }
            }
            Bound::Unix(p) => {
                v.push(("SIGNET_AGENT_SOCKET", plain(p.display().to_string())));
                if self.protocols.contains(&Protocol::Azure) {
                    v.push(("IDENTITY_HEADER", self.secret.clone()));
                }
            }
        }
        v
    }

    /// Stops accepting, lets requests in flight finish (up to 2 s), and removes a unix socket.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = self.stop.send(true);
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(2));
        }
        if let Bound::Unix(p) = &self.bound {
            let _ = std::fs::remove_file(p);
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.runtime.is_some() {
            self.shutdown();
        }
    }
}
