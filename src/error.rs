//! The top-level error and the one place that decides what kind of failure each error is.

use crate::assertion::AssertionError;
use crate::cache::CacheError;
use crate::category::Category;
use crate::config::ConfigError;
use crate::dpop::DpopError;
use crate::exchange::ExchangeError;
use crate::inspect::InspectError;
use crate::key::KeyError;

/// Any error signet's library returns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Key or certificate.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Signing options.
    #[error(transparent)]
    Assertion(#[from] AssertionError),
    /// Settings, templates, profiles.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Token endpoint.
    #[error(transparent)]
    Exchange(#[from] ExchangeError),
    /// JWT decoding.
    #[error(transparent)]
    Inspect(#[from] InspectError),
    /// The DPoP key (`--dpop-key`, or generating one).
    #[error(transparent)]
    Dpop(#[from] DpopError),
    /// The token cache (fatal only where the cache itself is the job, or its lock timed out).
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// The token agent (`signet serve`, `exec --serve`).
    #[cfg(feature = "serve")]
    #[error(transparent)]
    Agent(#[from] crate::agent::AgentError),
    /// `--force-refresh` could not get a new token while a still-valid one is cached (and kept).
    /// The contract gives this exit 5 whatever the failure, refusals included: the caller asked
    /// for a new token and has none, though the endpoint may well be right.
    #[error("--force-refresh: {0} (the cached token is kept)")]
    ForcedRefresh(Box<Error>),
}

impl Error {
    /// The failure's kind.
    pub fn category(&self) -> Category {
        match self {
            Error::Key(k) if k.is_usage() => Category::Usage,
            Error::Key(_) => Category::Key,
            Error::Assertion(AssertionError::Key(k)) if !k.is_usage() => Category::Key,
            Error::Assertion(_) => Category::Usage,
            Error::Config(_) => Category::Usage,
            Error::Exchange(e) => e.category(),
            Error::Inspect(_) => Category::Usage,
            Error::Cache(e) => e.category(),
            Error::Dpop(e) => e.category(),
            #[cfg(feature = "serve")]
            Error::Agent(e) => e.category(),
            Error::ForcedRefresh(_) => Category::Network,
        }
    }

    /// A one-line hint to print after the error, when signet knows one.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Exchange(e) => e.hint(),
            Error::ForcedRefresh(e) => e.hint(),
            _ => None,
        }
    }
}
