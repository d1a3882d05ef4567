//! `signet assert`: print a signed client assertion.

use crate::cli::args::AssertArgs;
use crate::cli::{flag_layer, output, resolve, CmdResult, Ctx};
use signet::source::TokenSource;

pub fn run(ctx: &Ctx, a: AssertArgs) -> CmdResult {
    let r = resolve(ctx, flag_layer(&a.signing, &a.exchange)?)?;
    for w in &r.warnings {
        ctx.warn(w);
    }
    let src = TokenSource::from_settings(&r.settings, &ctx.env, r.template)?;
    for w in &src.warnings {
        ctx.warn(w);
    }
    let signer = src.signer()?;
    crate::cli::cmd::token::cert_checks(ctx, &signer)?;
    for w in signer.warnings() {
        ctx.warn(w);
    }
    let jwt = src.sign(&signer, 0)?;
    output::stdout(&format!("{}\n", jwt.expose()));
    Ok(0)
}
