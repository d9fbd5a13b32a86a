//! The typed records a run's evidence is made of.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

use crate::contract::Verdict;
use crate::exec::ExitStatus;
use crate::provider::Phase;

/// One thing that happened in a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EvidenceEvent {
    /// A workspace changed phase (created, started, stopped, deleted …).
    Lifecycle {
        /// Workspace id.
        workspace: String,
        /// The operation (`create`, `start`, `stop`, `resume`, `delete`).
        operation: String,
        /// The phase it led to, when there still is a workspace.
        phase: Option<Phase>,
        /// Backend message.
        message: Option<String>,
    },
    /// A command started.
    ExecStarted {
        /// Workspace id.
        workspace: String,
        /// The argv (redacted when stored).
        argv: Vec<String>,
        /// Working directory.
        cwd: Option<String>,
    },
    /// A command finished.
    ExecFinished {
        /// Workspace id.
        workspace: String,
        /// The argv.
        argv: Vec<String>,
        /// How it ended.
        exit: ExitStatus,
        /// How long it took, in milliseconds.
        duration_ms: u64,
        /// Its stdout (redacted when stored).
        stdout: String,
        /// Its stderr (redacted when stored).
        stderr: String,
        /// Whether output was cut.
        truncated: bool,
    },
    /// A file was written into the workspace.
    FileWritten {
        /// Workspace id.
        workspace: String,
        /// Absolute path in the workspace.
        path: String,
        /// Size.
        bytes: u64,
        /// SHA-256, hex.
        sha256: String,
    },
    /// A model was called.
    ModelCall {
        /// Model name.
        model: String,
        /// Tokens in the prompt.
        prompt_tokens: u64,
        /// Tokens in the answer.
        completion_tokens: u64,
        /// Round-trip time in milliseconds.
        latency_ms: u64,
        /// Retries before the answer.
        retries: u32,
    },
    /// The permission gate decided on an action.
    Permission {
        /// The action, e.g. `shell(git push --force)`.
        action: String,
        /// Allowed or denied.
        verdict: Verdict,
        /// The rule that decided, or `None` for the default.
        rule: Option<String>,
    },
    /// A test (or test command) finished.
    Test(TestResult),
    /// Anything else worth keeping.
    Note {
        /// The note.
        message: String,
    },
}

/// One line of `events.jsonl`: an event, when it was recorded and its place in the run.
///
/// Serialised flat: `{"at": "2025-01-01T12:00:00Z", "seq": 1, "type": "note", "message": "…"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedEvent {
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// Its number in the run, counting from 1.
    pub seq: u64,
    /// The event, as stored (redacted).
    #[serde(flatten)]
    pub event: EvidenceEvent,
}

/// One test's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    /// The suite (e.g. the contract command `test`).
    pub suite: String,
    /// The test's name.
    pub name: String,
    /// How it went.
    pub outcome: TestOutcome,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// A failure message.
    pub message: Option<String>,
    /// Captured output (redacted when stored).
    pub output: Option<String>,
}

impl TestResult {
    /// A result with no message or output.
    pub fn new(
        suite: impl Into<String>,
        name: impl Into<String>,
        outcome: TestOutcome,
        duration: Duration,
    ) -> Self {
        Self {
            suite: suite.into(),
            name: name.into(),
            outcome,
            duration_ms: duration.as_millis().try_into().unwrap_or(u64::MAX),
            message: None,
            output: None,
        }
    }
}

/// A test's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestOutcome {
    /// It passed.
    Passed,
    /// An assertion failed.
    Failed,
    /// It could not run properly (crashed, timed out).
    Error,
    /// It was skipped.
    Skipped,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RunOutcome {
    /// Still going (only in records written before the end).
    Running,
    /// It did what it set out to do.
    Succeeded,
    /// It failed.
    Failed {
        /// Why.
        reason: String,
    },
    /// It ran out of time.
    TimedOut,
    /// It was cancelled (e.g. its future was dropped).
    Cancelled,
}

impl RunOutcome {
    /// The outcome's name as serialised: `running`, `succeeded`, `failed`, `timed_out`,
    /// `cancelled`.
    pub fn status(&self) -> &'static str {
        match self {
            RunOutcome::Running => "running",
            RunOutcome::Succeeded => "succeeded",
            RunOutcome::Failed { .. } => "failed",
            RunOutcome::TimedOut => "timed_out",
            RunOutcome::Cancelled => "cancelled",
        }
    }
}

/// `run.json`: the summary of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The run's id.
    pub run_id: String,
    /// The contract's hash, when the run had one.
    pub contract_hash: Option<String>,
    /// The backend used.
    pub backend: Option<String>,
    /// Workspaces the run made (so a crashed orchestrator can clean them up).
    pub workspaces: Vec<String>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// How it ended.
    pub outcome: RunOutcome,
    /// Events recorded.
    pub events: u64,
    /// Tests recorded, by outcome.
    pub tests: TestCounts,
}

/// Number of tests by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestCounts {
    /// Passed.
    pub passed: u64,
    /// Failed.
    pub failed: u64,
    /// Errored.
    pub errors: u64,
    /// Skipped.
    pub skipped: u64,
}

impl TestCounts {
    /// Every test counted.
    pub fn total(&self) -> u64 {
        self.passed + self.failed + self.errors + self.skipped
    }

    /// Count one more test with this outcome.
    pub fn add(&mut self, outcome: TestOutcome) {
        let counter = match outcome {
            TestOutcome::Passed => &mut self.passed,
            TestOutcome::Failed => &mut self.failed,
            TestOutcome::Error => &mut self.errors,
            TestOutcome::Skipped => &mut self.skipped,
        };
        *counter += 1;
    }
}
