//! [`WorkspaceCache`]: one watch of a namespace's agentbox DevWorkspaces, shared by everything a
//! provider waits for, so a thousand workspaces cost one watch connection, not a thousand.
//!
//! A kube-runtime reflector keeps the store; the watcher re-lists after a `410 Gone` and
//! retries failures with backoff (each failure is logged and remembered, never fatal). Every
//! event bumps a counter on a `tokio::sync::watch` channel so waiters wake and look again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use futures::StreamExt;
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
    changes: watch::Receiver<u64>,
    last_error: Arc<Mutex<Option<WatchFailure>>>,
    failures: Arc<AtomicU64>,
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
        let (tx, changes) = watch::channel(0u64);
        let last_error = Arc::new(Mutex::new(None));
        let config = watcher::Config::default().labels(MANAGED_SELECTOR);
        let stream = reflector::reflector(writer, watcher(api, config).default_backoff());
        let errors = Arc::clone(&last_error);
        let failures = Arc::new(AtomicU64::new(0));
        let failed = Arc::clone(&failures);
        let ns = namespace.to_owned();
        let task = tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream);
            while let Some(event) = stream.next().await {
                match event {
                    Ok(_) => {
                        tx.send_modify(|n| *n = n.wrapping_add(1));
                    }
                    Err(error) => {
                        let failure = WatchFailure {
                            code: watch_error_code(&error),
                            message: error.to_string(),
                        };
                        tracing::warn!(namespace = %ns, error = %failure.message, "watching DevWorkspaces failed; retrying with backoff");
                        *errors.lock().unwrap_or_else(PoisonError::into_inner) = Some(failure);
                        failed.fetch_add(1, Ordering::Relaxed);
                        // Waiters look again (and see the failure).
                        tx.send_modify(|n| *n = n.wrapping_add(1));
                    }
                }
            }
        });
        Arc::new(Self {
            namespace: namespace.to_owned(),
            store,
            changes,
            last_error,
            failures,
            task,
        })
    }

    /// Wait until the first list has been stored.
    pub(crate) async fn ready(&self) {
        // The writer lives in the task, which runs until this cache is dropped.
        let _ = self.store.wait_until_ready().await;
    }

    /// The stored DevWorkspace `name`, as last seen.
    pub(crate) fn get(&self, name: &str) -> Option<Arc<DevWorkspace>> {
        self.store
            .get(&ObjectRef::new(name).within(&self.namespace))
    }

    /// A receiver that changes whenever the store does.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.clone()
    }

    /// How many times the watch has failed so far.
    pub(crate) fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// The watch's last failure, if any.
    pub(crate) fn last_error(&self) -> Option<WatchFailure> {
        self.last_error
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
