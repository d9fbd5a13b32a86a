//! An agent's reconnecting PTY (`/workspaceagents/{id}/pty`): a WebSocket whose client sends
//! binary JSON `{"data","height","width"}` and receives the terminal's raw output; it is closed
//! when the command exits, with no exit status.

use std::collections::HashMap;
use std::sync::Arc;

use agentbox_core::exec::ExecRequest;
use axum::extract::ws::{
    Message, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection,
};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use tokio::sync::broadcast;
use uuid::Uuid;

use super::socket::{self, Early};
use super::uuid_param;
use crate::coder::error::ApiError;
use crate::coder::pty::{PtyEvent, PtySession};
use crate::coder::state::Shared;
use crate::coder::store::{AgentStatus, Store};

/// `codersdk/workspacesdk.ReconnectingPTYRequest`.
#[derive(Debug, Deserialize)]
struct PtyRequest {
    #[serde(default)]
    data: String,
    #[serde(default)]
    height: u16,
    #[serde(default)]
    width: u16,
}

/// What the PTY query asks for.
struct PtyQuery {
    reconnect: Uuid,
    width: u16,
    height: u16,
    command: String,
}

fn pty_query(query: &HashMap<String, String>) -> Result<PtyQuery, ApiError> {
    let mut invalid = ApiError::new(StatusCode::BAD_REQUEST, "Invalid query parameters.");
    let reconnect = match query.get("reconnect").map(String::as_str) {
        None | Some("") => {
            invalid = invalid.validation(
                "reconnect",
                "Query param \"reconnect\" is required and cannot be empty",
            );
            Uuid::nil()
        }
        Some(text) => Uuid::parse_str(text).unwrap_or_else(|_| {
            invalid = invalid.clone().validation(
                "reconnect",
                "Query param \"reconnect\" must be a valid uuid",
            );
            Uuid::nil()
        }),
    };
    let mut size = |name: &str| match query.get(name).map(String::as_str) {
        None | Some("") => 80,
        Some(text) => text.parse::<u16>().unwrap_or_else(|_| {
            invalid = invalid.clone().validation(
                name,
                format!("Query param {name:?} must be a valid 16-bit unsigned integer"),
            );
            80
        }),
    };
    let width = size("width");
    let height = size("height");
    for unsupported in ["container", "container_user"] {
        if query.get(unsupported).is_some_and(|v| !v.is_empty()) {
            invalid = invalid.validation(
                unsupported,
                "the fake coderd's agents have no dev containers",
            );
        }
    }
    if !invalid.validations.is_empty() {
        return Err(invalid);
    }
    Ok(PtyQuery {
        reconnect,
        width,
        height,
        command: query.get("command").cloned().unwrap_or_default(),
    })
}

/// Where an agent's commands run, if it is connected: the workspace and its backing id.
fn reachable(
    s: &Store,
    agent: Uuid,
) -> Option<(Uuid, agentbox_core::provider::WorkspaceId, String)> {
    let (b, a) = s.agent(agent)?;
    let w = s.workspace(b.workspace_id)?;
    let latest = w.builds.last() == Some(&b.id);
    (latest && !w.deleted && a.status == AgentStatus::Connected)
        .then(|| (w.id, w.local.clone(), w.name.clone()))
}

/// `GET /api/v2/workspaceagents/{workspaceagent}/pty?reconnect=<uuid>&width&height&command`.
pub(crate) async fn pty(
    State(shared): State<Arc<Shared>>,
    Path(agent): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let agent = uuid_param(&agent)?;
    shared.read(|s| s.agent(agent).map(|_| ()).ok_or_else(ApiError::not_found))?;
    let query = pty_query(&query)?;
    let upgrade = upgrade.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "The PTY endpoint needs a WebSocket.",
        )
        .detail(e.body_text())
    })?;
    Ok(upgrade.on_upgrade(move |socket| serve(shared, agent, query, socket)))
}

async fn serve(shared: Arc<Shared>, agent: Uuid, query: PtyQuery, mut socket: WebSocket) {
    shared.counters.websocket();
    let mut drops = shared.faults.websocket_drops();
    let Some((workspace, local, name)) = shared.read(|s| reachable(s, agent)) else {
        let reason = "dial workspace agent: the agent is not connected";
        socket::close(&mut socket, socket::INTERNAL_ERROR, reason).await;
        return;
    };
    let session = match start(&shared, agent, workspace, &local, &name, &query).await {
        Ok(session) => session,
        Err(e) => {
            let reason: String = format!("start pty: {e}").chars().take(120).collect();
            socket::close(&mut socket, socket::INTERNAL_ERROR, &reason).await;
            return;
        }
    };
    let mut budget = shared.faults.take_pty_drop();
    let attachment = session.attach();
    let mut events = attachment.events;
    if !attachment.replay.is_empty() && !send(&mut socket, attachment.replay, &mut budget).await {
        return;
    }
    if attachment.exited {
        socket::close(&mut socket, socket::NORMAL, "").await;
        return;
    }
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(PtyEvent::Output(bytes)) => {
                    if !send(&mut socket, bytes, &mut budget).await {
                        return;
                    }
                }
                Ok(PtyEvent::Exited) | Err(broadcast::error::RecvError::Closed) => {
                    socket::close(&mut socket, socket::NORMAL, "").await;
                    return;
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    socket::close(&mut socket, socket::INTERNAL_ERROR, "the client fell too far behind the output").await;
                    return;
                }
            },
            incoming = socket.recv() => {
                let payload = match incoming {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                    Some(Ok(Message::Binary(bytes))) => bytes,
                    Some(Ok(Message::Text(text))) => axum::body::Bytes::from(text.as_str().to_owned()),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                };
                if let Err(reason) = handle_input(&session, &payload).await {
                    socket::close(&mut socket, socket::INTERNAL_ERROR, &reason).await;
                    return;
                }
            }
            early = socket::early(&shared, &mut drops) => {
                if let Early::Shutdown = early {
                    socket::close(&mut socket, socket::GOING_AWAY, "server stopping").await;
                }
                return;
            }
        }
    }
}

/// The session `query.reconnect` names, attached again, or a new one running `query.command`
/// as Coder's agent does (`sh -c <command>`, or an interactive `sh` without one).
async fn start(
    shared: &Shared,
    agent: Uuid,
    workspace: Uuid,
    local: &agentbox_core::provider::WorkspaceId,
    name: &str,
    query: &PtyQuery,
) -> Result<Arc<PtySession>, String> {
    let executor = shared
        .backing
        .executor(local)
        .await
        .map_err(|e| e.to_string())?;
    let argv: Vec<String> = if query.command.is_empty() {
        vec!["sh".into()]
    } else {
        vec!["sh".into(), "-c".into(), query.command.clone()]
    };
    let owner = shared.read(|s| s.user.username.clone());
    let request = ExecRequest::new(argv)
        .env("TERM", "xterm-256color")
        .env("CODER", "true")
        .env("CODER_WORKSPACE_NAME", name)
        .env("CODER_WORKSPACE_OWNER_NAME", owner)
        .env("CODER_WORKSPACE_AGENT_NAME", "main");
    shared.ptys.get_or_start(agent, query.reconnect, || {
        PtySession::spawn(workspace, &executor, &request, query.width, query.height)
    })
}

/// Apply one client message: keystrokes and/or a new size.
async fn handle_input(session: &PtySession, payload: &[u8]) -> Result<(), String> {
    let request: PtyRequest =
        serde_json::from_slice(payload).map_err(|e| format!("decode pty request: {e}"))?;
    if !request.data.is_empty() {
        session
            .input(request.data.as_bytes())
            .await
            .map_err(|e| format!("write to pty: {e}"))?;
    }
    if request.height > 0 && request.width > 0 {
        session
            .resize(request.width, request.height)
            .map_err(|e| format!("resize pty: {e}"))?;
    }
    Ok(())
}

/// Send output; with a drop budget (fault), send only what it allows and then drop the
/// connection. `false` when the connection is gone.
async fn send(socket: &mut WebSocket, mut bytes: bytes::Bytes, budget: &mut Option<usize>) -> bool {
    let mut drop_now = false;
    if let Some(left) = budget {
        if bytes.len() >= *left {
            bytes.truncate(*left);
            drop_now = true;
        }
        *left -= bytes.len();
    }
    if !bytes.is_empty() && socket.send(Message::Binary(bytes)).await.is_err() {
        return false;
    }
    !drop_now
}
