//! signet's integration tests: one binary, one module per area. Every network test talks to an
//! issuer on 127.0.0.1 started by the test itself.

// The disallowed methods (clippy.toml) are the library's rules: tests and benches read their
// fixtures and the process environment directly.
#![allow(clippy::disallowed_methods)]

#[path = "../common/mod.rs"]
mod common;

/// The token agent: exec --serve and serve, with the real SDKs and raw HTTP.
mod agent;
/// Key formats, algorithms, headers and claims; signatures checked by openssl.
mod assert;
/// Resource bounds on bad input: key derivation limits, devices, FIFOs, huge files.
mod bounds;
/// The cache: single flight, freshness, safety, outputs, exec.
mod cache;
/// Config file, profiles, layering, completions, verbose logs.
mod config;
/// `signet curl`, and the README's `exec` line run as pasted.
mod curl;
/// Keys on a PKCS#11 token (SoftHSM2) and in an ssh-agent.
mod custody;
/// DPoP (RFC 9449): oidc-provider's dPoP feature, proofs checked by a jose resource server.
mod dpop;
/// `--dry-run` and the requests `-v` shows.
mod dry_run;
/// Bad inputs: each with its exit code and one-line message.
mod errors;
/// Fault injection: broken answers, slow servers, TLS, unusable cache folders.
mod faults;
/// External assertions: workload identity federation.
mod federation;
/// What a new user types: spellings, errors naming who asked, passphrase-flag mistakes, Google's token_uri.
mod first_steps;
/// The shared cache on Redis (fleet).
mod fleet;
/// `--help` and the man pages.
mod help;
/// `signet inspect`.
mod inspect;
/// `signet issuer` as a process in a provider's mode.
mod issuer;
/// Nothing secret in any output.
mod leaks;
/// mTLS (RFC 8705): oidc-provider's mTLS feature over https with client certificates.
mod mtls;
/// Interop with oidc-provider, a real OpenID provider.
mod oidc;
/// Onboarding: jwk/jwks, check, certificate validity.
mod onboard;
/// The Debian package (cargo-deb).
mod package;
/// Property tests (proptest).
mod props;
/// Provider templates, each exchanged with the embedded issuer in that provider's mode.
mod templates;
/// `signet thumbprint` against openssl.
mod thumbprint;
/// `signet token`: grants, answers, failures, retries, clock skew.
mod token;
/// Published test vectors (RFC 7515, 7638, 8037).
mod vectors;
