//! Benchmark of the Che backend against the test kit's fake cluster (API server, simulated
//! DevWorkspace Operator, and a kubelet that runs pods as local sandboxes), all in this process.
//! Prints figures; asserts nothing timed.
//!
//! ```sh
//! cargo run --release --example bench_che [-- --lifecycles 1000 --iterations 200 --samples 5]
//! ```
//!
//! It measures, in one run:
//! - API requests of one full lifecycle (create, start, wait, exec, stop, resume, wait,
//!   delete), by verb and resource (`requests.rs`);
//! - readiness: from the controller writing phase `Running` (as a separate raw watch sees it)
//!   to `wait_ready` returning, against a seed-style loop that GETs the workspace every 5 s
//!   (`readiness.rs`);
//! - one-shot exec of `true` against a command in a persistent session, and a raw
//!   `pods/exec` of `true` through kube to show the wrapper's share (`exec.rs`);
//! - 64 MiB through `write_file` / `read_file` against a raw exec piping the same bytes
//!   through `cat`'s stdin / stdout on the same server (`transfer.rs`);
//! - N concurrent lifecycles (create, start, wait, delete) on one provider: wall time, peak
//!   RSS of this process, and the watch connections the provider held open (`load.rs`).
//!
//! Settings come from the flags or, when a flag is absent, from `BENCH_CHE_LIFECYCLES`,
//! `BENCH_CHE_CONCURRENCY`, `BENCH_CHE_ITERATIONS` and `BENCH_CHE_SAMPLES`.
//! `RUST_LOG=agentbox_che=debug` shows the provider's diagnostics on stderr.

mod exec;
mod load;
mod readiness;
mod report;
mod requests;
mod transfer;

use std::time::Duration;

use agentbox::WorkspaceProvider;
use agentbox::contract::{Contract, LoadOptions};
use agentbox::provider::{CreateRequest, WorkspaceInfo};
use agentbox_che::CheProvider;
use agentbox_testkit::kube::FakeCluster;
use clap::Parser;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Res<T> = Result<T, BoxError>;

/// The namespace of every workspace.
const NAMESPACE: &str = "agentbox";
const CONTRACT: &str = "apiVersion: agentbox.dev/v1alpha1
kind: Environment
metadata: { name: bench }
spec:
  image: docker.io/library/debian:12
  storage: { type: per-workspace, mountPath: /projects }
";
/// How long a start or a deletion may take, even at the back of a thousand.
const READY_TIMEOUT: Duration = Duration::from_secs(600);

/// Benchmark the Che backend against the fake cluster.
#[derive(Parser, Debug)]
struct Args {
    /// Concurrent lifecycles (create, start, wait_ready, delete) on one provider [default 1000].
    #[arg(long)]
    lifecycles: Option<usize>,
    /// At most this many lifecycles in flight; 0 starts them all at once [default 0].
    #[arg(long)]
    concurrency: Option<usize>,
    /// Commands per exec latency figure [default 200].
    #[arg(long)]
    iterations: Option<usize>,
    /// Workspaces per readiness figure (the poll loops take ~5 s in all) [default 5].
    #[arg(long)]
    samples: Option<usize>,
    /// The simulated controller's delay before each phase change, in milliseconds.
    #[arg(long, default_value_t = 10)]
    phase_delay_ms: u64,
}

/// The flag, else the environment variable, else the default.
fn setting(flag: Option<usize>, var: &str, default: usize) -> Res<usize> {
    if let Some(value) = flag {
        return Ok(value);
    }
    match std::env::var(var) {
        Ok(text) => text.parse().map_err(|e| {
            format!("{var}={text:?} is not a count ({e}); unset it or pass a number").into()
        }),
        Err(_) => Ok(default),
    }
}

#[tokio::main]
async fn main() -> Res<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let lifecycles = setting(args.lifecycles, "BENCH_CHE_LIFECYCLES", 1000)?;
    let concurrency = setting(args.concurrency, "BENCH_CHE_CONCURRENCY", 0)?;
    let iterations = setting(args.iterations, "BENCH_CHE_ITERATIONS", 200)?.max(1);
    let samples = setting(args.samples, "BENCH_CHE_SAMPLES", 5)?.max(1);
    let phase_delay = Duration::from_millis(args.phase_delay_ms);

    let contract = Contract::from_yaml(CONTRACT, &LoadOptions::default())?;
    let cluster = FakeCluster::builder()
        .namespace(NAMESPACE)
        .phase_delay(phase_delay)
        .start()
        .await?;
    let provider = CheProvider::builder()
        .client(cluster.client())
        .namespace(NAMESPACE)
        .operation_timeout(READY_TIMEOUT)
        .build()
        .await?;
    println!("# agentbox Che backend benchmark (fake cluster, in process)");
    println!();
    println!(
        "host: {} cores; pods run {}; controller phase delay {} ms",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        if on_path("bwrap") {
            "in bubblewrap sandboxes"
        } else {
            "unisolated (no bwrap)"
        },
        phase_delay.as_millis()
    );

    let counters = cluster.server().counters();
    requests::per_lifecycle(&provider, &contract, &counters).await?;
    readiness::run(&cluster, &provider, &contract, samples).await?;

    let ws = provision(&provider, &contract, "bench-exec").await?;
    let executor = provider.executor(&ws.id).await?;
    let pods: Api<Pod> = Api::namespaced(cluster.client(), NAMESPACE);
    let target = exec::RawTarget::of(pods, &ws.name).await?;
    exec::run(executor.as_ref(), &target, iterations).await?;
    transfer::run(executor.as_ref(), &target).await?;
    drop(executor);
    provider.delete(&ws.id).await?;

    load::run(&provider, &contract, &counters, lifecycles, concurrency).await?;
    cluster.shutdown().await;
    Ok(())
}

/// Create, start and wait for workspace `name`.
async fn provision(provider: &CheProvider, contract: &Contract, name: &str) -> Res<WorkspaceInfo> {
    let ws = provider
        .create(contract, CreateRequest::named(name))
        .await?;
    provider.start(&ws.id).await?;
    Ok(provider.wait_ready(&ws.id, READY_TIMEOUT).await?)
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}
