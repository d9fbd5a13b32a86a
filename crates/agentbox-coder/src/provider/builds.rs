//! Start, stop and delete as workspace builds, and waiting on a workspace by watching it.
//!
//! A new build while another runs is refused with 409 ("A workspace build is already
//! active."); the provider then watches the workspace until that build is over, looks again
//! and asks again. Waiting always watches (`/watch-ws`, or SSE `/watch` on older servers),
//! reconnecting with bounded backoff if the watch drops; it never polls.

use std::time::Duration;

use agentbox_core::{Error, Result};
use tokio::time::Instant;
use uuid::Uuid;

use super::CoderProvider;
use crate::error::{BACKEND, CoderError};
use crate::models::{Transition, Workspace, WorkspaceStatus};

/// Pauses between watch reconnections: doubling from the first to the last.
const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(2);
/// How many times a refused (409) build is asked for again.
const ATTEMPTS: usize = 5;

/// What a watched workspace looked like when waiting ended.
pub(crate) enum Seen<T> {
    /// The condition said so, with this value.
    Done(T),
    /// The workspace is gone (404).
    Gone,
}

impl CoderProvider {
    /// Watch workspace `id` until `decide` returns a value for a state (`None`: the workspace
    /// is gone), or `deadline` passes ([`Error::Timeout`] naming `what` and the last status).
    pub(crate) async fn watch_until<T>(
        &self,
        id: Uuid,
        deadline: Instant,
        after: Duration,
        what: &str,
        mut decide: impl FnMut(&Workspace) -> Option<T>,
    ) -> Result<Seen<T>> {
        let workspace = id.to_string();
        let timeout = |last: &str| Error::Timeout {
            backend: BACKEND,
            workspace: workspace.clone(),
            what: format!("{what} (it is {last})"),
            after,
        };
        let mut last = String::from("unknown");
        let mut pause = FIRST_RETRY;
        loop {
            let opened = tokio::time::timeout_at(deadline, self.client().watch_workspace(id)).await;
            match opened {
                Err(_) => return Err(timeout(&last)),
                Ok(Ok(mut watch)) => loop {
                    match tokio::time::timeout_at(deadline, watch.next()).await {
                        Err(_) => return Err(timeout(&last)),
                        Ok(Some(Ok(w))) => {
                            pause = FIRST_RETRY;
                            last = w.latest_build.status.as_str().to_owned();
                            if let Some(value) = decide(&w) {
                                return Ok(Seen::Done(value));
                            }
                        }
                        Ok(Some(Err(e))) => {
                            tracing::debug!(error = %e, transport = watch.transport(), "the workspace watch failed; watching again");
                            break;
                        }
                        Ok(None) => {
                            tracing::debug!(
                                transport = watch.transport(),
                                "the workspace watch ended; watching again"
                            );
                            break;
                        }
                    }
                },
                Ok(Err(e)) if e.is_gone() => return Ok(Seen::Gone),
                Ok(Err(e)) if retryable(&e) => {
                    tracing::debug!(error = %e, "could not watch the workspace; trying again");
                }
                Ok(Err(e)) => return Err(e.into_core(&workspace)),
            }
            if tokio::time::timeout_at(deadline, tokio::time::sleep(pause))
                .await
                .is_err()
            {
                return Err(timeout(&last));
            }
            pause = (pause * 2).min(LAST_RETRY);
        }
    }

    /// Wait until no build of `id` is running; `None` when the workspace is gone.
    async fn wait_idle(&self, id: Uuid) -> Result<Option<Workspace>> {
        let limit = self.inner.build_timeout;
        let seen = self
            .watch_until(
                id,
                Instant::now() + limit,
                limit,
                "waiting for its active build to finish",
                |w| (!w.latest_build.status.is_active()).then(|| w.clone()),
            )
            .await?;
        Ok(match seen {
            Seen::Done(w) => Some(w),
            Seen::Gone => None,
        })
    }

    /// Ask for a `transition` build of `w` unless `satisfied` says the workspace is already on
    /// its way; a build already running (409) is waited for first. `None` when the workspace
    /// is gone.
    pub(crate) async fn request(
        &self,
        mut w: Workspace,
        transition: Transition,
        satisfied: fn(&Workspace) -> bool,
    ) -> Result<Option<Workspace>> {
        let id = w.id;
        for _ in 0..ATTEMPTS {
            if satisfied(&w) {
                return Ok(Some(w));
            }
            if w.latest_build.status.is_active() {
                self.waiting_for_build(&w, transition);
                match self.wait_idle(id).await? {
                    Some(idle) => w = idle,
                    None => return Ok(None),
                }
                continue;
            }
            match self.client().create_build(id, transition).await {
                Ok(build) => {
                    tracing::info!(
                        build = build.build_number,
                        transition = transition.as_str(),
                        "build queued"
                    );
                    w.latest_build = build;
                    return Ok(Some(w));
                }
                Err(e) if e.status() == Some(409) => {
                    self.waiting_for_build(&w, transition);
                    match self.wait_idle(id).await? {
                        Some(idle) => w = idle,
                        None => return Ok(None),
                    }
                }
                Err(e) if e.is_gone() => return Ok(None),
                Err(e) => return Err(e.into_core(&id.to_string())),
            }
        }
        Err(CoderError::Protocol(format!(
            "a {} build was refused {ATTEMPTS} times because other builds kept starting",
            transition.as_str()
        ))
        .into_core(&id.to_string()))
    }
}

impl CoderProvider {
    /// Say that a `transition` waits for the build `w` shows (or one that started since).
    fn waiting_for_build(&self, w: &Workspace, transition: Transition) {
        let (phase, _) = super::info::phase(w);
        let message = format!(
            "a build is already active (latest: #{} {}, {}); the {} waits for it to finish",
            w.latest_build.build_number,
            w.latest_build.transition.as_str(),
            w.latest_build.status.as_str(),
            transition.as_str()
        );
        tracing::info!("{message}");
        self.emit_phase(&w.id.to_string(), Some(phase), Some(message));
    }
}

/// Worth trying again: no answer, or a server-side failure.
fn retryable(e: &CoderError) -> bool {
    match e.status() {
        Some(status) => status >= 500,
        None => matches!(
            e,
            CoderError::Transport { .. } | CoderError::WebSocket { .. }
        ),
    }
}

/// A start build is queued, running or done.
pub(crate) fn starting(w: &Workspace) -> bool {
    w.latest_build.transition == Transition::Start
        && matches!(
            w.latest_build.status,
            WorkspaceStatus::Pending | WorkspaceStatus::Starting | WorkspaceStatus::Running
        )
}

/// A stop build is queued, running or done.
pub(crate) fn stopping(w: &Workspace) -> bool {
    w.latest_build.transition == Transition::Stop
        && matches!(
            w.latest_build.status,
            WorkspaceStatus::Pending | WorkspaceStatus::Stopping | WorkspaceStatus::Stopped
        )
}

/// A delete build is queued, running or done.
pub(crate) fn deleting(w: &Workspace) -> bool {
    w.latest_build.transition == Transition::Delete
        && matches!(
            w.latest_build.status,
            WorkspaceStatus::Pending | WorkspaceStatus::Deleting | WorkspaceStatus::Deleted
        )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use agentbox_core::WorkspaceProvider;
    use agentbox_core::contract::{Contract, LoadOptions};
    use agentbox_core::progress::{Progress, ProgressEvent};
    use agentbox_core::provider::CreateRequest;
    use agentbox_core::provider::WorkspaceProviderExt;
    use agentbox_testkit::coder::FakeCoderd;
    use tokio::sync::Notify;

    use super::*;
    use crate::CoderClient;

    /// A stale view (the workspace looked idle) meets a build another client started: the
    /// new build is refused with 409, the provider waits for the other build, then asks again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_409_is_answered_by_waiting_and_asking_again() {
        let coderd = FakeCoderd::builder()
            .mount_path("/projects")
            .start()
            .await
            .unwrap();
        let client = CoderClient::new(&coderd.url(), coderd.token()).unwrap();
        let waiting = Arc::new(Notify::new());
        let seen = Arc::clone(&waiting);
        let observer = move |event: &ProgressEvent| {
            if let ProgressEvent::Workspace {
                message: Some(m), ..
            } = event
                && m.contains("a build is already active")
            {
                seen.notify_one();
            }
        };
        let provider = CoderProvider::builder(client.clone(), "agentbox")
            .progress(Progress::new(Arc::new(observer)))
            .build();
        let contract = Contract::from_yaml(
            "apiVersion: agentbox.dev/v1alpha1\nkind: Environment\nmetadata: { name: stale }\nspec: { image: alpine:3.20 }\n",
            &LoadOptions::default(),
        )
        .unwrap();
        let info = provider
            .provision(
                &contract,
                CreateRequest::named("stale-1"),
                Duration::from_secs(60),
            )
            .await
            .unwrap();
        let id = Uuid::parse_str(info.id.as_str()).unwrap();
        let stale = client.workspace(id).await.unwrap();
        let hold = coderd.faults().hold_builds();
        client.create_build(id, Transition::Stop).await.unwrap();

        let request = tokio::spawn({
            let provider = provider.clone();
            async move { provider.request(stale, Transition::Delete, deleting).await }
        });
        waiting.notified().await;
        drop(hold);
        let after = request
            .await
            .unwrap()
            .unwrap()
            .expect("the workspace exists");
        assert_eq!(after.latest_build.transition, Transition::Delete);
        let builds = "/api/v2/workspaces/{workspace}/builds";
        assert_eq!(
            coderd.counters().requests("POST", builds),
            3,
            "the other client's stop, the refused delete, and the delete after waiting"
        );
        provider.delete(&info.id).await.unwrap();
        coderd.shutdown().await;
    }
}
