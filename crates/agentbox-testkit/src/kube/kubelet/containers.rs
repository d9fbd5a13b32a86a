//! Running a pod's containers: an init container to completion, a main container's process
//! in the background, with their states reported as the kubelet reports them.

use std::sync::Arc;

use agentbox_core::Executor;
use agentbox_core::exec::{ExecChunk, ExecRequest, ExitStatus};
use agentbox_local::LocalExecutor;
use chrono::Utc;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Container;

use super::pod::{PodRuntime, Prepared};
use super::status::ContainerState;

/// How much of a failed container's output becomes its termination message (the kubelet's
/// `FallbackToLogsOnError` keeps the last 80 lines or 2 KiB).
const TERMINATION_MESSAGE_BYTES: usize = 2048;

/// A container ID in the runtime's `<type>://<id>` form.
fn container_id() -> String {
    format!("agentbox-local://{}", uuid::Uuid::new_v4().simple())
}

/// Run an init container to completion; `true` when it succeeded.
pub(super) async fn run_init(
    client: &::kube::Client,
    runtime: &PodRuntime,
    container: &Container,
    prepared: Prepared,
) -> bool {
    let started_at = Utc::now();
    let id = container_id();
    runtime
        .report(client, |status| {
            if let Some(c) = status.container_mut(&container.name) {
                c.state = ContainerState::Running { started_at };
                c.container_id = Some(id);
            }
        })
        .await;
    let (exit_code, message) = if prepared.argv.is_empty() {
        (0, None)
    } else {
        let request = prepared.container.request(prepared.argv);
        run_to_end(runtime, &prepared.container.executor, request).await
    };
    let terminated = ContainerState::Terminated {
        exit_code,
        reason: if exit_code == 0 { "Completed" } else { "Error" }.into(),
        message: (exit_code != 0).then_some(message).flatten(),
        started_at,
        finished_at: Utc::now(),
    };
    if exit_code == 0 {
        runtime.set_state(client, &container.name, terminated).await;
        return true;
    }
    tracing::info!(pod = %runtime.name, container = %container.name, exit_code, "init container failed");
    let backoff = format!(
        "back-off 10s restarting failed container={} pod={}_{}({})",
        container.name, runtime.name, runtime.namespace, runtime.uid
    );
    runtime
        .report(client, |status| {
            if let Some(c) = status.container_mut(&container.name) {
                c.last_state = Some(terminated);
                c.restart_count += 1;
                c.state = ContainerState::waiting("CrashLoopBackOff", Some(backoff));
            }
        })
        .await;
    false
}

/// Run `request` to its end (or until the pod is killed), keeping the tail of its output;
/// the exit code (128+N for a signal, -1 when unknown) and that tail.
async fn run_to_end(
    runtime: &PodRuntime,
    executor: &LocalExecutor,
    request: ExecRequest,
) -> (i32, Option<String>) {
    let program = request.argv.first().cloned().unwrap_or_default();
    let mut stream = match executor.exec_stream(request).await {
        Ok(stream) => stream,
        Err(e) => return (128, Some(format!("failed to start `{program}`: {e}"))),
    };
    let collect = async move {
        let mut tail: Vec<u8> = Vec::new();
        let mut exit = ExitStatus::Unknown;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(ExecChunk::Stdout(b) | ExecChunk::Stderr(b)) => {
                    tail.extend_from_slice(&b);
                    let excess = tail.len().saturating_sub(TERMINATION_MESSAGE_BYTES);
                    tail.drain(..excess);
                }
                Ok(ExecChunk::Exit(status)) => {
                    exit = status;
                    break;
                }
                Err(e) => {
                    tail.extend_from_slice(e.to_string().as_bytes());
                    break;
                }
            }
        }
        let code = match exit {
            ExitStatus::Code(c) => c,
            ExitStatus::Signal(s) => 128 + s,
            _ => -1,
        };
        let message = String::from_utf8_lossy(&tail).trim().to_owned();
        (code, (!message.is_empty()).then_some(message))
    };
    // Dropping the stream (when the pod is killed) kills the process.
    tokio::select! {
        ended = runtime.tasks.track_future(collect) => ended,
        () = runtime.token.cancelled() => (137, None),
    }
}

/// Start a main container: its process, when it has one, runs in the background until it
/// ends (then the container waits in `CrashLoopBackOff`) or the pod is killed.
pub(super) async fn start_main(
    client: &::kube::Client,
    runtime: &Arc<PodRuntime>,
    name: &str,
    prepared: Prepared,
) {
    let started_at = Utc::now();
    let id = container_id();
    runtime.set_running(name, Some(prepared.container.clone()));
    runtime
        .report(client, |status| {
            if let Some(c) = status.container_mut(name) {
                c.state = ContainerState::Running { started_at };
                c.container_id = Some(id);
            }
        })
        .await;
    if prepared.argv.is_empty() {
        return;
    }
    let (client, runtime_arc, name) = (client.clone(), Arc::clone(runtime), name.to_owned());
    runtime.tasks.spawn(async move {
        let runtime = runtime_arc;
        let request = prepared.container.request(prepared.argv);
        let (exit_code, message) =
            run_to_end(&runtime, &prepared.container.executor, request).await;
        if runtime.token.is_cancelled() {
            return;
        }
        runtime.set_running(&name, None);
        tracing::info!(pod = %runtime.name, container = %name, exit_code, "container exited");
        let backoff = format!(
            "back-off 10s restarting failed container={name} pod={}_{}({})",
            runtime.name, runtime.namespace, runtime.uid
        );
        runtime
            .report(&client, |status| {
                if let Some(c) = status.container_mut(&name) {
                    c.last_state = Some(ContainerState::Terminated {
                        exit_code,
                        reason: if exit_code == 0 { "Completed" } else { "Error" }.into(),
                        message: (exit_code != 0).then_some(message).flatten(),
                        started_at,
                        finished_at: Utc::now(),
                    });
                    c.restart_count += 1;
                    c.state = ContainerState::waiting("CrashLoopBackOff", Some(backoff));
                }
            })
            .await;
    });
}
