//! `signet dpop proof`: the token as `signet token` gets it (cache hit or fetch), then a DPoP
//! proof for one request that carries it, for a program that sends the request itself.

use crate::cli::args::DpopProofArgs;
use crate::cli::{flag_layer, output, resolve, CmdResult, Ctx, Failure};
use signet::config::{Key, Origin, Raw};

pub fn proof(ctx: &Ctx, a: DpopProofArgs) -> CmdResult {
    crate::cli::cmd::curl::check_method(&a.method)?;
    let mut flags = flag_layer(&a.signing, &a.exchange)?;
    // A proof needs a DPoP-bound token: asking for one is asking for DPoP.
    flags.insert(Key::Dpop, (Raw::Bool(true), Origin::Flag));
    let r = resolve(ctx, flags)?;
    let plan = crate::cli::cmd::token::plan(ctx, r)?;
    let client = ctx.client();
    let served = client.get_token(&plan).map_err(Failure::Lib)?;
    let proof = client
        .dpop_proof(&served, &a.method, &a.url, a.nonce.as_deref())
        .map_err(Failure::Lib)?;
    output::stdout(&format!("{}\n", proof.expose()));
    Ok(0)
}
