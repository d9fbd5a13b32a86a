//! The one error type of `agentbox-core`, shared by every backend (backends map their own
//! failures into it, carrying the backend's name and the workspace concerned).

use std::path::PathBuf;
use std::time::Duration;

use crate::contract::Problem;

/// A boxed error from a backend, kept as the source of an [`Error`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in agentbox.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The contract did not validate. Every problem is listed.
    #[error("contract {origin} is invalid ({} problem(s)); fix these and load it again:\n{}", problems.len(), render(problems))]
    InvalidContract {
        /// The file (or `<string>`) the contract came from.
        origin: String,
        /// Every problem found, in document order.
        problems: Vec<Problem>,
    },

    /// Strict generation refused: the chosen targets cannot enforce these security fields.
    #[error("strict generation refused: {} security field(s) would not be enforced by the chosen targets:\n{}\nadd a target that enforces them (e.g. `networkpolicy`, with `--cilium` for host rules), change the contract, or generate without strict mode and read the report", fields.len(), fields.iter().map(|f| format!("  {f}")).collect::<Vec<_>>().join("\n"))]
    Unenforceable {
        /// One line per field: `<target>: <field path>: <why>`.
        fields: Vec<String>,
    },

    /// A devcontainer.json or devfile could not be imported.
    #[error("cannot import {origin}: {message}")]
    Import {
        /// The file (or `<string>`) being imported.
        origin: String,
        /// What is wrong and what to do.
        message: String,
    },

    /// A file could not be read or written on the host.
    #[error("could not {action} at {path}: {source}")]
    Io {
        /// What was being done, e.g. "read the contract file".
        action: &'static str,
        /// The host path concerned.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },

    /// The workspace does not exist (or no longer does).
    #[error("{backend}: workspace `{workspace}` not found; list workspaces to see which exist")]
    NotFound {
        /// Backend name.
        backend: &'static str,
        /// Workspace id or name.
        workspace: String,
    },

    /// A workspace with this name already exists.
    #[error(
        "{backend}: workspace `{workspace}` already exists; choose another name or delete it first"
    )]
    AlreadyExists {
        /// Backend name.
        backend: &'static str,
        /// Workspace id or name.
        workspace: String,
    },

    /// A path given to an executor lies outside the workspace.
    #[error(
        "path `{path}` escapes workspace `{workspace}` (root {root}); use a path under the root"
    )]
    PathEscapes {
        /// Workspace id.
        workspace: String,
        /// The path as given.
        path: String,
        /// The workspace root it must stay under.
        root: String,
    },

    /// A secret the contract references could not be resolved.
    #[error(
        "secret `{secret}` key `{key}` (for ${env}) is not available to workspace `{workspace}`; {hint}"
    )]
    SecretMissing {
        /// Workspace id.
        workspace: String,
        /// The environment variable the secret was for.
        env: String,
        /// Secret name.
        secret: String,
        /// Key in the secret.
        key: String,
        /// What to do about it.
        hint: String,
    },

    /// The backend cannot do this at all.
    #[error("{backend} does not support {what}")]
    Unsupported {
        /// Backend name.
        backend: &'static str,
        /// What was asked for.
        what: String,
    },

    /// The backend refuses to run without a safety feature the caller did not waive.
    #[error("{backend}: {message}")]
    Refused {
        /// Backend name.
        backend: &'static str,
        /// Why, and how to proceed.
        message: String,
    },

    /// An operation did not finish within its deadline.
    #[error("{backend}: {what} on workspace `{workspace}` did not finish within {after:?}")]
    Timeout {
        /// Backend name.
        backend: &'static str,
        /// Workspace id.
        workspace: String,
        /// What was being waited for.
        what: String,
        /// The deadline that passed.
        after: Duration,
    },

    /// The workspace is in a state that does not allow the operation.
    #[error("{backend}: workspace `{workspace}` is {state}; cannot {operation}")]
    InvalidState {
        /// Backend name.
        backend: &'static str,
        /// Workspace id.
        workspace: String,
        /// Its current state.
        state: String,
        /// The operation refused.
        operation: &'static str,
    },

    /// The workspace failed to start; the backend's own message is kept.
    #[error("{backend}: workspace `{workspace}` failed: {message}")]
    WorkspaceFailed {
        /// Backend name.
        backend: &'static str,
        /// Workspace id.
        workspace: String,
        /// What the backend reported.
        message: String,
    },

    /// The credentials were rejected or lack a permission.
    #[error("{backend}: permission denied: {message}")]
    PermissionDenied {
        /// Backend name.
        backend: &'static str,
        /// What was refused and what to grant.
        message: String,
    },

    /// An executor session can no longer run commands.
    #[error("session in workspace `{workspace}` is closed: {reason}; open a new session")]
    SessionClosed {
        /// Workspace id.
        workspace: String,
        /// Why it closed.
        reason: String,
    },

    /// Evidence could not be recorded.
    #[error("could not record evidence in {path}: {source}")]
    Evidence {
        /// The evidence run directory.
        path: PathBuf,
        /// Underlying error.
        source: BoxError,
    },

    /// The model backend failed.
    #[error("model `{model}`: {message}")]
    Model {
        /// Model name.
        model: String,
        /// What failed.
        message: String,
        /// Underlying error, if any.
        #[source]
        source: Option<BoxError>,
    },

    /// Any other backend failure, with its source kept.
    #[error("{backend}: {message}")]
    Backend {
        /// Backend name.
        backend: &'static str,
        /// What failed, naming the workspace when there is one.
        message: String,
        /// Underlying error.
        #[source]
        source: Option<BoxError>,
    },
}

impl Error {
    /// The contract problems, when this is [`Error::InvalidContract`].
    pub fn problems(&self) -> Option<&[Problem]> {
        match self {
            Error::InvalidContract { problems, .. } => Some(problems),
            _ => None,
        }
    }

    /// True when the error says the workspace does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }
}

fn render(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
