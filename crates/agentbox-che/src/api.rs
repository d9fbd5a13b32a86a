//! Calls to the API server: each one bounded by a deadline, retried with bounded backoff when
//! the failure is worth retrying (429, 5xx, a conflict, a dropped connection).

use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};

use crate::error::{ApiAction, CheError};

/// How requests to the API server are bounded and retried.
///
/// A 409 `Conflict` is retried unchanged: the provider writes with JSON merge patches that
/// carry no `resourceVersion`, so a retry is always made against the fresh object. A client
/// built from a default `kube::Config` also retries 429, 503 and 504 itself (its
/// `default_retry`); these retries come on top, and [`RetryPolicy::call_timeout`] bounds both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The deadline of one call, retries included.
    pub call_timeout: Duration,
    /// Attempts after the first.
    pub retries: usize,
    /// The first backoff delay; each next one doubles (with jitter).
    pub min_delay: Duration,
    /// The longest backoff delay (also the cap on a server's `retryAfterSeconds`).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            call_timeout: Duration::from_secs(30),
            retries: 6,
            min_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(3),
        }
    }
}

impl RetryPolicy {
    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.retries)
            .with_jitter()
    }

    /// Run `attempt` until it succeeds, fails for good, runs out of retries, or the call's
    /// deadline passes.
    pub(crate) async fn call<T, F, Fut>(&self, action: ApiAction, attempt: F) -> Result<T, CheError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        let max_delay = self.max_delay;
        let retried = attempt
            .retry(self.backoff())
            .sleep(tokio::time::sleep)
            .when(is_retryable)
            .adjust(move |error, delay| match retry_after(error) {
                // `None` from the backoff means no retries are left; a server's wish adds none.
                Some(asked) => delay.map(|d| d.max(asked.min(max_delay))),
                None => delay,
            })
            .notify(|error, delay| {
                tracing::debug!(%error, ?delay, "retrying a Kubernetes API call");
            });
        match tokio::time::timeout(self.call_timeout, retried).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(CheError::kube(action, error)),
            Err(_) => Err(CheError::Deadline {
                what: format!("the API call to {action}"),
                after: self.call_timeout,
            }),
        }
    }
}

/// Whether a failed call may succeed when tried again unchanged.
pub(crate) fn is_retryable(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => {
            matches!(status.code, 429 | 500 | 502 | 503 | 504)
                || (status.code == 409 && status.reason == "Conflict")
        }
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

/// The delay a server asked for (`details.retryAfterSeconds`), if any.
fn retry_after(error: &kube::Error) -> Option<Duration> {
    match error {
        kube::Error::Api(status) => status
            .details
            .as_ref()
            .map(|d| Duration::from_secs(u64::from(d.retry_after_seconds)))
            .filter(|d| !d.is_zero()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn status(code: u16, reason: &str) -> kube::Error {
        kube::Error::Api(Status::failure("test", reason).with_code(code).boxed())
    }

    fn quick() -> RetryPolicy {
        RetryPolicy {
            call_timeout: Duration::from_secs(5),
            retries: 3,
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
        }
    }

    fn action() -> ApiAction {
        ApiAction::new("get", "devworkspaces", "ns")
    }

    #[tokio::test]
    async fn throttling_and_server_errors_are_retried_until_success() {
        let calls = AtomicUsize::new(0);
        let got = quick()
            .call(action(), || async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(status(429, "TooManyRequests")),
                    1 => Err(status(503, "ServiceUnavailable")),
                    _ => Ok(7),
                }
            })
            .await
            .unwrap();
        assert_eq!(got, 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn retries_are_bounded() {
        let calls = AtomicUsize::new(0);
        let err = quick()
            .call(action(), || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(status(500, "InternalError"))
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(500));
        assert_eq!(calls.load(Ordering::SeqCst), 4, "one try and three retries");
    }

    #[tokio::test]
    async fn client_errors_are_not_retried() {
        let calls = AtomicUsize::new(0);
        let err = quick()
            .call(action(), || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(status(403, "Forbidden"))
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(403));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_never_outlives_its_deadline() {
        let policy = RetryPolicy {
            call_timeout: Duration::from_secs(2),
            ..quick()
        };
        let err = policy
            .call(action(), || {
                std::future::pending::<Result<(), kube::Error>>()
            })
            .await
            .unwrap_err();
        assert!(matches!(err, CheError::Deadline { .. }), "{err}");
    }
}
