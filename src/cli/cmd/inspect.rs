//! `signet inspect`: decode a JWT for people, without verifying it.

use crate::cli::args::InspectArgs;
use crate::cli::{output, CmdResult, Ctx};
use signet::config::ConfigError;
use std::io::Read;

pub fn run(_ctx: &Ctx, a: InspectArgs) -> CmdResult {
    let input = match a.jwt.as_deref() {
        Some("-") | None => {
            let mut s = String::new();
            std::io::stdin().take(1024 * 1024).read_to_string(&mut s).map_err(|e| {
                ConfigError::Usage(format!(
                    "cannot read the JWT from stdin: {}",
                    signet::text::io_reason(&e)
                ))
            })?;
            s
        }
        Some(s) => s.to_string(),
    };
    let input = input.trim();
    // Accept "Bearer …" and "Authorization: Bearer …" pasted from a request.
    let input = input
        .trim_start_matches("Authorization:")
        .trim()
        .trim_start_matches("Bearer")
        .trim();
    let d = signet::inspect::dangerous::decode_unverified(input)?;
    output::stdout(&signet::inspect::render(&d, signet::clock::now()));
    Ok(0)
}
