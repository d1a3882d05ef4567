//! The `signet` command: parses arguments and hands over to the library (see `cli/`).
#![allow(clippy::result_large_err)]

mod cli;

// Every freed block is wiped: key limbs, tokens and passphrases in buffers signet does not own.
#[global_allocator]
static ALLOC: signet::ZeroizeOnFree = signet::ZeroizeOnFree::new(std::alloc::System);

fn main() -> std::process::ExitCode {
    cli::main()
}
