//! Lifecycle behaviours: create → start → ready → stop → resume → delete.

use agentbox_core::Error;
use agentbox_core::exec::ExecRequest;
use agentbox_core::provider::{LabelSelector, Phase};

use super::{Outcome, Suite};

/// Phases follow the operations in order, and a deleted workspace is gone.
pub async fn order_of_operations(suite: &Suite) -> Outcome {
    let p = &suite.provider;
    let backend = p.backend();
    let info = suite.created("order-of-operations").await;
    assert_eq!(
        info.phase,
        Phase::Pending,
        "{backend}: a new workspace is pending"
    );
    assert_eq!(
        info.contract_hash,
        suite.contract.hash(),
        "{backend}: contract hash recorded"
    );

    p.start(&info.id).await.expect("start");
    let ready = p
        .wait_ready(&info.id, suite.ready_timeout)
        .await
        .expect("wait_ready");
    assert_eq!(
        ready.phase,
        Phase::Running,
        "{backend}: ready means running"
    );

    p.stop(&info.id).await.expect("stop");
    let stopped = p.status(&info.id).await.expect("status after stop");
    assert_eq!(
        stopped.phase,
        Phase::Stopped,
        "{backend}: stop leads to stopped"
    );

    if suite.capabilities().suspend_keeps_storage {
        // Files survive a suspend/resume cycle.
        p.resume(&info.id).await.expect("resume");
        p.wait_ready(&info.id, suite.ready_timeout)
            .await
            .expect("ready after resume");
        let ex = p.executor(&info.id).await.expect("executor");
        let write = ExecRequest::new(["sh", "-c", "echo kept > kept.txt"]);
        assert!(ex.exec(write).await.expect("exec").exit.success());
        p.stop(&info.id).await.expect("second stop");
        p.resume(&info.id).await.expect("second resume");
        p.wait_ready(&info.id, suite.ready_timeout)
            .await
            .expect("ready after second resume");
        let ex = p.executor(&info.id).await.expect("executor");
        let out = ex
            .exec(ExecRequest::new(["cat", "kept.txt"]))
            .await
            .expect("exec");
        assert_eq!(
            out.stdout_text(),
            "kept\n",
            "{backend}: files survive stop/resume"
        );
    } else {
        p.resume(&info.id).await.expect("resume");
        p.wait_ready(&info.id, suite.ready_timeout)
            .await
            .expect("ready after resume");
    }

    p.delete(&info.id).await.expect("delete");
    match p.status(&info.id).await {
        Err(e) if e.is_not_found() => {}
        other => panic!("{backend}: a deleted workspace must be not-found, got {other:?}"),
    }
    Outcome::Passed
}

/// Deleting twice, or deleting a workspace that never existed, succeeds.
pub async fn delete_is_idempotent(suite: &Suite) -> Outcome {
    let p = &suite.provider;
    let info = suite.created("delete-is-idempotent").await;
    p.delete(&info.id).await.expect("first delete");
    p.delete(&info.id)
        .await
        .expect("second delete must succeed too");
    let never = agentbox_core::provider::WorkspaceId("never-existed-0".into());
    p.delete(&never)
        .await
        .expect("deleting an unknown workspace succeeds");
    Outcome::Passed
}

/// `list` finds workspaces by label, and only those.
pub async fn list_by_label(suite: &Suite) -> Outcome {
    let p = &suite.provider;
    let a = suite.created("list-by-label").await;
    let b = suite.created("list-by-label").await;
    let other = suite.created("list-by-label-other").await;
    let found = p
        .list(&LabelSelector::all().eq("agentbox.dev/suite", "list-by-label"))
        .await
        .expect("list");
    let mut ids: Vec<_> = found.iter().map(|w| w.id.clone()).collect();
    ids.sort();
    let mut want = vec![a.id.clone(), b.id.clone()];
    want.sort();
    assert_eq!(ids, want, "{}: list by label", p.backend());
    for w in [a, b, other] {
        p.delete(&w.id).await.expect("delete");
    }
    Outcome::Passed
}

/// A stopped workspace runs no commands, and says so with a typed error.
pub async fn executor_refused_when_stopped(suite: &Suite) -> Outcome {
    let ws = suite.running("executor-refused-when-stopped").await;
    let p = ws.provider.clone();
    p.stop(ws.id()).await.expect("stop");
    let err = ws
        .executor
        .exec(ExecRequest::new(["true"]))
        .await
        .expect_err("exec in a stopped workspace must fail");
    assert!(
        matches!(err, Error::InvalidState { .. } | Error::NotFound { .. }),
        "{}: expected an invalid-state error, got {err}",
        p.backend()
    );
    ws.delete().await;
    Outcome::Passed
}
