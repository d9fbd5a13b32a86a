//! Creating, finding and listing workspaces, and their TTL and autostart settings.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{body, organization_param, search, user_param, workspace_param};
use crate::coder::error::ApiError;
use crate::coder::lifecycle::{self, NewBuild};
use crate::coder::render;
use crate::coder::state::Shared;
use crate::coder::store::{JobStatus, Transition, WorkspaceRec};

/// `codersdk.WorkspaceBuildParameter`.
#[derive(Debug, Deserialize)]
pub(crate) struct BuildParameter {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub value: String,
}

/// `codersdk.CreateWorkspaceRequest` (fields the fake does not use are ignored, as Go does).
#[derive(Debug, Deserialize)]
pub(crate) struct CreateWorkspaceRequest {
    #[serde(default)]
    name: String,
    template_id: Option<Uuid>,
    template_version_id: Option<Uuid>,
    #[serde(default)]
    rich_parameter_values: Vec<BuildParameter>,
    ttl_ms: Option<i64>,
    autostart_schedule: Option<String>,
    automatic_updates: Option<String>,
}

/// `codersdk.UpdateWorkspaceTTLRequest`.
#[derive(Debug, Deserialize)]
pub(crate) struct TtlRequest {
    ttl_ms: Option<i64>,
}

/// `codersdk.UpdateWorkspaceAutostartRequest`.
#[derive(Debug, Deserialize)]
pub(crate) struct AutostartRequest {
    schedule: Option<String>,
}

const TTL_MIN_MS: i64 = 60_000;
const TTL_MAX_MS: i64 = 30 * 24 * 3_600_000;

fn validation_failed(field: &str, tag: &str, value: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "Validation failed.").validation(
        field,
        format!("Validation failed for tag {tag:?} with value: {value:?}"),
    )
}

/// Coder's workspace-name rule: letters, digits and single hyphens, at most 32 characters.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && !matches!(name, "new" | "create")
        && name
            .split('-')
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric()))
}

fn check_ttl(ttl_ms: Option<i64>) -> Result<Option<i64>, ApiError> {
    let invalid = |why: &str| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "Invalid Workspace Time to Shutdown.",
        )
        .validation("ttl_ms", why)
    };
    match ttl_ms {
        None | Some(0) => Ok(None),
        Some(ms) if ms < TTL_MIN_MS => {
            Err(invalid("time until shutdown must be at least one minute"))
        }
        Some(ms) if ms > TTL_MAX_MS => {
            Err(invalid("time until shutdown must be less than 30 days"))
        }
        // coderd truncates to whole minutes.
        Some(ms) => Ok(Some(ms - ms % 60_000)),
    }
}

/// A weekly cron schedule as coderd accepts it: an optional `CRON_TZ=…` then five fields.
fn check_schedule(schedule: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(schedule) = schedule.filter(|s| !s.trim().is_empty()) else {
        return Ok(None);
    };
    let fields: Vec<&str> = schedule
        .split_whitespace()
        .filter(|f| !f.starts_with("CRON_TZ="))
        .collect();
    if fields.len() != 5 {
        return Err(
            ApiError::new(StatusCode::BAD_REQUEST, "Invalid autostart schedule.").validation(
                "schedule",
                format!("parse schedule: expected 5 fields in {schedule:?}"),
            ),
        );
    }
    Ok(Some(schedule))
}

/// Problems from resolving rich parameter values, as coderd reports them.
pub(crate) fn parameter_problems(problems: Vec<(String, String)>) -> ApiError {
    problems.into_iter().fold(
        ApiError::new(StatusCode::BAD_REQUEST, "Unable to validate parameters."),
        |e, (field, detail)| e.validation(field, detail),
    )
}

pub(crate) fn given(values: &[BuildParameter]) -> Vec<(String, String)> {
    values
        .iter()
        .map(|p| (p.name.clone(), p.value.clone()))
        .collect()
}

/// `POST /api/v2/organizations/{organization}/members/{user}/workspaces`.
pub(crate) async fn create_in_organization(
    State(shared): State<Arc<Shared>>,
    Path((org, user)): Path<(String, String)>,
    request: Result<Json<CreateWorkspaceRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    shared.read(|s| {
        organization_param(s, &org)?;
        user_param(s, &user)
    })?;
    create(&shared, body(request)?)
}

/// `POST /api/v2/users/{user}/workspaces`.
pub(crate) async fn create_for_user(
    State(shared): State<Arc<Shared>>,
    Path(user): Path<String>,
    request: Result<Json<CreateWorkspaceRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    shared.read(|s| user_param(s, &user))?;
    create(&shared, body(request)?)
}

fn create(shared: &Arc<Shared>, request: CreateWorkspaceRequest) -> Result<Response, ApiError> {
    if request.name.is_empty() {
        return Err(validation_failed("name", "required", ""));
    }
    if !valid_name(&request.name) {
        return Err(validation_failed("name", "workspace_name", &request.name));
    }
    let template_id = request.template_id.filter(|id| !id.is_nil());
    let version_id = request.template_version_id.filter(|id| !id.is_nil());
    let nil = Uuid::nil().to_string();
    match (template_id, version_id) {
        (None, None) => return Err(validation_failed("template_id", "required_without", &nil)),
        (Some(id), Some(_)) => {
            return Err(validation_failed(
                "template_id",
                "excluded_with",
                &id.to_string(),
            ));
        }
        _ => {}
    }
    let ttl_ms = check_ttl(request.ttl_ms)?;
    let autostart = check_schedule(request.autostart_schedule)?;
    let automatic_updates = match request.automatic_updates.as_deref() {
        None | Some("") | Some("never") => "never",
        Some("always") => "always",
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "Invalid Workspace Automatic Updates setting.",
            )
            .validation(
                "automatic_updates",
                format!("Automatic updates must be always or never, not {other:?}"),
            ));
        }
    };
    let id = Uuid::new_v4();
    let given = given(&request.rich_parameter_values);
    let (build, rendered) = shared.mutate(id, |s| -> Result<_, ApiError> {
        let template = match (template_id, version_id) {
            (Some(t), _) => s.template(t).ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("Template {t:?} doesn't exist."),
                )
                .validation("template_id", "template not found")
            })?,
            (None, Some(v)) => s.template_by_version(v).ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("Template version {v:?} doesn't exist."),
                )
                .validation("template_version_id", "template version not found")
            })?,
            (None, None) => return Err(ApiError::not_found()),
        };
        let (template_id, version_id) = (template.id, template.version_id);
        let parameters = template
            .spec
            .resolve(&BTreeMap::new(), &given, true)
            .map_err(parameter_problems)?;
        if s.workspaces
            .iter()
            .any(|w| !w.deleted && w.name == request.name)
        {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("Workspace {:?} already exists.", request.name),
            )
            .validation("name", "This value is already in use and should be unique."));
        }
        let now = Utc::now();
        s.workspaces.push(WorkspaceRec {
            id,
            name: request.name.clone(),
            template_id,
            created_at: now,
            updated_at: now,
            ttl_ms,
            autostart: autostart.clone(),
            automatic_updates: automatic_updates.to_owned(),
            deleted: false,
            builds: Vec::new(),
            local: format!("coder-{}", id.simple()).as_str().into(),
            parameters: BTreeMap::new(),
        });
        let new = NewBuild {
            transition: Transition::Start,
            template_version_id: version_id,
            parameters,
        };
        let build = lifecycle::insert_build(shared, s, id, new).ok_or_else(ApiError::not_found)?;
        let rendered = s.workspace(id).map(|w| render::workspace(s, w));
        Ok((build, rendered))
    })?;
    tokio::spawn(lifecycle::run(Arc::clone(shared), id, build));
    Ok((StatusCode::CREATED, Json(rendered.unwrap_or(Value::Null))).into_response())
}

/// Go's `strconv.ParseBool`.
fn parse_bool(name: &str, text: Option<&String>) -> Result<bool, ApiError> {
    match text.map(String::as_str) {
        None | Some("") => Ok(false),
        Some("1" | "t" | "T" | "TRUE" | "true" | "True") => Ok(true),
        Some("0" | "f" | "F" | "FALSE" | "false" | "False") => Ok(false),
        Some(other) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("Invalid boolean value {other:?} for \"{name}\" query param."),
        )
        .validation("deleted", "Must be a valid boolean")),
    }
}

/// `GET /api/v2/workspaces/{workspace}`: a deleted workspace is 410 Gone unless
/// `include_deleted=true`.
pub(crate) async fn get(
    State(shared): State<Arc<Shared>>,
    Path(workspace): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let include_deleted = parse_bool("include_deleted", query.get("include_deleted"))?;
    shared.read(|s| {
        let w = workspace_param(s, &workspace)?;
        if w.deleted && !include_deleted {
            return Err(ApiError::new(
                StatusCode::GONE,
                format!("Workspace {:?} was deleted, you can view this workspace by specifying '?deleted=true' and trying again.", w.id.to_string()),
            ));
        }
        Ok(Json(render::workspace(s, w)))
    })
}

/// `GET /api/v2/users/{user}/workspace/{workspacename}`.
pub(crate) async fn by_owner_and_name(
    State(shared): State<Arc<Shared>>,
    Path((user, name)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let include_deleted = parse_bool("include_deleted", query.get("include_deleted"))?;
    shared.read(|s| {
        user_param(s, &user)?;
        let found = s
            .workspaces
            .iter()
            .filter(|w| w.name == name && (include_deleted || !w.deleted))
            .max_by_key(|w| (!w.deleted, w.created_at))
            .ok_or_else(ApiError::not_found)?;
        Ok(Json(render::workspace(s, found)))
    })
}

fn page_param(query: &HashMap<String, String>, name: &str) -> Result<usize, ApiError> {
    match query.get(name).map(String::as_str) {
        None | Some("") => Ok(0),
        Some(text) => text.parse().map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "Query parameters have invalid values.",
            )
            .validation(
                name,
                format!("Query param {name:?} must be a valid non-negative integer"),
            )
        }),
    }
}

/// `GET /api/v2/workspaces?q=…&offset=…&limit=…`: running workspaces first, then by name.
pub(crate) async fn list(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let terms = search::terms(query.get("q").map_or("", String::as_str))?;
    let offset = page_param(&query, "offset")?;
    let limit = page_param(&query, "limit")?;
    shared.read(|s| {
        let mut found: Vec<&WorkspaceRec> = s
            .workspaces
            .iter()
            .filter(|w| !w.deleted && search::matches(s, w, &terms))
            .collect();
        let running = |w: &WorkspaceRec| {
            s.latest(w).is_some_and(|b| {
                b.transition == Transition::Start && b.job.status == JobStatus::Succeeded
            })
        };
        found.sort_by_key(|w| (!running(w), w.name.to_lowercase()));
        let count = found.len();
        let page = found
            .into_iter()
            .skip(offset)
            .take(if limit == 0 { usize::MAX } else { limit });
        Ok(Json(json!({
            "workspaces": page.map(|w| render::workspace(s, w)).collect::<Vec<_>>(),
            "count": count,
        })))
    })
}

/// `PUT /api/v2/workspaces/{workspace}/ttl`: 204.
pub(crate) async fn put_ttl(
    State(shared): State<Arc<Shared>>,
    Path(workspace): Path<String>,
    request: Result<Json<TtlRequest>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let ttl = check_ttl(body(request)?.ttl_ms)?;
    let id = shared.read(|s| workspace_param(s, &workspace).map(|w| w.id))?;
    shared.mutate(id, |s| {
        if let Some(w) = s.workspace_mut(id) {
            w.ttl_ms = ttl;
        }
    });
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/v2/workspaces/{workspace}/autostart`: 204.
pub(crate) async fn put_autostart(
    State(shared): State<Arc<Shared>>,
    Path(workspace): Path<String>,
    request: Result<Json<AutostartRequest>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let schedule = check_schedule(body(request)?.schedule)?;
    let id = shared.read(|s| workspace_param(s, &workspace).map(|w| w.id))?;
    shared.mutate(id, |s| {
        if let Some(w) = s.workspace_mut(id) {
            w.autostart = schedule;
        }
    });
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_names_follow_coders_rule() {
        for good in ["a", "agent-1", "A1-b2", &"x".repeat(32)] {
            assert!(valid_name(good), "{good}");
        }
        for bad in ["", "-a", "a-", "a--b", "a_b", "new", &"x".repeat(33)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn ttls_are_bounded_and_truncated_to_minutes() {
        assert_eq!(check_ttl(None).unwrap(), None);
        assert_eq!(check_ttl(Some(0)).unwrap(), None);
        assert_eq!(check_ttl(Some(90_500)).unwrap(), Some(60_000));
        assert!(check_ttl(Some(59_999)).is_err());
        assert!(check_ttl(Some(TTL_MAX_MS + 60_000)).is_err());
    }
}
