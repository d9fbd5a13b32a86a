//! [`Counters`]: how often each route was called and how many WebSockets were opened.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

/// A snapshot of a fake coderd's request counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    requests: BTreeMap<(String, String), u64>,
    websockets: u64,
}

impl Counters {
    /// Requests with `method` (`GET`, …) on the route template `route`, as the swagger spells
    /// it (`/api/v2/workspaces/{workspace}`); unknown routes count under `*`.
    pub fn requests(&self, method: &str, route: &str) -> u64 {
        self.requests
            .get(&(method.to_owned(), route.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// Every (method, route) with its count.
    pub fn all(&self) -> &BTreeMap<(String, String), u64> {
        &self.requests
    }

    /// All requests, whatever the route.
    pub fn total(&self) -> u64 {
        self.requests.values().sum()
    }

    /// WebSockets upgraded (watch-ws, PTY, followed logs).
    pub fn websockets_opened(&self) -> u64 {
        self.websockets
    }
}

/// The live counters behind [`Counters`].
#[derive(Debug, Default)]
pub(crate) struct CounterSet {
    inner: Mutex<Counters>,
}

impl CounterSet {
    pub fn request(&self, method: &str, route: &str) {
        let mut c = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        *c.requests
            .entry((method.to_owned(), route.to_owned()))
            .or_default() += 1;
    }

    pub fn websocket(&self) {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .websockets += 1;
    }

    pub fn snapshot(&self) -> Counters {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}
