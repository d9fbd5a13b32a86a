//! Exec round trips of `true`: agentbox's one-shot exec, a command in its persistent session,
//! and a bare `pods/exec` through kube (no wrapper script) for reference.

use std::time::{Duration, Instant};

use agentbox::exec::{ExecRequest, Executor, ExecutorExt, SessionCommand};
use agentbox_testkit::kube::LABEL_NAME;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::api::{Api, AttachParams, ListParams};

use crate::Res;
use crate::report::{format_dur, percentile, table};

/// Warm-up calls before each latency figure.
const WARM_UP: usize = 10;

/// A workspace's pod and container, for raw `pods/exec` calls.
pub struct RawTarget {
    pub pods: Api<Pod>,
    pub pod: String,
    pub container: String,
}

impl RawTarget {
    /// The running pod of workspace `name` and its first container.
    pub async fn of(pods: Api<Pod>, name: &str) -> Res<Self> {
        let listed = pods
            .list(&ListParams::default().labels(&format!("{LABEL_NAME}={name}")))
            .await?;
        let pod = listed
            .items
            .into_iter()
            .find(|p| p.metadata.deletion_timestamp.is_none())
            .ok_or_else(|| format!("workspace `{name}` has no pod"))?;
        let container = pod
            .spec
            .as_ref()
            .and_then(|s| s.containers.first())
            .map(|c| c.name.clone())
            .ok_or_else(|| format!("the pod of `{name}` has no container"))?;
        let pod = pod
            .metadata
            .name
            .ok_or_else(|| format!("the pod of `{name}` has no name"))?;
        Ok(Self {
            pods,
            pod,
            container,
        })
    }

    /// Attach to `argv` in the container.
    pub async fn attach(
        &self,
        argv: &[&str],
        params: AttachParams,
    ) -> Res<kube::api::AttachedProcess> {
        let params = params.container(self.container.clone());
        Ok(self
            .pods
            .exec(&self.pod, argv.iter().copied(), &params)
            .await?)
    }

    /// Run `true` and wait for its status.
    async fn exec_true(&self) -> Res<()> {
        let params = AttachParams::default().stdout(true).stderr(true);
        let mut attached = self.attach(&["true"], params).await?;
        let status = attached
            .take_status()
            .ok_or("the exec has no status channel")?;
        let status = status.await;
        attached.join().await?;
        check_status(status, "true")
    }
}

/// Whether the final status of a raw exec of `what` says it succeeded.
pub fn check_status(status: Option<Status>, what: &str) -> Res<()> {
    match status {
        Some(s) if s.status.as_deref() == Some("Success") => Ok(()),
        other => Err(format!("the raw exec of `{what}` did not succeed: {other:?}").into()),
    }
}

/// Measure each way `iterations` times and print the comparison.
pub async fn run(executor: &dyn Executor, raw: &RawTarget, iterations: usize) -> Res<()> {
    let one_shot = latencies(iterations, || async {
        executor.exec_ok(ExecRequest::new(["true"])).await?;
        Ok(())
    })
    .await?;

    let mut session = executor.session().await?;
    let command = SessionCommand::script("true");
    let mut in_session = Vec::with_capacity(iterations);
    for i in 0..WARM_UP + iterations {
        let started = Instant::now();
        let out = session.run(&command).await?;
        if i >= WARM_UP {
            in_session.push(started.elapsed());
        }
        if !out.exit.success() {
            return Err(format!("`true` in the session ended {}", out.exit).into());
        }
    }
    session.close().await?;

    let bare = latencies(iterations, || raw.exec_true()).await?;

    println!();
    println!("## Exec round trip, `true` ({iterations} iterations after {WARM_UP} warm-ups)");
    println!();
    table(
        &["command", "p50", "p90", "p99", "max"],
        &[
            row("agentbox one-shot `exec`", &one_shot),
            row("agentbox persistent session `run`", &in_session),
            row("raw kube `pods/exec` (no wrapper, for reference)", &bare),
        ],
    );
    Ok(())
}

fn row(label: &str, samples: &[Duration]) -> Vec<String> {
    let mut row = vec![label.to_owned()];
    row.extend([0.5, 0.9, 0.99, 1.0].map(|p| format_dur(percentile(samples, p))));
    row
}

/// Call `f` `n` times after the warm-up calls and return each call's duration.
async fn latencies<F, Fut>(n: usize, mut f: F) -> Res<Vec<Duration>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Res<()>>,
{
    for _ in 0..WARM_UP {
        f().await?;
    }
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        f().await?;
        samples.push(started.elapsed());
    }
    Ok(samples)
}
