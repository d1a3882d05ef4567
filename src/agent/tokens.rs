//! The agent's tokens: one identity per set of scopes, served from memory while fresh, fetched
//! through the library's flow (the same cache and cache identity as `signet token`) when not,
//! and refreshed ahead of time by a background task so that callers after the first never wait.

use crate::clock::Clock;
use crate::token::Token;
use crate::warning::{Warning, WarningKind, WarningSink};
use crate::{Client, TokenPlan};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// At most this many identities (sets of scopes); a caller asking for more gets an error rather
/// than growing the agent without bound.
pub(super) const MAX_IDENTITIES: usize = 1000;

/// The longest wait between two attempts of a refresh that keeps failing.
const MAX_BACKOFF: i64 = 60;

/// One identity: a plan (the base settings with its scopes) and what the agent knows of it.
pub(super) struct Identity {
    /// The scopes, space-joined: the identity's name in logs and metrics (never secret).
    pub label: String,
    plan: TokenPlan,
    state: Mutex<State>,
    /// One fetch at a time per identity: a burst of first callers waits for one exchange.
    fetching: Arc<tokio::sync::Mutex<()>>,
    /// Answers with a token.
    pub served: AtomicU64,
    /// Tokens fetched from the endpoint (not from the cache).
    pub fetches: AtomicU64,
    /// Fetches or refreshes that failed.
    pub failures: AtomicU64,
}

#[derive(Default)]
struct State {
    token: Option<Token>,
    /// When a caller last asked (Unix seconds).
    last_asked: i64,
    /// A failed refresh is not retried before this.
    retry_at: i64,
    /// The wait after the next failure.
    backoff: i64,
}

impl Identity {
    /// Seconds until the token in memory expires (None before the first).
    pub fn expires_in(&self, now: i64) -> Option<i64> {
        let st = self.state.lock().ok()?;
        st.token.as_ref().map(|t| t.expires_at - now)
    }
}

/// When a token is due for its refresh: two thirds into its life, and at least `min_ttl` before
/// it expires; never before half its life, so that a token shorter than `min_ttl` is not
/// refetched in a loop.
pub(super) fn refresh_at(t: &Token, min_ttl: u64) -> i64 {
    let life = (t.expires_at - t.obtained_at).max(0);
    let two_thirds = t.obtained_at + life * 2 / 3;
    let before_min = t.expires_at - min_ttl as i64;
    two_thirds.min(before_min).max(t.obtained_at + life / 2)
}

/// A token in memory is served while it has more than this left; below it a caller fetches
/// (through the cache). `min_ttl`, or half the token's life when that is shorter.
fn serve_margin(t: &Token, min_ttl: u64) -> i64 {
    (min_ttl as i64).min((t.expires_at - t.obtained_at) / 2)
}

/// Every identity the agent has served, and how to get their tokens.
pub(super) struct Tokens {
    base: TokenPlan,
    client: Arc<Client>,
    clock: Arc<dyn Clock>,
    warn: WarningSink,
    map: Mutex<HashMap<Vec<String>, Arc<Identity>>>,
}

/// Why no token was served.
pub(super) enum Refusal {
    /// Too many identities.
    Full,
    /// The flow failed (no still-valid token to fall back on).
    Failed(crate::Error),
}

impl Tokens {
    pub fn new(base: TokenPlan, client: Arc<Client>, clock: Arc<dyn Clock>, warn: WarningSink) -> Tokens {
        Tokens {
            base,
            client,
            clock,
            warn,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// The scopes the settings name (the only ones served when there are any).
    pub fn allowed_scopes(&self) -> &[String] {
        &self.base.scopes
    }

    /// Every identity, for the metrics.
    pub fn identities(&self) -> Vec<Arc<Identity>> {
        let mut v: Vec<_> = self
            .map
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        v.sort_by(|a, b| a.label.cmp(&b.label));
        v
    }

    fn identity(&self, mut scopes: Vec<String>) -> Option<Arc<Identity>> {
        scopes.sort();
        scopes.dedup();
        let mut map = self.map.lock().ok()?;
        if let Some(i) = map.get(&scopes) {
            return Some(i.clone());
        }
        if map.len() >= MAX_IDENTITIES {
            return None;
        }
        let mut plan = self.base.clone();
        plan.scopes = scopes.clone();
        let id = Arc::new(Identity {
            label: scopes.join(" "),
            plan,
            state: Mutex::new(State::default()),
            fetching: Arc::new(tokio::sync::Mutex::new(())),
            served: AtomicU64::new(0),
            fetches: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        });
        map.insert(scopes, id.clone());
        Some(id)
    }

    /// A token for `scopes`: from memory while fresh, else through the flow (cache, then fetch).
    pub async fn get(&self, scopes: Vec<String>) -> (Option<Arc<Identity>>, Result<Token, Refusal>) {
        let Some(id) = self.identity(scopes) else {
            return (None, Err(Refusal::Full));
        };
        let r = self.get_for(&id).await;
        if r.is_ok() {
            id.served.fetch_add(1, Ordering::Relaxed);
        }
        (Some(id), r)
    }

    fn fresh(&self, id: &Identity) -> Option<Token> {
        let now = self.clock.now();
        let mut st = id.state.lock().ok()?;
        st.last_asked = now;
        let t = st.token.as_ref()?;
        (t.expires_at - now > serve_margin(t, self.base.cache.min_ttl)).then(|| t.clone())
    }

    async fn get_for(&self, id: &Arc<Identity>) -> Result<Token, Refusal> {
        if let Some(t) = self.fresh(id) {
            return Ok(t);
        }
        let _one = id.fetching.lock().await;
        if let Some(t) = self.fresh(id) {
            return Ok(t);
        }
        match self.run_flow(id, id.plan.clone()).await {
            Ok(t) => {
                // Asked during this token's life, even when the fetch took a while.
                if let Ok(mut st) = id.state.lock() {
                    st.last_asked = self.clock.now();
                }
                Ok(t)
            }
            Err(e) => {
                id.failures.fetch_add(1, Ordering::Relaxed);
                let now = self.clock.now();
                let valid = id
                    .state
                    .lock()
                    .ok()
                    .and_then(|st| st.token.clone())
                    .filter(|t| t.expires_at > now);
                match valid {
                    Some(t) => {
                        self.warning(format!(
                            "refreshing the token for {} failed ({e}); serving the one that expires in {}",
                            id.label,
                            crate::clock::human_duration((t.expires_at - now).max(0) as u64)
                        ));
                        Ok(t)
                    }
                    None => Err(Refusal::Failed(e)),
                }
            }
        }
    }

    /// The flow on a blocking thread (it runs its own exchange runtime), its token kept in memory.
    async fn run_flow(&self, id: &Arc<Identity>, plan: TokenPlan) -> Result<Token, crate::Error> {
        let client = self.client.clone();
        let served = tokio::task::spawn_blocking(move || client.get_token(&plan))
            .await
            .map_err(|e| super::AgentError::Runtime {
                what: "the token fetch stopped unexpectedly",
                reason: e.to_string(),
            })??;
        if !served.from_cache {
            id.fetches.fetch_add(1, Ordering::Relaxed);
        }
        if let Ok(mut st) = id.state.lock() {
            let newer = st
                .token
                .as_ref()
                .is_none_or(|old| served.token.expires_at >= old.expires_at);
            if newer {
                st.token = Some(served.token.clone());
            }
        }
        Ok(served.token)
    }

    fn warning(&self, message: String) {
        (self.warn)(&Warning::new(WarningKind::StaleToken, message));
    }

    /// One pass of the refresher: every identity whose token is due, that a caller asked for
    /// during the token's life, and that is not waiting out a failure, is refreshed (in the
    /// background, one at a time per identity).
    pub fn refresh_due(self: &Arc<Self>) {
        let now = self.clock.now();
        for id in self.identities() {
            let due = {
                let Ok(st) = id.state.lock() else { continue };
                match &st.token {
                    Some(t) => {
                        now >= refresh_at(t, self.base.cache.min_ttl)
                            && now >= st.retry_at
                            && st.last_asked >= t.obtained_at
                            && t.expires_at > now
                    }
                    None => false,
                }
            };
            if !due {
                continue;
            }
            let Ok(guard) = id.fetching.clone().try_lock_owned() else {
                continue;
            };
            let me = self.clone();
            tokio::spawn(async move {
                let _one = guard;
                me.refresh(&id).await;
            });
        }
    }

    /// Refreshes `id`'s token: through the cache with `min_ttl` raised just above what the current
    /// token has left, so that a token another process (or host) already refreshed is taken
    /// from the cache, and the current one is not.
    async fn refresh(&self, id: &Arc<Identity>) {
        let now = self.clock.now();
        let Some(old) = id.state.lock().ok().and_then(|st| st.token.clone()) else {
            return;
        };
        let mut plan = id.plan.clone();
        plan.cache.min_ttl = plan.cache.min_ttl.max((old.expires_at - now).max(0) as u64 + 1);
        plan.cache.force_refresh = false;
        tracing::debug!("refreshing the token for {} ahead of its expiry", id.label);
        let r = self.run_flow(id, plan).await;
        let renewed = matches!(&r, Ok(t) if t.expires_at > old.expires_at);
        let Ok(mut st) = id.state.lock() else { return };
        if renewed {
            st.backoff = 0;
            st.retry_at = 0;
            return;
        }
        id.failures.fetch_add(1, Ordering::Relaxed);
        st.backoff = (st.backoff * 2).clamp(2, MAX_BACKOFF);
        st.retry_at = self.clock.now() + st.backoff;
        let wait = st.backoff;
        drop(st);
        // The flow already warned when it kept a cached token; an error is said here.
        if let Err(e) = r {
            self.warning(format!(
                "refreshing the token for {} failed ({e}); serving the current one, which expires in {}; retrying in {wait} s",
                id.label,
                crate::clock::human_duration((old.expires_at - now).max(0) as u64)
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(obtained: i64, expires: i64) -> Token {
        Token {
            access_token: crate::Secret::new("t".into()),
            token_type: None,
            scope: None,
            obtained_at: obtained,
            expires_at: expires,
            extra: Default::default(),
        }
    }

    #[test]
    fn refresh_two_thirds_and_min_ttl() {
        // an hour: two thirds (40 min) comes before min_ttl (59 min)
        assert_eq!(refresh_at(&token(0, 3600), 60), 2400);
        // 5 minutes with min_ttl 2 min: min_ttl before expiry (180 s) comes before two thirds (200 s)
        assert_eq!(refresh_at(&token(0, 300), 120), 180);
        // min_ttl pushes it earlier than two thirds
        assert_eq!(refresh_at(&token(0, 300), 150), 150);
        // a token shorter than min_ttl: at half its life, not at once
        assert_eq!(refresh_at(&token(0, 30), 60), 15);
    }
}
