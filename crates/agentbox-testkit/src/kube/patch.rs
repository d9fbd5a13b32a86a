//! `PATCH` bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and server-side apply.
//!
//! Server-side apply is accepted so clients using `Patch::Apply` work, but it is applied as a
//! merge patch of the applied configuration: field ownership (`managedFields`) and conflicts
//! between managers are not tracked. Strategic merge patch is refused with 415, as the
//! apiserver refuses it for custom resources.

use axum::http::{HeaderMap, header};
use serde_json::Value;

use super::status::{ApiError, ApiResult, Cause, Subject};

/// The patch formats, by `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatchKind {
    Merge,
    Json,
    Apply,
}

impl PatchKind {
    pub(crate) fn from_headers(headers: &HeaderMap) -> ApiResult<Self> {
        let given = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let media = given.split(';').next().unwrap_or_default().trim();
        match media {
            "application/merge-patch+json" => Ok(Self::Merge),
            "application/json-patch+json" => Ok(Self::Json),
            "application/apply-patch+yaml" => Ok(Self::Apply),
            _ => Err(ApiError::unsupported_media_type(given)),
        }
    }
}

/// Parse a patch body (JSON, or YAML for apply).
pub(crate) fn parse(kind: PatchKind, body: &[u8]) -> ApiResult<Value> {
    let parsed: Result<Value, String> = match kind {
        PatchKind::Merge | PatchKind::Json => {
            serde_json::from_slice(body).map_err(|e| e.to_string())
        }
        PatchKind::Apply => serde_json::from_slice(body).or_else(|_| {
            let text = std::str::from_utf8(body).map_err(|e| e.to_string())?;
            serde_saphyr::from_str::<Value>(text).map_err(|e| e.to_string())
        }),
    };
    let value = parsed.map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
    match kind {
        PatchKind::Json if !value.is_array() => Err(ApiError::bad_request(
            "error decoding patch: a JSON patch must be an array of operations",
        )),
        PatchKind::Apply if !(value.get("apiVersion").is_some() && value.get("kind").is_some()) => {
            Err(ApiError::bad_request(
                "error decoding YAML: apply patches must set apiVersion and kind",
            ))
        }
        _ => Ok(value),
    }
}

fn rejected(patch: &Value, why: &str) -> ApiError {
    let cause = Cause::new(
        "FieldValueInvalid",
        "patch",
        format!("Invalid value: \"{patch}\": {why}"),
    );
    ApiError::invalid(
        Subject {
            group: "",
            resource: "",
            name: "",
        },
        vec![cause],
    )
}

/// Apply a parsed patch to the current object.
pub(crate) fn apply(kind: PatchKind, current: &Value, patch: &Value) -> ApiResult<Value> {
    let mut document = current.clone();
    match kind {
        PatchKind::Merge | PatchKind::Apply => json_patch::merge(&mut document, patch),
        PatchKind::Json => {
            let operations: json_patch::Patch = serde_json::from_value(patch.clone())
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            json_patch::patch(&mut document, &operations)
                .map_err(|e| rejected(patch, &e.to_string()))?;
        }
    }
    Ok(document)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use serde_json::json;

    fn headers(content_type: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).unwrap(),
        );
        h
    }

    #[test]
    fn content_types_select_the_patch_format() {
        assert_eq!(
            PatchKind::from_headers(&headers("application/merge-patch+json")).unwrap(),
            PatchKind::Merge
        );
        assert_eq!(
            PatchKind::from_headers(&headers("application/json-patch+json")).unwrap(),
            PatchKind::Json
        );
        assert_eq!(
            PatchKind::from_headers(&headers("application/apply-patch+yaml")).unwrap(),
            PatchKind::Apply
        );
        let strategic = PatchKind::from_headers(&headers("application/strategic-merge-patch+json"))
            .unwrap_err();
        assert_eq!(
            (strategic.code, strategic.reason),
            (415, "UnsupportedMediaType")
        );
    }

    #[test]
    fn patches_apply_like_the_rfcs() {
        let object = json!({"spec": {"a": 1, "b": [1, 2]}});
        let merged = apply(
            PatchKind::Merge,
            &object,
            &json!({"spec": {"a": null, "b": [3]}}),
        )
        .unwrap();
        assert_eq!(merged, json!({"spec": {"b": [3]}}));
        let ops = json!([{"op": "replace", "path": "/spec/a", "value": 2}, {"op": "add", "path": "/spec/b/-", "value": 3}]);
        assert_eq!(
            apply(PatchKind::Json, &object, &ops).unwrap(),
            json!({"spec": {"a": 2, "b": [1, 2, 3]}})
        );
        let failing = json!([{"op": "test", "path": "/spec/a", "value": 5}]);
        assert_eq!(
            apply(PatchKind::Json, &object, &failing).unwrap_err().code,
            422
        );
        let yaml = parse(
            PatchKind::Apply,
            b"apiVersion: v1\nkind: Pod\nspec:\n  a: 3\n",
        )
        .unwrap();
        assert_eq!(yaml["spec"]["a"], 3);
    }
}
