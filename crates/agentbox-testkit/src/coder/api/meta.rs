//! Build info, the user, the organization, templates and template versions.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde_json::Value;

use super::{organization_param, user_param, uuid_param};
use crate::coder::error::ApiError;
use crate::coder::render;
use crate::coder::state::Shared;

type Reply = Result<Json<Value>, ApiError>;

/// `GET /api/v2/buildinfo` (no session needed).
pub(crate) async fn build_info(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(render::build_info(
        &shared.settings.version,
        &shared.base_url,
        shared.deployment_id,
    ))
}

/// `GET /api/v2/users/{user}`.
pub(crate) async fn user(State(shared): State<Arc<Shared>>, Path(user): Path<String>) -> Reply {
    shared.read(|s| {
        user_param(s, &user)?;
        Ok(Json(render::user(s)))
    })
}

/// `GET /api/v2/users/{user}/organizations`.
pub(crate) async fn user_organizations(
    State(shared): State<Arc<Shared>>,
    Path(user): Path<String>,
) -> Reply {
    shared.read(|s| {
        user_param(s, &user)?;
        Ok(Json(Value::Array(vec![render::organization(s)])))
    })
}

/// `GET /api/v2/organizations/{organization}`.
pub(crate) async fn organization(
    State(shared): State<Arc<Shared>>,
    Path(org): Path<String>,
) -> Reply {
    shared.read(|s| {
        organization_param(s, &org)?;
        Ok(Json(render::organization(s)))
    })
}

/// `GET /api/v2/organizations/{organization}/templates`.
pub(crate) async fn organization_templates(
    State(shared): State<Arc<Shared>>,
    Path(org): Path<String>,
) -> Reply {
    shared.read(|s| {
        organization_param(s, &org)?;
        Ok(Json(
            s.templates.iter().map(|t| render::template(s, t)).collect(),
        ))
    })
}

/// `GET /api/v2/templates`.
pub(crate) async fn templates(State(shared): State<Arc<Shared>>) -> Json<Value> {
    shared.read(|s| Json(s.templates.iter().map(|t| render::template(s, t)).collect()))
}

/// `GET /api/v2/organizations/{organization}/templates/{templatename}`.
pub(crate) async fn template_by_name(
    State(shared): State<Arc<Shared>>,
    Path((org, name)): Path<(String, String)>,
) -> Reply {
    shared.read(|s| {
        organization_param(s, &org)?;
        let t = s
            .templates
            .iter()
            .find(|t| t.spec.name == name)
            .ok_or_else(ApiError::not_found)?;
        Ok(Json(render::template(s, t)))
    })
}

/// `GET /api/v2/templates/{template}`.
pub(crate) async fn template(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Reply {
    let id = uuid_param(&id)?;
    shared.read(|s| {
        let t = s.template(id).ok_or_else(ApiError::not_found)?;
        Ok(Json(render::template(s, t)))
    })
}

/// `GET /api/v2/templateversions/{templateversion}`.
pub(crate) async fn template_version(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Reply {
    let id = uuid_param(&id)?;
    shared.read(|s| {
        let t = s.template_by_version(id).ok_or_else(ApiError::not_found)?;
        Ok(Json(render::template_version(s, t)))
    })
}

/// `GET /api/v2/templateversions/{templateversion}/rich-parameters`.
pub(crate) async fn rich_parameters(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Reply {
    let id = uuid_param(&id)?;
    shared.read(|s| {
        let t = s.template_by_version(id).ok_or_else(ApiError::not_found)?;
        Ok(Json(
            t.spec.parameters.iter().map(render::parameter).collect(),
        ))
    })
}
