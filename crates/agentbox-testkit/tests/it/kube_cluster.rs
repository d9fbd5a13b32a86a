//! The fake cluster seen through plain kube clients: DevWorkspaces walk DWO's phases, their
//! pods run as local processes, and `pods/exec` behaves like a kubelet's.

#![cfg(feature = "kube")]

use std::future::Future;
use std::time::Duration;

use agentbox_testkit::kube::{
    FakeCluster, LABEL_CREATOR, LABEL_ID, LABEL_NAME, devworkspace_resource,
};
use futures::{FutureExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{
    AttachParams, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams,
};
use kube::runtime::wait::{await_condition, conditions};
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const NS: &str = "agentbox";
const BAD_IMAGE: &str = "registry.example.com/missing/tools:1.0";

/// Safety net only: every wait below ends on a watch event long before this.
async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

async fn cluster() -> FakeCluster {
    FakeCluster::builder()
        .namespace(NS)
        .fail_image(BAD_IMAGE)
        .start()
        .await
        .expect("the fake cluster starts")
}

fn devworkspace(name: &str, started: bool, image: &str, projects: Value) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "workspace.devfile.io/v1alpha2",
        "kind": "DevWorkspace",
        "metadata": { "name": name, "namespace": NS },
        "spec": {
            "started": started,
            "routingClass": "che",
            "template": {
                "attributes": { "controller.devfile.io/storage-type": "per-user" },
                "projects": projects,
                "components": [
                    { "name": "tools", "container": {
                        "image": image,
                        "args": ["tail", "-f", "/dev/null"],
                        "env": [{ "name": "GREETING", "value": "hello" }],
                        "mountSources": true,
                        "sourceMapping": "/projects",
                    }},
                    { "name": "projects", "volume": { "size": "1Gi" } },
                ],
            },
        },
    }))
    .unwrap()
}

fn phase(dw: &DynamicObject) -> Option<String> {
    dw.data["status"]["phase"].as_str().map(str::to_owned)
}

/// Every phase the object shows until `done` holds; the watch is listening before
/// `trigger` runs.
async fn phases_until(
    api: &Api<DynamicObject>,
    name: &str,
    trigger: impl Future<Output = ()>,
    done: impl Fn(&DynamicObject) -> bool,
) -> (Vec<String>, DynamicObject) {
    let fields = format!("metadata.name={name}");
    let mut events = std::pin::pin!(watcher::watcher(
        api.clone(),
        watcher::Config::default().fields(&fields)
    ));
    let mut seen: Vec<String> = Vec::new();
    let note = |seen: &mut Vec<String>, dw: &DynamicObject| {
        if let Some(p) = phase(dw)
            && seen.last() != Some(&p)
        {
            seen.push(p);
        }
        done(dw)
    };
    let mut initial = None;
    loop {
        match within("the watch to start", events.try_next())
            .await
            .unwrap()
        {
            Some(watcher::Event::InitApply(dw)) => initial = Some(dw),
            Some(watcher::Event::InitDone) => break,
            _ => {}
        }
    }
    if let Some(dw) = initial
        && note(&mut seen, &dw)
    {
        return (seen, dw);
    }
    trigger.await;
    loop {
        match within("the next phase", events.try_next()).await.unwrap() {
            Some(watcher::Event::Apply(dw) | watcher::Event::InitApply(dw)) => {
                if note(&mut seen, &dw) {
                    return (seen, dw);
                }
            }
            Some(_) => {}
            None => panic!("the watch ended"),
        }
    }
}

async fn wait_phase(api: &Api<DynamicObject>, name: &str, wanted: &str) -> DynamicObject {
    let wanted_owned = wanted.to_owned();
    within(
        wanted,
        await_condition(api.clone(), name, move |dw: Option<&DynamicObject>| {
            dw.and_then(phase).as_deref() == Some(wanted_owned.as_str())
        }),
    )
    .await
    .unwrap()
    .unwrap()
}

fn workspace_id(dw: &DynamicObject) -> String {
    dw.data["status"]["devworkspaceId"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn set_started(api: &Api<DynamicObject>, name: &str, started: bool) {
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({ "spec": { "started": started } })),
    )
    .await
    .unwrap();
}

async fn workspace_pods(pods: &Api<Pod>, id: &str) -> Vec<Pod> {
    pods.list(&ListParams::default().labels(&format!("{LABEL_ID}={id}")))
        .await
        .unwrap()
        .items
}

/// Create a started DevWorkspace and wait until it runs; its id and pod.
async fn running(cluster: &FakeCluster, name: &str, projects: Value) -> (String, Pod) {
    let api: Api<DynamicObject> =
        Api::namespaced_with(cluster.client(), NS, &devworkspace_resource());
    api.create(
        &PostParams::default(),
        &devworkspace(name, true, "docker.io/library/golang:1.23", projects),
    )
    .await
    .unwrap();
    let dw = wait_phase(&api, name, "Running").await;
    let id = workspace_id(&dw);
    let pods: Api<Pod> = Api::namespaced(cluster.client(), NS);
    let pod = workspace_pods(&pods, &id)
        .await
        .into_iter()
        .next()
        .expect("a running workspace has a pod");
    (id, pod)
}

/// The result of an exec: stdout, stderr and the final status.
struct Ran {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    status: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Status>,
}

async fn exec(pods: &Api<Pod>, pod: &str, argv: &[&str], stdin: Option<Vec<u8>>) -> Ran {
    let params = AttachParams::default()
        .container("tools")
        .stdin(stdin.is_some())
        .max_stdin_buf_size(64 * 1024);
    let mut attached = pods
        .exec(pod, argv.to_vec(), &params)
        .await
        .expect("exec upgrades");
    let mut status = attached.take_status().unwrap();
    let mut out = attached.stdout().unwrap();
    let mut err = attached.stderr().unwrap();
    if let Some(bytes) = stdin {
        let mut writer = attached.stdin().unwrap();
        tokio::spawn(async move {
            writer.write_all(&bytes).await.unwrap();
            writer.shutdown().await.unwrap();
        });
    }
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let (mut out_buf, mut err_buf) = ([0u8; 16 * 1024], [0u8; 16 * 1024]);
    let (mut out_open, mut err_open) = (true, true);
    // kube ends the readers only after a status frame; when the connection is lost they stay
    // open, so the status future (which resolves once kube's loop has ended) bounds the reads.
    let status = loop {
        tokio::select! {
            n = out.read(&mut out_buf), if out_open => match n.unwrap() {
                0 => out_open = false,
                n => stdout.extend_from_slice(&out_buf[..n]),
            },
            n = err.read(&mut err_buf), if err_open => match n.unwrap() {
                0 => err_open = false,
                n => stderr.extend_from_slice(&err_buf[..n]),
            },
            s = &mut status => break s,
        }
    };
    // kube's loop has ended: whatever it wrote is buffered, so reading it never waits.
    while out_open
        && let Some(Ok(n)) = out.read(&mut out_buf).now_or_never()
        && n > 0
    {
        stdout.extend_from_slice(&out_buf[..n]);
    }
    while err_open
        && let Some(Ok(n)) = err.read(&mut err_buf).now_or_never()
        && n > 0
    {
        stderr.extend_from_slice(&err_buf[..n]);
    }
    let _ = within("the exec task", attached.join()).await;
    Ran {
        stdout,
        stderr,
        status,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_devworkspace_walks_dwo_phases_and_gets_a_labelled_pod() {
    let cluster = cluster().await;
    let api: Api<DynamicObject> =
        Api::namespaced_with(cluster.client(), NS, &devworkspace_resource());
    let pods: Api<Pod> = Api::namespaced(cluster.client(), NS);
    api.create(
        &PostParams::default(),
        &devworkspace("walk", false, "docker.io/library/golang:1.23", json!([])),
    )
    .await
    .unwrap();
    let stopped = wait_phase(&api, "walk", "Stopped").await;
    let id = workspace_id(&stopped);
    let uid = stopped.uid().unwrap();
    let groups: String = uid.split('-').take(3).collect();
    assert_eq!(id, format!("workspace{groups}"));
    assert!(
        stopped
            .finalizers()
            .contains(&"storage.controller.devfile.io".to_owned())
    );
    assert!(workspace_pods(&pods, &id).await.is_empty());

    let (seen, dw) = phases_until(&api, "walk", set_started(&api, "walk", true), |dw| {
        phase(dw).as_deref() == Some("Running")
    })
    .await;
    assert_eq!(seen, ["Stopped", "Starting", "Running"]);
    assert!(
        dw.annotations()
            .contains_key("controller.devfile.io/started-at")
    );
    let ready = dw.data["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .cloned();
    assert_eq!(ready.unwrap()["status"], "True");

    let pod = workspace_pods(&pods, &id).await.pop().unwrap();
    assert!(pod.name_any().starts_with(&format!("{id}-")));
    let labels = pod.labels();
    assert_eq!(labels[LABEL_ID], id);
    assert_eq!(labels[LABEL_NAME], "walk");
    assert_eq!(labels[LABEL_CREATOR], dw.labels()[LABEL_CREATOR]);
    let status = pod.status.clone().unwrap();
    assert_eq!(status.phase.as_deref(), Some("Running"));
    assert!(
        status
            .container_statuses
            .unwrap()
            .iter()
            .all(|c| c.ready && c.name == "tools")
    );
    let env = exec(
        &pods,
        &pod.name_any(),
        &[
            "sh",
            "-c",
            "echo $DEVWORKSPACE_ID $DEVWORKSPACE_NAME $PROJECTS_ROOT $GREETING",
        ],
        None,
    )
    .await;
    assert_eq!(
        String::from_utf8(env.stdout).unwrap(),
        format!("{id} walk /projects hello\n")
    );

    let (seen, _) = phases_until(&api, "walk", set_started(&api, "walk", false), |dw| {
        phase(dw).as_deref() == Some("Stopped")
    })
    .await;
    assert_eq!(seen, ["Running", "Stopping", "Stopped"]);
    within(
        "the pod to go",
        await_condition(
            pods.clone(),
            &pod.name_any(),
            conditions::is_deleted(&pod.uid().unwrap()),
        ),
    )
    .await
    .unwrap();
    assert_eq!(cluster.kubelet().running_pods(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_streams_stdout_and_stderr_apart_and_reports_the_exit_code() {
    let cluster = cluster().await;
    let (_, pod) = running(&cluster, "streams", json!([])).await;
    let pods: Api<Pod> = Api::namespaced(cluster.client(), NS);

    let ran = exec(
        &pods,
        &pod.name_any(),
        &["sh", "-c", "echo out; echo err >&2; exit 3"],
        None,
    )
    .await;
    assert_eq!(ran.stdout, b"out\n");
    assert_eq!(ran.stderr, b"err\n");
    let status = ran.status.expect("the status channel carries the exit");
    assert_eq!(status.status.as_deref(), Some("Failure"));
    assert_eq!(status.reason.as_deref(), Some("NonZeroExitCode"));
    let cause = &status.details.unwrap().causes.unwrap()[0];
    assert_eq!(
        (cause.reason.as_deref(), cause.message.as_deref()),
        (Some("ExitCode"), Some("3"))
    );

    let ok = exec(&pods, &pod.name_any(), &["true"], None).await;
    assert_eq!(ok.status.unwrap().status.as_deref(), Some("Success"));

    let missing = exec(&pods, &pod.name_any(), &["no-such-program"], None).await;
    let status = missing.status.unwrap();
    assert_eq!(status.reason.as_deref(), Some("InternalError"));
    assert!(
        status
            .message
            .unwrap()
            .contains("executable file not found in $PATH")
    );

    let wrong = pods
        .exec(
            &pod.name_any(),
            ["true"],
            &AttachParams::default().container("nope"),
        )
        .await
        .err()
        .expect("an unknown container is refused");
    match wrong {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 400);
            assert_eq!(
                status.message,
                format!("container nope is not valid for pod {}", pod.name_any())
            );
        }
        other => panic!("expected a 400 Status, got {other}"),
    }
    match pods
        .exec("no-such-pod", ["true"], &AttachParams::default())
        .await
        .err()
    {
        Some(kube::Error::Api(status)) => assert_eq!(status.code, 404),
        other => panic!("expected a 404 Status, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_streams_into_the_process() {
    let cluster = cluster().await;
    let (_, pod) = running(&cluster, "stdin", json!([])).await;
    let pods: Api<Pod> = Api::namespaced(cluster.client(), NS);
    let data: Vec<u8> = (0..8 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let expected = hex::encode(Sha256::digest(&data));
    let ran = exec(&pods, &pod.name_any(), &["sha256sum"], Some(data)).await;
    assert_eq!(
        String::from_utf8(ran.stdout).unwrap(),
        format!("{expected}  -\n")
    );
    assert_eq!(ran.status.unwrap().status.as_deref(), Some("Success"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_in_projects_survive_a_stop_and_start() {
    let cluster = cluster().await;
    let (id, first) = running(&cluster, "keep", json!([])).await;
    let api: Api<DynamicObject> =
        Api::namespaced_with(cluster.client(), NS, &devworkspace_resource());
    let pods: Api<Pod> = Api::namespaced(cluster.client(), NS);
    let wrote = exec(
        &pods,
        &first.name_any(),
        &[
            "sh",
            "-c",
            "echo kept > /projects/keep.txt; echo gone > /tmp/scratch",
        ],
        None,
    )
    .await;
    assert_eq!(wrote.status.unwrap().status.as_deref(), Some("Success"));

    // A command still running when the pod goes is killed with it.
    let sleeper = tokio::spawn({
        let (pods, pod) = (pods.clone(), first.name_any());
        async move {
            exec(
                &pods,
                &pod,
                &["sh", "-c", "touch /projects/sleeping; exec sleep 600"],
                None,
            )
            .await
        }
    });
    let started = "while [ ! -e /projects/sleeping ]; do sleep 0.02; done";
    exec(&pods, &first.name_any(), &["sh", "-c", started], None).await;
    set_started(&api, "keep", false).await;
    wait_phase(&api, "keep", "Stopped").await;
    let killed = within("the sleeper to die", sleeper).await.unwrap();
    let cause = &killed.status.unwrap().details.unwrap().causes.unwrap()[0];
    assert_eq!(cause.message.as_deref(), Some("137"), "SIGKILL");
    within(
        "the pod to go",
        await_condition(
            pods.clone(),
            &first.name_any(),
            conditions::is_deleted(&first.uid().unwrap()),
        ),
    )
    .await
    .unwrap();
    set_started(&api, "keep", true).await;
    wait_phase(&api, "keep", "Running").await;
    let second = workspace_pods(&pods, &id).await.pop().unwrap();
    assert_ne!(second.uid(), first.uid(), "a start makes a new pod");
    let read = exec(
        &pods,
        &second.name_any(),
        &[
            "sh",
            "-c",
            "cat /projects/keep.txt; test -e /tmp/scratch || echo no-scratch",
        ],
        None,
    )
    .await;
    assert_eq!(
        String::from_utf8(read.stdout).unwrap(),
        "kept\nno-scratch\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_image_fails_the_start_and_the_operator_stops_it() {
    let cluster = cluster().await;
    let api: Api<DynamicObject> =
        Api::namespaced_with(cluster.client(), NS, &devworkspace_resource());
    let create = async {
        api.create(
            &PostParams::default(),
            &devworkspace("bad", true, BAD_IMAGE, json!([])),
        )
        .await
        .unwrap();
    };
    let pods: Api<Pod> = Api::namespaced(cluster.client(), NS);
    let (seen, dw) = phases_until(&api, "bad", create, |dw| {
        phase(dw).as_deref() == Some("Failed")
    })
    .await;
    assert_eq!(seen, ["Starting", "Failing", "Failed"]);
    assert_eq!(
        dw.data["spec"]["started"], false,
        "the operator turns a failed start off"
    );
    assert_eq!(
        dw.data["status"]["message"],
        "Error creating DevWorkspace deployment: Container tools has state ImagePullBackOff"
    );
    assert!(workspace_pods(&pods, &workspace_id(&dw)).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_that_makes_no_progress_fails_after_the_progress_timeout() {
    // The pull never gets past ErrImagePull, which DWO waits out.
    let cluster = FakeCluster::builder()
        .namespace(NS)
        .fail_image(BAD_IMAGE)
        .pull_backoff(Duration::from_secs(600))
        .progress_timeout(Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    let api: Api<DynamicObject> =
        Api::namespaced_with(cluster.client(), NS, &devworkspace_resource());
    api.create(
        &PostParams::default(),
        &devworkspace("stuck", true, BAD_IMAGE, json!([])),
    )
    .await
    .unwrap();
    let failed = wait_phase(&api, "stuck", "Failed").await;
    assert_eq!(
        failed.data["status"]["message"],
        "DevWorkspace failed to progress past step 'Waiting for workspace deployment' for longer than timeout"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_devworkspace_terminates_it_and_removes_its_storage() {
    let cluster = cluster().await;
    let (id, pod) = running(&cluster, "doomed", json!([])).await;
    let api: Api<DynamicObject> =
        Api::namespaced_with(cluster.client(), NS, &devworkspace_resource());
    let pods: Api<Pod> = Api::namespaced(cluster.client(), NS);
    exec(
        &pods,
        &pod.name_any(),
        &["sh", "-c", "echo data > /projects/file"],
        None,
    )
    .await;
    let holds = |cluster: &FakeCluster| {
        cluster
            .kubelet()
            .storage()
            .volumes()
            .iter()
            .any(|v| format!("{:?}", v.key).contains(&id))
    };
    assert!(holds(&cluster), "the workspace's volume is on the node");

    let uid = api.get("doomed").await.unwrap().uid().unwrap();
    let delete = async {
        api.delete("doomed", &DeleteParams::default())
            .await
            .unwrap();
    };
    let (seen, _) = phases_until(&api, "doomed", delete, |dw| {
        phase(dw).as_deref() == Some("Terminating")
    })
    .await;
    assert_eq!(seen.last().map(String::as_str), Some("Terminating"));
    within(
        "the DevWorkspace to go",
        await_condition(api.clone(), "doomed", conditions::is_deleted(&uid)),
    )
    .await
    .unwrap();
    assert!(workspace_pods(&pods, &id).await.is_empty());
    assert!(
        !holds(&cluster),
        "the workspace's storage is removed with it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_exec_stream_loses_its_status_but_the_process_runs_on() {
    let cluster = cluster().await;
    let (_, pod) = running(&cluster, "cut", json!([])).await;
    let pods: Api<Pod> = Api::namespaced(cluster.client(), NS);
    cluster.kubelet().cut_next_exec_streams(4, 1);
    let before = cluster.kubelet().exec_count();

    let script = "echo 0123456789; while [ ! -e /projects/go ]; do sleep 0.05; done; echo finished > /projects/after";
    let ran = exec(&pods, &pod.name_any(), &["sh", "-c", script], None).await;
    assert_eq!(
        ran.stdout, b"0123",
        "the stream ends after the fault's byte count"
    );
    assert!(
        ran.status.is_none(),
        "no status frame arrives on a cut stream"
    );

    // The process outlived its connection: it finishes once told to.
    let script = "touch /projects/go; while [ ! -e /projects/after ]; do sleep 0.05; done; cat /projects/after";
    let after = exec(&pods, &pod.name_any(), &["sh", "-c", script], None).await;
    assert_eq!(after.stdout, b"finished\n");
    assert_eq!(after.status.unwrap().status.as_deref(), Some("Success"));
    assert_eq!(cluster.kubelet().exec_count(), before + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projects_are_cloned_by_the_project_clone_init_container() {
    let remotes = tempfile::tempdir().unwrap();
    let repo = remotes.path().join("app");
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(&repo)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::create_dir(&repo).unwrap();
    git(&["init", "--quiet", "--initial-branch=main"]);
    std::fs::write(repo.join("README"), "cloned\n").unwrap();
    git(&["add", "README"]);
    git(&["commit", "--quiet", "-m", "init"]);

    let cluster = FakeCluster::builder()
        .namespace(NS)
        .bind(remotes.path(), "/remotes")
        .start()
        .await
        .unwrap();
    let projects =
        json!([{ "name": "app", "git": { "remotes": { "origin": "file:///remotes/app" } } }]);
    let (_, pod) = running(&cluster, "clone", projects).await;
    let init = pod
        .status
        .as_ref()
        .unwrap()
        .init_container_statuses
        .clone()
        .unwrap();
    assert_eq!(init[0].name, "project-clone");
    let terminated = init[0].state.as_ref().unwrap().terminated.as_ref().unwrap();
    assert_eq!(
        (terminated.exit_code, terminated.reason.as_deref()),
        (0, Some("Completed"))
    );
    let pods: Api<Pod> = Api::namespaced(cluster.client(), NS);
    let ran = exec(
        &pods,
        &pod.name_any(),
        &["sh", "-c", "cat $PROJECT_SOURCE/README"],
        None,
    )
    .await;
    assert_eq!(String::from_utf8(ran.stdout).unwrap(), "cloned\n");
}
