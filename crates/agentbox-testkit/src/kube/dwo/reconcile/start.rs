//! Starting a DevWorkspace: `Starting`, the workspace pod, `Running` once the pod is ready,
//! or `Failing` when a container cannot start or the start makes no progress.

use std::sync::PoisonError;
use std::time::Duration;

use ::kube::ResourceExt;
use ::kube::api::{Patch, PatchParams, PostParams};
use ::kube::runtime::controller::Action;
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;

use super::super::template::{self, PodInput, StorageType};
use super::super::{LABEL_CREATOR, STARTED_AT_ANNOTATION, STOPPED_BY_ANNOTATION};
use super::{ReconcileError, Result, Workspace, condition};

/// Container states DWO treats as a failed start.
const FAILURE_REASONS: &[&str] = &[
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "CreateContainerError",
    "CreateContainerConfigError",
    "RunContainerError",
    "InvalidImageName",
];

/// Take one step of starting the workspace.
pub(super) async fn start(
    workspace: &Workspace<'_>,
    storage: std::result::Result<StorageType, String>,
) -> Result<Action> {
    let phase = workspace.phase();
    if phase == "Failing" {
        // "Stop failed workspaces": the operator turns the start off itself.
        workspace
            .api
            .patch(
                &workspace.name,
                &PatchParams::default(),
                &Patch::Merge(&json!({ "spec": { "started": false } })),
            )
            .await?;
        return Ok(Action::await_change());
    }
    if phase != "Starting" && phase != "Running" {
        let started_at = chrono::Utc::now()
            .timestamp_nanos_opt()
            .unwrap_or_default()
            .to_string();
        workspace
            .patch_metadata(json!({ "annotations": {
                STARTED_AT_ANNOTATION: started_at,
                STOPPED_BY_ANNOTATION: null,
            }}))
            .await?;
        workspace
            .set_status(
                "Starting",
                Some("Initializing DevWorkspace"),
                &[condition("Started", true, "DevWorkspace is starting")],
            )
            .await?;
        return Ok(Action::await_change());
    }
    if let Err(message) = storage {
        return workspace.fail(&message).await;
    }
    let config = &workspace.context.config;
    let pods = workspace.pods().await?;
    let live: Vec<&Pod> = pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    let waiting = [
        condition("Started", true, "DevWorkspace is starting"),
        condition(
            "DevWorkspaceResolved",
            true,
            "Resolved plugins and parents from DevWorkspace",
        ),
        condition("StorageReady", true, "Storage ready"),
        condition("RoutingReady", true, "Networking ready"),
        condition(
            "ServiceAccountReady",
            true,
            "DevWorkspace serviceaccount ready",
        ),
        condition("PullSecretsReady", true, "DevWorkspace secrets ready"),
        condition("DeploymentReady", false, "Waiting for workspace deployment"),
    ];
    let Some(pod) = live.first() else {
        if !pods.is_empty() {
            // The previous pod is still terminating.
            return Ok(Action::await_change());
        }
        let creator = workspace
            .dw
            .labels()
            .get(LABEL_CREATOR)
            .cloned()
            .unwrap_or_default();
        let input = PodInput {
            dw: &workspace.dw,
            id: &workspace.id,
            creator: &creator,
            node_name: &config.node_name,
            idle_timeout: &config.idle_timeout,
            project_clone_image: &config.project_clone_image,
        };
        let pod = match template::pod(&input) {
            Ok(pod) => pod,
            Err(message) => return workspace.fail(&message).await,
        };
        let pod: Pod = serde_json::from_value(pod)
            .map_err(|e| ReconcileError::Api(::kube::Error::SerdeError(e)))?;
        workspace.pods.create(&PostParams::default(), &pod).await?;
        workspace
            .set_status(
                "Starting",
                Some("Waiting for workspace deployment"),
                &waiting,
            )
            .await?;
        return Ok(Action::await_change());
    };
    if let Some(message) = pod_failure(pod) {
        return workspace
            .fail(&format!(
                "Error creating DevWorkspace deployment: {message}"
            ))
            .await;
    }
    if pod_ready(pod) {
        if phase != "Running" {
            let mut ready = waiting.to_vec();
            ready.pop();
            ready.push(condition(
                "DeploymentReady",
                true,
                "DevWorkspace deployment ready",
            ));
            ready.push(condition("Ready", true, ""));
            workspace.set_status("Running", None, &ready).await?;
        }
        return Ok(Action::await_change());
    }
    // Still starting: fail when nothing moved for the progress timeout.
    let last = workspace
        .context
        .progress
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&workspace.uid())
        .cloned();
    let Some((step, since)) = last else {
        workspace
            .set_status(
                "Starting",
                Some("Waiting for workspace deployment"),
                &waiting,
            )
            .await?;
        return Ok(Action::await_change());
    };
    let elapsed = since.elapsed();
    if elapsed >= config.progress_timeout {
        return workspace
            .fail(&format!(
                "DevWorkspace failed to progress past step '{step}' for longer than timeout"
            ))
            .await;
    }
    Ok(Action::requeue(
        config.progress_timeout - elapsed + Duration::from_millis(5),
    ))
}

/// Why a pod's start failed, in DWO's words, if it did.
fn pod_failure(pod: &Pod) -> Option<String> {
    let status = pod.status.as_ref()?;
    let waiting = |c: &k8s_openapi::api::core::v1::ContainerStatus| {
        c.state
            .as_ref()
            .and_then(|s| s.waiting.as_ref())
            .and_then(|w| w.reason.clone())
            .filter(|r| FAILURE_REASONS.contains(&r.as_str()))
    };
    for c in status.container_statuses.iter().flatten() {
        if let Some(reason) = waiting(c) {
            return Some(format!("Container {} has state {reason}", c.name));
        }
    }
    for c in status.init_container_statuses.iter().flatten() {
        if let Some(reason) = waiting(c) {
            return Some(format!("Init Container {} has state {reason}", c.name));
        }
    }
    None
}

/// Whether the pod runs with every container ready.
fn pod_ready(pod: &Pod) -> bool {
    let Some(status) = pod.status.as_ref() else {
        return false;
    };
    status.phase.as_deref() == Some("Running")
        && status
            .container_statuses
            .as_ref()
            .is_some_and(|cs| !cs.is_empty() && cs.iter().all(|c| c.ready))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn pod(status: Value) -> Pod {
        serde_json::from_value(
            json!({ "metadata": { "name": "p" }, "spec": { "containers": [] }, "status": status }),
        )
        .unwrap()
    }

    #[test]
    fn failures_are_worded_like_dwo() {
        let failing = pod(json!({ "phase": "Pending", "containerStatuses": [{
            "name": "tools", "image": "bad", "imageID": "", "ready": false, "restartCount": 0,
            "state": { "waiting": { "reason": "ImagePullBackOff" } }
        }]}));
        assert_eq!(
            pod_failure(&failing).unwrap(),
            "Container tools has state ImagePullBackOff"
        );
        let pulling = pod(json!({ "phase": "Pending", "containerStatuses": [{
            "name": "tools", "image": "bad", "imageID": "", "ready": false, "restartCount": 0,
            "state": { "waiting": { "reason": "ErrImagePull" } }
        }]}));
        assert_eq!(pod_failure(&pulling), None);
        let init = pod(json!({ "phase": "Pending", "initContainerStatuses": [{
            "name": "project-clone", "image": "x", "imageID": "", "ready": false, "restartCount": 1,
            "state": { "waiting": { "reason": "CrashLoopBackOff" } }
        }]}));
        assert_eq!(
            pod_failure(&init).unwrap(),
            "Init Container project-clone has state CrashLoopBackOff"
        );
    }

    #[test]
    fn a_pod_is_ready_when_running_with_every_container_ready() {
        let ready = pod(json!({ "phase": "Running", "containerStatuses": [
            { "name": "a", "image": "x", "imageID": "", "ready": true, "restartCount": 0 }
        ]}));
        assert!(pod_ready(&ready));
        let pending = pod(json!({ "phase": "Pending" }));
        assert!(!pod_ready(&pending));
    }
}
