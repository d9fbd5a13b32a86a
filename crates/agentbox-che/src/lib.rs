//! # agentbox-che
//!
//! The Eclipse Che backend of agentbox. Che runs workspaces as `DevWorkspace` custom resources
//! reconciled by the DevWorkspace Operator (there is no Che REST API for workspaces any more),
//! so this crate talks to the Kubernetes API server with kube-rs: a workspace is a DevWorkspace
//! compiled from the contract, started and stopped by patching `spec.started`, watched (never
//! polled) until ready, and commands run in its pod over `pods/exec`.
//!
//! ```
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use agentbox_che::CheProvider;
//! use agentbox_core::contract::{Contract, LoadOptions};
//! use agentbox_core::exec::{ExecRequest, ExecutorExt};
//! use agentbox_core::provider::{CreateRequest, Phase, WorkspaceProvider, WorkspaceProviderExt};
//!
//! // The test kit's fake cluster (API server, DevWorkspace Operator, kubelet). Against a real
//! // cluster, `CheProvider::builder().namespace("alice-che").build().await?` uses the
//! // kubeconfig or the pod's service account.
//! let cluster = agentbox_testkit::kube::FakeCluster::builder()
//!     .namespace("alice-che")
//!     .start()
//!     .await?;
//! let provider = CheProvider::new(cluster.client(), "alice-che");
//!
//! let contract = Contract::from_yaml(
//!     "apiVersion: agentbox.dev/v1alpha1\nkind: Environment\nmetadata: { name: demo }\nspec: { image: alpine:3.20 }\n",
//!     &LoadOptions::default(),
//! )?;
//! // Create the DevWorkspace, start it, and watch until the operator says it runs.
//! let ws = provider
//!     .provision(&contract, CreateRequest::named("demo-1"), Duration::from_secs(60))
//!     .await?;
//! let exec = provider.executor(&ws.id).await?;
//! exec.write_bytes("hello.txt", b"hi".to_vec()).await?;
//! let out = exec.exec_ok(ExecRequest::new(["cat", "hello.txt"])).await?;
//! assert_eq!(out.stdout_text(), "hi");
//!
//! provider.stop(&ws.id).await?; // scaled down; the storage is kept
//! assert_eq!(provider.status(&ws.id).await?.phase, Phase::Stopped);
//! provider.delete(&ws.id).await?;
//! # Ok(())
//! # }
//! ```
//!
//! ## Map
//! - [`CheProvider`] (`provider/`, built by [`CheProviderBuilder`]): the lifecycle. The
//!   DevWorkspace a contract becomes ([`devworkspace_for`], `manifest.rs`); the calls on it
//!   (`calls.rs`); waits through one shared watch of the namespace (`cache.rs`,
//!   `provider/wait.rs`) judged by `provider/judge.rs`; phases and infos (`info.rs`); the
//!   executor of a running workspace and its pod (`attach.rs`, `pod.rs`); what a contract asks
//!   that is not enforced (`limitations.rs`).
//! - [`KubeExecutor`] (`exec/`): commands, files and sessions in any pod's container over
//!   `pods/exec` — reusable by any backend whose workspaces are pods.
//! - [`crd`]: typed [`crd::DevWorkspace`] and [`crd::DevWorkspaceTemplate`].
//! - [`rbac`]: the least-privilege Role and RoleBinding an orchestrator needs
//!   (`docs/che-rbac.md` says how to apply them).
//! - [`RetryPolicy`] (`api.rs`): every API call bounded by a deadline and retried with bounded
//!   backoff on 429, 5xx, conflicts and dropped connections.
//! - [`CheError`] (`error.rs`): the backend's failures, mapped into [`agentbox_core::Error`].
//!
//! ## Requirements and limits
//! - Commands need a POSIX `sh`, `head` and, for files, `tar` in the workspace's container
//!   (any distribution image has them; `setsid`, `tr` and `grep` are used when present).
//! - Egress rules are not applied: the provider's Role has no NetworkPolicy rights. Apply the
//!   generated `.agentbox/networkpolicy.yaml`; [`CheProvider::limitations`] lists what else a
//!   contract asks that is not enforced, and `create` reports it as warnings.
//! - Secrets reach workspaces through the DevWorkspace Operator's automount, never through
//!   agentbox; an `ExecRequest`'s secret environment goes through the exec's stdin, never into
//!   a URL.

#![warn(missing_docs)]

mod api;
mod cache;
pub mod crd;
mod error;
mod exec;
mod provider;
pub mod rbac;
mod token;

pub use api::RetryPolicy;
pub use error::{ApiAction, CheError};
pub use exec::{Guard, KubeExecutor, KubeSession};
pub use provider::manifest::{CREATE_ID_ANNOTATION, WORKDIR_ANNOTATION, devworkspace_for};
pub use provider::pod::DEVWORKSPACE_ID_LABEL;
pub use provider::{CheProvider, CheProviderBuilder};
