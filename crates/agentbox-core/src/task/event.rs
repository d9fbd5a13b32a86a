//! [`TaskStep`]: what a task is doing, delivered to the caller's progress observer as
//! [`ProgressEvent::Task`](crate::progress::ProgressEvent::Task).

use serde::Serialize;

use super::outcome::TaskOutcome;
use super::spec::CleanupPolicy;

/// One step of a task, for a progress display.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
#[non_exhaustive]
pub enum TaskStep {
    /// The workspace is being created and started.
    Provisioning,
    /// The workspace is ready.
    Ready {
        /// Workspace id.
        workspace: String,
    },
    /// The repository was cloned and the task's branch made.
    Cloned {
        /// The branch.
        branch: String,
    },
    /// A model call is being made.
    ModelTurn {
        /// Its number, from 1.
        turn: u32,
        /// The most allowed.
        max: u32,
    },
    /// A tool call was decided on (and, when allowed, is about to run).
    ToolCall {
        /// The tool's name.
        tool: String,
        /// Whether the permission gate allowed it (argument errors count as not allowed).
        allowed: bool,
    },
    /// The agent CLI (in-pod mode) started.
    AgentStarted {
        /// Its program.
        program: String,
    },
    /// The tests ran.
    Tests {
        /// Whether they passed.
        passed: bool,
        /// The test run's number, from 1.
        run: u32,
    },
    /// The work was committed.
    Committed {
        /// The commit's id.
        sha: String,
    },
    /// A pull request was opened.
    PullRequestOpened {
        /// Its URL.
        url: String,
    },
    /// The task ended (cleanup follows).
    Finished {
        /// How.
        outcome: TaskOutcome,
    },
    /// The workspace was cleaned up.
    CleanedUp {
        /// Workspace id.
        workspace: String,
        /// What was done to it.
        policy: CleanupPolicy,
    },
}
