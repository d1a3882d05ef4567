//! # signet
//!
//! Headless authentication with signed JWT client assertions. signet loads a private key (PEM,
//! encrypted PKCS#8, PKCS#12/PFX, or a Google service-account file), signs a short-lived client
//! assertion whose `kid` names the key the way the provider expects, exchanges it at a token
//! endpoint (RFC 7523 client credentials, JWT-bearer, or a bearer header), and caches the token.
//!
//! A token, cached: a [`TokenPlan`] from settings (here given by the program; the binary resolves
//! flags, environment, profile and template into the same [`config::Settings`]), and a
//! [`Client`] that serves it from the cache when fresh, else signs, exchanges and stores.
//!
//! ```
//! # let dir = env!("CARGO_MANIFEST_DIR");
//! # let issuer = signet::issuer::Issuer::start(signet::issuer::IssuerConfig {
//! #     clients: vec![signet::issuer::Client::from_certificate("my-client",
//! #         &signet::key::parse_certificates(&std::fs::read(format!("{dir}/tests/fixtures/rsa2048.crt.pem"))?)?[0]).ok_or("no key")?],
//! #     ..Default::default() })?;
//! # let token_url = issuer.token_url().to_string();
//! # let cache = tempfile::tempdir()?;
//! use signet::config::{Key, Settings};
//! use signet::{Client, TokenPlan};
//!
//! let settings = Settings::from_values([
//!     (Key::Key, format!("{dir}/tests/fixtures/rsa2048.pkcs8.pem")),
//!     (Key::Cert, format!("{dir}/tests/fixtures/rsa2048.crt.pem")),
//!     (Key::ClientId, "my-client".into()),
//!     (Key::TokenUrl, token_url),
//!     (Key::CacheDir, cache.path().display().to_string()),
//! ]);
//! let plan = TokenPlan::from_settings(&settings, &signet::env::Env::default(), None)?;
//! let client = Client::new().on_warning(|w| eprintln!("warning: {w}"));
//!
//! let first = client.get_token(&plan)?;
//! let again = client.get_token(&plan)?;
//! assert!(!first.from_cache && again.from_cache);
//! assert_eq!(first.token.access_token.expose(), again.token.access_token.expose());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! With the `serve` feature, the `agent` module serves such plans' tokens to unmodified SDKs over a loopback
//! port or a unix socket (Azure's managed-identity and Google's metadata-server protocols), as
//! `signet serve` and `signet exec --serve` do.
//!
//! The pieces are usable on their own:
//!
//! ```
//! use signet::assertion::{Claims, HeaderOptions, Signer};
//! # let dir = env!("CARGO_MANIFEST_DIR");
//! // 1. load a key (and the certificate that comes with it)
//! let bundle = signet::key::load_bundle(format!("{dir}/tests/fixtures/rsa2048.pkcs8.pem").as_ref(),
//!     None, Some(format!("{dir}/tests/fixtures/rsa2048.crt.pem").as_ref()))?;
//! // 2. a signer: kid = the certificate's SHA-1 thumbprint, as Windows shows it
//! let signer = Signer::new(bundle, None, &HeaderOptions::default())?;
//! assert_eq!(signer.kid().unwrap().len(), 40);
//! // 3. an assertion
//! let jwt = signer.sign(&Claims::new("client-1", "https://idp.example/token"), signet::clock::now())?;
//! let decoded = signet::inspect::dangerous::decode_unverified(jwt.expose())?;
//! assert_eq!(decoded.claims["aud"], "https://idp.example/token");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
// Errors carry the context a user needs (URL, status, OAuth error, hint) and are built once per
// failed command, off every hot path: their size does not matter, their text does.
#![allow(clippy::result_large_err)]

// The token agent brings hyper's server half and tokio's sockets, which the core does not need.
#[cfg(feature = "serve")]
pub mod agent;
pub mod alg;
mod alloc;
pub mod assertion;
pub mod b64;
pub mod cache;
mod category;
pub mod clock;
pub mod config;
pub mod dpop;
pub mod dry_run;
pub mod env;
mod error;
pub mod exchange;
pub mod files;
mod flow;
pub mod grant;
pub mod inspect;
// The test issuer brings tiny_http and jsonwebtoken, which nothing else in the library needs.
#[cfg(feature = "issuer")]
pub mod issuer;
pub mod key;
mod mtls;
mod plan;
pub mod resolve;
pub mod secret;
pub mod template;
pub mod text;
pub mod token;
mod warning;

// The library's face: the token flow's types at the root (their modules are private); the
// layers below stay modules of their own, for programs that use one piece (keys, assertions,
// the cache, the settings).
pub use alg::{Alg, KeyType};
pub use alloc::ZeroizeOnFree;
pub use assertion::{Claims, HeaderOptions, KidFrom, Signer};
pub use category::Category;
pub use dry_run::DryRun;
pub use error::Error;
pub use flow::{Client, Served};
pub use key::{KeyBundle, SigningKey};
pub use plan::{CachePlan, External, Passphrase, TokenPlan};
pub use secret::Secret;
pub use warning::{Warning, WarningKind, WarningSink};

/// signet's version, as `--version` and the `User-Agent` show it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
