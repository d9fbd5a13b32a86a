//! `TaskRunner` and `run_task`: the Rust task runner on one provider and one model, recording
//! each run into a file evidence sink.

use std::path::PathBuf;
use std::sync::Arc;

use agentbox_core::evidence::{EvidenceSink, FsEvidenceSink, Redactor, RunInfo};
use agentbox_core::provider::WorkspaceId;
use agentbox_core::task::TaskRunner as CoreTaskRunner;
use agentbox_core::{ModelClient, WorkspaceProvider};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use secrecy::SecretString;
use tokio::sync::watch;

use super::event::EventRelay;
use super::repo::GhCliForge;
use super::result::TaskResult;
use super::spec::{Task, parse_cleanup};
use crate::model::{Model, seconds};
use crate::provider::Provider;
use crate::repr::py_repr;

type Runner = CoreTaskRunner<dyn WorkspaceProvider, dyn ModelClient>;

/// Runs tasks on one provider with one model.
///
/// `run` provisions a workspace, does the work in the task's mode, commits (and pushes, and
/// opens a pull request with `forge`) when the task has a repository, then leaves the
/// workspace as the task's `cleanup` says and finishes the evidence run — however the task
/// ends, including when the awaiting coroutine is cancelled (then in the background:
/// `wait_for_cleanups` waits for it).
///
/// `on_event` is called with a `TaskEvent` for every step, in order, from a thread of the
/// runtime (with the GIL held), and every event of a run has been delivered when `run`
/// returns. Keep it quick. An exception it raises is logged through `tracing` (target
/// `agentbox::task`) and otherwise ignored: it never stops or fails the task.
///
/// Credentials of the model (its API key or GitHub token), of the forge and of the task's
/// repository are redacted from the evidence and from the events.
#[pyclass(module = "agentbox", frozen)]
pub struct TaskRunner {
    runner: Arc<Runner>,
    relay: Option<Arc<EventRelay>>,
    /// Secrets taken out of the events.
    redactor: Redactor,
    /// Secrets taken out of every run's evidence.
    secrets: Vec<SecretString>,
    backend: String,
    model: String,
    /// How many runs have been started and not yet dropped: asyncio cancels a run by
    /// signalling its future, which is dropped (starting its cleanup) a moment later.
    in_flight: Arc<watch::Sender<usize>>,
}

#[pymethods]
impl TaskRunner {
    #[new]
    #[pyo3(signature = (provider, model, *, forge=None, on_event=None))]
    fn new(
        provider: &Bound<'_, Provider>,
        model: &Bound<'_, Model>,
        forge: Option<&Bound<'_, GhCliForge>>,
        on_event: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let provider = Arc::clone(&provider.get().inner);
        let model = model.get();
        let mut secrets = model.secrets.clone();
        let mut runner = CoreTaskRunner::new(Arc::clone(&provider), Arc::clone(&model.inner));
        if let Some(forge) = forge {
            let forge = forge.get();
            runner = runner.forge(Arc::clone(&forge.inner));
            secrets.push(forge.token.clone());
        }
        let redactor = Redactor::new();
        for secret in &secrets {
            redactor.register(secret);
        }
        let relay = match on_event {
            Some(callback) if callback.is_callable() => Some(Arc::new(EventRelay::start(
                callback.unbind(),
                redactor.clone(),
            ))),
            Some(other) => {
                return Err(PyTypeError::new_err(format!(
                    "on_event must be callable (it is called with each TaskEvent), not {}",
                    other.get_type().name()?
                )));
            }
            None => None,
        };
        if let Some(relay) = &relay {
            runner = runner.progress(relay.progress());
        }
        Ok(Self {
            backend: provider.backend().to_owned(),
            model: model.inner.model().to_owned(),
            runner: Arc::new(runner),
            relay,
            redactor,
            secrets,
            in_flight: Arc::new(watch::Sender::new(0)),
        })
    }

    /// Run `task` in a new workspace, recording evidence into a new run directory under
    /// `evidence_dir` (named `run_id`, or a time-sortable id). Returns a `TaskResult`; raises
    /// only when the task is unusable as given (e.g. `Refused`: no test command, zero limits;
    /// nothing is provisioned then) or the evidence cannot be written (`EvidenceError`).
    /// Everything that goes wrong once the work starts is the result's `outcome`.
    #[pyo3(signature = (task, *, evidence_dir, run_id=None))]
    fn run<'py>(
        &self,
        py: Python<'py>,
        task: &Bound<'py, Task>,
        evidence_dir: PathBuf,
        run_id: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (job, task) = self.job(task, evidence_dir, run_id);
        let runner = Arc::clone(&self.runner);
        crate::runtime::future(py, async move {
            job.execute(|sink| async move { runner.run(&task, sink).await })
                .await
        })
    }

    /// Resume the stopped `workspace` of an earlier run of `task` and continue the work there,
    /// with `feedback` (e.g. a reviewer's comments) given to the agent as a new message; then
    /// commit, push and open the pull request again as the task says, and clean up per its
    /// policy. Records into a new evidence run.
    #[pyo3(signature = (workspace, task, feedback, *, evidence_dir, run_id=None))]
    fn continue_task<'py>(
        &self,
        py: Python<'py>,
        workspace: String,
        task: &Bound<'py, Task>,
        feedback: String,
        evidence_dir: PathBuf,
        run_id: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (job, task) = self.job(task, evidence_dir, run_id);
        let runner = Arc::clone(&self.runner);
        crate::runtime::future(py, async move {
            let id = WorkspaceId(workspace);
            job.execute(
                |sink| async move { runner.continue_task(&id, &task, &feedback, sink).await },
            )
            .await
        })
    }

    /// Suspend `workspace` (stop it, keeping its storage), e.g. while its pull request is
    /// reviewed.
    fn suspend<'py>(&self, py: Python<'py>, workspace: String) -> PyResult<Bound<'py, PyAny>> {
        let runner = Arc::clone(&self.runner);
        crate::runtime::future(
            py,
            async move { runner.suspend(&WorkspaceId(workspace)).await },
        )
    }

    /// Resume a suspended `workspace` and wait (at most `timeout` seconds) until it is ready;
    /// returns its phase (`"running"`).
    #[pyo3(signature = (workspace, timeout=300.0))]
    fn resume<'py>(
        &self,
        py: Python<'py>,
        workspace: String,
        timeout: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let timeout = seconds(timeout, "timeout")?;
        let runner = Arc::clone(&self.runner);
        crate::runtime::future(py, async move {
            let info = runner.resume(&WorkspaceId(workspace), timeout).await?;
            Ok(info.phase.to_string())
        })
    }

    /// Delete `workspace` (e.g. once its pull request is merged); deleting one already gone
    /// succeeds.
    fn delete<'py>(&self, py: Python<'py>, workspace: String) -> PyResult<Bound<'py, PyAny>> {
        let runner = Arc::clone(&self.runner);
        crate::runtime::future(
            py,
            async move { runner.delete(&WorkspaceId(workspace)).await },
        )
    }

    /// Clean up after an orchestrator that crashed mid-task: read the evidence run in
    /// `run_dir` and apply `policy` (`"delete"`, `"stop"` or `"keep"`) to every workspace it
    /// lists. Idempotent. Returns the workspaces handled.
    #[pyo3(signature = (run_dir, policy="delete"))]
    fn cleanup_from_record<'py>(
        &self,
        py: Python<'py>,
        run_dir: PathBuf,
        policy: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let policy = parse_cleanup(py, policy)?;
        let runner = Arc::clone(&self.runner);
        crate::runtime::future(py, async move {
            let handled = runner.cleanup_from_record(&run_dir, policy).await?;
            Ok(handled.into_iter().map(|id| id.0).collect::<Vec<_>>())
        })
    }

    /// Wait until every run of this runner has ended — runs whose coroutine was cancelled
    /// included, which end a moment after the cancellation — and every cleanup started for a
    /// run that ended early is done.
    fn wait_for_cleanups<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let runner = Arc::clone(&self.runner);
        let mut in_flight = self.in_flight.subscribe();
        crate::runtime::future(py, async move {
            // The sender lives in `self` and in every running job, so this cannot fail while
            // anything is in flight; once it is gone, nothing is.
            let _ = in_flight.wait_for(|runs| *runs == 0).await;
            runner.wait_for_cleanups().await;
            Ok(())
        })
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "TaskRunner(backend={}, model={}, on_event={})",
            py_repr(py, &self.backend)?,
            py_repr(py, &self.model)?,
            if self.relay.is_some() {
                "<callback>"
            } else {
                "None"
            }
        ))
    }
}

impl TaskRunner {
    /// Everything one run needs, owned, to move into its future, and the task.
    fn job(
        &self,
        task: &Bound<'_, Task>,
        evidence_dir: PathBuf,
        run_id: Option<String>,
    ) -> (Job, agentbox_core::task::Task) {
        let task = task.get().inner.clone();
        if let Some(token) = task.repo.as_ref().and_then(|r| r.token.as_ref()) {
            self.redactor.register(token);
        }
        self.in_flight.send_modify(|runs| *runs += 1);
        let job = Job {
            _running: Running(Arc::clone(&self.in_flight)),
            relay: self.relay.clone(),
            redactor: self.redactor.clone(),
            secrets: self.secrets.clone(),
            info: RunInfo {
                run_id,
                contract_hash: Some(task.contract.hash().to_owned()),
                backend: Some(self.backend.clone()),
            },
            evidence_dir,
        };
        (job, task)
    }
}

/// Counts a run as in flight until it is dropped (finished, or cancelled).
struct Running(Arc<watch::Sender<usize>>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.send_modify(|runs| *runs -= 1);
    }
}

/// One run, ready to go.
struct Job {
    /// Counts the run as in flight until the job is dropped. The job is `execute`'s
    /// parameter, so a cancelled run's future (a local there, whose drop starts the cleanup)
    /// is dropped before it.
    _running: Running,
    relay: Option<Arc<EventRelay>>,
    redactor: Redactor,
    secrets: Vec<SecretString>,
    info: RunInfo,
    evidence_dir: PathBuf,
}

impl Job {
    /// Create the evidence sink, register the secrets with it, run `work` with it, wait for
    /// the events to be delivered, and convert the result.
    async fn execute<W, F>(self, work: W) -> agentbox_core::Result<TaskResult>
    where
        W: FnOnce(Arc<FsEvidenceSink>) -> F,
        F: Future<Output = agentbox_core::Result<agentbox_core::task::TaskResult>>,
    {
        let sink = Arc::new(FsEvidenceSink::create(&self.evidence_dir, self.info).await?);
        for secret in &self.secrets {
            sink.redactor().register(secret);
        }
        let run_dir = sink.run_dir().to_path_buf();
        let result = work(sink).await;
        if let Some(relay) = &self.relay {
            relay.flush().await;
        }
        Ok(TaskResult::new(result?, run_dir, &self.redactor))
    }
}

/// Run `task` with a one-off `TaskRunner(provider, model, forge=forge, on_event=on_event)`,
/// recording evidence in a new run directory under `evidence_dir`; see `TaskRunner.run`.
///
/// `on_event` is called with each `TaskEvent`, in order, from a runtime thread with the GIL
/// held; all of them have been delivered when the result is returned. An exception it raises
/// is logged through `tracing` and ignored: it never stops or fails the task.
#[pyfunction]
#[pyo3(signature = (provider, model, task, *, evidence_dir, run_id=None, forge=None, on_event=None))]
#[allow(clippy::too_many_arguments)]
pub fn run_task<'py>(
    py: Python<'py>,
    provider: &Bound<'py, Provider>,
    model: &Bound<'py, Model>,
    task: &Bound<'py, Task>,
    evidence_dir: PathBuf,
    run_id: Option<String>,
    forge: Option<&Bound<'py, GhCliForge>>,
    on_event: Option<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    TaskRunner::new(provider, model, forge, on_event)?.run(py, task, evidence_dir, run_id)
}
