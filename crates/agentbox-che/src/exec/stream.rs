//! `exec_stream`: one command under the wrapper, its output streamed as it comes, its exit code
//! from the Status channel. A timeout or a dropped stream kills the remote process tree: first
//! through the wrapper's control channel (a `kill` line on stdin), then, if the command is not
//! gone within `KILL_GRACE`, from a second exec.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use agentbox_core::Result;
use agentbox_core::exec::forward::forward;
use agentbox_core::exec::{ExecChunk, ExecRequest, ExecStream, ExitStatus};
use agentbox_core::progress::ProgressEvent;
use futures::StreamExt;
use secrecy::ExposeSecret;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, SimplexStream, WriteHalf};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use super::process::{KILL_GRACE, Remote, exit_status, sleep_or_forever};
use super::{KubeExecutor, scripts};
use crate::error::BACKEND;
use crate::token::token;

/// Output chunks that may wait for a slow reader.
const CHANNEL_CHUNKS: usize = 16;

/// The wrapper's argv for `argv` run in `cwd` under `tag`; `stdin_bytes` is the length of the
/// command's stdin, or `None` when the command reads the exec's stdin itself.
pub(super) fn wrapped(
    tag: &str,
    cwd: &str,
    stdin_bytes: Option<usize>,
    argv: &[String],
) -> Vec<String> {
    let mut full = vec![
        "sh".to_owned(),
        "-c".to_owned(),
        scripts::wrapper(),
        "agentbox-exec".to_owned(),
        tag.to_owned(),
        cwd.to_owned(),
        stdin_bytes.map_or_else(|| "-".to_owned(), |n| n.to_string()),
    ];
    full.extend(argv.iter().cloned());
    full
}

/// Start `request` and return its output stream.
pub(super) async fn start(exec: &KubeExecutor, request: ExecRequest) -> Result<ExecStream> {
    let Some(program) = request.argv.first().cloned() else {
        return Err(exec.backend_error("cannot run an empty argv".into()));
    };
    let cwd = exec.resolve(request.cwd.as_deref().unwrap_or(&exec.workdir))?;
    let vars: Vec<(&str, &[u8])> = request
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_bytes()))
        .chain(
            request
                .secret_env
                .iter()
                .map(|(k, v)| (k.as_str(), v.expose_secret().as_bytes())),
        )
        .collect();
    let Some(mut input) = scripts::env_header(vars) else {
        let names: Vec<&String> = request
            .env
            .keys()
            .chain(request.secret_env.keys())
            .collect();
        return Err(exec.backend_error(format!(
            "environment variable names must match [A-Za-z_][A-Za-z0-9_]* (and not be AGENTBOX_EXEC_ID); got {names:?}"
        )));
    };
    let stdin_bytes = request.stdin.as_ref().map_or(0, |b| b.len());
    if let Some(stdin) = &request.stdin {
        input.extend_from_slice(stdin);
    }
    let tag = token("command tag").map_err(|e| e.into_core(&exec.workspace))?;
    let remote = exec
        .container
        .spawn(wrapped(&tag, &cwd, Some(stdin_bytes), &request.argv))
        .await
        .map_err(|e| exec.spawn_error(e))?;
    let span = tracing::info_span!("exec", backend = BACKEND, workspace = %exec.workspace, program = %program);
    span.in_scope(|| tracing::debug!(pod = %exec.container.pod, "command started"));
    exec.progress.emit(ProgressEvent::ExecStarted {
        workspace: exec.workspace.clone(),
        program: program.clone(),
    });
    let (tx, mut rx) = mpsc::channel(CHANNEL_CHUNKS);
    let run = Run {
        exec: exec.clone(),
        tag,
        program,
        started: Instant::now(),
    };
    tokio::spawn(
        run.drive(remote, input, request.timeout, tx)
            .instrument(span),
    );
    Ok(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed())
}

/// One running command.
struct Run {
    exec: KubeExecutor,
    tag: String,
    program: String,
    started: Instant,
}

/// Why the driver stopped waiting for the command.
enum End {
    Status(Option<Box<k8s_openapi::apimachinery::pkg::apis::meta::v1::Status>>),
    TimedOut,
    Dropped,
}

/// Feed the header and the command's stdin, then keep the exec's stdin open as the control
/// channel: a kill request writes `<tag> kill <pid>`; dropping the sender closes stdin, which
/// also ends whatever the command left behind.
async fn control(
    mut stdin: WriteHalf<SimplexStream>,
    input: Vec<u8>,
    tag: String,
    kill: oneshot::Receiver<Option<u32>>,
) {
    // A command that exits without reading its stdin closes it: not an error.
    if stdin.write_all(&input).await.is_ok()
        && let Ok(pid) = kill.await
    {
        let pid = pid.map(|p| p.to_string()).unwrap_or_default();
        let line = format!("\n{tag} kill {pid}\n");
        let _ = stdin.write_all(line.as_bytes()).await;
        let _ = stdin.flush().await;
    }
    let _ = stdin.shutdown().await;
}

impl Run {
    async fn drive(
        self,
        remote: Remote,
        input: Vec<u8>,
        timeout: Option<Duration>,
        tx: mpsc::Sender<Result<ExecChunk>>,
    ) {
        let Remote {
            stdin,
            stdout,
            stderr,
            mut status,
            link,
        } = remote;
        let (kill_tx, kill_rx) = oneshot::channel();
        if let Some(stdin) = stdin {
            tokio::spawn(control(stdin, input, self.tag.clone(), kill_rx));
        }
        let pid = Arc::new(OnceLock::new());
        let out = tokio::spawn(forward(stdout, tx.clone(), ExecChunk::Stdout));
        let err = tokio::spawn(forward_announced(
            stderr,
            tx.clone(),
            self.tag.clone(),
            Arc::clone(&pid),
        ));
        let end = tokio::select! {
            s = &mut status => End::Status(s.map(Box::new)),
            () = sleep_or_forever(timeout) => End::TimedOut,
            () = tx.closed() => End::Dropped,
        };
        let exit = match end {
            End::Status(status) => {
                // The command ended: closing stdin ends what it left running in the background.
                drop(kill_tx);
                match exit_status(status.as_deref()) {
                    Ok(exit) => exit,
                    Err(message) => {
                        let error = self.exec.container.exec_error(&message, None);
                        let _ = tx.send(Err(error.into_core(&self.exec.workspace))).await;
                        return;
                    }
                }
            }
            End::TimedOut | End::Dropped => {
                let announced = pid.get().copied();
                let _ = kill_tx.send(announced);
                if tokio::time::timeout(KILL_GRACE, &mut status).await.is_err() {
                    self.kill(announced).await;
                    let grace = self.exec.container.policy.call_timeout;
                    if tokio::time::timeout(grace, &mut status).await.is_err() {
                        tracing::warn!("the killed command's stream did not end; closing it");
                        link.abort();
                    }
                }
                if matches!(end, End::Dropped) {
                    return;
                }
                ExitStatus::TimedOut
            }
        };
        // Everything the command wrote comes before its exit.
        let _ = out.await;
        let _ = err.await;
        drop(link);
        tracing::debug!(%exit, "command ended");
        self.exec.progress.emit(ProgressEvent::ExecFinished {
            workspace: self.exec.workspace.clone(),
            program: self.program.clone(),
            exit,
            duration_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        });
        let _ = tx.send(Ok(ExecChunk::Exit(exit))).await;
    }

    async fn kill(&self, pid: Option<u32>) {
        if let Err(e) = self.exec.container.kill(&self.tag, pid).await {
            tracing::warn!(error = %e, "could not kill the command");
            self.exec.progress.emit(ProgressEvent::Warning {
                backend: BACKEND,
                workspace: Some(self.exec.workspace.clone()),
                message: format!("`{}` may still be running: {e}", self.program),
            });
        }
    }
}

/// Like [`forward`] for stderr, first taking the wrapper's `<tag> <pid>` line off the front.
async fn forward_announced<R>(
    mut reader: R,
    tx: mpsc::Sender<Result<ExecChunk>>,
    tag: String,
    pid: Arc<OnceLock<u32>>,
) where
    R: AsyncRead + Unpin,
{
    let mut head = Vec::new();
    let rest = match read_announcement(&mut reader, &tag, &mut head).await {
        Ok(Some((announced, rest))) => {
            let _ = pid.set(announced);
            rest
        }
        Ok(None) => std::mem::take(&mut head),
        Err(e) => {
            tracing::warn!(error = %e, "reading a command's stderr failed");
            return;
        }
    };
    if !rest.is_empty() && tx.send(Ok(ExecChunk::Stderr(rest.into()))).await.is_err() {
        return;
    }
    forward(reader, tx, ExecChunk::Stderr).await;
}

/// Read up to the first newline into `head`; when that line is `<tag> <pid>`, the pid and the
/// bytes after the line.
pub(super) async fn read_announcement<R: AsyncRead + Unpin>(
    reader: &mut R,
    tag: &str,
    head: &mut Vec<u8>,
) -> std::io::Result<Option<(u32, Vec<u8>)>> {
    let limit = tag.len() + 24;
    let mut buf = [0u8; 256];
    loop {
        if let Some(newline) = head.iter().position(|b| *b == b'\n') {
            let line = String::from_utf8_lossy(&head[..newline]).into_owned();
            let parsed = line
                .strip_prefix(tag)
                .and_then(|rest| rest.strip_prefix(' '))
                .and_then(|pid| pid.trim().parse().ok());
            return Ok(parsed.map(|pid| (pid, head[newline + 1..].to_vec())));
        }
        if head.len() > limit {
            return Ok(None);
        }
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        head.extend_from_slice(&buf[..n]);
    }
}
