//! Tasks: taking a description (and optionally a repository) to passing tests, a commit, a
//! pushed branch and a pull request, inside a disposable workspace — with every agent action
//! behind the permission gate, everything recorded as evidence, and the workspace cleaned up
//! however the task ends.
//!
//! ```no_run
//! # async fn demo(
//! #     provider: std::sync::Arc<impl agentbox_core::WorkspaceProvider + 'static>,
//! #     model: std::sync::Arc<impl agentbox_core::ModelClient + 'static>,
//! #     contract: agentbox_core::Contract,
//! # ) -> agentbox_core::Result<()> {
//! use agentbox_core::evidence::{FsEvidenceSink, RunInfo};
//! use agentbox_core::task::{CleanupPolicy, Task, TaskRunner};
//! use std::sync::Arc;
//!
//! let runner = TaskRunner::new(provider, model);
//! let task = Task::new("Make the failing test pass", contract).cleanup(CleanupPolicy::Delete);
//! let evidence = Arc::new(FsEvidenceSink::create("evidence", RunInfo::default()).await?);
//! let result = runner.run(&task, evidence).await?;
//! assert!(result.turns <= task.limits.max_turns);
//! # Ok(())
//! # }
//! ```
//!
//! ## Map
//! - [`spec`]: [`Task`], [`TaskRepo`], [`Limits`], [`Mode`], [`CleanupPolicy`].
//! - [`runner`]: [`TaskRunner`]: run, continue after review, suspend, resume, delete, and
//!   cleanup from a crashed run's record; `guard.rs` holds the cleanup that runs on drop.
//! - [`gate`]: [`PermissionGate`], the contract's permission rules applied to every action.
//! - [`tools`]: the orchestrator mode's tools and their argument parsing; `orchestrator.rs`
//!   runs the tool loop.
//! - [`in_pod`]: [`AgentCli`], an agent CLI inside the workspace, with the contract's rules
//!   translated into its flags.
//! - [`whole_file`]: the answer format and loop for models without tool calling.
//! - [`outcome`]: [`TaskOutcome`], [`TaskResult`]; [`event`]: [`TaskStep`] progress events.
//! - [`git`]: clone, branch, commit, push, diff; [`forge`]: [`Forge`](forge::Forge), where pull
//!   requests are opened.

mod deliver;
pub mod event;
pub mod forge;
pub mod gate;
pub mod git;
mod guard;
pub mod in_pod;
mod orchestrator;
pub mod outcome;
pub mod runner;
pub mod spec;
pub mod tools;
pub mod whole_file;
mod work;

pub use event::TaskStep;
pub use gate::{Denial, PermissionGate};
pub use in_pod::{AgentCli, PermissionFlags};
pub use outcome::{Limit, TaskOutcome, TaskResult};
pub use runner::TaskRunner;
pub use spec::{CleanupPolicy, Limits, Mode, Task, TaskRepo};
