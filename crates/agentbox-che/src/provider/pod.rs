//! Finding the pod of a running DevWorkspace: the operator labels it
//! `controller.devfile.io/devworkspace_id=<status.devworkspaceId>`.

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, ListParams};

use crate::api::RetryPolicy;
use crate::error::{ApiAction, CheError};

/// The pod label holding the workspace id.
pub const DEVWORKSPACE_ID_LABEL: &str = "controller.devfile.io/devworkspace_id";

/// The name of the running pod of workspace `devworkspace_id` whose `container` is ready: one
/// LIST per executor, not per command. Terminating pods (the previous run's) are passed over;
/// of several candidates the newest wins.
pub(crate) async fn running_pod(
    pods: &Api<Pod>,
    policy: &RetryPolicy,
    namespace: &str,
    devworkspace_id: &str,
    container: &str,
) -> Result<String, CheError> {
    let params =
        ListParams::default().labels(&format!("{DEVWORKSPACE_ID_LABEL}={devworkspace_id}"));
    let action = ApiAction::new("list", "pods", namespace);
    let listed = policy.call(action, || pods.list(&params)).await?;
    let count = listed.items.len();
    let best = listed
        .items
        .into_iter()
        .filter(|pod| ready(pod, container))
        .max_by(|a, b| a.creation_timestamp().cmp(&b.creation_timestamp()));
    best.map(|pod| pod.name_any())
        .ok_or_else(|| CheError::NoPod {
            devworkspace_id: devworkspace_id.to_owned(),
            container: container.to_owned(),
            why: format!(
                ": {count} pod(s) carry the label, none is running with that container ready"
            ),
        })
}

/// Running, not being deleted, and `container` ready (or not yet reported either way).
fn ready(pod: &Pod, container: &str) -> bool {
    if pod.metadata.deletion_timestamp.is_some() {
        return false;
    }
    let Some(status) = &pod.status else {
        return false;
    };
    if status.phase.as_deref() != Some("Running") {
        return false;
    }
    match &status.container_statuses {
        Some(statuses) => statuses.iter().any(|s| s.name == container && s.ready),
        None => pod
            .spec
            .as_ref()
            .is_some_and(|spec| spec.containers.iter().any(|c| c.name == container)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(json: serde_json::Value) -> Pod {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn only_a_running_pod_with_the_container_ready_is_chosen() {
        let running = pod(serde_json::json!({
            "metadata": {"name": "a"},
            "spec": {"containers": [{"name": "tools"}]},
            "status": {"phase": "Running", "containerStatuses": [{"name": "tools", "ready": true, "restartCount": 0, "image": "x", "imageID": ""}]}
        }));
        assert!(ready(&running, "tools"));
        assert!(!ready(&running, "other"));
        let pending = pod(serde_json::json!({
            "metadata": {"name": "b"},
            "spec": {"containers": [{"name": "tools"}]},
            "status": {"phase": "Pending"}
        }));
        assert!(!ready(&pending, "tools"));
        let leaving = pod(serde_json::json!({
            "metadata": {"name": "c", "deletionTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"containers": [{"name": "tools"}]},
            "status": {"phase": "Running"}
        }));
        assert!(!ready(&leaving, "tools"));
    }
}
