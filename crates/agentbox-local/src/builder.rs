//! [`LocalProviderBuilder`] and [`Isolation`].

use std::path::PathBuf;
use std::sync::Arc;

use agentbox_core::progress::Progress;
use agentbox_core::secrets::{EnvSecrets, SecretSource};
use agentbox_core::{Error, Result};

use crate::provider::LocalProvider;

/// How commands are isolated from the host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Isolation {
    /// The safest isolation available; today that is bubblewrap. Creating a workspace or
    /// running a command is refused when bubblewrap is missing or does not work.
    #[default]
    Auto,
    /// Always bubblewrap; refused when it is missing or does not work.
    Bubblewrap,
    /// No isolation at all: commands run as the host user, with the host's files and network.
    /// An explicit opt-in, reported as a warning on every workspace.
    None,
}

/// Builds a [`LocalProvider`].
#[derive(Debug, Default)]
pub struct LocalProviderBuilder {
    root: Option<PathBuf>,
    isolation: Isolation,
    bwrap: Option<PathBuf>,
    secrets: Option<Arc<dyn SecretSource>>,
    progress: Progress,
}

impl LocalProviderBuilder {
    /// Keep workspaces under `root` (default: `$XDG_STATE_HOME/agentbox/workspaces`, else
    /// `~/.local/state/agentbox/workspaces`, else the temporary directory).
    pub fn root(mut self, root: impl Into<PathBuf>) -> Self {
        self.root = Some(root.into());
        self
    }

    /// How to isolate commands (default [`Isolation::Auto`]).
    pub fn isolation(mut self, isolation: Isolation) -> Self {
        self.isolation = isolation;
        self
    }

    /// Run bubblewrap from this path (default: `bwrap` from `PATH`).
    pub fn bwrap_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.bwrap = Some(path.into());
        self
    }

    /// Resolve the contract's secrets from `source` (default [`EnvSecrets`]).
    pub fn secrets(mut self, source: Arc<dyn SecretSource>) -> Self {
        self.secrets = Some(source);
        self
    }

    /// Report progress to `progress` (default: nowhere).
    pub fn progress(mut self, progress: Progress) -> Self {
        self.progress = progress;
        self
    }

    /// Create the root directory if needed and build the provider.
    pub fn build(self) -> Result<LocalProvider> {
        let root = self.root.unwrap_or_else(default_root);
        std::fs::create_dir_all(&root).map_err(|source| Error::Io {
            action: "create the workspace root",
            path: root.clone(),
            source,
        })?;
        let root = std::fs::canonicalize(&root).map_err(|source| Error::Io {
            action: "resolve the workspace root",
            path: root.clone(),
            source,
        })?;
        Ok(LocalProvider::new(
            root,
            self.isolation,
            self.bwrap.unwrap_or_else(|| PathBuf::from("bwrap")),
            self.secrets.unwrap_or_else(|| Arc::new(EnvSecrets)),
            self.progress,
        ))
    }
}

/// `$XDG_STATE_HOME/agentbox/workspaces`, else `~/.local/state/agentbox/workspaces`, else
/// under the temporary directory.
fn default_root() -> PathBuf {
    let absolute = |var: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    let state = absolute("XDG_STATE_HOME")
        .or_else(|| absolute("HOME").map(|home| home.join(".local/state")))
        .unwrap_or_else(std::env::temp_dir);
    state.join("agentbox").join("workspaces")
}
