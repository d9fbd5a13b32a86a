//! `TaskResult`: what a finished task left behind, and where its evidence is.

use std::path::PathBuf;

use agentbox_core::evidence::{REPORT_FILE, Redactor};
use agentbox_core::task::{TaskOutcome, TaskResult as CoreTaskResult};
use pyo3::prelude::*;

use crate::repr::py_repr;

/// What a finished task left behind.
///
/// `outcome` is `"succeeded"`, `"limit_reached"` (`limit` says which: `"turns"`,
/// `"fix_attempts"` or `"tokens"`), `"timed_out"` or `"failed"` (`reason` says what failed);
/// `details` says it in words. `evidence_dir` is the run's evidence directory (`run.json`,
/// `events.jsonl`, `junit.xml`, the HTML report `index.html`, `artifacts/`).
#[pyclass(module = "agentbox", frozen)]
pub struct TaskResult {
    outcome: String,
    details: String,
    limit: Option<String>,
    reason: Option<String>,
    success: bool,
    run_id: String,
    evidence_dir: PathBuf,
    workspace: Option<String>,
    commit: Option<String>,
    pull_request: Option<String>,
    turns: u32,
    tokens: u64,
    test_runs: u32,
    failed_test_runs: u32,
}

impl TaskResult {
    /// The Python view of `result`, whose evidence is in `evidence_dir`; `redactor`'s secrets
    /// are taken out of the texts.
    pub(crate) fn new(result: CoreTaskResult, evidence_dir: PathBuf, redactor: &Redactor) -> Self {
        let outcome = &result.outcome;
        let tagged = serde_json::to_value(outcome).unwrap_or_default();
        let text = |key: &str| {
            tagged
                .get(key)
                .and_then(serde_json::Value::as_str)
                .map(|s| redactor.redact(s))
        };
        Self {
            outcome: text("status").unwrap_or_else(|| "failed".to_owned()),
            details: redactor.redact(&outcome.to_string()),
            limit: text("limit"),
            reason: text("reason"),
            success: matches!(outcome, TaskOutcome::Succeeded),
            run_id: result.run_id,
            evidence_dir,
            workspace: result.workspace.map(|id| id.to_string()),
            commit: result.commit,
            pull_request: result.pull_request,
            turns: result.turns,
            tokens: result.tokens,
            test_runs: result.test_runs,
            failed_test_runs: result.failed_test_runs,
        }
    }
}

#[pymethods]
impl TaskResult {
    /// `"succeeded"`, `"limit_reached"`, `"timed_out"` or `"failed"`.
    #[getter]
    fn outcome(&self) -> &str {
        &self.outcome
    }

    /// How the task ended, in words (e.g. `"stopped: the fix-attempt limit was reached"`).
    #[getter]
    fn details(&self) -> &str {
        &self.details
    }

    /// For `"limit_reached"`: `"turns"`, `"fix_attempts"` or `"tokens"`.
    #[getter]
    fn limit(&self) -> Option<&str> {
        self.limit.as_deref()
    }

    /// For `"failed"`: what failed.
    #[getter]
    fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// True when the tests pass and the work is done.
    #[getter]
    fn success(&self) -> bool {
        self.success
    }

    /// The evidence run's id (the name of `evidence_dir`).
    #[getter]
    fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The run's evidence directory.
    #[getter]
    fn evidence_dir(&self) -> PathBuf {
        self.evidence_dir.clone()
    }

    /// The run's HTML report (`evidence_dir / "index.html"`), which opens offline.
    #[getter]
    fn report(&self) -> PathBuf {
        self.evidence_dir.join(REPORT_FILE)
    }

    /// The workspace the task worked in, when one was created.
    #[getter]
    fn workspace(&self) -> Option<&str> {
        self.workspace.as_deref()
    }

    /// The commit made on the task's branch, when there was a repository and a change.
    #[getter]
    fn commit(&self) -> Option<&str> {
        self.commit.as_deref()
    }

    /// The pull request's URL, when one was opened.
    #[getter]
    fn pull_request(&self) -> Option<&str> {
        self.pull_request.as_deref()
    }

    /// Model calls made.
    #[getter]
    fn turns(&self) -> u32 {
        self.turns
    }

    /// Prompt plus completion tokens used.
    #[getter]
    fn tokens(&self) -> u64 {
        self.tokens
    }

    /// Test runs made.
    #[getter]
    fn test_runs(&self) -> u32 {
        self.test_runs
    }

    /// Test runs that failed.
    #[getter]
    fn failed_test_runs(&self) -> u32 {
        self.failed_test_runs
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "TaskResult(outcome={}, details={}, run_id={}, workspace={}, commit={}, pull_request={}, turns={}, tokens={}, test_runs={}, failed_test_runs={}, evidence_dir={})",
            py_repr(py, &self.outcome)?,
            py_repr(py, &self.details)?,
            py_repr(py, &self.run_id)?,
            py_repr(py, &self.workspace)?,
            py_repr(py, &self.commit)?,
            py_repr(py, &self.pull_request)?,
            self.turns,
            self.tokens,
            self.test_runs,
            self.failed_test_runs,
            py_repr(py, self.evidence_dir.display().to_string())?,
        ))
    }
}
