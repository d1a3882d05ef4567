//! `signet demo`: the whole flow on this machine, with nothing but the binary. Generates a key,
//! starts the embedded issuer on 127.0.0.1 trusting it, fetches a token through the same code
//! path as `signet token`, then serves it again from the cache.

use crate::cli::{output, CmdResult, Ctx};
use signet::config::{self, Layer, Origin, Raw};
use signet::issuer::{Client, Issuer, IssuerConfig};
use signet::secret::shorten;
use signet::TokenPlan;
use std::io::Write;
use std::time::Instant;

fn say(s: &str) {
    output::stdout(&format!("{s}\n"));
}

fn io_err(e: std::io::Error) -> signet::Error {
    signet::config::ConfigError::Usage(format!("demo setup failed: {}", signet::text::io_reason(&e))).into()
}

pub fn run(ctx: &Ctx) -> CmdResult {
    let dir = tempfile::Builder::new()
        .prefix("signet-demo-")
        .tempdir()
        .map_err(io_err)?;
    say("signet demo: the whole flow against an embedded loopback issuer\n");

    // 1. a key, written as a real PKCS#8 PEM file with mode 0600
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &rng,
    )
    .map_err(|_| io_err(std::io::Error::other("key generation failed")))?;
    let pem_text = zeroize::Zeroizing::new(pem::encode(&pem::Pem::new("PRIVATE KEY", pkcs8.as_ref().to_vec())));
    let key_path = dir.path().join("demo-key.pem");
    {
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create_new(true);
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        o.open(&key_path)
            .and_then(|mut f| f.write_all(pem_text.as_bytes()))
            .map_err(io_err)?;
    }
    let bundle = signet::key::load_bundle(&key_path, None, None)?;
    let thumb = bundle.key.public_jwk().thumbprint();
    say(&format!("1. generated an EC P-256 key: {}", key_path.display()));
    say(&format!("   its RFC 7638 JWK thumbprint (the kid): {thumb}"));

    // 2. the issuer, trusting that key for client "signet-demo"
    let client = Client::from_bundle("signet-demo", &bundle, None);
    let issuer = Issuer::start(IssuerConfig {
        clients: vec![client],
        ..Default::default()
    })
    .map_err(io_err)?;
    say(&format!("2. started the embedded issuer: {}", issuer.token_url()));
    say("   it checks the signature by kid, aud = its token URL, a lifetime of at most 10 min, a single-use jti, iss = sub = client id");

    // 3. settings as `signet token --key … --client-id signet-demo --token-url … --scope demo.read` would give
    let mut flags = Layer::new();
    for (k, v) in [
        (signet::config::Key::Key, key_path.to_string_lossy().into_owned()),
        (signet::config::Key::ClientId, "signet-demo".into()),
        (signet::config::Key::TokenUrl, issuer.token_url().into()),
    ] {
        flags.insert(k, (Raw::Str(v), Origin::Flag));
    }
    flags.insert(
        signet::config::Key::Scope,
        (Raw::List(vec!["demo.read".into()]), Origin::Flag),
    );
    flags.insert(
        signet::config::Key::CacheDir,
        (Raw::Str(dir.path().join("cache").display().to_string()), Origin::Flag),
    );
    let settings = config::resolve(&[&flags]);
    let plan = TokenPlan::from_settings(&settings, &ctx.env, None)?;
    let client = ctx.client();
    let signer = client.signer(&plan)?;
    let sample = plan.sign(&signer, signet::clock::now())?;
    let d = signet::inspect::dangerous::decode_unverified(sample.expose())?;
    say("3. a client assertion (RFC 7523), signed with ES256:");
    say(&format!("   header: {}", serde_json::Value::Object(d.header.clone())));
    say(&format!("   claims: {}", serde_json::Value::Object(d.claims.clone())));
    say(&format!("   compact JWT: {}", shorten(sample.expose())));
    let req = plan.request(&signer, signet::clock::now())?;
    say(&format!("4. POST {}", req.url));
    for (k, v) in req.redacted_headers() {
        say(&format!("   {k}: {v}"));
    }
    say("   body: grant_type=client_credentials&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion=[a fresh assertion]&scope=demo.read");

    let started = Instant::now();
    let served = client.get_token(&plan)?;
    let (token, cached) = (served.token, served.from_cache);
    say(&format!(
        "5. the issuer answered in {} ms after {} request: access token {} (expires in {}, cached: {cached})",
        started.elapsed().as_millis(),
        issuer.request_count(),
        shorten(token.access_token.expose()),
        signet::clock::human_duration(token.expires_in(signet::clock::now()))
    ));
    let started = Instant::now();
    let served = client.get_token(&plan)?;
    let (again, cached) = (served.token, served.from_cache);
    say(&format!(
        "6. asked again: served from the cache in {} µs (cached: {cached}, same token: {}, requests to the issuer: {})",
        started.elapsed().as_micros(),
        again.access_token.expose() == token.access_token.expose(),
        issuer.request_count()
    ));

    // 7. DPoP: the issuer now wants proofs, with a nonce; the token is bound to signet's key.
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    issuer.configure(|c| {
        c.dpop = true;
        c.dpop_nonce = Some(nonce.clone());
    });
    flags.insert(signet::config::Key::Dpop, (Raw::Bool(true), Origin::Flag));
    let plan = TokenPlan::from_settings(&config::resolve(&[&flags]), &ctx.env, None)?;
    let before = issuer.request_count();
    let served = client.get_token(&plan)?;
    let jkt = served.dpop_jkt().unwrap_or_default().to_string();
    let bound = signet::inspect::dangerous::decode_unverified(served.token.access_token.expose())?;
    say(&format!(
        "7. with --dpop (RFC 9449): a P-256 key generated for the cache entry (thumbprint {jkt}); each token request carries a DPoP proof"
    ));
    say(&format!(
        "   the issuer asked for its nonce (400 use_dpop_nonce), signet answered once: {} requests, token_type {}, cnf.jkt {}",
        issuer.request_count() - before,
        served.token.token_type.as_deref().unwrap_or("?"),
        bound.claims.get("cnf").and_then(|c| c.get("jkt")).and_then(|j| j.as_str()).unwrap_or("?")
    ));
    let proof = client.dpop_proof(&served, "GET", "https://api.example.com/v1/items?page=2", None)?;
    let p = signet::inspect::dangerous::decode_unverified(proof.expose())?;
    say("   a proof for GET https://api.example.com/v1/items (what `signet dpop proof` prints; `signet curl --dpop` sends one):");
    say(&format!("   header: {}", serde_json::Value::Object(p.header.clone())));
    say(&format!("   claims: {}", serde_json::Value::Object(p.claims.clone())));
    say("\ntry it with your own provider: signet token --template NAME --var … --key KEY --client-id ID (see `signet templates list`)");
    Ok(0)
}

/// `signet issuer`: the embedded issuer as a process. Prints `READY <token URL>` and serves until killed.
pub fn issuer(ctx: &Ctx, a: crate::cli::args::IssuerArgs) -> CmdResult {
    let pass = ctx
        .env
        .get(signet::env::EnvVars::KEY_PASSPHRASE)
        .map(|p| signet::Secret::new(p.to_string()));
    let client = match signet::key::load_certificates(&a.trust) {
        Ok(certs) if !certs.is_empty() => Client::from_certificate(&a.client_id, &certs[0]),
        Err(e @ signet::key::KeyError::CertRead { .. }) => return Err(e.into()),
        // Not a certificate file: a key (with or without its certificate) is trusted by its key.
        _ => signet::key::load_key(&a.trust, pass.as_ref())
            .ok()
            .map(|b| Client::from_bundle(&a.client_id, &b, None)),
    }
    .ok_or_else(|| signet::key::KeyError::BadCertificate { path: a.trust.clone() })?;
    let mut cfg = match &a.template {
        Some(name) => {
            let t = signet::template::load(name)?;
            let given = a
                .var
                .iter()
                .map(|v| config::split_kv(v, "--var"))
                .collect::<Result<Vec<_>, _>>()?;
            let vars = t.check_vars(&given)?;
            IssuerConfig::for_template(&t, &vars, vec![client])
        }
        None => IssuerConfig {
            clients: vec![client],
            ..Default::default()
        },
    };
    if a.user.is_some() {
        cfg.user = a.user.clone();
    }
    cfg.public_url = a.public_url.clone();
    cfg.dpop = a.dpop || a.dpop_nonce.is_some();
    cfg.dpop_nonce = a.dpop_nonce.clone();
    if cfg.expires_in.is_some() {
        cfg.expires_in = Some(a.expires_in);
    }
    let iss = Issuer::start_on(&format!("127.0.0.1:{}", a.port), cfg).map_err(io_err)?;
    say(&format!("READY {}", iss.token_url()));
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
