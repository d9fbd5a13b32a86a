//! # agentbox-core
//!
//! The ground every agentbox backend stands on: the environment contract, the traits every
//! backend implements, errors, progress events and evidence.
//!
//! ```
//! use agentbox_core::contract::{Contract, LoadOptions};
//!
//! let contract = Contract::from_yaml(
//!     r#"
//! apiVersion: agentbox.dev/v1alpha1
//! kind: Environment
//! metadata: { name: hello }
//! spec:
//!   image: alpine:3.20
//!   commands:
//!     test: { run: "echo ok", group: test }
//! "#,
//!     &LoadOptions::default(),
//! )?;
//! assert_eq!(contract.name(), "hello");
//! assert_eq!(contract.workdir(), "/projects/hello");
//! // An image without a digest loads, with a warning (an error under `LoadOptions::strict()`).
//! assert_eq!(contract.warnings().len(), 1);
//! # Ok::<(), agentbox_core::Error>(())
//! ```
//!
//! ## Map
//! - [`contract`]: the `agentbox.yaml` model, its loader and validator, its JSON Schema.
//! - [`provider`]: [`WorkspaceProvider`], the lifecycle of workspaces on a backend.
//! - [`exec`]: [`Executor`], commands, files and sessions inside one workspace.
//! - [`generate`]: the contract compiled to devcontainer.json, Devfile, DevWorkspace, NetworkPolicy, AGENTS.md.
//! - [`model`]: [`ModelClient`], chat completions with tools.
//! - [`evidence`]: [`EvidenceSink`], the record of a run, with redaction and JUnit.
//! - [`progress`]: typed progress events for callers.
//! - [`secrets`]: resolving secret references to values.
//! - [`task`]: [`task::TaskRunner`], the agent loop behind the permission gate, git and pull
//!   requests, and a task's lifecycle with cleanup guaranteed.

#![warn(missing_docs)]

pub mod contract;
mod error;
pub mod evidence;
pub mod exec;
pub mod generate;
pub mod model;
pub mod progress;
pub mod provider;
pub mod secrets;
pub mod task;

pub use contract::Contract;
pub use error::{BoxError, Error, Result};
pub use evidence::EvidenceSink;
pub use exec::Executor;
pub use model::ModelClient;
pub use provider::WorkspaceProvider;
