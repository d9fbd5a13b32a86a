//! Progress events: long operations report what they are doing to a caller-supplied observer
//! (a no-op by default), besides `tracing` spans. Libraries never print.

use serde::Serialize;
use std::fmt;
use std::sync::Arc;

use crate::exec::ExitStatus;
use crate::provider::Phase;
use crate::task::TaskStep;

/// Something a long operation wants its caller to know.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProgressEvent {
    /// A workspace moved to a new phase.
    Workspace {
        /// Backend name.
        backend: &'static str,
        /// Workspace id.
        workspace: String,
        /// The new phase, or `None` once deleted.
        phase: Option<Phase>,
        /// Backend message.
        message: Option<String>,
    },
    /// A command started.
    ExecStarted {
        /// Workspace id.
        workspace: String,
        /// The program run (`argv[0]`).
        program: String,
    },
    /// A command ended.
    ExecFinished {
        /// Workspace id.
        workspace: String,
        /// The program run.
        program: String,
        /// How it ended.
        exit: ExitStatus,
        /// Milliseconds it took.
        duration_ms: u64,
    },
    /// Bytes moved into or out of a workspace.
    Transfer {
        /// Workspace id.
        workspace: String,
        /// Path in the workspace.
        path: String,
        /// Bytes moved.
        bytes: u64,
        /// `upload` or `download`.
        direction: &'static str,
    },
    /// A task runner's step (provisioning, model turn, tool call, tests, commit, PR, cleanup).
    Task {
        /// The task's evidence run id.
        run: String,
        /// The step.
        #[serde(flatten)]
        step: TaskStep,
    },
    /// A warning the caller should see (e.g. "commands run without isolation").
    Warning {
        /// Backend name.
        backend: &'static str,
        /// Workspace id, when one is concerned.
        workspace: Option<String>,
        /// The warning.
        message: String,
    },
}

/// Receives [`ProgressEvent`]s. Any `Fn(&ProgressEvent) + Send + Sync` is one.
pub trait ProgressObserver: Send + Sync {
    /// Called for each event, on the task that produced it; keep it quick.
    fn observe(&self, event: &ProgressEvent);
}

impl<F: Fn(&ProgressEvent) + Send + Sync> ProgressObserver for F {
    fn observe(&self, event: &ProgressEvent) {
        self(event)
    }
}

/// A cheap, clonable handle that delivers events to an observer (or nowhere).
#[derive(Clone, Default)]
pub struct Progress(Option<Arc<dyn ProgressObserver>>);

impl Progress {
    /// Deliver events to `observer`.
    pub fn new(observer: Arc<dyn ProgressObserver>) -> Self {
        Self(Some(observer))
    }

    /// Deliver events nowhere.
    pub fn none() -> Self {
        Self(None)
    }

    /// Deliver one event (and log it at debug level).
    pub fn emit(&self, event: ProgressEvent) {
        tracing::debug!(?event, "progress");
        if let Some(observer) = &self.0 {
            observer.observe(&event);
        }
    }
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Progress(observer)"
        } else {
            "Progress(none)"
        })
    }
}
