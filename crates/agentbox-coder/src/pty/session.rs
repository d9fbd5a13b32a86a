//! [`CoderPtySession`]: one long-lived shell on one reconnecting PTY.
//!
//! Each command is sent as a fresh start token, the script in base64 lines and, on its own
//! line, a fresh exit token that the shell reads only after the script ran. The command's
//! output is everything up to the `exit` marker with that token; output of background jobs
//! that arrives later goes to the next command, as with the local backend. A timeout kills the
//! shell's whole process group and closes the session.

use std::sync::Arc;
use std::time::Duration;

use agentbox_core::exec::{ExecOutput, ExitStatus, OutputStreams, Session, SessionCommand};
use agentbox_core::{Error, Result};
use async_trait::async_trait;
use secrecy::ExposeSecret;
use tokio::time::Instant;

use super::ansi::AnsiStripper;
use super::channel::PtyChannel;
use super::exec::{kill_through_new_pty, sleep_until};
use super::frame::Piece;
use super::script::{self, Program};
use super::{PtyContext, PtyOutput, until_marker};
use crate::error::{BACKEND, backend};

/// How long the shell may take to end after `close` or a kill.
const END_WAIT: Duration = Duration::from_secs(10);

/// A persistent shell in a Coder workspace, from [`super::CoderPtyExecutor`]'s `session`.
pub struct CoderPtySession {
    ctx: Arc<PtyContext>,
    channel: Option<PtyChannel>,
    nonce: String,
    /// The shell's process group.
    pid: String,
    closed: Option<String>,
}

impl std::fmt::Debug for CoderPtySession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoderPtySession")
            .field("workspace", &self.ctx.id)
            .field("pid", &self.pid)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

/// How one command ended.
enum End {
    Exit(ExitStatus),
    /// The shell exited (the script ran `exit`), with this status.
    Gone(ExitStatus),
    /// The PTY closed.
    Closed,
    /// A reconnect found the shell gone and started a new one.
    Restarted,
    TimedOut,
}

impl CoderPtySession {
    /// Start the shell in the workdir, with the contract's environment and secrets.
    pub(crate) async fn open(ctx: Arc<PtyContext>) -> Result<Self> {
        let nonce = script::token();
        let mut channel = ctx.open(Program::Session, &[&nonce], &[&nonce]).await?;
        let (noise, ready) = until_marker(&mut channel, &nonce)
            .await
            .map_err(|e| e.into_core(&ctx.id))?;
        let pid = match ready {
            Some(m) if m.kind == "ready" => m.value,
            Some(m) => {
                return Err(backend(format!(
                    "the session shell in workspace `{}` could not start: it reported {} `{}`",
                    ctx.id, m.kind, m.value
                )));
            }
            None => {
                return Err(ctx
                    .ended_early(&channel, "the shell was ready", &noise)
                    .await);
            }
        };
        let mut session = Self {
            ctx,
            channel: Some(channel),
            nonce,
            pid,
            closed: None,
        };
        let env: std::collections::BTreeMap<String, String> = session
            .ctx
            .environment(&agentbox_core::exec::ExecRequest::new(["sh"]))?
            .into_iter()
            .map(|(k, v)| (k, v.expose_secret().to_owned()))
            .collect();
        let setup = SessionCommand::script(script::session_setup(&session.ctx.workdir, &env));
        let out = session.run(&setup).await?;
        if !out.exit.success() {
            if let Some(channel) = session.channel.take() {
                session.end(channel, "its setup failed").await;
            }
            return Err(backend(format!(
                "the session shell in workspace `{}` could not change to {} ({}): {}",
                session.ctx.id,
                session.ctx.workdir,
                out.exit,
                out.stdout_text().trim()
            )));
        }
        tracing::debug!(workspace = %session.ctx.id, pid = %session.pid, "session started");
        Ok(session)
    }

    fn closed_error(&self) -> Option<Error> {
        self.closed.as_ref().map(|reason| Error::SessionClosed {
            workspace: self.ctx.id.clone(),
            reason: reason.clone(),
        })
    }

    /// Kill the shell's process group (through the PTY, or a new one) and close the PTY.
    async fn end(&mut self, mut channel: PtyChannel, reason: &str) {
        self.closed.get_or_insert_with(|| reason.to_owned());
        if channel.send("k\n").await.is_err() {
            kill_through_new_pty(&self.ctx, &self.pid).await;
        } else {
            let _ = tokio::time::timeout(END_WAIT, drain(&mut channel)).await;
        }
        channel.close().await;
    }
}

/// Read until the PTY closes.
async fn drain(channel: &mut PtyChannel) {
    while let Ok(Some(_)) = channel.next().await {}
}

#[async_trait]
impl Session for CoderPtySession {
    async fn run(&mut self, command: &SessionCommand) -> Result<ExecOutput> {
        if let Some(closed) = self.closed_error() {
            return Err(closed);
        }
        if command.script.contains('\0') {
            return Err(backend(format!(
                "a session command for workspace `{}` contains a NUL byte, which a shell cannot read",
                self.ctx.id
            )));
        }
        let Some(mut channel) = self.channel.take() else {
            return Err(backend("session closed".into()));
        };
        let start = script::token();
        let exit = script::token();
        channel.add_token(&start);
        channel.add_token(&exit);
        channel.reset_lost();
        let started = Instant::now();
        let input = format!(
            "{start}\n{}.\n{exit}\n",
            script::b64_lines(command.script.as_bytes())
        );
        if let Err(e) = channel.send(&input).await {
            self.end(channel, "the connection to the shell failed")
                .await;
            return Err(e.into_core(&self.ctx.id));
        }
        let deadline = command.timeout.map(|t| Instant::now() + t);
        let mut strip = (self.ctx.output == PtyOutput::Text).then(AnsiStripper::default);
        let mut output = ExecOutput::empty(OutputStreams::Combined);
        let limit = command.output_limit;
        let end = loop {
            let piece = tokio::select! {
                () = sleep_until(deadline) => break End::TimedOut,
                piece = channel.next() => piece,
            };
            match piece {
                Ok(Some(Piece::Output(bytes))) => match &mut strip {
                    Some(s) => output.push_stdout(&s.push(&bytes), limit),
                    None => output.push_stdout(&bytes, limit),
                },
                Ok(Some(Piece::Marker(m))) if m.token == exit && m.kind == "exit" => {
                    break End::Exit(
                        m.value
                            .parse()
                            .map_or(ExitStatus::Unknown, ExitStatus::Code),
                    );
                }
                Ok(Some(Piece::Marker(m))) if m.token == self.nonce && m.kind == "gone" => {
                    break End::Gone(
                        m.value
                            .parse()
                            .map_or(ExitStatus::Unknown, ExitStatus::Code),
                    );
                }
                Ok(Some(Piece::Marker(m))) if m.token == self.nonce && m.kind == "ready" => {
                    // The reconnect started a new shell: the old one had ended meanwhile.
                    break End::Restarted;
                }
                Ok(Some(Piece::Marker(_))) => {}
                Ok(None) => break End::Closed,
                Err(e) => {
                    self.end(channel, "the connection to the shell was lost")
                        .await;
                    return Err(e.into_core(&self.ctx.id));
                }
            }
        };
        if let Some(rest) = strip.as_mut().map(AnsiStripper::finish) {
            output.push_stdout(&rest, limit);
        }
        let lost = channel.lost_output();
        channel.remove_token(&start);
        channel.remove_token(&exit);
        output.exit = match end {
            End::Exit(status) => {
                self.channel = Some(channel);
                status
            }
            End::Gone(status) => {
                self.end(channel, "the shell exited").await;
                status
            }
            End::Closed => {
                self.closed = Some("the shell's terminal closed".into());
                ExitStatus::Unknown
            }
            End::Restarted => {
                self.closed = Some("the shell ended while the connection was down".into());
                let _ = channel.send("q\n").await;
                channel.close().await;
                return Err(self
                    .closed_error()
                    .unwrap_or_else(|| backend("session closed".into())));
            }
            End::TimedOut => {
                self.end(channel, "a command timed out and the shell was killed")
                    .await;
                ExitStatus::TimedOut
            }
        };
        output.duration = started.elapsed();
        if lost {
            return Err(backend(format!(
                "the connection to workspace `{}` dropped during a session command and part of its output could not be recovered; it ended with {}",
                self.ctx.id, output.exit
            )));
        }
        Ok(output)
    }

    async fn close(mut self: Box<Self>) -> Result<()> {
        if self.closed.is_some() {
            return Ok(());
        }
        self.closed = Some("the session was closed".into());
        if let Some(mut channel) = self.channel.take() {
            if channel.send("q\n").await.is_ok()
                && tokio::time::timeout(END_WAIT, drain(&mut channel))
                    .await
                    .is_ok()
            {
                channel.close().await;
                return Ok(());
            }
            self.end(channel, "the session was closed").await;
        }
        Ok(())
    }
}

impl Drop for CoderPtySession {
    fn drop(&mut self) {
        // A session dropped without `close`: end its shell in the background, best effort.
        let Some(mut channel) = self.channel.take() else {
            return;
        };
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let workspace = self.ctx.id.clone();
            handle.spawn(async move {
                if channel.send("k\n").await.is_err() {
                    tracing::warn!(workspace = %workspace, backend = BACKEND, "could not end a dropped session's shell");
                }
                channel.close().await;
            });
        }
    }
}
