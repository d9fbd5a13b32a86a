//! Stopping a DevWorkspace (`Stopping`, pod deleted, `Stopped` or `Failed`) and deleting
//! one (`Terminating`, pod deleted, storage cleaned up, finalizer removed).

use ::kube::ResourceExt;
use ::kube::runtime::controller::Action;
use serde_json::json;

use super::super::template::StorageType;
use super::super::{FINALIZER, STARTED_AT_ANNOTATION};
use super::{ReconcileError, Result, Workspace, condition};

/// Take one step of stopping the workspace.
pub(super) async fn stop(workspace: &Workspace<'_>) -> Result<Action> {
    let phase = workspace.phase().to_owned();
    let failed = phase == "Failing" || phase == "Failed";
    let pods = workspace.pods().await?;
    if !pods.is_empty() {
        if !failed && phase != "Stopping" {
            workspace
                .set_status("Stopping", Some("Stopping"), &[])
                .await?;
            return Ok(Action::await_change());
        }
        workspace.delete_pods(&pods).await?;
        if workspace
            .dw
            .annotations()
            .contains_key(STARTED_AT_ANNOTATION)
        {
            workspace
                .patch_metadata(json!({ "annotations": { STARTED_AT_ANNOTATION: null } }))
                .await?;
        }
        return Ok(Action::await_change());
    }
    if failed {
        if phase == "Failing" {
            let message = workspace.status()["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            workspace
                .set_status(
                    "Failed",
                    Some(&message),
                    &[condition("FailedStart", true, &message)],
                )
                .await?;
        }
    } else if phase != "Stopped" {
        workspace
            .set_status("Stopped", Some("Stopped"), &[])
            .await?;
    }
    Ok(Action::await_change())
}

/// Take one step of deleting the workspace: `Terminating`, pods gone, storage cleaned up,
/// finalizer removed.
pub(super) async fn finalize(workspace: &Workspace<'_>, namespace: &str) -> Result<Action> {
    if !workspace.dw.finalizers().iter().any(|f| f == FINALIZER) {
        return Ok(Action::await_change());
    }
    if workspace.phase() != "Terminating" {
        workspace
            .set_status(
                "Terminating",
                Some("Cleaning up resources for deletion"),
                &[],
            )
            .await?;
        return Ok(Action::await_change());
    }
    let pods = workspace.pods().await?;
    if !pods.is_empty() {
        workspace.delete_pods(&pods).await?;
        return Ok(Action::await_change());
    }
    if let (Some(storage), Ok(kind)) = (&workspace.context.storage, StorageType::of(&workspace.dw))
        && let Some((claim, sub_path)) = kind.claim(&workspace.id)
    {
        let busy = storage
            .remove_claim(namespace, &claim, sub_path.as_deref())
            .await;
        if !busy.is_empty() {
            return Err(ReconcileError::StorageBusy(workspace.id.clone()));
        }
        tracing::info!(devworkspace = %workspace.name, claim = %claim, "workspace storage cleaned up");
    }
    let finalizers: Vec<String> = workspace
        .dw
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    workspace
        .patch_metadata(json!({ "finalizers": finalizers }))
        .await?;
    Ok(Action::await_change())
}
