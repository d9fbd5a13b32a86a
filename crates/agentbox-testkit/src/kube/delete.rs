//! `DELETE` of one object and of a collection.

use serde_json::{Value, json};

use super::call::{Call, Reply};
use super::lifecycle::{self, DeleteRequest, Propagation};
use super::meta;
use super::read;
use super::state::ApiState;
use super::status::{ApiError, ApiResult};

/// `DeleteOptions` from the body (if any) and the query.
fn options(call: &Call) -> ApiResult<(DeleteRequest, Value)> {
    let body: Value = if call.body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        call.json_body()?
    };
    let grace =
        match call.query("gracePeriodSeconds") {
            Some(text) => Some(text.parse::<i64>().map_err(|_| {
                ApiError::bad_request(format!("invalid gracePeriodSeconds: {text}"))
            })?),
            None => body.get("gracePeriodSeconds").and_then(Value::as_i64),
        };
    let policy = call
        .query("propagationPolicy")
        .map(str::to_owned)
        .or_else(|| {
            body.get("propagationPolicy")
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
    let orphan = body.get("orphanDependents").and_then(Value::as_bool) == Some(true)
        || call.query("orphanDependents") == Some("true");
    let propagation = match policy.as_deref() {
        None if orphan => Propagation::Orphan,
        None | Some("Background") => Propagation::Background,
        Some("Foreground") => Propagation::Foreground,
        Some("Orphan") => Propagation::Orphan,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "propagationPolicy must be one of Orphan, Background or Foreground, not \"{other}\""
            )));
        }
    };
    let preconditions = body.get("preconditions").cloned().unwrap_or(Value::Null);
    Ok((
        DeleteRequest {
            grace_seconds: grace,
            propagation,
        },
        preconditions,
    ))
}

fn check_preconditions(call: &Call, current: &Value, preconditions: &Value) -> ApiResult<()> {
    for (field, label) in [("uid", "UID"), ("resourceVersion", "ResourceVersion")] {
        if let Some(wanted) = preconditions.get(field).and_then(Value::as_str)
            && Some(wanted) != meta::meta_str(current, field)
        {
            let why = format!(
                "Precondition failed: {label} in precondition: {wanted}, {label} in object meta: {}",
                meta::meta_str(current, field).unwrap_or_default()
            );
            return Err(ApiError::conflict_because(
                call.kind.subject(call.name()),
                &why,
            ));
        }
    }
    Ok(())
}

/// `DELETE` of one object: answers with the object, marked for deletion or in its last state.
pub(crate) fn delete(state: &ApiState, call: &Call) -> ApiResult<Reply> {
    let (request, preconditions) = options(call)?;
    let mut store = state.store();
    let current = store
        .get(&call.id(), &call.key())
        .ok_or_else(|| ApiError::not_found(call.kind.subject(call.name())))?;
    check_preconditions(call, &current, &preconditions)?;
    if call.dry_run() {
        return Ok(Reply::ok(call.render(&current)));
    }
    let result = lifecycle::delete(&mut store, &call.id(), &call.key(), request).unwrap_or(current);
    Ok(Reply::ok(call.render(&result)))
}

/// `DELETE` of a collection: every object matching the selectors, answered as a list.
pub(crate) fn delete_collection(state: &ApiState, call: &Call) -> ApiResult<Reply> {
    let (request, _) = options(call)?;
    let selector = read::selector(call)?;
    let mut store = state.store();
    let namespace = call.path.namespace.as_deref();
    let keys: Vec<_> = store
        .all(&call.id())
        .filter(|(key, _)| namespace.is_none_or(|ns| key.0 == ns))
        .filter(|(_, object)| selector.matches(object))
        .map(|(key, _)| key.clone())
        .collect();
    let mut items = Vec::new();
    for key in keys {
        let result = if call.dry_run() {
            store.get(&call.id(), &key)
        } else {
            lifecycle::delete(&mut store, &call.id(), &key, request)
        };
        items.extend(result.map(|o| call.render_item(&o)));
    }
    Ok(Reply::ok(json!({
        "kind": call.kind.list_kind,
        "apiVersion": call.api_version(),
        "metadata": {"resourceVersion": store.rv().to_string()},
        "items": items,
    })))
}
