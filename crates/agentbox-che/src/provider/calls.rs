//! The provider's calls on DevWorkspaces: read one, set `spec.started`, create one (so that a
//! retried create recognises its own object).

use std::sync::PoisonError;

use agentbox_core::Result;
use agentbox_core::provider::Phase;
use kube::ResourceExt;
use kube::api::{Patch, PatchParams, PostParams};

use super::CheProvider;
use super::manifest::CREATE_ID_ANNOTATION;
use super::wait::Baseline;
use crate::crd::DevWorkspace;
use crate::error::invalid_state;

impl CheProvider {
    /// The DevWorkspace `name`, `None` when it does not exist.
    pub(super) async fn fetch(&self, name: &str) -> Result<Option<DevWorkspace>> {
        let api = &self.inner.api;
        match self
            .inner
            .policy
            .call(self.action("get", name), || api.get(name))
            .await
        {
            Ok(dw) => Ok(Some(dw)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into_core(name)),
        }
    }

    /// Set `spec.started` with a JSON merge patch (no resourceVersion, so no conflict to lose).
    pub(super) async fn patch_started(
        &self,
        name: &str,
        started: bool,
        operation: &'static str,
    ) -> Result<DevWorkspace> {
        let api = &self.inner.api;
        let patch = Patch::Merge(serde_json::json!({ "spec": { "started": started } }));
        let params = PatchParams::default();
        let patched = self
            .inner
            .policy
            .call(self.action("patch", name), || {
                api.patch(name, &params, &patch)
            })
            .await
            .map_err(|e| e.into_core(name))?;
        if patched.metadata.deletion_timestamp.is_some() {
            return Err(invalid_state(name, Phase::Terminating, operation));
        }
        self.inner
            .baselines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_owned(), Baseline::of(&patched));
        Ok(patched)
    }

    pub(super) fn baseline(&self, name: &str) -> Baseline {
        self.inner
            .baselines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .copied()
            .unwrap_or_default()
    }

    /// Create the DevWorkspace; a retried create that finds the object its first attempt made
    /// (same create id) takes it as its own.
    pub(super) async fn create_object(
        &self,
        name: &str,
        mut dw: DevWorkspace,
    ) -> Result<DevWorkspace> {
        let id = crate::token::token("create id").map_err(|e| e.into_core(name))?;
        dw.annotations_mut()
            .insert(CREATE_ID_ANNOTATION.to_owned(), id.clone());
        let api = &self.inner.api;
        let params = PostParams::default();
        match self
            .inner
            .policy
            .call(self.action("create", name), || api.create(&params, &dw))
            .await
        {
            Ok(created) => Ok(created),
            Err(e) if e.code() == Some(409) => match self.fetch(name).await? {
                Some(existing) if existing.annotations().get(CREATE_ID_ANNOTATION) == Some(&id) => {
                    Ok(existing)
                }
                _ => Err(e.into_core(name)),
            },
            Err(e) => Err(e.into_core(name)),
        }
    }
}
