//! What a waiter makes of a DevWorkspace as last seen: done, failed, or keep waiting.

use agentbox_core::Error;
use agentbox_core::provider::{Phase, WorkspaceInfo};

use super::info::{phase, workspace_info};
use super::wait::{Baseline, Verdict, same_object};
use crate::crd::{DevWorkspace, DevWorkspacePhase};
use crate::error::{BACKEND, CheError, invalid_state};

fn not_found(name: &str) -> Error {
    Error::NotFound {
        backend: BACKEND,
        workspace: name.to_owned(),
    }
}

fn failed(name: &str, dw: &DevWorkspace) -> Error {
    CheError::WorkspaceFailed {
        phase: dw
            .phase()
            .map_or_else(|| "unknown".to_owned(), ToString::to_string),
        message: dw
            .message()
            .unwrap_or("the operator gave no message")
            .to_owned(),
    }
    .into_core(name)
}

fn describe(dw: &DevWorkspace) -> String {
    let phase = dw
        .phase()
        .map_or_else(|| "not yet reconciled".to_owned(), ToString::to_string);
    match dw.message() {
        Some(message) => format!("{phase}: {message}"),
        None => phase,
    }
}

/// Ready: running with `started` true. `Failing`/`Error`, or `Failed` once the operator has
/// set `started` back to false, fail with the operator's message; `Failed` with `started` true
/// is a retry the operator has not picked up yet. A workspace nobody started fails at once.
pub(crate) fn ready(
    name: &str,
    seen: Option<&DevWorkspace>,
    base: Baseline,
) -> Verdict<WorkspaceInfo> {
    let Some(dw) = seen else {
        return Verdict::Fail(not_found(name));
    };
    if !base.reached_by(dw) {
        return Verdict::Wait("not yet seen started by the watch".into());
    }
    if dw.metadata.deletion_timestamp.is_some() {
        return Verdict::Fail(invalid_state(name, Phase::Terminating, "become ready"));
    }
    let started = dw.spec.started;
    match dw.phase() {
        Some(DevWorkspacePhase::Running) if started => Verdict::Done(workspace_info(dw)),
        Some(DevWorkspacePhase::Failing | DevWorkspacePhase::Error) => {
            Verdict::Fail(failed(name, dw))
        }
        Some(DevWorkspacePhase::Failed) if !started => Verdict::Fail(failed(name, dw)),
        _ if !started => Verdict::Fail(invalid_state(
            name,
            format!("{} and not started", phase(dw)),
            "become ready (start it first)",
        )),
        _ => Verdict::Wait(describe(dw)),
    }
}

/// Stopped: `Stopped` (or `Failed`, or never reconciled) with `started` false.
pub(crate) fn stopped(
    name: &str,
    seen: Option<&DevWorkspace>,
    base: Baseline,
    uid: Option<&str>,
) -> Verdict<()> {
    let Some(dw) = seen.filter(|dw| same_object(dw, uid)) else {
        return Verdict::Fail(not_found(name));
    };
    if !base.reached_by(dw) {
        return Verdict::Wait("not yet seen stopped by the watch".into());
    }
    if dw.metadata.deletion_timestamp.is_some() {
        return Verdict::Fail(invalid_state(name, Phase::Terminating, "stop"));
    }
    if dw.spec.started {
        return Verdict::Fail(invalid_state(
            name,
            "started again by another client",
            "stop",
        ));
    }
    match dw.phase() {
        None | Some(DevWorkspacePhase::Stopped | DevWorkspacePhase::Failed) => Verdict::Done(()),
        Some(DevWorkspacePhase::Error) => Verdict::Fail(failed(name, dw)),
        Some(_) => Verdict::Wait(describe(dw)),
    }
}

/// Settled after a failure: no longer `Failing`. While a workspace is `Failing` the operator
/// still has work to do — set `started` to false (undoing any start patched before), then stop
/// it and write `Failed` — so a start is only safe once the phase has moved on. `Failing` with
/// `started` already false is not settled: the operator has not written `Failed` yet, and a
/// start patched then would meet `Failing` again and be turned off once more.
pub(crate) fn settled(name: &str, seen: Option<&DevWorkspace>) -> Verdict<()> {
    match seen {
        None => Verdict::Fail(not_found(name)),
        Some(dw) if dw.phase() == Some(&DevWorkspacePhase::Failing) => Verdict::Wait(describe(dw)),
        Some(_) => Verdict::Done(()),
    }
}

/// Gone: no object, or another object (a new one with the same name).
pub(crate) fn gone(name: &str, seen: Option<&DevWorkspace>, uid: Option<&str>) -> Verdict<()> {
    match seen {
        None => Verdict::Done(()),
        Some(dw)
            if !same_object(dw, uid)
                || uid.is_none() && dw.metadata.deletion_timestamp.is_none() =>
        {
            // A different object, or (uid unknown) one not being deleted: ours is gone.
            Verdict::Done(())
        }
        Some(dw) if dw.phase() == Some(&DevWorkspacePhase::Error) => Verdict::Fail(
            CheError::WorkspaceFailed {
                phase: "Error".into(),
                message: format!(
                    "deleting it failed: {}",
                    dw.message().unwrap_or("the operator gave no message")
                ),
            }
            .into_core(name),
        ),
        Some(dw) => Verdict::Wait(format!("terminating ({})", describe(dw))),
    }
}

/// Seen running by the watch, as a GET just saw it (for an executor's guard).
pub(crate) fn seen_running(
    name: &str,
    seen: Option<&DevWorkspace>,
    base: Baseline,
    uid: Option<&str>,
) -> Verdict<()> {
    let Some(dw) = seen.filter(|dw| same_object(dw, uid)) else {
        return Verdict::Fail(not_found(name));
    };
    if !base.reached_by(dw) {
        return Verdict::Wait("not yet seen running by the watch".into());
    }
    match guard(name, Some(dw), uid) {
        Ok(()) => Verdict::Done(()),
        Err(e) => Verdict::Fail(e),
    }
}

/// The executor's check before each operation: the workspace still exists, is the same
/// object, is started and running.
pub(crate) fn guard(
    name: &str,
    seen: Option<&DevWorkspace>,
    uid: Option<&str>,
) -> agentbox_core::Result<()> {
    let Some(dw) = seen.filter(|dw| same_object(dw, uid)) else {
        return Err(not_found(name));
    };
    let now = phase(dw);
    if dw.spec.started && now == Phase::Running {
        Ok(())
    } else if !dw.spec.started && now == Phase::Running {
        Err(invalid_state(name, "stopping", "run commands"))
    } else {
        Err(invalid_state(name, now, "run commands"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{DevWorkspaceSpec, DevWorkspaceStatus};

    fn dw(started: bool, phase: Option<&str>, rv: &str) -> DevWorkspace {
        let mut dw = DevWorkspace::new(
            "w",
            DevWorkspaceSpec {
                started,
                ..Default::default()
            },
        );
        dw.metadata.resource_version = Some(rv.into());
        dw.metadata.uid = Some("u1".into());
        dw.status = phase.map(|p| DevWorkspaceStatus {
            phase: Some(DevWorkspacePhase::parse(p)),
            message: Some(format!("operator says {p}")),
            ..Default::default()
        });
        dw
    }

    fn base(rv: &str) -> Baseline {
        Baseline::of(&dw(true, None, rv))
    }

    #[test]
    fn a_failure_settles_only_once_the_operator_has_written_failed() {
        for started in [true, false] {
            let failing = dw(started, Some("Failing"), "11");
            assert!(
                matches!(settled("w", Some(&failing)), Verdict::Wait(_)),
                "Failing with started={started} is not settled"
            );
        }
        let failed = dw(false, Some("Failed"), "12");
        assert!(matches!(settled("w", Some(&failed)), Verdict::Done(())));
        assert!(matches!(settled("w", None), Verdict::Fail(_)));
    }

    #[test]
    fn ready_waits_for_a_copy_newer_than_the_start() {
        let stale = dw(false, Some("Stopped"), "9");
        assert!(matches!(
            ready("w", Some(&stale), base("10")),
            Verdict::Wait(_)
        ));
        let running = dw(true, Some("Running"), "12");
        assert!(matches!(
            ready("w", Some(&running), base("10")),
            Verdict::Done(_)
        ));
    }

    #[test]
    fn ready_fails_with_the_operator_message() {
        let failing = dw(true, Some("Failing"), "12");
        match ready("w", Some(&failing), base("10")) {
            Verdict::Fail(Error::WorkspaceFailed { message, .. }) => {
                assert!(message.contains("operator says Failing"), "{message}")
            }
            _ => panic!("a failing workspace fails the wait"),
        }
    }

    #[test]
    fn a_retried_failed_workspace_is_waited_for() {
        let retried = dw(true, Some("Failed"), "12");
        assert!(matches!(
            ready("w", Some(&retried), base("10")),
            Verdict::Wait(_)
        ));
        let settled_failure = dw(false, Some("Failed"), "13");
        assert!(matches!(
            ready("w", Some(&settled_failure), base("10")),
            Verdict::Fail(Error::WorkspaceFailed { .. })
        ));
    }

    #[test]
    fn ready_refuses_a_workspace_nobody_started() {
        let stopped = dw(false, Some("Stopped"), "12");
        assert!(matches!(
            ready("w", Some(&stopped), base("10")),
            Verdict::Fail(Error::InvalidState { .. })
        ));
        assert!(matches!(
            ready("w", None, base("10")),
            Verdict::Fail(Error::NotFound { .. })
        ));
    }

    #[test]
    fn stop_is_done_when_the_operator_says_stopped() {
        assert!(matches!(
            stopped(
                "w",
                Some(&dw(false, Some("Stopping"), "12")),
                base("10"),
                Some("u1")
            ),
            Verdict::Wait(_)
        ));
        assert!(matches!(
            stopped(
                "w",
                Some(&dw(false, Some("Stopped"), "13")),
                base("10"),
                Some("u1")
            ),
            Verdict::Done(())
        ));
        assert!(matches!(
            stopped(
                "w",
                Some(&dw(false, Some("Failed"), "13")),
                base("10"),
                Some("u1")
            ),
            Verdict::Done(())
        ));
    }

    #[test]
    fn deletion_waits_through_terminating_and_ignores_a_new_object() {
        let mut terminating = dw(false, Some("Terminating"), "20");
        terminating.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
            ));
        assert!(matches!(
            gone("w", Some(&terminating), Some("u1")),
            Verdict::Wait(_)
        ));
        assert!(matches!(gone("w", None, Some("u1")), Verdict::Done(())));
        assert!(matches!(
            gone("w", Some(&terminating), Some("u2")),
            Verdict::Done(())
        ));
    }

    #[test]
    fn the_guard_refuses_a_stopped_or_replaced_workspace() {
        assert!(guard("w", Some(&dw(true, Some("Running"), "1")), Some("u1")).is_ok());
        assert!(matches!(
            guard("w", Some(&dw(false, Some("Stopped"), "2")), Some("u1")),
            Err(Error::InvalidState { .. })
        ));
        assert!(matches!(
            guard("w", Some(&dw(true, Some("Running"), "1")), Some("other")),
            Err(Error::NotFound { .. })
        ));
    }
}
