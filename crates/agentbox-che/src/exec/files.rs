//! `write_file` and `read_file`: tar streams over exec stdin and stdout, checked against the
//! workspace root on both sides (lexically here, physically — symlinks resolved — in the pod).

use std::time::Duration;

use agentbox_core::exec::{ExitStatus, FileReader, FileSource, FileWritten};
use agentbox_core::progress::ProgressEvent;
use agentbox_core::{Error, Result};
use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use super::process::{Remote, exit_status};
use super::tarstream::{self, Entry, TarReader};
use super::{KubeExecutor, scripts};
use crate::error::BACKEND;

/// Bytes of the source sent as one tar entry (the most held in memory at once).
const CHUNK: usize = 1024 * 1024;
/// Bytes of a file script's stderr kept for error messages.
const KEEP_STDERR: usize = 16 * 1024;
/// Downloaded chunks that may wait for a slow reader.
const DOWNLOAD_CHUNKS: usize = 8;
/// Bytes passed on per downloaded chunk.
const DOWNLOAD_CHUNK: usize = 64 * 1024;

/// What went wrong while sending a file.
enum UploadError {
    /// Reading the caller's source failed.
    Source(std::io::Error),
    /// Writing to the pod failed (it may have refused the file and exited).
    Sink(std::io::Error),
}

fn file_argv(script: String, name: &str, path: &str, root: &str) -> Vec<String> {
    vec![
        "sh".to_owned(),
        "-c".to_owned(),
        script,
        name.to_owned(),
        path.to_owned(),
        root.to_owned(),
    ]
}

pub(super) async fn write(
    exec: &KubeExecutor,
    input: &str,
    absolute: String,
    mut content: FileSource,
) -> Result<FileWritten> {
    let argv = file_argv(
        scripts::write_script(),
        "agentbox-write",
        &absolute,
        &exec.root,
    );
    let Remote {
        stdin,
        stdout,
        stderr,
        status,
        link,
    } = exec
        .container
        .spawn(argv)
        .await
        .map_err(|e| exec.spawn_error(e))?;
    let io_timeout = exec.container.policy.call_timeout;
    let outputs = tokio::spawn(async move {
        let (out, err) = tokio::join!(keep(stdout, 64), keep(stderr, KEEP_STDERR));
        (out, err)
    });
    // stdin stays open until the status comes: the archive ends itself, and closing stdin
    // would close the whole connection on a server without the v5 protocol.
    let mut stdin = stdin;
    let uploaded = match stdin.as_mut() {
        Some(stdin) => upload(&mut content, stdin, io_timeout).await,
        None => Err(UploadError::Sink(std::io::ErrorKind::BrokenPipe.into())),
    };
    if let (Err(UploadError::Source(_)), Some(stdin)) = (&uploaded, stdin.as_mut()) {
        // The archive lacks its end entry: ending stdin makes the pod's tar refuse it now.
        let _ = stdin.shutdown().await;
    }
    let status = match tokio::time::timeout(io_timeout, status).await {
        Ok(status) => status,
        Err(_) => {
            link.abort();
            None
        }
    };
    let (out, err) = outputs.await.unwrap_or_default();
    drop(stdin);
    drop(link);
    let stderr = String::from_utf8_lossy(&err).trim().to_owned();
    let refused = |what: String| exec.backend_error(format!("cannot write `{absolute}`: {what}"));
    let exit = exit_status(status.as_ref()).map_err(refused)?;
    if exit == ExitStatus::Code(scripts::EXIT_ESCAPES) {
        return Err(escapes(exec, input));
    }
    let (bytes, sha256) = match uploaded {
        Ok(done) => done,
        Err(UploadError::Source(e)) => {
            return Err(Error::Backend {
                backend: BACKEND,
                message: format!(
                    "workspace `{}`: reading the content for `{absolute}` failed, so nothing was written",
                    exec.workspace
                ),
                source: Some(Box::new(e)),
            });
        }
        Err(UploadError::Sink(e)) => {
            return Err(refused(format!(
                "sending the content failed ({e}); {exit}: {stderr}"
            )));
        }
    };
    match exit {
        ExitStatus::Code(0) => {}
        ExitStatus::Unknown => {
            return Err(refused(
                "the connection was lost before the pod confirmed the write; write it again".into(),
            ));
        }
        other => return Err(refused(format!("{other}: {stderr}"))),
    }
    let confirmed: Option<u64> = String::from_utf8_lossy(&out).trim().parse().ok();
    if confirmed != Some(bytes) {
        return Err(refused(format!(
            "{bytes} bytes were sent but the pod reports {}",
            String::from_utf8_lossy(&out).trim()
        )));
    }
    exec.progress.emit(ProgressEvent::Transfer {
        workspace: exec.workspace.clone(),
        path: absolute.clone(),
        bytes,
        direction: "upload",
    });
    Ok(FileWritten {
        path: absolute,
        bytes,
        sha256,
    })
}

/// Send `content` as chunk entries and the end entry, padded to whole tar records; hash and
/// count it on the way.
async fn upload<W: AsyncWrite + Unpin>(
    content: &mut FileSource,
    stdin: &mut W,
    io_timeout: Duration,
) -> Result<(u64, String), UploadError> {
    let mut sent = 0u64;
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    let mut chunk = vec![0u8; CHUNK];
    let mut first = true;
    loop {
        let n = fill(content, &mut chunk)
            .await
            .map_err(UploadError::Source)?;
        if n == 0 && !first {
            break;
        }
        first = false;
        hasher.update(&chunk[..n]);
        total += n as u64;
        let pad = [0u8; tarstream::BLOCK];
        let size = n as u64;
        let padding = tarstream::padding(size);
        send(stdin, &tarstream::chunk_header(size), io_timeout).await?;
        send(stdin, &chunk[..n], io_timeout).await?;
        send(stdin, &pad[..padding], io_timeout).await?;
        sent += (tarstream::BLOCK + n + padding) as u64;
        if n < CHUNK {
            break;
        }
    }
    send(stdin, &tarstream::end_header(), io_timeout).await?;
    send(stdin, &tarstream::END, io_timeout).await?;
    sent += (tarstream::BLOCK + tarstream::END.len()) as u64;
    // Whole records, so a tar that reads record by record finds the end without waiting.
    let record = tarstream::RECORD as u64;
    let rest = (record - sent % record) % record;
    let zeros = vec![0u8; usize::try_from(rest).unwrap_or(0)];
    send(stdin, &zeros, io_timeout).await?;
    stdin.flush().await.map_err(UploadError::Sink)?;
    Ok((total, hex::encode(hasher.finalize())))
}

/// Fill `buf` from `reader`; fewer bytes only at the end of the source.
async fn fill(reader: &mut FileSource, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]).await? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

async fn send<W: AsyncWrite + Unpin>(
    stdin: &mut W,
    bytes: &[u8],
    io_timeout: Duration,
) -> Result<(), UploadError> {
    match tokio::time::timeout(io_timeout, stdin.write_all(bytes)).await {
        Ok(written) => written.map_err(UploadError::Sink),
        Err(_) => Err(UploadError::Sink(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("the pod took no data for {io_timeout:?}"),
        ))),
    }
}

/// Read `reader` to its end, keeping the first `limit` bytes.
async fn keep<R: AsyncRead + Unpin>(mut reader: R, limit: usize) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = vec![0u8; 8192];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                let room = limit.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
}

fn escapes(exec: &KubeExecutor, input: &str) -> Error {
    Error::PathEscapes {
        workspace: exec.workspace.clone(),
        path: input.to_owned(),
        root: exec.root.clone(),
    }
}

pub(super) async fn read(exec: &KubeExecutor, input: &str, absolute: String) -> Result<FileReader> {
    let argv = file_argv(
        scripts::read_script(),
        "agentbox-read",
        &absolute,
        &exec.root,
    );
    let mut remote = exec
        .container
        .spawn(argv)
        .await
        .map_err(|e| exec.spawn_error(e))?;
    // The script reads nothing from stdin (dropping the writer does not close it).
    remote.stdin = None;
    let (ready_tx, ready_rx) = oneshot::channel();
    let (data_tx, mut data_rx) = mpsc::channel(DOWNLOAD_CHUNKS);
    let download = Download {
        exec: exec.clone(),
        input: input.to_owned(),
        absolute: absolute.clone(),
    };
    tokio::spawn(download.run(remote, ready_tx, data_tx));
    let io_timeout = exec.container.policy.call_timeout;
    let size = match tokio::time::timeout(io_timeout, ready_rx).await {
        Ok(Ok(ready)) => ready?,
        Ok(Err(_)) => {
            return Err(exec.backend_error(format!("reading `{absolute}` stopped before it began")));
        }
        Err(_) => {
            return Err(Error::Timeout {
                backend: BACKEND,
                workspace: exec.workspace.clone(),
                what: format!("starting to read `{absolute}`"),
                after: io_timeout,
            });
        }
    };
    exec.progress.emit(ProgressEvent::Transfer {
        workspace: exec.workspace.clone(),
        path: absolute,
        bytes: size,
        direction: "download",
    });
    let chunks = futures::stream::poll_fn(move |cx| data_rx.poll_recv(cx));
    Ok(Box::new(tokio_util::io::StreamReader::new(chunks)))
}

/// One file coming out of the pod.
struct Download {
    exec: KubeExecutor,
    input: String,
    absolute: String,
}

impl Download {
    async fn run(
        self,
        remote: Remote,
        ready: oneshot::Sender<Result<u64>>,
        data: mpsc::Sender<std::io::Result<Bytes>>,
    ) {
        let Remote {
            stdout,
            stderr,
            status,
            link,
            ..
        } = remote;
        let io_timeout = self.exec.container.policy.call_timeout;
        let errors = tokio::spawn(keep(stderr, KEEP_STDERR));
        let mut tar = TarReader::new(stdout);
        let size = match tokio::time::timeout(io_timeout, tar.next_file()).await {
            Ok(Ok(Some(Entry::File(size)))) => size,
            first => {
                // No file came: the script's exit code says why.
                let status = tokio::time::timeout(io_timeout, status)
                    .await
                    .ok()
                    .flatten();
                let stderr = errors.await.unwrap_or_default();
                let error = self.failure(status.as_ref(), &stderr, &format!("{first:?}"));
                let _ = ready.send(Err(error));
                drop(link);
                return;
            }
        };
        if ready.send(Ok(size)).is_err() {
            return;
        }
        loop {
            let next = match tokio::time::timeout(io_timeout, tar.next_chunk(DOWNLOAD_CHUNK)).await
            {
                Ok(next) => next,
                Err(_) => Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("the pod sent nothing for {io_timeout:?}"),
                )),
            };
            match next {
                Ok(Some(chunk)) => {
                    if data.send(Ok(chunk)).await.is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = data.send(Err(e)).await;
                    return;
                }
            }
        }
        let _ = tokio::time::timeout(io_timeout, tar.drain()).await;
        let status = tokio::time::timeout(io_timeout, status)
            .await
            .ok()
            .flatten();
        let stderr = errors.await.unwrap_or_default();
        drop(link);
        if exit_status(status.as_ref()) != Ok(ExitStatus::Code(0)) {
            let error = self.failure(status.as_ref(), &stderr, "after the data");
            let _ = data
                .send(Err(std::io::Error::other(error.to_string())))
                .await;
        }
    }

    /// The error for a read that did not end well.
    fn failure(
        &self,
        status: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Status>,
        stderr: &[u8],
        stream: &str,
    ) -> Error {
        let stderr = String::from_utf8_lossy(stderr).trim().to_owned();
        let exit = match exit_status(status) {
            Ok(exit) => exit,
            Err(message) => {
                return self
                    .exec
                    .backend_error(format!("cannot read `{}`: {message}", self.absolute));
            }
        };
        match exit {
            ExitStatus::Code(scripts::EXIT_ESCAPES) => escapes(&self.exec, &self.input),
            ExitStatus::Code(scripts::EXIT_MISSING) => self.exec.backend_error(format!(
                "cannot read `{}`: it does not exist ({stderr})",
                self.absolute
            )),
            other => self.exec.backend_error(format!(
                "cannot read `{}`: {other} ({stderr}; tar stream: {stream})",
                self.absolute
            )),
        }
    }
}
