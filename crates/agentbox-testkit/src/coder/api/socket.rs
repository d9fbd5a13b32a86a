//! What every WebSocket handler of the fake shares: the ways a socket ends early.

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use tokio::sync::watch;

use crate::coder::state::Shared;

/// Why a socket loop stopped before its natural end.
pub(crate) enum Early {
    /// [`Faults::drop_websockets_now`](crate::coder::Faults::drop_websockets_now): return without
    /// a close frame, so the connection just ends.
    Dropped,
    /// The server is stopping: close properly.
    Shutdown,
}

/// Resolves when the socket must end early. `drops` comes from
/// `shared.faults.websocket_drops()`, taken when the socket opened.
pub(crate) async fn early(shared: &Shared, drops: &mut watch::Receiver<u64>) -> Early {
    tokio::select! {
        changed = drops.changed() => match changed {
            Ok(()) => Early::Dropped,
            // The faults outlive every socket; a closed channel means the server is going.
            Err(_) => Early::Shutdown,
        },
        () = shared.shutting_down() => Early::Shutdown,
    }
}

/// Send a close frame (errors mean the peer is gone already, which is fine).
pub(crate) async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

/// RFC 6455 close codes the fake uses.
pub(crate) const NORMAL: u16 = 1000;
pub(crate) const GOING_AWAY: u16 = 1001;
pub(crate) const PROTOCOL_ERROR: u16 = 1002;
pub(crate) const INTERNAL_ERROR: u16 = 1011;
