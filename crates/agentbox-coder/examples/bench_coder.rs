//! Figures for the Coder backend against the test kit's fake coderd (commands run in local
//! bubblewrap sandboxes behind a real pseudo-terminal): one-shot command vs session latency,
//! file throughput through the PTY, and the API requests one workspace lifecycle costs.
//! Prints figures, asserts nothing.
//!
//! ```sh
//! cargo run -p agentbox-coder --release --example bench_coder
//! ```

use std::time::{Duration, Instant};

use agentbox_coder::{CoderClient, CoderProvider};
use agentbox_core::contract::{Contract, LoadOptions};
use agentbox_core::exec::{ExecRequest, ExecutorExt, SessionCommand};
use agentbox_core::provider::{CreateRequest, WorkspaceProvider, WorkspaceProviderExt};
use agentbox_testkit::coder::{Counters, FakeCoderd};

const RUNS: usize = 40;
const FILE: usize = 8 * 1024 * 1024;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let coderd = FakeCoderd::builder()
        .mount_path("/projects")
        .start()
        .await?;
    let client = CoderClient::new(&coderd.url(), coderd.token())?;
    let provider = CoderProvider::builder(client, "agentbox").build();
    let contract = Contract::from_yaml(
        "apiVersion: agentbox.dev/v1alpha1\nkind: Environment\nmetadata: { name: bench }\nspec: { image: debian:12 }\n",
        &LoadOptions::default(),
    )?;
    let ready = Duration::from_secs(60);

    // API requests of one lifecycle: create, ready, stop, start, ready, delete.
    let before = coderd.counters();
    let ws = provider
        .provision(&contract, CreateRequest::named("bench-life"), ready)
        .await?;
    provider.stop(&ws.id).await?;
    provider.start(&ws.id).await?;
    provider.wait_ready(&ws.id, ready).await?;
    provider.delete(&ws.id).await?;
    let after = coderd.counters();
    println!("API per lifecycle (create, ready, stop, start, ready, delete):");
    print_counts(&before, &after);

    let ws = provider
        .provision(&contract, CreateRequest::named("bench-exec"), ready)
        .await?;
    let exec = provider.executor(&ws.id).await?;

    let mut one_shot = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let started = Instant::now();
        exec.exec_ok(ExecRequest::new(["true"])).await?;
        one_shot.push(started.elapsed());
    }
    let mut session = exec.session().await?;
    let mut in_session = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let started = Instant::now();
        let out = session.run(&SessionCommand::script("true")).await?;
        assert!(out.exit.success());
        in_session.push(started.elapsed());
    }
    session.close().await?;
    println!("command latency, p50 of {RUNS}:");
    println!("  one-shot PTY   {:>8.1} ms", p50(&mut one_shot));
    println!("  session        {:>8.1} ms", p50(&mut in_session));

    let data: Vec<u8> = (0..FILE)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8)
        .collect();
    let started = Instant::now();
    exec.write_bytes("bench.bin", data.clone()).await?;
    let up = started.elapsed();
    let started = Instant::now();
    let back = exec.read_bytes("bench.bin").await?;
    let down = started.elapsed();
    assert!(back == data, "the file came back changed");
    let mib = FILE as f64 / (1024.0 * 1024.0);
    println!("files through the PTY ({mib:.0} MiB, base64):");
    println!("  upload         {:>8.1} MiB/s", mib / up.as_secs_f64());
    println!("  download       {:>8.1} MiB/s", mib / down.as_secs_f64());

    provider.delete(&ws.id).await?;
    coderd.shutdown().await;
    Ok(())
}

fn p50(samples: &mut [Duration]) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1000.0
}

fn print_counts(before: &Counters, after: &Counters) {
    let mut total = 0;
    for ((method, route), n) in after.all() {
        let was = before.requests(method, route);
        if *n > was {
            println!("  {:>3} {method:<4} {route}", n - was);
            total += n - was;
        }
    }
    println!(
        "  {total:>3} requests, {} WebSockets",
        after.websockets_opened() - before.websockets_opened()
    );
}
