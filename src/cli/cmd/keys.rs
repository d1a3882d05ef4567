//! `signet jwk`, `signet jwks` and `signet check`: what to register with a provider, and whether a
//! key will work before a nightly job finds out.

use crate::cli::args::{CheckArgs, JwkArgs};
use crate::cli::{flag_layer, output, resolve, CmdResult, Ctx};
use serde_json::{json, Value};
use signet::assertion::{HeaderOptions, KidFrom};
use signet::config::ConfigError;
use signet::key::{self, Certificate, KeyError, PublicJwk};
use signet::{Alg, Signer, TokenPlan};

fn jwk_json(
    jwk: &PublicJwk,
    kid: Option<&str>,
    alg: Option<Alg>,
    cert: Option<&Certificate>,
    chain: &[Certificate],
) -> Value {
    let mut v = jwk.to_json();
    let o = v.as_object_mut().expect("object");
    if let Some(k) = kid {
        o.insert("kid".into(), k.into());
    }
    o.insert("use".into(), "sig".into());
    if let Some(a) = alg {
        o.insert("alg".into(), a.as_str().into());
    }
    if let Some(c) = cert {
        o.insert("x5t".into(), c.x5t().into());
        o.insert("x5t#S256".into(), c.x5t_s256().into());
        let x5c: Vec<Value> = chain.iter().map(|c| c.x5c_entry().into()).collect();
        o.insert("x5c".into(), x5c.into());
    }
    v
}

pub fn jwk(ctx: &Ctx, a: JwkArgs, set: bool) -> CmdResult {
    let pass = ctx.passphrase(a.key_passphrase_file.as_deref())?;
    let kid_from = a
        .kid_from
        .as_deref()
        .map(str::parse::<KidFrom>)
        .transpose()
        .map_err(ConfigError::Usage)?;
    let alg = a
        .alg
        .as_deref()
        .map(str::parse::<Alg>)
        .transpose()
        .map_err(|e| ConfigError::Usage(e.to_string()))?;
    let n = a.key.len().max(a.cert.len());
    if n == 0 {
        return Err(ConfigError::Missing {
            what: "a key or certificate".into(),
            how: "give --key PATH or --cert PATH".into(),
        }
        .into());
    }
    if !set && n > 1 {
        return Err(ConfigError::Usage("`signet jwk` takes one key; use `signet jwks` for several".into()).into());
    }
    if a.kid.is_some() && n > 1 {
        return Err(ConfigError::Usage("--kid names one key; with several, use --kid-from".into()).into());
    }
    let mut keys = vec![];
    for i in 0..n {
        let v = match a.key.get(i) {
            Some(k) => {
                let bundle = key::load_bundle(k, pass.as_ref(), a.cert.get(i).map(|c| c.as_path()))?;
                let opts = HeaderOptions {
                    kid: a.kid.clone(),
                    kid_from,
                    ..Default::default()
                };
                let signer = Signer::new(bundle, alg, &opts)?;
                let b = signer.bundle();
                jwk_json(
                    &b.key.public_jwk(),
                    signer.kid(),
                    Some(signer.alg()),
                    b.leaf(),
                    &b.chain,
                )
            }
            None => {
                let path = &a.cert[i];
                let certs = key::load_certificates(path)?;
                let leaf = &certs[0];
                let jwk = leaf.public_jwk().ok_or_else(|| KeyError::UnsupportedKeyType {
                    path: path.clone(),
                    what: "this key type".into(),
                })?;
                let kid = a.kid.clone().or_else(|| leaf.id(kid_from.unwrap_or(KidFrom::HexSha1)));
                jwk_json(&jwk, kid.as_deref(), alg, Some(leaf), &certs)
            }
        };
        keys.push(v);
    }
    let out = if set { json!({ "keys": keys }) } else { keys.remove(0) };
    output::stdout(&format!("{}\n", serde_json::to_string_pretty(&out).unwrap_or_default()));
    Ok(0)
}

pub fn check(ctx: &Ctx, a: CheckArgs) -> CmdResult {
    let r = resolve(ctx, flag_layer(&a.signing, &a.exchange)?)?;
    for w in &r.warnings {
        ctx.warn(w);
    }
    let plan = TokenPlan::for_signing(&r.settings, &ctx.env, r.template)?;
    let client = ctx.client();
    let signer = client.signer(&plan)?;
    let b = signer.bundle();
    let now = signet::clock::now();
    let mut notes = vec![format!("key: {} from {}", b.key.key_type(), b.source.display())];
    let mut report = json!({"key": b.key.key_type().to_string(), "alg": signer.alg().as_str(), "kid": signer.kid()});
    if let Some(c) = b.leaf() {
        let left = (c.not_after() - now).max(0) as u64;
        notes.push(format!(
            "certificate: {} (SHA-1 {}), matches the key, valid until {} ({} left)",
            c.subject(),
            c.hex_sha1(),
            signet::clock::rfc3339(c.not_after()),
            signet::clock::human_duration(left)
        ));
        report["certificate"] = json!({"subject": c.subject(), "sha1": c.hex_sha1(), "not_after": signet::clock::rfc3339(c.not_after()), "expires_in": left});
    }
    if let Some(t) = plan.template() {
        notes.push(format!("template {}: {} accepted", t.name, signer.alg()));
        report["template"] = t.name.clone().into();
    }
    let jwt = plan.sign(&signer, signet::clock::now())?;
    let d = signet::inspect::dangerous::decode_unverified(jwt.expose())?;
    notes.push(format!(
        "test assertion signed ({} {}, kid {}), not sent",
        signer.alg(),
        d.claims.get("aud").and_then(Value::as_str).unwrap_or("-"),
        signer.kid().unwrap_or("none")
    ));
    report["ok"] = true.into();
    if a.format == "json" {
        output::stdout(&format!(
            "{}\n",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        ));
    } else {
        output::stdout(&format!(
            "ok\n{}\n",
            notes.iter().map(|n| format!("  {n}")).collect::<Vec<_>>().join("\n")
        ));
    }
    Ok(0)
}
