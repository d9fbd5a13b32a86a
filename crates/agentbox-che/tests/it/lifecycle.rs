//! A workspace's whole life on the fake cluster, failures with the operator's message, retries,
//! and one shared watch however many workspaces wait.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use agentbox_che::CheProvider;
use agentbox_che::crd::DevWorkspace;
use agentbox_core::Error;
use agentbox_core::contract::{Contract, LoadOptions};
use agentbox_core::exec::{ExecRequest, ExecutorExt, ExitStatus, SessionCommand};
use agentbox_core::progress::{Progress, ProgressEvent};
use agentbox_core::provider::{CreateRequest, Phase, WorkspaceProvider};
use agentbox_testkit::behaviour::SUITE_CONTRACT;
use agentbox_testkit::kube::FakeCluster;
use kube::api::{Api, Patch, PatchParams};

const NAMESPACE: &str = "che-user";
const BAD_IMAGE: &str = "registry.example/missing/tools:1";
const READY: Duration = Duration::from_secs(60);

fn contract(image: &str) -> Contract {
    let text = SUITE_CONTRACT.replace("docker.io/library/debian:12", image);
    Contract::from_yaml(&text, &LoadOptions::default()).expect("contract")
}

async fn cluster() -> FakeCluster {
    FakeCluster::builder()
        .namespace(NAMESPACE)
        .fail_image(BAD_IMAGE)
        .pull_backoff(Duration::from_millis(50))
        .start()
        .await
        .expect("fake cluster")
}

/// A provider whose progress events are kept.
async fn observed(cluster: &FakeCluster) -> (CheProvider, Arc<Mutex<Vec<ProgressEvent>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let progress = Progress::new(Arc::new(move |e: &ProgressEvent| {
        sink.lock().unwrap().push(e.clone());
    }));
    let provider = CheProvider::builder()
        .client(cluster.client())
        .namespace(NAMESPACE)
        .progress(progress)
        .build()
        .await
        .expect("provider");
    (provider, events)
}

fn phases(events: &Mutex<Vec<ProgressEvent>>, workspace: &str) -> Vec<Option<Phase>> {
    let mut seen: Vec<Option<Phase>> = Vec::new();
    for event in events.lock().unwrap().iter() {
        if let ProgressEvent::Workspace {
            workspace: w,
            phase,
            ..
        } = event
            && w == workspace
            && seen.last() != Some(phase)
        {
            seen.push(*phase);
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_lives_from_create_to_delete() {
    let cluster = cluster().await;
    let (provider, events) = observed(&cluster).await;
    let contract = contract("docker.io/library/debian:12");
    let info = provider
        .create(&contract, CreateRequest::named("life-1"))
        .await
        .expect("create");
    assert_eq!(info.phase, Phase::Pending);
    assert_eq!(info.contract_hash, contract.hash());

    provider.start(&info.id).await.expect("start");
    let ready = provider.wait_ready(&info.id, READY).await.expect("ready");
    assert_eq!(ready.phase, Phase::Running);
    let exec = provider.executor(&info.id).await.expect("executor");
    exec.write_bytes("kept.txt", b"across a stop".to_vec())
        .await
        .expect("write");
    let out = exec
        .exec_ok(ExecRequest::new([
            "sh",
            "-c",
            "echo \"$DEVWORKSPACE_NAME\"",
        ]))
        .await
        .expect("exec");
    assert_eq!(
        out.stdout_text(),
        "life-1\n",
        "the operator's environment is there"
    );

    provider.stop(&info.id).await.expect("stop");
    assert_eq!(
        provider.status(&info.id).await.expect("status").phase,
        Phase::Stopped
    );
    let refused = exec
        .exec(ExecRequest::new(["true"]))
        .await
        .expect_err("stopped");
    assert!(matches!(refused, Error::InvalidState { .. }), "{refused}");

    provider.resume(&info.id).await.expect("resume");
    provider
        .wait_ready(&info.id, READY)
        .await
        .expect("ready again");
    let exec = provider.executor(&info.id).await.expect("executor");
    assert_eq!(
        exec.read_bytes("kept.txt").await.expect("read"),
        b"across a stop"
    );

    provider.delete(&info.id).await.expect("delete");
    let gone = provider.status(&info.id).await.expect_err("deleted");
    assert!(gone.is_not_found(), "{gone}");
    provider
        .delete(&info.id)
        .await
        .expect("deleting again succeeds");

    let seen = phases(&events, "life-1");
    for phase in [Phase::Pending, Phase::Running, Phase::Stopped] {
        assert!(seen.contains(&Some(phase)), "{phase} reported: {seen:?}");
    }
    assert_eq!(
        seen.last(),
        Some(&None),
        "the deletion is reported last: {seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_image_fails_the_wait_with_the_operators_message() {
    let cluster = cluster().await;
    let provider = CheProvider::new(cluster.client(), NAMESPACE);
    let info = provider
        .create(&contract(BAD_IMAGE), CreateRequest::named("bad-image"))
        .await
        .expect("create");
    provider.start(&info.id).await.expect("start");
    let err = provider
        .wait_ready(&info.id, READY)
        .await
        .expect_err("an image that cannot be pulled fails the start");
    let Error::WorkspaceFailed {
        message, workspace, ..
    } = &err
    else {
        panic!("expected a workspace failure, got {err}");
    };
    assert_eq!(workspace, "bad-image");
    assert!(message.contains("ImagePullBackOff"), "{message}");
    let status = provider.status(&info.id).await.expect("status");
    assert_eq!(status.phase, Phase::Failed);
    assert!(
        status
            .message
            .is_some_and(|m| m.contains("ImagePullBackOff"))
    );
    provider.delete(&info.id).await.expect("delete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_workspace_starts_again_once_fixed() {
    let cluster = cluster().await;
    let provider = CheProvider::new(cluster.client(), NAMESPACE);
    let info = provider
        .create(&contract(BAD_IMAGE), CreateRequest::named("retry-1"))
        .await
        .expect("create");
    provider.start(&info.id).await.expect("start");
    provider
        .wait_ready(&info.id, READY)
        .await
        .expect_err("the first start fails");

    // Someone fixes the image; starting again retries (the operator had set `started` false).
    let api: Api<DevWorkspace> = Api::namespaced(cluster.client(), NAMESPACE);
    // A merge patch, not a replace: the operator is still writing the object (it sets
    // `started` false and the phase to `Failed` after the `Failing` that ended the wait), so
    // a replace carrying this resourceVersion could meet a 409.
    let dw = api.get("retry-1").await.expect("get");
    let mut components = dw.spec.template.expect("template").components;
    let tools = components
        .iter_mut()
        .find(|c| c.name == "tools")
        .expect("tools");
    tools.container.as_mut().expect("container").image = "docker.io/library/debian:12".into();
    let fix = serde_json::json!({ "spec": { "template": { "components": components } } });
    api.patch("retry-1", &PatchParams::default(), &Patch::Merge(&fix))
        .await
        .expect("fix the image");

    provider.start(&info.id).await.expect("retry");
    let ready = provider
        .wait_ready(&info.id, READY)
        .await
        .expect("ready after the retry");
    assert_eq!(ready.phase, Phase::Running);
    let exec = provider.executor(&info.id).await.expect("executor");
    assert!(
        exec.exec(ExecRequest::new(["true"]))
            .await
            .expect("exec")
            .exit
            .success()
    );
    provider.delete(&info.id).await.expect("delete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_a_workspace_nobody_started_fails_at_once() {
    let cluster = cluster().await;
    let provider = CheProvider::new(cluster.client(), NAMESPACE);
    let info = provider
        .create(
            &contract("docker.io/library/debian:12"),
            CreateRequest::named("idle-1"),
        )
        .await
        .expect("create");
    let err = provider
        .wait_ready(&info.id, Duration::from_secs(600))
        .await
        .expect_err("not started");
    assert!(matches!(err, Error::InvalidState { .. }), "{err}");
    let missing = provider
        .wait_ready(&"no-such-workspace".into(), READY)
        .await
        .expect_err("missing");
    assert!(missing.is_not_found(), "{missing}");
    provider.delete(&info.id).await.expect("delete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_workspaces_share_one_watch() {
    let cluster = cluster().await;
    let provider = CheProvider::new(cluster.client(), NAMESPACE);
    let contract = contract("docker.io/library/debian:12");
    let mut ids = Vec::new();
    for i in 0..8 {
        let info = provider
            .create(&contract, CreateRequest::named(format!("many-{i}")))
            .await
            .expect("create");
        provider.start(&info.id).await.expect("start");
        ids.push(info.id);
    }
    let waits = ids.iter().map(|id| provider.wait_ready(id, READY));
    for ready in futures::future::join_all(waits).await {
        assert_eq!(ready.expect("ready").phase, Phase::Running);
    }
    let client = cluster.server().counters().client();
    assert_eq!(
        client.peak_open_watches, 1,
        "one watch for every wait: {client:?}"
    );
    let deletes = ids.iter().map(|id| provider.delete(id));
    for deleted in futures::future::join_all(deletes).await {
        deleted.expect("delete");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_timeout_kills_the_shells_tree_and_closes_the_session() {
    let cluster = cluster().await;
    let provider = CheProvider::new(cluster.client(), NAMESPACE);
    let info = provider
        .create(
            &contract("docker.io/library/debian:12"),
            CreateRequest::named("session-1"),
        )
        .await
        .expect("create");
    provider.start(&info.id).await.expect("start");
    provider.wait_ready(&info.id, READY).await.expect("ready");
    let exec = provider.executor(&info.id).await.expect("executor");
    let mut session = exec.session().await.expect("session");
    let ran = session
        .run(&SessionCommand::script("echo before").timeout(Duration::from_secs(30)))
        .await
        .expect("run");
    assert_eq!(ran.stdout_text(), "before\n");
    let busy = SessionCommand::script("(sleep 1; touch outlived) & sleep 30")
        .timeout(Duration::from_millis(300));
    let timed_out = session.run(&busy).await.expect("a timeout is an outcome");
    assert_eq!(timed_out.exit, ExitStatus::TimedOut);
    let closed = session
        .run(&SessionCommand::script("true"))
        .await
        .expect_err("the session is closed after a timeout");
    assert!(matches!(closed, Error::SessionClosed { .. }), "{closed}");
    // Had the background job survived the kill, `outlived` would appear after a second.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let check = exec
        .exec(ExecRequest::new([
            "sh",
            "-c",
            "test -e outlived && echo outlived || echo killed",
        ]))
        .await
        .expect("exec");
    assert_eq!(check.stdout_text(), "killed\n");
    provider.delete(&info.id).await.expect("delete");
}
