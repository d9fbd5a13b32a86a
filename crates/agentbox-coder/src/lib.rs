//! # agentbox-coder
//!
//! The Coder backend of agentbox: workspaces are [Coder](https://coder.com) workspaces made
//! from a template through coderd's REST API, and commands run through the workspace agent's
//! reconnecting PTY. Here against the test kit's fake coderd (its workspaces are local
//! bubblewrap sandboxes):
//!
//! ```
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> agentbox_core::Result<()> {
//! use std::time::Duration;
//! use agentbox_coder::{CoderClient, CoderProvider};
//! use agentbox_core::contract::{Contract, LoadOptions};
//! use agentbox_core::exec::{ExecRequest, ExecutorExt, OutputStreams};
//! use agentbox_core::provider::{CreateRequest, WorkspaceProvider, WorkspaceProviderExt};
//! use agentbox_testkit::coder::FakeCoderd;
//!
//! let coderd = FakeCoderd::builder().mount_path("/projects").start().await.expect("fake coderd");
//! let client = CoderClient::new(&coderd.url(), coderd.token()).expect("client");
//! let provider = CoderProvider::builder(client, "agentbox").build();
//!
//! let contract = Contract::from_yaml(
//!     "apiVersion: agentbox.dev/v1alpha1\nkind: Environment\nmetadata: { name: demo }\nspec: { image: alpine:3.20 }\n",
//!     &LoadOptions::default(),
//! )?;
//! let ws = provider
//!     .provision(&contract, CreateRequest::named("demo-1"), Duration::from_secs(60))
//!     .await?;
//! let exec = provider.executor(&ws.id).await?;
//! exec.write_bytes("hello.txt", b"hi".to_vec()).await?;
//! let out = exec.exec_ok(ExecRequest::new(["cat", "hello.txt"])).await?;
//! assert_eq!(out.stdout_text(), "hi");
//! // A PTY cannot keep stdout and stderr apart, and says so.
//! assert_eq!(out.streams, OutputStreams::Combined);
//! provider.delete(&ws.id).await?;
//! # coderd.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! ## Map
//! - [`CoderClient`] (`client/`): one pooled HTTP/1.1 client for REST calls and WebSocket
//!   upgrades, the session token as `Coder-Session-Token`, typed endpoints, coderd's error
//!   body decoded ([`CoderError::Api`]), workspace watches ([`WorkspaceWatch`]: `/watch-ws`,
//!   SSE `/watch` on older servers). Typed `codersdk` models are in [`models`].
//! - [`CoderProvider`] (`provider/`, built by [`CoderProviderBuilder`]): template and active
//!   version, parameters checked before create ([`params`]), start/stop/delete as builds
//!   (409 answered by waiting for the active build), readiness by watching.
//! - [`CoderPtyExecutor`] and [`CoderPtySession`] (`pty/`): commands, files and a persistent
//!   shell over the agent's PTY, with exit codes from per-command markers.
//! - [`workspace_name`]: names within Coder's rules.
//! - [`CoderError`]: the backend's failures, mapped into [`agentbox_core::Error`].
//! - `kube` (feature `kube`): commands over `pods/exec` with the Che backend's `KubeExecutor`
//!   when a workspace is a pod the caller can reach (`CoderProviderBuilder::kube_exec`).
//!
//! What a template must declare for agentbox is in `docs/coder-template.md`.

#![warn(missing_docs)]

mod client;
mod error;
#[cfg(feature = "kube")]
pub mod kube;
pub mod models;
mod name;
pub mod params;
mod provider;
mod pty;

pub use client::{CoderClient, CoderSocket, MINIMUM_VERSION, SESSION_TOKEN_HEADER, WorkspaceWatch};
pub use error::CoderError;
pub use name::{MAX_NAME, is_valid as is_valid_workspace_name, workspace_name};
pub use params::{ContractParameters, ParameterProblem, ParameterValue, Rule, WorkspaceMetadata};
pub use provider::{CoderProvider, CoderProviderBuilder};
pub use pty::{CoderPtyExecutor, CoderPtySession, PtyOutput};
