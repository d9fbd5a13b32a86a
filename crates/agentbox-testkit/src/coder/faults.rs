//! [`Faults`]: knobs that make the fake coderd misbehave the way a real deployment can.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;

/// Fault knobs of a running [`FakeCoderd`](super::FakeCoderd); cheap to clone, every clone
/// controls the same server.
#[derive(Debug, Clone)]
pub struct Faults {
    inner: Arc<FaultState>,
}

#[derive(Debug)]
struct FaultState {
    build_failure: Mutex<Option<Vec<String>>>,
    agent_start_error: AtomicBool,
    reject_tokens: AtomicBool,
    drop_websockets: watch::Sender<u64>,
    drop_pty_after: Mutex<Option<usize>>,
    slow_builds: Mutex<Duration>,
    holds: watch::Sender<usize>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            inner: Arc::new(FaultState {
                build_failure: Mutex::new(None),
                agent_start_error: AtomicBool::new(false),
                reject_tokens: AtomicBool::new(false),
                drop_websockets: watch::Sender::new(0),
                drop_pty_after: Mutex::new(None),
                slow_builds: Mutex::new(Duration::ZERO),
                holds: watch::Sender::new(0),
            }),
        }
    }
}

/// Keeps builds from finishing while it lives, so the client sees a build that stays active
/// (and gets 409 for a new one). Made by [`Faults::hold_builds`]; builds go on when it is
/// dropped or [released](BuildHold::release).
#[derive(Debug)]
#[must_use = "builds are released as soon as the hold is dropped"]
pub struct BuildHold {
    holds: watch::Sender<usize>,
}

impl BuildHold {
    /// Let builds finish.
    pub fn release(self) {}
}

impl Drop for BuildHold {
    fn drop(&mut self) {
        self.holds.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl Faults {
    /// The next build created fails: its job ends `failed`, with the last line as its `error`
    /// (or a generic message when `logs` is empty), and `logs` at level `error` in its
    /// `/logs`. A failed start leaves no running workspace behind.
    pub fn fail_next_build(&self, logs: Vec<String>) {
        *lock(&self.inner.build_failure) = Some(logs);
    }

    /// The agent of the next start build ends in lifecycle state `start_error` (its startup
    /// script failed) instead of `ready`; it stays connected, and commands still run.
    pub fn agent_start_error(&self) {
        self.inner.agent_start_error.store(true, Ordering::SeqCst);
    }

    /// While `true`, every authenticated request gets 401, whatever token it carries (as
    /// after the session token expired or was revoked).
    pub fn reject_tokens(&self, reject: bool) {
        self.inner.reject_tokens.store(reject, Ordering::SeqCst);
    }

    /// Drop every open WebSocket (watches, PTYs, followed logs) without a close frame, as a
    /// proxy restart would. PTY sessions stay alive; reconnecting with the same `reconnect`
    /// id re-attaches to them.
    pub fn drop_websockets_now(&self) {
        self.inner.drop_websockets.send_modify(|n| *n += 1);
    }

    /// Drop the next PTY connection (no close frame) once it has sent `bytes` bytes of output.
    pub fn drop_pty_after(&self, bytes: usize) {
        *lock(&self.inner.drop_pty_after) = Some(bytes);
    }

    /// Add `extra` to the running phase of every later build (zero: back to normal).
    pub fn slow_builds(&self, extra: Duration) {
        *lock(&self.inner.slow_builds) = extra;
    }

    /// Keep every build in its running phase until the returned hold is released.
    pub fn hold_builds(&self) -> BuildHold {
        self.inner.holds.send_modify(|n| *n += 1);
        BuildHold {
            holds: self.inner.holds.clone(),
        }
    }

    pub(crate) fn take_build_failure(&self) -> Option<Vec<String>> {
        lock(&self.inner.build_failure).take()
    }

    pub(crate) fn take_agent_start_error(&self) -> bool {
        self.inner.agent_start_error.swap(false, Ordering::SeqCst)
    }

    pub(crate) fn rejecting_tokens(&self) -> bool {
        self.inner.reject_tokens.load(Ordering::SeqCst)
    }

    /// Changes whenever [`drop_websockets_now`](Self::drop_websockets_now) is called.
    pub(crate) fn websocket_drops(&self) -> watch::Receiver<u64> {
        self.inner.drop_websockets.subscribe()
    }

    pub(crate) fn take_pty_drop(&self) -> Option<usize> {
        lock(&self.inner.drop_pty_after).take()
    }

    pub(crate) fn extra_build_time(&self) -> Duration {
        *lock(&self.inner.slow_builds)
    }

    /// Resolves once no [`BuildHold`] is alive.
    pub(crate) async fn builds_released(&self) {
        let mut holds = self.inner.holds.subscribe();
        // The sender lives in `self`, so the channel cannot close while this waits.
        let _ = holds.wait_for(|n| *n == 0).await;
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
