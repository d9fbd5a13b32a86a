//! One pod on the node, from admission to deletion: pull its images (or fail to), mount its
//! volume, resolve each container's environment, run its init containers to completion and
//! its main containers' processes, and report every step through `pods/status`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use ::kube::Api;
use ::kube::api::{Patch, PatchParams};
use agentbox_core::exec::ExecRequest;
use agentbox_local::LocalExecutor;
use k8s_openapi::api::core::v1::{Container, Pod};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::HOST_IP;
use super::containers::{run_init, start_main};
use super::env::{self, ContainerEnv};
use super::node::{Node, PullFailure};
use super::status::{ContainerState, ContainerStatus, PodStatus};
use super::storage::{Mounted, VolumeKey, VolumeSource};

/// A container that runs, as `exec` needs it.
#[derive(Debug, Clone)]
pub(crate) struct RunningContainer {
    pub executor: LocalExecutor,
    pub env: Arc<ContainerEnv>,
    /// The working directory for commands, when the container sets one the sandbox can use.
    pub cwd: Option<String>,
    /// Where the pod's volume is mounted.
    pub mount_path: String,
}

/// A pod the kubelet runs.
#[derive(Debug)]
pub(crate) struct PodRuntime {
    pub uid: String,
    pub namespace: String,
    pub name: String,
    /// The pod as it was admitted.
    pub pod: Pod,
    /// Cancelled when the pod is killed.
    pub token: CancellationToken,
    /// Every process of the pod (main containers, init containers, exec sessions).
    pub tasks: TaskTracker,
    status: tokio::sync::Mutex<PodStatus>,
    running: Mutex<HashMap<String, RunningContainer>>,
    mounted: Mutex<Option<VolumeKey>>,
}

impl PodRuntime {
    pub fn new(pod: Pod) -> Self {
        let spec = pod.spec.clone().unwrap_or_default();
        let init_reason = "PodInitializing";
        let main_reason = if spec.init_containers.as_ref().is_some_and(|c| !c.is_empty()) {
            "PodInitializing"
        } else {
            "ContainerCreating"
        };
        let statuses = |containers: &[Container], reason: &str| {
            containers
                .iter()
                .map(|c| {
                    ContainerStatus::new(&c.name, c.image.as_deref().unwrap_or_default(), reason)
                })
                .collect::<Vec<_>>()
        };
        let init = statuses(
            spec.init_containers.as_deref().unwrap_or_default(),
            init_reason,
        );
        let main = statuses(&spec.containers, main_reason);
        Self {
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            namespace: pod
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into()),
            name: pod.metadata.name.clone().unwrap_or_default(),
            pod,
            token: CancellationToken::new(),
            tasks: TaskTracker::new(),
            status: tokio::sync::Mutex::new(PodStatus::admitted(init, main, HOST_IP)),
            running: Mutex::new(HashMap::new()),
            mounted: Mutex::new(None),
        }
    }

    /// The running container `name`, if it runs.
    pub fn container(&self, name: &str) -> Option<RunningContainer> {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    pub(super) fn set_running(&self, name: &str, container: Option<RunningContainer>) {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        match container {
            Some(c) => running.insert(name.to_owned(), c),
            None => running.remove(name),
        };
    }

    /// Change the status with `change` and write it through `pods/status`.
    pub(super) async fn report(
        &self,
        client: &::kube::Client,
        change: impl FnOnce(&mut PodStatus),
    ) {
        if self.token.is_cancelled() {
            return;
        }
        let mut status = self.status.lock().await;
        change(&mut status);
        let patch = status.status_patch();
        let pods: Api<Pod> = Api::namespaced(client.clone(), &self.namespace);
        match pods
            .patch_status(&self.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {}
            Err(::kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => {
                tracing::warn!(pod = %self.name, error = %e, "could not report the pod's status")
            }
        }
    }

    /// Set container `name`'s state.
    pub(super) async fn set_state(
        &self,
        client: &::kube::Client,
        name: &str,
        state: ContainerState,
    ) {
        self.report(client, |status| {
            if let Some(c) = status.container_mut(name) {
                c.state = state;
            }
        })
        .await;
    }

    /// Stop every process of the pod and give its volume back.
    pub async fn kill(&self, node: &Node) {
        self.token.cancel();
        self.tasks.close();
        self.tasks.wait().await;
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        let mounted = self
            .mounted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(key) = mounted {
            node.storage.release(&key).await;
        }
        tracing::debug!(pod = %self.name, "pod killed");
    }
}

/// Run `runtime`'s pod until it is killed.
pub(crate) async fn run(node: Arc<Node>, client: ::kube::Client, runtime: Arc<PodRuntime>) {
    let token = runtime.token.clone();
    tokio::select! {
        () = token.cancelled() => {}
        () = start(&node, &client, &runtime) => {}
    }
}

/// Everything from admission to running main containers; returns early (leaving the pod
/// Pending with the reason in its status) when a step fails.
async fn start(node: &Node, client: &::kube::Client, runtime: &Arc<PodRuntime>) {
    runtime.report(client, |_| {}).await;
    let spec = runtime.pod.spec.clone().unwrap_or_default();
    let init = spec.init_containers.clone().unwrap_or_default();
    let main = spec.containers.clone();
    for container in init.iter().chain(&main) {
        let image = container.image.as_deref().unwrap_or_default();
        match node.pull(image) {
            Ok(()) => {}
            Err(PullFailure::InvalidName(message)) => {
                runtime
                    .set_state(
                        client,
                        &container.name,
                        ContainerState::waiting("InvalidImageName", Some(message)),
                    )
                    .await;
                return;
            }
            Err(PullFailure::NotFound(message)) => {
                runtime
                    .set_state(
                        client,
                        &container.name,
                        ContainerState::waiting("ErrImagePull", Some(message)),
                    )
                    .await;
                tokio::time::sleep(node.pull_backoff).await;
                let message = format!("Back-off pulling image \"{image}\"");
                runtime
                    .set_state(
                        client,
                        &container.name,
                        ContainerState::waiting("ImagePullBackOff", Some(message)),
                    )
                    .await;
                return;
            }
        }
    }
    let mounted = match mount(node, runtime, &main).await {
        Ok(m) => m,
        Err(message) => {
            for c in init.iter().chain(&main) {
                runtime
                    .set_state(
                        client,
                        &c.name,
                        ContainerState::waiting("CreateContainerError", Some(message.clone())),
                    )
                    .await;
            }
            return;
        }
    };
    for container in &init {
        let Some(prepared) = prepare(client, runtime, container, &mounted).await else {
            return;
        };
        if !run_init(client, runtime, container, prepared).await {
            return;
        }
    }
    for container in &main {
        if let Some(prepared) = prepare(client, runtime, container, &mounted).await {
            start_main(client, runtime, &container.name, prepared).await;
        }
    }
}

/// Mount the pod's volume: the first `persistentVolumeClaim` or `emptyDir` volume the first
/// container mounts, else pod scratch space at `/tmp`.
async fn mount(node: &Node, runtime: &PodRuntime, main: &[Container]) -> Result<Mounted, String> {
    let spec = runtime.pod.spec.as_ref();
    let volumes = spec.and_then(|s| s.volumes.clone()).unwrap_or_default();
    let first = main.first();
    let chosen = first
        .and_then(|c| c.volume_mounts.as_ref())
        .into_iter()
        .flatten()
        .find_map(|m| {
            let volume = volumes.iter().find(|v| v.name == m.name)?;
            let source = if let Some(claim) = &volume.persistent_volume_claim {
                VolumeSource::Claim {
                    claim: claim.claim_name.clone(),
                    sub_path: m.sub_path.clone().unwrap_or_default(),
                }
            } else if volume.empty_dir.is_some() {
                VolumeSource::Pod {
                    uid: runtime.uid.clone(),
                    volume: volume.name.clone(),
                }
            } else {
                return None;
            };
            Some((source, m.mount_path.clone()))
        });
    let (source, mount_path) = chosen.unwrap_or_else(|| {
        (
            VolumeSource::Pod {
                uid: runtime.uid.clone(),
                volume: "scratch".into(),
            },
            "/tmp".into(),
        )
    });
    let image = first.and_then(|c| c.image.clone()).unwrap_or_default();
    let memory = first
        .and_then(|c| c.resources.as_ref())
        .and_then(|r| r.limits.as_ref())
        .and_then(|l| l.get("memory"))
        .map(|q| q.0.clone());
    let key = VolumeKey {
        namespace: runtime.namespace.clone(),
        source,
    };
    let mounted = node
        .storage
        .mount(key, &mount_path, &image, memory.as_deref())
        .await?;
    // Recorded at once, so a kill that interrupts the start still releases it.
    *runtime
        .mounted
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Some(mounted.key.clone());
    if runtime.token.is_cancelled() {
        return Err("the pod was deleted while its volume was mounted".into());
    }
    Ok(mounted)
}

/// What a container needs to run: its environment and working directory.
pub(super) struct Prepared {
    pub(super) container: RunningContainer,
    pub(super) argv: Vec<String>,
}

/// Resolve `container`'s environment; on failure its status says why.
async fn prepare(
    client: &::kube::Client,
    runtime: &PodRuntime,
    container: &Container,
    mounted: &Mounted,
) -> Option<Prepared> {
    let env = match env::resolve(client, &runtime.pod, container).await {
        Ok(env) => env,
        Err(message) => {
            runtime
                .set_state(
                    client,
                    &container.name,
                    ContainerState::waiting("CreateContainerConfigError", Some(message)),
                )
                .await;
            return None;
        }
    };
    let cwd = container.working_dir.clone().filter(|dir| {
        let usable = agentbox_core::exec::path::relative_to(&mounted.mount_path, dir).is_some();
        if !usable {
            tracing::debug!(pod = %runtime.name, dir = %dir, "workingDir lies outside the pod's volume; commands start at the volume's root");
        }
        usable
    });
    let argv: Vec<String> = container
        .command
        .iter()
        .flatten()
        .chain(container.args.iter().flatten())
        .cloned()
        .collect();
    Some(Prepared {
        container: RunningContainer {
            executor: mounted.executor.clone(),
            env: Arc::new(env),
            cwd,
            mount_path: mounted.mount_path.clone(),
        },
        argv,
    })
}

impl RunningContainer {
    /// The request that runs `argv` in this container.
    pub fn request(&self, argv: Vec<String>) -> ExecRequest {
        let mut request = ExecRequest::new(argv);
        for (k, v) in &self.env.plain {
            request = request.env(k.clone(), v.clone());
        }
        for (k, v) in &self.env.secret {
            request = request.secret_env(k.clone(), v.clone());
        }
        if let Some(cwd) = &self.cwd {
            request = request.cwd(cwd.clone());
        }
        request
    }
}
