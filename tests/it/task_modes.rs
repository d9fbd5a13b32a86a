//! The in-pod agent mode and the whole-file mode end to end on the local provider.

#![cfg(all(feature = "local", feature = "copilot"))]

use crate::task_support;

use agentbox::WorkspaceProvider;
use agentbox::task::{AgentCli, Mode, TaskOutcome};
use agentbox_testkit::model_server::Reply;
use task_support::{fixture, task};

/// A stand-in agent CLI: prints each argument it got on its own `arg:` line, fixes the
/// project, and exits with `$AGENT_EXIT`.
const AGENT: &str = r#"for a in "$@"; do printf 'arg:%s\n' "$a"; done
echo 'echo 42' > answer.sh
echo 'agent: done' >&2
exit "${AGENT_EXIT:-0}"
"#;

const PROMPT: &str = r#"Fix it'; touch pwned; $(touch pwned) "quoted" `touch pwned`"#;

fn in_pod_task(exit: &str) -> agentbox::task::Task {
    let mut cli = AgentCli::new(["sh", "agent.sh", "{prompt}"]);
    cli.env.insert("AGENT_EXIT".into(), exit.into());
    let mut task = task().file("agent.sh", AGENT).mode(Mode::InPod(cli));
    task.description = PROMPT.into();
    task
}

#[tokio::test]
async fn an_in_pod_agent_gets_the_prompt_as_one_argument_and_its_output_is_kept() {
    let f = fixture().await;
    let result = f
        .runner()
        .run(&in_pod_task("0"), f.evidence("in-pod").await)
        .await
        .unwrap();

    assert_eq!(result.outcome, TaskOutcome::Succeeded);
    assert_eq!((result.turns, result.test_runs), (0, 1));
    let log =
        std::fs::read_to_string(f.run_dir("in-pod").join("artifacts/agent-output.log")).unwrap();
    assert_eq!(log.matches("arg:").count(), 1, "{log}");
    assert!(
        log.starts_with(&format!("arg:{PROMPT}\n\nWork in /projects/demo.")),
        "{log}"
    );
    assert!(log.contains("agent: done"), "{log}");
    assert!(f.server.chat_requests().is_empty());
    assert!(
        f.provider
            .status(&result.workspace.unwrap())
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test]
async fn an_in_pod_agent_that_exits_non_zero_fails_the_task() {
    let f = fixture().await;
    let result = f
        .runner()
        .run(&in_pod_task("3"), f.evidence("in-pod-fail").await)
        .await
        .unwrap();

    match &result.outcome {
        TaskOutcome::Failed { reason } => assert!(reason.contains("exit code 3"), "{reason}"),
        other => panic!("expected a failure, got {other:?}"),
    }
    assert!(f.junit("in-pod-fail").contains("exit code 3"));
}

#[tokio::test]
async fn whole_file_answers_are_written_and_test_failures_fed_back() {
    let f = fixture().await;
    f.server.enqueue(Reply::text(
        "Try this:\n```sh path=answer.sh\necho 40\n```\n",
    ));
    f.server
        .enqueue(Reply::text("Now:\n```sh path=answer.sh\necho 42\n```\n"));

    let result = f
        .runner()
        .run(
            &task().mode(Mode::WholeFile),
            f.evidence("whole-file").await,
        )
        .await
        .unwrap();

    assert_eq!(result.outcome, TaskOutcome::Succeeded);
    assert_eq!(
        (result.turns, result.test_runs, result.failed_test_runs),
        (2, 2, 1)
    );
    // The first prompt shows the project's files; the second the failing test.
    let first = f.last_message(0);
    assert!(
        first.contains("``` path=check.sh\ngot=$(sh answer.sh)"),
        "{first}"
    );
    assert!(
        first.contains("``` path=answer.sh\necho 41\n```"),
        "{first}"
    );
    let second = f.last_message(1);
    assert!(second.contains("expected 42, got 40"), "{second}");
    assert!(f.server.chat_requests()[0].body.get("tools").is_none());
}
