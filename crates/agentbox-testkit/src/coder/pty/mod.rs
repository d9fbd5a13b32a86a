//! Reconnecting PTY sessions: commands on pseudo-terminals in the workspaces' sandboxes
//! (`session.rs`, `terminal.rs`), found again by their agent and `reconnect` id.
//!
//! bubblewrap starts the sandbox in a new session (`--new-session`), so the terminal is the
//! command's stdin, stdout and stderr but not its controlling terminal: echo, `\r\n` and line
//! editing work, while job control and signals from keys (Ctrl-C) do not reach the command.

mod session;
mod terminal;

pub(crate) use session::{PtyEvent, PtySession};

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use uuid::Uuid;

/// The live sessions, by (agent, reconnect id).
#[derive(Debug, Default)]
pub(crate) struct PtyRegistry {
    sessions: Mutex<HashMap<(Uuid, Uuid), Arc<PtySession>>>,
}

impl PtyRegistry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(Uuid, Uuid), Arc<PtySession>>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The live session `reconnect` of `agent`, or the one `start` makes (which is then
    /// registered). Sessions whose command exited are forgotten here.
    pub fn get_or_start(
        &self,
        agent: Uuid,
        reconnect: Uuid,
        start: impl FnOnce() -> Result<Arc<PtySession>, String>,
    ) -> Result<Arc<PtySession>, String> {
        let mut sessions = self.lock();
        sessions.retain(|_, s| !s.exited());
        if let Some(session) = sessions.get(&(agent, reconnect)) {
            return Ok(Arc::clone(session));
        }
        let session = start()?;
        sessions.insert((agent, reconnect), Arc::clone(&session));
        Ok(session)
    }

    /// How many sessions have a running command.
    pub fn live(&self) -> usize {
        self.lock().values().filter(|s| !s.exited()).count()
    }

    /// End every session of `workspace` and wait until their processes are reaped.
    pub async fn close_workspace(&self, workspace: Uuid) {
        let ended: Vec<Arc<PtySession>> = {
            let mut sessions = self.lock();
            let keys: Vec<_> = sessions
                .iter()
                .filter(|(_, s)| s.workspace == workspace)
                .map(|(k, _)| *k)
                .collect();
            keys.iter().filter_map(|k| sessions.remove(k)).collect()
        };
        for session in ended {
            session.terminate().await;
        }
    }

    /// Ask every session's command to be killed, without waiting (for `Drop`).
    pub fn kill_all(&self) {
        for session in self.lock().drain().map(|(_, s)| s) {
            session.kill();
        }
    }

    /// End every session.
    pub async fn close_all(&self) {
        let ended: Vec<Arc<PtySession>> = self.lock().drain().map(|(_, s)| s).collect();
        for session in ended {
            session.terminate().await;
        }
    }
}
