//! The REST handlers, one module per area of coderd's API; helpers for the path parameters
//! every area shares.

pub(crate) mod agents;
pub(crate) mod builds;
pub(crate) mod meta;
pub(crate) mod pty;
pub(crate) mod search;
pub(crate) mod socket;
pub(crate) mod watch;
pub(crate) mod workspaces;

use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use uuid::Uuid;

use super::error::ApiError;
use super::store::{Store, WorkspaceRec};

/// A path parameter that must be a UUID.
pub(crate) fn uuid_param(text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text).map_err(|_| ApiError::invalid_uuid(text))
}

/// The `{user}` parameter: `me`, the user's id or username. The fake has one user.
pub(crate) fn user_param(store: &Store, text: &str) -> Result<(), ApiError> {
    let user = &store.user;
    if text == "me" || text.eq_ignore_ascii_case(&user.username) || text == user.id.to_string() {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "\"user\" must be an existing uuid or username.",
        ))
    }
}

/// The `{organization}` parameter: its id, its name, or `default`.
pub(crate) fn organization_param(store: &Store, text: &str) -> Result<(), ApiError> {
    let org = &store.org;
    if text == "default" || text == org.name || text == org.id.to_string() {
        Ok(())
    } else {
        Err(ApiError::not_found())
    }
}

/// The `{workspace}` parameter (deleted workspaces included, as coderd's middleware does).
pub(crate) fn workspace_param<'s>(
    store: &'s Store,
    text: &str,
) -> Result<&'s WorkspaceRec, ApiError> {
    let id = uuid_param(text)?;
    store.workspace(id).ok_or_else(ApiError::not_found)
}

/// A JSON body, or coderd's 400 for one it cannot read.
pub(crate) fn body<T>(body: Result<axum::Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|axum::Json(value)| value)
        .map_err(|e| ApiError::bad_json(e.body_text()))
}
