//! Time: the local clock, and the skew measured from a server's `Date` header.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where the token flow reads the time: the system clock in use, a fixed one in tests, so that
/// freshness, stale fallback and refresh can be specified without waiting.
pub trait Clock: Send + Sync {
    /// Seconds since the Unix epoch.
    fn now(&self) -> i64;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        now()
    }
}

/// A clock that says what it is told.
///
/// ```
/// use signet::clock::{Clock, FixedClock};
/// let c = FixedClock::new(1_000);
/// c.advance(60);
/// assert_eq!(c.now(), 1_060);
/// ```
#[derive(Debug, Default)]
pub struct FixedClock(std::sync::atomic::AtomicI64);

impl FixedClock {
    /// A clock stopped at `secs`.
    pub fn new(secs: i64) -> FixedClock {
        FixedClock(std::sync::atomic::AtomicI64::new(secs))
    }

    /// Moves it forward by `secs`.
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> i64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Seconds since the Unix epoch, now.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Parses an HTTP `Date` (IMF-fixdate and the older forms) into Unix seconds.
pub fn parse_http_date(s: &str) -> Option<i64> {
    httpdate::parse_http_date(s.trim())
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
}

/// Formats Unix seconds as an HTTP date.
pub fn http_date(secs: i64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64))
}

/// Formats Unix seconds as RFC 3339 in UTC with `Z` and whole seconds.
///
/// ```
/// assert_eq!(signet::clock::rfc3339(0), "1970-01-01T00:00:00Z");
/// ```
pub fn rfc3339(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| secs.to_string())
}

/// A duration in words with at most two units: `4m 12s`, `3h`, `2d 5h`.
///
/// ```
/// assert_eq!(signet::clock::human_duration(252), "4m 12s");
/// assert_eq!(signet::clock::human_duration(3 * 3600), "3h");
/// ```
pub fn human_duration(secs: u64) -> String {
    const UNITS: [(u64, &str); 4] = [(86400, "d"), (3600, "h"), (60, "m"), (1, "s")];
    if secs == 0 {
        return "0s".into();
    }
    let mut parts = Vec::new();
    let mut rest = secs;
    for (i, (size, name)) in UNITS.iter().enumerate() {
        if rest >= *size {
            parts.push(format!("{}{name}", rest / size));
            rest %= size;
            if let Some((next, nname)) = UNITS.get(i + 1) {
                let n = rest / next;
                if n > 0 {
                    parts.push(format!("{n}{nname}"));
                }
            }
            break;
        }
    }
    parts.join(" ")
}

/// "expires in 4m 12s" / "expired 3h ago" for an `exp` value.
pub fn describe_expiry(exp: i64, now: i64) -> String {
    if exp > now {
        format!("expires in {}", human_duration((exp - now) as u64))
    } else {
        format!("expired {} ago", human_duration((now - exp) as u64))
    }
}

/// "in 2m" / "12s ago" for any time.
pub fn describe_relative(t: i64, now: i64) -> String {
    if t > now {
        format!("in {}", human_duration((t - now) as u64))
    } else if t == now {
        "now".into()
    } else {
        format!("{} ago", human_duration((now - t) as u64))
    }
}
