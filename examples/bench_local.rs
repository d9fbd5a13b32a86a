//! Benchmark of the local executor. Prints figures; asserts nothing.
//!
//! ```sh
//! cargo run --release --example bench_local [-- ITERATIONS]
//! ```
//!
//! It measures, in one run:
//! - one-shot exec of `true` through the local executor, sandboxed (bubblewrap) and unisolated,
//!   against a raw `tokio::process` spawn of `true` and of a minimal bubblewrap sandbox running
//!   `true` (to separate bubblewrap's own cost from agentbox's);
//! - a command in a persistent session (sandboxed and unisolated);
//! - 64 MiB through `write_file` / `read_file` against a raw file write, read and copy.

use agentbox::WorkspaceProvider;
use agentbox::contract::{Contract, LoadOptions};
use agentbox::exec::{ExecRequest, ExecutorExt, SessionCommand};
use agentbox::local::{Isolation, LocalProvider};
use agentbox::provider::{CreateRequest, WorkspaceProviderExt};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

const CONTRACT: &str = "apiVersion: agentbox.dev/v1alpha1
kind: Environment
metadata: { name: bench }
spec:
  image: docker.io/library/debian:12
  storage: { type: per-workspace, mountPath: /projects }
";

const FILE_SIZE: usize = 64 * 1024 * 1024;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let iterations: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(300);
    let contract = Contract::from_yaml(CONTRACT, &LoadOptions::default())?;
    let state = tempfile::tempdir()?;
    println!("agentbox local executor benchmark: {iterations} iterations per latency figure");
    println!(
        "host: {} cores; bubblewrap: {}",
        num_cpus(),
        which("bwrap").unwrap_or("missing".into())
    );
    println!();
    println!("{:<52} {:>10} {:>10}", "one-shot `true`", "p50", "p99");

    let raw = latencies(iterations, || async {
        let status = tokio::process::Command::new("true")
            .status()
            .await
            .expect("spawn true");
        assert!(status.success());
    })
    .await;
    row("raw tokio::process spawn", &raw);

    if let Some(bwrap) = which("bwrap") {
        let raw_bwrap = latencies(iterations, || {
            let bwrap = bwrap.clone();
            async move {
                let status = tokio::process::Command::new(bwrap)
                    .args([
                        "--ro-bind",
                        "/",
                        "/",
                        "--dev",
                        "/dev",
                        "--proc",
                        "/proc",
                        "--tmpfs",
                        "/tmp",
                    ])
                    .args([
                        "--unshare-all",
                        "--unshare-pid",
                        "--die-with-parent",
                        "--new-session",
                        "true",
                    ])
                    .status()
                    .await
                    .expect("spawn bwrap");
                assert!(status.success());
            }
        })
        .await;
        row("raw spawn of a minimal bwrap sandbox", &raw_bwrap);
    }

    let mut providers = Vec::new();
    if which("bwrap").is_some() {
        providers.push(("bubblewrap", Isolation::Bubblewrap));
    }
    providers.push(("unisolated", Isolation::None));

    let mut executors = Vec::new();
    for (label, isolation) in &providers {
        let provider = LocalProvider::builder()
            .root(state.path().join(label))
            .isolation(*isolation)
            .build()?;
        let ws = provider
            .provision(
                &contract,
                CreateRequest::named(format!("bench-{label}")),
                Duration::from_secs(30),
            )
            .await?;
        let executor = provider.executor(&ws.id).await?;
        let ex = executor.clone();
        let one_shot = latencies(iterations, || {
            let ex = ex.clone();
            async move {
                ex.exec_ok(ExecRequest::new(["true"]))
                    .await
                    .expect("exec true");
            }
        })
        .await;
        row(&format!("agentbox exec, {label}"), &one_shot);
        executors.push((label.to_string(), provider, ws.id, executor));
    }

    println!();
    println!(
        "{:<52} {:>10} {:>10}",
        "persistent session command `true`", "p50", "p99"
    );
    for (label, _, _, executor) in &executors {
        let mut session = executor.session().await?;
        let command = SessionCommand::script("true");
        let mut samples = Vec::with_capacity(iterations);
        for _ in 0..iterations {
            let started = Instant::now();
            let out = session.run(&command).await?;
            samples.push(started.elapsed());
            assert!(out.exit.success());
        }
        session.close().await?;
        row(&format!("agentbox session, {label}"), &samples);
    }

    println!();
    println!("{:<52} {:>10} {:>10}", "64 MiB transfer", "MiB/s", "time");
    let data = Arc::new(pattern(FILE_SIZE));
    let raw_dir = state.path().join("raw");
    std::fs::create_dir_all(&raw_dir)?;
    let raw_file = raw_dir.join("blob.bin");
    let (took, ()) = timed(async {
        tokio::fs::write(&raw_file, &*data)
            .await
            .expect("raw write")
    })
    .await;
    throughput("raw tokio::fs::write", took);
    let (took, back) = timed(async { tokio::fs::read(&raw_file).await.expect("raw read") }).await;
    assert_eq!(back.len(), FILE_SIZE);
    throughput("raw tokio::fs::read", took);
    let copy_target = raw_dir.join("copy.bin");
    let (took, copied) =
        timed(async { std::fs::copy(&raw_file, &copy_target).expect("raw copy") }).await;
    assert_eq!(copied as usize, FILE_SIZE);
    throughput("raw std::fs::copy", took);

    for (label, _, _, executor) in &executors {
        let source = Box::new(std::io::Cursor::new(data.to_vec()));
        let (took, written) = timed(executor.write_file("blob.bin", source)).await;
        assert_eq!(written?.bytes as usize, FILE_SIZE);
        throughput(&format!("agentbox write_file (with sha256), {label}"), took);
        let (took, back) = timed(async {
            let mut reader = executor.read_file("blob.bin").await?;
            let mut buf = Vec::with_capacity(FILE_SIZE);
            reader
                .read_to_end(&mut buf)
                .await
                .map_err(|e| agentbox::Error::Io {
                    action: "read the benchmark file",
                    path: Path::new("blob.bin").to_path_buf(),
                    source: e,
                })?;
            Ok::<_, agentbox::Error>(buf)
        })
        .await;
        assert!(back? == *data, "read_file returned other bytes");
        throughput(&format!("agentbox read_file, {label}"), took);
    }

    for (_, provider, id, _) in executors {
        provider.delete(&id).await?;
    }
    Ok(())
}

/// Run `f` `n` times (after a few warm-up runs) and return each run's duration.
async fn latencies<F, Fut>(n: usize, f: F) -> Vec<Duration>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..n.min(10) {
        f().await;
    }
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        f().await;
        samples.push(started.elapsed());
    }
    samples
}

async fn timed<T>(f: impl std::future::Future<Output = T>) -> (Duration, T) {
    let started = Instant::now();
    let out = f.await;
    (started.elapsed(), out)
}

fn percentile(samples: &[Duration], p: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn row(label: &str, samples: &[Duration]) {
    println!(
        "{:<52} {:>8.2}ms {:>8.2}ms",
        label,
        percentile(samples, 0.50).as_secs_f64() * 1e3,
        percentile(samples, 0.99).as_secs_f64() * 1e3
    );
}

fn throughput(label: &str, took: Duration) {
    let mib = FILE_SIZE as f64 / (1024.0 * 1024.0);
    println!(
        "{:<52} {:>10.0} {:>8.1}ms",
        label,
        mib / took.as_secs_f64(),
        took.as_secs_f64() * 1e3
    );
}

fn pattern(len: usize) -> Vec<u8> {
    agentbox_testkit::behaviour::files::test_bytes(len, 42)
}

fn which(program: &str) -> Option<String> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
            .map(|p| p.display().to_string())
    })
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
