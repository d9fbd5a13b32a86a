//! [`CheError`]: what can fail inside the Che backend, mapped into [`agentbox_core::Error`].

use std::fmt;
use std::time::Duration;

use agentbox_core::{BoxError, Error};

/// The backend's name in errors, events and evidence.
pub(crate) const BACKEND: &str = "che";

/// One request to the API server, named for error messages: `create devworkspaces/demo-1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiAction {
    /// The Kubernetes verb (`get`, `list`, `watch`, `create`, `patch`, `delete`).
    pub verb: &'static str,
    /// The resource (`devworkspaces`, `pods`, `pods/exec`).
    pub resource: &'static str,
    /// The object's name, when the request names one.
    pub name: Option<String>,
    /// The namespace.
    pub namespace: String,
}

impl ApiAction {
    /// A request on `resource` in `namespace`.
    pub(crate) fn new(verb: &'static str, resource: &'static str, namespace: &str) -> Self {
        Self {
            verb,
            resource,
            name: None,
            namespace: namespace.to_owned(),
        }
    }

    /// The same request about the object `name`.
    pub(crate) fn named(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }
}

impl fmt::Display for ApiAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.verb, self.resource)?;
        if let Some(name) = &self.name {
            write!(f, "/{name}")?;
        }
        write!(f, " in namespace `{}`", self.namespace)
    }
}

/// A failure inside the Che backend. Callers see it as an [`agentbox_core::Error`]; this type is
/// kept as the error's source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheError {
    /// The API server answered with an error status.
    #[error("the API server refused to {action}: {code} {reason}: {message}")]
    Api {
        /// What was asked.
        action: Box<ApiAction>,
        /// The HTTP status code.
        code: u16,
        /// The status reason (`Forbidden`, `NotFound`, `Conflict`, …).
        reason: String,
        /// The server's message.
        message: String,
        /// The client's error.
        #[source]
        source: Box<kube::Error>,
    },

    /// The API server could not be reached or the answer could not be read.
    #[error("could not {action}: {source}; check that the API server is reachable")]
    Transport {
        /// What was asked.
        action: Box<ApiAction>,
        /// The client's error.
        #[source]
        source: Box<kube::Error>,
    },

    /// Something did not finish within its deadline.
    #[error("{what} did not finish within {after:?}")]
    Deadline {
        /// What was waited for.
        what: String,
        /// The deadline.
        after: Duration,
    },

    /// No client configuration could be found.
    #[error(
        "no Kubernetes configuration found (neither a kubeconfig nor an in-cluster service account): {source}; set KUBECONFIG or run inside a pod"
    )]
    Config {
        /// The client's error.
        #[source]
        source: Box<kube::Error>,
    },

    /// The DevWorkspace generated from a contract could not be read or completed.
    #[error("cannot build the DevWorkspace for contract `{contract}`: {message}")]
    Manifest {
        /// The contract's name.
        contract: String,
        /// What is wrong.
        message: String,
    },

    /// The DevWorkspace Operator reported a failure.
    #[error("the DevWorkspace Operator reports phase {phase}: {message}")]
    WorkspaceFailed {
        /// The phase (`Failing`, `Failed`, `Error`).
        phase: String,
        /// `status.message`.
        message: String,
    },

    /// A running workspace has no pod (or no container) to run commands in.
    #[error(
        "no running pod with container `{container}` for workspace id `{devworkspace_id}`{why}; wait until the workspace is running"
    )]
    NoPod {
        /// `status.devworkspaceId`.
        devworkspace_id: String,
        /// The container looked for.
        container: String,
        /// More detail, starting with `: ` when there is any.
        why: String,
    },

    /// The operating system gave no randomness.
    #[error("the operating system gave no randomness for a {what}: {message}")]
    Randomness {
        /// What the random token was for.
        what: &'static str,
        /// The operating system's error.
        message: String,
    },

    /// A command in a pod could not be run or followed.
    #[error("exec in pod `{pod}` container `{container}` failed: {message}")]
    Exec {
        /// The pod.
        pod: String,
        /// The container.
        container: String,
        /// What failed.
        message: String,
        /// Underlying error, if any.
        #[source]
        source: Option<BoxError>,
    },
}

impl CheError {
    /// An error from the client for `action`: an API status or a transport failure.
    pub(crate) fn kube(action: ApiAction, source: kube::Error) -> Self {
        let action = Box::new(action);
        match &source {
            kube::Error::Api(status) => Self::Api {
                code: status.code,
                reason: status.reason.clone(),
                message: status.message.clone(),
                action,
                source: Box::new(source),
            },
            _ => Self::Transport {
                action,
                source: Box::new(source),
            },
        }
    }

    /// The HTTP status code, when the API server answered with an error.
    pub fn code(&self) -> Option<u16> {
        match self {
            Self::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// True for a 404 answer.
    pub fn is_not_found(&self) -> bool {
        self.code() == Some(404)
    }

    /// The core error for this failure concerning `workspace`.
    pub fn into_core(self, workspace: &str) -> Error {
        match self {
            CheError::Api { code: 401, .. } => Error::PermissionDenied {
                backend: BACKEND,
                message: format!(
                    "workspace `{workspace}`: {self}; the credentials were rejected: refresh the kubeconfig's token or the service account's"
                ),
            },
            CheError::Api {
                code: 403,
                ref action,
                ..
            } => {
                let grant = format!(
                    "grant `{}` on `{}` in namespace `{}` (agentbox_che::rbac::role generates the Role an orchestrator needs)",
                    action.verb, action.resource, action.namespace
                );
                Error::PermissionDenied {
                    backend: BACKEND,
                    message: format!("workspace `{workspace}`: {self}; {grant}"),
                }
            }
            CheError::Api { code: 404, .. } => Error::NotFound {
                backend: BACKEND,
                workspace: workspace.to_owned(),
            },
            CheError::Api {
                code: 409,
                ref reason,
                ..
            } if reason == "AlreadyExists" => Error::AlreadyExists {
                backend: BACKEND,
                workspace: workspace.to_owned(),
            },
            CheError::Deadline { what, after } => Error::Timeout {
                backend: BACKEND,
                workspace: workspace.to_owned(),
                what,
                after,
            },
            CheError::WorkspaceFailed { phase, message } => Error::WorkspaceFailed {
                backend: BACKEND,
                workspace: workspace.to_owned(),
                message: format!("{message} (phase {phase})"),
            },
            other => Error::Backend {
                backend: BACKEND,
                message: format!("workspace `{workspace}`: {other}"),
                source: Some(Box::new(other)),
            },
        }
    }
}

/// [`Error::InvalidState`] for the Che backend.
pub(crate) fn invalid_state(
    workspace: &str,
    state: impl ToString,
    operation: &'static str,
) -> Error {
    Error::InvalidState {
        backend: BACKEND,
        workspace: workspace.to_owned(),
        state: state.to_string(),
        operation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    fn api(code: u16, reason: &str) -> CheError {
        let status = Status::failure("denied by test", reason).with_code(code);
        CheError::kube(
            ApiAction::new("patch", "devworkspaces", "team-a").named("ws-1"),
            kube::Error::Api(status.boxed()),
        )
    }

    #[test]
    fn forbidden_names_the_verb_resource_and_namespace() {
        let err = api(403, "Forbidden").into_core("ws-1");
        let Error::PermissionDenied { message, .. } = &err else {
            panic!("{err:?}")
        };
        assert!(
            message.contains("grant `patch` on `devworkspaces` in namespace `team-a`"),
            "{message}"
        );
    }

    #[test]
    fn statuses_map_to_typed_core_errors() {
        assert!(matches!(
            api(401, "Unauthorized").into_core("w"),
            Error::PermissionDenied { .. }
        ));
        assert!(api(404, "NotFound").into_core("w").is_not_found());
        assert!(matches!(
            api(409, "AlreadyExists").into_core("w"),
            Error::AlreadyExists { .. }
        ));
        assert!(matches!(
            api(409, "Conflict").into_core("w"),
            Error::Backend { .. }
        ));
        let deadline = CheError::Deadline {
            what: "waiting".into(),
            after: Duration::from_secs(1),
        };
        assert!(matches!(deadline.into_core("w"), Error::Timeout { .. }));
    }
}
