//! [`FakeKubelet`]: a node that runs pods as real local processes and serves `pods/exec`.

mod containers;
mod env;
mod exec;
mod node;
mod pod;
mod status;
mod storage;
mod stream;

pub use storage::{NodeStorage, VolumeInfo, VolumeKey, VolumeSource};

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ::kube::Api;
use ::kube::runtime::WatchStreamExt;
use ::kube::runtime::reflector;
use ::kube::runtime::watcher::{self, Event};
use agentbox_core::Error;
use agentbox_local::{Isolation, LocalProvider};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use tokio_util::task::TaskTracker;

use node::{ExecCut, Node, lock};

use super::FakeApiError;

/// The node's address, reported as `status.hostIP`.
pub(crate) const HOST_IP: &str = "127.0.0.1";

/// The name a [`FakeKubelet`] registers under unless told otherwise.
pub const DEFAULT_NODE_NAME: &str = "agentbox-fake-node";

/// Builds a [`FakeKubelet`].
#[derive(Debug, Clone)]
pub struct FakeKubeletBuilder {
    node_name: String,
    root: Option<PathBuf>,
    isolation: Isolation,
    failing_images: HashSet<String>,
    pull_backoff: Duration,
    binds: Vec<(PathBuf, String)>,
}

impl Default for FakeKubeletBuilder {
    fn default() -> Self {
        Self {
            node_name: DEFAULT_NODE_NAME.to_owned(),
            root: None,
            isolation: Isolation::Auto,
            failing_images: HashSet::new(),
            pull_backoff: Duration::from_millis(20),
            binds: Vec::new(),
        }
    }
}

impl FakeKubeletBuilder {
    /// The node's name (default [`DEFAULT_NODE_NAME`]): pods with this `spec.nodeName`, or
    /// with none, run here.
    pub fn node_name(mut self, name: impl Into<String>) -> Self {
        self.node_name = name.into();
        self
    }

    /// Keep volumes under `root` (default: a temporary directory removed with the kubelet).
    pub fn root(mut self, root: impl Into<PathBuf>) -> Self {
        self.root = Some(root.into());
        self
    }

    /// How containers are isolated (default [`Isolation::Auto`]: bubblewrap, refused when it
    /// does not work).
    pub fn isolation(mut self, isolation: Isolation) -> Self {
        self.isolation = isolation;
        self
    }

    /// Pulling `image` fails (`ErrImagePull`, then `ImagePullBackOff`), as for an image the
    /// registry does not have. The name is compared as written in the pod.
    pub fn fail_image(mut self, image: impl Into<String>) -> Self {
        self.failing_images.insert(image.into());
        self
    }

    /// How long a failed pull shows `ErrImagePull` before `ImagePullBackOff` (default 20 ms).
    pub fn pull_backoff(mut self, backoff: Duration) -> Self {
        self.pull_backoff = backoff;
        self
    }

    /// Bind the host directory `host_path` read-write at `sandbox_path` in every container
    /// (e.g. a directory of test git remotes for project-clone to clone from: the sandbox
    /// hides `/tmp`, `/home`, `/root` and `/run` of the host). Checked by
    /// [`build`](Self::build) as `agentbox_local::LocalProviderBuilder::bind` checks it.
    pub fn bind(mut self, host_path: impl Into<PathBuf>, sandbox_path: impl Into<String>) -> Self {
        self.binds.push((host_path.into(), sandbox_path.into()));
        self
    }

    /// Create the node's storage and build the kubelet; it does nothing until
    /// [`FakeKubelet::run`].
    pub fn build(self) -> Result<FakeKubelet, FakeApiError> {
        let (temp, root) = match self.root {
            Some(root) => (None, root),
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("agentbox-kubelet-")
                    .tempdir()
                    .map_err(|source| FakeApiError::Node {
                        source: Error::Io {
                            action: "create the fake kubelet's directory",
                            path: std::env::temp_dir(),
                            source,
                        },
                    })?;
                let root = temp.path().join("volumes");
                (Some(temp), root)
            }
        };
        let mut provider = LocalProvider::builder()
            .root(root)
            .isolation(self.isolation);
        for (host, target) in self.binds {
            provider = provider.bind(host, target);
        }
        let provider = provider
            .build()
            .map_err(|source| FakeApiError::Node { source })?;
        let (store, writer) = reflector::store();
        Ok(FakeKubelet {
            node: Arc::new(Node {
                name: self.node_name,
                storage: NodeStorage::new(provider),
                failing_images: Mutex::new(self.failing_images),
                pull_backoff: self.pull_backoff,
                pods: Mutex::new(HashMap::new()),
                terminating: Mutex::new(HashSet::new()),
                store,
                writer: Mutex::new(Some(writer)),
                exec_fault: Mutex::new(None),
                exec_count: AtomicU64::new(0),
                tasks: TaskTracker::new(),
                _temp: temp,
            }),
        })
    }
}

/// A fake kubelet: a node that runs pods as real local processes and serves `pods/exec`.
///
/// It talks to the API server as a kubelet does, through a [`kube::Client`]: a reflector
/// watches Pods (those bound to its node, or to no node, since there is no scheduler); each
/// new pod is admitted, its images are "pulled" (an image marked with
/// [`FakeKubeletBuilder::fail_image`] fails with `ErrImagePull`, then `ImagePullBackOff`),
/// its volume is mounted, its init containers run to completion and its main containers
/// start, and every step is reported through the `pods/status` subresource. When a pod is
/// deleted (gracefully: `deletionTimestamp` set) its processes are killed and the kubelet
/// removes it with `gracePeriodSeconds: 0`.
///
/// Containers are `agentbox-local` workspaces: commands run in a bubblewrap sandbox (no
/// network) that sees the host's system files read-only and the pod's volume read-write at
/// its mount path. A `persistentVolumeClaim` volume lives in the node's [`NodeStorage`],
/// keyed by claim and sub-path, so files survive the pod; an `emptyDir` lives with its pod.
///
/// Its [`router`](FakeKubelet::router) serves `pods/exec` over WebSocket (`v5.channel.k8s.io`
/// and `v4.channel.k8s.io`) for the API server to mount, so `Api::<Pod>::exec` works as
/// against a cluster: separate stdout and stderr streamed as produced, stdin streamed, the
/// exit status in the final `metav1.Status`, and the process left running (stdin closed) if
/// the client disconnects.
///
/// Limits, each one a difference from a real node: one volume per pod is backed (the first
/// `persistentVolumeClaim` or `emptyDir` its first container mounts, else scratch space at
/// `/tmp`), and all containers of a pod share it; a container's image is not pulled, so a
/// command runs with the host's programs; a container without `command` runs `args` as its
/// argv (images' entrypoints are unknown), and one with neither runs no process but counts
/// as running; a main container whose process ends waits in `CrashLoopBackOff` and is not
/// restarted; commands start in the container's `workingDir` when it lies in the volume,
/// else at the volume's mount path; `tty=true` gets no terminal (stderr joins stdout); the
/// volume's memory limit is the first container's of the first pod that mounted it; the
/// environment's `valueFrom` Secrets and ConfigMaps are read through the API, so they
/// resolve only where the API server serves those kinds.
///
/// Build it with [`FakeKubelet::builder`], mount [`router`](Self::router) in the API server,
/// then [`run`](Self::run) it with a client of that server; [`FakeCluster`](super::FakeCluster)
/// does all three. Cheap to clone; clones share the node.
#[derive(Debug, Clone)]
pub struct FakeKubelet {
    node: Arc<Node>,
}

impl FakeKubelet {
    /// A builder with the defaults.
    pub fn builder() -> FakeKubeletBuilder {
        FakeKubeletBuilder::default()
    }

    /// The node's name.
    pub fn node_name(&self) -> &str {
        &self.node.name
    }

    /// The routes the API server must serve for this node:
    /// `GET /api/v1/namespaces/{namespace}/pods/{name}/exec`.
    pub fn router(&self) -> axum::Router {
        axum::Router::new()
            .route(
                "/api/v1/namespaces/{namespace}/pods/{name}/exec",
                axum::routing::get(exec::exec),
            )
            .with_state(Arc::clone(&self.node))
    }

    /// Watch pods through `client` and run them, until the future is dropped or the watch
    /// ends. Give it a client whose `User-Agent` starts with `agentbox-testkit/` so the
    /// server's faults spare it. Returns at once when the kubelet already runs.
    pub async fn run(&self, client: ::kube::Client) {
        let Some(writer) = lock(&self.node.writer).take() else {
            tracing::warn!(node = %self.node.name, "the kubelet already runs; run it once");
            return;
        };
        let api: Api<Pod> = Api::all(client.clone());
        let events =
            reflector::reflector(writer, watcher::watcher(api, watcher::Config::default()))
                .default_backoff();
        let mut events = std::pin::pin!(events);
        while let Some(event) = events.next().await {
            match event {
                Ok(Event::Apply(pod) | Event::InitApply(pod)) => self.node.observe(&client, &pod),
                Ok(Event::Delete(pod)) => {
                    if let Some(uid) = &pod.metadata.uid {
                        self.node.forget(uid);
                    }
                }
                Ok(Event::InitDone) => self.node.forget_missing(),
                Ok(Event::Init) => {}
                Err(e) => tracing::debug!(error = %e, "the pod watch failed; retrying"),
            }
        }
    }

    /// Kill every pod's processes, stop its volumes' workspaces and wait until all is gone.
    /// The pods stay in the API.
    pub async fn shutdown(&self) {
        self.node.kill_all().await;
        self.node.tasks.close();
        self.node.tasks.wait().await;
    }

    /// Tell every pod's processes to die without waiting; for `Drop` of an owner.
    pub(crate) fn cancel_pods(&self) {
        self.node.cancel_all();
    }

    /// Mark `image` as missing from the registry from now on (see
    /// [`FakeKubeletBuilder::fail_image`]); pods admitted later fail to pull it.
    pub fn fail_image(&self, image: impl Into<String>) {
        lock(&self.node.failing_images).insert(image.into());
    }

    /// The node's storage: the volumes and what removes them.
    pub fn storage(&self) -> &NodeStorage {
        &self.node.storage
    }

    /// Fault: from now on, every exec connection is dropped (no close frame, no status)
    /// once `after_stdout_bytes` bytes of stdout were sent. The processes keep running.
    pub fn cut_exec_streams(&self, after_stdout_bytes: u64) {
        *lock(&self.node.exec_fault) = Some(ExecCut {
            after_stdout_bytes,
            remaining: None,
        });
    }

    /// Fault: like [`cut_exec_streams`](Self::cut_exec_streams), for the next `sessions`
    /// exec sessions only.
    pub fn cut_next_exec_streams(&self, after_stdout_bytes: u64, sessions: usize) {
        *lock(&self.node.exec_fault) = (sessions > 0).then_some(ExecCut {
            after_stdout_bytes,
            remaining: Some(sessions),
        });
    }

    /// Remove the exec faults.
    pub fn clear_exec_faults(&self) {
        *lock(&self.node.exec_fault) = None;
    }

    /// How many exec requests reached the node (upgraded or refused).
    pub fn exec_count(&self) -> u64 {
        self.node.exec_count.load(Ordering::Relaxed)
    }

    /// How many pods run (or are starting) on the node.
    pub fn running_pods(&self) -> usize {
        lock(&self.node.pods).len()
    }
}
