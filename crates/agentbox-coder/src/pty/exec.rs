//! One command on its own PTY: setup (`ready`, then the request, then `pid`), streaming, and
//! the end (`exit`), a timeout or a dropped stream (the command's process group is killed).

use std::sync::Arc;
use std::time::Duration;

use agentbox_core::exec::{ExecChunk, ExecRequest, ExecStream, ExitStatus};
use agentbox_core::progress::ProgressEvent;
use agentbox_core::{Error, Result};
use bytes::Bytes;
use futures::StreamExt;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::Instrument;

use super::ansi::AnsiStripper;
use super::channel::PtyChannel;
use super::frame::Piece;
use super::script::{self, Program};
use super::{PtyContext, PtyOutput, until_marker};
use crate::error::{BACKEND, backend};

/// Output chunks that may wait for a slow reader.
const CHANNEL_CHUNKS: usize = 16;
/// How long a killed command may take to report its end.
const KILL_WAIT: Duration = Duration::from_secs(10);
/// How long starting a command (connect, upload stdin, start) may take; the request's
/// timeout counts from the start.
const SETUP_LIMIT: Duration = Duration::from_secs(120);

/// Start `request` and return its output stream once it runs.
pub(super) async fn exec_stream(ctx: Arc<PtyContext>, request: ExecRequest) -> Result<ExecStream> {
    let program = request.argv.first().cloned().unwrap_or_default();
    if program.is_empty() {
        return Err(backend(format!(
            "an empty argv was given for workspace `{}`; pass at least the program to run",
            ctx.id
        )));
    }
    if request.argv.iter().any(|a| a.contains('\0')) {
        return Err(backend(format!(
            "an argument for `{program}` in workspace `{}` contains a NUL byte, which no program can receive",
            ctx.id
        )));
    }
    let env = ctx.environment(&request)?;
    if env.values().any(|v| v.expose_secret().contains('\0')) {
        return Err(backend(format!(
            "an environment value for `{program}` in workspace `{}` contains a NUL byte",
            ctx.id
        )));
    }
    let cwd = ctx.resolve(request.cwd.as_deref().unwrap_or(&ctx.workdir))?;
    let span =
        tracing::info_span!("exec", backend = BACKEND, workspace = %ctx.id, program = %program);

    let setup = start(&ctx, &request, &program, &cwd, &env).instrument(span.clone());
    let (channel, started) = tokio::time::timeout(SETUP_LIMIT, setup)
        .await
        .map_err(|_| Error::Timeout {
            backend: BACKEND,
            workspace: ctx.id.clone(),
            what: format!("starting `{program}`"),
            after: SETUP_LIMIT,
        })??;
    let deadline = request.timeout.map(|t| Instant::now() + t);
    span.in_scope(|| tracing::debug!(pid = %started.pid, "command started"));
    ctx.progress.emit(ProgressEvent::ExecStarted {
        workspace: ctx.id.clone(),
        program: program.clone(),
    });

    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let run = Run {
        ctx,
        channel,
        nonce: started.nonce,
        token: started.token,
        pid: started.pid,
        program,
        deadline,
        started: Instant::now(),
    };
    tokio::spawn(run.drive(tx).instrument(span));
    let mut rx = rx;
    Ok(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed())
}

/// Open the PTY, send the request and wait until the command runs: the channel, the exit
/// token and the command's process group.
async fn start(
    ctx: &PtyContext,
    request: &ExecRequest,
    program: &str,
    cwd: &str,
    env: &std::collections::BTreeMap<String, SecretString>,
) -> Result<(PtyChannel, Started)> {
    let nonce = script::token();
    let token = script::token();
    let mut channel = ctx
        .open(Program::Exec, &[&nonce], &[&nonce, &token])
        .await?;
    let (noise, ready) = until_marker(&mut channel, &nonce)
        .await
        .map_err(|e| e.into_core(&ctx.id))?;
    match ready {
        Some(m) if m.kind == "ready" => {}
        Some(m) => return Err(setup_error(ctx, program, &m.kind, &m.value)),
        None => return Err(ctx.ended_early(&channel, "it was ready", &noise).await),
    }

    let input = header(ctx, &token, cwd, env, request);
    channel
        .send(input.expose_secret())
        .await
        .map_err(|e| e.into_core(&ctx.id))?;
    drop(input);
    let (noise, started) = until_marker(&mut channel, &token)
        .await
        .map_err(|e| e.into_core(&ctx.id))?;
    let pid = match started {
        Some(m) if m.kind == "pid" => m.value,
        Some(m) if m.kind == "error" && m.value == "cwd" => {
            return Err(backend(format!(
                "working directory `{cwd}` does not exist in workspace `{}` and could not be made; create it first or run elsewhere",
                ctx.id
            )));
        }
        Some(m) => return Err(setup_error(ctx, program, &m.kind, &m.value)),
        None => {
            return Err(ctx
                .ended_early(&channel, "the command started", &noise)
                .await);
        }
    };
    Ok((channel, Started { nonce, token, pid }))
}

/// A started command's names: the program's nonce, the exit token, the process group.
struct Started {
    nonce: String,
    token: String,
    pid: String,
}

/// The input the exec program reads: the token, the request script, the stdin.
fn header(
    ctx: &PtyContext,
    token: &str,
    cwd: &str,
    env: &std::collections::BTreeMap<String, SecretString>,
    request: &ExecRequest,
) -> SecretString {
    let plain: std::collections::BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.clone(), v.expose_secret().to_owned()))
        .collect();
    let create = request.cwd.is_none() || cwd == ctx.workdir;
    let script = script::request_script(cwd, create, &plain, &request.argv);
    let mut text = format!("{token}\n{}.\n", script::b64_lines(script.as_bytes()));
    match &request.stdin {
        Some(stdin) => {
            let lines = script::b64_lines(stdin);
            text.push_str(&format!("{}\n{lines}", lines.len()));
        }
        None => text.push_str("-\n"),
    }
    SecretString::from(text)
}

fn setup_error(ctx: &PtyContext, program: &str, kind: &str, value: &str) -> Error {
    backend(format!(
        "could not start `{program}` in workspace `{}`: the PTY program reported {kind} `{value}`; check that the workspace has a POSIX shell with base64, head, mktemp and stty",
        ctx.id
    ))
}

/// A running command.
struct Run {
    ctx: Arc<PtyContext>,
    channel: PtyChannel,
    nonce: String,
    token: String,
    pid: String,
    program: String,
    deadline: Option<Instant>,
    started: Instant,
}

/// Why the stream stopped early.
enum Stop {
    TimedOut,
    Dropped,
}

impl Run {
    async fn drive(mut self, tx: mpsc::Sender<Result<ExecChunk>>) {
        let mut strip = (self.ctx.output == PtyOutput::Text).then(AnsiStripper::default);
        let stop = loop {
            let piece = tokio::select! {
                () = tx.closed() => break Stop::Dropped,
                () = sleep_until(self.deadline) => break Stop::TimedOut,
                piece = self.channel.next() => piece,
            };
            match piece {
                Ok(Some(Piece::Output(bytes))) => {
                    let bytes = match &mut strip {
                        Some(s) => Bytes::from(s.push(&bytes)),
                        None => bytes,
                    };
                    if bytes.is_empty() {
                        continue;
                    }
                    tokio::select! {
                        sent = tx.send(Ok(ExecChunk::Stdout(bytes))) => if sent.is_err() {
                            break Stop::Dropped;
                        },
                        () = sleep_until(self.deadline) => break Stop::TimedOut,
                    }
                }
                Ok(Some(Piece::Marker(m))) if m.token == self.token && m.kind == "exit" => {
                    if let Some(rest) = strip.as_mut().map(AnsiStripper::finish)
                        && !rest.is_empty()
                    {
                        let _ = tx.send(Ok(ExecChunk::Stdout(rest.into()))).await;
                    }
                    let exit = m
                        .value
                        .parse()
                        .map_or(ExitStatus::Unknown, ExitStatus::Code);
                    if self.channel.lost_output() {
                        let _ = tx.send(Err(self.lost(exit))).await;
                    }
                    self.finish(&tx, exit).await;
                    self.channel.close().await;
                    return;
                }
                Ok(Some(Piece::Marker(m))) if m.token == self.nonce && m.kind == "ready" => {
                    // The reconnect started the program again: the command had ended while
                    // the connection was down, and its end went with its PTY.
                    let _ = self.channel.send("\n").await;
                    let error = self.ended_unseen();
                    self.channel.close().await;
                    let _ = tx.send(Err(error)).await;
                    return;
                }
                Ok(Some(Piece::Marker(_))) => {}
                Ok(None) => {
                    tracing::warn!(reason = %self.channel.close_reason(), "the PTY closed before the command reported its exit");
                    self.finish(&tx, ExitStatus::Unknown).await;
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "lost the PTY of a running command; killing it");
                    kill_through_new_pty(&self.ctx, &self.pid).await;
                    let _ = tx.send(Err(e.into_core(&self.ctx.id))).await;
                    return;
                }
            }
        };
        self.kill().await;
        if let Stop::TimedOut = stop {
            self.finish(&tx, ExitStatus::TimedOut).await;
        }
        self.channel.close().await;
    }

    /// Kill the command's process group: through its own PTY, or a new one if that is gone.
    async fn kill(&mut self) {
        if self.channel.send("k\n").await.is_err() {
            kill_through_new_pty(&self.ctx, &self.pid).await;
            return;
        }
        // The program reports the killed command's end; wait for it, briefly.
        let ended = tokio::time::timeout(KILL_WAIT, async {
            loop {
                match self.channel.next().await {
                    Ok(Some(Piece::Marker(m))) if m.token == self.token && m.kind == "exit" => {
                        return true;
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => return false,
                }
            }
        })
        .await;
        if !matches!(ended, Ok(true)) {
            kill_through_new_pty(&self.ctx, &self.pid).await;
        }
    }

    async fn finish(&self, tx: &mpsc::Sender<Result<ExecChunk>>, exit: ExitStatus) {
        tracing::debug!(%exit, "command ended");
        self.ctx.progress.emit(ProgressEvent::ExecFinished {
            workspace: self.ctx.id.clone(),
            program: self.program.clone(),
            exit,
            duration_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        });
        let _ = tx.send(Ok(ExecChunk::Exit(exit))).await;
    }

    fn ended_unseen(&self) -> Error {
        backend(format!(
            "the connection to workspace `{}` dropped while `{}` ran, and the command ended before it was back; its exit status and last output are lost",
            self.ctx.id, self.program
        ))
    }

    fn lost(&self, exit: ExitStatus) -> Error {
        backend(format!(
            "the connection to workspace `{}` dropped while `{}` ran and part of its output could not be recovered (the agent keeps only the last 64 KiB); it ended with {exit}",
            self.ctx.id, self.program
        ))
    }
}

/// Kill process group `pid` through a PTY of its own (when the command's PTY is gone).
pub(super) async fn kill_through_new_pty(ctx: &PtyContext, pid: &str) {
    let nonce = script::token();
    let killed = async {
        let mut channel = ctx.open(Program::Kill, &[&nonce, pid], &[&nonce]).await?;
        let (_, marker) = until_marker(&mut channel, &nonce)
            .await
            .map_err(|e| e.into_core(&ctx.id))?;
        channel.close().await;
        Ok::<_, Error>(marker.is_some_and(|m| m.kind == "exit" && m.value == "0"))
    };
    match tokio::time::timeout(KILL_WAIT, killed).await {
        Ok(Ok(true)) => tracing::debug!(pid, "killed through a second PTY"),
        Ok(Ok(false)) => tracing::warn!(
            pid,
            "the process group was already gone or could not be killed"
        ),
        Ok(Err(e)) => tracing::warn!(pid, error = %e, "could not open a PTY to kill the command"),
        Err(_) => tracing::warn!(pid, "killing the command through a second PTY timed out"),
    }
}

/// Sleep until `deadline`, or forever when there is none.
pub(super) async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
