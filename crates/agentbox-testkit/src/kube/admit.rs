//! What every write goes through before it is stored: the kind's strategy (what a client may
//! set), pruning and defaulting, and validation (schema, metadata, built-in kinds' rules).

use serde_json::{Map, Value};

use super::builtin;
use super::call::{Call, FieldValidation};
use super::meta::{self, NameRule};
use super::resource::{ResourceType, Strategy};
use super::status::{ApiError, ApiResult, Cause};

/// The `metadata` fields only the server sets; an update keeps the stored values.
const SERVER_META: &[&str] = &[
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "namespace",
    "name",
    "selfLink",
];

/// The body must be an object of this request's kind (`apiVersion`/`kind`, when given, match).
pub(crate) fn check_type(call: &Call, object: &Value) -> ApiResult<()> {
    if !object.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request must be a JSON object",
        ));
    }
    match object.get("apiVersion").and_then(Value::as_str) {
        Some(given) if given != call.api_version() => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({given}) does not match the expected API version ({})",
                call.api_version()
            )));
        }
        None if call.kind.strategy == Strategy::Custom => {
            return Err(ApiError::bad_request(format!(
                "Object 'apiVersion' is missing in '{object}'"
            )));
        }
        _ => {}
    }
    match object.get("kind").and_then(Value::as_str) {
        Some(given) if given != call.kind.kind => Err(ApiError::bad_request(format!(
            "the kind in the data ({given}) does not match the expected kind ({})",
            call.kind.kind
        ))),
        None if call.kind.strategy == Strategy::Custom => Err(ApiError::bad_request(format!(
            "Object 'Kind' is missing in '{object}'"
        ))),
        _ => Ok(()),
    }
}

/// The name and namespace in the body, when given, must be the URL's.
pub(crate) fn check_identity(call: &Call, object: &Value) -> ApiResult<()> {
    if let Some(namespace) = meta::meta_str(object, "namespace").filter(|n| !n.is_empty())
        && call.kind.namespaced
        && namespace != call.namespace()
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    if let Some(name) = call.path.name.as_deref() {
        let given = meta::meta_str(object, "name").unwrap_or_default();
        if given != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({given}) does not match the name on the URL ({name})"
            )));
        }
    }
    Ok(())
}

/// Whether objects of this kind carry `metadata.generation`.
fn has_generation(kind: &ResourceType) -> bool {
    kind.strategy != Strategy::Namespace
}

/// Fill in what the server sets on create.
pub(crate) fn prepare_create(call: &Call, object: &mut Value) {
    let namespaced = call.kind.namespaced;
    let namespace = call.namespace().to_owned();
    let meta = meta::meta_mut(object);
    for field in [
        "uid",
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
    ] {
        meta.remove(field);
    }
    let name = meta
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if name.is_empty()
        && let Some(prefix) = meta.get("generateName").and_then(Value::as_str)
        && !prefix.is_empty()
    {
        let generated = format!("{prefix}{}", meta::name_suffix());
        meta.insert("name".into(), Value::String(generated));
    }
    if namespaced {
        meta.insert("namespace".into(), Value::String(namespace));
    } else {
        meta.remove("namespace");
    }
    meta.insert("uid".into(), Value::String(meta::uid()));
    meta.insert("creationTimestamp".into(), Value::String(meta::now()));
    if has_generation(&call.kind) {
        meta.insert("generation".into(), Value::from(1));
    } else {
        meta.remove("generation");
    }
    if call.status_enabled() && call.kind.strategy == Strategy::Custom {
        // Create cannot set status when the status subresource is enabled.
        if let Some(map) = object.as_object_mut() {
            map.remove("status");
        }
    }
    builtin::prepare_create(call.kind.strategy, object);
}

fn take_status(from: &Value, into: &mut Map<String, Value>) {
    match from.get("status") {
        Some(status) => into.insert("status".into(), status.clone()),
        None => into.remove("status"),
    };
}

/// Apply the kind's update strategy: a main-resource write keeps the stored status (when the
/// status subresource is enabled), a status write keeps everything but the status; the
/// server-owned metadata always comes from the stored object; `generation` moves on spec changes.
pub(crate) fn prepare_update(
    call: &Call,
    old: &Value,
    mut new: Value,
    status_write: bool,
) -> Value {
    if status_write {
        let mut merged = old.clone();
        if let Some(map) = merged.as_object_mut() {
            take_status(&new, map);
        }
        new = merged;
    } else {
        if call.status_enabled()
            && let Some(map) = new.as_object_mut()
        {
            take_status(old, map);
        }
        let old_meta = old
            .get("metadata")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let meta = meta::meta_mut(&mut new);
        for field in SERVER_META {
            match old_meta.get(*field) {
                Some(value) => meta.insert((*field).to_owned(), value.clone()),
                None => meta.remove(*field),
            };
        }
    }
    if has_generation(&call.kind) {
        let without = |o: &Value| {
            let mut o = o.clone();
            if let Some(map) = o.as_object_mut() {
                map.remove("metadata");
                map.remove("apiVersion");
                map.remove("kind");
                if call.status_enabled() {
                    map.remove("status");
                }
            }
            o
        };
        let generation = old
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let bumped = if without(old) == without(&new) {
            generation
        } else {
            generation + 1
        };
        meta::meta_mut(&mut new).insert("generation".into(), Value::from(bumped));
    }
    new
}

/// Prune, default and validate an object about to be stored; returns the warnings to send.
pub(crate) fn admit(
    call: &Call,
    object: &mut Value,
    old: Option<&Value>,
) -> ApiResult<Vec<String>> {
    let kind = &call.kind;
    let schema = kind
        .version(&call.path.version)
        .and_then(|v| v.schema.clone());
    let unknown = schema
        .as_ref()
        .map(|s| s.prune_and_default(object))
        .unwrap_or_default();
    let mut warnings = Vec::new();
    if !unknown.is_empty() {
        match call.field_validation()? {
            FieldValidation::Strict => {
                let listed: Vec<String> = unknown
                    .iter()
                    .map(|f| format!("unknown field \"{f}\""))
                    .collect();
                return Err(ApiError::bad_request(format!(
                    "strict decoding error: {}",
                    listed.join(", ")
                )));
            }
            FieldValidation::Warn => {
                warnings.extend(unknown.iter().map(|f| format!("unknown field \"{f}\"")));
            }
            FieldValidation::Ignore => {}
        }
    }
    let rule = if kind.strategy == Strategy::Namespace {
        NameRule::Label
    } else {
        NameRule::Subdomain
    };
    let mut causes: Vec<Cause> = meta::validate(object, rule);
    if let Some(schema) = &schema {
        causes.extend(schema.validate(object));
    }
    match kind.strategy {
        Strategy::Pod => {
            causes.extend(builtin::validate_pod(object));
            if let Some(old) = old {
                causes.extend(builtin::validate_pod_update(old, object));
            }
        }
        Strategy::Definition => {
            if let Err(problems) = ResourceType::from_crd(object) {
                causes.extend(problems);
            }
        }
        Strategy::Custom | Strategy::Namespace => {}
    }
    if let Some(old) = old.filter(|o| meta::is_deleting(o)) {
        let before = meta::finalizers(old);
        let added: Vec<String> = meta::finalizers(object)
            .into_iter()
            .filter(|f| !before.contains(f))
            .collect();
        if !added.is_empty() {
            causes.push(Cause::new(
                "FieldValueForbidden",
                "metadata.finalizers",
                format!("Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers {added:?}"),
            ));
        }
    }
    if causes.is_empty() {
        Ok(warnings)
    } else {
        let name = meta::meta_str(object, "name")
            .unwrap_or_default()
            .to_owned();
        Err(ApiError::invalid(kind.kind_subject(&name), causes))
    }
}
