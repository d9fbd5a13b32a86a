//! A protocol-faithful fake Kubernetes API server on loopback, for testing code that talks to
//! Kubernetes (with kube-rs or anything else) without a cluster.
//!
//! It serves the built-in `pods` and `namespaces` (core/v1) and
//! `customresourcedefinitions` (apiextensions.k8s.io/v1), plus every kind whose
//! CustomResourceDefinition it is given — at start
//! ([`FakeApiServerBuilder::crd_yaml`], [`FakeApiServerBuilder::devworkspace_crds`]) or by
//! creating the CRD through the API. It behaves like the apiserver where clients can tell:
//!
//! - **REST**: create (`generateName`, 409 `AlreadyExists`), get, list (label selectors with
//!   `=`, `!=`, `in`, `notin`, exists, `!key`; field selectors on `metadata.name` and
//!   `metadata.namespace`, and the pod fields; `limit`/`continue` with consistent pages),
//!   update (409 `Conflict` on a stale `metadata.resourceVersion`), JSON merge patch, JSON
//!   patch, server-side apply (applied as a merge), delete (finalizers keep an object with a
//!   `deletionTimestamp` until they are removed; owners' dependents are garbage-collected;
//!   bound pods are deleted gracefully), delete-collection, `dryRun=All`.
//! - **Metadata**: `uid`, `creationTimestamp`, one global monotonically increasing
//!   `resourceVersion`, `generation` bumped on spec changes only.
//! - **The `status` subresource** where the CRD enables it: main-resource writes keep the
//!   stored status, status writes change nothing else.
//! - **Schemas**: objects of a CRD's kind are pruned of unknown fields (reported in `Warning`
//!   headers; refused with 400 under `fieldValidation=Strict`), defaulted and validated against
//!   the version's `openAPIV3Schema`; refusals are 422 `Invalid` with one cause per field.
//! - **Errors** are `Status` objects with the apiserver's reasons and messages.
//! - **Watches** (`?watch=true`): `ADDED`/`MODIFIED`/`DELETED`/`BOOKMARK`/`ERROR` lines,
//!   resumable from any resourceVersion still in the bounded history, 410 Gone (an `ERROR`
//!   event, as the apiserver sends it) for older ones, `timeoutSeconds`, bookmarks,
//!   `sendInitialEvents`, selector-aware `ADDED`/`DELETED` as objects enter or leave a selection.
//! - **Discovery**: `/version`, `/api`, `/apis`, `/apis/{group}/{version}` (also aggregated
//!   discovery), enough for `kube::Discovery` and kubectl.
//!
//! [`FaultKnobs`] inject 429/5xx bursts (with `Retry-After`), latency, dropped watches and 410s;
//! [`RequestCounters`] count requests per verb and resource and the open watches.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use agentbox_testkit::kube::{FakeApiServer, Verb};
//! use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
//!
//! let server = FakeApiServer::builder().devworkspace_crds().namespace("che-user").start().await?;
//! let gvk = GroupVersionKind::gvk("workspace.devfile.io", "v1alpha2", "DevWorkspace");
//! let resource = ApiResource::from_gvk_with_plural(&gvk, "devworkspaces");
//! let api: Api<DynamicObject> = Api::namespaced_with(server.client(), "che-user", &resource);
//!
//! let mut workspace = DynamicObject::new("my-ws", &resource);
//! workspace.data = serde_json::json!({"spec": {"started": true, "template": {}}});
//! let created = api.create(&PostParams::default(), &workspace).await?;
//! assert_eq!(created.metadata.generation, Some(1));
//!
//! // The schema is enforced: `started` must be a boolean.
//! workspace.metadata.name = Some("bad".into());
//! workspace.data = serde_json::json!({"spec": {"started": "yes"}});
//! let refused = api.create(&PostParams::default(), &workspace).await.unwrap_err();
//! assert!(matches!(refused, kube::Error::Api(status) if status.code == 422));
//!
//! assert_eq!(server.counters().client().verb(Verb::Create), 2);
//! # Ok(())
//! # }
//! ```
//!
//! The server stops when [`FakeApiServer::shutdown`] is awaited or the server is dropped.

mod admit;
mod builtin;
mod call;
mod cluster;
mod counters;
mod crds;
mod delete;
mod discovery;
mod dwo;
mod error;
mod faults;
mod kubelet;
mod lifecycle;
mod meta;
mod patch;
mod read;
mod resource;
mod routes;
mod schema;
mod selector;
mod server;
mod state;
mod status;
mod store;
mod watch;
mod write;

pub use cluster::{CONTROLLER_USER_AGENT, FakeCluster, FakeClusterBuilder, KUBELET_USER_AGENT};
pub use counters::{CountersSnapshot, RequestCounters, Tally, Verb};
pub use dwo::{
    CLAIM_PER_USER, DEFAULT_CREATOR, FINALIZER, ID_OVERRIDE_ANNOTATION, LABEL_CREATOR, LABEL_ID,
    LABEL_NAME, PROJECT_CLONE_IMAGE, STARTED_AT_ANNOTATION, STOPPED_BY_ANNOTATION,
    STORAGE_TYPE_ATTRIBUTE, SimulatedDwo, SimulatedDwoBuilder, devworkspace_id,
    devworkspace_resource,
};
pub use error::FakeApiError;
pub use faults::{Burst, FaultKnobs, FaultsFired};
pub use kubelet::{
    DEFAULT_NODE_NAME, FakeKubelet, FakeKubeletBuilder, NodeStorage, VolumeInfo, VolumeKey,
    VolumeSource,
};
pub use server::{FakeApiServer, FakeApiServerBuilder};

/// Requests whose `User-Agent` starts with this come from the test kit's own components (its
/// kubelet and controllers): [`RequestCounters`] report them apart, as
/// [`CountersSnapshot::internal`], and [`FaultKnobs`] leave them alone.
pub const INTERNAL_USER_AGENT_PREFIX: &str = "agentbox-testkit/";
