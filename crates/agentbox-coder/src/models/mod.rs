//! The `codersdk` types this crate reads and writes, with only the fields it uses.
//!
//! Every field was checked against both vendored OpenAPI files (v2.34.3 and v2.33.9); names
//! are coderd's JSON names. Fields coderd may leave out default, and enumerations keep an
//! `Unknown` case so a newer server's new values do not break decoding.

mod account;
mod template;
mod wire;
mod workspace;

pub use account::{BuildInfo, Organization, User};
pub use template::{
    CreateWorkspaceRequest, ParameterOption, Template, TemplateVersionParameter,
    WorkspaceBuildParameter,
};
pub use wire::{
    ApiResponse, ProvisionerJobLog, PtyInput, ServerSentEvent, ValidationError, WorkspaceAgentLog,
};
pub use workspace::{
    AgentStatus, CreateWorkspaceBuildRequest, JobStatus, Lifecycle, ProvisionerJob, Transition,
    Workspace, WorkspaceAgent, WorkspaceBuild, WorkspaceResource, WorkspaceStatus,
    WorkspacesResponse,
};
