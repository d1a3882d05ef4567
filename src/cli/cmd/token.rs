//! `signet token`: resolve the settings, ask the library's flow for the token, print it.

use crate::cli::args::TokenArgs;
use crate::cli::output::{self, Format};
use crate::cli::{resolve, token_flag_layer, CmdResult, Ctx, Failure, Resolved};
use signet::config::Key;
use signet::TokenPlan;

/// The plan for resolved settings, with the resolver's warnings shown.
pub fn plan(ctx: &Ctx, r: Resolved) -> Result<TokenPlan, signet::Error> {
    for w in &r.warnings {
        ctx.warn(w);
    }
    Ok(TokenPlan::from_settings(&r.settings, &ctx.env, r.template)?)
}

pub fn run(ctx: &Ctx, a: TokenArgs) -> CmdResult {
    let r = resolve(ctx, token_flag_layer(&a)?)?;
    let format = r.settings.parse_or_default::<Format>(Key::Format)?;
    let header_name = r.settings.str(Key::HeaderName).map(String::from);
    let exec_api = match format {
        Format::ExecCredential => output::exec_credential_version(&ctx.env)?,
        _ => output::EXEC_CREDENTIAL_V1,
    };
    let plan = plan(ctx, r)?;
    if a.dry_run {
        output::stdout(&ctx.client().dry_run(&plan)?.render());
        return Ok(0);
    }
    let served = ctx.client().get_token(&plan).map_err(Failure::Lib)?;
    output::github_mask(&ctx.env, served.token.access_token.expose());
    output::stdout(&output::render_served(
        &served,
        format,
        header_name.as_deref(),
        signet::clock::now(),
        exec_api,
    ));
    Ok(0)
}
