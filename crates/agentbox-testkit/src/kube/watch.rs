//! `GET …?watch=true`: a chunked stream of JSON lines `{"type": …, "object": …}`.
//!
//! Like the apiserver's watch cache: without a resourceVersion (or with `"0"`, or with
//! `sendInitialEvents=true`) a watch starts with synthetic `ADDED` events for the current
//! objects; with one, it replays the kept history after it, or sends a 410 `ERROR` event
//! ("too old resource version") when the history no longer reaches back that far. Objects that
//! stop matching the selector are sent as `DELETED`, ones that start matching as `ADDED`.
//! Bookmarks (`allowWatchBookmarks=true`) come every bookmark interval; `sendInitialEvents`
//! ends its initial events with a bookmark annotated `k8s.io/initial-events-end`.

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch};
use tokio::time::{Instant, Interval, MissedTickBehavior};

use super::call::Call;
use super::counters::{Caller, OpenWatch};
use super::faults::FaultKnobs;
use super::read;
use super::resource::ResourceId;
use super::selector::Selector;
use super::state::ApiState;
use super::status::{ApiError, ApiResult};
use super::store::{Event, EventType};

/// The apiserver's `--min-request-timeout`: a watch without `timeoutSeconds` lasts this long.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// Which events a watch sends, and how it renders them.
#[derive(Debug)]
struct Filter {
    resource: ResourceId,
    namespace: Option<String>,
    selector: Selector,
    api_version: String,
    kind: String,
}

impl Filter {
    fn line(&self, kind: &str, object: &Value) -> Bytes {
        let mut line =
            serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
        line.push(b'\n');
        Bytes::from(line)
    }

    fn object_line(&self, kind: EventType, object: &Value) -> Bytes {
        let mut object = object.clone();
        object["apiVersion"] = Value::String(self.api_version.clone());
        object["kind"] = Value::String(self.kind.clone());
        self.line(kind.as_str(), &object)
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let mut metadata = json!({"resourceVersion": rv.to_string(), "creationTimestamp": null});
        if initial_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let object =
            json!({"kind": self.kind, "apiVersion": self.api_version, "metadata": metadata});
        self.line("BOOKMARK", &object)
    }

    fn error(&self, error: &ApiError) -> Bytes {
        self.line("ERROR", &error.to_status())
    }

    /// The line this watch sends for a change, if any.
    fn event(&self, event: &Event) -> Option<Bytes> {
        if event.resource != self.resource
            || self.namespace.as_ref().is_some_and(|ns| *ns != event.key.0)
        {
            return None;
        }
        let now = self.selector.matches(&event.object);
        let before = event
            .previous
            .as_ref()
            .is_some_and(|p| self.selector.matches(p));
        let kind = match (event.kind, before, now) {
            (EventType::Added, _, true) => EventType::Added,
            (EventType::Deleted, _, true) => EventType::Deleted,
            (EventType::Modified, true, true) => EventType::Modified,
            (EventType::Modified, false, true) => EventType::Added,
            (EventType::Modified, true, false) => EventType::Deleted,
            _ => return None,
        };
        Some(self.object_line(kind, &event.object))
    }
}

/// A line waiting to be sent; `event` lines count for `drop_watches_after`.
#[derive(Debug)]
struct Pending {
    line: Bytes,
    event: bool,
}

/// One open watch stream.
struct Watching {
    pending: VecDeque<Pending>,
    changes: Option<broadcast::Receiver<Arc<Event>>>,
    filter: Filter,
    last_rv: u64,
    deadline: Instant,
    bookmarks: Option<Interval>,
    faults: Option<FaultKnobs>,
    dropped: watch::Receiver<u64>,
    stopping: watch::Receiver<bool>,
    _open: OpenWatch,
}

impl Watching {
    /// The next chunk, or `None` when the stream ends.
    async fn next(&mut self) -> Option<Bytes> {
        let Self {
            pending,
            changes,
            filter,
            last_rv,
            deadline,
            bookmarks,
            faults,
            dropped,
            stopping,
            ..
        } = self;
        loop {
            if let Some(faults) = faults.as_ref()
                && dropped.has_changed().unwrap_or(true)
            {
                faults.watch_dropped();
                return None;
            }
            if let Some(next) = pending.pop_front() {
                if let (Some(faults), true) = (faults.as_ref(), next.event) {
                    faults.event_delivered();
                }
                return Some(next.line);
            }
            let changes = changes.as_mut()?;
            let bookmark_tick = async {
                match bookmarks.as_mut() {
                    Some(interval) => interval.tick().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                _ = dropped.changed(), if faults.is_some() => {
                    if let Some(faults) = faults.as_ref() {
                        faults.watch_dropped();
                    }
                    return None;
                }
                _ = stopping.changed() => return None,
                () = tokio::time::sleep_until(*deadline) => return None,
                received = changes.recv() => match received {
                    Ok(event) => {
                        *last_rv = event.rv;
                        if let Some(line) = filter.event(&event) {
                            pending.push_back(Pending { line, event: true });
                        }
                    }
                    // A watcher that falls too far behind is closed, as the apiserver closes
                    // slow watchers; the client re-watches from its last resourceVersion.
                    Err(broadcast::error::RecvError::Lagged(_) | broadcast::error::RecvError::Closed) => return None,
                },
                _ = bookmark_tick => {
                    let line = filter.bookmark(*last_rv, false);
                    pending.push_back(Pending { line, event: false });
                }
            }
        }
    }
}

/// Start a watch.
pub(crate) fn watch(state: &ApiState, call: &Call) -> ApiResult<Response> {
    let selector = read::selector(call)?;
    let timeout = match call.query("timeoutSeconds") {
        Some(text) => Duration::from_secs(
            text.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds: {text}")))?,
        ),
        None => DEFAULT_TIMEOUT,
    };
    let bookmarks = call.flag("allowWatchBookmarks");
    let initial_events = call.query("sendInitialEvents") == Some("true");
    let asked = read::parse_rv(call.query("resourceVersion"))?;
    let filter = Filter {
        resource: call.id(),
        namespace: call.path.namespace.clone(),
        selector,
        api_version: call.api_version(),
        kind: call.kind.kind.clone(),
    };
    let client = call.caller == Caller::Client;
    let mut pending = VecDeque::new();
    let store = state.store();
    let last_rv = store.rv();
    let changes = match asked {
        Some(rv) if !initial_events => {
            let forced = client && state.faults.take_gone();
            let replay = if forced {
                Err(ApiError::expired(format!(
                    "too old resource version: {rv} ({})",
                    store.rv()
                )))
            } else {
                store.events_after(rv)
            };
            match replay {
                Ok(events) => {
                    pending.extend(
                        events
                            .iter()
                            .filter_map(|e| filter.event(e))
                            .map(|line| Pending { line, event: true }),
                    );
                    Some(store.subscribe())
                }
                Err(gone) if gone.code == 410 => {
                    pending.push_back(Pending {
                        line: filter.error(&gone),
                        event: false,
                    });
                    None
                }
                Err(other) => return Err(other),
            }
        }
        _ => {
            let current = store.snapshot(&filter.resource, None)?;
            pending.extend(
                current
                    .iter()
                    .filter(|(key, _)| filter.namespace.as_ref().is_none_or(|ns| *ns == key.0))
                    .filter(|(_, object)| filter.selector.matches(object))
                    .map(|(_, object)| Pending {
                        line: filter.object_line(EventType::Added, object),
                        event: true,
                    }),
            );
            if initial_events && bookmarks {
                pending.push_back(Pending {
                    line: filter.bookmark(last_rv, true),
                    event: false,
                });
            }
            Some(store.subscribe())
        }
    };
    drop(store);
    let bookmarks = bookmarks.then(|| {
        let mut interval = tokio::time::interval_at(
            Instant::now() + state.bookmark_interval,
            state.bookmark_interval,
        );
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        interval
    });
    let watching = Watching {
        pending,
        changes,
        filter,
        last_rv,
        deadline: Instant::now() + timeout,
        bookmarks,
        faults: client.then(|| state.faults.clone()),
        dropped: state.faults.drop_signal(),
        stopping: state.stopping.clone(),
        _open: state.counters.watch_opened(call.caller),
    };
    let stream = futures::stream::unfold(watching, |mut watching| async move {
        let chunk = watching.next().await?;
        Some((Ok::<_, Infallible>(chunk), watching))
    });
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(stream),
    )
        .into_response())
}
