//! Workspace agents: reading one, and its startup log.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde_json::Value;

use super::uuid_param;
use crate::coder::error::ApiError;
use crate::coder::render;
use crate::coder::state::Shared;
use crate::coder::store::{AgentRec, Store};

/// The agent `{workspaceagent}` names, and its resource's id.
fn find<'s>(s: &'s Store, text: &str) -> Result<(&'s AgentRec, uuid::Uuid), ApiError> {
    let id = uuid_param(text)?;
    let (b, _) = s.agent(id).ok_or_else(ApiError::not_found)?;
    b.resources
        .iter()
        .find_map(|r| r.agent.as_ref().filter(|a| a.id == id).map(|a| (a, r.id)))
        .ok_or_else(ApiError::not_found)
}

/// `GET /api/v2/workspaceagents/{workspaceagent}`.
pub(crate) async fn agent(
    State(shared): State<Arc<Shared>>,
    Path(agent): Path<String>,
) -> Result<Json<Value>, ApiError> {
    shared.read(|s| {
        let (a, resource) = find(s, &agent)?;
        Ok(Json(render::agent(a, resource)))
    })
}

/// `GET /api/v2/workspaceagents/{workspaceagent}/logs[?after=N&before=N]`: the startup log so
/// far. Following it (`follow=true`) is not served by the fake.
pub(crate) async fn logs(
    State(shared): State<Arc<Shared>>,
    Path(agent): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let mut invalid = ApiError::new(StatusCode::BAD_REQUEST, "Invalid query parameters.");
    let mut number = |name: &str| match query.get(name).map(String::as_str) {
        None | Some("") => None,
        Some(text) => text.parse::<i64>().ok().or_else(|| {
            invalid = invalid.clone().validation(
                name,
                format!("Query param {name:?} must be a valid integer"),
            );
            None
        }),
    };
    let after = number("after").unwrap_or(0);
    let before = number("before");
    if query.get("follow").is_some_and(|f| f == "true") {
        invalid = invalid.validation(
            "follow",
            "the fake coderd does not follow agent logs; read them without follow",
        );
    }
    if !invalid.validations.is_empty() {
        return Err(invalid);
    }
    shared.read(|s| {
        let (a, _) = find(s, &agent)?;
        Ok(Json(
            a.logs
                .iter()
                .filter(|l| l.id > after && before.is_none_or(|b| l.id < b))
                .map(|l| render::agent_log(a, l))
                .collect(),
        ))
    })
}
