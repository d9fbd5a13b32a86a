//! Fault injection: error bursts, latency, dropped watches and expired resourceVersions.
//!
//! Faults hit only the code under test: requests whose `User-Agent` starts with
//! [`INTERNAL_USER_AGENT_PREFIX`](super::INTERNAL_USER_AGENT_PREFIX) (the test kit's own
//! kubelet and controller) are exempt, so a fault never breaks the simulated cluster itself.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;

use super::counters::Verb;
use super::store::Store;

/// The next `count` requests (not watches) answer with an error `status` instead of being served.
///
/// ```
/// use agentbox_testkit::kube::{Burst, Verb};
/// // Three 429s with `Retry-After: 1`, as the apiserver's priority-and-fairness sends them:
/// let throttled = Burst::new(429, 3);
/// // Two 500s, only for updates and patches:
/// let failing = Burst::new(500, 2).verbs([Verb::Update, Verb::Patch]);
/// # let _ = (throttled, failing);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Burst {
    status: u16,
    remaining: u64,
    retry_after: Option<u32>,
    verbs: Vec<Verb>,
}

impl Burst {
    /// `count` answers with `status` (429, 500, 503, 504, …). A 429 carries `Retry-After: 1`
    /// like the apiserver's priority-and-fairness; other statuses carry none (see
    /// [`retry_after`](Self::retry_after)).
    pub fn new(status: u16, count: u64) -> Self {
        Self {
            status,
            remaining: count,
            retry_after: (status == 429).then_some(1),
            verbs: Vec::new(),
        }
    }

    /// The `Retry-After` header (seconds) and `details.retryAfterSeconds`; `None` sends neither.
    pub fn retry_after(mut self, seconds: Option<u32>) -> Self {
        self.retry_after = seconds;
        self
    }

    /// Only requests with one of these verbs are hit (default: every verb but `watch`).
    pub fn verbs(mut self, verbs: impl IntoIterator<Item = Verb>) -> Self {
        self.verbs = verbs.into_iter().collect();
        self
    }

    fn applies_to(&self, verb: Verb) -> bool {
        verb != Verb::Watch && (self.verbs.is_empty() || self.verbs.contains(&verb))
    }
}

/// How many injected faults took effect, so a test can assert that its fault fired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FaultsFired {
    /// Error answers sent, by HTTP status.
    pub bursts: BTreeMap<u16, u64>,
    /// Watch streams closed by [`FaultKnobs::drop_watches_now`] / [`FaultKnobs::drop_watches_after`].
    pub watches_dropped: u64,
    /// Watches answered with 410 Gone by [`FaultKnobs::force_gone_once`].
    pub gone: u64,
    /// Requests delayed by [`FaultKnobs::latency`].
    pub delayed: u64,
}

#[derive(Debug, Default)]
struct Knobs {
    bursts: VecDeque<Burst>,
    drop_after: Option<u64>,
    gone: u64,
    fired: FaultsFired,
}

#[derive(Debug)]
struct Shared {
    knobs: Mutex<Knobs>,
    latency_ms: AtomicU64,
    drop_epoch: watch::Sender<u64>,
}

/// The server's fault knobs: a cheap, cloneable handle; every knob is off by default.
#[derive(Debug, Clone)]
pub struct FaultKnobs {
    shared: Arc<Shared>,
    store: Arc<Mutex<Store>>,
}

impl FaultKnobs {
    pub(crate) fn new(store: Arc<Mutex<Store>>) -> Self {
        Self {
            shared: Arc::new(Shared {
                knobs: Mutex::default(),
                latency_ms: AtomicU64::new(0),
                drop_epoch: watch::Sender::new(0),
            }),
            store,
        }
    }

    fn knobs(&self) -> MutexGuard<'_, Knobs> {
        // Counters and queues stay meaningful after a panic elsewhere; use them as they are.
        self.shared.knobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queue a burst of error answers; bursts queued together are served one after another.
    pub fn burst(&self, burst: Burst) {
        self.knobs().bursts.push_back(burst);
    }

    /// Delay every request by `delay` before serving it (`Duration::ZERO` turns it off).
    pub fn latency(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.shared.latency_ms.store(ms, Ordering::Relaxed);
    }

    /// Close every open watch stream now, the way an apiserver restart or a load balancer
    /// does; clients see the stream end and must re-watch from their last resourceVersion.
    pub fn drop_watches_now(&self) {
        self.shared.drop_epoch.send_modify(|epoch| *epoch += 1);
    }

    /// Close every open watch stream once `events` more watch events have been delivered.
    pub fn drop_watches_after(&self, events: u64) {
        if events == 0 {
            self.knobs().drop_after = None;
            self.drop_watches_now();
        } else {
            self.knobs().drop_after = Some(events);
        }
    }

    /// Answer the next watch that resumes from a resourceVersion with a 410 Gone `ERROR`
    /// event ("too old resource version"), whatever the history still holds.
    pub fn force_gone_once(&self) {
        self.knobs().gone += 1;
    }

    /// Forget the event history now: every watch resuming from an older resourceVersion, and
    /// every list continuing from an older continue token, gets 410 Gone.
    pub fn expire_history(&self) {
        self.store
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .expire_history();
    }

    /// Turn every knob off (what already fired stays counted).
    pub fn clear(&self) {
        let mut knobs = self.knobs();
        knobs.bursts.clear();
        knobs.drop_after = None;
        knobs.gone = 0;
        drop(knobs);
        self.latency(Duration::ZERO);
    }

    /// What fired so far.
    pub fn fired(&self) -> FaultsFired {
        self.knobs().fired.clone()
    }

    /// The error a request with `verb` gets now, if a burst applies: `(status, retry_after)`.
    pub(crate) fn take_burst(&self, verb: Verb) -> Option<(u16, Option<u32>)> {
        let mut knobs = self.knobs();
        let index = knobs.bursts.iter().position(|b| b.applies_to(verb))?;
        let burst = &mut knobs.bursts[index];
        burst.remaining = burst.remaining.saturating_sub(1);
        let answer = (burst.status, burst.retry_after);
        if burst.remaining == 0 {
            knobs.bursts.remove(index);
        }
        *knobs.fired.bursts.entry(answer.0).or_default() += 1;
        Some(answer)
    }

    /// The delay to add to a request, counted when non-zero.
    pub(crate) fn take_latency(&self) -> Duration {
        let ms = self.shared.latency_ms.load(Ordering::Relaxed);
        if ms > 0 {
            self.knobs().fired.delayed += 1;
        }
        Duration::from_millis(ms)
    }

    /// Whether this watch must get a forced 410.
    pub(crate) fn take_gone(&self) -> bool {
        let mut knobs = self.knobs();
        if knobs.gone == 0 {
            return false;
        }
        knobs.gone -= 1;
        knobs.fired.gone += 1;
        true
    }

    /// Changes whenever watches must be dropped.
    pub(crate) fn drop_signal(&self) -> watch::Receiver<u64> {
        self.shared.drop_epoch.subscribe()
    }

    /// A client watch delivered one event; drops every watch when the countdown runs out.
    pub(crate) fn event_delivered(&self) {
        let mut knobs = self.knobs();
        let Some(left) = knobs.drop_after.as_mut() else {
            return;
        };
        *left = left.saturating_sub(1);
        if *left == 0 {
            knobs.drop_after = None;
            drop(knobs);
            self.drop_watches_now();
        }
    }

    /// A watch stream was closed by a drop.
    pub(crate) fn watch_dropped(&self) {
        self.knobs().fired.watches_dropped += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn knobs() -> FaultKnobs {
        FaultKnobs::new(Arc::new(Mutex::new(Store::new(10))))
    }

    #[test]
    fn bursts_are_served_in_order_and_by_verb() {
        let faults = knobs();
        faults.burst(Burst::new(500, 1).verbs([Verb::Update]));
        faults.burst(Burst::new(429, 2));
        assert_eq!(faults.take_burst(Verb::Watch), None);
        assert_eq!(faults.take_burst(Verb::Get), Some((429, Some(1))));
        assert_eq!(faults.take_burst(Verb::Update), Some((500, None)));
        assert_eq!(faults.take_burst(Verb::Update), Some((429, Some(1))));
        assert_eq!(faults.take_burst(Verb::Get), None);
        assert_eq!(faults.fired().bursts, BTreeMap::from([(429, 2), (500, 1)]));
    }

    #[test]
    fn drop_after_counts_down_then_signals() {
        let faults = knobs();
        let signal = faults.drop_signal();
        faults.drop_watches_after(2);
        faults.event_delivered();
        assert!(!signal.has_changed().unwrap());
        faults.event_delivered();
        assert!(signal.has_changed().unwrap());
    }
}
