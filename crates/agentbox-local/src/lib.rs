//! # agentbox-local
//!
//! The local backend of agentbox: a workspace is a directory on this host and commands run in a
//! [bubblewrap](https://github.com/containers/bubblewrap) sandbox that sees the host's system
//! files read-only, the workspace's files read-write at the contract's mount path, no home
//! directories and, unless the contract allows egress, no network.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> agentbox_core::Result<()> {
//! use std::time::Duration;
//! use agentbox_core::contract::{Contract, LoadOptions};
//! use agentbox_core::exec::{ExecRequest, ExecutorExt};
//! use agentbox_core::provider::{CreateRequest, WorkspaceProvider, WorkspaceProviderExt};
//! use agentbox_local::LocalProvider;
//!
//! let contract = Contract::from_yaml(
//!     "apiVersion: agentbox.dev/v1alpha1\nkind: Environment\nmetadata: { name: demo }\nspec: { image: alpine:3.20 }\n",
//!     &LoadOptions::default(),
//! )?;
//! # let state = tempfile::tempdir().unwrap();
//! let provider = LocalProvider::builder().root(state.path()).build()?;
//! let ws = provider
//!     .provision(&contract, CreateRequest::named("demo-1"), Duration::from_secs(10))
//!     .await?;
//! let exec = provider.executor(&ws.id).await?;
//! exec.write_bytes("hello.txt", b"hi".to_vec()).await?;
//! let out = exec.exec_ok(ExecRequest::new(["cat", "/projects/demo/hello.txt"])).await?;
//! assert_eq!(out.stdout_text(), "hi");
//! provider.delete(&ws.id).await?;
//! # Ok(())
//! # }
//! ```
//!
//! ## Map
//! - [`LocalProvider`] (`provider/`, built by [`LocalProviderBuilder`]): workspaces under a
//!   root directory, each with a `workspace.json` record (`state.rs`), so a new provider sees
//!   the workspaces of an old one. Projects are cloned on the host (`project.rs`); what a
//!   contract asks that cannot be enforced locally is reported (`limitations.rs`).
//! - [`LocalExecutor`] (`executor.rs`): commands as argv vectors, streamed, with timeouts that
//!   kill the whole process tree (`process.rs`); files read and written on the host through
//!   `openat2(RESOLVE_BENEATH)` so symlinks cannot lead out (`files.rs`).
//! - [`LocalSession`] (`session.rs`): a persistent shell with per-command exit codes.
//! - `sandbox.rs`: the bubblewrap argv and the probe behind [`Isolation::Auto`].
//! - [`LocalError`] (`error.rs`): the backend's failures, mapped into [`agentbox_core::Error`].
//!
//! ## Limits
//! Memory limits become an address-space limit (`RLIMIT_AS`) on each command. No process-count
//! limit is set: `RLIMIT_NPROC` counts every process of the host user, so a value low enough
//! to stop a fork bomb would break the user's other work. CPU limits, per-rule egress, runtime
//! classes and ports are not enforced; [`LocalProvider::limitations`] lists what applies to a
//! contract.

#![warn(missing_docs)]

mod builder;
mod context;
mod error;
mod executor;
mod files;
mod limitations;
mod process;
mod project;
mod provider;
mod sandbox;
mod session;
mod state;

pub use builder::{Isolation, LocalProviderBuilder};
pub use error::LocalError;
pub use executor::LocalExecutor;
pub use provider::LocalProvider;
pub use session::LocalSession;
