//! [`TaskRunner`]: provision, work, deliver, clean up — with cleanup and a finished evidence
//! run guaranteed however the task ends.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;
use tracing::Instrument;

use super::event::TaskStep;
use super::forge::Forge;
use super::gate::PermissionGate;
use super::guard::{CleanupGuard, Pending, apply, cleanup};
use super::outcome::{TaskOutcome, TaskResult};
use super::spec::{CleanupPolicy, Mode, Task};
use super::work::{Tally, Work, emit};
use super::{deliver, git, in_pod, orchestrator, whole_file};
use crate::Result;
use crate::evidence::{EvidenceEvent, EvidenceSink, FsEvidenceSink, RunOutcome};
use crate::model::ModelClient;
use crate::progress::Progress;
use crate::provider::{
    CreateRequest, LABEL_TASK_ID, WorkspaceId, WorkspaceInfo, WorkspaceProvider,
};

/// Runs tasks on one backend with one model.
///
/// [`run`](Self::run) provisions a workspace, does the work in the task's [`Mode`], commits
/// (and pushes, and opens a pull request) when there is a repository, then leaves the workspace
/// as the task's [`CleanupPolicy`] says and finishes the evidence run. That last step happens
/// however the task ends — success, failure, the deadline, a panic in code it calls, or its
/// future being dropped (then in the background: [`wait_for_cleanups`](Self::wait_for_cleanups)
/// waits for it).
///
/// Each run records into its own evidence sink, given to `run`: one task, one evidence run.
pub struct TaskRunner<P: ?Sized, M: ?Sized> {
    provider: Arc<P>,
    model: Arc<M>,
    forge: Option<Arc<dyn Forge>>,
    progress: Progress,
    pending: Pending,
}

/// Where a run's workspace comes from.
enum Start<'a> {
    /// Create and start a new one.
    Provision,
    /// Resume this one (stopped or running) and continue in it.
    Resume(&'a WorkspaceId),
}

impl<P, M> TaskRunner<P, M>
where
    P: WorkspaceProvider + ?Sized + 'static,
    M: ModelClient + ?Sized + 'static,
{
    /// A runner making workspaces with `provider` and talking to `model`.
    pub fn new(provider: Arc<P>, model: Arc<M>) -> Self {
        Self {
            provider,
            model,
            forge: None,
            progress: Progress::none(),
            pending: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Deliver [`TaskStep`]s (as [`ProgressEvent::Task`](crate::progress::ProgressEvent::Task))
    /// to this observer.
    pub fn progress(mut self, progress: Progress) -> Self {
        self.progress = progress;
        self
    }

    /// Open pull requests with this forge (for tasks whose repository asks for one).
    pub fn forge(mut self, forge: Arc<dyn Forge>) -> Self {
        self.forge = Some(forge);
        self
    }

    /// The provider.
    pub fn provider(&self) -> &Arc<P> {
        &self.provider
    }

    /// Run `task` in a new workspace, recording into `evidence`.
    ///
    /// `Err` only when the task is unusable as given (no test command, zero limits, a bad
    /// agent CLI template) — nothing is provisioned then — or when the evidence run cannot be
    /// finished. Everything that goes wrong once work starts is the result's
    /// [`TaskOutcome`].
    pub async fn run<E: EvidenceSink + ?Sized + 'static>(
        &self,
        task: &Task,
        evidence: Arc<E>,
    ) -> Result<TaskResult> {
        self.execute(task, evidence, Start::Provision, None).await
    }

    /// Resume the stopped workspace of an earlier run of `task` and continue the work there,
    /// with `feedback` (e.g. a reviewer's comments) given to the agent as a new message;
    /// commits, pushes and opens the pull request again as the task says, then cleans up per
    /// its policy. Records into a new evidence run.
    pub async fn continue_task<E: EvidenceSink + ?Sized + 'static>(
        &self,
        workspace: &WorkspaceId,
        task: &Task,
        feedback: &str,
        evidence: Arc<E>,
    ) -> Result<TaskResult> {
        let feedback = format!("Feedback on your earlier work, to address now:\n{feedback}");
        self.execute(task, evidence, Start::Resume(workspace), Some(&feedback))
            .await
    }

    /// Suspend a workspace (stop it, keeping its storage), e.g. while its PR is reviewed.
    pub async fn suspend(&self, workspace: &WorkspaceId) -> Result<()> {
        self.provider.stop(workspace).await
    }

    /// Resume a suspended workspace and wait until it is ready.
    pub async fn resume(
        &self,
        workspace: &WorkspaceId,
        timeout: Duration,
    ) -> Result<WorkspaceInfo> {
        self.provider.resume(workspace).await?;
        self.provider.wait_ready(workspace, timeout).await
    }

    /// Delete a workspace (e.g. once its PR is merged). Deleting one already gone succeeds.
    pub async fn delete(&self, workspace: &WorkspaceId) -> Result<()> {
        self.provider.delete(workspace).await
    }

    /// Clean up after an orchestrator that crashed mid-task: read the evidence run in
    /// `run_dir` (its `run.json`) and apply `policy` to every workspace it lists. Idempotent:
    /// workspaces already gone count as cleaned. Returns the workspaces handled.
    pub async fn cleanup_from_record(
        &self,
        run_dir: impl AsRef<Path>,
        policy: CleanupPolicy,
    ) -> Result<Vec<WorkspaceId>> {
        let record = FsEvidenceSink::read_record(run_dir.as_ref()).await?;
        let mut handled = Vec::new();
        for id in record.workspaces {
            let id = WorkspaceId(id);
            apply(&*self.provider, &id, policy).await?;
            tracing::info!(run = %record.run_id, workspace = %id, %policy, "cleaned up from the run record");
            handled.push(id);
        }
        Ok(handled)
    }

    /// Wait until every cleanup spawned for a task that ended early (its future dropped, or a
    /// panic) is done.
    pub async fn wait_for_cleanups(&self) {
        loop {
            let handles: Vec<_> =
                std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner));
            if handles.is_empty() {
                return;
            }
            for handle in handles {
                if let Err(error) = handle.await {
                    tracing::error!(%error, "a background cleanup did not complete");
                }
            }
        }
    }

    async fn execute<E: EvidenceSink + ?Sized + 'static>(
        &self,
        task: &Task,
        evidence: Arc<E>,
        start: Start<'_>,
        feedback: Option<&str>,
    ) -> Result<TaskResult> {
        let run_id = evidence.run_id().to_owned();
        let span = tracing::info_span!("task", run = %run_id, backend = self.provider.backend(), workspace = tracing::field::Empty);
        async move {
            if let Err(error) = task.validate() {
                evidence
                    .finish(RunOutcome::Failed {
                        reason: error.to_string(),
                    })
                    .await?;
                return Err(error);
            }
            if let Some(token) = task.repo.as_ref().and_then(|r| r.token.as_ref()) {
                evidence.redactor().register(token);
            }
            let guard = CleanupGuard::new(
                Arc::clone(&self.provider),
                Arc::clone(&evidence),
                task.cleanup,
                Arc::clone(&self.pending),
            );
            if let Start::Resume(id) = start {
                guard.set_workspace(id.clone());
            }
            let mut tally = Tally::default();
            let deadline = Instant::now() + task.limits.deadline;
            let work = self.work(
                task, &*evidence, &guard, &mut tally, deadline, start, feedback,
            );
            let outcome = match tokio::time::timeout_at(deadline, work).await {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(error)) => TaskOutcome::Failed {
                    reason: error.to_string(),
                },
                Err(_) => TaskOutcome::TimedOut,
            };
            tracing::info!(%outcome, "task ended");
            guard.set_outcome(outcome.run_outcome());
            let noted = evidence
                .record(EvidenceEvent::Note {
                    message: format!("task {outcome}"),
                })
                .await;
            if let Err(error) = noted {
                tracing::warn!(%error, "could not record the task's outcome");
            }
            emit(
                &self.progress,
                &run_id,
                TaskStep::Finished {
                    outcome: outcome.clone(),
                },
            );

            let workspace = guard.workspace();
            match cleanup(
                &*self.provider,
                &*evidence,
                workspace.as_ref(),
                task.cleanup,
            )
            .await
            {
                Ok(()) => {
                    if let Some(id) = &workspace {
                        emit(
                            &self.progress,
                            &run_id,
                            TaskStep::CleanedUp {
                                workspace: id.to_string(),
                                policy: task.cleanup,
                            },
                        );
                    }
                }
                Err(error) => {
                    let noted = evidence
                        .record(EvidenceEvent::Note {
                            message: format!(
                                "cleanup ({}) failed: {error}; run cleanup_from_record on this run",
                                task.cleanup
                            ),
                        })
                        .await;
                    if let Err(error) = noted {
                        tracing::warn!(%error, "could not record the failed cleanup");
                    }
                }
            }
            evidence.finish(outcome.run_outcome()).await?;
            guard.disarm();
            Ok(TaskResult {
                outcome,
                run_id,
                workspace,
                commit: tally.commit,
                pull_request: tally.pull_request,
                turns: tally.turns,
                tokens: tally.tokens,
                test_runs: tally.test_runs,
                failed_test_runs: tally.failed_test_runs,
            })
        }
        .instrument(span)
        .await
    }

    /// Everything the deadline bounds: get a ready workspace, prepare it, do the work, deliver.
    #[allow(clippy::too_many_arguments)]
    async fn work<E: EvidenceSink + ?Sized + 'static>(
        &self,
        task: &Task,
        evidence: &E,
        guard: &CleanupGuard<P, E>,
        tally: &mut Tally,
        deadline: Instant,
        start: Start<'_>,
        feedback: Option<&str>,
    ) -> Result<TaskOutcome> {
        let run_id = evidence.run_id();
        let (id, operation) = match start {
            Start::Provision => {
                emit(&self.progress, run_id, TaskStep::Provisioning);
                let request = CreateRequest {
                    name: task.workspace_name.clone(),
                    ..CreateRequest::default()
                }
                .label(LABEL_TASK_ID, run_id);
                let info = self.provider.create(&task.contract, request).await?;
                guard.set_workspace(info.id.clone());
                evidence
                    .record(EvidenceEvent::Lifecycle {
                        workspace: info.id.to_string(),
                        operation: "create".into(),
                        phase: Some(info.phase),
                        message: info.message.clone(),
                    })
                    .await?;
                self.provider.start(&info.id).await?;
                (info.id, "start")
            }
            Start::Resume(id) => {
                self.provider.resume(id).await?;
                (id.clone(), "resume")
            }
        };
        tracing::Span::current().record("workspace", id.as_str());
        let ready = self.provider.wait_ready(&id, task.ready_timeout).await?;
        evidence
            .record(EvidenceEvent::Lifecycle {
                workspace: id.to_string(),
                operation: operation.into(),
                phase: Some(ready.phase),
                message: ready.message.clone(),
            })
            .await?;
        emit(
            &self.progress,
            run_id,
            TaskStep::Ready {
                workspace: id.to_string(),
            },
        );

        let exec = self.provider.executor(&id).await?;
        let gate = PermissionGate::new(&task.contract, id.as_str());
        if let (Start::Provision, Some(repo)) = (&start, &task.repo) {
            git::clone(&*exec, &repo.spec, gate.workdir(), repo.token.as_ref()).await?;
            git::create_branch(&*exec, gate.workdir(), &repo.spec.branch).await?;
            evidence
                .record(EvidenceEvent::Note {
                    message: format!(
                        "cloned {} and made branch `{}`",
                        repo.spec.url, repo.spec.branch
                    ),
                })
                .await?;
            emit(
                &self.progress,
                run_id,
                TaskStep::Cloned {
                    branch: repo.spec.branch.clone(),
                },
            );
        }
        if matches!(start, Start::Provision) {
            deliver::seed(&*exec, &gate, task, evidence).await?;
        }

        let mut work = Work {
            task,
            exec: Arc::clone(&exec),
            gate,
            model: &*self.model,
            evidence,
            progress: &self.progress,
            tally,
            deadline,
        };
        let outcome = match &task.mode {
            Mode::Orchestrator => orchestrator::run(&mut work, feedback).await?,
            Mode::InPod(cli) => in_pod::run(&mut work, cli, feedback).await?,
            Mode::WholeFile => whole_file::run(&mut work, feedback).await?,
        };
        if let (true, Some(repo)) = (outcome.is_success(), &task.repo) {
            deliver::deliver(&mut work, repo, self.forge.as_deref()).await?;
        }
        Ok(outcome)
    }
}

impl<P: ?Sized + fmt::Debug, M: ?Sized + fmt::Debug> fmt::Debug for TaskRunner<P, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskRunner")
            .field("provider", &self.provider)
            .field("model", &self.model)
            .field("forge", &self.forge)
            .field("progress", &self.progress)
            .finish_non_exhaustive()
    }
}
