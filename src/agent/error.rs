//! Why the token agent cannot start: each names the flag it comes from and what to do. All are
//! usage errors (exit 2): what was asked for cannot be served as asked.

use crate::category::Category;

/// The agent's errors (the flow's own — a key, the token endpoint — stay [`crate::Error`]'s).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// `--listen` is not an address, or not one the agent may listen on.
    #[error("--listen {given} {why}")]
    Address {
        /// The value given (sanitized).
        given: String,
        /// What is wrong with it, and what to give instead.
        why: &'static str,
    },
    /// The address cannot be bound, or the unix socket cannot be made safely there.
    #[error("--listen {address}: {reason}")]
    Bind {
        /// The address as given (`127.0.0.1:8080`, `unix:/run/x.sock`).
        address: String,
        /// The system's reason, or why signet refuses the place.
        reason: String,
    },
    /// `--serve-protocol` names a protocol the agent does not speak.
    #[error("--serve-protocol {given}: the agent speaks azure and gce")]
    UnknownProtocol {
        /// The name given (sanitized).
        given: String,
    },
    /// No protocol is left to serve.
    #[error("the agent needs at least one protocol (--serve-protocol azure,gce)")]
    NoProtocol,
    /// The settings ask for DPoP-bound tokens, which the SDKs served cannot use.
    #[error(
        "the agent serves bearer tokens to SDKs, which cannot send DPoP proofs: leave out --dpop/--dpop-key \
         (or the template's dpop) for signet serve and exec --serve; use signet curl or signet dpop proof for DPoP"
    )]
    Dpop,
    /// `--secret-file` cannot be read or written, or its secret is too weak.
    #[error("--secret-file {path}: {reason}")]
    SecretFile {
        /// The file.
        path: String,
        /// The system's reason, or what the secret lacks.
        reason: String,
    },
    /// The system's random generator failed (no secret can be made).
    #[error("the system's random generator failed")]
    Random,
    /// The agent's runtime could not start, or a token fetch task ended without an answer.
    #[error("{what}: {reason}")]
    Runtime {
        /// What the agent was doing.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
}

impl AgentError {
    /// The failure's kind: always a usage error (exit 2), as before the agent had its own type.
    pub fn category(&self) -> Category {
        Category::Usage
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_names_its_flag_and_is_a_usage_error() {
        let e: crate::Error = "0.0.0.0:80".parse::<crate::agent::Listen>().unwrap_err().into();
        assert_eq!(e.category(), Category::Usage);
        assert!(
            e.to_string()
                .starts_with("--listen 0.0.0.0:80 is not a loopback address"),
            "{e}"
        );
        let e = "telnet".parse::<crate::agent::Protocol>().unwrap_err();
        assert_eq!(e.to_string(), "--serve-protocol telnet: the agent speaks azure and gce");
        let e = AgentError::SecretFile {
            path: "/run/s".into(),
            reason: "permission denied".into(),
        };
        assert_eq!(e.to_string(), "--secret-file /run/s: permission denied");
    }
}
