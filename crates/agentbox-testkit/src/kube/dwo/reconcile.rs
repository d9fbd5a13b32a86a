//! One reconcile of a DevWorkspace: read it fresh, take one step towards what its spec asks,
//! write that step through the API, and let the resulting watch event bring the next call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use ::kube::api::{ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use ::kube::runtime::controller::Action;
use ::kube::{Api, ResourceExt};
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

use super::template::StorageType;
use super::{
    DwoConfig, FINALIZER, ID_OVERRIDE_ANNOTATION, LABEL_CREATOR, LABEL_ID, devworkspace_id,
};
use crate::kube::kubelet::NodeStorage;

mod start;
mod stop;

use start::start;
use stop::{finalize, stop};

/// Why a reconcile must be retried.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReconcileError {
    /// The API refused or failed a request.
    #[error("the API server failed a request: {0}")]
    Api(#[from] ::kube::Error),
    /// A deleted workspace's volume is still mounted by a pod.
    #[error("the storage of workspace {0} is still in use")]
    StorageBusy(String),
}

type Result<T> = std::result::Result<T, ReconcileError>;

/// What every reconcile shares.
pub(crate) struct Context {
    pub client: ::kube::Client,
    pub resource: ApiResource,
    pub config: DwoConfig,
    pub storage: Option<NodeStorage>,
    /// The last progress of each starting workspace (by UID): its message and when.
    pub progress: Mutex<HashMap<String, (String, Instant)>>,
}

/// One DevWorkspace during a reconcile.
struct Workspace<'a> {
    context: &'a Context,
    dw: DynamicObject,
    api: Api<DynamicObject>,
    pods: Api<Pod>,
    name: String,
    id: String,
}

/// A status condition.
fn condition(kind: &str, status: bool, message: &str) -> (String, bool, String) {
    (kind.to_owned(), status, message.to_owned())
}

impl Workspace<'_> {
    fn status(&self) -> &Value {
        &self.dw.data["status"]
    }

    fn phase(&self) -> &str {
        self.status()["phase"].as_str().unwrap_or_default()
    }

    fn started(&self) -> bool {
        self.dw.data["spec"]["started"].as_bool().unwrap_or(false)
    }

    fn uid(&self) -> String {
        self.dw.uid().unwrap_or_default()
    }

    /// Wait the phase delay, then write `phase`, `message` and `conditions` (keeping each
    /// unchanged condition's transition time).
    async fn set_status(
        &self,
        phase: &str,
        message: Option<&str>,
        conditions: &[(String, bool, String)],
    ) -> Result<()> {
        tokio::time::sleep(self.context.config.phase_delay).await;
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let previous = self.status()["conditions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let conditions: Vec<Value> = conditions
            .iter()
            .map(|(kind, status, message)| {
                let status = if *status { "True" } else { "False" };
                let since = previous
                    .iter()
                    .find(|c| c["type"] == kind.as_str() && c["status"] == status)
                    .and_then(|c| c["lastTransitionTime"].as_str())
                    .map_or_else(|| now.clone(), str::to_owned);
                let mut c = json!({ "type": kind, "status": status, "lastTransitionTime": since });
                if !message.is_empty() {
                    c["message"] = message.as_str().into();
                }
                c
            })
            .collect();
        let patch = json!({ "status": {
            "devworkspaceId": self.id,
            "phase": phase,
            "message": message,
            "conditions": conditions,
        }});
        self.api
            .patch_status(&self.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        tracing::info!(devworkspace = %self.name, phase, message = message.unwrap_or_default(), "phase");
        let mut progress = self
            .context
            .progress
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if phase == "Starting" {
            progress.insert(
                self.uid(),
                (message.unwrap_or_default().to_owned(), Instant::now()),
            );
        } else {
            progress.remove(&self.uid());
        }
        Ok(())
    }

    async fn patch_metadata(&self, metadata: Value) -> Result<()> {
        self.api
            .patch(
                &self.name,
                &PatchParams::default(),
                &Patch::Merge(&json!({ "metadata": metadata })),
            )
            .await?;
        Ok(())
    }

    /// The workspace's pods, and whether any is not being deleted.
    async fn pods(&self) -> Result<Vec<Pod>> {
        let selector = format!("{LABEL_ID}={}", self.id);
        Ok(self
            .pods
            .list(&ListParams::default().labels(&selector))
            .await?
            .items)
    }

    async fn delete_pods(&self, pods: &[Pod]) -> Result<()> {
        for pod in pods
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
        {
            match self
                .pods
                .delete(&pod.name_any(), &DeleteParams::default())
                .await
            {
                Ok(_) => {}
                Err(::kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Fail the start with `message`: phase `Failing`, then (next reconcile) `started=false`.
    async fn fail(&self, message: &str) -> Result<Action> {
        self.set_status(
            "Failing",
            Some(message),
            &[
                condition("Started", true, "DevWorkspace is starting"),
                condition("FailedStart", true, message),
            ],
        )
        .await?;
        Ok(Action::await_change())
    }
}

/// Reconcile one DevWorkspace.
pub(crate) async fn reconcile(object: Arc<DynamicObject>, context: Arc<Context>) -> Result<Action> {
    let namespace = object.namespace().unwrap_or_default();
    let api: Api<DynamicObject> =
        Api::namespaced_with(context.client.clone(), &namespace, &context.resource);
    let Some(dw) = api.get_opt(&object.name_any()).await? else {
        return Ok(Action::await_change());
    };
    let id = dw
        .annotations()
        .get(ID_OVERRIDE_ANNOTATION)
        .cloned()
        .or_else(|| {
            dw.data["status"]["devworkspaceId"]
                .as_str()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| devworkspace_id(&dw.uid().unwrap_or_default()));
    let workspace = Workspace {
        context: &context,
        name: dw.name_any(),
        pods: Api::namespaced(context.client.clone(), &namespace),
        api,
        dw,
        id,
    };
    if workspace.dw.metadata.deletion_timestamp.is_some() {
        return finalize(&workspace, &namespace).await;
    }
    let storage = StorageType::of(&workspace.dw);
    let needs_finalizer = storage.as_ref().is_ok_and(|s| *s != StorageType::Ephemeral)
        && !workspace.dw.finalizers().iter().any(|f| f == FINALIZER);
    let needs_creator = !workspace.dw.labels().contains_key(LABEL_CREATOR);
    if needs_finalizer || needs_creator {
        let mut finalizers = workspace.dw.finalizers().to_vec();
        if needs_finalizer {
            finalizers.push(FINALIZER.to_owned());
        }
        let mut metadata = json!({ "finalizers": finalizers });
        if needs_creator {
            metadata["labels"] = json!({ LABEL_CREATOR: context.config.creator });
        }
        workspace.patch_metadata(metadata).await?;
        return Ok(Action::await_change());
    }
    if workspace.status()["devworkspaceId"].as_str() != Some(workspace.id.as_str()) {
        let patch = json!({ "status": { "devworkspaceId": workspace.id } });
        workspace
            .api
            .patch_status(
                &workspace.name,
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await?;
        return Ok(Action::await_change());
    }
    if workspace.started() {
        start(&workspace, storage).await
    } else {
        stop(&workspace).await
    }
}
