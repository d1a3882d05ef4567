//! One file per subcommand.

pub mod assert;
pub mod cache;
pub mod config;
pub mod curl;
pub mod demo;
pub mod dpop;
pub mod exec;
pub mod inspect;
pub mod keygen;
pub mod keys;
pub mod serve;
pub mod templates;
pub mod thumbprint;
pub mod token;
