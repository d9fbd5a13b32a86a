//! N concurrent lifecycles (create, start, wait_ready, delete) on one provider: wall time,
//! latencies, this process's peak RSS and CPU, and the provider's watch connections and
//! requests as the fake API server counted them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agentbox::WorkspaceProvider;
use agentbox::contract::Contract;
use agentbox::provider::CreateRequest;
use agentbox_che::CheProvider;
use agentbox_testkit::kube::{RequestCounters, Tally};

use crate::report::{format_dur, percentile, table};
use crate::{BoxError, READY_TIMEOUT, Res};

/// How long one lifecycle took to be ready, and in all.
struct Timing {
    ready: Duration,
    whole: Duration,
}

/// Run `n` lifecycles, at most `concurrency` at a time (0: all at once), and print the figures.
pub async fn run(
    provider: &CheProvider,
    contract: &Contract,
    counters: &RequestCounters,
    n: usize,
    concurrency: usize,
) -> Res<()> {
    let watches_before = counters.client().open_watches;
    counters.reset();
    let peak_reset = reset_peak_rss();
    let rss_before = proc_status_kib("VmRSS:");
    let cpu_before = cpu_time();
    let permits = if concurrency == 0 {
        n.max(1)
    } else {
        concurrency
    };
    let limit = Arc::new(tokio::sync::Semaphore::new(permits));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let (provider, contract, limit) = (provider.clone(), contract.clone(), Arc::clone(&limit));
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await?;
            lifecycle(&provider, &contract, &format!("bench-load-{i:05}")).await
        });
    }
    let (mut timings, mut failures) = (Vec::new(), Vec::new());
    while let Some(joined) = tasks.join_next().await {
        match joined.map_err(BoxError::from).and_then(|r| r) {
            Ok(timing) => timings.push(timing),
            Err(e) => failures.push(e.to_string()),
        }
    }
    let wall = started.elapsed();
    let peak = proc_status_kib("VmHWM:");
    let cpu = cpu_time()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    let counted = counters.snapshot();

    println!();
    let mode = match concurrency {
        0 => "all at once".to_owned(),
        k => format!("at most {k} in flight"),
    };
    println!("## {n} concurrent lifecycles on one provider ({mode})");
    println!();
    println!(
        "create, start, wait_ready, delete; this process also hosts the fake API server, kubelet and controller:"
    );
    println!();
    let mut rows = vec![
        pair("wall time", format_dur(wall)),
        pair(
            "lifecycles completed / failed",
            format!("{} / {}", timings.len(), failures.len()),
        ),
        pair(
            "throughput",
            format!(
                "{:.1} lifecycles/s",
                timings.len() as f64 / wall.as_secs_f64()
            ),
        ),
    ];
    if !timings.is_empty() {
        let ready: Vec<Duration> = timings.iter().map(|t| t.ready).collect();
        let whole: Vec<Duration> = timings.iter().map(|t| t.whole).collect();
        rows.push(pair("create → ready, p50 / p99", p50_p99(&ready)));
        rows.push(pair("whole lifecycle, p50 / p99", p50_p99(&whole)));
    }
    let peak_label = if peak_reset {
        "peak RSS during the run"
    } else {
        "peak RSS since the process started"
    };
    rows.extend([
        pair("RSS before", mib(rss_before)),
        pair(peak_label, mib(peak)),
        pair(
            "CPU time of this process (sandboxes not included)",
            cpu.map_or("unknown".to_owned(), |cpu| {
                format!(
                    "{} ({:.2} cores busy on average)",
                    format_dur(cpu),
                    cpu.as_secs_f64() / wall.as_secs_f64()
                )
            }),
        ),
        pair(
            "provider watch connections: open before / peak during",
            format!("{watches_before} / {}", counted.client.peak_open_watches),
        ),
        pair(
            "provider API requests (per lifecycle)",
            format!(
                "{} ({:.1})",
                counted.client.requests,
                counted.client.requests as f64 / n.max(1) as f64
            ),
        ),
        pair("provider requests", by_request(&counted.client)),
        pair(
            "HTTP statuses answered to the provider",
            by_status(&counted.client),
        ),
        pair(
            "fake kubelet + controller watch connections, peak",
            counted.internal.peak_open_watches.to_string(),
        ),
    ]);
    table(&["figure", "value"], &rows);
    if !failures.is_empty() {
        let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
        for failure in &failures {
            *kinds.entry(failure.as_str()).or_default() += 1;
        }
        println!();
        println!("failures (up to 10 kinds):");
        for (message, count) in kinds.iter().take(10) {
            println!("- {count} × {message}");
        }
    }
    Ok(())
}

/// Create, start, wait for and delete workspace `name`; it is deleted even if it never ran.
async fn lifecycle(provider: &CheProvider, contract: &Contract, name: &str) -> Res<Timing> {
    let begun = Instant::now();
    let ws = provider
        .create(contract, CreateRequest::named(name))
        .await?;
    let ready = async {
        provider.start(&ws.id).await?;
        provider.wait_ready(&ws.id, READY_TIMEOUT).await
    }
    .await;
    let ready_after = begun.elapsed();
    let deleted = provider.delete(&ws.id).await;
    ready?;
    deleted?;
    Ok(Timing {
        ready: ready_after,
        whole: begun.elapsed(),
    })
}

fn pair(figure: &str, value: String) -> Vec<String> {
    vec![figure.to_owned(), value]
}

fn p50_p99(samples: &[Duration]) -> String {
    format!(
        "{} / {}",
        format_dur(percentile(samples, 0.5)),
        format_dur(percentile(samples, 0.99))
    )
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("unknown".to_owned(), |k| {
        format!("{:.1} MiB", k as f64 / 1024.0)
    })
}

fn by_request(tally: &Tally) -> String {
    let parts: Vec<String> = tally
        .by_verb_and_resource
        .iter()
        .map(|((verb, resource), n)| format!("{verb} {resource} {n}"))
        .collect();
    parts.join(", ")
}

fn by_status(tally: &Tally) -> String {
    let parts: Vec<String> = tally
        .by_status
        .iter()
        .map(|(status, n)| format!("{status}: {n}"))
        .collect();
    parts.join(", ")
}

/// Reset the kernel's peak-RSS mark of this process (`VmHWM`); false if it cannot.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// A `kB` field of `/proc/self/status`.
fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// User plus system CPU time of this process, from `/proc/self/stat`.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces): state is the first, utime the
    // twelfth and stime the thirteenth.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let per_second = rustix::param::clock_ticks_per_second();
    (per_second > 0).then(|| Duration::from_secs_f64(ticks as f64 / per_second as f64))
}
