//! [`CoderError`]: what can fail inside the Coder backend, mapped into [`agentbox_core::Error`].

use agentbox_core::Error;

use crate::models::{ApiResponse, ValidationError};
use crate::params::ParameterProblem;

/// The backend's name in errors, events and evidence.
pub(crate) const BACKEND: &str = "coder";

/// A failure inside the Coder backend. Callers see it as an [`agentbox_core::Error`] whose
/// source is this type (downcast it for the detail, e.g. every [`ParameterProblem`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoderError {
    /// coderd answered with a non-2xx status and its `codersdk.Response` body.
    #[error("{method} {path} answered {status}: {}", api_summary(response))]
    Api {
        /// The HTTP method.
        method: &'static str,
        /// The path asked for (no query, no credentials).
        path: String,
        /// The HTTP status.
        status: u16,
        /// The decoded body (empty when the body was not coderd's JSON).
        response: ApiResponse,
    },

    /// The request did not get an answer (connection, TLS, timeout).
    #[error("{method} {path} failed: {source}; check the deployment URL and the network")]
    Transport {
        /// The HTTP method.
        method: &'static str,
        /// The path asked for.
        path: String,
        /// reqwest's error.
        source: reqwest::Error,
    },

    /// An answer could not be decoded.
    #[error("the answer to {what} is not what coderd sends: {source}")]
    Decode {
        /// What was asked for.
        what: String,
        /// The JSON error.
        source: serde_json::Error,
    },

    /// A WebSocket failed after it was opened.
    #[error("the {what} WebSocket failed: {source}")]
    WebSocket {
        /// Which socket (`watch`, `pty`).
        what: &'static str,
        /// tungstenite's error.
        source: tokio_tungstenite::tungstenite::Error,
    },

    /// A workspace watch reported an error event.
    #[error("the workspace watch reported an error: {}", api_summary(response))]
    Watch {
        /// The event's `codersdk.Response`.
        response: ApiResponse,
    },

    /// The client was configured with something unusable.
    #[error("invalid Coder client configuration: {0}")]
    Config(String),

    /// The server is older than this crate supports.
    #[error(
        "coderd {found} is older than {minimum}, the oldest version agentbox supports; upgrade the deployment"
    )]
    Version {
        /// The server's version.
        found: String,
        /// The oldest supported.
        minimum: &'static str,
    },

    /// The template does not exist (or the token cannot see it).
    #[error(
        "template `{template}` not found in organization `{organization}`; check the name, or ask an administrator to push it (docs/coder-template.md)"
    )]
    TemplateNotFound {
        /// The organization searched.
        organization: String,
        /// The template's name.
        template: String,
    },

    /// The template cannot carry what agentbox needs.
    #[error("template `{template}` cannot be used by agentbox: {why}; see docs/coder-template.md")]
    TemplateUnsuitable {
        /// The template's name.
        template: String,
        /// What is missing or wrong.
        why: String,
    },

    /// Parameter values failed the template's rules; nothing was created.
    #[error("{} parameter problem(s) for template `{template}`; nothing was created:\n{}", problems.len(), problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Parameters {
        /// The template's name.
        template: String,
        /// Every problem, in the template's parameter order.
        problems: Vec<ParameterProblem>,
    },

    /// A build's provisioner job failed or was canceled.
    #[error(
        "build #{build_number} ({transition}) ended {status}: {error}{}",
        tail_text(log_tail)
    )]
    BuildFailed {
        /// The build's number.
        build_number: i64,
        /// What it did.
        transition: &'static str,
        /// How it ended (`failed`, `canceled`).
        status: &'static str,
        /// The job's error text.
        error: String,
        /// The last lines of the build log.
        log_tail: Vec<String>,
    },

    /// An agent's startup scripts failed or ran too long.
    #[error(
        "agent `{agent}` ended its startup in {lifecycle}{}",
        tail_text(log_tail)
    )]
    AgentFailed {
        /// The agent's name.
        agent: String,
        /// `start_error` or `start_timeout`.
        lifecycle: &'static str,
        /// The last lines of the agent's startup log.
        log_tail: Vec<String>,
    },

    /// The workspace has no agent to run commands in.
    #[error("the workspace's latest build has no agent{}; the template must declare a coder_agent", agent.as_ref().map(|a| format!(" named `{a}`")).unwrap_or_default())]
    NoAgent {
        /// The agent name asked for, if any.
        agent: Option<String>,
    },

    /// The remote side of a PTY did not follow agentbox's protocol.
    #[error("PTY protocol: {0}")]
    Protocol(String),
}

fn api_summary(response: &ApiResponse) -> String {
    let mut text = if response.message.is_empty() {
        "no message".to_owned()
    } else {
        response.message.clone()
    };
    if !response.detail.is_empty() {
        text.push_str(&format!(" ({})", response.detail));
    }
    for ValidationError { field, detail } in &response.validations {
        text.push_str(&format!("; field `{field}`: {detail}"));
    }
    text
}

fn tail_text(lines: &[String]) -> String {
    if lines.is_empty() {
        String::new()
    } else {
        format!("\nlast log lines:\n{}", lines.join("\n"))
    }
}

impl CoderError {
    /// The HTTP status, when coderd answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            CoderError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// coderd says the thing asked for does not exist: 404, or 410 for a deleted workspace.
    pub fn is_gone(&self) -> bool {
        matches!(self.status(), Some(404 | 410))
    }

    /// The decoded error body, when coderd answered.
    pub fn response(&self) -> Option<&ApiResponse> {
        match self {
            CoderError::Api { response, .. } => Some(response),
            _ => None,
        }
    }

    /// The core error for this failure concerning `workspace` (an id or name; `-` for none).
    pub(crate) fn into_core(self, workspace: &str) -> Error {
        match &self {
            CoderError::Api {
                status: 401,
                method,
                path,
                ..
            } => Error::PermissionDenied {
                backend: BACKEND,
                message: format!(
                    "coderd rejected the session token for {method} {path} (401); create a new token (`coder tokens create`) and pass it to the client: {self}"
                ),
            },
            CoderError::Api {
                status: 403,
                method,
                path,
                ..
            } => Error::PermissionDenied {
                backend: BACKEND,
                message: format!(
                    "the token's user may not {method} {path} (403); grant the user access to the template or organization: {self}"
                ),
            },
            CoderError::Api {
                status: 404 | 410, ..
            } if workspace != "-" => Error::NotFound {
                backend: BACKEND,
                workspace: workspace.to_owned(),
            },
            CoderError::BuildFailed { .. } | CoderError::AgentFailed { .. } => {
                Error::WorkspaceFailed {
                    backend: BACKEND,
                    workspace: workspace.to_owned(),
                    message: self.to_string(),
                }
            }
            _ => Error::Backend {
                backend: BACKEND,
                message: if workspace == "-" {
                    self.to_string()
                } else {
                    format!("workspace `{workspace}`: {self}")
                },
                source: Some(Box::new(self)),
            },
        }
    }
}

/// [`Error::InvalidState`] for the Coder backend.
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

/// [`Error::Backend`] without a source.
pub(crate) fn backend(message: String) -> Error {
    Error::Backend {
        backend: BACKEND,
        message,
        source: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16) -> CoderError {
        CoderError::Api {
            method: "GET",
            path: "/api/v2/workspaces/x".into(),
            status,
            response: ApiResponse {
                message: "Nope.".into(),
                detail: "because".into(),
                validations: vec![ValidationError {
                    field: "name".into(),
                    detail: "too long".into(),
                }],
            },
        }
    }

    #[test]
    fn the_message_names_the_field() {
        let text = api(400).to_string();
        assert!(text.contains("field `name`: too long"), "{text}");
        assert!(text.contains("Nope. (because)"), "{text}");
    }

    #[test]
    fn statuses_map_to_core_kinds() {
        assert!(matches!(
            api(401).into_core("w"),
            Error::PermissionDenied { .. }
        ));
        assert!(matches!(
            api(403).into_core("w"),
            Error::PermissionDenied { .. }
        ));
        assert!(api(404).into_core("w").is_not_found());
        let other = api(500).into_core("w");
        let source = std::error::Error::source(&other).expect("kept as the source");
        assert_eq!(
            source.downcast_ref::<CoderError>().unwrap().status(),
            Some(500)
        );
    }
}
