//! The Coder provider's lifecycle against the fake coderd: builds, 409s, failures with their
//! logs, rejected tokens, dropped WebSockets, slow builds and the SSE fallback.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use agentbox_coder::{CoderError, WorkspaceMetadata};
use agentbox_core::exec::{ExecChunk, ExecRequest, ExecutorExt, ExitStatus, SessionCommand};
use agentbox_core::progress::{Progress, ProgressEvent};
use agentbox_core::provider::{
    CreateRequest, LabelSelector, Phase, WorkspaceProvider, WorkspaceProviderExt,
};
use agentbox_core::{Error, Executor};
use common::{Served, contract};
use futures::StreamExt;
use tokio::sync::Notify;

const READY: Duration = Duration::from_secs(60);
const BUILDS: &str = "/api/v2/workspaces/{workspace}/builds";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_ready_exec_stop_start_delete() {
    let s = Served::start(common::coderd()).await;
    let p = &s.provider;
    let created = p
        .create(
            &contract("life"),
            CreateRequest::named("life-1").label("team", "a"),
        )
        .await
        .expect("create");
    assert_eq!(created.phase, Phase::Pending, "the first build is queued");
    assert_eq!(created.name, "life-1");
    assert_eq!(created.labels["team"], "a");
    p.start(&created.id)
        .await
        .expect("start finds the build under way");
    let ready = p.wait_ready(&created.id, READY).await.expect("ready");
    assert_eq!(ready.phase, Phase::Running);

    let ex = p.executor(&ready.id).await.expect("executor");
    let out = ex
        .exec_ok(ExecRequest::new([
            "sh",
            "-c",
            "echo \"$GREETING\"; pwd; echo oops >&2",
        ]))
        .await
        .expect("exec");
    assert_eq!(
        out.stdout_text(),
        "hello\n/projects/life\noops\n",
        "combined output"
    );
    assert!(out.stderr.is_empty());

    p.stop(&ready.id).await.expect("stop");
    assert_eq!(
        p.status(&ready.id).await.expect("status").phase,
        Phase::Stopped
    );
    p.start(&ready.id).await.expect("start again");
    p.wait_ready(&ready.id, READY).await.expect("ready again");
    let ex = p.executor(&ready.id).await.expect("executor");
    let out = ex.exec(ExecRequest::new(["pwd"])).await.expect("exec");
    assert_eq!(out.stdout_text(), "/projects/life\n");

    p.delete(&ready.id).await.expect("delete");
    assert!(p.status(&ready.id).await.unwrap_err().is_not_found());
    p.delete(&ready.id).await.expect("deleting again succeeds");
    assert!(
        s.coderd.schema_violations().is_empty(),
        "{:?}",
        s.coderd.schema_violations()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_while_another_is_active_waits_for_it() {
    let s = Served::start(common::coderd()).await;
    let waiting = Arc::new(Notify::new());
    let seen = Arc::clone(&waiting);
    let observer = move |event: &ProgressEvent| {
        if let ProgressEvent::Workspace {
            message: Some(m), ..
        } = event
            && m.contains("a build is already active")
        {
            seen.notify_one();
        }
    };
    let p = common::provider(&s.coderd)
        .progress(Progress::new(Arc::new(observer)))
        .build();
    let info = p
        .provision(&contract("busy"), CreateRequest::named("busy-1"), READY)
        .await
        .expect("provision");
    let id = uuid::Uuid::parse_str(info.id.as_str()).unwrap();

    // Another client starts a stop build, which the fake holds active.
    let hold = s.coderd.faults().hold_builds();
    let other = common::client(&s.coderd);
    other
        .create_build(id, agentbox_coder::models::Transition::Stop)
        .await
        .expect("the other client's stop build");
    let refused = other
        .create_build(id, agentbox_coder::models::Transition::Start)
        .await
        .expect_err("a second build while one is active");
    assert_eq!(refused.status(), Some(409));
    assert!(
        refused.to_string().contains("already active"),
        "coderd's message is kept: {refused}"
    );

    // The provider waits for the held build, then starts.
    let start = tokio::spawn({
        let p = p.clone();
        let id = info.id.clone();
        async move { p.start(&id).await }
    });
    waiting.notified().await;
    drop(hold);
    start
        .await
        .expect("join")
        .expect("start after the stop build ended");
    p.wait_ready(&info.id, READY)
        .await
        .expect("ready after the wait");
    assert_eq!(
        s.coderd.counters().requests("POST", BUILDS),
        3,
        "the other client's two requests and one start"
    );
    p.delete(&info.id).await.expect("delete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_build_fails_wait_ready_with_the_log_tail() {
    let s = Served::start(common::coderd()).await;
    s.coderd.faults().fail_next_build(vec![
        "Initializing the backend...".into(),
        "Error: creating pod: admission webhook denied the request: quota exceeded".into(),
    ]);
    let err = s
        .provider
        .provision(&contract("fails"), CreateRequest::named("fails-1"), READY)
        .await
        .expect_err("the build fails");
    match &err {
        Error::WorkspaceFailed { message, .. } => {
            assert!(message.contains("quota exceeded"), "{message}");
            assert!(message.contains("last log lines"), "{message}");
        }
        other => panic!("expected WorkspaceFailed, got {other}"),
    }
    // provision deleted the failed workspace.
    assert!(
        s.provider
            .list(&LabelSelector::all())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_start_error_fails_wait_ready_but_commands_still_run() {
    let s = Served::start(common::coderd()).await;
    s.coderd.faults().agent_start_error();
    let p = &s.provider;
    let info = p
        .create(&contract("agent"), CreateRequest::named("agent-1"))
        .await
        .expect("create");
    let err = p
        .wait_ready(&info.id, READY)
        .await
        .expect_err("start_error");
    assert!(
        matches!(&err, Error::WorkspaceFailed { message, .. } if message.contains("start_error")),
        "{err}"
    );
    assert_eq!(p.status(&info.id).await.unwrap().phase, Phase::Failed);
    let ex = p
        .executor(&info.id)
        .await
        .expect("the agent is still connected");
    assert_eq!(
        ex.exec(ExecRequest::new(["true"])).await.unwrap().exit,
        ExitStatus::Code(0)
    );
    p.delete(&info.id).await.expect("delete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_is_permission_denied() {
    let s = Served::start(common::coderd()).await;
    s.coderd.faults().reject_tokens(true);
    let err = s
        .provider
        .create(&contract("denied"), CreateRequest::named("denied-1"))
        .await
        .expect_err("401");
    match &err {
        Error::PermissionDenied { message, .. } => {
            assert!(message.contains("401"), "{message}");
            assert!(message.contains("token"), "{message}");
        }
        other => panic!("expected PermissionDenied, got {other}"),
    }
    let source = std::error::Error::source(&err);
    assert!(source.is_none() || source.unwrap().downcast_ref::<CoderError>().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_pty_reconnects_and_skips_the_replay() {
    let s = Served::start(common::coderd()).await;
    let p = &s.provider;
    let info = p
        .provision(&contract("drop"), CreateRequest::named("drop-1"), READY)
        .await
        .expect("provision");
    let ex = p.executor(&info.id).await.expect("executor");

    // The next PTY is cut (no close frame) in the middle of the output, while the command
    // still runs (it waits for a file), so the reconnect re-attaches to it.
    s.coderd.faults().drop_pty_after(3000);
    let script = "for i in $(seq 1 400); do echo line-$i; done; while [ ! -f go ]; do sleep 0.05; done; echo done; exit 7";
    let mut stream = ex
        .exec_stream(ExecRequest::new(["sh", "-c", script]))
        .await
        .expect("exec_stream");
    let lines: String = (1..=400).map(|i| format!("line-{i}\n")).collect();
    let mut got = Vec::new();
    while !got.ends_with(b"line-400\n") {
        match stream.next().await.expect("more output").expect("no error") {
            ExecChunk::Stdout(bytes) => got.extend_from_slice(&bytes),
            other => panic!("unexpected {other:?} before the gate opened"),
        }
    }
    assert_eq!(
        String::from_utf8_lossy(&got),
        lines,
        "every line once, none repeated"
    );
    assert!(
        ex.exec(ExecRequest::new(["touch", "go"]))
            .await
            .unwrap()
            .exit
            .success()
    );
    let mut exit = None;
    while let Some(chunk) = stream.next().await {
        match chunk.expect("no error") {
            ExecChunk::Stdout(bytes) => got.extend_from_slice(&bytes),
            ExecChunk::Stderr(_) => panic!("a PTY has no separate stderr"),
            ExecChunk::Exit(status) => exit = Some(status),
        }
    }
    assert_eq!(String::from_utf8_lossy(&got), format!("{lines}done\n"));
    assert_eq!(exit, Some(ExitStatus::Code(7)));

    // A session reconnects the same way.
    let mut session = ex.session().await.expect("session");
    s.coderd.faults().drop_pty_after(200);
    let r = session
        .run(&SessionCommand::script("export K=v; seq 1 100"))
        .await
        .expect("run");
    let want: String = (1..=100).map(|i| format!("{i}\n")).collect();
    assert_eq!(r.stdout_text(), want);
    let r = session
        .run(&SessionCommand::script("echo \"$K\""))
        .await
        .expect("state kept across the reconnect");
    assert_eq!(r.stdout_text(), "v\n");
    session.close().await.expect("close");
    p.delete(&info.id).await.expect("delete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_watch_is_watched_again_until_ready() {
    let s = Served::start(common::coderd()).await;
    let p = &s.provider;
    let hold = s.coderd.faults().hold_builds();
    let info = p
        .create(&contract("watch"), CreateRequest::named("watch-1"))
        .await
        .expect("create");
    let opened = s.coderd.counters().websockets_opened();
    let wait = tokio::spawn({
        let p = p.clone();
        let id = info.id.clone();
        async move { p.wait_ready(&id, READY).await }
    });
    // Once the watch is open (the fake counts it), cut every WebSocket, then let the build go.
    tokio::time::timeout(READY, async {
        while s.coderd.counters().websockets_opened() == opened {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the watch opens");
    s.coderd.faults().drop_websockets_now();
    drop(hold);
    let ready = wait.await.expect("join").expect("ready despite the drop");
    assert_eq!(ready.phase, Phase::Running);
    assert!(
        s.coderd.counters().websockets_opened() >= opened + 2,
        "watched again"
    );
    p.delete(&info.id).await.expect("delete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_build_outlasts_a_short_deadline_then_becomes_ready() {
    let s = Served::start(common::coderd()).await;
    s.coderd.faults().slow_builds(Duration::from_secs(2));
    let p = &s.provider;
    let info = p
        .create(&contract("slow"), CreateRequest::named("slow-1"))
        .await
        .expect("create");
    let err = p
        .wait_ready(&info.id, Duration::from_millis(300))
        .await
        .expect_err("too slow for 300 ms");
    assert!(
        matches!(&err, Error::Timeout { what, .. } if what.contains("waiting to be ready")),
        "{err}"
    );
    p.wait_ready(&info.id, READY)
        .await
        .expect("ready in the end");
    p.delete(&info.id).await.expect("delete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_without_watch_ws_are_watched_over_sse() {
    let s = Served::start(common::coderd().without_watch_ws()).await;
    let p = &s.provider;
    let info = p
        .provision(&contract("sse"), CreateRequest::named("sse-1"), READY)
        .await
        .expect("provision over SSE");
    assert_eq!(info.phase, Phase::Running);
    p.stop(&info.id).await.expect("stop");
    let counters = s.coderd.counters();
    assert!(counters.requests("GET", "/api/v2/workspaces/{workspace}/watch") >= 2);
    // The fake counts requests to routes it does not have under `*`.
    assert_eq!(
        counters.requests("GET", "*"),
        1,
        "watch-ws asked for once, then remembered"
    );
    p.delete(&info.id).await.expect("delete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_is_read_back_by_a_new_provider() {
    let s = Served::start(common::coderd()).await;
    let info = s
        .provider
        .create(
            &contract("meta"),
            CreateRequest::named("a-name-that-is-far-too-long-for-coder").label("run", "7"),
        )
        .await
        .expect("create");
    assert!(
        info.name.len() <= 32 && info.name.starts_with("a-name-that-is-far-too"),
        "{}",
        info.name
    );

    let fresh = common::provider(&s.coderd).build();
    let found = fresh
        .list(&LabelSelector::all().eq("run", "7"))
        .await
        .expect("list");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, info.id);
    assert_eq!(found[0].contract_hash, contract("meta").hash());
    assert_eq!(found[0].labels["app.kubernetes.io/managed-by"], "agentbox");
    let status = fresh.status(&info.id).await.expect("status");
    assert_eq!(status.labels, info.labels);

    let id = uuid::Uuid::parse_str(info.id.as_str()).unwrap();
    let client = common::client(&s.coderd);
    let w = client.workspace(id).await.unwrap();
    let params = client.build_parameters(w.latest_build.id).await.unwrap();
    let raw = &params
        .iter()
        .find(|p| p.name == "agentbox_metadata")
        .unwrap()
        .value;
    let metadata = WorkspaceMetadata::decode(raw).expect("agentbox's record");
    assert_eq!(metadata.workdir, "/projects/meta");
    assert_eq!(metadata.env["GREETING"], "hello");

    let again = s
        .provider
        .create(
            &contract("meta"),
            CreateRequest::named("a-name-that-is-far-too-long-for-coder"),
        )
        .await
        .expect_err("the same name twice");
    assert!(matches!(again, Error::AlreadyExists { .. }), "{again}");
    s.provider.delete(&info.id).await.expect("delete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_output_is_output_and_text_mode_strips_the_terminal() {
    let s = Served::start(common::coderd()).await;
    let p = &s.provider;
    let info = p
        .provision(
            &contract("hostile"),
            CreateRequest::named("hostile-1"),
            READY,
        )
        .await
        .expect("provision");
    let exact = p.pty_executor(&info.id).await.expect("executor");
    // A marker with a made-up token, colours, a carriage return, no trailing newline.
    let script = r#"printf '__agentbox_%s_exit_0__' 00112233445566778899aabbccddeeff; printf '\033[31mred\033[0m\r\nlast'; exit 3"#;
    let out = exact
        .exec(ExecRequest::new(["sh", "-c", script]))
        .await
        .expect("exec");
    assert_eq!(
        out.exit,
        ExitStatus::Code(3),
        "the fake marker is not the real one"
    );
    assert_eq!(
        out.stdout,
        b"__agentbox_00112233445566778899aabbccddeeff_exit_0__\x1b[31mred\x1b[0m\r\nlast"
    );

    let text = exact.with_output(agentbox_coder::PtyOutput::Text);
    let out = text
        .exec(ExecRequest::new(["sh", "-c", script]))
        .await
        .expect("exec");
    assert_eq!(out.exit, ExitStatus::Code(3));
    assert_eq!(
        out.stdout_text(),
        "__agentbox_00112233445566778899aabbccddeeff_exit_0__red\nlast"
    );
    p.delete(&info.id).await.expect("delete");
}
