//! Kubernetes `Status` error bodies, shaped like the apiserver's (`k8s.io/apimachinery/pkg/api/errors`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One `details.causes` entry: why a field was refused.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cause {
    /// `FieldValueInvalid`, `FieldValueRequired`, `FieldValueNotSupported`, …
    pub(crate) reason: &'static str,
    /// The message after the field, e.g. `Required value`.
    pub(crate) message: String,
    /// The field path, e.g. `spec.template.components[0].name`.
    pub(crate) field: String,
}

impl Cause {
    pub(crate) fn new(
        reason: &'static str,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            reason,
            field: field.into(),
            message: message.into(),
        }
    }

    /// `field: message`, the way `field.Error.Error()` prints.
    fn render(&self) -> String {
        if self.field.is_empty() {
            self.message.clone()
        } else {
            format!("{}: {}", self.field, self.message)
        }
    }
}

/// A failed request, answered as a `Status` object with the matching HTTP code.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) code: u16,
    pub(crate) reason: &'static str,
    pub(crate) message: String,
    pub(crate) details: Option<Box<Value>>,
    pub(crate) retry_after: Option<u32>,
}

/// The `group` and name of the resource an error is about (`qualifiedResource` in Go).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Subject<'a> {
    pub(crate) group: &'a str,
    /// The plural (`devworkspaces`) for most errors, the kind for `Invalid`.
    pub(crate) resource: &'a str,
    pub(crate) name: &'a str,
}

impl Subject<'_> {
    /// `devworkspaces.workspace.devfile.io`, or `pods` in the core group.
    fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.resource.to_owned()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }

    fn details(&self) -> Value {
        let mut details = json!({"name": self.name, "kind": self.resource});
        if !self.group.is_empty() {
            details["group"] = json!(self.group);
        }
        details
    }
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    pub(crate) fn not_found(subject: Subject<'_>) -> Self {
        let mut e = Self::new(
            404,
            "NotFound",
            format!("{} \"{}\" not found", subject.qualified(), subject.name),
        );
        e.details = Some(Box::new(subject.details()));
        e
    }

    /// A path the server does not serve.
    pub(crate) fn no_route() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    pub(crate) fn already_exists(subject: Subject<'_>) -> Self {
        let mut e = Self::new(
            409,
            "AlreadyExists",
            format!(
                "{} \"{}\" already exists",
                subject.qualified(),
                subject.name
            ),
        );
        e.details = Some(Box::new(subject.details()));
        e
    }

    /// 409 for a stale `resourceVersion`, word for word the apiserver's message.
    pub(crate) fn conflict(subject: Subject<'_>) -> Self {
        Self::conflict_because(
            subject,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    pub(crate) fn conflict_because(subject: Subject<'_>, why: &str) -> Self {
        let mut e = Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{}\": {why}",
                subject.qualified(),
                subject.name
            ),
        );
        e.details = Some(Box::new(subject.details()));
        e
    }

    /// 422 with one cause per refused field; `subject.resource` is the kind here.
    pub(crate) fn invalid(subject: Subject<'_>, causes: Vec<Cause>) -> Self {
        let listed: Vec<String> = causes.iter().map(Cause::render).collect();
        let summary = match listed.as_slice() {
            [one] => one.clone(),
            many => format!("[{}]", many.join(", ")),
        };
        let mut e = Self::new(
            422,
            "Invalid",
            format!(
                "{} \"{}\" is invalid: {summary}",
                subject.qualified(),
                subject.name
            ),
        );
        let mut details = subject.details();
        details["causes"] = causes
            .iter()
            .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
            .collect();
        e.details = Some(Box::new(details));
        e
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub(crate) fn forbidden(subject: Subject<'_>, why: &str) -> Self {
        let mut e = Self::new(
            403,
            "Forbidden",
            format!(
                "{} \"{}\" is forbidden: {why}",
                subject.qualified(),
                subject.name
            ),
        );
        e.details = Some(Box::new(subject.details()));
        e
    }

    pub(crate) fn method_not_allowed() -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    pub(crate) fn unsupported_media_type(given: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format ({given}) - accepted media types include: \
                 application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
            ),
        )
    }

    /// 410 `Expired`: a resourceVersion or continue token older than the kept history.
    pub(crate) fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// 504 for a resourceVersion the server has not reached.
    pub(crate) fn too_large_resource_version(asked: u64, current: u64) -> Self {
        let mut e = Self::new(
            504,
            "Timeout",
            format!("Too large resource version: {asked}, current: {current}"),
        );
        e.details = Some(Box::new(json!({
            "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
            "retryAfterSeconds": 1
        })));
        e
    }

    /// An injected fault: 429 `TooManyRequests`, 500 `InternalError`, 503 `ServiceUnavailable`, …
    pub(crate) fn injected(code: u16, retry_after: Option<u32>) -> Self {
        let (reason, message) = match code {
            429 => (
                "TooManyRequests",
                "Too many requests, please try again later.",
            ),
            500 => (
                "InternalError",
                "Internal error occurred: fault injected by the fake API server",
            ),
            503 => (
                "ServiceUnavailable",
                "The server is currently unable to handle the request",
            ),
            504 => (
                "Timeout",
                "The server was unable to return a response in the time allotted",
            ),
            409 => (
                "Conflict",
                "Operation cannot be fulfilled: fault injected by the fake API server",
            ),
            _ => ("", "fault injected by the fake API server"),
        };
        let mut e = Self::new(code, reason, message);
        if let Some(seconds) = retry_after {
            e.details = Some(Box::new(json!({"retryAfterSeconds": seconds})));
            e.retry_after = Some(seconds);
        }
        e
    }

    /// The `Status` object, as sent in bodies and in watch `ERROR` events.
    pub(crate) fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            status["details"] = (**details).clone();
        }
        status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (code, axum::Json(self.to_status())).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The result of a request handler.
pub(crate) type ApiResult<T> = Result<T, ApiError>;
