//! [`LocalExecutor`]: commands (in bubblewrap, or unisolated) and files of one workspace.

use std::sync::Arc;
use std::time::{Duration, Instant};

use agentbox_core::exec::forward::{READ_CHUNK, forward};
use agentbox_core::exec::{
    ExecChunk, ExecRequest, ExecStream, ExitStatus, FileReader, FileSource, FileWritten,
    OutputStreams, Session,
};
use agentbox_core::progress::ProgressEvent;
use agentbox_core::{Error, Executor, Result};
use async_trait::async_trait;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tracing::Instrument;

use crate::context::ExecContext;
use crate::error::{BACKEND, backend};
use crate::files::FileError;
use crate::process::{exit_status, supervise};
use crate::session::LocalSession;

/// How many output chunks may wait for a slow reader before the command is held back.
const CHANNEL_CHUNKS: usize = 16;

/// Commands and files of one local workspace. Obtained from
/// [`crate::LocalProvider`]'s `executor`; it refuses work once the workspace is stopped or
/// deleted (get a new one after restarting it).
#[derive(Debug, Clone)]
pub struct LocalExecutor {
    ctx: Arc<ExecContext>,
}

/// Why a command was killed.
enum KillReason {
    TimedOut,
    Stopped,
    Dropped,
}

impl LocalExecutor {
    pub(crate) fn new(ctx: ExecContext) -> Self {
        Self { ctx: Arc::new(ctx) }
    }

    /// Whether commands run in a bubblewrap sandbox.
    pub fn is_sandboxed(&self) -> bool {
        self.ctx.sandboxed()
    }

    /// A command that runs `request.argv` in this workspace exactly as
    /// [`Executor::exec_stream`] would (same sandbox, environment, working directory and memory
    /// limit), for callers that drive the process themselves, e.g. a fake kubelet that pipes a
    /// WebSocket into it or a fake agent that gives it a pseudo-terminal.
    ///
    /// The request's `stdin`, `timeout` and `output_limit` are not used. The standard streams
    /// are `/dev/null` until the caller sets them. The command leads a new process group and
    /// is killed when its `Child` is dropped, but it is **not** tracked by the workspace:
    /// stopping the workspace does not kill it, so the caller must (kill the process group,
    /// then wait). Spawn it on a runtime thread, not a blocking-pool thread: bubblewrap's
    /// `--die-with-parent` ties the sandbox to the thread that started it.
    ///
    /// Fails, as `exec_stream` does, when the workspace is not running, the argv is empty or
    /// the working directory is outside the workspace or missing.
    pub fn command(&self, request: &ExecRequest) -> Result<tokio::process::Command> {
        let launch = self.ctx.launch(
            &request.argv,
            request.cwd.as_deref(),
            &request.env,
            &request.secret_env,
            false,
        )?;
        Ok(launch.into_command())
    }

    fn file_error(&self, error: FileError, input: &str, absolute: &str, action: &str) -> Error {
        match error {
            FileError::Escapes => self.ctx.escapes(input),
            FileError::NotAFile => backend(format!(
                "cannot {action} `{absolute}` in workspace `{}`: it (or a parent) is not a regular file or directory as needed",
                self.ctx.workspace
            )),
            FileError::Io(source) => Error::Backend {
                backend: BACKEND,
                message: format!(
                    "cannot {action} `{absolute}` in workspace `{}`: {source}",
                    self.ctx.workspace
                ),
                source: Some(Box::new(source)),
            },
        }
    }

    fn transfer_failed(&self, absolute: &str, source: std::io::Error) -> Error {
        Error::Backend {
            backend: BACKEND,
            message: format!(
                "writing `{absolute}` in workspace `{}` failed: {source}",
                self.ctx.workspace
            ),
            source: Some(Box::new(source)),
        }
    }
}

/// A blocking task that panicked or was cancelled.
fn join_error(workspace: &str, e: tokio::task::JoinError) -> Error {
    Error::Backend {
        backend: BACKEND,
        message: format!("a file operation in workspace `{workspace}` was interrupted"),
        source: Some(Box::new(e)),
    }
}

#[async_trait]
impl Executor for LocalExecutor {
    fn workspace(&self) -> &str {
        &self.ctx.workspace
    }

    fn output_streams(&self) -> OutputStreams {
        OutputStreams::Separate
    }

    async fn exec_stream(&self, request: ExecRequest) -> Result<ExecStream> {
        let ctx = Arc::clone(&self.ctx);
        let launch = ctx.launch(
            &request.argv,
            request.cwd.as_deref(),
            &request.env,
            &request.secret_env,
            request.stdin.is_some(),
        )?;
        let program = request.argv.first().cloned().unwrap_or_default();
        let span = tracing::info_span!("exec", backend = BACKEND, workspace = %ctx.workspace, program = %program);
        let mut child = launch.spawn().map_err(|e| e.into_core(&ctx.workspace))?;
        span.in_scope(|| tracing::debug!(sandboxed = ctx.sandboxed(), "command started"));
        ctx.progress.emit(ProgressEvent::ExecStarted {
            workspace: ctx.workspace.clone(),
            program: program.clone(),
        });

        if let (Some(mut pipe), Some(bytes)) = (child.stdin.take(), request.stdin) {
            tokio::spawn(async move {
                // A command that exits without reading its stdin closes the pipe: not an error.
                let _ = pipe.write_all(&bytes).await;
            });
        }
        let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
        let stdout = child
            .stdout
            .take()
            .map(|out| tokio::spawn(forward(out, tx.clone(), ExecChunk::Stdout)));
        let stderr = child
            .stderr
            .take()
            .map(|err| tokio::spawn(forward(err, tx.clone(), ExecChunk::Stderr)));
        let timeout = request.timeout;
        let started = Instant::now();
        let driver = async move {
            let stop = async {
                tokio::select! {
                    () = sleep_or_forever(timeout) => KillReason::TimedOut,
                    () = ctx.epoch.token.cancelled() => KillReason::Stopped,
                    () = tx.closed() => KillReason::Dropped,
                }
            };
            let ended = ctx.epoch.tasks.track_future(supervise(child, stop)).await;
            // The tree is dead; the pipes give what was left in them, then end.
            for reader in [stdout, stderr].into_iter().flatten() {
                let _ = reader.await;
            }
            let exit = match ended {
                Ok(ended) => match ended.killed {
                    Some(KillReason::TimedOut) => ExitStatus::TimedOut,
                    Some(KillReason::Dropped) => return,
                    Some(KillReason::Stopped) | None => exit_status(ended.status, ctx.sandboxed()),
                },
                Err(e) => {
                    let error = Error::Backend {
                        backend: BACKEND,
                        message: format!(
                            "lost track of `{program}` in workspace `{}`",
                            ctx.workspace
                        ),
                        source: Some(Box::new(e)),
                    };
                    let _ = tx.send(Err(error)).await;
                    return;
                }
            };
            tracing::debug!(%exit, "command ended");
            ctx.progress.emit(ProgressEvent::ExecFinished {
                workspace: ctx.workspace.clone(),
                program,
                exit,
                duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            });
            let _ = tx.send(Ok(ExecChunk::Exit(exit))).await;
        };
        tokio::spawn(driver.instrument(span));
        let mut rx = rx;
        Ok(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed())
    }

    async fn write_file(&self, path: &str, mut content: FileSource) -> Result<FileWritten> {
        self.ctx.ensure_live("write files")?;
        let (absolute, rel) = self.ctx.resolve(path)?;
        let files = self.ctx.files.clone();
        let mut pending = tokio::task::spawn_blocking(move || files.create_temp(&rel))
            .await
            .map_err(|e| join_error(&self.ctx.workspace, e))?
            .map_err(|e| self.file_error(e, path, &absolute, "write"))?;
        let Some(file) = pending.take_file() else {
            return Err(backend(format!(
                "internal: no file to write `{absolute}` to"
            )));
        };
        let mut file = tokio::fs::File::from_std(file);
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; READ_CHUNK];
        let mut bytes = 0u64;
        let copied: std::io::Result<()> = async {
            loop {
                let n = content.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                file.write_all(&buf[..n]).await?;
                bytes += n as u64;
            }
            file.flush().await?;
            file.sync_all().await
        }
        .await;
        drop(file);
        let committed = match copied {
            Ok(()) => tokio::task::spawn_blocking(move || pending.commit())
                .await
                .map_err(|e| join_error(&self.ctx.workspace, e))?
                .map_err(|e| self.file_error(e, path, &absolute, "write")),
            Err(e) => {
                pending.discard();
                Err(self.transfer_failed(&absolute, e))
            }
        };
        committed?;
        self.ctx.progress.emit(ProgressEvent::Transfer {
            workspace: self.ctx.workspace.clone(),
            path: absolute.clone(),
            bytes,
            direction: "upload",
        });
        Ok(FileWritten {
            path: absolute,
            bytes,
            sha256: hex::encode(hasher.finalize()),
        })
    }

    async fn read_file(&self, path: &str) -> Result<FileReader> {
        self.ctx.ensure_live("read files")?;
        let (absolute, rel) = self.ctx.resolve(path)?;
        let files = self.ctx.files.clone();
        let (file, size) = tokio::task::spawn_blocking(move || files.open_read(&rel))
            .await
            .map_err(|e| join_error(&self.ctx.workspace, e))?
            .map_err(|e| self.file_error(e, path, &absolute, "read"))?;
        self.ctx.progress.emit(ProgressEvent::Transfer {
            workspace: self.ctx.workspace.clone(),
            path: absolute,
            bytes: size,
            direction: "download",
        });
        Ok(Box::new(tokio::fs::File::from_std(file)))
    }

    async fn session(&self) -> Result<Box<dyn Session>> {
        Ok(Box::new(LocalSession::start(Arc::clone(&self.ctx))?))
    }
}

/// Sleep for `duration`, or forever when there is none.
async fn sleep_or_forever(duration: Option<Duration>) {
    match duration {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}
