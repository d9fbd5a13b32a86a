//! How a task ended ([`TaskOutcome`]) and what it left behind ([`TaskResult`]).

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::evidence::RunOutcome;
use crate::provider::WorkspaceId;

/// Which limit ended a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// `max_turns` model calls were made.
    Turns,
    /// `max_fix_attempts` test runs failed.
    FixAttempts,
    /// The token budget was spent.
    Tokens,
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Limit::Turns => "the turn limit",
            Limit::FixAttempts => "the fix-attempt limit",
            Limit::Tokens => "the token budget",
        })
    }
}

/// How a task ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum TaskOutcome {
    /// The tests pass and the work is done.
    Succeeded,
    /// A limit was reached before the tests passed.
    LimitReached {
        /// The limit.
        limit: Limit,
    },
    /// The deadline passed.
    TimedOut,
    /// Something failed (the model, the workspace, the agent CLI, git); the reason says what.
    Failed {
        /// What failed.
        reason: String,
    },
}

impl TaskOutcome {
    /// True for [`TaskOutcome::Succeeded`].
    pub fn is_success(&self) -> bool {
        matches!(self, TaskOutcome::Succeeded)
    }

    /// The evidence run's outcome for this task outcome.
    pub fn run_outcome(&self) -> RunOutcome {
        match self {
            TaskOutcome::Succeeded => RunOutcome::Succeeded,
            TaskOutcome::LimitReached { limit } => RunOutcome::Failed {
                reason: format!("{limit} was reached before the tests passed"),
            },
            TaskOutcome::TimedOut => RunOutcome::TimedOut,
            TaskOutcome::Failed { reason } => RunOutcome::Failed {
                reason: reason.clone(),
            },
        }
    }
}

impl fmt::Display for TaskOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskOutcome::Succeeded => f.write_str("succeeded"),
            TaskOutcome::LimitReached { limit } => write!(f, "stopped: {limit} was reached"),
            TaskOutcome::TimedOut => f.write_str("timed out"),
            TaskOutcome::Failed { reason } => write!(f, "failed: {reason}"),
        }
    }
}

/// What a finished task left behind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskResult {
    /// How it ended.
    pub outcome: TaskOutcome,
    /// The evidence run's id (with a file sink, the run directory's name).
    pub run_id: String,
    /// The workspace it worked in, when one was created.
    pub workspace: Option<WorkspaceId>,
    /// The commit made on the task's branch, when there was a repository and a change.
    pub commit: Option<String>,
    /// The pull request opened, when a forge was configured.
    pub pull_request: Option<String>,
    /// Model calls made.
    pub turns: u32,
    /// Prompt plus completion tokens used.
    pub tokens: u64,
    /// Test runs made.
    pub test_runs: u32,
    /// Test runs that failed.
    pub failed_test_runs: u32,
}
