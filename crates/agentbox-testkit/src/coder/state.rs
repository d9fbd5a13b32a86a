//! [`Shared`]: the state every handler and build task of one fake coderd works on, and the
//! publication of every workspace change to its watchers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use secrecy::SecretString;
use serde_json::Value;
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

use super::backing::Backing;
use super::counters::CounterSet;
use super::faults::Faults;
use super::pty::PtyRegistry;
use super::render;
use super::schema::CoderApiSchema;
use super::store::Store;

/// How many workspace snapshots a slow watcher may fall behind before it skips to the latest.
const WATCH_BACKLOG: usize = 256;

/// How long each phase of a build, and of its agent's start, takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// A new build's job stays `pending` (queued for a provisioner) this long.
    pub queued: Duration,
    /// Then it stays `running` (Terraform applying) at least this long.
    pub build: Duration,
    /// After a start succeeded, the agent stays `connecting`/`created` this long.
    pub agent_connect: Duration,
    /// Then `connected`/`starting` (startup scripts) this long before `ready`.
    pub agent_ready: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            queued: Duration::from_millis(20),
            build: Duration::from_millis(40),
            agent_connect: Duration::from_millis(20),
            agent_ready: Duration::from_millis(20),
        }
    }
}

/// Settings fixed at start.
#[derive(Debug)]
pub(crate) struct Settings {
    pub token: SecretString,
    pub mount_path: String,
    pub timings: Timings,
    pub version: String,
    pub watch_ws: bool,
    pub heartbeat: Duration,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub settings: Settings,
    pub base_url: String,
    pub deployment_id: Uuid,
    pub faults: Faults,
    pub counters: CounterSet,
    pub backing: Backing,
    pub ptys: PtyRegistry,
    /// Bumped on every change to the store (followers of build logs wait on it).
    pub changes: watch::Sender<u64>,
    /// `true` once the server is shutting down.
    pub shutdown: watch::Sender<bool>,
    schema: Option<Arc<CoderApiSchema>>,
    store: Mutex<Store>,
    /// Per workspace: its snapshots, sent while the store lock is held so they arrive in order.
    watchers: Mutex<HashMap<Uuid, broadcast::Sender<Arc<Value>>>>,
    violations: Mutex<Vec<String>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock cannot leave this test double's records half-updated in a
    // way that matters more than the panic itself; a poisoned lock is used as it is.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub fn new(
        settings: Settings,
        base_url: String,
        store: Store,
        faults: Faults,
        backing: Backing,
        schema: Option<Arc<CoderApiSchema>>,
    ) -> Self {
        Self {
            settings,
            base_url,
            deployment_id: Uuid::new_v4(),
            faults,
            counters: CounterSet::default(),
            backing,
            ptys: PtyRegistry::default(),
            changes: watch::Sender::new(0),
            shutdown: watch::Sender::new(false),
            schema,
            store: Mutex::new(store),
            watchers: Mutex::new(HashMap::new()),
            violations: Mutex::new(Vec::new()),
        }
    }

    /// Read the store.
    pub fn read<R>(&self, f: impl FnOnce(&Store) -> R) -> R {
        f(&lock(&self.store))
    }

    /// Change the store, then publish workspace `workspace` to its watchers.
    pub fn mutate<R>(&self, workspace: Uuid, f: impl FnOnce(&mut Store) -> R) -> R {
        let mut store = lock(&self.store);
        let result = f(&mut store);
        if let Some(w) = store.workspace_mut(workspace) {
            w.updated_at = chrono::Utc::now();
        }
        if let Some(w) = store.workspace(workspace) {
            let snapshot = Arc::new(render::workspace(&store, w));
            if let Some(tx) = lock(&self.watchers).get(&workspace) {
                // No receiver is not an error: nobody watches this workspace right now.
                let _ = tx.send(snapshot);
            }
        }
        drop(store);
        self.changes.send_modify(|n| *n += 1);
        result
    }

    /// The current snapshot of a workspace and a receiver of every later one.
    pub fn subscribe(&self, workspace: Uuid) -> Option<(Value, broadcast::Receiver<Arc<Value>>)> {
        let store = lock(&self.store);
        let w = store.workspace(workspace)?;
        let current = render::workspace(&store, w);
        let rx = lock(&self.watchers)
            .entry(workspace)
            .or_insert_with(|| broadcast::channel(WATCH_BACKLOG).0)
            .subscribe();
        Some((current, rx))
    }

    /// The schema responses are checked against.
    pub fn schema(&self) -> &CoderApiSchema {
        match &self.schema {
            Some(schema) => schema,
            None => CoderApiSchema::vendored(),
        }
    }

    /// Record that something sent in `context` did not match the schema.
    pub fn record_violations(&self, context: &str, errors: Vec<String>) {
        if errors.is_empty() {
            return;
        }
        tracing::warn!(
            context,
            ?errors,
            "fake coderd sent a body the swagger does not allow"
        );
        lock(&self.violations).extend(errors.into_iter().map(|e| format!("{context}: {e}")));
    }

    pub fn violations(&self) -> Vec<String> {
        lock(&self.violations).clone()
    }

    /// Resolves when the server shuts down.
    pub async fn shutting_down(&self) {
        let mut rx = self.shutdown.subscribe();
        // The sender lives in `self`: the channel cannot close while this waits.
        let _ = rx.wait_for(|stopping| *stopping).await;
    }

    /// Sleep `duration`, or less if the server shuts down (then `false`).
    pub async fn pause(&self, duration: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(duration) => true,
            () = self.shutting_down() => false,
        }
    }
}
