//! [`WorkspaceWatch`]: the whole `codersdk.Workspace` pushed on every change, from
//! `/watch-ws` (one-way WebSocket of `codersdk.ServerSentEvent`) or, on servers without it,
//! the deprecated SSE `/watch`. Both send the current state first.

use eventsource_stream::Eventsource;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use reqwest::Method;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use super::CoderClient;
use crate::error::CoderError;
use crate::models::{ApiResponse, ServerSentEvent, Workspace};

/// A subscription to one workspace's changes. Ends (`None`) when the server closes it.
pub struct WorkspaceWatch {
    events: BoxStream<'static, Result<Option<Workspace>, CoderError>>,
    /// `ws` or `sse`, for logs.
    transport: &'static str,
}

impl std::fmt::Debug for WorkspaceWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkspaceWatch")
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

impl WorkspaceWatch {
    /// The next state of the workspace; pings are skipped.
    pub async fn next(&mut self) -> Option<Result<Workspace, CoderError>> {
        loop {
            match self.events.next().await? {
                Ok(Some(workspace)) => return Some(Ok(workspace)),
                Ok(None) => continue,
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// `ws` for `/watch-ws`, `sse` for `/watch`.
    pub fn transport(&self) -> &'static str {
        self.transport
    }
}

impl CoderClient {
    /// Watch a workspace: `/watch-ws`, falling back to SSE `/watch` when the server does not
    /// have the WebSocket route (and remembering that for later watches).
    pub async fn watch_workspace(&self, workspace: Uuid) -> Result<WorkspaceWatch, CoderError> {
        let id = workspace.to_string();
        if self.watch_ws_enabled() {
            match self.websocket(&["workspaces", &id, "watch-ws"], &[]).await {
                Ok(socket) => {
                    let events = socket
                        .map_err(|source| CoderError::WebSocket {
                            what: "watch",
                            source,
                        })
                        .try_filter_map(|message| async move {
                            match message {
                                Message::Text(text) => decode_ws(text.as_bytes()).map(Some),
                                Message::Binary(bytes) => decode_ws(&bytes).map(Some),
                                _ => Ok(None),
                            }
                        })
                        .boxed();
                    return Ok(WorkspaceWatch {
                        events,
                        transport: "ws",
                    });
                }
                Err(e) if e.status() == Some(404) => {
                    let sse = self.watch_sse(&id).await?;
                    tracing::info!(
                        "coderd has no /watch-ws; workspace watches use the SSE /watch endpoint"
                    );
                    self.disable_watch_ws();
                    return Ok(sse);
                }
                Err(e) => return Err(e),
            }
        }
        self.watch_sse(&id).await
    }

    async fn watch_sse(&self, id: &str) -> Result<WorkspaceWatch, CoderError> {
        let segments = ["workspaces", id, "watch"];
        let response = self.send(Method::GET, &segments, &[], None).await?;
        let path = format!("/api/v2/workspaces/{id}/watch");
        let events = response
            .bytes_stream()
            .eventsource()
            .map(move |event| match event {
                Ok(event) => decode_sse(&event.event, &event.data),
                Err(e) => Err(CoderError::Protocol(format!(
                    "the event stream of {path} broke: {e}"
                ))),
            })
            .boxed();
        Ok(WorkspaceWatch {
            events,
            transport: "sse",
        })
    }
}

/// One `codersdk.ServerSentEvent` from `/watch-ws`.
fn decode_ws(bytes: &[u8]) -> Result<Option<Workspace>, CoderError> {
    let event: ServerSentEvent =
        serde_json::from_slice(bytes).map_err(|source| CoderError::Decode {
            what: "a /watch-ws message".into(),
            source,
        })?;
    event_data(&event.kind, event.data)
}

/// One SSE event from `/watch`.
fn decode_sse(kind: &str, data: &str) -> Result<Option<Workspace>, CoderError> {
    let value = if data.trim().is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(data).map_err(|source| CoderError::Decode {
            what: "a /watch event".into(),
            source,
        })?
    };
    event_data(kind, value)
}

fn event_data(kind: &str, data: serde_json::Value) -> Result<Option<Workspace>, CoderError> {
    match kind {
        "data" => serde_json::from_value(data)
            .map(Some)
            .map_err(|source| CoderError::Decode {
                what: "a watched workspace".into(),
                source,
            }),
        "error" => {
            let response: ApiResponse = serde_json::from_value(data).unwrap_or_default();
            Err(CoderError::Watch { response })
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_are_skipped_and_errors_are_typed() {
        assert!(decode_ws(br#"{"type":"ping"}"#).unwrap().is_none());
        let err = decode_ws(
            br#"{"type":"error","data":{"message":"Internal error fetching workspace."}}"#,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("Internal error fetching workspace."),
            "{err}"
        );
        assert!(decode_sse("ping", "").unwrap().is_none());
        assert!(decode_sse("data", "{not json").is_err());
    }
}
