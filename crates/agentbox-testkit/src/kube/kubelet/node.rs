//! The node's shared state: its pods, image "registry", exec faults and counters, and what it
//! does when a pod appears, is deleted or vanishes.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use ::kube::Api;
use ::kube::api::{DeleteParams, Preconditions};
use ::kube::runtime::reflector::{self, Store};
use agentbox_core::contract::ImageRef;
use k8s_openapi::api::core::v1::Pod;
use tokio_util::task::TaskTracker;

use super::pod::{self, PodRuntime};
use super::storage::NodeStorage;

/// A fault cutting exec streams.
#[derive(Debug, Clone, Copy)]
pub(super) struct ExecCut {
    pub(super) after_stdout_bytes: u64,
    /// How many more sessions to cut; `None` for all.
    pub(super) remaining: Option<usize>,
}

/// Why an image cannot be pulled.
pub(crate) enum PullFailure {
    /// Not a valid reference (`InvalidImageName`).
    InvalidName(String),
    /// The registry does not have it (`ErrImagePull`).
    NotFound(String),
}

/// The node's state, shared by the watch loop, the pods and the exec handler.
#[derive(Debug)]
pub(crate) struct Node {
    pub(super) name: String,
    pub(crate) storage: NodeStorage,
    pub(super) failing_images: Mutex<HashSet<String>>,
    pub(crate) pull_backoff: Duration,
    /// Running pods by UID.
    pub(super) pods: Mutex<HashMap<String, Arc<PodRuntime>>>,
    /// UIDs of pods whose graceful deletion the kubelet is finishing.
    pub(super) terminating: Mutex<HashSet<String>>,
    pub(crate) store: Store<Pod>,
    pub(super) writer: Mutex<Option<reflector::store::Writer<Pod>>>,
    pub(super) exec_fault: Mutex<Option<ExecCut>>,
    pub(crate) exec_count: AtomicU64,
    pub(super) tasks: TaskTracker,
    pub(super) _temp: Option<tempfile::TempDir>,
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Node {
    /// The running pod with `uid`.
    pub(crate) fn pod(&self, uid: &str) -> Option<Arc<PodRuntime>> {
        lock(&self.pods).get(uid).cloned()
    }

    /// "Pull" `image`.
    pub(crate) fn pull(&self, image: &str) -> std::result::Result<(), PullFailure> {
        if image.parse::<ImageRef>().is_err() {
            return Err(PullFailure::InvalidName(format!(
                "Failed to apply default image tag \"{image}\": couldn't parse image name \"{image}\": invalid reference format"
            )));
        }
        if lock(&self.failing_images).contains(image) {
            return Err(PullFailure::NotFound(format!(
                "rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": {image}: not found"
            )));
        }
        Ok(())
    }

    /// The cut to apply to a new exec session, if a fault is armed.
    pub(crate) fn take_exec_cut(&self) -> Option<u64> {
        let mut fault = lock(&self.exec_fault);
        let cut = (*fault)?;
        match cut.remaining {
            Some(0) => {
                *fault = None;
                return None;
            }
            Some(n) => {
                let left = n - 1;
                *fault = (left > 0).then_some(ExecCut {
                    remaining: Some(left),
                    ..cut
                });
            }
            None => {}
        }
        Some(cut.after_stdout_bytes)
    }

    /// React to a pod added or changed.
    pub(super) fn observe(self: &Arc<Self>, client: &::kube::Client, pod: &Pod) {
        let bound = pod.spec.as_ref().and_then(|s| s.node_name.clone());
        if bound.as_deref().is_some_and(|n| n != self.name) {
            return;
        }
        let Some(uid) = pod.metadata.uid.clone() else {
            return;
        };
        if pod.metadata.deletion_timestamp.is_some() {
            if !lock(&self.terminating).insert(uid.clone()) {
                return;
            }
            let runtime = lock(&self.pods).remove(&uid);
            let (node, client, pod) = (Arc::clone(self), client.clone(), pod.clone());
            self.tasks.spawn(async move {
                if let Some(runtime) = runtime {
                    runtime.kill(&node).await;
                }
                if bound.is_some() {
                    node.finish_deletion(&client, &pod, &uid).await;
                }
            });
            return;
        }
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        if matches!(phase, Some("Succeeded" | "Failed")) {
            return;
        }
        let runtime = {
            let mut pods = lock(&self.pods);
            if pods.contains_key(&uid) {
                return;
            }
            let runtime = Arc::new(PodRuntime::new(pod.clone()));
            pods.insert(uid, Arc::clone(&runtime));
            runtime
        };
        tracing::info!(pod = %runtime.name, namespace = %runtime.namespace, "pod admitted");
        self.tasks
            .spawn(pod::run(Arc::clone(self), client.clone(), runtime));
    }

    /// Remove a pod whose containers are gone, as the kubelet ends a graceful deletion.
    async fn finish_deletion(&self, client: &::kube::Client, pod: &Pod, uid: &str) {
        let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: Some(uid.to_owned()),
                resource_version: None,
            }),
            ..DeleteParams::default().grace_period(0)
        };
        match pods.delete(name, &params).await {
            Ok(_) => tracing::debug!(pod = %name, "pod removed"),
            Err(::kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
            Err(e) => tracing::warn!(pod = %name, error = %e, "could not remove a terminated pod"),
        }
    }

    /// A pod is gone from the API: kill what is left of it.
    pub(super) fn forget(self: &Arc<Self>, uid: &str) {
        lock(&self.terminating).remove(uid);
        if let Some(runtime) = lock(&self.pods).remove(uid) {
            let node = Arc::clone(self);
            self.tasks.spawn(async move { runtime.kill(&node).await });
        }
    }

    /// After a relist, kill the pods that vanished while the watch was down.
    pub(super) fn forget_missing(self: &Arc<Self>) {
        let present: HashSet<String> = self
            .store
            .state()
            .iter()
            .filter_map(|p| p.metadata.uid.clone())
            .collect();
        let gone: Vec<String> = lock(&self.pods)
            .keys()
            .filter(|uid| !present.contains(*uid))
            .cloned()
            .collect();
        for uid in gone {
            self.forget(&uid);
        }
    }

    /// Tell every pod to die, without waiting (for `Drop`).
    pub(super) fn cancel_all(&self) {
        for runtime in lock(&self.pods).values() {
            runtime.token.cancel();
        }
    }

    /// Kill every pod and wait until their processes are gone.
    pub(super) async fn kill_all(self: &Arc<Self>) {
        let runtimes: Vec<Arc<PodRuntime>> = lock(&self.pods).drain().map(|(_, r)| r).collect();
        for runtime in runtimes {
            runtime.kill(self).await;
        }
    }
}
