//! [`RetryPolicy`]: which failures are retried, and how long to wait between tries.
//!
//! 429, 408 and 5xx answers and connection failures (refused, reset, timed out) are retried
//! with exponential backoff and jitter; a `Retry-After` header (seconds or an HTTP date)
//! replaces the backoff delay. 400, 401, 403 and every other status are never retried (a
//! Copilot 401 is answered once with a fresh token instead, see
//! [`CopilotClient`](crate::CopilotClient)).

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use reqwest::StatusCode;
use std::time::{Duration, SystemTime};

/// How often and how long to retry a failed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    max_retries: u32,
    initial_delay: Duration,
    max_delay: Duration,
    max_total_delay: Duration,
}

impl Default for RetryPolicy {
    /// 4 retries, from 500 ms doubling up to 30 s each, at most 60 s of waiting in all.
    fn default() -> Self {
        Self {
            max_retries: 4,
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_total_delay: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// At most this many retries after the first try.
    pub fn with_max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The backoff delay before the first retry (it doubles for each further one).
    pub fn with_initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }

    /// The largest backoff delay (before jitter).
    pub fn with_max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// The most time spent waiting between tries of one call; a `Retry-After` that would go
    /// past it ends the retries.
    pub fn with_max_total_delay(mut self, delay: Duration) -> Self {
        self.max_total_delay = delay;
        self
    }

    /// The most retries after the first try.
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }

    pub(crate) fn start(&self) -> Attempts {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.initial_delay)
            .with_max_delay(self.max_delay)
            .with_factor(2.0)
            .with_jitter()
            .with_max_times(usize::try_from(self.max_retries).unwrap_or(usize::MAX))
            .build();
        Attempts {
            max_total_delay: self.max_total_delay,
            backoff,
            retries: 0,
            waited: Duration::ZERO,
        }
    }
}

/// The retry state of one call.
#[derive(Debug)]
pub(crate) struct Attempts {
    max_total_delay: Duration,
    backoff: ExponentialBackoff,
    retries: u32,
    waited: Duration,
}

impl Attempts {
    /// Retries made so far.
    pub(crate) fn retries(&self) -> u32 {
        self.retries
    }

    /// Counts a retry that needs no wait (a fresh token after a 401).
    pub(crate) fn count_immediate_retry(&mut self) {
        self.retries += 1;
    }

    /// The wait before the next try (`retry_after` when the server gave one), or `None` when
    /// the retries or the total waiting time are used up.
    pub(crate) fn next_delay(&mut self, retry_after: Option<Duration>) -> Option<Duration> {
        let backoff = self.backoff.next()?;
        let delay = retry_after.unwrap_or(backoff);
        let waited = self.waited.checked_add(delay)?;
        if waited > self.max_total_delay {
            return None;
        }
        self.waited = waited;
        self.retries += 1;
        Some(delay)
    }
}

/// Whether an answer with this status is worth trying again.
pub(crate) fn is_retryable_status(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.is_server_error()
}

/// Whether a transport failure is worth trying again: no connection, a reset, a timeout.
pub(crate) fn is_retryable_transport(error: &reqwest::Error) -> bool {
    error.is_connect() || error.is_timeout() || error.is_request() || error.is_body()
}

/// A `Retry-After` value: delay seconds, or an HTTP date (a date in the past means now).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds() {
        assert_eq!(
            parse_retry_after(" 7 ", SystemTime::now()),
            Some(Duration::from_secs(7))
        );
    }

    #[test]
    fn retry_after_as_an_http_date() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        let later = parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now);
        assert_eq!(later, Some(Duration::from_secs(30)));
    }

    #[test]
    fn retry_after_in_the_past_means_now() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn unreadable_retry_after_is_ignored() {
        assert_eq!(parse_retry_after("soon", SystemTime::now()), None);
    }

    #[test]
    fn retry_after_replaces_the_backoff_delay() {
        let mut attempts = RetryPolicy::default().start();
        assert_eq!(
            attempts.next_delay(Some(Duration::from_secs(3))),
            Some(Duration::from_secs(3))
        );
        assert_eq!(attempts.retries(), 1);
    }

    #[test]
    fn backoff_grows_and_stays_within_jitter_bounds() {
        let policy = RetryPolicy::default()
            .with_initial_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_millis(400))
            .with_max_total_delay(Duration::from_secs(60));
        let mut attempts = policy.start();
        let delays: Vec<Duration> = std::iter::from_fn(|| attempts.next_delay(None)).collect();
        assert_eq!(delays.len(), 4);
        // Jitter adds up to one more delay: try n waits in [d_n, 2 d_n).
        for (delay, base) in delays.iter().zip([100, 200, 400, 400]) {
            let base = Duration::from_millis(base);
            assert!(
                *delay >= base && *delay < base * 2,
                "{delay:?} for base {base:?}"
            );
        }
    }

    #[test]
    fn retries_stop_at_the_cap() {
        let mut attempts = RetryPolicy::default().with_max_retries(2).start();
        assert!(attempts.next_delay(Some(Duration::ZERO)).is_some());
        assert!(attempts.next_delay(Some(Duration::ZERO)).is_some());
        assert_eq!(attempts.next_delay(Some(Duration::ZERO)), None);
        assert_eq!(attempts.retries(), 2);
    }

    #[test]
    fn a_retry_after_past_the_total_budget_ends_the_retries() {
        let mut attempts = RetryPolicy::default()
            .with_max_total_delay(Duration::from_secs(10))
            .start();
        assert_eq!(attempts.next_delay(Some(Duration::from_secs(11))), None);
        assert_eq!(attempts.retries(), 0);
    }

    #[test]
    fn no_retries_under_the_none_policy() {
        assert_eq!(RetryPolicy::none().start().next_delay(None), None);
    }

    #[test]
    fn only_throttling_timeouts_and_server_errors_are_retryable() {
        for status in [429, 408, 500, 502, 503, 504] {
            assert!(
                is_retryable_status(StatusCode::from_u16(status).unwrap()),
                "{status}"
            );
        }
        for status in [400, 401, 403, 404, 422] {
            assert!(
                !is_retryable_status(StatusCode::from_u16(status).unwrap()),
                "{status}"
            );
        }
    }
}
