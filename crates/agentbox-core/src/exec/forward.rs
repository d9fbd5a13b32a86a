//! Moving a command's output from a pipe into an [`ExecStream`](super::ExecStream)'s channel.

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;

use super::ExecChunk;
use crate::Result;

/// Bytes read from a pipe at a time.
pub const READ_CHUNK: usize = 64 * 1024;

/// Send everything `reader` yields to `tx`, each piece wrapped by `wrap` (e.g.
/// [`ExecChunk::Stdout`]), until the reader ends, fails (logged) or the receiver is gone.
/// The channel's bound holds the command back when its reader is slow.
pub async fn forward<R>(
    mut reader: R,
    tx: mpsc::Sender<Result<ExecChunk>>,
    wrap: fn(Bytes) -> ExecChunk,
) where
    R: AsyncRead + Unpin,
{
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    loop {
        buf.reserve(READ_CHUNK);
        match reader.read_buf(&mut buf).await {
            Ok(0) => return,
            Ok(_) => {
                if tx.send(Ok(wrap(buf.split().freeze()))).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading a command's output failed");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn everything_arrives_in_order_and_the_end_closes_the_channel() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let (tx, mut rx) = mpsc::channel(2);
        let task = tokio::spawn(forward(
            std::io::Cursor::new(data.clone()),
            tx,
            ExecChunk::Stderr,
        ));
        let mut got = Vec::new();
        while let Some(chunk) = rx.recv().await {
            match chunk.unwrap() {
                ExecChunk::Stderr(b) => got.extend_from_slice(&b),
                other => panic!("unexpected {other:?}"),
            }
        }
        task.await.unwrap();
        assert_eq!(got, data);
    }
}
