//! The `signet` command: parses arguments and hands over to the library (see `cli/`).
#![allow(clippy::result_large_err)]

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
