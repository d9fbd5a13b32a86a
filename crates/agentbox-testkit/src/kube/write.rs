//! `POST` (create), `PUT` (update), `PATCH` and `pods/{name}/binding`.

use serde_json::{Value, json};
use std::sync::Arc;

use super::admit;
use super::call::{Call, Reply};
use super::lifecycle;
use super::meta;
use super::patch::{self, PatchKind};
use super::resource::{ResourceType, Strategy};
use super::state::ApiState;
use super::status::{ApiError, ApiResult, Subject};
use super::store::Store;

fn namespace_subject(name: &str) -> Subject<'_> {
    Subject {
        group: "",
        resource: "namespaces",
        name,
    }
}

/// A namespaced object can only be created in a namespace that exists and is not terminating.
fn check_namespace(store: &Store, call: &Call, name: &str) -> ApiResult<()> {
    if !call.kind.namespaced {
        return Ok(());
    }
    let key = (String::new(), call.namespace().to_owned());
    match store.get(&(String::new(), "namespaces".to_owned()), &key) {
        None => Err(ApiError::not_found(namespace_subject(call.namespace()))),
        Some(ns) if meta::is_deleting(&ns) => Err(ApiError::forbidden(
            call.kind.subject(name),
            &format!(
                "unable to create new content in namespace {} because it is being terminated",
                call.namespace()
            ),
        )),
        Some(_) => Ok(()),
    }
}

/// Store a new object (after admission), registering a CRD's kind when it is one.
fn insert(store: &mut Store, call: &Call, object: Value) -> ApiResult<Arc<Value>> {
    let name = meta::meta_str(&object, "name")
        .unwrap_or_default()
        .to_owned();
    check_namespace(store, call, &name)?;
    let key = (call.namespace().to_owned(), name.clone());
    if store.get(&call.id(), &key).is_some() {
        return Err(ApiError::already_exists(call.kind.subject(&name)));
    }
    if call.dry_run() {
        return Ok(Arc::new(object));
    }
    let definition = match call.kind.strategy {
        Strategy::Definition => Some(register_definition(store, &object)?),
        _ => None,
    };
    let stored = store.insert(&call.id(), key, object);
    if let Some(kind) = definition {
        store.register(Arc::new(kind));
    }
    Ok(stored)
}

fn register_definition(store: &Store, crd: &Value) -> ApiResult<ResourceType> {
    let kind = ResourceType::from_crd(crd).map_err(|causes| {
        let name = meta::meta_str(crd, "name").unwrap_or_default();
        ApiError::invalid(
            Subject {
                group: "apiextensions.k8s.io",
                resource: "CustomResourceDefinition",
                name,
            },
            causes,
        )
    })?;
    let builtin = store
        .types()
        .any(|t| t.id() == kind.id() && t.strategy != Strategy::Custom);
    if builtin {
        return Err(ApiError::bad_request(format!(
            "{}.{} is a built-in resource and cannot be redefined",
            kind.plural, kind.group
        )));
    }
    Ok(kind)
}

/// `POST` to a collection.
pub(crate) fn create(state: &ApiState, call: &Call) -> ApiResult<Reply> {
    let object = call.json_body()?;
    create_object(state, call, object)
}

fn create_object(state: &ApiState, call: &Call, mut object: Value) -> ApiResult<Reply> {
    admit::check_type(call, &object)?;
    admit::check_identity(call, &object)?;
    admit::prepare_create(call, &mut object);
    let warnings = admit::admit(call, &mut object, None)?;
    let stored = insert(&mut state.store(), call, object)?;
    Ok(Reply::created(call.render(&stored)).warn(warnings))
}

/// The stored object a write applies to, and the resourceVersion precondition.
fn current(store: &Store, call: &Call) -> ApiResult<Arc<Value>> {
    store
        .get(&call.id(), &call.key())
        .ok_or_else(|| ApiError::not_found(call.kind.subject(call.name())))
}

fn check_preconditions(call: &Call, old: &Value, new: &Value, required: bool) -> ApiResult<()> {
    let asked = meta::meta_str(new, "resourceVersion").filter(|rv| !rv.is_empty());
    match asked {
        None if required => {
            let cause = super::status::Cause::new(
                "FieldValueInvalid",
                "metadata.resourceVersion",
                "Invalid value: 0x0: must be specified for an update",
            );
            return Err(ApiError::invalid(
                call.kind.kind_subject(call.name()),
                vec![cause],
            ));
        }
        Some(rv) if Some(rv) != meta::meta_str(old, "resourceVersion") => {
            return Err(ApiError::conflict(call.kind.subject(call.name())));
        }
        _ => {}
    }
    if let Some(uid) = meta::meta_str(new, "uid").filter(|u| !u.is_empty())
        && Some(uid) != meta::meta_str(old, "uid")
    {
        let why = format!(
            "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
            meta::meta_str(old, "uid").unwrap_or_default()
        );
        return Err(ApiError::conflict_because(
            call.kind.subject(call.name()),
            &why,
        ));
    }
    Ok(())
}

/// Admit and store an updated object; a write that changes nothing is not stored (no new
/// resourceVersion, no event), as with etcd.
fn commit_update(
    store: &mut Store,
    call: &Call,
    old: &Value,
    new: Value,
    status_write: bool,
) -> ApiResult<Reply> {
    let mut new = admit::prepare_update(call, old, new, status_write);
    let warnings = admit::admit(call, &mut new, Some(old))?;
    let same = {
        let strip = |o: &Value| {
            let mut o = o.clone();
            if let Some(meta) = o.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.remove("resourceVersion");
            }
            o
        };
        strip(old) == strip(&new)
    };
    if same {
        return Ok(Reply::ok(call.render(old)).warn(warnings));
    }
    if call.dry_run() {
        return Ok(Reply::ok(call.render(&new)).warn(warnings));
    }
    let id = call.id();
    if lifecycle::finalized(&new) {
        // The last finalizer went: the object is deleted, not updated (one DELETED event).
        let last = lifecycle::remove(store, &id, &call.key()).unwrap_or_else(|| Arc::new(new));
        return Ok(Reply::ok(call.render(&last)).warn(warnings));
    }
    let redefined = match call.kind.strategy {
        Strategy::Definition => Some(register_definition(store, &new)?),
        _ => None,
    };
    let stored = store.replace(&id, call.key(), new);
    if let Some(kind) = redefined {
        store.register(Arc::new(kind));
    }
    Ok(Reply::ok(call.render(&stored)).warn(warnings))
}

/// `PUT` of an object or of its `status`.
pub(crate) fn update(state: &ApiState, call: &Call, status_write: bool) -> ApiResult<Reply> {
    let new = call.json_body()?;
    admit::check_type(call, &new)?;
    admit::check_identity(call, &new)?;
    let mut store = state.store();
    let old = current(&store, call)?;
    check_preconditions(call, &old, &new, !call.kind.unconditional_update())?;
    commit_update(&mut store, call, &old, new, status_write)
}

/// `PATCH` of an object or of its `status`; server-side apply creates a missing object.
pub(crate) fn patch(state: &ApiState, call: &Call, status_write: bool) -> ApiResult<Reply> {
    let kind = PatchKind::from_headers(&call.headers)?;
    if kind == PatchKind::Apply && call.query("fieldManager").is_none() {
        let cause = super::status::Cause::new(
            "FieldValueRequired",
            "fieldManager",
            "Required value: is required for apply patch",
        );
        return Err(ApiError::invalid(
            Subject {
                group: "meta.k8s.io",
                resource: "PatchOptions",
                name: "",
            },
            vec![cause],
        ));
    }
    let body = patch::parse(kind, &call.body)?;
    let mut store = state.store();
    let Some(old) = store.get(&call.id(), &call.key()) else {
        if kind == PatchKind::Apply && !status_write {
            drop(store);
            admit::check_identity(call, &body)?;
            return create_object(state, call, body);
        }
        return Err(ApiError::not_found(call.kind.subject(call.name())));
    };
    let new = patch::apply(kind, &call.render(&old), &body)?;
    admit::check_identity(call, &new)?;
    check_preconditions(call, &old, &new, false)?;
    commit_update(&mut store, call, &old, new, status_write)
}

/// `POST pods/{name}/binding`: assign a pod to a node (once), as the scheduler does.
pub(crate) fn bind(state: &ApiState, call: &Call) -> ApiResult<Reply> {
    let binding = call.json_body()?;
    let node = binding
        .pointer("/target/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if node.is_empty() {
        let cause =
            super::status::Cause::new("FieldValueRequired", "target.name", "Required value");
        return Err(ApiError::invalid(
            Subject {
                group: "",
                resource: "Binding",
                name: call.name(),
            },
            vec![cause],
        ));
    }
    let mut store = state.store();
    let old = current(&store, call)?;
    let assigned = old
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !assigned.is_empty() {
        let why = format!(
            "pod {} is already assigned to node \"{assigned}\"",
            call.name()
        );
        return Err(ApiError::conflict_because(
            call.kind.subject(call.name()),
            &why,
        ));
    }
    if meta::is_deleting(&old) {
        let why = format!(
            "pod {} is being deleted, cannot be assigned to a host",
            call.name()
        );
        return Err(ApiError::conflict_because(
            call.kind.subject(call.name()),
            &why,
        ));
    }
    let mut bound = (*old).clone();
    bound["spec"]["nodeName"] = Value::String(node.to_owned());
    if !call.dry_run() {
        store.replace(&call.id(), call.key(), bound);
    }
    Ok(Reply {
        status: axum::http::StatusCode::CREATED,
        body: json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
        warnings: Vec::new(),
    })
}
