//! Watching a workspace: `watch-ws` (a one-way WebSocket of `codersdk.ServerSentEvent` JSON
//! text messages) and the deprecated `watch` (server-sent events). Both start with a `ping`,
//! then the current workspace, then the whole workspace after every change, as coderd does.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::ws::{
    Message, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection,
};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::socket::{self, Early};
use super::workspace_param;
use crate::coder::error::ApiError;
use crate::coder::state::Shared;

fn subscribe(
    shared: &Shared,
    workspace: &str,
) -> Result<(Value, broadcast::Receiver<Arc<Value>>), ApiError> {
    let id = shared.read(|s| workspace_param(s, workspace).map(|w| w.id))?;
    shared.subscribe(id).ok_or_else(ApiError::not_found)
}

/// The next snapshot; after falling behind, the newest one. `None` when the server is gone.
async fn next(rx: &mut broadcast::Receiver<Arc<Value>>) -> Option<Arc<Value>> {
    loop {
        match rx.recv().await {
            Ok(v) => return Some(v),
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => return None,
        }
    }
}

fn check(shared: &Shared, context: &str, event: &Value) {
    let schema = shared.schema();
    let mut errors = schema.definition_errors("codersdk.ServerSentEvent", event);
    if event["type"] == "data" {
        errors.extend(schema.definition_errors("codersdk.Workspace", &event["data"]));
    }
    shared.record_violations(context, errors);
}

/// `GET /api/v2/workspaces/{workspace}/watch-ws`.
pub(crate) async fn watch_ws(
    State(shared): State<Arc<Shared>>,
    Path(workspace): Path<String>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let (current, rx) = subscribe(&shared, &workspace)?;
    let upgrade = upgrade.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "Internal error setting up server-sent events.",
        )
        .detail(e.body_text())
    })?;
    Ok(upgrade.on_upgrade(move |socket| watch_socket(shared, current, rx, socket)))
}

async fn watch_socket(
    shared: Arc<Shared>,
    current: Value,
    mut rx: broadcast::Receiver<Arc<Value>>,
    mut socket: WebSocket,
) {
    shared.counters.websocket();
    let mut drops = shared.faults.websocket_drops();
    let mut heartbeat = tokio::time::interval(shared.settings.heartbeat);
    heartbeat.reset();
    let first = [
        json!({ "type": "ping", "data": null }),
        json!({ "type": "data", "data": current }),
    ];
    for event in first {
        check(&shared, "watch-ws event", &event);
        if socket
            .send(Message::Text(event.to_string().into()))
            .await
            .is_err()
        {
            return;
        }
    }
    loop {
        tokio::select! {
            snapshot = next(&mut rx) => {
                let Some(snapshot) = snapshot else { return };
                let event = json!({ "type": "data", "data": *snapshot });
                check(&shared, "watch-ws event", &event);
                if socket.send(Message::Text(event.to_string().into())).await.is_err() {
                    return;
                }
            }
            _ = heartbeat.tick() => {
                if socket.send(Message::Ping(Bytes::new())).await.is_err() {
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(Message::Pong(_) | Message::Ping(_))) => {}
                Some(Ok(_)) => {
                    socket::close(
                        &mut socket,
                        socket::PROTOCOL_ERROR,
                        "Clients cannot send messages for one-way WebSockets",
                    )
                    .await;
                    return;
                }
            },
            early = socket::early(&shared, &mut drops) => {
                if let Early::Shutdown = early {
                    socket::close(&mut socket, socket::GOING_AWAY, "Connection closed").await;
                }
                return;
            }
        }
    }
}

/// One server-sent event as coderd's `ServerSentEventSender` writes it.
fn frame(kind: &str, data: Option<&Value>) -> Bytes {
    match data {
        Some(data) => Bytes::from(format!("event: {kind}\ndata: {data}\n\n")),
        None => Bytes::from(format!("event: {kind}\n\n")),
    }
}

/// `GET /api/v2/workspaces/{workspace}/watch` (deprecated in coderd, still served).
pub(crate) async fn watch_sse(
    State(shared): State<Arc<Shared>>,
    Path(workspace): Path<String>,
) -> Result<Response, ApiError> {
    let (current, rx) = subscribe(&shared, &workspace)?;
    check(
        &shared,
        "watch event",
        &json!({ "type": "data", "data": current }),
    );
    let first = futures::stream::iter([frame("ping", None), frame("data", Some(&current))]);
    let mut heartbeat = tokio::time::interval(shared.settings.heartbeat);
    heartbeat.reset();
    let rest = futures::stream::unfold(
        (shared, rx, heartbeat),
        |(shared, mut rx, mut heartbeat)| async move {
            let bytes = tokio::select! {
                snapshot = next(&mut rx) => {
                    let snapshot = snapshot?;
                    check(&shared, "watch event", &json!({ "type": "data", "data": *snapshot }));
                    frame("data", Some(&snapshot))
                }
                _ = heartbeat.tick() => frame("ping", None),
                () = shared.shutting_down() => return None,
            };
            Some((bytes, (shared, rx, heartbeat)))
        },
    );
    let body = Body::from_stream(first.chain(rest).map(Ok::<_, Infallible>));
    Ok((
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response())
}
