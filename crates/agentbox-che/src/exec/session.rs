//! [`KubeSession`]: one long-lived shell on one exec stream, many commands, an exit code each.
//!
//! Each command is sent as `command eval '<script>' </dev/null` (a syntax error fails the
//! command, not the shell, and the command cannot read the shell's input), followed by lines
//! printing a fresh random 128-bit marker and `$?` on stdout and the marker on stderr. The
//! shell runs under the exec wrapper behind a line relay: a timeout sends the relay a kill
//! line (the shell itself is busy), which kills the shell's whole process tree in the pod, and
//! a dropped session's connection ends the relay's input, which does the same.

use std::time::Instant;

use agentbox_core::exec::marker::{Carry, CommandEnd};
use agentbox_core::exec::{ExecOutput, ExitStatus, Session, SessionCommand, quote};
use agentbox_core::{Error, Result};
use async_trait::async_trait;
use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use tokio::io::{AsyncWriteExt, SimplexStream, WriteHalf};

use super::process::{KILL_GRACE, Link, Output, Remote, exit_status};
use super::stream::{read_announcement, wrapped};
use super::{KubeExecutor, scripts};
use crate::error::BACKEND;
use crate::token::token;

/// A persistent shell in a pod's container.
pub struct KubeSession {
    exec: KubeExecutor,
    tag: String,
    pid: Option<u32>,
    stdin: Option<WriteHalf<SimplexStream>>,
    stdout: Output,
    stderr: Output,
    status: Option<BoxFuture<'static, Option<Status>>>,
    link: Option<Link>,
    closed: Option<String>,
    carry: Carry,
}

impl std::fmt::Debug for KubeSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeSession")
            .field("workspace", &self.exec.workspace)
            .field("pod", &self.exec.container.pod)
            .field("pid", &self.pid)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl KubeSession {
    /// Start the shell in the workdir.
    pub(super) async fn start(exec: &KubeExecutor) -> Result<Self> {
        let tag = token("session tag").map_err(|e| e.into_core(&exec.workspace))?;
        let shell = vec![
            "sh".to_owned(),
            "-c".to_owned(),
            scripts::SESSION_SHELL.to_owned(),
        ];
        let Remote {
            mut stdin,
            stdout,
            mut stderr,
            status,
            link,
        } = exec
            .container
            .spawn(wrapped(&tag, &exec.workdir, None, &shell))
            .await
            .map_err(|e| exec.spawn_error(e))?;
        let io_timeout = exec.container.policy.call_timeout;
        // No environment: the header is just its end line.
        let header = match stdin.as_mut() {
            Some(stdin) => tokio::time::timeout(io_timeout, stdin.write_all(b".\n"))
                .await
                .is_ok_and(|written| written.is_ok()),
            None => false,
        };
        let mut head = Vec::new();
        let announced =
            tokio::time::timeout(io_timeout, read_announcement(&mut stderr, &tag, &mut head)).await;
        let mut session = Self {
            exec: exec.clone(),
            pid: None,
            stdin,
            stdout,
            stderr,
            status: Some(status),
            link: Some(link),
            closed: None,
            carry: Carry::default(),
            tag,
        };
        match (header, announced) {
            (true, Ok(Ok(Some((pid, rest))))) => {
                session.pid = Some(pid);
                session.carry = Carry::with_stderr(rest);
                tracing::debug!(workspace = %exec.workspace, pid, "session started");
                Ok(session)
            }
            _ => {
                session.end("the shell did not start").await;
                Err(exec.backend_error(format!(
                    "the session shell did not start in pod `{}`: {}",
                    exec.container.pod,
                    String::from_utf8_lossy(&head).trim()
                )))
            }
        }
    }

    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let io_timeout = self.exec.container.policy.call_timeout;
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(std::io::ErrorKind::BrokenPipe.into());
        };
        match tokio::time::timeout(io_timeout, async {
            stdin.write_all(bytes).await?;
            stdin.flush().await
        })
        .await
        {
            Ok(written) => written,
            Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
        }
    }

    /// Kill the shell's tree (unless it is gone), drop the stream, remember why; the shell's
    /// exit status when it is known. The relay in front of the shell kills it on a kill line;
    /// a second exec does if that did not end it.
    async fn end(&mut self, reason: &str) -> Option<ExitStatus> {
        self.closed.get_or_insert_with(|| reason.to_owned());
        let mut status = self.status.take()?;
        let ended = match (&mut status).now_or_never() {
            Some(ended) => Some(ended),
            None => {
                let kill = format!("{} kill\n", self.tag);
                let _ = self.write(kill.as_bytes()).await;
                match tokio::time::timeout(KILL_GRACE, &mut status).await {
                    Ok(ended) => Some(ended),
                    Err(_) => {
                        if let Err(e) = self.exec.container.kill(&self.tag, self.pid).await {
                            tracing::warn!(workspace = %self.exec.workspace, error = %e, "could not kill the session's shell");
                        }
                        tokio::time::timeout(KILL_GRACE, status).await.ok()
                    }
                }
            }
        };
        self.stdin = None;
        self.link = None;
        ended.map(|s| exit_status(s.as_ref()).unwrap_or(ExitStatus::Unknown))
    }

    fn closed_error(&self) -> Option<Error> {
        self.closed.as_ref().map(|reason| Error::SessionClosed {
            workspace: self.exec.workspace.clone(),
            reason: reason.clone(),
        })
    }

    fn closed_now(&self) -> Error {
        self.closed_error().unwrap_or_else(|| Error::SessionClosed {
            workspace: self.exec.workspace.clone(),
            reason: "closed".into(),
        })
    }
}

#[async_trait]
impl Session for KubeSession {
    async fn run(&mut self, command: &SessionCommand) -> Result<ExecOutput> {
        if let Some(closed) = self.closed_error() {
            return Err(closed);
        }
        self.exec.check()?;
        if command.script.contains('\0') {
            return Err(self.exec.backend_error(
                "a session command contains a NUL byte, which a shell cannot read".into(),
            ));
        }
        let token = token("session marker").map_err(|e| e.into_core(&self.exec.workspace))?;
        let marker = format!("__agentbox_{token}__");
        let framed = format!(
            "command eval {} </dev/null\nprintf '%s %d\\n' '{marker}' \"$?\"\nprintf '%s\\n' '{marker}' >&2\n",
            quote(&command.script)
        );
        let started = Instant::now();
        if self.write(framed.as_bytes()).await.is_err() {
            self.end("the shell exited").await;
            return Err(self.closed_now());
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
                        self.exec.workspace
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
            CommandEnd::ShellGone => self
                .end("the shell exited")
                .await
                .unwrap_or(ExitStatus::Unknown),
        };
        output.duration = started.elapsed();
        Ok(output)
    }

    async fn close(mut self: Box<Self>) -> Result<()> {
        if self.closed.is_some() {
            return Ok(());
        }
        // Ask the shell to exit, then end stdin (the relay ends with it); `end` kills the
        // shell if it does not go.
        let _ = self.write(b"exit 0\n").await;
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.shutdown().await;
        }
        if let Some(status) = self.status.as_mut()
            && let Ok(ended) = tokio::time::timeout(KILL_GRACE, status).await
        {
            self.status = None;
            self.link = None;
            self.closed = Some("the session was closed".into());
            tracing::debug!(workspace = %self.exec.workspace, exit = ?exit_status(ended.as_ref()), "session closed");
            return Ok(());
        }
        self.end("the session was closed").await;
        Ok(())
    }
}

impl Drop for KubeSession {
    fn drop(&mut self) {
        if self.closed.is_none() && self.status.is_some() {
            // Dropping the connection closes the shell's stdin in the pod; the relay in front
            // of the shell then kills its tree.
            tracing::debug!(workspace = %self.exec.workspace, "session dropped without close");
        }
    }
}
