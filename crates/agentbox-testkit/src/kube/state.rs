//! The state every request handler shares.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;

use super::counters::RequestCounters;
use super::faults::FaultKnobs;
use super::store::Store;

/// Shared by all handlers; the store is the only state behind a lock.
#[derive(Debug)]
pub(crate) struct ApiState {
    pub(crate) store: Arc<Mutex<Store>>,
    pub(crate) faults: FaultKnobs,
    pub(crate) counters: RequestCounters,
    /// How often watches that asked for bookmarks get one.
    pub(crate) bookmark_interval: Duration,
    /// `127.0.0.1:port`, for discovery's `serverAddressByClientCIDRs`.
    pub(crate) address: String,
    /// Becomes `true` when the server stops; open watches end.
    pub(crate) stopping: watch::Receiver<bool>,
}

impl ApiState {
    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        // A handler that panicked mid-request must not take the whole fake server down with
        // it; what it left behind is still the best state a test can observe.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }
}
