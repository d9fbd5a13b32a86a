//! A DevWorkspace seen as agentbox sees workspaces: [`WorkspaceInfo`] and [`Phase`].

use agentbox_core::generate::devworkspace::HASH_ANNOTATION;
use agentbox_core::provider::{Phase, WorkspaceId, WorkspaceInfo};
use chrono::{DateTime, Utc};
use kube::ResourceExt;

use crate::crd::{DevWorkspace, DevWorkspacePhase};
use crate::error::BACKEND;

/// The agentbox phase of a DevWorkspace.
///
/// No status yet means pending (created, never started) or starting (asked to start, not yet
/// reconciled); `Failing` and `Error` are failures; a deletion timestamp means terminating.
pub(crate) fn phase(dw: &DevWorkspace) -> Phase {
    if dw.metadata.deletion_timestamp.is_some() {
        return Phase::Terminating;
    }
    match dw.phase() {
        None => {
            if dw.spec.started {
                Phase::Starting
            } else {
                Phase::Pending
            }
        }
        Some(DevWorkspacePhase::Starting) => Phase::Starting,
        Some(DevWorkspacePhase::Running) => Phase::Running,
        Some(DevWorkspacePhase::Stopping) => Phase::Stopping,
        Some(DevWorkspacePhase::Stopped) => Phase::Stopped,
        Some(DevWorkspacePhase::Failing | DevWorkspacePhase::Failed | DevWorkspacePhase::Error) => {
            Phase::Failed
        }
        Some(DevWorkspacePhase::Terminating) => Phase::Terminating,
        Some(DevWorkspacePhase::Other(_)) => {
            if dw.spec.started {
                Phase::Starting
            } else {
                Phase::Stopped
            }
        }
    }
}

/// What agentbox knows about the workspace a DevWorkspace is.
pub(crate) fn workspace_info(dw: &DevWorkspace) -> WorkspaceInfo {
    let name = dw.name_any();
    let created_at = dw
        .metadata
        .creation_timestamp
        .as_ref()
        .and_then(|t| {
            DateTime::<Utc>::from_timestamp(t.0.as_second(), t.0.subsec_nanosecond().max(0) as u32)
        })
        .unwrap_or_else(Utc::now);
    WorkspaceInfo {
        id: WorkspaceId(name.clone()),
        name,
        backend: BACKEND.to_owned(),
        phase: phase(dw),
        message: dw.message().map(str::to_owned),
        labels: dw.labels().clone(),
        contract_hash: dw
            .annotations()
            .get(HASH_ANNOTATION)
            .cloned()
            .unwrap_or_default(),
        created_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{DevWorkspaceSpec, DevWorkspaceStatus};

    fn dw(started: bool, phase: Option<&str>) -> DevWorkspace {
        let mut dw = DevWorkspace::new(
            "w",
            DevWorkspaceSpec {
                started,
                ..DevWorkspaceSpec::default()
            },
        );
        dw.status = phase.map(|p| DevWorkspaceStatus {
            phase: Some(DevWorkspacePhase::parse(p)),
            message: Some(format!("it is {p}")),
            ..DevWorkspaceStatus::default()
        });
        dw
    }

    #[test]
    fn operator_phases_map_to_agentbox_phases() {
        assert_eq!(phase(&dw(false, None)), Phase::Pending);
        assert_eq!(phase(&dw(true, None)), Phase::Starting);
        assert_eq!(phase(&dw(true, Some("Starting"))), Phase::Starting);
        assert_eq!(phase(&dw(true, Some("Running"))), Phase::Running);
        assert_eq!(phase(&dw(false, Some("Stopping"))), Phase::Stopping);
        assert_eq!(phase(&dw(false, Some("Stopped"))), Phase::Stopped);
        assert_eq!(phase(&dw(true, Some("Failing"))), Phase::Failed);
        assert_eq!(phase(&dw(false, Some("Failed"))), Phase::Failed);
        assert_eq!(phase(&dw(false, Some("Error"))), Phase::Failed);
        assert_eq!(phase(&dw(false, Some("Terminating"))), Phase::Terminating);
    }

    #[test]
    fn info_carries_the_operator_message_and_labels() {
        let mut w = dw(true, Some("Failed"));
        w.labels_mut().insert("team".into(), "a".into());
        let info = workspace_info(&w);
        assert_eq!(info.message.as_deref(), Some("it is Failed"));
        assert_eq!(info.labels["team"], "a");
        assert_eq!(info.backend, "che");
    }
}
