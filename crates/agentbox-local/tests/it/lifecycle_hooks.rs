//! The contract's lifecycle commands: postCreate once, postStart on every start (readiness
//! waits for them), preStop before a stop.

use crate::common;

use std::time::Duration;

use agentbox_core::Error;
use agentbox_core::exec::ExecRequest;
use agentbox_core::provider::{CreateRequest, Phase, WorkspaceProvider};
use agentbox_local::Isolation;
use common::{contract, fixture};

const HOOKS: &str = "  commands:
    init: { run: \"echo created >> created.log\" }
    boot: { run: \"echo started >> started.log\" }
    bye: { run: \"echo stopping >> stopped.log\" }
  lifecycle:
    postCreate: [init]
    postStart: [boot]
    preStop: [bye]
";

async fn read(
    provider: &agentbox_local::LocalProvider,
    id: &agentbox_core::provider::WorkspaceId,
    file: &str,
) -> String {
    let ex = provider.executor(id).await.unwrap();
    let out = ex.exec(ExecRequest::new(["cat", file])).await.unwrap();
    out.stdout_text()
}

#[tokio::test]
async fn post_create_runs_once_and_post_start_on_every_start() {
    let f = fixture(Isolation::Bubblewrap);
    let p = &f.provider;
    let ws = p
        .create(&contract(HOOKS), CreateRequest::named("hooks"))
        .await
        .unwrap();
    for _ in 0..3 {
        p.start(&ws.id).await.unwrap();
        p.wait_ready(&ws.id, Duration::from_secs(10)).await.unwrap();
        p.stop(&ws.id).await.unwrap();
    }
    p.start(&ws.id).await.unwrap();
    assert_eq!(read(p, &ws.id, "created.log").await, "created\n");
    assert_eq!(read(p, &ws.id, "started.log").await, "started\n".repeat(4));
    assert_eq!(read(p, &ws.id, "stopped.log").await, "stopping\n".repeat(3));
    p.delete(&ws.id).await.unwrap();
}

#[tokio::test]
async fn failing_post_start_fails_the_workspace_with_its_output_and_a_retry_can_succeed() {
    let f = fixture(Isolation::Bubblewrap);
    let p = &f.provider;
    let extra = "  commands:
    check: { run: \"test -f flag || { echo 'flag is missing' >&2; exit 3; }\" }
  lifecycle:
    postStart: [check]
";
    let ws = p
        .create(&contract(extra), CreateRequest::named("hook-fails"))
        .await
        .unwrap();
    let err = p.start(&ws.id).await.unwrap_err();
    let Error::WorkspaceFailed { message, .. } = &err else {
        panic!("expected WorkspaceFailed, got {err}");
    };
    assert!(message.contains("postStart command `check`"), "{message}");
    assert!(
        message.contains("exit code 3") && message.contains("flag is missing"),
        "{message}"
    );
    let status = p.status(&ws.id).await.unwrap();
    assert_eq!(status.phase, Phase::Failed);
    assert_eq!(status.message.as_deref(), Some(message.as_str()));
    let waited = p
        .wait_ready(&ws.id, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(matches!(waited, Error::WorkspaceFailed { .. }), "{waited}");
    assert!(matches!(
        p.executor(&ws.id).await,
        Err(Error::InvalidState { .. })
    ));

    // Fix the cause on the host side (the workspace's files) and start again.
    std::fs::write(f.dir.path().join("hook-fails/files/demo/flag"), b"").unwrap();
    p.start(&ws.id).await.unwrap();
    let ready = p.wait_ready(&ws.id, Duration::from_secs(10)).await.unwrap();
    assert_eq!(ready.phase, Phase::Running);
    assert_eq!(ready.message, None);
    p.delete(&ws.id).await.unwrap();
}

#[tokio::test]
async fn failing_pre_stop_is_a_warning_and_the_stop_goes_ahead() {
    let f = fixture(Isolation::Bubblewrap);
    let p = &f.provider;
    let extra = "  commands:
    flush: { run: \"echo cannot flush >&2; exit 1\" }
  lifecycle:
    preStop: [flush]
";
    let ws = p
        .create(&contract(extra), CreateRequest::named("prestop"))
        .await
        .unwrap();
    p.start(&ws.id).await.unwrap();
    p.stop(&ws.id).await.unwrap();
    assert_eq!(p.status(&ws.id).await.unwrap().phase, Phase::Stopped);
    let warnings = f.events.warnings();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("preStop command `flush`") && w.contains("cannot flush")),
        "{warnings:?}"
    );
    p.delete(&ws.id).await.unwrap();
}
