//! Waiting for a DevWorkspace to reach a state, through the shared watch: a waiter wakes when
//! the store changes and judges the object again. It reads the object itself only as a
//! backstop: [`FAILING_RESYNC`] after the watch failed (while it backs off and lists again its
//! store is stale), and every [`SILENT_RESYNC`] otherwise (a connection can stall silently).

use std::sync::Arc;
use std::time::Duration;

use agentbox_core::progress::ProgressEvent;
use agentbox_core::provider::Phase;
use agentbox_core::{Error, Result};
use kube::ResourceExt;
use tokio::time::Instant;

use super::CheProvider;
use super::info::phase;
use crate::crd::DevWorkspace;
use crate::error::BACKEND;

/// How soon a waiter reads the object itself after the watch failed.
pub(crate) const FAILING_RESYNC: Duration = Duration::from_secs(2);
/// How long a waiter trusts a healthy watch before reading the object itself.
pub(crate) const SILENT_RESYNC: Duration = Duration::from_secs(60);

/// What a judge makes of the object as last seen (`None`: it does not exist).
pub(crate) enum Verdict<T> {
    /// The wait is over.
    Done(T),
    /// The wait failed.
    Fail(Error),
    /// Keep waiting; the text says for what (for the timeout's message).
    Wait(String),
}

/// How far an object had got when agentbox last changed it: a stored copy older than this
/// does not yet show the change, so what it says is not judged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Baseline {
    resource_version: Option<u64>,
    generation: Option<i64>,
}

impl Baseline {
    /// The baseline of an object as the API server returned it.
    pub(crate) fn of(dw: &DevWorkspace) -> Self {
        Self {
            resource_version: dw
                .metadata
                .resource_version
                .as_deref()
                .and_then(|v| v.parse().ok()),
            generation: dw.metadata.generation,
        }
    }

    /// Whether `dw` is at least as new as this baseline. Resource versions are compared when
    /// both are numbers (as etcd's are), else generations; with neither, it is taken as new.
    pub(crate) fn reached_by(&self, dw: &DevWorkspace) -> bool {
        let seen = Self::of(dw);
        match (self.resource_version, seen.resource_version) {
            (Some(want), Some(got)) => got >= want,
            _ => match (self.generation, seen.generation) {
                (Some(want), Some(got)) => got >= want,
                _ => true,
            },
        }
    }
}

impl CheProvider {
    /// Wait up to `timeout` until `judge` is done with DevWorkspace `name`. `what` describes
    /// the wait for the timeout's message. Phase changes seen on the way are reported.
    pub(crate) async fn wait_for<T>(
        &self,
        name: &str,
        timeout: Duration,
        what: &str,
        mut judge: impl FnMut(Option<&DevWorkspace>) -> Verdict<T>,
    ) -> Result<T> {
        let deadline = Instant::now() + timeout;
        let cache = self.cache();
        let mut changes = cache.subscribe(name);
        let expired = |state: &str| {
            let watch = cache
                .last_error()
                .map(|f| format!("; the watch last failed with: {}", f.message))
                .unwrap_or_default();
            Error::Timeout {
                backend: BACKEND,
                workspace: name.to_owned(),
                what: format!("{what} (it is {state}{watch})"),
                after: timeout,
            }
        };
        loop {
            tokio::select! {
                () = cache.ready() => break,
                changed = tokio::time::timeout_at(deadline, changes.changed()) => match changed {
                    Ok(Ok(())) => {
                        if let Some(failure) = cache.last_error()
                            && matches!(failure.code, Some(401 | 403))
                        {
                            return Err(Error::PermissionDenied {
                                backend: BACKEND,
                                message: format!(
                                    "cannot watch devworkspaces in namespace `{}`: {}; grant `list` and `watch` on `devworkspaces` (agentbox_che::rbac::role)",
                                    self.inner.namespace, failure.message
                                ),
                            });
                        }
                    }
                    Ok(Err(_)) => return Err(self.watch_gone(name)),
                    Err(_) => return Err(expired("not yet listed by the watch")),
                },
            }
        }

        let mut fetched: Option<Option<Arc<DevWorkspace>>> = None;
        let mut last_phase: Option<Option<Phase>> = None;
        let mut report = |dw: Option<&DevWorkspace>| {
            let now = dw.map(phase);
            if last_phase != Some(now) {
                last_phase = Some(now);
                self.emit_phase(name, now, dw.and_then(|d| d.message().map(str::to_owned)));
            }
        };
        let mut next_read = Instant::now() + SILENT_RESYNC;
        let mut failures_seen = cache.failures();
        let mut state = String::from("not yet seen");
        loop {
            changes.borrow_and_update();
            let seen = match cache.get(name) {
                Some(stored) => {
                    fetched = None;
                    Some(Some(stored))
                }
                None => match &fetched {
                    Some(got) => Some(got.clone()),
                    None => match self.fetch_until(name, deadline).await {
                        Ok(got) => {
                            fetched = Some(got.clone());
                            Some(got)
                        }
                        Err(e) => {
                            self.read_failed(name, e)?;
                            next_read = next_read.min(Instant::now() + FAILING_RESYNC);
                            None
                        }
                    },
                },
            };
            if let Some(seen) = seen {
                report(seen.as_deref());
                match judge(seen.as_deref()) {
                    Verdict::Done(value) => return Ok(value),
                    Verdict::Fail(error) => return Err(error),
                    Verdict::Wait(now) => state = now,
                }
            }
            let failures = cache.failures();
            if failures != failures_seen {
                failures_seen = failures;
                next_read = next_read.min(Instant::now() + FAILING_RESYNC);
            }
            match tokio::time::timeout_at(deadline.min(next_read), changes.changed()).await {
                Ok(Ok(())) => continue,
                Ok(Err(_)) => return Err(self.watch_gone(name)),
                Err(_) if Instant::now() >= deadline => return Err(expired(&state)),
                Err(_) => {
                    tracing::debug!(workspace = name, "reading the object past the watch");
                    next_read = Instant::now() + SILENT_RESYNC;
                    let got = match self.fetch_until(name, deadline).await {
                        Ok(got) => got,
                        Err(e) => {
                            self.read_failed(name, e)?;
                            next_read = Instant::now() + FAILING_RESYNC;
                            continue;
                        }
                    };
                    report(got.as_deref());
                    match judge(got.as_deref()) {
                        Verdict::Done(value) => return Ok(value),
                        Verdict::Fail(error) => return Err(error),
                        Verdict::Wait(now) => state = now,
                    }
                    if cache.get(name).is_none() {
                        fetched = Some(got);
                    }
                }
            }
        }
    }

    /// A read while waiting failed: permission errors end the wait, anything else (a 5xx, a
    /// call past its deadline) is waited out like a stale watch.
    fn read_failed(&self, name: &str, error: Error) -> Result<()> {
        match error {
            Error::PermissionDenied { .. } => Err(error),
            other => {
                tracing::debug!(workspace = name, error = %other, "reading the object failed; still waiting");
                Ok(())
            }
        }
    }

    /// A GET of `name` that gives up at `deadline`.
    async fn fetch_until(
        &self,
        name: &str,
        deadline: Instant,
    ) -> Result<Option<Arc<DevWorkspace>>> {
        match tokio::time::timeout_at(deadline, self.fetch(name)).await {
            Ok(got) => Ok(got?.map(Arc::new)),
            Err(_) => Err(Error::Timeout {
                backend: BACKEND,
                workspace: name.to_owned(),
                what: "reading the DevWorkspace".into(),
                after: self.inner.policy.call_timeout,
            }),
        }
    }

    fn watch_gone(&self, name: &str) -> Error {
        Error::Backend {
            backend: BACKEND,
            message: format!(
                "workspace `{name}`: the watch of namespace `{}` stopped; create a new provider",
                self.inner.namespace
            ),
            source: None,
        }
    }

    pub(crate) fn emit_phase(&self, name: &str, phase: Option<Phase>, message: Option<String>) {
        self.inner.progress.emit(ProgressEvent::Workspace {
            backend: BACKEND,
            workspace: name.to_owned(),
            phase,
            message,
        });
    }
}

/// Whether `dw` is the object with `uid` (any object when `uid` is unknown).
pub(crate) fn same_object(dw: &DevWorkspace, uid: Option<&str>) -> bool {
    uid.is_none() || dw.uid().as_deref() == uid
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::DevWorkspaceSpec;

    fn at(rv: Option<&str>, generation: Option<i64>) -> DevWorkspace {
        let mut dw = DevWorkspace::new("w", DevWorkspaceSpec::default());
        dw.metadata.resource_version = rv.map(str::to_owned);
        dw.metadata.generation = generation;
        dw
    }

    #[test]
    fn older_copies_do_not_reach_the_baseline() {
        let base = Baseline::of(&at(Some("120"), Some(3)));
        assert!(!base.reached_by(&at(Some("119"), Some(3))));
        assert!(base.reached_by(&at(Some("120"), Some(3))));
        assert!(base.reached_by(&at(Some("500"), Some(3))));
    }

    #[test]
    fn generations_decide_when_versions_are_opaque() {
        let base = Baseline::of(&at(Some("abc"), Some(3)));
        assert!(!base.reached_by(&at(Some("abd"), Some(2))));
        assert!(base.reached_by(&at(Some("abd"), Some(3))));
        assert!(Baseline::default().reached_by(&at(None, None)));
    }
}
