//! [`CoderPtyExecutor`]: commands, files and sessions through a Coder agent's reconnecting PTY
//! (`/api/v2/workspaceagents/{id}/pty`).
//!
//! A PTY gives no exit status and mixes stdout with stderr. Each command therefore runs inside
//! a small constant shell program (`script.rs`) that reports with markers carrying a random
//! per-command token (`frame.rs`); the output is everything else, byte for byte, and both
//! streams arrive together as stdout ([`OutputStreams::Combined`]). Stdin and file contents
//! travel as base64 lines to a decoder in the workspace, never through argv and never raw
//! through the terminal. A timeout or a dropped stream kills the command's whole process
//! group through the same PTY (or, if that connection is gone, through a second one).
//!
//! Map: `conn.rs` (one WebSocket), `channel.rs` (reconnects, with `replay.rs` skipping the
//! replayed output), `exec.rs`, `files.rs`, `session.rs`, `ansi.rs` (escape sequences).

mod ansi;
mod channel;
mod conn;
mod exec;
mod files;
mod frame;
mod replay;
mod script;
mod session;

pub use session::CoderPtySession;

pub(crate) use conn::PtyTarget;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use agentbox_core::exec::path::resolve;
use agentbox_core::exec::{
    ExecRequest, ExecStream, FileReader, FileSource, FileWritten, OutputStreams, Session,
};
use agentbox_core::progress::Progress;
use agentbox_core::{Error, Executor, Result};
use async_trait::async_trait;
use secrecy::SecretString;
use uuid::Uuid;

use crate::client::CoderClient;
use crate::error::{BACKEND, CoderError, backend, invalid_state};
use crate::models::{Transition, WorkspaceStatus};
use channel::PtyChannel;
use frame::{Marker, Piece};
use script::Program;

/// What the executor does with a command's output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum PtyOutput {
    /// Bytes exactly as the command wrote them (the terminal is told not to rewrite output,
    /// so binary output survives). The default.
    #[default]
    Exact,
    /// Text for reading: terminal escape sequences (colours, titles, cursor moves) removed
    /// and `\r\n` turned into `\n`.
    Text,
}

/// Everything an executor of one workspace needs.
pub(crate) struct PtyContext {
    pub workspace: Uuid,
    /// The workspace id as text.
    pub id: String,
    pub target: PtyTarget,
    pub root: String,
    pub workdir: String,
    pub env: BTreeMap<String, String>,
    pub secrets: Vec<(String, SecretString)>,
    pub output: PtyOutput,
    pub progress: Progress,
}

impl fmt::Debug for PtyContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PtyContext")
            .field("workspace", &self.workspace)
            .field("agent", &self.target.agent)
            .field("root", &self.root)
            .field("workdir", &self.workdir)
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field(
                "secrets",
                &self.secrets.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("output", &self.output)
            .finish()
    }
}

impl PtyContext {
    fn client(&self) -> &CoderClient {
        &self.target.client
    }

    /// `input` as an absolute path inside the workspace root.
    fn resolve(&self, input: &str) -> Result<String> {
        resolve(&self.id, &self.root, &self.workdir, input)
    }

    /// Open a PTY running `program`; a PTY that cannot be opened is explained by the
    /// workspace's state when that is the reason.
    async fn open(&self, program: Program, args: &[&str], tokens: &[&str]) -> Result<PtyChannel> {
        let command = script::command(program, args);
        // Only a command's output and a session survive a dropped connection; a file transfer
        // or a kill is simply tried again by the caller.
        let reconnects = matches!(program, Program::Exec | Program::Session);
        match PtyChannel::open(self.target.clone(), command, tokens, reconnects).await {
            Ok(channel) => Ok(channel),
            Err(e) => Err(self.unreachable(e).await),
        }
    }

    /// Why the agent could not be reached: the workspace is not running (InvalidState), gone
    /// (NotFound), or `cause`.
    async fn unreachable(&self, cause: CoderError) -> Error {
        let id = self.id.clone();
        match self.client().workspace(self.workspace).await {
            Ok(w) => {
                let build = &w.latest_build;
                if build.transition != Transition::Start || build.status != WorkspaceStatus::Running
                {
                    invalid_state(&id, build.status.as_str(), "run commands")
                } else {
                    cause.into_core(&id)
                }
            }
            Err(e) if e.is_gone() => Error::NotFound {
                backend: BACKEND,
                workspace: id,
            },
            Err(_) => cause.into_core(&id),
        }
    }

    /// The error for a PTY that ended before its program reported.
    async fn ended_early(&self, channel: &PtyChannel, what: &str, output: &[u8]) -> Error {
        let reason = channel.close_reason().to_owned();
        let text = String::from_utf8_lossy(&output[output.len().saturating_sub(2000)..]);
        self.unreachable(CoderError::Protocol(format!(
            "the PTY closed before {what}{}{}",
            if reason.is_empty() {
                String::new()
            } else {
                format!(" ({reason})")
            },
            if text.trim().is_empty() {
                String::new()
            } else {
                format!("; it printed: {}", text.trim())
            }
        )))
        .await
    }

    /// The environment for commands: the contract's variables, its secrets, then the
    /// request's variables and secrets. Names must be shell variable names.
    fn environment(&self, request: &ExecRequest) -> Result<BTreeMap<String, SecretString>> {
        let mut env: BTreeMap<String, SecretString> = BTreeMap::new();
        for (k, v) in &self.env {
            env.insert(k.clone(), SecretString::from(v.clone()));
        }
        for (k, v) in &self.secrets {
            env.insert(k.clone(), v.clone());
        }
        for (k, v) in &request.env {
            env.insert(k.clone(), SecretString::from(v.clone()));
        }
        for (k, v) in &request.secret_env {
            env.insert(k.clone(), v.clone());
        }
        if let Some(bad) = env.keys().find(|k| !script::valid_env_name(k)) {
            return Err(backend(format!(
                "`{bad}` cannot be an environment variable in workspace `{}`: use letters, digits and `_`, not starting with a digit",
                self.id
            )));
        }
        Ok(env)
    }
}

/// Read pieces until a marker with `token`: the output before it (at most 64 KiB kept) and
/// the marker, or `None` when the PTY ended first.
async fn until_marker(
    channel: &mut PtyChannel,
    token: &str,
) -> std::result::Result<(Vec<u8>, Option<Marker>), CoderError> {
    let mut output = Vec::new();
    while let Some(piece) = channel.next().await? {
        match piece {
            Piece::Output(bytes) => {
                let room = (64 * 1024usize).saturating_sub(output.len());
                output.extend_from_slice(&bytes[..room.min(bytes.len())]);
            }
            Piece::Marker(m) if m.token == token => return Ok((output, Some(m))),
            Piece::Marker(_) => {}
        }
    }
    Ok((output, None))
}

/// Commands and files of one Coder workspace, through its agent's PTY. Obtained from
/// [`crate::CoderProvider`]'s `executor`. stdout and stderr arrive together
/// ([`OutputStreams::Combined`]); `stderr` of every result is empty.
#[derive(Debug, Clone)]
pub struct CoderPtyExecutor {
    ctx: Arc<PtyContext>,
}

impl CoderPtyExecutor {
    pub(crate) fn new(ctx: PtyContext) -> Self {
        Self { ctx: Arc::new(ctx) }
    }

    /// The Coder workspace's id.
    pub fn workspace_id(&self) -> Uuid {
        self.ctx.workspace
    }

    /// The agent commands run in.
    pub fn agent_id(&self) -> Uuid {
        self.ctx.target.agent
    }

    /// The working directory commands start in.
    pub fn workdir(&self) -> &str {
        &self.ctx.workdir
    }

    /// What happens to output.
    pub fn output(&self) -> PtyOutput {
        self.ctx.output
    }

    /// The same executor with another output mode.
    pub fn with_output(&self, output: PtyOutput) -> Self {
        let c = &self.ctx;
        Self::new(PtyContext {
            workspace: c.workspace,
            id: c.id.clone(),
            target: c.target.clone(),
            root: c.root.clone(),
            workdir: c.workdir.clone(),
            env: c.env.clone(),
            secrets: c.secrets.clone(),
            output,
            progress: c.progress.clone(),
        })
    }
}

#[async_trait]
impl Executor for CoderPtyExecutor {
    fn workspace(&self) -> &str {
        &self.ctx.id
    }

    fn output_streams(&self) -> OutputStreams {
        OutputStreams::Combined
    }

    async fn exec_stream(&self, request: ExecRequest) -> Result<ExecStream> {
        exec::exec_stream(Arc::clone(&self.ctx), request).await
    }

    async fn write_file(&self, path: &str, content: FileSource) -> Result<FileWritten> {
        files::write_file(&self.ctx, path, content).await
    }

    async fn read_file(&self, path: &str) -> Result<FileReader> {
        files::read_file(&self.ctx, path).await
    }

    async fn session(&self) -> Result<Box<dyn Session>> {
        Ok(Box::new(
            CoderPtySession::open(Arc::clone(&self.ctx)).await?,
        ))
    }
}
