//! One request to a resource path, and the reply handlers build.

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

use super::counters::Caller;
use super::resource::{ResourceId, ResourceType, Strategy};
use super::status::{ApiError, ApiResult};
use super::store::ObjectKey;

/// A parsed resource path: `/apis/{group}/{version}[/namespaces/{ns}]/{plural}[/{name}[/{sub}]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResourcePath {
    pub(crate) group: String,
    pub(crate) version: String,
    pub(crate) plural: String,
    pub(crate) namespace: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) subresource: Option<String>,
}

/// How unknown fields are handled (`fieldValidation`); the apiserver's default is `Warn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

/// A request for one kind, with everything a handler needs.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) path: ResourcePath,
    pub(crate) kind: Arc<ResourceType>,
    pub(crate) query: HashMap<String, String>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) caller: Caller,
}

impl Call {
    pub(crate) fn query(&self, name: &str) -> Option<&str> {
        self.query
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub(crate) fn flag(&self, name: &str) -> bool {
        matches!(self.query(name), Some("true" | "1"))
    }

    pub(crate) fn id(&self) -> ResourceId {
        self.kind.id()
    }

    pub(crate) fn namespace(&self) -> &str {
        self.path.namespace.as_deref().unwrap_or_default()
    }

    pub(crate) fn name(&self) -> &str {
        self.path.name.as_deref().unwrap_or_default()
    }

    pub(crate) fn key(&self) -> ObjectKey {
        (self.namespace().to_owned(), self.name().to_owned())
    }

    /// `group/version` of the request.
    pub(crate) fn api_version(&self) -> String {
        self.kind.api_version(&self.path.version)
    }

    /// Whether the requested version enables the `status` subresource.
    pub(crate) fn status_enabled(&self) -> bool {
        self.kind
            .version(&self.path.version)
            .is_some_and(|v| v.status)
    }

    pub(crate) fn dry_run(&self) -> bool {
        self.query("dryRun") == Some("All")
    }

    pub(crate) fn field_validation(&self) -> ApiResult<FieldValidation> {
        match self.query("fieldValidation") {
            None | Some("Warn") => Ok(FieldValidation::Warn),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation must be one of Ignore, Warn or Strict, not \"{other}\""
            ))),
        }
    }

    /// The request body as JSON.
    pub(crate) fn json_body(&self) -> ApiResult<Value> {
        serde_json::from_slice(&self.body).map_err(|e| {
            ApiError::bad_request(format!("the object provided is unrecognized JSON: {e}"))
        })
    }

    /// An object as this request's version shows it.
    pub(crate) fn render(&self, object: &Value) -> Value {
        let mut object = object.clone();
        object["apiVersion"] = Value::String(self.api_version());
        object["kind"] = Value::String(self.kind.kind.clone());
        object
    }

    /// Items of a list: built-in kinds' lists carry no `apiVersion`/`kind` per item.
    pub(crate) fn render_item(&self, object: &Value) -> Value {
        if self.kind.strategy == Strategy::Custom {
            return self.render(object);
        }
        let mut object = object.clone();
        if let Some(map) = object.as_object_mut() {
            map.remove("apiVersion");
            map.remove("kind");
        }
        object
    }
}

/// A successful answer: status, JSON body and `Warning` headers.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) body: Value,
    pub(crate) warnings: Vec<String>,
}

impl Reply {
    pub(crate) fn ok(body: Value) -> Self {
        Self {
            status: StatusCode::OK,
            body,
            warnings: Vec::new(),
        }
    }

    pub(crate) fn created(body: Value) -> Self {
        Self {
            status: StatusCode::CREATED,
            ..Self::ok(body)
        }
    }

    pub(crate) fn warn(mut self, warnings: Vec<String>) -> Self {
        self.warnings = warnings;
        self
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body)).into_response();
        for warning in self.warnings {
            let escaped = warning.replace('\\', "\\\\").replace('"', "\\\"");
            if let Ok(value) = HeaderValue::from_str(&format!("299 - \"{escaped}\"")) {
                response.headers_mut().append(header::WARNING, value);
            }
        }
        response
    }
}
