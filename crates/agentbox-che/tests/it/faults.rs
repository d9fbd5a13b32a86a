//! Every injected fault ends in success or a typed error, never a hang: 429/5xx bursts, latency,
//! dropped watches, 410 Gone, cut exec streams; and after a chaos run no DevWorkspace is left.
//! Each operation runs under an outer deadline that fails the test if it is ever reached.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use agentbox_che::crd::DevWorkspace;
use agentbox_che::{CheProvider, RetryPolicy};
use agentbox_core::contract::{Contract, LoadOptions};
use agentbox_core::exec::{ExecRequest, ExecutorExt, ExitStatus};
use agentbox_core::provider::{CreateRequest, LabelSelector, WorkspaceId, WorkspaceProvider};
use agentbox_core::{Error, Result};
use agentbox_testkit::behaviour::SUITE_CONTRACT;
use agentbox_testkit::kube::{Burst, FakeCluster};
use kube::api::{Api, ListParams};

const NAMESPACE: &str = "faults";
const READY: Duration = Duration::from_secs(60);
/// Far beyond any deadline of the provider: reaching it means something hung.
const OUTER: Duration = Duration::from_secs(120);

async fn bounded<T>(what: &str, work: impl Future<Output = T>) -> T {
    tokio::time::timeout(OUTER, work)
        .await
        .unwrap_or_else(|_| panic!("{what} hung past {OUTER:?}"))
}

fn contract() -> Contract {
    Contract::from_yaml(SUITE_CONTRACT, &LoadOptions::default()).expect("contract")
}

async fn cluster() -> FakeCluster {
    FakeCluster::builder()
        .namespace(NAMESPACE)
        .start()
        .await
        .expect("fake cluster")
}

/// Quick retries, so bursts are ridden out fast.
fn quick() -> RetryPolicy {
    RetryPolicy {
        min_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(1200),
        ..RetryPolicy::default()
    }
}

async fn provider(cluster: &FakeCluster, policy: RetryPolicy) -> CheProvider {
    CheProvider::builder()
        .client(cluster.client())
        .namespace(NAMESPACE)
        .retry_policy(policy)
        .operation_timeout(Duration::from_secs(60))
        .build()
        .await
        .expect("provider")
}

/// Create, start, wait, run a command, stop, resume, wait, delete.
async fn whole_life(provider: &CheProvider, name: &str) -> Result<()> {
    let info = provider
        .create(&contract(), CreateRequest::named(name))
        .await?;
    let lived = async {
        provider.start(&info.id).await?;
        provider.wait_ready(&info.id, READY).await?;
        let exec = provider.executor(&info.id).await?;
        exec.exec_ok(ExecRequest::new(["sh", "-c", "echo hello > hello.txt"]))
            .await?;
        provider.stop(&info.id).await?;
        provider.resume(&info.id).await?;
        provider.wait_ready(&info.id, READY).await?;
        let exec = provider.executor(&info.id).await?;
        let read = exec.read_bytes("hello.txt").await?;
        assert_eq!(read, b"hello\n", "files survive a stop");
        Ok(())
    }
    .await;
    let deleted = provider.delete(&info.id).await;
    lived.and(deleted)
}

/// DevWorkspaces in the namespace, read directly.
async fn remaining(cluster: &FakeCluster) -> Vec<String> {
    let api: Api<DevWorkspace> = Api::namespaced(cluster.client(), NAMESPACE);
    let listed = api.list(&ListParams::default()).await.expect("list");
    listed
        .items
        .iter()
        .filter_map(|d| d.metadata.name.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_server_errors_are_ridden_out() {
    let cluster = cluster().await;
    let provider = provider(&cluster, quick()).await;
    let faults = cluster.server().faults();
    faults.burst(Burst::new(429, 2));
    faults.burst(Burst::new(500, 3));
    faults.burst(Burst::new(503, 2).retry_after(None));
    faults.burst(Burst::new(504, 2));
    bounded("a life under bursts", whole_life(&provider, "bursts-1"))
        .await
        .expect("every burst is retried away");
    let fired = faults.fired();
    assert_eq!(fired.bursts.get(&429), Some(&2));
    assert_eq!(fired.bursts.get(&500), Some(&3));
    assert!(remaining(&cluster).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_that_do_not_stop_fail_typed_within_the_retry_budget() {
    let cluster = cluster().await;
    let policy = RetryPolicy {
        call_timeout: Duration::from_secs(3),
        ..quick()
    };
    let provider = provider(&cluster, policy).await;
    let faults = cluster.server().faults();

    // kube's client does not retry a 500; the provider's bounded retries run out.
    faults.burst(Burst::new(500, 1000));
    let err = bounded(
        "create under a 500 storm",
        provider.create(&contract(), CreateRequest::named("storm-1")),
    )
    .await
    .expect_err("the retries run out");
    let Error::Backend { message, .. } = &err else {
        panic!("expected a backend error, got {err}");
    };
    assert!(message.contains("500"), "{message}");
    assert_eq!(
        faults.fired().bursts.get(&500),
        Some(&(u64::try_from(quick().retries).unwrap() + 1)),
        "one try and the policy's retries"
    );

    // A 503 is retried by kube's client too; the call's deadline still bounds it.
    faults.clear();
    faults.burst(Burst::new(503, 1000).retry_after(None));
    let err = bounded(
        "create under a 503 storm",
        provider.create(&contract(), CreateRequest::named("storm-2")),
    )
    .await
    .expect_err("the deadline or the retries run out");
    assert!(
        matches!(err, Error::Backend { .. } | Error::Timeout { .. }),
        "{err}"
    );
    faults.clear();
    assert!(remaining(&cluster).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_server_within_the_deadline_is_only_slow() {
    let cluster = cluster().await;
    let provider = provider(&cluster, quick()).await;
    cluster
        .server()
        .faults()
        .latency(Duration::from_millis(100));
    bounded("a life with latency", whole_life(&provider, "slow-1"))
        .await
        .expect("latency below the deadline is harmless");
    assert!(cluster.server().faults().fired().delayed > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_slower_than_the_deadline_is_a_typed_timeout() {
    let cluster = cluster().await;
    let policy = RetryPolicy {
        call_timeout: Duration::from_millis(300),
        ..quick()
    };
    let impatient = provider(&cluster, policy).await;
    cluster.server().faults().latency(Duration::from_secs(2));
    let err = bounded(
        "create against a slow server",
        impatient.create(&contract(), CreateRequest::named("late-1")),
    )
    .await
    .expect_err("the call's deadline passes");
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    let err = bounded(
        "status against a slow server",
        impatient.status(&WorkspaceId::from("late-1")),
    )
    .await
    .expect_err("the call's deadline passes");
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    cluster.server().faults().clear();
    // The create may have landed after its deadline: an orchestrator cleans up by name.
    let relaxed = provider(&cluster, quick()).await;
    relaxed
        .delete(&WorkspaceId::from("late-1"))
        .await
        .expect("cleanup");
    assert!(remaining(&cluster).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_watches_and_410_gone_do_not_lose_a_wait() {
    let cluster = cluster().await;
    let provider = provider(&cluster, quick()).await;
    let faults = cluster.server().faults();
    let info = provider
        .create(&contract(), CreateRequest::named("watch-1"))
        .await
        .expect("create");
    provider.start(&info.id).await.expect("start");
    // The watch is closed after every two events while the workspace starts.
    faults.drop_watches_after(2);
    bounded(
        "ready through dropped watches",
        provider.wait_ready(&info.id, READY),
    )
    .await
    .expect("ready");
    assert!(faults.fired().watches_dropped > 0, "{:?}", faults.fired());

    // Now the history is gone and the next resume is answered 410: the watcher lists again.
    faults.clear();
    faults.expire_history();
    faults.force_gone_once();
    faults.drop_watches_now();
    bounded("stop through a re-list", provider.stop(&info.id))
        .await
        .expect("stop");
    bounded("delete", provider.delete(&info.id))
        .await
        .expect("delete");
    assert!(remaining(&cluster).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_exec_stream_is_unknown_and_its_command_does_not_linger() {
    let cluster = cluster().await;
    let provider = provider(&cluster, quick()).await;
    let info = provider
        .create(&contract(), CreateRequest::named("cut-1"))
        .await
        .expect("create");
    provider.start(&info.id).await.expect("start");
    provider.wait_ready(&info.id, READY).await.expect("ready");
    let exec = provider.executor(&info.id).await.expect("executor");

    cluster.kubelet().cut_next_exec_streams(1000, 1);
    let script = "head -c 100000 /dev/zero; sleep 1; touch survived";
    let out = bounded(
        "a cut command",
        exec.exec(ExecRequest::new(["sh", "-c", script])),
    )
    .await
    .expect("a cut stream still ends");
    assert_eq!(
        out.exit,
        ExitStatus::Unknown,
        "a lost status is never success"
    );
    assert!(out.stdout.len() <= 1000, "{} bytes", out.stdout.len());
    // Had the command outlived its stream, `survived` would appear after a second.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let check = exec
        .exec(ExecRequest::new([
            "sh",
            "-c",
            "test -e survived && echo survived || echo killed",
        ]))
        .await
        .expect("the next exec works");
    assert_eq!(check.stdout_text(), "killed\n");

    // A download cut halfway is an error, not a short file.
    exec.write_bytes("big.bin", vec![7u8; 512 * 1024])
        .await
        .expect("write");
    cluster.kubelet().cut_next_exec_streams(64 * 1024, 1);
    let read = bounded("a cut download", exec.read_bytes("big.bin")).await;
    assert!(
        read.is_err(),
        "a cut download must fail, got {} bytes",
        read.map(|b| b.len()).unwrap_or(0)
    );
    bounded("delete", provider.delete(&info.id))
        .await
        .expect("delete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_chaos_run_no_devworkspace_is_left() {
    let cluster = cluster().await;
    let provider = provider(&cluster, quick()).await;
    let faults = cluster.server().faults();
    let kubelet = cluster.kubelet().clone();
    let stop = Arc::new(AtomicBool::new(false));
    let chaos = {
        let stop = Arc::clone(&stop);
        let faults = faults.clone();
        tokio::spawn(async move {
            // A burst of chaos while the lives run, then calm so they can finish.
            for round in 0..30u64 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                match round % 6 {
                    0 => faults.burst(Burst::new(500, 2)),
                    1 => faults.drop_watches_now(),
                    2 => faults.burst(Burst::new(429, 1)),
                    3 => {
                        faults.force_gone_once();
                        faults.drop_watches_now();
                    }
                    4 => kubelet.cut_next_exec_streams(8, 1),
                    _ => faults.latency(Duration::from_millis((round % 3) * 20)),
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            faults.clear();
        })
    };
    let lives = (0..4).map(|i| {
        let provider = provider.clone();
        async move {
            let name = format!("chaos-{i}");
            let result = bounded("a life under chaos", whole_life(&provider, &name)).await;
            (name, result)
        }
    });
    let results = futures::future::join_all(lives).await;
    stop.store(true, Ordering::Relaxed);
    chaos.await.expect("the chaos task");
    faults.clear();
    cluster.kubelet().clear_exec_faults();

    for (name, result) in &results {
        if let Err(e) = result {
            // A typed error is an acceptable end; the workspace must still go away.
            eprintln!("{name} ended with: {e}");
            bounded(
                "cleanup",
                provider.delete(&WorkspaceId::from(name.as_str())),
            )
            .await
            .expect("cleanup after the faults stopped");
        }
    }
    let fired = faults.fired();
    assert!(
        fired.watches_dropped > 0 && !fired.bursts.is_empty(),
        "the chaos fired: {fired:?}"
    );
    assert!(
        remaining(&cluster).await.is_empty(),
        "left: {:?}",
        remaining(&cluster).await
    );
    let listed = provider.list(&LabelSelector::all()).await.expect("list");
    assert!(listed.is_empty(), "{listed:?}");
}

/// A source that gives `good` bytes, then fails.
struct Failing {
    good: usize,
}

impl tokio::io::AsyncRead for Failing {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.good == 0 {
            return Poll::Ready(Err(std::io::Error::other("the source broke")));
        }
        let n = self.good.min(buf.remaining()).min(4096);
        buf.put_slice(&vec![1u8; n]);
        self.good -= n;
        Poll::Ready(Ok(()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_that_fails_midway_writes_nothing() {
    let cluster = cluster().await;
    let provider = provider(&cluster, quick()).await;
    let info = provider
        .create(&contract(), CreateRequest::named("source-1"))
        .await
        .expect("create");
    provider.start(&info.id).await.expect("start");
    provider.wait_ready(&info.id, READY).await.expect("ready");
    let exec = provider.executor(&info.id).await.expect("executor");
    for good in [0, 3 * 1024 * 1024] {
        let err = bounded(
            "a write from a failing source",
            exec.write_file("broken.bin", Box::new(Failing { good })),
        )
        .await
        .expect_err("the source's failure fails the write");
        assert!(err.to_string().contains("nothing was written"), "{err}");
    }
    let listing = exec
        .exec(ExecRequest::new(["sh", "-c", "ls -A"]))
        .await
        .expect("ls");
    assert_eq!(listing.stdout_text(), "", "no file, no temporary file");
    bounded("delete", provider.delete(&info.id))
        .await
        .expect("delete");
}
