//! # agentbox
//!
//! Run autonomous AI coding agents inside disposable, policy-bound developer workspaces.
//!
//! One *environment contract* (`agentbox.yaml`) says what an agent's workspace is; a
//! [`WorkspaceProvider`] turns it into a workspace on some backend, an [`Executor`] runs
//! commands and moves files in it, and an [`EvidenceSink`] keeps the record of what happened.
//!
//! This crate is a facade: it re-exports `agentbox-core` and, behind features, the backends
//! (as `kube` re-exports its client and runtime):
//!
//! | feature | default | what |
//! |---|---|---|
//! | `local` | yes | [`local`]: workspaces as host directories, commands in bubblewrap |
//! | `copilot` | yes | [`copilot`]: model clients for GitHub Copilot and OpenAI-compatible servers |
//! | `che` | no | [`che`]: Eclipse Che, DevWorkspaces through the Kubernetes API (kube-rs) |
//! | `coder` | no | [`coder`]: Coder, workspaces through coderd's REST API and the agent's PTY |
//! | `testkit` | no | [`testkit`]: the behaviour suite every backend passes, and fake servers (Kubernetes, coderd, model) |
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> agentbox::Result<()> {
//! use agentbox::contract::{Contract, LoadOptions};
//! use agentbox::exec::ExecRequest;
//! use agentbox::local::LocalProvider;
//! use agentbox::provider::{CreateRequest, WorkspaceProviderExt};
//! use agentbox::WorkspaceProvider;
//! use std::time::Duration;
//!
//! let contract = Contract::load("examples/agentbox.yaml", &LoadOptions::default())?;
//! let root = tempfile::tempdir().unwrap();
//! let provider = LocalProvider::builder().root(root.path()).build()?;
//!
//! let ws = provider
//!     .provision(&contract, CreateRequest::default(), Duration::from_secs(30))
//!     .await?;
//! let out = provider
//!     .executor(&ws.id)
//!     .await?
//!     .exec(ExecRequest::new(["python3", "-c", "print(6 * 7)"]))
//!     .await?;
//! assert_eq!(out.stdout_text(), "42\n");
//! provider.delete(&ws.id).await?;
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

pub use agentbox_core as core;
pub use agentbox_core::{
    Contract, Error, EvidenceSink, Executor, ModelClient, Result, WorkspaceProvider, contract,
    evidence, exec, generate, model, progress, provider, secrets, task,
};

/// The local provider (feature `local`, on by default).
#[cfg(feature = "local")]
pub use agentbox_local as local;

/// Model clients for GitHub Copilot and any OpenAI-compatible server (feature `copilot`).
#[cfg(feature = "copilot")]
pub use agentbox_copilot as copilot;

/// The Eclipse Che backend (feature `che`): DevWorkspaces through the Kubernetes API.
#[cfg(feature = "che")]
pub use agentbox_che as che;

/// The Coder backend (feature `coder`): workspaces through coderd's REST API.
#[cfg(feature = "coder")]
pub use agentbox_coder as coder;

/// The behaviour suite and fake servers (feature `testkit`).
#[cfg(feature = "testkit")]
pub use agentbox_testkit as testkit;
