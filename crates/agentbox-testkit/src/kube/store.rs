//! The in-memory object store: one global resourceVersion counter, a bounded event history
//! for watch resumption and consistent paged lists, and a broadcast of every change.

use serde_json::Value;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use tokio::sync::broadcast;

use super::resource::{ResourceId, ResourceType};
use super::status::{ApiError, ApiResult};

/// `(namespace, name)`; the namespace is empty for cluster-scoped kinds.
pub(crate) type ObjectKey = (String, String);

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One change, as kept in the history and broadcast to watches.
#[derive(Debug)]
pub(crate) struct Event {
    pub(crate) rv: u64,
    pub(crate) resource: ResourceId,
    pub(crate) key: ObjectKey,
    pub(crate) kind: EventType,
    /// The object after the change (for `Deleted`: its last state, at the deletion's version).
    pub(crate) object: Arc<Value>,
    /// The object before the change (`None` for `Added`).
    pub(crate) previous: Option<Arc<Value>>,
}

/// Everything the server stores.
#[derive(Debug)]
pub(crate) struct Store {
    rv: u64,
    types: BTreeMap<ResourceId, Arc<ResourceType>>,
    objects: HashMap<ResourceId, BTreeMap<ObjectKey, Arc<Value>>>,
    history: VecDeque<Arc<Event>>,
    history_cap: usize,
    /// Every event at or below this version has left the history.
    compacted: u64,
    events: broadcast::Sender<Arc<Event>>,
}

impl Store {
    pub(crate) fn new(history_cap: usize) -> Self {
        let (events, _) = broadcast::channel(history_cap.max(1024));
        Self {
            rv: 1,
            types: BTreeMap::new(),
            objects: HashMap::new(),
            history: VecDeque::new(),
            history_cap: history_cap.max(1),
            compacted: 1,
            events,
        }
    }

    /// The latest resourceVersion.
    pub(crate) fn rv(&self) -> u64 {
        self.rv
    }

    /// The oldest resourceVersion a watch can resume from.
    pub(crate) fn compacted(&self) -> u64 {
        self.compacted
    }

    pub(crate) fn register(&mut self, kind: Arc<ResourceType>) {
        self.types.insert(kind.id(), kind);
    }

    pub(crate) fn unregister(&mut self, id: &ResourceId) {
        self.types.remove(id);
    }

    pub(crate) fn types(&self) -> impl Iterator<Item = &Arc<ResourceType>> {
        self.types.values()
    }

    /// The kind served at `group/version/plural`.
    pub(crate) fn find(
        &self,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Option<Arc<ResourceType>> {
        self.types
            .get(&(group.to_owned(), plural.to_owned()))
            .filter(|t| t.version(version).is_some())
            .cloned()
    }

    pub(crate) fn get(&self, id: &ResourceId, key: &ObjectKey) -> Option<Arc<Value>> {
        self.objects.get(id)?.get(key).cloned()
    }

    /// Every object of a kind, in key order.
    pub(crate) fn all(&self, id: &ResourceId) -> impl Iterator<Item = (&ObjectKey, &Arc<Value>)> {
        self.objects.get(id).into_iter().flatten()
    }

    /// Keys of every object of any kind in a namespace.
    pub(crate) fn keys_in_namespace(&self, namespace: &str) -> Vec<(ResourceId, ObjectKey)> {
        self.objects
            .iter()
            .flat_map(|(id, objects)| {
                objects
                    .keys()
                    .filter(|(ns, _)| ns == namespace)
                    .map(move |key| (id.clone(), key.clone()))
            })
            .collect()
    }

    /// Every object of any kind whose `ownerReferences` name `uid`.
    pub(crate) fn dependents_of(&self, uid: &str) -> Vec<(ResourceId, ObjectKey)> {
        let owned_by = |object: &Value| {
            object
                .pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .is_some_and(|refs| {
                    refs.iter()
                        .any(|r| r.get("uid").and_then(Value::as_str) == Some(uid))
                })
        };
        self.objects
            .iter()
            .flat_map(|(id, objects)| {
                objects
                    .iter()
                    .filter(|(_, o)| owned_by(o))
                    .map(move |(key, _)| (id.clone(), key.clone()))
            })
            .collect()
    }

    fn next_rv(&mut self, object: &mut Value) -> u64 {
        self.rv += 1;
        super::meta::meta_mut(object)
            .insert("resourceVersion".into(), Value::String(self.rv.to_string()));
        self.rv
    }

    fn record(&mut self, event: Event) {
        let event = Arc::new(event);
        self.history.push_back(event.clone());
        while self.history.len() > self.history_cap {
            if let Some(oldest) = self.history.pop_front() {
                self.compacted = oldest.rv;
            }
        }
        // No receiver means no open watch; nothing to do.
        let _ = self.events.send(event);
    }

    /// Store a new object (its `resourceVersion` is set here).
    pub(crate) fn insert(
        &mut self,
        id: &ResourceId,
        key: ObjectKey,
        mut object: Value,
    ) -> Arc<Value> {
        let rv = self.next_rv(&mut object);
        let object = Arc::new(object);
        self.objects
            .entry(id.clone())
            .or_default()
            .insert(key.clone(), object.clone());
        self.record(Event {
            rv,
            resource: id.clone(),
            key,
            kind: EventType::Added,
            object: object.clone(),
            previous: None,
        });
        object
    }

    /// Replace a stored object (its `resourceVersion` is set here).
    pub(crate) fn replace(
        &mut self,
        id: &ResourceId,
        key: ObjectKey,
        mut object: Value,
    ) -> Arc<Value> {
        let rv = self.next_rv(&mut object);
        let object = Arc::new(object);
        let previous = self
            .objects
            .entry(id.clone())
            .or_default()
            .insert(key.clone(), object.clone());
        self.record(Event {
            rv,
            resource: id.clone(),
            key,
            kind: EventType::Modified,
            object: object.clone(),
            previous,
        });
        object
    }

    /// Remove an object; returns its last state at the deletion's resourceVersion.
    pub(crate) fn remove(&mut self, id: &ResourceId, key: &ObjectKey) -> Option<Arc<Value>> {
        let previous = self.objects.get_mut(id)?.remove(key)?;
        let mut last = (*previous).clone();
        let rv = self.next_rv(&mut last);
        let last = Arc::new(last);
        self.record(Event {
            rv,
            resource: id.clone(),
            key: key.clone(),
            kind: EventType::Deleted,
            object: last.clone(),
            previous: Some(previous),
        });
        Some(last)
    }

    /// Forget the whole history: every resume from an older version gets 410 Gone.
    pub(crate) fn expire_history(&mut self) {
        self.history.clear();
        self.compacted = self.rv;
    }

    /// Subscribe to changes from now on (take it under the same lock as the initial state).
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.events.subscribe()
    }

    fn too_old(&self, rv: u64) -> ApiError {
        ApiError::expired(format!(
            "too old resource version: {rv} ({})",
            self.compacted
        ))
    }

    /// The events after `rv`, for a watch resuming there.
    pub(crate) fn events_after(&self, rv: u64) -> ApiResult<Vec<Arc<Event>>> {
        if rv < self.compacted {
            return Err(self.too_old(rv));
        }
        if rv > self.rv {
            return Err(ApiError::too_large_resource_version(rv, self.rv));
        }
        Ok(self.history.iter().filter(|e| e.rv > rv).cloned().collect())
    }

    /// The objects of a kind as they were at `rv` (now, if `None`), rebuilt from the history.
    pub(crate) fn snapshot(
        &self,
        id: &ResourceId,
        rv: Option<u64>,
    ) -> ApiResult<BTreeMap<ObjectKey, Arc<Value>>> {
        let mut objects = self.objects.get(id).cloned().unwrap_or_default();
        let Some(rv) = rv.filter(|rv| *rv < self.rv) else {
            return Ok(objects);
        };
        for event in self
            .events_after(rv)?
            .iter()
            .rev()
            .filter(|e| &e.resource == id)
        {
            match &event.previous {
                Some(previous) => objects.insert(event.key.clone(), previous.clone()),
                None => objects.remove(&event.key),
            };
        }
        Ok(objects)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id() -> ResourceId {
        ("g".into(), "things".into())
    }

    fn key(name: &str) -> ObjectKey {
        ("ns".into(), name.into())
    }

    #[test]
    fn snapshots_rebuild_past_states_until_the_history_is_gone() {
        let mut store = Store::new(4);
        store.insert(&id(), key("a"), json!({"metadata": {"name": "a"}, "v": 1}));
        let after_a = store.rv();
        store.replace(&id(), key("a"), json!({"metadata": {"name": "a"}, "v": 2}));
        store.insert(&id(), key("b"), json!({"metadata": {"name": "b"}}));
        store.remove(&id(), &key("a"));
        let past = store.snapshot(&id(), Some(after_a)).unwrap();
        assert_eq!(past.keys().cloned().collect::<Vec<_>>(), [key("a")]);
        assert_eq!(past[&key("a")]["v"], 1);
        assert_eq!(store.snapshot(&id(), None).unwrap().len(), 1);
        store.insert(&id(), key("c"), json!({"metadata": {"name": "c"}}));
        assert!(
            store.snapshot(&id(), Some(after_a)).is_ok(),
            "events after {after_a} are all kept"
        );
        store.insert(&id(), key("d"), json!({"metadata": {"name": "d"}}));
        let err = store.snapshot(&id(), Some(after_a)).unwrap_err();
        assert_eq!((err.code, err.reason), (410, "Expired"));
        assert_eq!(store.events_after(store.rv() + 1).unwrap_err().code, 504);
    }
}
