//! When and how long to wait before sending an export again (OTLP/HTTP specification, "Retryable
//! Response Codes" and "Failures").
//!
//! Only `429`, `502`, `503`, `504` and network errors are retried, with exponential backoff and
//! jitter; `Retry-After` (seconds or an HTTP date) overrides the backoff. Every other status is
//! final: a `400` means the payload was rejected and sending it again would fail again.

// The retry loop itself needs `fetch` and runs only in wasm32; natively these are unit-tested.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use std::time::Duration;

/// How the OTLP exporter retries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Wait before the first retry.
    pub initial_backoff: Duration,
    /// Longest wait between attempts; a `Retry-After` beyond it ends the retries.
    pub max_backoff: Duration,
    /// Growth of the wait per attempt.
    pub multiplier: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            multiplier: 2.0,
        }
    }
}

/// What to do after one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Done,
    Retry,
    GiveUp,
}

/// The verdict for an HTTP status.
pub(crate) fn verdict_for_status(status: u16) -> Verdict {
    match status {
        200..=299 => Verdict::Done,
        429 | 502 | 503 | 504 => Verdict::Retry,
        _ => Verdict::GiveUp,
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1 for the first retry), with `jitter` in `[0, 1)`
    /// spreading it over ±20% so that many pages do not retry in step.
    pub(crate) fn backoff(&self, retry: u32, jitter: f64) -> Duration {
        let base = self.initial_backoff.as_secs_f64() * self.multiplier.powi(retry.saturating_sub(1) as i32);
        let capped = base.min(self.max_backoff.as_secs_f64());
        Duration::from_secs_f64((capped * (0.8 + 0.4 * jitter)).max(0.0))
    }
}

/// Parses a `Retry-After` value: delay seconds, or an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37
/// GMT`) relative to `now_unix_ms`. A date in the past means "now".
pub(crate) fn parse_retry_after(value: &str, now_unix_ms: f64) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = parse_http_date(value)?;
    let wait_ms = (at as f64 * 1e3 - now_unix_ms).max(0.0);
    Some(Duration::from_millis(wait_ms as u64))
}

/// Seconds since the epoch of an IMF-fixdate.
fn parse_http_date(value: &str) -> Option<i64> {
    let mut parts = value.split_ascii_whitespace();
    let _weekday = parts.next()?.strip_suffix(',')?;
    let day: i64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if parts.next()? != "GMT" || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3_600 + m * 60 + s)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_throttling_and_gateway_errors_are_retried() {
        for status in [429, 502, 503, 504] {
            assert_eq!(verdict_for_status(status), Verdict::Retry, "{status}");
        }
        for status in [400, 401, 403, 404, 413, 415, 500, 501] {
            assert_eq!(verdict_for_status(status), Verdict::GiveUp, "{status}");
        }
        assert_eq!(verdict_for_status(200), Verdict::Done);
        assert_eq!(verdict_for_status(204), Verdict::Done);
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.backoff(1, 0.5), Duration::from_secs(1));
        assert_eq!(policy.backoff(3, 0.5), Duration::from_secs(4));
        assert_eq!(policy.backoff(20, 0.5), Duration::from_secs(30));
        assert_eq!(policy.backoff(1, 0.0), Duration::from_millis(800));
        assert!(policy.backoff(1, 0.999) <= Duration::from_millis(1200));
    }

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        assert_eq!(parse_retry_after(" 3 ", 0.0), Some(Duration::from_secs(3)));
        // 784111777 is Sun, 06 Nov 1994 08:49:37 GMT.
        let now = 784_111_777_000.0 - 5_000.0;
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), Some(Duration::from_secs(5)));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now + 60_000.0), Some(Duration::ZERO));
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(parse_http_date("Tue, 29 Feb 2028 12:00:00 GMT"), Some(1_835_438_400));
        for bad in ["soon", "-1", "Sun, 06 Nov 1994 08:49:37 PST", "Sun, 32 Nov 1994 08:49:37 GMT", ""] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }
}
