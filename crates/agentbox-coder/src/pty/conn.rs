//! [`PtySocket`]: one WebSocket to an agent's reconnecting PTY. The client sends binary JSON
//! `{"data": …}` messages; the server sends the terminal's raw output in binary messages and
//! closes the socket when the command exits.

use bytes::Bytes;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use crate::client::{CoderClient, CoderSocket};
use crate::error::CoderError;
use crate::models::PtyInput;

/// Input bytes per WebSocket message.
const INPUT_CHUNK: usize = 48 * 1024;

/// Where PTYs are opened: an agent of a workspace, and the terminal size asked for.
#[derive(Debug, Clone)]
pub(crate) struct PtyTarget {
    pub client: CoderClient,
    pub agent: Uuid,
    pub width: u16,
    pub height: u16,
}

/// How a read from the socket ended.
#[derive(Debug)]
pub(crate) enum Received {
    /// Output bytes.
    Output(Bytes),
    /// The server closed the socket properly (the command exited), with its close reason.
    Closed(String),
    /// The connection broke without a close handshake.
    Dropped(String),
}

/// One open PTY WebSocket.
pub(crate) struct PtySocket {
    sink: SplitSink<CoderSocket, Message>,
    stream: SplitStream<CoderSocket>,
}

impl std::fmt::Debug for PtySocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PtySocket")
    }
}

impl PtySocket {
    /// Open (or, with a known `reconnect` id, re-attach to) a PTY running `command`. The
    /// `buffered` backend is asked for: it passes output through unchanged, where `screen`
    /// would redraw it.
    pub async fn open(
        target: &PtyTarget,
        reconnect: Uuid,
        command: &str,
    ) -> Result<Self, CoderError> {
        let agent = target.agent.to_string();
        let reconnect = reconnect.to_string();
        let width = target.width.to_string();
        let height = target.height.to_string();
        let socket = target
            .client
            .websocket(
                &["workspaceagents", &agent, "pty"],
                &[
                    ("reconnect", &reconnect),
                    ("width", &width),
                    ("height", &height),
                    ("backend_type", "buffered"),
                    ("command", command),
                ],
            )
            .await?;
        let (sink, stream) = socket.split();
        Ok(Self { sink, stream })
    }

    /// Type `text` into the terminal.
    pub async fn send(&mut self, text: &str) -> Result<(), CoderError> {
        let mut rest = text;
        while !rest.is_empty() {
            let mut cut = rest.len().min(INPUT_CHUNK);
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            let (chunk, tail) = rest.split_at(cut);
            let body = serde_json::to_vec(&PtyInput {
                data: chunk,
                height: 0,
                width: 0,
            })
            .map_err(|source| CoderError::Decode {
                what: "PTY input".into(),
                source,
            })?;
            self.sink
                .feed(Message::Binary(body.into()))
                .await
                .map_err(|source| CoderError::WebSocket {
                    what: "pty",
                    source,
                })?;
            rest = tail;
        }
        self.sink
            .flush()
            .await
            .map_err(|source| CoderError::WebSocket {
                what: "pty",
                source,
            })
    }

    /// The next output, or how the socket ended.
    pub async fn recv(&mut self) -> Received {
        loop {
            match self.stream.next().await {
                Some(Ok(Message::Binary(bytes))) => return Received::Output(bytes),
                Some(Ok(Message::Text(text))) => {
                    return Received::Output(Bytes::copy_from_slice(text.as_bytes()));
                }
                Some(Ok(Message::Close(frame))) => {
                    return Received::Closed(
                        frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                    );
                }
                None => return Received::Closed(String::new()),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Received::Dropped(e.to_string()),
            }
        }
    }

    /// Close the socket (best effort).
    pub async fn close(mut self) {
        let _ = self.sink.close().await;
    }
}
