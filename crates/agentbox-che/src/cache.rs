//! [`WorkspaceCache`]: one watch of a namespace's agentbox DevWorkspaces, shared by everything a
//! provider waits for, so a thousand workspaces cost one watch connection, not a thousand.
//!
//! A kube-runtime reflector keeps the store; the watcher re-lists after a `410 Gone` and
//! retries failures with backoff (each failure is logged and remembered, never fatal). A
//! change to an object wakes only the waiters of that object (a `tokio::sync::watch` channel
//! per name), so an event costs the same however many workspaces wait; a re-list or a failure
//! wakes them all.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use futures::StreamExt;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::crd::DevWorkspace;

/// The label selecting the DevWorkspaces agentbox manages.
pub(crate) const MANAGED_SELECTOR: &str = "app.kubernetes.io/managed-by=agentbox";

/// The shared watch of one namespace.
pub(crate) struct WorkspaceCache {
    namespace: String,
    store: Store<DevWorkspace>,
    waiters: Arc<Waiters>,
    health: Arc<Health>,
    task: JoinHandle<()>,
}

/// The last failure of the watch.
#[derive(Debug, Clone)]
pub(crate) struct WatchFailure {
    /// The HTTP status, when the API server answered.
    pub(crate) code: Option<u16>,
    /// What failed.
    pub(crate) message: String,
}

/// How the watch has fared.
#[derive(Debug, Default)]
struct Health {
    last_error: Mutex<Option<WatchFailure>>,
    failures: AtomicU64,
}

/// Who waits for which object: a channel per name, bumped when that object changes.
#[derive(Debug, Default)]
struct Waiters {
    by_name: Mutex<HashMap<String, watch::Sender<u64>>>,
    /// The watch has stopped for good: channels handed out now are already closed.
    closed: AtomicBool,
}

impl Waiters {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, watch::Sender<u64>>> {
        self.by_name.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn subscribe(&self, name: &str) -> watch::Receiver<u64> {
        if self.closed.load(Ordering::Acquire) {
            return watch::channel(0).1;
        }
        self.map()
            .entry(name.to_owned())
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    fn notify(&self, name: &str) {
        let mut map = self.map();
        if let Some(tx) = map.get(name) {
            if tx.receiver_count() == 0 {
                map.remove(name);
            } else {
                tx.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
    }

    fn notify_all(&self) {
        self.map().retain(|_, tx| {
            tx.send_modify(|n| *n = n.wrapping_add(1));
            tx.receiver_count() > 0
        });
    }

    /// Close every channel: their waiters learn that the watch is gone.
    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.map().clear();
    }
}

/// Closes the waiters' channels when the watch task ends, however it ends (also when its
/// runtime shuts down and drops it).
struct CloseOnDrop(Arc<Waiters>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

impl std::fmt::Debug for WorkspaceCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkspaceCache")
            .field("namespace", &self.namespace)
            .field("objects", &self.store.len())
            .finish_non_exhaustive()
    }
}

impl WorkspaceCache {
    /// Start watching `api`'s namespace (call inside a tokio runtime).
    pub(crate) fn start(api: Api<DevWorkspace>, namespace: &str) -> Arc<Self> {
        let (store, writer) = reflector::store();
        let config = watcher::Config::default().labels(MANAGED_SELECTOR);
        let stream = reflector::reflector(writer, watcher(api, config).default_backoff());
        let waiters = Arc::new(Waiters::default());
        let health = Arc::new(Health::default());
        let task = tokio::spawn({
            let waiters = Arc::clone(&waiters);
            let health = Arc::clone(&health);
            let namespace = namespace.to_owned();
            async move {
                let _close = CloseOnDrop(Arc::clone(&waiters));
                let mut stream = std::pin::pin!(stream);
                while let Some(event) = stream.next().await {
                    match event {
                        Ok(watcher::Event::Apply(dw) | watcher::Event::Delete(dw)) => {
                            waiters.notify(&dw.name_any());
                        }
                        // A (re-)list is stored as a whole once it is done.
                        Ok(watcher::Event::InitDone) => waiters.notify_all(),
                        Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => {}
                        Err(error) => {
                            let failure = WatchFailure {
                                code: watch_error_code(&error),
                                message: error.to_string(),
                            };
                            tracing::warn!(namespace = %namespace, error = %failure.message, "watching DevWorkspaces failed; retrying with backoff");
                            *health
                                .last_error
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner) = Some(failure);
                            health.failures.fetch_add(1, Ordering::Relaxed);
                            // Waiters look again (and see the failure).
                            waiters.notify_all();
                        }
                    }
                }
            }
        });
        Arc::new(Self {
            namespace: namespace.to_owned(),
            store,
            waiters,
            health,
            task,
        })
    }

    /// Wait until the first list has been stored (returns at once if the watch is gone).
    pub(crate) async fn ready(&self) {
        let _ = self.store.wait_until_ready().await;
    }

    /// The stored DevWorkspace `name`, as last seen.
    pub(crate) fn get(&self, name: &str) -> Option<Arc<DevWorkspace>> {
        self.store
            .get(&ObjectRef::new(name).within(&self.namespace))
    }

    /// A receiver that changes whenever DevWorkspace `name` does, the namespace is listed
    /// again or the watch fails; it is closed once the watch is gone.
    pub(crate) fn subscribe(&self, name: &str) -> watch::Receiver<u64> {
        self.waiters.subscribe(name)
    }

    /// How many times the watch has failed so far.
    pub(crate) fn failures(&self) -> u64 {
        self.health.failures.load(Ordering::Relaxed)
    }

    /// The watch's last failure, if any.
    pub(crate) fn last_error(&self) -> Option<WatchFailure> {
        self.health
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for WorkspaceCache {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The HTTP status behind a watcher error, when the API server answered.
fn watch_error_code(error: &watcher::Error) -> Option<u16> {
    match error {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => Some(s.code),
        watcher::Error::WatchError(s) => Some(s.code),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_change_wakes_only_the_waiters_of_that_object() {
        let waiters = Waiters::default();
        let mut a = waiters.subscribe("a");
        let b = waiters.subscribe("b");
        waiters.notify("a");
        assert!(a.has_changed().unwrap());
        assert!(!b.has_changed().unwrap());
        a.borrow_and_update();
        waiters.notify_all();
        assert!(a.has_changed().unwrap() && b.has_changed().unwrap());
    }

    #[tokio::test]
    async fn channels_without_waiters_are_forgotten_and_closing_ends_every_wait() {
        let waiters = Waiters::default();
        drop(waiters.subscribe("gone"));
        waiters.notify("gone");
        assert!(waiters.map().is_empty());
        let mut kept = waiters.subscribe("kept");
        waiters.close();
        assert!(
            kept.changed().await.is_err(),
            "a closed watch ends the wait"
        );
        let mut late = waiters.subscribe("late");
        assert!(
            late.changed().await.is_err(),
            "so does one asked for afterwards"
        );
    }
}
