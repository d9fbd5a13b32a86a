//! [`LocalSession`]: one long-lived shell (bash when the host has it, else `sh`) in the
//! workspace's sandbox, fed through its stdin.
//!
//! Each command is sent as `command eval '<script>' </dev/null` (so a syntax error fails the
//! command, not the shell, and the command cannot read the shell's own input), followed by a
//! line printing a fresh random 128-bit marker and `$?` on stdout, and the marker on stderr.
//! The command's output is everything before the markers; text that merely looks like a marker
//! (another token) passes through. `cd` and `export` persist from one command to the next.

use std::sync::Arc;
use std::time::Instant;

use agentbox_core::exec::marker::{Carry, CommandEnd};
use agentbox_core::exec::{ExecOutput, ExitStatus, Session, SessionCommand, quote};
use agentbox_core::{Error, Result};
use async_trait::async_trait;
use tokio::io::AsyncWriteExt;
use tokio::process::{ChildStderr, ChildStdin, ChildStdout};
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::context::ExecContext;
use crate::error::{BACKEND, backend};
use crate::process::{Ended, exit_status, supervise};

/// The shell's supervisor: it ends when the shell does (or is killed).
type Supervisor = JoinHandle<std::io::Result<Ended<()>>>;

/// A persistent shell in a local workspace.
pub struct LocalSession {
    ctx: Arc<ExecContext>,
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
    stderr: ChildStderr,
    kill: CancellationToken,
    _kill_on_drop: DropGuard,
    supervisor: Option<Supervisor>,
    closed: Option<String>,
    carry: Carry,
}

impl std::fmt::Debug for LocalSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalSession")
            .field("workspace", &self.ctx.workspace)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl LocalSession {
    /// Start the shell in the workdir.
    pub(crate) fn start(ctx: Arc<ExecContext>) -> Result<Self> {
        let argv: Vec<String> = if std::path::Path::new("/bin/bash").exists() {
            ["bash", "--noprofile", "--norc"].map(String::from).to_vec()
        } else {
            vec!["sh".to_owned()]
        };
        let launch = ctx.launch(&argv, None, &Default::default(), &Default::default(), true)?;
        let mut child = launch.spawn().map_err(|e| e.into_core(&ctx.workspace))?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(backend(format!(
                "the shell of workspace `{}` has no pipes",
                ctx.workspace
            )));
        };
        let kill = ctx.epoch.token.child_token();
        let supervisor = tokio::spawn(
            ctx.epoch
                .tasks
                .track_future(supervise(child, kill.clone().cancelled_owned())),
        );
        tracing::debug!(workspace = %ctx.workspace, shell = %argv[0], "session started");
        Ok(Self {
            _kill_on_drop: kill.clone().drop_guard(),
            kill,
            ctx,
            stdin: Some(stdin),
            stdout,
            stderr,
            supervisor: Some(supervisor),
            closed: None,
            carry: Carry::default(),
        })
    }

    /// Kill the shell's tree (unless it is gone already), reap it and remember why.
    async fn end(&mut self, reason: &str) -> Option<std::process::ExitStatus> {
        self.closed.get_or_insert_with(|| reason.to_owned());
        self.stdin = None;
        self.kill.cancel();
        match self.supervisor.take()?.await {
            Ok(Ok(ended)) => Some(ended.status),
            Ok(Err(e)) => {
                tracing::warn!(workspace = %self.ctx.workspace, error = %e, "lost track of the session's shell");
                None
            }
            Err(e) => {
                tracing::warn!(workspace = %self.ctx.workspace, error = %e, "the session's supervisor failed");
                None
            }
        }
    }

    fn closed_error(&self) -> Option<Error> {
        self.closed.as_ref().map(|reason| Error::SessionClosed {
            workspace: self.ctx.workspace.clone(),
            reason: reason.clone(),
        })
    }
}

#[async_trait]
impl Session for LocalSession {
    async fn run(&mut self, command: &SessionCommand) -> Result<ExecOutput> {
        if let Some(closed) = self.closed_error() {
            return Err(closed);
        }
        if self.ctx.epoch.token.is_cancelled() {
            self.end("the workspace was stopped").await;
            return Err(self
                .closed_error()
                .unwrap_or_else(|| backend("session closed".into())));
        }
        if command.script.contains('\0') {
            return Err(backend(format!(
                "a session command for workspace `{}` contains a NUL byte, which a shell cannot read",
                self.ctx.workspace
            )));
        }
        let marker = new_marker()?;
        let wrapped = format!(
            "command eval {} </dev/null\nprintf '%s %d\\n' '{marker}' \"$?\"\nprintf '%s\\n' '{marker}' >&2\n",
            quote(&command.script)
        );
        let started = Instant::now();
        let written = match self.stdin.as_mut() {
            Some(stdin) => stdin
                .write_all(wrapped.as_bytes())
                .await
                .and(stdin.flush().await),
            None => Err(std::io::ErrorKind::BrokenPipe.into()),
        };
        if written.is_err() {
            self.end("the shell exited").await;
            return Err(self
                .closed_error()
                .unwrap_or_else(|| backend("session closed".into())));
        }

        let read = self
            .carry
            .read_command(
                &mut self.stdout,
                &mut self.stderr,
                &marker,
                command.output_limit,
                command.timeout,
            )
            .await;
        let (mut output, end) = match read {
            Ok(read) => read,
            Err(e) => {
                self.end("reading the shell's output failed").await;
                return Err(Error::Backend {
                    backend: BACKEND,
                    message: format!(
                        "reading the session's output in workspace `{}` failed",
                        self.ctx.workspace
                    ),
                    source: Some(Box::new(e)),
                });
            }
        };
        output.exit = match end {
            CommandEnd::Marked(code) => code.map_or(ExitStatus::Unknown, ExitStatus::Code),
            CommandEnd::TimedOut => {
                self.end("a command timed out and the shell was killed")
                    .await;
                ExitStatus::TimedOut
            }
            CommandEnd::ShellGone => match self.end("the shell exited").await {
                Some(status) => exit_status(status, self.ctx.sandboxed()),
                None => ExitStatus::Unknown,
            },
        };
        output.duration = started.elapsed();
        Ok(output)
    }

    async fn close(mut self: Box<Self>) -> Result<()> {
        self.end("the session was closed").await;
        Ok(())
    }
}

/// A fresh marker holding a random 128-bit token.
fn new_marker() -> Result<String> {
    let mut token = [0u8; 16];
    getrandom::fill(&mut token)
        .map_err(|e| backend(format!("no randomness for a session marker: {e}")))?;
    Ok(format!("__agentbox_{}__", hex::encode(token)))
}
