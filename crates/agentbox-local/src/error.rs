//! [`LocalError`]: what can fail inside the local backend, mapped into [`agentbox_core::Error`].

use std::path::PathBuf;

use agentbox_core::Error;

/// The backend's name in errors, events and evidence.
pub(crate) const BACKEND: &str = "local";

/// A failure inside the local backend. Callers see it as an [`agentbox_core::Error`]; this type
/// keeps the detail as the error's source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocalError {
    /// A host file operation failed.
    #[error("could not {action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The host path concerned.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },

    /// A workspace record could not be read or written as JSON.
    #[error(
        "workspace record {path} is not valid: {source}; fix or delete the workspace directory"
    )]
    Record {
        /// The record file.
        path: PathBuf,
        /// The JSON error.
        source: serde_json::Error,
    },

    /// A program could not be started.
    #[error("could not start `{program}`: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The operating system's error.
        source: std::io::Error,
    },

    /// Cloning the project failed.
    #[error(
        "cloning {url} failed ({status}): {stderr}; check the URL and revision, and that the host can reach it without a prompt"
    )]
    Clone {
        /// The repository URL.
        url: String,
        /// How `git` ended.
        status: String,
        /// The end of `git`'s error output.
        stderr: String,
    },
}

impl LocalError {
    /// A host I/O failure.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// The core error for this failure in `workspace`.
    pub(crate) fn into_core(self, workspace: &str) -> Error {
        match self {
            LocalError::Io {
                action,
                path,
                source,
            } => Error::Io {
                action,
                path,
                source,
            },
            other => Error::Backend {
                backend: BACKEND,
                message: format!("workspace `{workspace}`: {other}"),
                source: Some(Box::new(other)),
            },
        }
    }
}

/// [`Error::InvalidState`] for the local backend.
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

/// [`Error::NotFound`] for the local backend.
pub(crate) fn not_found(workspace: &str) -> Error {
    Error::NotFound {
        backend: BACKEND,
        workspace: workspace.to_owned(),
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
