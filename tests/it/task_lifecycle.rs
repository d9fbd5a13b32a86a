//! The task runner's guarantees: however a task ends — its deadline, its future dropped, a
//! panic in the caller's observer — the workspace is cleaned up per policy and the evidence
//! run is finished with `junit.xml`; and a task can be suspended and continued after review.

#![cfg(all(feature = "local", feature = "copilot"))]

use crate::task_support;

use std::sync::Arc;
use std::time::Duration;

use agentbox::WorkspaceProvider;
use agentbox::evidence::{FsEvidenceSink, RunOutcome};
use agentbox::progress::{Progress, ProgressEvent};
use agentbox::provider::Phase;
use agentbox::task::{CleanupPolicy, Limits, TaskOutcome, TaskStep};
use agentbox_testkit::model_server::Reply;
use task_support::{fixture, task, write_answer};

const SLEEP: &str = r#"{"argv": ["sleep", "600"]}"#;

#[tokio::test]
async fn a_task_past_its_deadline_is_stopped_per_policy_and_junit_says_timeout() {
    let f = fixture().await;
    f.server
        .enqueue(Reply::tool_call("c1", "run_command", SLEEP));
    let task = task().cleanup(CleanupPolicy::Stop).limits(Limits {
        deadline: Duration::from_secs(5),
        ..Limits::default()
    });

    let result = f
        .runner()
        .run(&task, f.evidence("deadline").await)
        .await
        .unwrap();

    assert_eq!(result.outcome, TaskOutcome::TimedOut);
    let id = result.workspace.unwrap();
    assert_eq!(f.provider.status(&id).await.unwrap().phase, Phase::Stopped);
    let record = FsEvidenceSink::read_record(f.run_dir("deadline"))
        .await
        .unwrap();
    assert_eq!(record.outcome, RunOutcome::TimedOut);
    let junit = f.junit("deadline");
    assert!(junit.contains(r#"type="timed_out""#), "{junit}");
    assert!(f.steps().contains(&TaskStep::CleanedUp {
        workspace: id.to_string(),
        policy: CleanupPolicy::Stop
    }));
    f.provider.delete(&id).await.unwrap();
}

#[tokio::test]
async fn dropping_the_run_future_deletes_the_workspace_and_records_a_cancelled_run() {
    let f = fixture().await;
    f.server
        .enqueue(Reply::tool_call("c1", "run_command", SLEEP));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let runner = f.runner_with(Progress::new(Arc::new(move |e: &ProgressEvent| {
        if let ProgressEvent::Task {
            step: TaskStep::ToolCall { tool, .. },
            ..
        } = e
            && tool == "run_command"
        {
            let _ = tx.send(());
        }
    })));
    let task = task();
    let evidence = f.evidence("cancelled").await;

    {
        let run = runner.run(&task, evidence.clone());
        tokio::pin!(run);
        tokio::select! {
            result = &mut run => panic!("the task ended on its own: {result:?}"),
            _ = rx.recv() => {}
        }
    } // The future is dropped here, mid-command.
    runner.wait_for_cleanups().await;

    let record = FsEvidenceSink::read_record(f.run_dir("cancelled"))
        .await
        .unwrap();
    assert_eq!(record.outcome, RunOutcome::Cancelled);
    assert_eq!(record.workspaces.len(), 1);
    let id = agentbox::provider::WorkspaceId(record.workspaces[0].clone());
    assert!(f.provider.status(&id).await.unwrap_err().is_not_found());
    let junit = f.junit("cancelled");
    assert!(junit.contains("the run was cancelled"), "{junit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_progress_observer_still_gets_the_workspace_deleted() {
    let f = fixture().await;
    f.server.enqueue(Reply::tool_call("c1", "run_tests", "{}"));
    let runner = Arc::new(f.runner_with(Progress::new(Arc::new(|e: &ProgressEvent| {
        if let ProgressEvent::Task {
            step: TaskStep::Tests { .. },
            ..
        } = e
        {
            panic!("observer bug");
        }
    }))));
    let evidence = f.evidence("panicked").await;

    let joined = tokio::spawn({
        let (runner, evidence) = (runner.clone(), evidence.clone());
        async move { runner.run(&task(), evidence).await }
    })
    .await;
    assert!(joined.unwrap_err().is_panic());
    runner.wait_for_cleanups().await;

    let record = FsEvidenceSink::read_record(f.run_dir("panicked"))
        .await
        .unwrap();
    assert!(
        matches!(&record.outcome, RunOutcome::Failed { reason } if reason.contains("panicked")),
        "{:?}",
        record.outcome
    );
    let id = agentbox::provider::WorkspaceId(record.workspaces[0].clone());
    assert!(f.provider.status(&id).await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn a_suspended_task_continues_with_review_feedback_in_the_same_workspace() {
    let f = fixture().await;
    let runner = f.runner();
    // First pass: the agent fixes answer.sh and finishes; the workspace is suspended.
    f.server
        .enqueue(Reply::tool_call("c1", "write_file", write_answer(42)));
    f.server.enqueue(Reply::tool_call("c2", "finish", "{}"));
    let task = task().cleanup(CleanupPolicy::Stop);
    let first = runner.run(&task, f.evidence("first").await).await.unwrap();
    assert_eq!(first.outcome, TaskOutcome::Succeeded);
    let id = first.workspace.unwrap();
    assert_eq!(f.provider.status(&id).await.unwrap().phase, Phase::Stopped);

    // Review: the agent reads its earlier work (kept while stopped) and finishes again.
    f.server.enqueue(Reply::tool_call(
        "c3",
        "read_file",
        r#"{"path": "answer.sh"}"#,
    ));
    f.server.enqueue(Reply::tool_call("c4", "finish", "{}"));
    let task = task.cleanup(CleanupPolicy::Delete);
    let second = runner
        .continue_task(
            &id,
            &task,
            "Please keep answer.sh as it is.",
            f.evidence("second").await,
        )
        .await
        .unwrap();

    assert_eq!(second.outcome, TaskOutcome::Succeeded);
    assert_eq!(second.workspace.as_ref(), Some(&id));
    assert!(
        f.last_message(2)
            .contains("Please keep answer.sh as it is."),
        "{}",
        f.last_message(2)
    );
    assert_eq!(f.last_message(3), "echo 42\n");
    assert!(f.provider.status(&id).await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn cleanup_from_a_run_record_is_idempotent() {
    let f = fixture().await;
    f.server
        .enqueue(Reply::tool_call("c1", "write_file", write_answer(42)));
    f.server.enqueue(Reply::tool_call("c2", "finish", "{}"));
    let runner = f.runner();
    let result = runner
        .run(
            &task().cleanup(CleanupPolicy::Keep),
            f.evidence("kept").await,
        )
        .await
        .unwrap();
    let id = result.workspace.unwrap();
    assert_eq!(f.provider.status(&id).await.unwrap().phase, Phase::Running);

    let cleaned = runner
        .cleanup_from_record(f.run_dir("kept"), CleanupPolicy::Delete)
        .await
        .unwrap();
    assert_eq!(cleaned, std::slice::from_ref(&id));
    assert!(f.provider.status(&id).await.unwrap_err().is_not_found());
    let again = runner
        .cleanup_from_record(f.run_dir("kept"), CleanupPolicy::Delete)
        .await
        .unwrap();
    assert_eq!(again, [id]);
}
