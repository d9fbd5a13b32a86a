//! Files through the PTY: written as base64 chunks to a decoder in the workspace (each
//! acknowledged, so any size streams with bounded memory), checked by size and SHA-256 before
//! they are renamed into place; read back as base64, decoded as it arrives. Paths are checked
//! lexically here and, against symlinks, by the program in the workspace.

use agentbox_core::exec::{FileReader, FileSource, FileWritten};
use agentbox_core::progress::ProgressEvent;
use agentbox_core::{Error, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::{Bytes, BytesMut};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tokio_util::io::StreamReader;

use super::channel::PtyChannel;
use super::frame::Piece;
use super::script::{self, Program};
use super::{PtyContext, until_marker};
use crate::error::{BACKEND, CoderError, backend};

/// Raw bytes per acknowledged chunk.
const CHUNK: usize = 1024 * 1024;
/// Decoded chunks that may wait for a slow reader.
const READ_CHUNKS: usize = 32;

/// The error a file program's `error` marker stands for.
fn file_error(ctx: &PtyContext, input: &str, absolute: &str, action: &str, reason: &str) -> Error {
    match reason {
        "escapes" => Error::PathEscapes {
            workspace: ctx.id.clone(),
            path: input.to_owned(),
            root: ctx.root.clone(),
        },
        "missing" => backend(format!(
            "cannot {action} `{absolute}` in workspace `{}`: it does not exist",
            ctx.id
        )),
        "notfile" | "isdir" => backend(format!(
            "cannot {action} `{absolute}` in workspace `{}`: it is not a regular file",
            ctx.id
        )),
        "mismatch" => backend(format!(
            "writing `{absolute}` in workspace `{}` failed: the bytes that arrived differ from those sent (size or SHA-256); nothing was replaced, try again",
            ctx.id
        )),
        other => backend(format!(
            "cannot {action} `{absolute}` in workspace `{}`: the workspace reported `{other}` (permissions, a full disk, or a tool missing: base64, sha256sum, readlink, mktemp)",
            ctx.id
        )),
    }
}

/// Wait for a marker of the file program; `error` markers become errors.
async fn expect(
    ctx: &PtyContext,
    channel: &mut PtyChannel,
    nonce: &str,
    kind: &str,
    (input, absolute, action): (&str, &str, &str),
) -> Result<String> {
    let (noise, marker) = until_marker(channel, nonce)
        .await
        .map_err(|e| e.into_core(&ctx.id))?;
    match marker {
        Some(m) if m.kind == kind => Ok(m.value),
        Some(m) if m.kind == "error" => Err(file_error(ctx, input, absolute, action, &m.value)),
        Some(m) => Err(
            CoderError::Protocol(format!("expected `{kind}`, got `{}`", m.kind)).into_core(&ctx.id),
        ),
        None => Err(ctx
            .ended_early(channel, &format!("{action} finished"), &noise)
            .await),
    }
}

/// Stream `content` into `path`.
pub(super) async fn write_file(
    ctx: &PtyContext,
    path: &str,
    mut content: FileSource,
) -> Result<FileWritten> {
    let absolute = ctx.resolve(path)?;
    let what = (path, absolute.as_str(), "write");
    let nonce = script::token();
    let mut channel = ctx
        .open(Program::Write, &[&nonce, &ctx.root, &absolute], &[&nonce])
        .await?;
    expect(ctx, &mut channel, &nonce, "ready", what).await?;
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = fill(&mut content, &mut buf)
            .await
            .map_err(|e| Error::Backend {
                backend: BACKEND,
                message: format!(
                    "reading the content for `{absolute}` in workspace `{}` failed",
                    ctx.id
                ),
                source: Some(Box::new(e)),
            })?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
        let lines = script::b64_lines(&buf[..n]);
        channel
            .send(&format!("d {}\n{lines}", lines.len()))
            .await
            .map_err(|e| e.into_core(&ctx.id))?;
        expect(ctx, &mut channel, &nonce, "ack", what).await?;
    }
    let sha256 = hex::encode(hasher.finalize());
    channel
        .send(&format!("e {total} {sha256}\n"))
        .await
        .map_err(|e| e.into_core(&ctx.id))?;
    let size = expect(ctx, &mut channel, &nonce, "size", what).await?;
    let sha = expect(ctx, &mut channel, &nonce, "sha", what).await?;
    expect(ctx, &mut channel, &nonce, "exit", what).await?;
    channel.close().await;
    if size != total.to_string() || sha != sha256 {
        return Err(file_error(ctx, path, &absolute, "write", "mismatch"));
    }
    ctx.progress.emit(ProgressEvent::Transfer {
        workspace: ctx.id.clone(),
        path: absolute.clone(),
        bytes: total,
        direction: "upload",
    });
    Ok(FileWritten {
        path: absolute,
        bytes: total,
        sha256,
    })
}

/// Read until `buf` is full or the source ends.
async fn fill(content: &mut FileSource, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match content.read(&mut buf[n..]).await? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Stream the file at `path` out of the workspace.
pub(super) async fn read_file(ctx: &PtyContext, path: &str) -> Result<FileReader> {
    let absolute = ctx.resolve(path)?;
    let what = (path, absolute.as_str(), "read");
    let nonce = script::token();
    let mut channel = ctx
        .open(Program::Read, &[&nonce, &ctx.root, &absolute], &[&nonce])
        .await?;
    let size: u64 = expect(ctx, &mut channel, &nonce, "size", what)
        .await?
        .parse()
        .map_err(|_| {
            CoderError::Protocol("the file size is not a number".into()).into_core(&ctx.id)
        })?;
    ctx.progress.emit(ProgressEvent::Transfer {
        workspace: ctx.id.clone(),
        path: absolute.clone(),
        bytes: size,
        direction: "download",
    });
    let (tx, rx) = mpsc::channel(READ_CHUNKS);
    tokio::spawn(async move {
        let failure = match download(&mut channel, &nonce, size, &tx).await {
            Ok(()) => {
                channel.close().await;
                return;
            }
            Err(failure) => failure,
        };
        channel.close().await;
        let _ = tx
            .send(Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                failure,
            )))
            .await;
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok(Box::new(StreamReader::new(Box::pin(stream))))
}

/// Ask for the file chunk by chunk, decode each into `tx`; the total must be `size`. `Ok`
/// also when the reader went away.
async fn download(
    channel: &mut PtyChannel,
    nonce: &str,
    size: u64,
    tx: &mpsc::Sender<std::io::Result<Bytes>>,
) -> std::result::Result<(), String> {
    let mut decoded = 0u64;
    let mut block = 0u64;
    while decoded < size {
        channel
            .send(&format!("r {block}\n"))
            .await
            .map_err(|e| e.to_string())?;
        let mut pending = BytesMut::new();
        loop {
            match channel.next().await.map_err(|e| e.to_string())? {
                Some(Piece::Output(bytes)) => {
                    pending.extend(bytes.iter().copied().filter(is_base64));
                    let whole = pending.len() / 4 * 4;
                    if whole == 0 {
                        continue;
                    }
                    let data = STANDARD
                        .decode(pending.split_to(whole))
                        .map_err(|e| format!("the file's base64 is damaged: {e}"))?;
                    decoded += data.len() as u64;
                    if tx.send(Ok(Bytes::from(data))).await.is_err() {
                        return Ok(());
                    }
                }
                Some(Piece::Marker(m)) if m.token == nonce && m.kind == "chunk" => {
                    if !pending.is_empty() {
                        return Err(format!(
                            "{} base64 characters were left over",
                            pending.len()
                        ));
                    }
                    break;
                }
                Some(Piece::Marker(m)) if m.token == nonce && m.kind == "error" => {
                    return Err(format!(
                        "the workspace reported `{}` while sending it",
                        m.value
                    ));
                }
                Some(Piece::Marker(_)) => {}
                None => {
                    return Err(format!(
                        "the PTY closed after {decoded} of {size} bytes ({})",
                        match channel.close_reason() {
                            "" => "no reason given",
                            reason => reason,
                        }
                    ));
                }
            }
        }
        let expected = (block + script::READ_BLOCKS) * script::READ_BLOCK;
        if decoded != expected.min(size) {
            return Err(format!(
                "{decoded} bytes arrived of {size}; the file changed while it was read"
            ));
        }
        block += script::READ_BLOCKS;
    }
    channel.send("e\n").await.map_err(|e| e.to_string())?;
    match until_marker(channel, nonce)
        .await
        .map_err(|e| e.to_string())?
    {
        (_, Some(m)) if m.kind == "exit" => Ok(()),
        (_, m) => Err(format!("the file program ended with {m:?}")),
    }
}

/// A character of base64 text (line breaks and terminal noise are dropped).
fn is_base64(b: &u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')
}
