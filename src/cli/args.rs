//! The command line, as plain data (clap derive). Values are resolved with the environment,
//! profile and template in `signet::config`, so every flag here is optional.

use super::output::Format;
use clap::{Args, FromArgMatches, Parser, Subcommand};
// Help texts, environment variables and defaults of the settings come from the settings table.
use signet::config::{flag_help, Key};
use signet::env::EnvVars;
use std::ffi::OsString;
use std::path::PathBuf;

/// The common lines of `token`, `assert` and `dpop proof` are read without clap
/// ([`super::fast_args`]); everything else, help and mistakes included, by clap's whole command.
pub fn parse_from(args: Vec<OsString>) -> Result<Cli, clap::Error> {
    if let Some(cli) = super::fast_args::parse(&args) {
        return Ok(cli);
    }
    // Dropping the command's ~250 argument definitions cost more than a third of `signet
    // --version` (the wipe-on-free allocator wipes every block; callgrind, docs/BENCHMARKS.md).
    // It holds no secret: flag values live in the matches, which are freed (and wiped) as usual.
    // `_mut` takes the values out of the matches: `from_arg_matches` would clone them all first.
    let mut full = command();
    let parsed = full
        .try_get_matches_from_mut(args)
        .and_then(|mut m| Cli::from_arg_matches_mut(&mut m));
    std::mem::forget(full);
    parsed
}

/// The whole command as help, the man pages and completions show it: the derived one, with the
/// flags `assert` shares with `token` but does not use hidden from `assert` ([`NOT_FOR_ASSERT`]).
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command().mut_subcommand("assert", |c| {
        NOT_FOR_ASSERT.iter().fold(c, |c, id| c.mut_arg(*id, |a| a.hide(true)))
    })
}

/// `assert` signs and sends nothing, so of the exchange flags only `--token-url` (the default
/// audience) and `--scope` (a template may put scopes in the assertion, as Google's do) change
/// what it prints; the cache flags and the external-assertion flags change nothing. They stay
/// accepted, so that one set of flags kept for `token` still works with `assert` (and parsing is
/// what it was), but `assert --help`, its man page and its completions do not list them.
const NOT_FOR_ASSERT: &[&str] = &[
    "grant",
    "param",
    "token_path",
    "request_header",
    "default_ttl",
    "timeout",
    "retries",
    "ca_file",
    "cache_dir",
    "cache_url",
    "cache_key_file",
    "no_cache",
    "force_refresh",
    "min_ttl",
    "assertion_file",
    "assertion_from",
    "assertion_env",
    "dpop",
    "dpop_key",
    "mtls",
    "client_auth",
];

/// Help headings: each command's options are grouped by what they are about. A struct's
/// `next_help_heading` names the group its fields fall into unless a field names another (new
/// fields land in the struct's group); a command's own fields after a flattened struct name
/// theirs, since clap keeps the last group for what follows.
const KEY: &str = "Key";
/// See [`KEY`].
const CACHE: &str = "Cache";
/// See [`KEY`].
const OUTPUT: &str = "Output";
/// See [`KEY`]: DPoP and mTLS.
const SENDER: &str = "Sender-constrained tokens";

#[derive(Parser, Debug)]
#[command(
    name = "signet",
    version,
    about = "Headless authentication with signed JWT client assertions: sign, exchange, cache.",
    long_about = None,
    after_help = "Exit codes: 0 ok, 2 usage/config, 3 key/certificate, 4 endpoint refused, 5 exchange failed.\n\
        A setting comes from its flag, else its environment variable (shown as [env: …] where it has one), \
        else the config profile, else the template, else its default.\n\
        Docs: README.md; a man page per command (man signet-token, man signet-cache-list)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// The flags every command takes, before or after its name.
#[derive(Args, Debug)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// More logging on stderr (-v steps, -vv details); secrets are always redacted
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// No warnings
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[arg(long, global = true, value_name = "PATH", help = flag_help(
        "Config file (default: ~/.config/signet/config.toml)", Some(EnvVars::CONFIG), None))]
    pub config: Option<PathBuf>,
    #[arg(long, global = true, value_name = "NAME", help = flag_help(
        "Profile in the config file (default: 'default' when it exists)", Some(EnvVars::PROFILE), None))]
    pub profile: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print a signed client assertion and a newline
    Assert(AssertArgs),
    /// Print an access token (from the cache when fresh)
    Token(TokenArgs),
    /// Run a command with the token in an environment variable
    #[command(after_help = EXEC_AFTER_HELP)]
    Exec(ExecArgs),
    /// Serve tokens to SDKs on a loopback port or a unix socket (the token agent) until stopped
    Serve(ServeArgs),
    /// Run curl with the token's header read from a pipe (never in curl's argv or environment)
    Curl(CurlArgs),
    /// DPoP (RFC 9449) proofs for requests that carry a DPoP-bound token
    #[command(subcommand)]
    Dpop(DpopCommand),
    /// Decode a JWT's header and claims without verifying it
    Inspect(InspectArgs),
    /// Print a certificate's ids (thumbprints) the way providers ask for them
    Thumbprint(ThumbprintArgs),
    /// List, clear or locate cached tokens
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Provider templates
    #[command(subcommand)]
    Templates(TemplatesCommand),
    /// Show resolved settings and where each came from
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print a shell completion script
    Completions {
        /// bash, zsh, fish or powershell
        shell: clap_complete::Shell,
    },
    /// Run the whole flow against an embedded loopback issuer with a generated key
    Demo,
    /// Make a private key and a self-signed certificate, and print every id a provider may ask for
    Keygen(KeygenArgs),
    /// Print the public JWK of a key or certificate (what Okta, Auth0, Keycloak register)
    Jwk(JwkArgs),
    /// Print a JWKS of one or more keys or certificates (rotation: give several)
    Jwks(JwkArgs),
    /// Check a key, its certificate, algorithm and template limits, and sign a test assertion (exit 0 or 3)
    Check(CheckArgs),
    /// Run the embedded issuer on 127.0.0.1 (for offline tests of your own setup) until killed
    Issuer(IssuerArgs),
    /// Print the man page (roff) on stdout, or write one page per command into --dir
    /// (`make man`: target/man/signet.1, signet-token.1, …)
    #[command(hide = true)]
    Manpage(ManpageArgs),
}

#[derive(Args, Debug)]
pub struct ManpageArgs {
    /// Write signet.1 and a page per command (signet-token.1, signet-cache-list.1, …) into DIR
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// The shell expands `$SIGNET_TOKEN` before signet runs (to nothing): say how to pass it on.
const EXEC_AFTER_HELP: &str = "The shell you type the command in expands $SIGNET_TOKEN before signet runs, when it is \
still unset. A command line that needs the token goes through sh -c, in single quotes:\n  \
signet exec … -- sh -c 'printf \"Authorization: Bearer %s\\n\" \"$SIGNET_TOKEN\" | curl -H @- https://api.example.com/'\n\
(printf is the shell's own, so the token is in no process's arguments). For curl, signet curl --url URL does this.";

#[derive(Args, Debug, Default, Clone)]
#[command(next_help_heading = "Assertion")]
pub struct SigningArgs {
    #[arg(help_heading = KEY)]
    #[arg(long, value_name = Key::Key.value_name(), help = Key::Key.help())]
    pub key: Vec<String>,
    #[arg(help_heading = KEY)]
    #[arg(long, value_name = Key::KeyPassphraseFile.value_name(), help = Key::KeyPassphraseFile.help())]
    pub key_passphrase_file: Option<PathBuf>,
    #[arg(help_heading = KEY)]
    #[arg(long, value_name = Key::Cert.value_name(), help = Key::Cert.help())]
    pub cert: Vec<PathBuf>,
    #[arg(help_heading = KEY)]
    #[arg(long, value_name = Key::Kid.value_name(), help = Key::Kid.help())]
    pub kid: Option<String>,
    #[arg(help_heading = KEY)]
    #[arg(long, value_name = Key::KidFrom.value_name(), help = Key::KidFrom.help())]
    pub kid_from: Option<String>,
    #[arg(help_heading = KEY)]
    #[arg(long, help = Key::X5t.help())]
    pub x5t: bool,
    #[arg(help_heading = KEY)]
    #[arg(long, help = Key::X5tS256.help())]
    pub x5t_s256: bool,
    #[arg(help_heading = KEY)]
    #[arg(long, help = Key::X5c.help())]
    pub x5c: bool,
    #[arg(help_heading = KEY)]
    #[arg(long, value_name = Key::Alg.value_name(), help = Key::Alg.help())]
    pub alg: Option<String>,
    #[arg(long, value_name = Key::ClientId.value_name(), help = Key::ClientId.help())]
    pub client_id: Option<String>,
    #[arg(long, value_name = Key::Issuer.value_name(), help = Key::Issuer.help())]
    pub issuer: Option<String>,
    #[arg(long, value_name = Key::Subject.value_name(), help = Key::Subject.help())]
    pub subject: Option<String>,
    #[arg(long, value_name = Key::Audience.value_name(), help = Key::Audience.help())]
    pub audience: Option<String>,
    #[arg(long, value_name = Key::Lifetime.value_name(), help = Key::Lifetime.help())]
    pub lifetime: Option<String>,
    #[arg(long, value_name = Key::Claim.value_name(), help = Key::Claim.help())]
    pub claim: Vec<String>,
    #[arg(long, help = Key::NoNbf.help())]
    pub no_nbf: bool,
    #[arg(long, value_name = Key::WarnExpiry.value_name(), help = Key::WarnExpiry.help())]
    pub warn_expiry: Option<String>,
    #[arg(long, value_name = Key::Template.value_name(), help = Key::Template.help())]
    pub template: Option<String>,
    #[arg(long, value_name = Key::Var.value_name(), help = Key::Var.help())]
    pub var: Vec<String>,
    #[arg(long, value_name = Key::AssertionFile.value_name(), help = Key::AssertionFile.help())]
    pub assertion_file: Option<PathBuf>,
    #[arg(long, value_name = Key::AssertionFrom.value_name(), help = Key::AssertionFrom.help())]
    pub assertion_from: Option<String>,
    #[arg(long, value_name = Key::AssertionEnv.value_name(), help = Key::AssertionEnv.help())]
    pub assertion_env: Option<String>,
}

#[derive(Args, Debug, Default, Clone)]
#[command(next_help_heading = "Exchange")]
pub struct ExchangeArgs {
    #[arg(long, value_name = Key::TokenUrl.value_name(), help = Key::TokenUrl.help())]
    pub token_url: Option<String>,
    #[arg(long, value_name = Key::Grant.value_name(), help = Key::Grant.help_as(&signet::grant::Grant::names()))]
    pub grant: Option<String>,
    #[arg(long, value_name = Key::Scope.value_name(), help = Key::Scope.help())]
    pub scope: Vec<String>,
    #[arg(long, value_name = Key::Param.value_name(), help = Key::Param.help())]
    pub param: Vec<String>,
    #[arg(long, value_name = Key::TokenPath.value_name(), help = Key::TokenPath.help())]
    pub token_path: Option<String>,
    #[arg(long, value_name = Key::RequestHeader.value_name(), help = Key::RequestHeader.help())]
    pub request_header: Vec<String>,
    #[arg(long, value_name = Key::DefaultTtl.value_name(), help = Key::DefaultTtl.help())]
    pub default_ttl: Option<String>,
    #[arg(long, value_name = Key::Timeout.value_name(), help = Key::Timeout.help())]
    pub timeout: Option<String>,
    #[arg(long, value_name = Key::Retries.value_name(), help = Key::Retries.help())]
    pub retries: Option<String>,
    #[arg(long, value_name = Key::CaFile.value_name(), help = Key::CaFile.help())]
    pub ca_file: Option<PathBuf>,
    #[arg(help_heading = SENDER)]
    #[arg(long, help = Key::Dpop.help())]
    pub dpop: bool,
    #[arg(help_heading = SENDER)]
    #[arg(long, value_name = Key::DpopKey.value_name(), help = Key::DpopKey.help())]
    pub dpop_key: Option<PathBuf>,
    #[arg(help_heading = SENDER)]
    #[arg(long, help = Key::Mtls.help())]
    pub mtls: bool,
    #[arg(help_heading = SENDER)]
    #[arg(long, value_name = Key::ClientAuth.value_name(), help = Key::ClientAuth.help())]
    pub client_auth: Option<String>,
    #[arg(help_heading = CACHE)]
    #[arg(long, value_name = Key::CacheDir.value_name(), help = Key::CacheDir.help())]
    pub cache_dir: Option<PathBuf>,
    #[arg(help_heading = CACHE)]
    #[arg(long, value_name = Key::CacheUrl.value_name(), help = Key::CacheUrl.help())]
    pub cache_url: Option<String>,
    #[arg(help_heading = CACHE)]
    #[arg(long, value_name = Key::CacheKeyFile.value_name(), help = Key::CacheKeyFile.help())]
    pub cache_key_file: Option<PathBuf>,
    #[arg(help_heading = CACHE)]
    #[arg(long, help = Key::NoCache.help())]
    pub no_cache: bool,
    #[arg(help_heading = CACHE)]
    #[arg(long, help = Key::ForceRefresh.help())]
    pub force_refresh: bool,
    #[arg(help_heading = CACHE)]
    #[arg(long, value_name = Key::MinTtl.value_name(), help = Key::MinTtl.help())]
    pub min_ttl: Option<String>,
}

#[derive(Args, Debug)]
pub struct AssertArgs {
    #[command(flatten)]
    pub signing: SigningArgs,
    #[command(flatten)]
    pub exchange: ExchangeArgs,
}

#[derive(Args, Debug)]
pub struct TokenArgs {
    #[command(flatten)]
    pub signing: SigningArgs,
    #[command(flatten)]
    pub exchange: ExchangeArgs,
    #[arg(help_heading = OUTPUT)]
    #[arg(long, value_name = Key::Format.value_name(), help = Key::Format.help())]
    pub format: Option<Format>,
    #[arg(help_heading = OUTPUT)]
    #[arg(long, value_name = Key::HeaderName.value_name(), help = Key::HeaderName.help())]
    pub header_name: Option<String>,
    /// Sign, and print the request that would be sent (assertions decoded, secrets hidden); send nothing, touch no cache
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    #[command(flatten)]
    pub signing: SigningArgs,
    #[command(flatten)]
    pub exchange: ExchangeArgs,
    /// Environment variable that receives the token
    #[arg(help_heading = OUTPUT)]
    #[arg(long, value_name = "NAME", default_value = "SIGNET_TOKEN")]
    pub env: String,
    /// Sign, and print the token request that would be sent (assertions decoded, secrets hidden); send nothing, touch no cache, run nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Instead of a token in CMD's environment, a token endpoint for CMD's lifetime (the token agent on 127.0.0.1), which its SDKs find through IDENTITY_ENDPOINT/IDENTITY_HEADER (azure) or GCE_METADATA_HOST (gce)
    #[arg(help_heading = OUTPUT)]
    #[arg(long, conflicts_with = "dry_run")]
    pub serve: bool,
    /// With --serve: the protocols served, comma-separated: azure, gce (default: azure, or gce with a google template)
    #[arg(help_heading = OUTPUT)]
    #[arg(long, value_delimiter = ',', value_name = "PROTOCOL", requires = "serve")]
    pub serve_protocol: Vec<String>,
    /// The command and its arguments (after --)
    #[arg(help_heading = Option::<&str>::None)]
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<std::ffi::OsString>,
}

/// `signet serve`: the token agent as a service.
#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub signing: SigningArgs,
    #[command(flatten)]
    pub exchange: ExchangeArgs,
    /// Where to listen: 127.0.0.1:PORT, [::1]:PORT (port 0: a free one) or unix:PATH (made 0600; its folder must not be writable by others)
    #[arg(help_heading = "Agent")]
    #[arg(long, value_name = "ADDRESS")]
    pub listen: String,
    /// The protocols served, comma-separated: azure, gce (default: azure, or gce with a google template)
    #[arg(help_heading = "Agent")]
    #[arg(long, value_delimiter = ',', value_name = "PROTOCOL")]
    pub serve_protocol: Vec<String>,
    /// The secret clients send (X-IDENTITY-HEADER): read from PATH, or generated and written there (0600) when PATH does not exist; without it a fresh one is printed
    #[arg(help_heading = "Agent")]
    #[arg(long, value_name = "PATH")]
    pub secret_file: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct CurlArgs {
    #[command(flatten)]
    pub signing: SigningArgs,
    #[command(flatten)]
    pub exchange: ExchangeArgs,
    /// The URL curl requests, with the token (https, or http on loopback)
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// The HTTP method, passed to curl as --request
    #[arg(long, value_name = "METHOD")]
    pub request: Option<String>,
    #[arg(long, value_name = Key::HeaderName.value_name(), help = Key::HeaderName.help_as("Header that carries the token instead of Authorization: Bearer (e.g. jde-AIS-Auth)"))]
    pub header_name: Option<String>,
    /// Sign, and print the token request that would be sent and the curl command (assertions decoded, secrets hidden); send nothing, touch no cache, run nothing
    #[arg(long)]
    pub dry_run: bool,
    /// More arguments for curl (after --), read as curl reads them: any URL among them gets the token too and must be https (or http to a loopback host); -K/--config, --next, --url, --location-trusted and -- are refused
    #[arg(last = true, value_name = "CURL_ARGS")]
    pub curl_args: Vec<std::ffi::OsString>,
}

#[derive(Subcommand, Debug)]
pub enum DpopCommand {
    /// Get the token as `signet token` does (implies --dpop) and print a DPoP proof for one request with it (with ath)
    Proof(DpopProofArgs),
}

#[derive(Args, Debug)]
pub struct DpopProofArgs {
    #[command(flatten)]
    pub signing: SigningArgs,
    #[command(flatten)]
    pub exchange: ExchangeArgs,
    /// The request's HTTP method (htm)
    #[arg(help_heading = OUTPUT)]
    #[arg(long, value_name = "METHOD")]
    pub method: String,
    /// The request's URL (htu: query and fragment are left out)
    #[arg(help_heading = OUTPUT)]
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// The resource server's DPoP-Nonce, when it asked for one
    #[arg(help_heading = OUTPUT)]
    #[arg(long, value_name = "NONCE")]
    pub nonce: Option<String>,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// The JWT, or - (or nothing) to read it from stdin
    pub jwt: Option<String>,
}

#[derive(Args, Debug)]
pub struct ThumbprintArgs {
    /// Certificate (PEM or DER), PKCS#12, or key+certificate PEM
    #[arg(long, value_name = "PATH")]
    pub cert: PathBuf,
    /// hex, x5t, x5t-s256, spki-s256, jwk or all
    #[arg(long, value_name = "FORMAT", default_value = "hex")]
    pub format: String,
    #[arg(long, value_name = Key::KeyPassphraseFile.value_name(), help = Key::KeyPassphraseFile.help_as("Passphrase file for a PKCS#12"))]
    pub key_passphrase_file: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum CacheCommand {
    /// List cached tokens (never the tokens themselves)
    List {
        #[arg(long, value_name = Key::CacheDir.value_name(), help = Key::CacheDir.help())]
        cache_dir: Option<PathBuf>,
        #[command(flatten)]
        shared: SharedCacheArgs,
    },
    /// Remove cached tokens: all, or those matching the filters
    Clear {
        #[arg(long, value_name = Key::CacheDir.value_name(), help = Key::CacheDir.help())]
        cache_dir: Option<PathBuf>,
        /// Only entries for this token URL
        #[arg(long, value_name = "URL")]
        token_url: Option<String>,
        /// Only entries for this client id
        #[arg(long, value_name = "ID")]
        client_id: Option<String>,
        /// Only expired entries
        #[arg(long)]
        expired: bool,
        #[command(flatten)]
        shared: SharedCacheArgs,
    },
    /// Print the cache folder (and the shared cache's URL, without its password)
    Path {
        #[arg(long, value_name = Key::CacheDir.value_name(), help = Key::CacheDir.help())]
        cache_dir: Option<PathBuf>,
        #[command(flatten)]
        shared: SharedCacheArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum TemplatesCommand {
    /// One line per template
    List,
    /// A template's rules, variables and the documentation it follows
    Show {
        /// Template name or path
        name: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Every resolved setting and where it came from (secrets only as set/unset)
    Show {
        /// text or json
        #[arg(long, value_name = "FORMAT", default_value = "text")]
        format: String,
        #[command(flatten)]
        signing: Box<SigningArgs>,
        #[command(flatten)]
        exchange: Box<ExchangeArgs>,
    },
    /// Print the config file's path
    Path,
}

#[derive(Args, Debug)]
pub struct IssuerArgs {
    /// Client id the trusted key belongs to
    #[arg(long, value_name = "ID")]
    pub client_id: String,
    /// Key to trust: a certificate (PEM/DER), PKCS#12, key+certificate PEM or private key file
    #[arg(long, value_name = "PATH")]
    pub trust: PathBuf,
    /// Enforce this provider template's rules (audience form, algorithms, lifetime, kid, answer)
    #[arg(long, value_name = "NAME|PATH")]
    pub template: Option<String>,
    /// Template variable KEY=VALUE, repeatable
    #[arg(long, value_name = "KEY=VALUE")]
    pub var: Vec<String>,
    /// User the assertion's sub must name (bearer-header, JWT-bearer)
    #[arg(long, value_name = "SUB")]
    pub user: Option<String>,
    /// Port on 127.0.0.1 (default: a free one)
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// expires_in of the tokens it issues
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub expires_in: u64,
    /// URL clients reach the issuer at, when a TLS terminator sits in front of it
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Require DPoP proofs (RFC 9449) and issue DPoP-bound tokens (cnf.jkt, token_type DPoP)
    #[arg(long)]
    pub dpop: bool,
    /// With DPoP: the nonce every proof must carry (else 400 use_dpop_nonce with it); implies --dpop
    #[arg(long, value_name = "NONCE")]
    pub dpop_nonce: Option<String>,
}

#[derive(Args, Debug)]
pub struct JwkArgs {
    /// Private key (repeatable for a JWKS)
    #[arg(long, value_name = "PATH")]
    pub key: Vec<PathBuf>,
    /// Certificate (repeatable; paired with --key in order, or on its own)
    #[arg(long, value_name = "PATH")]
    pub cert: Vec<PathBuf>,
    /// Explicit kid (only with a single key)
    #[arg(long, value_name = "KID")]
    pub kid: Option<String>,
    /// Derive the kid: hex-sha1, x5t, x5t-s256, jwk, spki-s256 (default: as signet sends it)
    #[arg(long, value_name = "RULE")]
    pub kid_from: Option<String>,
    /// The alg member (default: the key's default algorithm)
    #[arg(long, value_name = "ALG")]
    pub alg: Option<String>,
    #[arg(long, value_name = Key::KeyPassphraseFile.value_name(), help = Key::KeyPassphraseFile.help_as("File holding the passphrase"))]
    pub key_passphrase_file: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    pub signing: SigningArgs,
    #[command(flatten)]
    pub exchange: ExchangeArgs,
    /// text or json
    #[arg(help_heading = OUTPUT)]
    #[arg(long, value_name = "FORMAT", default_value = "text")]
    pub format: String,
}

#[derive(Args, Debug)]
pub struct KeygenArgs {
    /// RS256, PS256 (RSA), ES256 (P-256), ES384 (P-384) or EdDSA (Ed25519)
    #[arg(long, value_name = "ALG", default_value = "RS256")]
    pub alg: String,
    /// RSA modulus size: 2048, 3072 or 4096
    #[arg(long, default_value_t = 2048)]
    pub bits: usize,
    /// Certificate subject, e.g. CN=nightly-batch,O=Example
    #[arg(long, value_name = "DN", default_value = "CN=signet")]
    pub subject: String,
    /// Certificate validity in days
    #[arg(long, value_name = "N", default_value_t = 365)]
    pub days: u32,
    /// Folder to write key.pem, cert.pem and cert.cer (and key.pfx) into; files are never overwritten
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Also write key.pfx (PKCS#12: AES-256/PBKDF2/SHA-256, what Windows and the 1E toolkit import)
    #[arg(long)]
    pub pfx: bool,
    /// With --pfx: the legacy 3DES/SHA-1 form, for Windows Server 2016 and older
    #[arg(long)]
    pub legacy: bool,
    #[arg(long, value_name = Key::KeyPassphraseFile.value_name(), help = Key::KeyPassphraseFile.help_as("File holding a passphrase that encrypts key.pem and key.pfx"))]
    pub key_passphrase_file: Option<PathBuf>,
}

#[derive(Args, Debug, Default)]
pub struct SharedCacheArgs {
    #[arg(long, value_name = Key::CacheUrl.value_name(), help = Key::CacheUrl.help_as("Shared cache: redis://… or rediss://…"))]
    pub cache_url: Option<String>,
    #[arg(long, value_name = Key::CacheKeyFile.value_name(), help = Key::CacheKeyFile.help_as("Key of the shared cache's entries"))]
    pub cache_key_file: Option<PathBuf>,
    #[arg(long, value_name = Key::CaFile.value_name(), help = Key::CaFile.help_as("Extra trusted CA certificates for rediss://"))]
    pub ca_file: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hiding_flags_from_assert_changes_no_parse() {
        // mut_arg panics on an id that is not there: every hidden id is one of assert's flags.
        let mut cmd = command();
        cmd.build();
        let assert = cmd.find_subcommand("assert").unwrap();
        for id in NOT_FOR_ASSERT {
            assert!(
                assert.get_arguments().any(|a| a.get_id() == *id && a.is_hide_set()),
                "{id}"
            );
        }
        // The derived command and the shown one read the same lines the same way.
        for line in [
            "signet assert --key k --no-cache --min-ttl 5 --grant jwt-bearer --token-url http://127.0.0.1:1/t",
            "signet assert --cache-dir d --force-refresh",
        ] {
            let args: Vec<&str> = line.split_whitespace().collect();
            let derived = Cli::try_parse_from(args.clone())
                .map(|c| format!("{c:?}"))
                .map_err(|e| e.to_string());
            let shown = command()
                .try_get_matches_from(args)
                .and_then(|m| Cli::from_arg_matches(&m))
                .map(|c| format!("{c:?}"))
                .map_err(|e| e.to_string());
            assert!(derived.is_ok(), "{line}: {derived:?}");
            assert_eq!(derived, shown, "{line}");
        }
    }
}
