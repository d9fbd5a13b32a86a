//! [`FakeCluster`]: the fake API server with the DevWorkspace CRDs, a [`FakeKubelet`] whose
//! `pods/exec` it serves, and a [`SimulatedDwo`], started together and stopped on drop.

use std::path::PathBuf;
use std::time::Duration;

use agentbox_local::Isolation;

use super::dwo::{SimulatedDwo, SimulatedDwoBuilder};
use super::kubelet::{FakeKubelet, FakeKubeletBuilder};
use super::{FakeApiError, FakeApiServer};

/// The `User-Agent` of the kubelet's requests (counted as internal, spared by faults).
pub const KUBELET_USER_AGENT: &str = "agentbox-testkit/kubelet";
/// The `User-Agent` of the simulated controller's requests.
pub const CONTROLLER_USER_AGENT: &str = "agentbox-testkit/devworkspace-controller";

/// Builds a [`FakeCluster`].
#[derive(Debug, Default)]
pub struct FakeClusterBuilder {
    namespaces: Vec<String>,
    kubelet: FakeKubeletBuilder,
    dwo: SimulatedDwoBuilder,
}

impl FakeClusterBuilder {
    /// Create namespace `name` (`default` always exists).
    pub fn namespace(mut self, name: impl Into<String>) -> Self {
        self.namespaces.push(name.into());
        self
    }

    /// Pulling `image` fails on the node (`ErrImagePull`, then `ImagePullBackOff`), so a
    /// DevWorkspace using it ends `Failed`.
    pub fn fail_image(mut self, image: impl Into<String>) -> Self {
        self.kubelet = self.kubelet.fail_image(image);
        self
    }

    /// The controller waits this long before each phase change (default 20 ms).
    pub fn phase_delay(mut self, delay: Duration) -> Self {
        self.dwo = self.dwo.phase_delay(delay);
        self
    }

    /// The controller fails a start that makes no progress for this long (default 5 min).
    pub fn progress_timeout(mut self, timeout: Duration) -> Self {
        self.dwo = self.dwo.progress_timeout(timeout);
        self
    }

    /// How long a failed image pull shows `ErrImagePull` before `ImagePullBackOff`.
    pub fn pull_backoff(mut self, backoff: Duration) -> Self {
        self.kubelet = self.kubelet.pull_backoff(backoff);
        self
    }

    /// How the node isolates containers (default [`Isolation::Auto`]).
    pub fn isolation(mut self, isolation: Isolation) -> Self {
        self.kubelet = self.kubelet.isolation(isolation);
        self
    }

    /// Bind host directory `host_path` at `sandbox_path` in every container (see
    /// [`FakeKubeletBuilder::bind`]).
    pub fn bind(mut self, host_path: impl Into<PathBuf>, sandbox_path: impl Into<String>) -> Self {
        self.kubelet = self.kubelet.bind(host_path, sandbox_path);
        self
    }

    /// Start the server, the kubelet and the controller.
    pub async fn start(self) -> Result<FakeCluster, FakeApiError> {
        let kubelet = self.kubelet.build()?;
        let mut server = FakeApiServer::builder()
            .devworkspace_crds()
            .router(kubelet.router());
        for namespace in &self.namespaces {
            server = server.namespace(namespace);
        }
        let server = server.start().await?;
        let kubelet_client = server.client_with_user_agent(KUBELET_USER_AGENT)?;
        let controller_client = server.client_with_user_agent(CONTROLLER_USER_AGENT)?;
        let controller = self
            .dwo
            .node_name(kubelet.node_name())
            .storage(kubelet.storage().clone())
            .build();
        let tasks = vec![
            tokio::spawn({
                let kubelet = kubelet.clone();
                async move { kubelet.run(kubelet_client).await }
            }),
            tokio::spawn({
                let controller = controller.clone();
                async move { controller.run(controller_client).await }
            }),
        ];
        Ok(FakeCluster {
            server,
            kubelet,
            controller,
            tasks,
        })
    }
}

/// A fake Kubernetes cluster for DevWorkspaces: API server, one node, the simulated
/// DevWorkspace Operator.
///
/// ```
/// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use agentbox_testkit::kube::{FakeCluster, LABEL_ID, devworkspace_resource};
/// use k8s_openapi::api::core::v1::Pod;
/// use kube::api::{Api, AttachParams, DynamicObject, ListParams, PostParams};
/// use kube::runtime::wait::await_condition;
/// use tokio::io::AsyncReadExt;
///
/// let cluster = FakeCluster::builder().namespace("agentbox").start().await?;
/// let resource = devworkspace_resource();
/// let workspaces: Api<DynamicObject> =
///     Api::namespaced_with(cluster.client(), "agentbox", &resource);
/// let mut workspace = DynamicObject::new("demo", &resource);
/// workspace.data = serde_json::json!({"spec": {"started": true, "template": {"components": [
///     {"name": "tools", "container": {"image": "docker.io/library/alpine:3.20"}}
/// ]}}});
/// workspaces.create(&PostParams::default(), &workspace).await?;
/// let running = await_condition(workspaces, "demo", |dw: Option<&DynamicObject>| {
///     dw.is_some_and(|dw| dw.data["status"]["phase"] == "Running")
/// })
/// .await?
/// .expect("the DevWorkspace exists");
///
/// // Its pod carries DWO's labels; exec runs in it like in a container.
/// let id = running.data["status"]["devworkspaceId"].as_str().unwrap();
/// let pods: Api<Pod> = Api::namespaced(cluster.client(), "agentbox");
/// let selector = format!("{LABEL_ID}={id}");
/// let pod = pods.list(&ListParams::default().labels(&selector)).await?.items.remove(0);
/// let only_stdout = AttachParams::default().stderr(false);
/// let mut echo = pods.exec(&pod.metadata.name.unwrap(), ["echo", "hello"], &only_stdout).await?;
/// let mut out = String::new();
/// echo.stdout().unwrap().read_to_string(&mut out).await?;
/// assert_eq!(out, "hello\n");
/// # Ok(())
/// # }
/// ```
///
/// Dropping it stops the controller and the kubelet, kills every pod's processes and removes
/// the node's storage; [`shutdown`](Self::shutdown) also waits until the processes are gone.
#[derive(Debug)]
pub struct FakeCluster {
    server: FakeApiServer,
    kubelet: FakeKubelet,
    controller: SimulatedDwo,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl FakeCluster {
    /// A builder with the defaults.
    pub fn builder() -> FakeClusterBuilder {
        FakeClusterBuilder::default()
    }

    /// Start a cluster with the defaults.
    pub async fn start() -> Result<Self, FakeApiError> {
        Self::builder().start().await
    }

    /// A new client of the API server, as the code under test uses it.
    pub fn client(&self) -> ::kube::Client {
        self.server.client()
    }

    /// The API server: its URL, fault knobs and request counters.
    pub fn server(&self) -> &FakeApiServer {
        &self.server
    }

    /// The node: exec fault knobs and counters, storage.
    pub fn kubelet(&self) -> &FakeKubelet {
        &self.kubelet
    }

    /// The simulated DevWorkspace Operator.
    pub fn controller(&self) -> &SimulatedDwo {
        &self.controller
    }

    /// Stop the controller and the kubelet and wait until every pod's processes are gone.
    pub async fn shutdown(mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
        self.kubelet.shutdown().await;
    }
}

impl Drop for FakeCluster {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        self.kubelet.cancel_pods();
    }
}
