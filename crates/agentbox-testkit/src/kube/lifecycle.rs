//! Deletion as the apiserver and the controller-manager do it together: finalizers keep an
//! object (with `deletionTimestamp`) until they are removed, bound pods are deleted gracefully
//! (the kubelet confirms with a grace period of 0), owners' dependents are garbage-collected
//! (`propagationPolicy` Background, Foreground or Orphan), and a deleted namespace is emptied
//! before it goes.

use serde_json::{Value, json};
use std::sync::Arc;

use super::meta;
use super::resource::{ResourceId, ResourceType, Strategy};
use super::store::{ObjectKey, Store};

/// The finalizer a Foreground deletion puts on the owner until its dependents are gone.
const FOREGROUND: &str = "foregroundDeletion";

/// `propagationPolicy` of a delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Propagation {
    Background,
    Foreground,
    Orphan,
}

/// What a DELETE asked for (from `DeleteOptions` and the query).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DeleteRequest {
    pub(crate) grace_seconds: Option<i64>,
    pub(crate) propagation: Propagation,
}

impl Default for DeleteRequest {
    fn default() -> Self {
        Self {
            grace_seconds: None,
            propagation: Propagation::Background,
        }
    }
}

fn namespaces() -> ResourceId {
    (String::new(), "namespaces".to_owned())
}

fn kind_of(store: &Store, id: &ResourceId) -> Option<Arc<ResourceType>> {
    store.types().find(|t| &t.id() == id).cloned()
}

/// Delete an object: mark it (finalizers, graceful pods, namespaces) or remove it now.
/// Returns the object's state afterwards (its last state when removed).
pub(crate) fn delete(
    store: &mut Store,
    id: &ResourceId,
    key: &ObjectKey,
    request: DeleteRequest,
) -> Option<Arc<Value>> {
    let current = store.get(id, key)?;
    let kind = kind_of(store, id)?;
    let bound_pod = kind.strategy == Strategy::Pod
        && current
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty());
    let grace = if bound_pod {
        request.grace_seconds.unwrap_or_else(|| {
            current
                .pointer("/spec/terminationGracePeriodSeconds")
                .and_then(Value::as_i64)
                .unwrap_or(30)
        })
    } else {
        0
    };
    let finalizers = meta::finalizers(&current);
    if meta::is_deleting(&current) {
        // A second delete can only shorten a pod's grace period; 0 removes it (the kubelet's confirmation).
        let pending_grace = current
            .pointer("/metadata/deletionGracePeriodSeconds")
            .and_then(Value::as_i64);
        if bound_pod && grace == 0 && finalizers.is_empty() && pending_grace.unwrap_or(0) > 0 {
            return remove(store, id, key);
        }
        return Some(current);
    }
    let uid = meta::meta_str(&current, "uid")
        .unwrap_or_default()
        .to_owned();
    if request.propagation == Propagation::Orphan {
        orphan_dependents(store, &uid);
    }
    let foreground =
        request.propagation == Propagation::Foreground && !store.dependents_of(&uid).is_empty();
    let namespace = kind.strategy == Strategy::Namespace;
    if finalizers.is_empty() && grace == 0 && !foreground && !namespace {
        return remove(store, id, key);
    }
    let mut marked = (*current).clone();
    let meta = meta::meta_mut(&mut marked);
    meta.insert(
        "deletionTimestamp".into(),
        Value::String(meta::now_plus(grace)),
    );
    meta.insert("deletionGracePeriodSeconds".into(), Value::from(grace));
    if foreground {
        let mut list = finalizers.clone();
        list.push(FOREGROUND.to_owned());
        meta.insert("finalizers".into(), json!(list));
    }
    if namespace {
        marked["status"] = json!({"phase": "Terminating"});
    }
    let marked = store.replace(id, key.clone(), marked);
    if foreground {
        for (dependent_id, dependent_key) in store.dependents_of(&uid) {
            delete(
                store,
                &dependent_id,
                &dependent_key,
                DeleteRequest::default(),
            );
        }
    }
    if namespace {
        for (object_id, object_key) in store.keys_in_namespace(&key.1) {
            delete(store, &object_id, &object_key, DeleteRequest::default());
        }
        return finish_namespace(store, &key.1).or(Some(marked));
    }
    if foreground {
        return release_foreground(store, id, key).or(Some(marked));
    }
    Some(marked)
}

/// Whether an update leaves an object being deleted with nothing holding it: no finalizer
/// left, and not a pod still in its grace period. The apiserver then deletes it instead of
/// storing the update.
pub(crate) fn finalized(object: &Value) -> bool {
    let grace = object
        .pointer("/metadata/deletionGracePeriodSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    meta::is_deleting(object) && meta::finalizers(object).is_empty() && grace == 0
}

fn removed_if_finalized(store: &mut Store, id: &ResourceId, key: &ObjectKey) -> Option<Arc<Value>> {
    let current = store.get(id, key)?;
    if finalized(&current) {
        return remove(store, id, key);
    }
    None
}

/// Remove an object for good, then collect what depended on it.
pub(crate) fn remove(store: &mut Store, id: &ResourceId, key: &ObjectKey) -> Option<Arc<Value>> {
    let last = store.remove(id, key)?;
    let kind = kind_of(store, id);
    if kind
        .as_ref()
        .is_some_and(|k| k.strategy == Strategy::Definition)
    {
        drop_definition(store, &last);
    }
    let uid = meta::meta_str(&last, "uid").unwrap_or_default().to_owned();
    for (dependent_id, dependent_key) in store.dependents_of(&uid) {
        delete(
            store,
            &dependent_id,
            &dependent_key,
            DeleteRequest::default(),
        );
    }
    let owners: Vec<String> = last
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map(|refs| {
            refs.iter()
                .filter_map(|r| r.get("uid").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    for owner in owners {
        let found = find_by_uid(store, &owner);
        if let Some((owner_id, owner_key)) = found {
            release_foreground(store, &owner_id, &owner_key);
        }
    }
    if !key.0.is_empty() {
        finish_namespace(store, &key.0);
    }
    Some(last)
}

fn find_by_uid(store: &Store, uid: &str) -> Option<(ResourceId, ObjectKey)> {
    store.types().find_map(|kind| {
        let id = kind.id();
        store
            .all(&id)
            .find(|(_, o)| meta::meta_str(o, "uid") == Some(uid))
            .map(|(key, _)| (id.clone(), key.clone()))
    })
}

/// A Foreground-deleted owner without dependents left loses its `foregroundDeletion` finalizer.
fn release_foreground(store: &mut Store, id: &ResourceId, key: &ObjectKey) -> Option<Arc<Value>> {
    let owner = store.get(id, key)?;
    let finalizers = meta::finalizers(&owner);
    let uid = meta::meta_str(&owner, "uid").unwrap_or_default();
    if !finalizers.iter().any(|f| f == FOREGROUND) || !store.dependents_of(uid).is_empty() {
        return None;
    }
    let mut released = (*owner).clone();
    let rest: Vec<&String> = finalizers.iter().filter(|f| *f != FOREGROUND).collect();
    meta::meta_mut(&mut released).insert("finalizers".into(), json!(rest));
    store.replace(id, key.clone(), released);
    removed_if_finalized(store, id, key)
}

/// Orphan deletion: dependents lose their owner reference instead of being deleted.
fn orphan_dependents(store: &mut Store, uid: &str) {
    for (id, key) in store.dependents_of(uid) {
        let Some(dependent) = store.get(&id, &key) else {
            continue;
        };
        let mut orphaned = (*dependent).clone();
        if let Some(refs) = orphaned
            .pointer_mut("/metadata/ownerReferences")
            .and_then(Value::as_array_mut)
        {
            refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(uid));
        }
        store.replace(&id, key, orphaned);
    }
}

/// A terminating namespace goes once it is empty.
fn finish_namespace(store: &mut Store, namespace: &str) -> Option<Arc<Value>> {
    let key = (String::new(), namespace.to_owned());
    let ns = store.get(&namespaces(), &key)?;
    if !meta::is_deleting(&ns)
        || !meta::finalizers(&ns).is_empty()
        || !store.keys_in_namespace(namespace).is_empty()
    {
        return None;
    }
    store.remove(&namespaces(), &key)
}

/// A CustomResourceDefinition went: its objects go with it and its kind is no longer served.
fn drop_definition(store: &mut Store, crd: &Value) {
    let group = crd
        .pointer("/spec/group")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let plural = crd
        .pointer("/spec/names/plural")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let id = (group.to_owned(), plural.to_owned());
    let keys: Vec<ObjectKey> = store.all(&id).map(|(k, _)| k.clone()).collect();
    for key in keys {
        store.remove(&id, &key);
    }
    store.unregister(&id);
}
