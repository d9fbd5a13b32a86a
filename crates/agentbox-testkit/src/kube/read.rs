//! `GET` of one object and of a collection (selectors, `limit`/`continue`, resourceVersion semantics).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::builtin;
use super::call::{Call, Reply};
use super::selector::Selector;
use super::state::ApiState;
use super::status::{ApiError, ApiResult};
use super::store::{ObjectKey, Store};

const CONTINUE_TOO_OLD: &str = "The provided continue parameter is too old to display a consistent list result. \
You can start a new list without the continue parameter, or use the continue token in this response to retrieve \
the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that \
were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

/// Parse a `resourceVersion` query value; empty and `"0"` mean "any/latest".
pub(crate) fn parse_rv(value: Option<&str>) -> ApiResult<Option<u64>> {
    match value {
        None | Some("0") => Ok(None),
        Some(text) => text
            .parse::<u64>()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("invalid resource version: {text}"))),
    }
}

/// The selector of a list or watch request.
pub(crate) fn selector(call: &Call) -> ApiResult<Selector> {
    Selector::parse(
        call.query("labelSelector"),
        call.query("fieldSelector"),
        builtin::selectable_fields(call.kind.strategy),
    )
}

/// `GET` of one object.
pub(crate) fn get(state: &ApiState, call: &Call) -> ApiResult<Reply> {
    let store = state.store();
    if let Some(asked) = parse_rv(call.query("resourceVersion"))?
        && asked > store.rv()
    {
        return Err(ApiError::too_large_resource_version(asked, store.rv()));
    }
    let object = store
        .get(&call.id(), &call.key())
        .ok_or_else(|| ApiError::not_found(call.kind.subject(call.name())))?;
    Ok(Reply::ok(call.render(&object)))
}

fn encode_continue(rv: u64, after: &ObjectKey) -> String {
    let token =
        json!({"v": "meta.k8s.io/v1", "rv": rv, "start": format!("{}/{}\u{0}", after.0, after.1)});
    URL_SAFE_NO_PAD.encode(token.to_string())
}

fn decode_continue(token: &str) -> ApiResult<(u64, ObjectKey)> {
    let invalid = |why: &str| ApiError::bad_request(format!("continue key is not valid: {why}"));
    let bytes = URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|_| invalid("not base64"))?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| invalid("not JSON"))?;
    let rv = value
        .get("rv")
        .and_then(Value::as_u64)
        .ok_or_else(|| invalid("no resource version"))?;
    let start = value
        .get("start")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("no start key"))?;
    let (namespace, name) = start
        .trim_end_matches('\u{0}')
        .split_once('/')
        .ok_or_else(|| invalid("malformed start key"))?;
    Ok((rv, (namespace.to_owned(), name.to_owned())))
}

/// The resourceVersion a list is served at, and the key to start after.
fn list_point(store: &Store, call: &Call) -> ApiResult<(u64, Option<ObjectKey>)> {
    if let Some(token) = call.query("continue") {
        let (rv, after) = decode_continue(token)?;
        if rv < store.compacted() {
            return Err(ApiError::expired(CONTINUE_TOO_OLD));
        }
        return Ok((rv, Some(after)));
    }
    let asked = parse_rv(call.query("resourceVersion"))?;
    match (asked, call.query("resourceVersionMatch")) {
        (Some(rv), Some("Exact")) => Ok((rv, None)),
        (Some(rv), _) if rv > store.rv() => {
            Err(ApiError::too_large_resource_version(rv, store.rv()))
        }
        _ => Ok((store.rv(), None)),
    }
}

/// `GET` of a collection (not a watch).
pub(crate) fn list(state: &ApiState, call: &Call) -> ApiResult<Reply> {
    let selector = selector(call)?;
    let limit = match call.query("limit") {
        None => None,
        Some(text) => Some(
            text.parse::<usize>()
                .map_err(|_| ApiError::bad_request(format!("invalid limit: {text}")))?,
        ),
    }
    .filter(|l| *l > 0);
    let store = state.store();
    let (rv, after) = list_point(&store, call)?;
    let snapshot = store.snapshot(&call.id(), Some(rv)).map_err(|e| {
        if e.code == 410 {
            ApiError::expired(format!(
                "The resourceVersion for the provided list is too old: {e}",
                e = e.message
            ))
        } else {
            e
        }
    })?;
    drop(store);
    let namespace = call.path.namespace.as_deref();
    let matching: Vec<(&ObjectKey, &std::sync::Arc<Value>)> = snapshot
        .iter()
        .filter(|(key, _)| namespace.is_none_or(|ns| key.0 == ns))
        .filter(|(key, _)| after.as_ref().is_none_or(|after| *key > after))
        .filter(|(_, object)| selector.matches(object))
        .collect();
    let page = limit.map_or(matching.len(), |l| l.min(matching.len()));
    let items: Vec<Value> = matching[..page]
        .iter()
        .map(|(_, o)| call.render_item(o))
        .collect();
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if page < matching.len() {
        metadata["continue"] = json!(encode_continue(rv, matching[page - 1].0));
        if selector.is_empty() {
            metadata["remainingItemCount"] = json!(matching.len() - page);
        }
    }
    Ok(Reply::ok(json!({
        "kind": call.kind.list_kind,
        "apiVersion": call.api_version(),
        "metadata": metadata,
        "items": items,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip() {
        let key = ("ns".to_owned(), "a-b".to_owned());
        assert_eq!(
            decode_continue(&encode_continue(42, &key)).unwrap(),
            (42, key)
        );
        assert_eq!(decode_continue("!!").unwrap_err().code, 400);
    }
}
