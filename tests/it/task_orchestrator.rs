//! The orchestrator mode end to end: the local provider (bubblewrap), the fake model server
//! scripted with tool calls, and evidence on disk.

#![cfg(all(feature = "local", feature = "copilot"))]

use crate::task_support;

use agentbox::WorkspaceProvider;
use agentbox::contract::Verdict;
use agentbox::evidence::EvidenceEvent;
use agentbox::task::{Limit, Limits, TaskOutcome};
use agentbox_testkit::model_server::Reply;
use task_support::{fixture, task, write_answer};

#[tokio::test]
async fn a_task_that_needs_two_fix_attempts_succeeds_and_deletes_its_workspace() {
    let f = fixture().await;
    f.server
        .enqueue(Reply::tool_call("c1", "write_file", write_answer(40)));
    f.server.enqueue(Reply::tool_call("c2", "run_tests", "{}"));
    f.server
        .enqueue(Reply::tool_call("c3", "write_file", write_answer(42)));
    f.server.enqueue(Reply::tool_call("c4", "run_tests", "{}"));
    f.server
        .enqueue(Reply::tool_call("c5", "finish", r#"{"summary":"fixed"}"#));

    let result = f
        .runner()
        .run(&task(), f.evidence("two-fixes").await)
        .await
        .unwrap();

    assert_eq!(result.outcome, TaskOutcome::Succeeded);
    assert_eq!(
        (result.turns, result.test_runs, result.failed_test_runs),
        (5, 2, 1)
    );
    assert_eq!(result.tokens, 5 * 15);
    // The model saw the failing run's output, then the passing one.
    assert!(
        f.last_message(2).contains("tests FAILED"),
        "{}",
        f.last_message(2)
    );
    assert!(
        f.last_message(2).contains("expected 42, got 40"),
        "{}",
        f.last_message(2)
    );
    assert!(
        f.last_message(4).contains("tests PASSED"),
        "{}",
        f.last_message(4)
    );
    assert!(
        f.server.schema_violations().is_empty(),
        "{:?}",
        f.server.schema_violations()
    );

    let id = result.workspace.unwrap();
    assert!(f.provider.status(&id).await.unwrap_err().is_not_found());
    let junit = f.junit("two-fixes");
    assert_eq!(
        junit.matches("<testcase name=\"test (run").count(),
        2,
        "{junit}"
    );
    assert_eq!(junit.matches("<failure").count(), 1, "{junit}");
    let events = f.events("two-fixes");
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, EvidenceEvent::ModelCall { .. }))
            .count(),
        5
    );
    assert_eq!(
        events.iter().filter(|e| matches!(e, EvidenceEvent::FileWritten { path, .. } if path == "/projects/demo/answer.sh")).count(),
        3, // the seed, then two fixes
    );
}

#[tokio::test]
async fn the_task_stops_when_failing_test_runs_use_up_the_fix_attempts() {
    let f = fixture().await;
    f.server
        .enqueue(Reply::tool_call("c1", "write_file", write_answer(40)));
    f.server.enqueue(Reply::tool_call("c2", "run_tests", "{}"));
    let task = task().limits(Limits {
        max_fix_attempts: 1,
        ..Limits::default()
    });

    let result = f
        .runner()
        .run(&task, f.evidence("no-attempts").await)
        .await
        .unwrap();

    assert_eq!(
        result.outcome,
        TaskOutcome::LimitReached {
            limit: Limit::FixAttempts
        }
    );
    assert_eq!(f.server.chat_requests().len(), 2);
    assert!(
        f.provider
            .status(&result.workspace.unwrap())
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(f.junit("no-attempts").contains("fix-attempt limit"));
}

#[tokio::test]
async fn finish_while_the_tests_fail_is_refused_and_costs_a_fix_attempt() {
    let f = fixture().await;
    f.server.enqueue(Reply::tool_call("c1", "finish", "{}"));
    f.server
        .enqueue(Reply::tool_call("c2", "write_file", write_answer(42)));
    f.server.enqueue(Reply::tool_call("c3", "finish", "{}"));

    let result = f
        .runner()
        .run(&task(), f.evidence("early-finish").await)
        .await
        .unwrap();

    assert_eq!(result.outcome, TaskOutcome::Succeeded);
    assert_eq!((result.test_runs, result.failed_test_runs), (2, 1));
    assert!(
        f.last_message(1)
            .contains("not finished: the tests do not pass yet"),
        "{}",
        f.last_message(1)
    );
}

#[tokio::test]
async fn denied_commands_are_refused_recorded_and_the_task_goes_on() {
    let f = fixture().await;
    f.server.enqueue(Reply::tool_call(
        "c1",
        "run_command",
        r#"{"argv": ["curl", "https://example.com"]}"#,
    ));
    f.server.enqueue(Reply::tool_call(
        "c2",
        "run_command",
        r#"{"argv": ["git", "push", "--force", "origin"]}"#,
    ));
    f.server.enqueue(Reply::tool_call(
        "c3",
        "write_file",
        r#"{"path": "../../etc/x", "content": ""}"#,
    ));
    f.server.enqueue(Reply::tool_call(
        "c4",
        "read_file",
        r#"{"path": "check.sh""#,
    ));
    f.server.enqueue(Reply::tool_call(
        "c5",
        "run_command",
        r#"{"argv": ["sh", "answer.sh"]}"#,
    ));
    f.server
        .enqueue(Reply::tool_call("c6", "write_file", write_answer(42)));
    f.server.enqueue(Reply::tool_call("c7", "finish", "{}"));

    let result = f
        .runner()
        .run(&task(), f.evidence("denied").await)
        .await
        .unwrap();

    assert_eq!(result.outcome, TaskOutcome::Succeeded);
    assert!(
        f.last_message(1).contains("denied by default"),
        "{}",
        f.last_message(1)
    );
    assert!(
        f.last_message(2)
            .contains("denied by rule `shell(git push --force:*)`"),
        "{}",
        f.last_message(2)
    );
    assert!(
        f.last_message(3).contains("outside the workspace"),
        "{}",
        f.last_message(3)
    );
    // Malformed JSON arguments come back as an error, not a crash.
    assert!(
        f.last_message(4).contains("`read_file` are not valid"),
        "{}",
        f.last_message(4)
    );
    assert!(
        f.last_message(5).contains("exit code 0\nstdout:\n41"),
        "{}",
        f.last_message(5)
    );

    let permissions: Vec<(String, Verdict, Option<String>)> = f
        .events("denied")
        .into_iter()
        .filter_map(|e| match e {
            EvidenceEvent::Permission {
                action,
                verdict,
                rule,
            } => Some((action, verdict, rule)),
            _ => None,
        })
        .collect();
    assert_eq!(
        permissions[..2],
        [
            (
                "shell(curl https://example.com)".into(),
                Verdict::Deny,
                None
            ),
            (
                "shell(git push --force origin)".into(),
                Verdict::Deny,
                Some("shell(git push --force:*)".into())
            ),
        ]
    );
    assert_eq!(
        permissions[2],
        (
            "shell(sh answer.sh)".into(),
            Verdict::Allow,
            Some("shell(sh:*)".into())
        )
    );
}
