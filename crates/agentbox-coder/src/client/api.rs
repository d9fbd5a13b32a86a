//! The REST endpoints agentbox uses, one method each, typed.

use uuid::Uuid;

use super::CoderClient;
use crate::error::CoderError;
use crate::models::{
    CreateWorkspaceBuildRequest, CreateWorkspaceRequest, Organization, ProvisionerJobLog, Template,
    TemplateVersionParameter, Transition, User, Workspace, WorkspaceAgentLog, WorkspaceBuild,
    WorkspaceBuildParameter, WorkspacesResponse,
};

/// Workspaces asked for per page when listing.
const PAGE: usize = 100;

impl CoderClient {
    /// `GET /api/v2/users/{user}`; `user` is `me`, a username or an id.
    pub async fn user(&self, user: &str) -> Result<User, CoderError> {
        self.get_json(&["users", user], &[]).await
    }

    /// `GET /api/v2/users/{user}/organizations`.
    pub async fn organizations(&self, user: &str) -> Result<Vec<Organization>, CoderError> {
        self.get_json(&["users", user, "organizations"], &[]).await
    }

    /// `GET /api/v2/organizations/{organization}/templates/{name}`; `organization` is an id,
    /// a name or `default`. A missing template is [`CoderError::TemplateNotFound`].
    pub async fn template_by_name(
        &self,
        organization: &str,
        name: &str,
    ) -> Result<Template, CoderError> {
        self.get_json(&["organizations", organization, "templates", name], &[])
            .await
            .map_err(|e| match e.status() {
                Some(404) => CoderError::TemplateNotFound {
                    organization: organization.to_owned(),
                    template: name.to_owned(),
                },
                _ => e,
            })
    }

    /// `GET /api/v2/templateversions/{version}/rich-parameters`.
    pub async fn rich_parameters(
        &self,
        version: Uuid,
    ) -> Result<Vec<TemplateVersionParameter>, CoderError> {
        let version = version.to_string();
        self.get_json(&["templateversions", &version, "rich-parameters"], &[])
            .await
    }

    /// `POST /api/v2/organizations/{organization}/members/{user}/workspaces`.
    pub async fn create_workspace(
        &self,
        organization: Uuid,
        user: &str,
        request: &CreateWorkspaceRequest,
    ) -> Result<Workspace, CoderError> {
        let organization = organization.to_string();
        self.post_json(
            &[
                "organizations",
                &organization,
                "members",
                user,
                "workspaces",
            ],
            request,
        )
        .await
    }

    /// `GET /api/v2/workspaces/{workspace}`; a deleted workspace is a 404.
    pub async fn workspace(&self, workspace: Uuid) -> Result<Workspace, CoderError> {
        let workspace = workspace.to_string();
        self.get_json(&["workspaces", &workspace], &[]).await
    }

    /// `GET /api/v2/workspaces?q=...`, every page.
    pub async fn workspaces(&self, query: &str) -> Result<Vec<Workspace>, CoderError> {
        let mut all = Vec::new();
        loop {
            let offset = all.len().to_string();
            let limit = PAGE.to_string();
            let page: WorkspacesResponse = self
                .get_json(
                    &["workspaces"],
                    &[("q", query), ("limit", &limit), ("offset", &offset)],
                )
                .await?;
            let got = page.workspaces.len();
            all.extend(page.workspaces);
            if got < PAGE || all.len() as i64 >= page.count {
                return Ok(all);
            }
        }
    }

    /// `POST /api/v2/workspaces/{workspace}/builds` with only a transition. A build already
    /// running answers 409 ([`CoderError::status`]).
    pub async fn create_build(
        &self,
        workspace: Uuid,
        transition: Transition,
    ) -> Result<WorkspaceBuild, CoderError> {
        let workspace = workspace.to_string();
        self.post_json(
            &["workspaces", &workspace, "builds"],
            &CreateWorkspaceBuildRequest { transition },
        )
        .await
    }

    /// `GET /api/v2/workspacebuilds/{build}/parameters`: every parameter value of a build.
    pub async fn build_parameters(
        &self,
        build: Uuid,
    ) -> Result<Vec<WorkspaceBuildParameter>, CoderError> {
        let build = build.to_string();
        self.get_json(&["workspacebuilds", &build, "parameters"], &[])
            .await
    }

    /// `GET /api/v2/workspacebuilds/{build}/logs`: the build's log so far.
    pub async fn build_logs(&self, build: Uuid) -> Result<Vec<ProvisionerJobLog>, CoderError> {
        let build = build.to_string();
        self.get_json(&["workspacebuilds", &build, "logs"], &[])
            .await
    }

    /// `GET /api/v2/workspaceagents/{agent}/logs`: the agent's startup log so far.
    pub async fn agent_logs(&self, agent: Uuid) -> Result<Vec<WorkspaceAgentLog>, CoderError> {
        let agent = agent.to_string();
        self.get_json(&["workspaceagents", &agent, "logs"], &[])
            .await
    }
}
