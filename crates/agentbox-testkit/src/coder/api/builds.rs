//! Workspace builds: creating one (start, stop, delete), reading it, its logs (also followed
//! over a WebSocket), its parameters, and canceling it.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::ws::{
    Message, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection,
};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::socket::{self, Early};
use super::workspaces::{BuildParameter, given, parameter_problems};
use super::{body, uuid_param, workspace_param};
use crate::coder::error::ApiError;
use crate::coder::lifecycle::{self, NewBuild};
use crate::coder::render;
use crate::coder::state::Shared;
use crate::coder::store::{JobStatus, Transition};

/// `codersdk.CreateWorkspaceBuildRequest` (fields the fake does not use are ignored).
#[derive(Debug, Deserialize)]
pub(crate) struct CreateBuildRequest {
    #[serde(default)]
    transition: String,
    template_version_id: Option<Uuid>,
    #[serde(default)]
    rich_parameter_values: Vec<BuildParameter>,
}

/// `POST /api/v2/workspaces/{workspace}/builds`: 201 with the new build, 409 while another
/// build is active.
pub(crate) async fn create(
    State(shared): State<Arc<Shared>>,
    Path(workspace): Path<String>,
    request: Result<Json<CreateBuildRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let request = body(request)?;
    let transition = Transition::parse(&request.transition).ok_or_else(|| {
        let tag = if request.transition.is_empty() {
            "required"
        } else {
            "oneof"
        };
        ApiError::new(StatusCode::BAD_REQUEST, "Validation failed.").validation(
            "transition",
            format!(
                "Validation failed for tag {tag:?} with value: {:?}",
                request.transition
            ),
        )
    })?;
    let id = shared.read(|s| workspace_param(s, &workspace).map(|w| w.id))?;
    let given = given(&request.rich_parameter_values);
    let (build, rendered) = shared.mutate(id, |s| -> Result<_, ApiError> {
        let w = s.workspace(id).ok_or_else(ApiError::not_found)?;
        if w.deleted {
            return Err(ApiError::new(
                StatusCode::GONE,
                format!("Workspace {:?} was deleted.", w.id.to_string()),
            ));
        }
        if s.latest(w).is_some_and(|b| b.job.status.active()) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "A workspace build is already active.",
            ));
        }
        let template = s.template(w.template_id).ok_or_else(ApiError::not_found)?;
        let version = match request.template_version_id.filter(|v| !v.is_nil()) {
            Some(v) if v != template.version_id => {
                return Err(
                    ApiError::new(StatusCode::BAD_REQUEST, "Template version not found.")
                        .validation("template_version_id", "template version not found"),
                );
            }
            _ => template.version_id,
        };
        let parameters = template
            .spec
            .resolve(&w.parameters, &given, false)
            .map_err(parameter_problems)?;
        let new = NewBuild {
            transition,
            template_version_id: version,
            parameters,
        };
        let build = lifecycle::insert_build(&shared, s, id, new).ok_or_else(ApiError::not_found)?;
        let w = s.workspace(id).ok_or_else(ApiError::not_found)?;
        let b = s.builds.get(&build).ok_or_else(ApiError::not_found)?;
        Ok((build, render::build(s, w, b)))
    })?;
    tokio::spawn(lifecycle::run(Arc::clone(&shared), id, build));
    Ok((StatusCode::CREATED, Json(rendered)).into_response())
}

/// `GET /api/v2/workspaces/{workspace}/builds`: newest first.
pub(crate) async fn list(
    State(shared): State<Arc<Shared>>,
    Path(workspace): Path<String>,
) -> Result<Json<Value>, ApiError> {
    shared.read(|s| {
        let w = workspace_param(s, &workspace)?;
        let builds = w
            .builds
            .iter()
            .rev()
            .filter_map(|id| s.builds.get(id))
            .map(|b| render::build(s, w, b))
            .collect();
        Ok(Json(builds))
    })
}

/// The build `{workspacebuild}` names, with its workspace.
fn build_param(shared: &Shared, text: &str) -> Result<(Uuid, Uuid), ApiError> {
    let id = uuid_param(text)?;
    shared.read(|s| {
        s.builds
            .get(&id)
            .map(|b| (id, b.workspace_id))
            .ok_or_else(ApiError::not_found)
    })
}

/// `GET /api/v2/workspacebuilds/{workspacebuild}`.
pub(crate) async fn get(
    State(shared): State<Arc<Shared>>,
    Path(build): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (build, workspace) = build_param(&shared, &build)?;
    shared.read(|s| {
        let w = s.workspace(workspace).ok_or_else(ApiError::not_found)?;
        let b = s.builds.get(&build).ok_or_else(ApiError::not_found)?;
        Ok(Json(render::build(s, w, b)))
    })
}

/// `GET /api/v2/workspacebuilds/{workspacebuild}/parameters`.
pub(crate) async fn parameters(
    State(shared): State<Arc<Shared>>,
    Path(build): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (build, _) = build_param(&shared, &build)?;
    shared.read(|s| {
        let b = s.builds.get(&build).ok_or_else(ApiError::not_found)?;
        Ok(Json(
            b.parameters
                .iter()
                .map(|(name, value)| json!({ "name": name, "value": value }))
                .collect(),
        ))
    })
}

/// `PATCH /api/v2/workspacebuilds/{workspacebuild}/cancel[?expect_status=running|pending]`.
pub(crate) async fn cancel(
    State(shared): State<Arc<Shared>>,
    Path(build): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let (build, workspace) = build_param(&shared, &build)?;
    let expect = query
        .get("expect_status")
        .filter(|s| !s.is_empty())
        .cloned();
    if let Some(e) = &expect
        && e != "running"
        && e != "pending"
    {
        return Err(
            ApiError::new(StatusCode::BAD_REQUEST, "Invalid query parameters.").validation(
                "expect_status",
                format!("{e:?} must be one of: running, pending"),
            ),
        );
    }
    shared.mutate(workspace, |s| {
        let b = s.builds.get_mut(&build).ok_or_else(ApiError::not_found)?;
        match b.job.status {
            JobStatus::Canceling | JobStatus::Canceled => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "Job has already been marked as canceled!",
                ));
            }
            JobStatus::Succeeded | JobStatus::Failed => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "Job has already completed!",
                ));
            }
            JobStatus::Pending | JobStatus::Running => {}
        }
        if let Some(e) = &expect
            && e != b.job.status.as_str()
        {
            return Err(ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                format!("Job is not in the expected state ({e})."),
            ));
        }
        let now = chrono::Utc::now();
        b.job.canceled_at = Some(now);
        b.job.status = if b.job.status == JobStatus::Pending {
            b.job.completed_at = Some(now);
            JobStatus::Canceled
        } else {
            JobStatus::Canceling
        };
        b.updated_at = now;
        b.cancel.send_replace(true);
        Ok(Json(json!({
            "message": "Job has been marked as canceled..."
        })))
    })
}

/// `GET /api/v2/workspacebuilds/{workspacebuild}/logs[?after=N&before=N&follow=true]`: a
/// JSON array, or with `follow=true` a WebSocket of one `codersdk.ProvisionerJobLog` per
/// text message, closed once the job has finished and every log was sent.
pub(crate) async fn logs(
    State(shared): State<Arc<Shared>>,
    Path(build): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let (build, _) = build_param(&shared, &build)?;
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
    if !matches!(
        query.get("format").map(String::as_str),
        None | Some("") | Some("json")
    ) {
        invalid = invalid.validation("format", "the fake coderd serves only format=json");
    }
    if !invalid.validations.is_empty() {
        return Err(invalid);
    }
    let follow = matches!(
        query.get("follow").map(String::as_str),
        Some("true" | "1" | "t")
    );
    if !follow {
        return shared.read(|s| {
            let b = s.builds.get(&build).ok_or_else(ApiError::not_found)?;
            let logs: Vec<Value> = b
                .job
                .logs
                .iter()
                .filter(|l| l.id > after && before.is_none_or(|before| l.id < before))
                .map(render::log)
                .collect();
            Ok(Json(Value::Array(logs)).into_response())
        });
    }
    let upgrade = upgrade.map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, "Following logs needs a WebSocket.")
            .detail(e.body_text())
    })?;
    Ok(upgrade.on_upgrade(move |socket| follow_logs(shared, build, after, socket)))
}

async fn follow_logs(shared: Arc<Shared>, build: Uuid, after: i64, mut socket: WebSocket) {
    shared.counters.websocket();
    let mut changes = shared.changes.subscribe();
    let mut drops = shared.faults.websocket_drops();
    let mut sent = after;
    loop {
        let Some((logs, done)) = shared.read(|s| {
            let b = s.builds.get(&build)?;
            let logs: Vec<(i64, Value)> = b
                .job
                .logs
                .iter()
                .filter(|l| l.id > sent)
                .map(|l| (l.id, render::log(l)))
                .collect();
            Some((logs, !b.job.status.active()))
        }) else {
            socket::close(&mut socket, socket::INTERNAL_ERROR, "build not found").await;
            return;
        };
        for (id, log) in logs {
            shared.record_violations(
                "followed build log",
                shared
                    .schema()
                    .definition_errors("codersdk.ProvisionerJobLog", &log),
            );
            if socket
                .send(Message::Text(log.to_string().into()))
                .await
                .is_err()
            {
                return;
            }
            sent = id;
        }
        if done {
            socket::close(&mut socket, socket::NORMAL, "").await;
            return;
        }
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { return },
            early = socket::early(&shared, &mut drops) => {
                if let Early::Shutdown = early {
                    socket::close(&mut socket, socket::GOING_AWAY, "server stopping").await;
                }
                return;
            }
        }
    }
}
