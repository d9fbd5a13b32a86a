//! What a task is, as Python sees it: `Task`, `Limits` and `AgentCli` (the repository is in
//! `repo.rs`). Each wraps its Rust value unchanged.

use std::collections::{BTreeMap, HashMap};

use agentbox_core::task::{
    AgentCli as CoreAgentCli, CleanupPolicy, Limits as CoreLimits, Mode, PermissionFlags,
    Task as CoreTask,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use super::repo::TaskRepo;
use crate::contract::Contract;
use crate::model::seconds;
use crate::repr::py_repr;

/// Limits on one task; reaching any of them ends it. Durations are seconds; omitted values
/// take the defaults (30 turns, 3 fix attempts, a 30-minute deadline, no token budget, 10
/// minutes per command).
#[pyclass(module = "agentbox", frozen, eq)]
#[derive(Clone, PartialEq)]
pub struct Limits {
    pub(crate) inner: CoreLimits,
}

#[pymethods]
impl Limits {
    #[new]
    #[pyo3(signature = (*, max_turns=None, max_fix_attempts=None, deadline=None, token_budget=None, command_timeout=None))]
    fn new(
        max_turns: Option<u32>,
        max_fix_attempts: Option<u32>,
        deadline: Option<f64>,
        token_budget: Option<u64>,
        command_timeout: Option<f64>,
    ) -> PyResult<Self> {
        let defaults = CoreLimits::default();
        Ok(Self {
            inner: CoreLimits {
                max_turns: max_turns.unwrap_or(defaults.max_turns),
                max_fix_attempts: max_fix_attempts.unwrap_or(defaults.max_fix_attempts),
                deadline: deadline
                    .map(|s| seconds(s, "deadline"))
                    .transpose()?
                    .unwrap_or(defaults.deadline),
                token_budget,
                command_timeout: command_timeout
                    .map(|s| seconds(s, "command_timeout"))
                    .transpose()?
                    .unwrap_or(defaults.command_timeout),
            },
        })
    }

    /// Model calls (turns) at most.
    #[getter]
    fn max_turns(&self) -> u32 {
        self.inner.max_turns
    }

    /// Failing test runs tolerated; the task ends when a failing run uses the last one.
    #[getter]
    fn max_fix_attempts(&self) -> u32 {
        self.inner.max_fix_attempts
    }

    /// Seconds for the whole task, provisioning included (cleanup is not).
    #[getter]
    fn deadline(&self) -> f64 {
        self.inner.deadline.as_secs_f64()
    }

    /// Prompt plus completion tokens at most; `None` for no budget.
    #[getter]
    fn token_budget(&self) -> Option<u64> {
        self.inner.token_budget
    }

    /// Seconds after which any one command (a tool's or the tests') is killed.
    #[getter]
    fn command_timeout(&self) -> f64 {
        self.inner.command_timeout.as_secs_f64()
    }

    fn __repr__(&self) -> String {
        let l = &self.inner;
        format!(
            "Limits(max_turns={}, max_fix_attempts={}, deadline={}, token_budget={}, command_timeout={})",
            l.max_turns,
            l.max_fix_attempts,
            l.deadline.as_secs_f64(),
            l.token_budget
                .map_or_else(|| "None".to_owned(), |t| t.to_string()),
            l.command_timeout.as_secs_f64()
        )
    }
}

/// An agent CLI run inside the workspace (the in-pod mode): `argv` is a template in which
/// exactly one element is `"{prompt}"` (replaced by the task's prompt, as one argument) and an
/// element `"{permissions}"` is replaced by the contract's permission rules translated into
/// the CLI's flags (`permission_flags="copilot_cli"`; with `"none"` the sandbox is the only
/// fence). `env` is extra environment for the CLI.
#[pyclass(module = "agentbox", frozen)]
pub struct AgentCli {
    pub(crate) inner: CoreAgentCli,
}

#[pymethods]
impl AgentCli {
    #[new]
    #[pyo3(signature = (argv, *, permission_flags="none", env=None))]
    fn new(
        py: Python<'_>,
        argv: Vec<String>,
        permission_flags: &str,
        env: Option<BTreeMap<String, String>>,
    ) -> PyResult<Self> {
        let flags = match permission_flags {
            "none" => PermissionFlags::None,
            "copilot_cli" => PermissionFlags::CopilotCli,
            other => {
                return Err(PyValueError::new_err(format!(
                    "permission_flags={} is not known; use 'none' or 'copilot_cli'",
                    py_repr(py, other)?
                )));
            }
        };
        let mut cli = CoreAgentCli::new(argv).permission_flags(flags);
        cli.env = env.unwrap_or_default();
        Ok(Self { inner: cli })
    }

    /// The GitHub Copilot CLI in non-interactive mode: `copilot -p {prompt} {permissions}`.
    #[staticmethod]
    fn copilot() -> Self {
        Self {
            inner: CoreAgentCli::copilot(),
        }
    }

    /// The argv template.
    #[getter]
    fn argv(&self) -> Vec<String> {
        self.inner.argv.clone()
    }

    /// `"none"` or `"copilot_cli"`.
    #[getter]
    fn permission_flags(&self) -> &'static str {
        flags_name(self.inner.permission_flags)
    }

    /// Extra environment variables for the CLI.
    #[getter]
    fn env(&self) -> BTreeMap<String, String> {
        self.inner.env.clone()
    }

    /// Check the template (a program, exactly one `{prompt}`); raises `Refused` if unusable.
    fn validate(&self) -> PyResult<()> {
        self.inner.validate().map_err(crate::errors::to_py)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "AgentCli(argv={}, permission_flags={}, env_keys={})",
            py_repr(py, &self.inner.argv)?,
            py_repr(py, flags_name(self.inner.permission_flags))?,
            py_repr(py, self.inner.env.keys().collect::<Vec<_>>())?
        ))
    }
}

fn flags_name(flags: PermissionFlags) -> &'static str {
    match flags {
        PermissionFlags::CopilotCli => "copilot_cli",
        _ => "none",
    }
}

/// One task: what to do (`description`, in the words of the ticket), the contract the
/// workspace is made from (its `agent.permissions` are the permission gate's rules and its
/// `test`-group command is what "tests pass" means), and optionally a repository to work on.
///
/// `mode` is `"orchestrator"` (the runner talks to the model with tools and runs every call
/// through the permission gate), `"whole_file"` (for models without tool calling: they answer
/// with whole files) or an `AgentCli` (an agent CLI inside the workspace does the work).
/// `cleanup` is what happens to the workspace when the task ends, however it ends: `"delete"`,
/// `"stop"` (suspend, keeping its storage, e.g. while a pull request is reviewed) or `"keep"`.
/// `files` (path relative to the workdir, or absolute → content) are written into the
/// workspace before the work starts. `ready_timeout` is seconds.
#[pyclass(module = "agentbox", frozen)]
pub struct Task {
    pub(crate) inner: CoreTask,
}

#[pymethods]
impl Task {
    #[new]
    #[pyo3(signature = (description, contract, *, repo=None, limits=None, mode=None, cleanup="delete", files=None, workspace_name=None, ready_timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        description: String,
        contract: &Bound<'_, Contract>,
        repo: Option<&Bound<'_, TaskRepo>>,
        limits: Option<&Bound<'_, Limits>>,
        mode: Option<&Bound<'_, PyAny>>,
        cleanup: &str,
        files: Option<HashMap<String, Bound<'_, PyAny>>>,
        workspace_name: Option<String>,
        ready_timeout: Option<f64>,
    ) -> PyResult<Self> {
        let mut task = CoreTask::new(description, contract.get().inner.clone())
            .mode(parse_mode(mode)?)
            .cleanup(parse_cleanup(contract.py(), cleanup)?);
        if let Some(repo) = repo {
            task = task.repo(repo.get().inner.clone());
        }
        if let Some(limits) = limits {
            task = task.limits(limits.get().inner);
        }
        for (path, content) in files.unwrap_or_default() {
            task = task.file(path.clone(), file_content(&path, &content)?);
        }
        if let Some(name) = workspace_name {
            task = task.workspace_name(name);
        }
        if let Some(timeout) = ready_timeout {
            task.ready_timeout = seconds(timeout, "ready_timeout")?;
        }
        Ok(Self { inner: task })
    }

    /// What to do.
    #[getter]
    fn description(&self) -> &str {
        &self.inner.description
    }

    /// The environment contract.
    #[getter]
    fn contract(&self) -> Contract {
        Contract {
            inner: self.inner.contract.clone(),
        }
    }

    /// The repository worked on, if any.
    #[getter]
    fn repo(&self) -> Option<TaskRepo> {
        self.inner.repo.clone().map(|inner| TaskRepo { inner })
    }

    /// The limits.
    #[getter]
    fn limits(&self) -> Limits {
        Limits {
            inner: self.inner.limits,
        }
    }

    /// `"orchestrator"`, `"whole_file"` or `"in_pod"` (then `agent_cli` says which CLI).
    #[getter]
    fn mode(&self) -> &'static str {
        match &self.inner.mode {
            Mode::InPod(_) => "in_pod",
            Mode::WholeFile => "whole_file",
            _ => "orchestrator",
        }
    }

    /// The agent CLI of the in-pod mode; `None` in the other modes.
    #[getter]
    fn agent_cli(&self) -> Option<AgentCli> {
        match &self.inner.mode {
            Mode::InPod(cli) => Some(AgentCli { inner: cli.clone() }),
            _ => None,
        }
    }

    /// `"delete"`, `"stop"` or `"keep"`.
    #[getter]
    fn cleanup(&self) -> String {
        self.inner.cleanup.to_string()
    }

    /// Files written into the workspace before the work starts.
    #[getter]
    fn files<'py>(&self, py: Python<'py>) -> BTreeMap<String, Bound<'py, PyBytes>> {
        self.inner
            .files
            .iter()
            .map(|(path, content)| (path.clone(), PyBytes::new(py, content)))
            .collect()
    }

    /// The workspace's name; the backend picks one when `None`.
    #[getter]
    fn workspace_name(&self) -> Option<&str> {
        self.inner.workspace_name.as_deref()
    }

    /// Seconds to wait for the workspace to become ready.
    #[getter]
    fn ready_timeout(&self) -> f64 {
        self.inner.ready_timeout.as_secs_f64()
    }

    /// The contract command that is the task's tests: `(name, command line)`. Raises
    /// `Refused` when the contract has none.
    fn test_command(&self) -> PyResult<(String, String)> {
        self.inner
            .test_command()
            .map(|(name, run)| (name.to_owned(), run.to_owned()))
            .map_err(crate::errors::to_py)
    }

    /// Check the task can run at all (a test command, usable limits, a valid agent CLI, a
    /// pull request only with a base branch and push); raises `Refused` otherwise.
    fn validate(&self) -> PyResult<()> {
        self.inner.validate().map_err(crate::errors::to_py)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Task(description={}, contract={}, repo={}, mode={}, cleanup={}, files={})",
            py_repr(py, &self.inner.description)?,
            py_repr(py, self.inner.contract.name())?,
            py_repr(py, self.inner.repo.as_ref().map(|r| &r.spec.url))?,
            py_repr(py, self.mode())?,
            py_repr(py, self.inner.cleanup.to_string())?,
            py_repr(py, self.inner.files.keys().collect::<Vec<_>>())?,
        ))
    }
}

fn parse_mode(mode: Option<&Bound<'_, PyAny>>) -> PyResult<Mode> {
    let Some(mode) = mode else {
        return Ok(Mode::Orchestrator);
    };
    if let Ok(cli) = mode.cast::<AgentCli>() {
        return Ok(Mode::InPod(cli.get().inner.clone()));
    }
    match mode.extract::<String>().as_deref() {
        Ok("orchestrator") => Ok(Mode::Orchestrator),
        Ok("whole_file") => Ok(Mode::WholeFile),
        Ok(other) => Err(PyValueError::new_err(format!(
            "mode={} is not known; use 'orchestrator', 'whole_file' or an AgentCli (the in-pod mode)",
            py_repr(mode.py(), other)?
        ))),
        Err(_) => Err(PyTypeError::new_err(
            "mode must be 'orchestrator', 'whole_file' or an AgentCli",
        )),
    }
}

pub(crate) fn parse_cleanup(py: Python<'_>, cleanup: &str) -> PyResult<CleanupPolicy> {
    match cleanup {
        "delete" => Ok(CleanupPolicy::Delete),
        "stop" => Ok(CleanupPolicy::Stop),
        "keep" => Ok(CleanupPolicy::Keep),
        other => Err(PyValueError::new_err(format!(
            "cleanup={} is not known; use 'delete', 'stop' or 'keep'",
            py_repr(py, other)?
        ))),
    }
}

fn file_content(path: &str, content: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(bytes) = content.cast::<PyBytes>() {
        return Ok(bytes.as_bytes().to_vec());
    }
    if let Ok(text) = content.cast::<PyString>() {
        return Ok(text.to_str()?.as_bytes().to_vec());
    }
    Err(PyTypeError::new_err(format!(
        "files[{}] must be bytes or str, not {}",
        py_repr(content.py(), path)?,
        content.get_type().name()?
    )))
}
