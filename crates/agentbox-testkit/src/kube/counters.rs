//! Request counters: per verb, per resource and per status, split between the client under
//! test and the test kit's own components, plus a gauge of open watches.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

/// The apiserver's request verbs (what RBAC and audit logs call them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Verb {
    /// `GET` of one object, a subresource (e.g. `pods/exec`) or a discovery path.
    Get,
    /// `GET` of a collection.
    List,
    /// `GET` of a collection with `watch=true`.
    Watch,
    /// `POST`.
    Create,
    /// `PUT`.
    Update,
    /// `PATCH`.
    Patch,
    /// `DELETE` of one object.
    Delete,
    /// `DELETE` of a collection.
    DeleteCollection,
}

impl Verb {
    /// The verb's name: `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::List => "list",
            Self::Watch => "watch",
            Self::Create => "create",
            Self::Update => "update",
            Self::Patch => "patch",
            Self::Delete => "delete",
            Self::DeleteCollection => "deletecollection",
        }
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who sent a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caller {
    /// The code under test.
    Client,
    /// The test kit's own kubelet / controller (`User-Agent: agentbox-testkit/…`).
    Internal,
}

/// Counts for one kind of caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Tally {
    /// Every request.
    pub requests: u64,
    /// Requests by verb.
    pub by_verb: BTreeMap<Verb, u64>,
    /// Requests by resource: the plural, with its subresource (`devworkspaces`,
    /// `devworkspaces/status`, `pods/exec`), or the path of a discovery request (`/apis`).
    pub by_resource: BTreeMap<String, u64>,
    /// Requests by verb and resource.
    pub by_verb_and_resource: BTreeMap<(Verb, String), u64>,
    /// Answers by HTTP status (injected faults included).
    pub by_status: BTreeMap<u16, u64>,
    /// Watch streams open now.
    pub open_watches: u64,
    /// The most watch streams open at once since the last reset.
    pub peak_open_watches: u64,
}

impl Tally {
    /// Requests with `verb`.
    pub fn verb(&self, verb: Verb) -> u64 {
        self.by_verb.get(&verb).copied().unwrap_or(0)
    }

    /// Requests for `resource` (e.g. `devworkspaces/status`).
    pub fn resource(&self, resource: &str) -> u64 {
        self.by_resource.get(resource).copied().unwrap_or(0)
    }

    /// Requests with `verb` for `resource`.
    pub fn count(&self, verb: Verb, resource: &str) -> u64 {
        self.by_verb_and_resource
            .get(&(verb, resource.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// Answers with HTTP `status`.
    pub fn status(&self, status: u16) -> u64 {
        self.by_status.get(&status).copied().unwrap_or(0)
    }
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CountersSnapshot {
    /// Requests from the code under test.
    pub client: Tally,
    /// Requests from the test kit's own components (`User-Agent: agentbox-testkit/…`).
    pub internal: Tally,
}

#[derive(Debug, Default)]
struct Tallies {
    client: Tally,
    internal: Tally,
}

impl Tallies {
    fn of(&mut self, caller: Caller) -> &mut Tally {
        match caller {
            Caller::Client => &mut self.client,
            Caller::Internal => &mut self.internal,
        }
    }
}

/// The server's request counters: a cheap, cloneable handle.
#[derive(Debug, Clone, Default)]
pub struct RequestCounters {
    tallies: Arc<Mutex<Tallies>>,
}

impl RequestCounters {
    fn lock(&self) -> MutexGuard<'_, Tallies> {
        // Counts stay meaningful after a panic elsewhere; use them as they are.
        self.tallies.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The counts now.
    pub fn snapshot(&self) -> CountersSnapshot {
        let tallies = self.lock();
        CountersSnapshot {
            client: tallies.client.clone(),
            internal: tallies.internal.clone(),
        }
    }

    /// The client's counts now (shorthand for `snapshot().client`).
    pub fn client(&self) -> Tally {
        self.lock().client.clone()
    }

    /// Zero every count; the open-watch gauges keep their value and the peaks restart from it.
    pub fn reset(&self) {
        let mut tallies = self.lock();
        let Tallies { client, internal } = &mut *tallies;
        for tally in [client, internal] {
            *tally = Tally {
                open_watches: tally.open_watches,
                peak_open_watches: tally.open_watches,
                ..Tally::default()
            };
        }
    }

    pub(crate) fn request(&self, caller: Caller, verb: Verb, resource: &str) {
        let mut tallies = self.lock();
        let tally = tallies.of(caller);
        tally.requests += 1;
        *tally.by_verb.entry(verb).or_default() += 1;
        *tally.by_resource.entry(resource.to_owned()).or_default() += 1;
        *tally
            .by_verb_and_resource
            .entry((verb, resource.to_owned()))
            .or_default() += 1;
    }

    pub(crate) fn answered(&self, caller: Caller, status: u16) {
        *self.lock().of(caller).by_status.entry(status).or_default() += 1;
    }

    /// Count an open watch until the returned guard is dropped.
    pub(crate) fn watch_opened(&self, caller: Caller) -> OpenWatch {
        let mut tallies = self.lock();
        let tally = tallies.of(caller);
        tally.open_watches += 1;
        tally.peak_open_watches = tally.peak_open_watches.max(tally.open_watches);
        OpenWatch {
            counters: self.clone(),
            caller,
        }
    }
}

/// Decrements the open-watch gauge when the watch stream ends.
#[derive(Debug)]
pub(crate) struct OpenWatch {
    counters: RequestCounters,
    caller: Caller,
}

impl Drop for OpenWatch {
    fn drop(&mut self) {
        let mut tallies = self.counters.lock();
        let tally = tallies.of(self.caller);
        tally.open_watches = tally.open_watches.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_split_by_caller_and_gauge_watches() {
        let counters = RequestCounters::default();
        counters.request(Caller::Client, Verb::Get, "pods");
        counters.request(Caller::Internal, Verb::Update, "pods/status");
        counters.answered(Caller::Client, 404);
        let first = counters.watch_opened(Caller::Client);
        let second = counters.watch_opened(Caller::Client);
        drop(first);
        let snapshot = counters.snapshot();
        assert_eq!(snapshot.client.count(Verb::Get, "pods"), 1);
        assert_eq!(snapshot.client.status(404), 1);
        assert_eq!(snapshot.internal.resource("pods/status"), 1);
        assert_eq!(
            (
                snapshot.client.open_watches,
                snapshot.client.peak_open_watches
            ),
            (1, 2)
        );
        counters.reset();
        assert_eq!(counters.client().requests, 0);
        assert_eq!(counters.client().peak_open_watches, 1);
        drop(second);
        assert_eq!(counters.client().open_watches, 0);
    }
}
