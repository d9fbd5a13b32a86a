//! Creating a workspace: the template's active version, every parameter value checked against
//! it before anything exists, agentbox's metadata, the contract's idle timeout as the
//! workspace's TTL, then `POST /organizations/{org}/members/me/workspaces`.

use std::collections::BTreeMap;

use agentbox_core::provider::{
    CreateRequest, WorkspaceInfo, default_workspace_name, workspace_labels,
};
use agentbox_core::{Contract, Error, Result};

use super::CoderProvider;
use crate::error::{BACKEND, CoderError};
use crate::models::{CreateWorkspaceRequest, WorkspaceBuildParameter};
use crate::name::workspace_name;
use crate::params::{WorkspaceMetadata, metadata_declaration, validate};

/// coderd's shortest TTL: one minute.
const MIN_TTL_MS: i64 = 60_000;

impl CoderProvider {
    pub(crate) async fn create_impl(
        &self,
        contract: &Contract,
        request: CreateRequest,
        name: &str,
    ) -> Result<WorkspaceInfo> {
        let ctx = self.context().await?;
        let client = self.client();
        let template_name = &self.inner.template;
        let template = client
            .template_by_name(&ctx.organization.id.to_string(), template_name)
            .await
            .map_err(|e| e.into_core(name))?;
        if template.deprecated {
            return Err(CoderError::TemplateUnsuitable {
                template: template_name.clone(),
                why: format!(
                    "it is deprecated ({}); ask for its replacement",
                    template.deprecation_message
                ),
            }
            .into_core(name));
        }
        let declared = client
            .rich_parameters(template.active_version_id)
            .await
            .map_err(|e| e.into_core(name))?;
        let metadata_param = &self.inner.metadata_param;
        metadata_declaration(&declared, metadata_param).map_err(|why| {
            CoderError::TemplateUnsuitable {
                template: template_name.clone(),
                why,
            }
            .into_core(name)
        })?;
        // A missing secret fails now, before anything exists; values are resolved again for
        // each executor and never stored in Coder.
        self.resolve_secrets(name, &contract.spec.secrets).await?;

        let derived = self.inner.mapping.derive(contract, &request, &declared);
        for warning in &derived.warnings {
            self.warn(name, warning.clone());
        }
        let mut values: BTreeMap<String, String> = derived.values;
        for (key, value) in &self.inner.parameters {
            values.insert(key.clone(), value.encode());
        }
        let metadata = WorkspaceMetadata::new(
            workspace_labels(contract, &request),
            contract.hash().to_owned(),
            contract.mount_path().to_owned(),
            contract.workdir(),
            contract
                .spec
                .env
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            contract.spec.secrets.clone(),
        );
        values.insert(metadata_param.clone(), metadata.encode());
        let mut problems = derived.problems;
        problems.extend(validate(&declared, &values));
        if !problems.is_empty() {
            return Err(CoderError::Parameters {
                template: template_name.clone(),
                problems,
            }
            .into_core(name));
        }

        let body = CreateWorkspaceRequest {
            name: name.to_owned(),
            template_version_id: template.active_version_id,
            rich_parameter_values: values
                .into_iter()
                .map(|(name, value)| WorkspaceBuildParameter { name, value })
                .collect(),
            ttl_ms: self.ttl_ms(name, contract),
            automatic_updates: "never",
        };
        let workspace = client
            .create_workspace(ctx.organization.id, &self.inner.user, &body)
            .await
            .map_err(|e| match e.status() {
                Some(409) => Error::AlreadyExists {
                    backend: BACKEND,
                    workspace: name.to_owned(),
                },
                _ => e.into_core(name),
            })?;
        self.remember(workspace.id, metadata.clone());
        let info = self.info(&workspace, Some(&metadata));
        self.emit_phase(info.id.as_str(), Some(info.phase), info.message.clone());
        tracing::info!(workspace = %info.id, name, "workspace created; its first build is queued");
        Ok(info)
    }

    /// The contract's idle timeout as a TTL (autostop after that long), at least a minute.
    fn ttl_ms(&self, name: &str, contract: &Contract) -> Option<i64> {
        let idle = contract.spec.idle_timeout.as_ref()?;
        let ms = i64::try_from(idle.duration().as_millis()).unwrap_or(i64::MAX);
        if ms < MIN_TTL_MS {
            self.warn(
                name,
                format!(
                    "idleTimeout {} is shorter than Coder's shortest autostop (1m); the workspace stops after 1m instead",
                    idle.as_str()
                ),
            );
            return Some(MIN_TTL_MS);
        }
        Some(ms)
    }
}

/// The Coder name for a request: its name, or the contract's name and a random suffix, made
/// valid for Coder.
pub(crate) fn requested_name(contract: &Contract, request: &CreateRequest) -> String {
    let wanted = request
        .name
        .clone()
        .unwrap_or_else(|| default_workspace_name(contract));
    workspace_name(&wanted)
}
