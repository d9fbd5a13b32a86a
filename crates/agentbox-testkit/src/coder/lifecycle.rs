//! Workspace builds: queuing one, and the task that takes it through its job's states
//! (`pending → running → succeeded | failed | canceled`), does the work on the backing local
//! workspace, and then brings the new agent up (`connecting/created → connected/starting →
//! connected/ready`, or `start_error`). Every change is published to the workspace's watchers.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;
use tokio::sync::watch;
use tracing::Instrument;
use uuid::Uuid;

use super::backing::WORKDIR;
use super::state::Shared;
use super::store::{
    AgentLogRec, AgentRec, AgentStatus, BuildRec, JobRec, JobStatus, Lifecycle, ResourceRec, Store,
    Transition,
};

/// What a new build is.
#[derive(Debug)]
pub(crate) struct NewBuild {
    pub transition: Transition,
    pub template_version_id: Uuid,
    pub parameters: BTreeMap<String, String>,
}

/// Add a pending build to `workspace` (the caller checked that none is active) and return its
/// id; [`run`] must then be spawned for it. The one-shot faults are taken here, so they apply
/// to exactly this build.
pub(crate) fn insert_build(
    shared: &Shared,
    store: &mut Store,
    workspace: Uuid,
    new: NewBuild,
) -> Option<Uuid> {
    let now = Utc::now();
    let w = store.workspace_mut(workspace)?;
    let planned_failure = shared.faults.take_build_failure();
    let planned_start_error =
        new.transition == Transition::Start && shared.faults.take_agent_start_error();
    let id = Uuid::new_v4();
    let number = i32::try_from(w.builds.len() + 1).unwrap_or(i32::MAX);
    w.builds.push(id);
    w.parameters = new.parameters.clone();
    store.builds.insert(
        id,
        BuildRec {
            id,
            workspace_id: workspace,
            number,
            transition: new.transition,
            template_version_id: new.template_version_id,
            created_at: now,
            updated_at: now,
            deadline: None,
            job: JobRec {
                id: Uuid::new_v4(),
                file_id: Uuid::new_v4(),
                created_at: now,
                started_at: None,
                completed_at: None,
                canceled_at: None,
                status: JobStatus::Pending,
                error: None,
                logs: Vec::new(),
            },
            resources: Vec::new(),
            parameters: new.parameters,
            planned_failure,
            planned_start_error,
            cancel: watch::Sender::new(false),
        },
    );
    Some(id)
}

/// Why a build stopped waiting.
enum Interrupt {
    Canceled,
    Shutdown,
}

/// Take build `build` of `workspace` through its life.
pub(crate) async fn run(shared: Arc<Shared>, workspace: Uuid, build: Uuid) {
    let span = tracing::info_span!("coder_build", %workspace, %build);
    async {
        match drive(&shared, workspace, build).await {
            Ok(()) => {}
            Err(Interrupt::Canceled) => finish_canceled(&shared, workspace, build),
            Err(Interrupt::Shutdown) => tracing::debug!("build abandoned: the server stopped"),
        }
    }
    .instrument(span)
    .await
}

async fn wait(
    shared: &Shared,
    duration: std::time::Duration,
    cancel: &mut watch::Receiver<bool>,
) -> Result<(), Interrupt> {
    tokio::select! {
        () = tokio::time::sleep(duration) => Ok(()),
        _ = cancel.wait_for(|c| *c) => Err(Interrupt::Canceled),
        () = shared.shutting_down() => Err(Interrupt::Shutdown),
    }
}

fn stage(transition: Transition) -> &'static str {
    match transition {
        Transition::Start => "Starting workspace",
        Transition::Stop => "Stopping workspace",
        Transition::Delete => "Destroying workspace",
    }
}

async fn drive(shared: &Shared, workspace: Uuid, build: Uuid) -> Result<(), Interrupt> {
    let timings = shared.settings.timings;
    let Some((mut cancel, transition, local)) = shared.read(|s| {
        let b = s.builds.get(&build)?;
        let w = s.workspace(workspace)?;
        Some((b.cancel.subscribe(), b.transition, w.local.clone()))
    }) else {
        return Ok(());
    };
    wait(shared, timings.queued, &mut cancel).await?;
    shared.mutate(workspace, |s| {
        if let Some(b) = s.builds.get_mut(&build) {
            let now = Utc::now();
            b.job.status = JobStatus::Running;
            b.job.started_at = Some(now);
            b.updated_at = now;
        }
        s.log(build, "info", "Setting up", "");
        s.log(build, "info", "Parsing template parameters", "");
        s.log(build, "info", "Planning infrastructure", "");
        s.log(build, "info", "Planning infrastructure", "Terraform 1.11.4");
        s.log(build, "info", stage(transition), "");
    });
    tokio::select! {
        () = shared.faults.builds_released() => {}
        _ = cancel.wait_for(|c| *c) => return Err(Interrupt::Canceled),
        () = shared.shutting_down() => return Err(Interrupt::Shutdown),
    }
    let extra = shared.faults.extra_build_time();
    wait(shared, timings.build + extra, &mut cancel).await?;

    let planned = shared.read(|s| s.builds.get(&build).and_then(|b| b.planned_failure.clone()));
    let outcome = match planned {
        Some(lines) => Err(lines),
        None => {
            // Whatever ran in the old agent goes with it, as when Terraform replaces the
            // container.
            shared.ptys.close_workspace(workspace).await;
            let done = match transition {
                Transition::Start => {
                    let parameters = shared.read(|s| {
                        s.builds
                            .get(&build)
                            .map(|b| b.parameters.clone())
                            .unwrap_or_default()
                    });
                    shared.backing.start(&local, &parameters).await
                }
                Transition::Stop => shared.backing.stop(&local).await,
                Transition::Delete => shared.backing.delete(&local).await,
            };
            done.map_err(|e| vec![format!("{}: {e}", stage(transition).to_lowercase())])
        }
    };
    let succeeded = outcome.is_ok();
    shared.mutate(workspace, |s| finish(s, shared, workspace, build, outcome));
    if succeeded && transition == Transition::Start {
        bring_up_agent(shared, workspace, build).await?;
    }
    Ok(())
}

/// Record the job's end.
fn finish(
    s: &mut Store,
    shared: &Shared,
    workspace: Uuid,
    build: Uuid,
    outcome: Result<(), Vec<String>>,
) {
    let Some((transition, canceling)) = s
        .builds
        .get(&build)
        .map(|b| (b.transition, b.job.status == JobStatus::Canceling))
    else {
        return;
    };
    let now = Utc::now();
    if canceling {
        // Canceled while the work was under way: the work is done (as when Terraform is
        // interrupted too late), but the job reports the cancelation.
        drop(outcome);
        finish_canceled_in(s, build, now);
        return;
    }
    match outcome {
        Err(lines) => {
            for line in &lines {
                s.log(build, "error", stage(transition), line);
            }
            if let Some(b) = s.builds.get_mut(&build) {
                b.job.status = JobStatus::Failed;
                b.job.error = Some(
                    lines
                        .last()
                        .cloned()
                        .unwrap_or_else(|| "terraform apply: exit status 1".to_owned()),
                );
            }
        }
        Ok(()) => {
            s.log(build, "info", "Cleaning Up", "");
            let ttl = s.workspace(workspace).and_then(|w| w.ttl_ms);
            let directory = s
                .workspace(workspace)
                .and_then(|w| w.parameters.get(WORKDIR))
                .filter(|dir| !dir.is_empty())
                .cloned()
                .unwrap_or_else(|| shared.settings.mount_path.clone());
            if let Some(b) = s.builds.get_mut(&build) {
                b.job.status = JobStatus::Succeeded;
                b.resources = resources(transition, now, directory);
                if transition == Transition::Start {
                    b.deadline = ttl.map(|ms| now + chrono::Duration::milliseconds(ms.max(0)));
                }
            }
            if transition == Transition::Delete
                && let Some(w) = s.workspace_mut(workspace)
            {
                w.deleted = true;
            }
        }
    }
    if let Some(b) = s.builds.get_mut(&build) {
        b.job.completed_at = Some(now);
        b.updated_at = now;
    }
}

/// What Terraform leaves after each transition: a container with the agent and a home volume
/// after a start, the volume alone after a stop, nothing after a delete.
fn resources(
    transition: Transition,
    now: chrono::DateTime<Utc>,
    directory: String,
) -> Vec<ResourceRec> {
    let volume = ResourceRec {
        id: Uuid::new_v4(),
        created_at: now,
        kind: "docker_volume",
        name: "home_volume",
        icon: "/icon/database.svg",
        agent: None,
    };
    match transition {
        Transition::Start => vec![
            ResourceRec {
                id: Uuid::new_v4(),
                created_at: now,
                kind: "docker_container",
                name: "workspace",
                icon: "/icon/memory.svg",
                agent: Some(AgentRec {
                    id: Uuid::new_v4(),
                    name: "main".to_owned(),
                    created_at: now,
                    updated_at: now,
                    status: AgentStatus::Connecting,
                    lifecycle: Lifecycle::Created,
                    first_connected_at: None,
                    started_at: None,
                    ready_at: None,
                    directory,
                    log_source_id: Uuid::new_v4(),
                    logs: Vec::new(),
                }),
            },
            volume,
        ],
        Transition::Stop => vec![volume],
        Transition::Delete => Vec::new(),
    }
}

fn finish_canceled(shared: &Shared, workspace: Uuid, build: Uuid) {
    shared.mutate(workspace, |s| finish_canceled_in(s, build, Utc::now()));
}

fn finish_canceled_in(s: &mut Store, build: Uuid, now: chrono::DateTime<Utc>) {
    if !s.builds.get(&build).is_some_and(|b| b.job.status.active()) {
        return;
    }
    s.log(build, "warn", "Canceling", "");
    if let Some(b) = s.builds.get_mut(&build) {
        b.job.status = JobStatus::Canceled;
        b.job.canceled_at.get_or_insert(now);
        b.job.completed_at = Some(now);
        b.updated_at = now;
    }
}

/// The agent of a finished start build connects, runs its startup scripts and becomes ready
/// (or `start_error`); it stops changing once a newer build exists.
async fn bring_up_agent(shared: &Shared, workspace: Uuid, build: Uuid) -> Result<(), Interrupt> {
    let timings = shared.settings.timings;
    // `f` gets the agent, whether its startup fails (fault), and a fresh log id.
    let update = |f: &dyn Fn(&mut AgentRec, bool, i64)| {
        shared.mutate(workspace, |s| {
            let latest = s.workspace(workspace).and_then(|w| w.builds.last()) == Some(&build);
            if !latest {
                return false;
            }
            let log_id = s.next_log_id();
            if let Some(b) = s.builds.get_mut(&build) {
                let start_error = b.planned_start_error;
                for agent in b.resources.iter_mut().filter_map(|r| r.agent.as_mut()) {
                    f(agent, start_error, log_id);
                    agent.updated_at = Utc::now();
                }
            }
            true
        })
    };
    let log = |agent: &mut AgentRec, id: i64, level: &'static str, output: &str| {
        agent.logs.push(AgentLogRec {
            id,
            created_at: Utc::now(),
            level,
            output: output.to_owned(),
        });
    };
    if !shared.pause(timings.agent_connect).await {
        return Err(Interrupt::Shutdown);
    }
    let connected = update(&|agent, _, log_id| {
        let now = Utc::now();
        agent.status = AgentStatus::Connected;
        agent.lifecycle = Lifecycle::Starting;
        agent.first_connected_at = Some(now);
        agent.started_at = Some(now);
        log(agent, log_id, "info", "Running the startup script");
    });
    if !connected {
        return Ok(());
    }
    if !shared.pause(timings.agent_ready).await {
        return Err(Interrupt::Shutdown);
    }
    update(&|agent, start_error, log_id| {
        if start_error {
            agent.lifecycle = Lifecycle::StartError;
            log(
                agent,
                log_id,
                "error",
                "The startup script exited with code 1",
            );
        } else {
            agent.lifecycle = Lifecycle::Ready;
            log(agent, log_id, "info", "The startup script finished");
        }
        agent.ready_at = Some(Utc::now());
    });
    Ok(())
}
