//! `signet assert`: print a signed client assertion.

use crate::cli::args::AssertArgs;
use crate::cli::{flag_layer, output, resolve, CmdResult, Ctx};

pub fn run(ctx: &Ctx, a: AssertArgs) -> CmdResult {
    let r = resolve(ctx, flag_layer(&a.signing, &a.exchange)?)?;
    for w in &r.warnings {
        ctx.warn(w);
    }
    let plan = signet::TokenPlan::for_signing(&r.settings, &ctx.env, r.template)?;
    let jwt = ctx.client().assertion(&plan)?;
    output::stdout(&format!("{}\n", jwt.expose()));
    Ok(0)
}
