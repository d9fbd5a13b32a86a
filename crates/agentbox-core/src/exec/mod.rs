//! [`Executor`]: commands and files inside one workspace.
//!
//! Commands are argv vectors, never shell strings built from untrusted text. Files move as byte
//! streams, never through argv. Every path is checked against the workspace root
//! ([`path::resolve`]) before it is used.

mod ext;
pub mod forward;
pub mod marker;
pub mod path;
mod request;
mod session;

pub use ext::ExecutorExt;
pub use request::{
    DEFAULT_OUTPUT_LIMIT, ExecChunk, ExecOutput, ExecRequest, ExitStatus, OutputStreams,
};
pub use session::{Session, SessionCommand, quote};

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Instant;
use tokio::io::AsyncRead;

use crate::Result;

/// Output of a streaming command: chunks as they come, ending with [`ExecChunk::Exit`].
/// Dropping the stream before the end kills the command.
pub type ExecStream = BoxStream<'static, Result<ExecChunk>>;

/// Bytes to write into the workspace.
pub type FileSource = Box<dyn AsyncRead + Send + Unpin>;

/// Bytes read from the workspace.
pub type FileReader = Box<dyn AsyncRead + Send + Unpin>;

/// A file written by [`Executor::write_file`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileWritten {
    /// Absolute path inside the workspace.
    pub path: String,
    /// Bytes written.
    pub bytes: u64,
    /// SHA-256 of the content, hex.
    pub sha256: String,
}

/// Commands and files inside one workspace.
#[async_trait]
pub trait Executor: Send + Sync + fmt::Debug {
    /// The workspace this executor runs in.
    fn workspace(&self) -> &str;

    /// Whether stdout and stderr arrive separately.
    fn output_streams(&self) -> OutputStreams;

    /// Run a command, streaming its output. The stream ends with [`ExecChunk::Exit`]; when the
    /// request's timeout passes, the command's whole process tree is killed and the exit is
    /// [`ExitStatus::TimedOut`].
    async fn exec_stream(&self, request: ExecRequest) -> Result<ExecStream>;

    /// Run a command to completion, keeping at most `request.output_limit` bytes of each stream.
    async fn exec(&self, request: ExecRequest) -> Result<ExecOutput> {
        collect(
            self.output_streams(),
            request.output_limit,
            self.exec_stream(request).await?,
        )
        .await
    }

    /// Write `content` to `path` (relative paths are taken from the workdir), creating parent
    /// directories; refuses paths outside the workspace.
    async fn write_file(&self, path: &str, content: FileSource) -> Result<FileWritten>;

    /// Read the file at `path` as a stream; refuses paths outside the workspace.
    async fn read_file(&self, path: &str) -> Result<FileReader>;

    /// Open a persistent shell session.
    async fn session(&self) -> Result<Box<dyn Session>>;
}

/// Collect an [`ExecStream`] into an [`ExecOutput`], keeping at most `limit` bytes per stream.
pub async fn collect(
    streams: OutputStreams,
    limit: usize,
    mut stream: ExecStream,
) -> Result<ExecOutput> {
    let started = Instant::now();
    let mut out = ExecOutput::empty(streams);
    while let Some(chunk) = stream.next().await {
        match chunk? {
            ExecChunk::Stdout(b) => out.push_stdout(&b, limit),
            ExecChunk::Stderr(b) => out.push_stderr(&b, limit),
            ExecChunk::Exit(status) => {
                out.exit = status;
                break;
            }
        }
    }
    out.duration = started.elapsed();
    Ok(out)
}
