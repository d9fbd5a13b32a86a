//! Readiness latency: how long after the controller writes phase `Running` the caller knows,
//! through `wait_ready` (the provider's shared watch) and through a seed-style 5 s poll loop.
//!
//! The moment of the change is taken from a separate, plain kube watcher of the namespace
//! (this benchmark's "observer"), which gets the same event from the API server as the
//! provider's watch does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use agentbox::WorkspaceProvider;
use agentbox::contract::Contract;
use agentbox::provider::{CreateRequest, Phase};
use agentbox_che::CheProvider;
use agentbox_testkit::kube::{FakeCluster, devworkspace_resource};
use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::runtime::watcher::Event;
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::{oneshot, watch};

use crate::report::{format_ms, table};
use crate::{BoxError, NAMESPACE, READY_TIMEOUT, Res};

/// The seed's poll period.
const POLL_PERIOD: Duration = Duration::from_secs(5);
/// How long to wait for the observer (to start, or to see a change the provider saw).
const OBSERVER_PATIENCE: Duration = Duration::from_secs(30);
/// The observer's `User-Agent`: the test kit's prefix, so the server counts its requests
/// apart from the provider's.
const OBSERVER_USER_AGENT: &str = "agentbox-testkit/bench-observer";

/// Measure `samples` workspaces each way and print the comparison.
pub async fn run(
    cluster: &FakeCluster,
    provider: &CheProvider,
    contract: &Contract,
    samples: usize,
) -> Res<()> {
    let seen = RunningSeen::default();
    let (listed, listed_rx) = oneshot::channel();
    let client = cluster
        .server()
        .client_with_user_agent(OBSERVER_USER_AGENT)?;
    let _observer = Observer(tokio::spawn(observe(client, seen.clone(), listed)));
    tokio::time::timeout(OBSERVER_PATIENCE, listed_rx)
        .await
        .map_err(|_| "the observer watch did not list DevWorkspaces within 30 s")??;

    let mut ids = Vec::new();
    let (mut watched, mut late) = (Vec::new(), 0);
    for i in 0..samples {
        let ws = provider
            .create(contract, CreateRequest::named(format!("bench-watch-{i}")))
            .await?;
        provider.start(&ws.id).await?;
        let called = Instant::now();
        provider.wait_ready(&ws.id, READY_TIMEOUT).await?;
        let returned = Instant::now();
        let flipped = seen.when(&ws.name).await?;
        if flipped < called {
            late += 1;
        } else {
            watched.push(signed_ms(returned, flipped));
        }
        ids.push(ws.id);
    }

    // A real start takes a time unrelated to the poll tick, so the loops' first ticks are
    // spread evenly over the period; the loops run side by side to keep the run short.
    let polls = (0..samples).map(|i| {
        let offset = POLL_PERIOD.mul_f64((i as f64 + 0.5) / samples as f64);
        let seen = &seen;
        async move {
            let ws = provider
                .create(contract, CreateRequest::named(format!("bench-poll-{i}")))
                .await?;
            provider.start(&ws.id).await?;
            let first = tokio::time::Instant::now() + offset;
            let mut ticks = tokio::time::interval_at(first, POLL_PERIOD);
            loop {
                ticks.tick().await;
                let info = provider.status(&ws.id).await?;
                match info.phase {
                    Phase::Running => break,
                    Phase::Failed => {
                        return Err(format!("`{}` failed: {:?}", ws.name, info.message).into());
                    }
                    _ => {}
                }
            }
            let returned = Instant::now();
            let flipped = seen.when(&ws.name).await?;
            Ok::<_, BoxError>((signed_ms(returned, flipped), ws.id))
        }
    });
    let mut polled = Vec::new();
    for (latency, id) in futures::future::try_join_all(polls).await? {
        polled.push(latency);
        ids.push(id);
    }
    futures::future::try_join_all(ids.iter().map(|id| provider.delete(id))).await?;

    println!();
    println!("## Readiness: controller writes `Running` → the caller knows");
    println!();
    println!("(from when a separate plain kube watch of the namespace saw the phase change)");
    println!();
    table(
        &["method", "samples", "min", "p50", "mean", "max"],
        &[
            summary("`wait_ready` (shared watch)", &watched),
            summary("seed-style GET every 5 s", &polled),
        ],
    );
    println!();
    println!(
        "(both watches get the same event from the server at once, so the watch figure is the provider's cost over a bare watch; below zero, the provider's watch delivered first)"
    );
    if late > 0 {
        println!();
        println!(
            "({late} watch samples dropped: the workspace ran before `wait_ready` was called)"
        );
    }
    Ok(())
}

fn summary(label: &str, ms: &[f64]) -> Vec<String> {
    let mut sorted = ms.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut row = vec![label.to_owned(), sorted.len().to_string()];
    match sorted.len() {
        0 => row.extend(["-"; 4].map(str::to_owned)),
        n => row.extend(
            [
                sorted[0],
                sorted[(n - 1) / 2],
                sorted.iter().sum::<f64>() / n as f64,
                sorted[n - 1],
            ]
            .map(format_ms),
        ),
    }
    row
}

/// Milliseconds from `from` to `to`, negative when `to` came first.
fn signed_ms(to: Instant, from: Instant) -> f64 {
    match to.checked_duration_since(from) {
        Some(d) => d.as_secs_f64() * 1e3,
        None => -(from - to).as_secs_f64() * 1e3,
    }
}

/// The observer's task, stopped when dropped.
struct Observer(tokio::task::JoinHandle<()>);

impl Drop for Observer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// When the observer saw each workspace enter phase `Running`.
#[derive(Clone)]
struct RunningSeen {
    at: Arc<Mutex<HashMap<String, Instant>>>,
    changed: watch::Sender<u64>,
}

impl Default for RunningSeen {
    fn default() -> Self {
        Self {
            at: Arc::default(),
            changed: watch::Sender::new(0),
        }
    }
}

impl RunningSeen {
    fn record(&self, name: String, at: Instant) {
        self.at
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name, at);
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn get(&self, name: &str) -> Option<Instant> {
        self.at
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .copied()
    }

    /// When `name` was seen entering `Running`, waiting for the observer if need be.
    async fn when(&self, name: &str) -> Res<Instant> {
        let mut changes = self.changed.subscribe();
        let wait = async {
            loop {
                if let Some(at) = self.get(name) {
                    return Ok(at);
                }
                changes.changed().await?;
            }
        };
        tokio::time::timeout(OBSERVER_PATIENCE, wait)
            .await
            .map_err(|_| format!("the observer watch never saw `{name}` running"))?
    }
}

/// A plain kube watcher of the namespace's DevWorkspaces: note when each enters `Running`;
/// say on `listed` once the initial list is in.
async fn observe(client: kube::Client, seen: RunningSeen, listed: oneshot::Sender<()>) {
    let api: Api<DynamicObject> = Api::namespaced_with(client, NAMESPACE, &devworkspace_resource());
    let mut listed = Some(listed);
    let mut phases: HashMap<String, String> = HashMap::new();
    let stream = watcher(api, watcher::Config::default()).default_backoff();
    let mut stream = std::pin::pin!(stream);
    while let Some(event) = stream.next().await {
        let now = Instant::now();
        let dw = match event {
            Ok(Event::Apply(dw) | Event::InitApply(dw)) => dw,
            Ok(Event::InitDone) => {
                if let Some(listed) = listed.take() {
                    let _ = listed.send(());
                }
                continue;
            }
            Ok(Event::Init | Event::Delete(_)) => continue,
            Err(e) => {
                eprintln!("the observer watch failed ({e}); retrying");
                continue;
            }
        };
        let (Some(name), Some(phase)) = (dw.metadata.name, dw.data["status"]["phase"].as_str())
        else {
            continue;
        };
        let before = phases.insert(name.clone(), phase.to_owned());
        if phase == "Running" && before.as_deref() != Some("Running") {
            seen.record(name, now);
        }
    }
}
