//! Cleanup that happens however a task ends. The runner cleans up in line when the task ends
//! normally; when its future is dropped (cancellation) or unwinds (a panic in caller code, such
//! as a progress observer), the [`CleanupGuard`]'s `Drop` spawns the same cleanup on the current
//! tokio runtime and finishes the evidence run as cancelled (or failed, for a panic).

use std::sync::{Arc, Mutex, PoisonError};
use tokio::task::JoinHandle;
use tracing::Instrument;

use super::spec::CleanupPolicy;
use crate::evidence::{EvidenceEvent, EvidenceSink, RunOutcome};
use crate::provider::{LABEL_TASK_ID, LabelSelector, Phase, WorkspaceId, WorkspaceProvider};
use crate::{Error, Result};

/// Cleanups spawned by guards, so a caller can wait for them.
pub(crate) type Pending = Arc<Mutex<Vec<JoinHandle<()>>>>;

/// Cleans up after a task unless disarmed.
pub(crate) struct CleanupGuard<
    P: ?Sized + WorkspaceProvider + 'static,
    E: ?Sized + EvidenceSink + 'static,
> {
    armed: Option<Armed<P, E>>,
    workspace: Mutex<Option<WorkspaceId>>,
    /// The outcome, once the task has one (an early end during cleanup keeps it).
    outcome: Mutex<Option<RunOutcome>>,
}

struct Armed<P: ?Sized, E: ?Sized> {
    provider: Arc<P>,
    evidence: Arc<E>,
    policy: CleanupPolicy,
    pending: Pending,
    span: tracing::Span,
}

impl<P: ?Sized + WorkspaceProvider + 'static, E: ?Sized + EvidenceSink + 'static>
    CleanupGuard<P, E>
{
    pub(crate) fn new(
        provider: Arc<P>,
        evidence: Arc<E>,
        policy: CleanupPolicy,
        pending: Pending,
    ) -> Self {
        Self {
            armed: Some(Armed {
                provider,
                evidence,
                policy,
                pending,
                span: tracing::Span::current(),
            }),
            workspace: Mutex::new(None),
            outcome: Mutex::new(None),
        }
    }

    /// The task's outcome is known; an early end from now on records it instead of `cancelled`.
    pub(crate) fn set_outcome(&self, outcome: RunOutcome) {
        *self.outcome.lock().unwrap_or_else(PoisonError::into_inner) = Some(outcome);
    }

    /// The workspace to clean up, once it exists.
    pub(crate) fn set_workspace(&self, id: WorkspaceId) {
        *self
            .workspace
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(id);
    }

    /// The workspace, when one was created.
    pub(crate) fn workspace(&self) -> Option<WorkspaceId> {
        self.workspace
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Stop guarding: cleanup is done and the evidence finished.
    pub(crate) fn disarm(mut self) {
        self.armed = None;
    }
}

impl<P: ?Sized + WorkspaceProvider + 'static, E: ?Sized + EvidenceSink + 'static> Drop
    for CleanupGuard<P, E>
{
    fn drop(&mut self) {
        let Some(armed) = self.armed.take() else {
            return;
        };
        let known = self
            .outcome
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let outcome = if std::thread::panicking() {
            RunOutcome::Failed {
                reason: "the task panicked (in code called from it, such as a progress observer)"
                    .into(),
            }
        } else {
            known.unwrap_or(RunOutcome::Cancelled)
        };
        let workspace = self.workspace();
        let run = armed.evidence.run_id().to_owned();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!(%run, workspace = ?workspace, "a task ended outside a tokio runtime, so its workspace could not be cleaned up; run TaskRunner::cleanup_from_record on its evidence");
            return;
        };
        tracing::warn!(%run, workspace = ?workspace, outcome = outcome.status(), "task ended early; cleaning up in the background");
        let span = armed.span.clone();
        let pending = Arc::clone(&armed.pending);
        let handle = runtime.spawn(
            async move {
                let Armed {
                    provider,
                    evidence,
                    policy,
                    ..
                } = armed;
                if let Err(error) =
                    cleanup(&*provider, &*evidence, workspace.as_ref(), policy).await
                {
                    tracing::error!(%error, "cleanup after an early end failed");
                }
                if let Err(error) = evidence.finish(outcome).await {
                    tracing::error!(%error, "could not finish the evidence run after an early end");
                }
            }
            .instrument(span),
        );
        let mut pending = pending.lock().unwrap_or_else(PoisonError::into_inner);
        pending.retain(|h| !h.is_finished());
        pending.push(handle);
    }
}

/// Leave the task's workspace as `policy` says, recording what was done. With no workspace id
/// (the task was cancelled while its workspace was being created), the workspaces labelled with
/// the run's id are cleaned up instead. Idempotent: a workspace already gone counts as cleaned.
pub(crate) async fn cleanup<P, E>(
    provider: &P,
    evidence: &E,
    workspace: Option<&WorkspaceId>,
    policy: CleanupPolicy,
) -> Result<()>
where
    P: WorkspaceProvider + ?Sized,
    E: EvidenceSink + ?Sized,
{
    let ids = match workspace {
        Some(id) => vec![id.clone()],
        None if policy == CleanupPolicy::Keep => Vec::new(),
        None => provider
            .list(&LabelSelector::all().eq(LABEL_TASK_ID, evidence.run_id()))
            .await?
            .into_iter()
            .map(|w| w.id)
            .collect(),
    };
    let mut first_error = None;
    for id in ids {
        match apply(provider, &id, policy).await {
            Ok(phase) => {
                let recorded = evidence
                    .record(EvidenceEvent::Lifecycle {
                        workspace: id.to_string(),
                        operation: policy.to_string(),
                        phase,
                        message: Some(format!("task cleanup ({policy})")),
                    })
                    .await;
                if let Err(error) = recorded {
                    tracing::warn!(%error, "could not record the cleanup");
                }
            }
            Err(error) => {
                tracing::error!(workspace = %id, %error, "cleanup failed");
                first_error.get_or_insert(error);
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Apply `policy` to one workspace; the phase it is left in (`None` once deleted).
pub(crate) async fn apply<P: WorkspaceProvider + ?Sized>(
    provider: &P,
    id: &WorkspaceId,
    policy: CleanupPolicy,
) -> Result<Option<Phase>> {
    match policy {
        CleanupPolicy::Delete => provider.delete(id).await.map(|()| None),
        CleanupPolicy::Stop => match provider.stop(id).await {
            Ok(()) => Ok(Some(Phase::Stopped)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        },
        CleanupPolicy::Keep => Ok(Some(Phase::Running)),
    }
}
