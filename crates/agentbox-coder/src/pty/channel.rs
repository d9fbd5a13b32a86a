//! [`PtyChannel`]: a reconnecting PTY as a stream of [`Piece`]s.
//!
//! When the socket drops without a close handshake (a proxy restart, a network blip), the
//! channel reconnects with the same `reconnect` id, which re-attaches to the running command,
//! and [`Replay`] skips the replayed output that was already delivered.

use std::collections::VecDeque;
use std::time::Duration;

use uuid::Uuid;

use super::conn::{PtySocket, PtyTarget, Received};
use super::frame::{Framer, Piece};
use super::replay::Replay;
use crate::error::CoderError;

/// Reconnection attempts after a drop, and the pause before the first (tripled each time).
const RECONNECTS: u32 = 4;
const FIRST_PAUSE: Duration = Duration::from_millis(100);

/// A PTY's output as pieces, reconnecting on drops.
#[derive(Debug)]
pub(crate) struct PtyChannel {
    target: PtyTarget,
    reconnect: Uuid,
    command: String,
    socket: Option<PtySocket>,
    framer: Framer,
    replay: Replay,
    queue: VecDeque<Piece>,
    ended: bool,
    close_reason: String,
    /// Whether a drop is answered by reconnecting (else it is an error).
    reconnects: bool,
}

impl PtyChannel {
    /// Open a PTY running `command`, recognising markers with `tokens`; with `reconnects`, a
    /// dropped connection is re-attached (the program must tell a run started again by the
    /// reconnect — its command had ended — from a replay).
    pub async fn open(
        target: PtyTarget,
        command: String,
        tokens: &[&str],
        reconnects: bool,
    ) -> Result<Self, CoderError> {
        let reconnect = Uuid::new_v4();
        let socket = PtySocket::open(&target, reconnect, &command).await?;
        Ok(Self {
            target,
            reconnect,
            command,
            socket: Some(socket),
            framer: Framer::new(tokens.iter().copied()),
            replay: Replay::default(),
            queue: VecDeque::new(),
            ended: false,
            close_reason: String::new(),
            reconnects,
        })
    }

    /// Recognise markers with `token` too.
    pub fn add_token(&mut self, token: &str) {
        self.framer.add_token(token);
    }

    /// Stop recognising markers with `token`.
    pub fn remove_token(&mut self, token: &str) {
        self.framer.remove_token(token);
    }

    /// Whether output was lost in a reconnect since [`PtyChannel::reset_lost`].
    pub fn lost_output(&self) -> bool {
        self.replay.lost()
    }

    /// Forget that output was lost (at the start of a new command).
    pub fn reset_lost(&mut self) {
        self.replay.reset_lost();
    }

    /// Why the server closed the PTY (empty when it gave no reason).
    pub fn close_reason(&self) -> &str {
        &self.close_reason
    }

    /// Type `text`. Input is not resent after a drop (whether it arrived is unknown).
    pub async fn send(&mut self, text: &str) -> Result<(), CoderError> {
        if self.socket.is_none() && self.reconnects && !self.ended {
            self.reconnect_now().await?;
        }
        match self.socket.as_mut() {
            Some(socket) => socket.send(text).await,
            None => Err(CoderError::Protocol("the PTY connection is gone".into())),
        }
    }

    /// The next piece; `None` once the command exited and its output was delivered.
    pub async fn next(&mut self) -> Result<Option<Piece>, CoderError> {
        loop {
            if let Some(piece) = self.queue.pop_front() {
                return Ok(Some(piece));
            }
            if self.ended {
                return Ok(None);
            }
            let Some(socket) = self.socket.as_mut() else {
                self.reconnect_now().await?;
                continue;
            };
            let pieces = match socket.recv().await {
                Received::Output(bytes) => self.framer.feed(&bytes),
                Received::Closed(reason) => {
                    self.ended = true;
                    self.close_reason = reason;
                    self.framer.finish()
                }
                Received::Dropped(why) if !self.reconnects => {
                    self.socket = None;
                    self.ended = true;
                    return Err(CoderError::Protocol(format!(
                        "the PTY connection dropped ({why})"
                    )));
                }
                Received::Dropped(why) => {
                    tracing::debug!(reason = %why, "PTY connection dropped; reconnecting");
                    self.socket = None;
                    continue;
                }
            };
            self.queue.extend(self.replay.accept(pieces));
        }
    }

    /// Close the connection (the command goes on running unless it was told to end).
    pub async fn close(mut self) {
        if let Some(socket) = self.socket.take() {
            socket.close().await;
        }
    }

    async fn reconnect_now(&mut self) -> Result<(), CoderError> {
        let mut pause = FIRST_PAUSE;
        let mut last = None;
        for _ in 0..RECONNECTS {
            tokio::time::sleep(pause).await;
            pause *= 3;
            match PtySocket::open(&self.target, self.reconnect, &self.command).await {
                Ok(socket) => {
                    self.socket = Some(socket);
                    // A marker cut by the drop comes again whole in the replay.
                    let _ = self.framer.finish();
                    self.replay.reconnected();
                    return Ok(());
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| CoderError::Protocol("could not reconnect".into())))
    }
}
