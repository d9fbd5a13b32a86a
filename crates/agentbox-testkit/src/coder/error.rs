//! [`FakeCoderdError`] (starting the fake failed) and the error answers it gives clients
//! (`codersdk.Response` bodies).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Why a fake coderd could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FakeCoderdError {
    /// The loopback listener could not be bound.
    #[error("cannot listen on 127.0.0.1 for the fake coderd: {0}")]
    Bind(#[source] std::io::Error),
    /// The directory for the backing local workspaces could not be made.
    #[error("cannot create a state directory for the fake coderd's workspaces: {0}; check TMPDIR")]
    StateDir(#[source] std::io::Error),
    /// The local provider that backs the workspaces refused its settings.
    #[error("the local provider behind the fake coderd cannot be built: {0}")]
    Provider(#[source] agentbox_core::Error),
    /// A builder setting cannot work.
    #[error("invalid fake coderd setting `{setting}`: {message}")]
    Setting {
        /// The builder method.
        setting: &'static str,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The templates given to the builder are inconsistent.
    #[error("invalid fake template `{template}`: {message}")]
    Template {
        /// The template's name.
        template: String,
        /// What is wrong and how to fix it.
        message: String,
    },
}

/// One `codersdk.ValidationError`.
#[derive(Debug, Clone)]
pub(crate) struct Validation {
    pub field: String,
    pub detail: String,
}

/// A non-2xx answer with a `codersdk.Response` body.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub detail: Option<String>,
    pub validations: Vec<Validation>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            detail: None,
            validations: Vec::new(),
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn validation(mut self, field: impl Into<String>, detail: impl Into<String>) -> Self {
        self.validations.push(Validation {
            field: field.into(),
            detail: detail.into(),
        });
        self
    }

    /// coderd's `httpapi.ResourceNotFound`.
    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "Resource not found or you do not have access to this resource",
        )
    }

    /// coderd's answer to a path parameter that should be a UUID.
    pub fn invalid_uuid(text: &str) -> Self {
        let detail = match uuid::Uuid::parse_str(text) {
            Err(e) => e.to_string(),
            Ok(_) => String::new(),
        };
        Self::new(StatusCode::BAD_REQUEST, format!("Invalid UUID {text:?}.")).detail(detail)
    }

    /// coderd's answer to a body that is not valid JSON for the request type.
    pub fn bad_json(error: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Request body must be valid JSON.")
            .detail(error.to_string())
    }

    /// The `codersdk.Response` body.
    pub fn body(&self) -> Value {
        let mut body = json!({ "message": self.message });
        if let Some(detail) = &self.detail {
            body["detail"] = json!(detail);
        }
        if !self.validations.is_empty() {
            body["validations"] = self
                .validations
                .iter()
                .map(|v| json!({ "field": v.field, "detail": v.detail }))
                .collect();
        }
        body
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}
