//! Conveniences for every [`Executor`].

use async_trait::async_trait;
use tokio::io::AsyncReadExt;

use super::{ExecOutput, ExecRequest, Executor, FileWritten};
use crate::{Error, Result};

/// Conveniences for every [`Executor`].
#[async_trait]
pub trait ExecutorExt: Executor {
    /// Run a command and fail unless it exits 0; the error carries its stderr's tail.
    async fn exec_ok(&self, request: ExecRequest) -> Result<ExecOutput> {
        let argv0 = request.argv.first().cloned().unwrap_or_default();
        let out = self.exec(request).await?;
        if out.exit.success() {
            Ok(out)
        } else {
            let err = out.stderr_text();
            let tail: String = err
                .chars()
                .rev()
                .take(2000)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            Err(Error::Backend {
                backend: "exec",
                message: format!(
                    "`{argv0}` in workspace `{}` ended with {}: {}",
                    self.workspace(),
                    out.exit,
                    tail.trim()
                ),
                source: None,
            })
        }
    }

    /// Write bytes to a file.
    async fn write_bytes(&self, path: &str, content: Vec<u8>) -> Result<FileWritten> {
        self.write_file(path, Box::new(std::io::Cursor::new(content)))
            .await
    }

    /// Read a whole file into memory.
    async fn read_bytes(&self, path: &str) -> Result<Vec<u8>> {
        let mut reader = self.read_file(path).await?;
        let mut buf = Vec::new();
        reader
            .read_to_end(&mut buf)
            .await
            .map_err(|e| Error::Backend {
                backend: "exec",
                message: format!(
                    "reading `{path}` from workspace `{}` failed",
                    self.workspace()
                ),
                source: Some(Box::new(e)),
            })?;
        Ok(buf)
    }
}

impl<E: Executor + ?Sized> ExecutorExt for E {}
