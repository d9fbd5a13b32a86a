//! [`SimulatedDwo`]: a DevWorkspace controller that behaves, seen through the API, like the
//! DevWorkspace Operator.

mod reconcile;
mod template;

pub use template::PROJECT_CLONE_IMAGE;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ::kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use ::kube::runtime::controller::{Action, Controller};
use ::kube::runtime::reflector::ObjectRef;
use ::kube::runtime::watcher;
use ::kube::{Api, ResourceExt};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;

use super::kubelet::{DEFAULT_NODE_NAME, NodeStorage};

/// Label holding the workspace ID on the workspace's pods (the Deployment's selector).
pub const LABEL_ID: &str = "controller.devfile.io/devworkspace_id";
/// Label holding the DevWorkspace's name on its pods.
pub const LABEL_NAME: &str = "controller.devfile.io/devworkspace_name";
/// Label holding the creator's UID, on the DevWorkspace and its pods.
pub const LABEL_CREATOR: &str = "controller.devfile.io/creator";
/// The finalizer that holds a deleted DevWorkspace until its storage is cleaned up.
pub const FINALIZER: &str = "storage.controller.devfile.io";
/// The claim shared by a namespace's `per-user` workspaces.
pub const CLAIM_PER_USER: &str = "claim-devworkspace";
/// The template attribute choosing the storage type.
pub const STORAGE_TYPE_ATTRIBUTE: &str = "controller.devfile.io/storage-type";
/// The annotation that sets the workspace ID on create.
pub const ID_OVERRIDE_ANNOTATION: &str = "controller.devfile.io/devworkspace_id_override";
/// The annotation holding when the workspace last started (unix nanoseconds).
pub const STARTED_AT_ANNOTATION: &str = "controller.devfile.io/started-at";
/// The annotation saying why the workspace was stopped; removed on start.
pub const STOPPED_BY_ANNOTATION: &str = "controller.devfile.io/stopped-by";

/// The creator UID given to DevWorkspaces created without one (DWO's webhook would stamp
/// the requesting user's UID).
pub const DEFAULT_CREATOR: &str = "6d0c3a4e-1f2b-4c5d-8e9f-0a1b2c3d4e5f";

/// The DevWorkspace resource, `workspace.devfile.io/v1alpha2`.
pub fn devworkspace_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("workspace.devfile.io", "v1alpha2", "DevWorkspace"),
        "devworkspaces",
    )
}

/// The workspace ID DWO derives from a DevWorkspace's UID: `workspace` followed by the first
/// three dash-separated groups of the UID.
pub fn devworkspace_id(uid: &str) -> String {
    let groups: String = uid.split('-').take(3).collect();
    format!("workspace{groups}")
}

/// Settings of the simulated controller.
#[derive(Debug, Clone)]
pub(crate) struct DwoConfig {
    pub phase_delay: Duration,
    pub progress_timeout: Duration,
    pub node_name: String,
    pub creator: String,
    pub idle_timeout: String,
    pub project_clone_image: String,
}

/// Builds a [`SimulatedDwo`].
#[derive(Debug, Clone)]
pub struct SimulatedDwoBuilder {
    config: DwoConfig,
    storage: Option<NodeStorage>,
}

impl Default for SimulatedDwoBuilder {
    fn default() -> Self {
        Self {
            config: DwoConfig {
                phase_delay: Duration::from_millis(20),
                progress_timeout: Duration::from_secs(5 * 60),
                node_name: DEFAULT_NODE_NAME.to_owned(),
                creator: DEFAULT_CREATOR.to_owned(),
                idle_timeout: "15m".to_owned(),
                project_clone_image: PROJECT_CLONE_IMAGE.to_owned(),
            },
            storage: None,
        }
    }
}

impl SimulatedDwoBuilder {
    /// Wait this long before every phase change (default 20 ms).
    pub fn phase_delay(mut self, delay: Duration) -> Self {
        self.config.phase_delay = delay;
        self
    }

    /// Fail a start that makes no progress for this long (DWO's `progressTimeout`, default
    /// 5 min).
    pub fn progress_timeout(mut self, timeout: Duration) -> Self {
        self.config.progress_timeout = timeout;
        self
    }

    /// Bind workspace pods to this node (default [`DEFAULT_NODE_NAME`]).
    pub fn node_name(mut self, node: impl Into<String>) -> Self {
        self.config.node_name = node.into();
        self
    }

    /// The creator UID stamped on DevWorkspaces created without the creator label (default
    /// [`DEFAULT_CREATOR`]).
    pub fn creator(mut self, uid: impl Into<String>) -> Self {
        self.config.creator = uid.into();
        self
    }

    /// `DEVWORKSPACE_IDLE_TIMEOUT` in the containers (default `15m`).
    pub fn idle_timeout(mut self, timeout: impl Into<String>) -> Self {
        self.config.idle_timeout = timeout.into();
        self
    }

    /// The project-clone init container's image (default [`PROJECT_CLONE_IMAGE`]).
    pub fn project_clone_image(mut self, image: impl Into<String>) -> Self {
        self.config.project_clone_image = image.into();
        self
    }

    /// The node storage its cleanup removes a deleted workspace's data from (normally the
    /// kubelet's [`FakeKubelet::storage`](super::FakeKubelet::storage)). Without it, deleting
    /// a DevWorkspace leaves the data.
    pub fn storage(mut self, storage: NodeStorage) -> Self {
        self.storage = Some(storage);
        self
    }

    /// The controller; it does nothing until [`SimulatedDwo::run`].
    pub fn build(self) -> SimulatedDwo {
        SimulatedDwo {
            config: self.config,
            storage: self.storage,
        }
    }
}

/// A simulated DevWorkspace Operator (DWO): a DevWorkspace controller that behaves, seen
/// through the API, like DWO does for a client.
///
/// It is a kube-runtime [`Controller`](::kube::runtime::Controller) over
/// `workspace.devfile.io/v1alpha2` DevWorkspaces (as `DynamicObject`s) that also watches the
/// workspace pods, and it changes the cluster only through the API:
///
/// - a new DevWorkspace gets the `controller.devfile.io/creator` label (what DWO's webhook
///   stamps), the `storage.controller.devfile.io` finalizer, then `status.devworkspaceId`
///   (`workspace` + the first three groups of its UID, or the
///   `controller.devfile.io/devworkspace_id_override` annotation);
/// - `spec.started: true` walks `Starting` ("Initializing DevWorkspace", then "Waiting for
///   workspace deployment") and creates the workspace pod (what DWO's Deployment would: one
///   container per `container` component with DWO's environment variables and labels, the
///   projects volume on the workspace's storage, the project-clone init container), then
///   `Running` once the kubelet reports the pod ready;
/// - a container the kubelet reports in `ImagePullBackOff`, `CrashLoopBackOff` (also for the
///   project-clone init container), `CreateContainerError`, `CreateContainerConfigError` or
///   `InvalidImageName` makes it `Failing` ("Error creating DevWorkspace deployment: Container
///   tools has state ImagePullBackOff"), after which it sets `spec.started: false` itself and
///   ends `Failed`; so does a start that makes no progress for the progress timeout;
/// - `spec.started: false` walks `Stopping`, deletes the pod, and ends `Stopped` (or
///   `Failed` after a failure); the storage is kept;
/// - deleting the DevWorkspace walks `Terminating`: the pod is deleted, the workspace's
///   storage is removed from the node (DWO's cleanup job; here through [`NodeStorage`]) and
///   the finalizer is removed.
///
/// Every phase change waits [`SimulatedDwoBuilder::phase_delay`] first, so a client sees
/// each phase. What is not simulated: routing (`mainUrl` stays empty), Services,
/// ServiceAccounts, the Deployment object itself (the pod is owned by the DevWorkspace),
/// plugins, parents and contributions.
#[derive(Debug, Clone)]
pub struct SimulatedDwo {
    config: DwoConfig,
    storage: Option<NodeStorage>,
}

impl SimulatedDwo {
    /// A builder with the defaults.
    pub fn builder() -> SimulatedDwoBuilder {
        SimulatedDwoBuilder::default()
    }

    /// Reconcile DevWorkspaces through `client` until the future is dropped. Give it a client
    /// whose `User-Agent` starts with `agentbox-testkit/` so the server's faults spare it.
    pub async fn run(&self, client: ::kube::Client) {
        let resource = devworkspace_resource();
        let devworkspaces: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
        let pods: Api<Pod> = Api::all(client.clone());
        let context = Arc::new(reconcile::Context {
            client,
            resource: resource.clone(),
            config: self.config.clone(),
            storage: self.storage.clone(),
            progress: Mutex::new(HashMap::new()),
        });
        let owner = resource.clone();
        Controller::new_with(devworkspaces, watcher::Config::default(), resource)
            .watches_with(
                pods,
                (),
                watcher::Config::default().labels(LABEL_ID),
                move |pod: Pod| {
                    let namespace = pod.namespace();
                    pod.labels()
                        .get(LABEL_NAME)
                        .cloned()
                        .zip(namespace)
                        .map(|(name, ns)| ObjectRef::new_with(&name, owner.clone()).within(&ns))
                },
            )
            .run(reconcile::reconcile, error_policy, context)
            .for_each(|result| async move {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "a DevWorkspace reconcile failed");
                }
            })
            .await;
    }
}

/// Retry a failed reconcile soon: the fake API server answers quickly.
fn error_policy(
    _object: Arc<DynamicObject>,
    error: &reconcile::ReconcileError,
    _context: Arc<reconcile::Context>,
) -> Action {
    tracing::debug!(%error, "retrying a DevWorkspace");
    Action::requeue(Duration::from_millis(100))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_is_workspace_and_three_uid_groups() {
        assert_eq!(
            devworkspace_id("1a2b3c4d-5e6f-7a8b-9c0d-112233445566"),
            "workspace1a2b3c4d5e6f7a8b"
        );
    }
}
