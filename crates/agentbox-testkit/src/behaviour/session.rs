//! Session behaviours: one shell, many commands, state kept, exit code per command.

use agentbox_core::exec::{ExitStatus, SessionCommand};

use super::{Outcome, Suite};

fn skip(suite: &Suite) -> Option<Outcome> {
    (!suite.capabilities().persistent_session)
        .then(|| Outcome::Skipped("the backend has no persistent sessions".into()))
}

/// `cd` and `export` in one command are in force for the next.
pub async fn state_is_kept(suite: &Suite) -> Outcome {
    if let Some(s) = skip(suite) {
        return s;
    }
    let ws = suite.running("session-state-is-kept").await;
    let mut session = ws.executor.session().await.expect("session");
    let r = session
        .run(&SessionCommand::script(
            "mkdir -p deep/er && cd deep/er && export MARK=42",
        ))
        .await
        .expect("run");
    assert!(r.exit.success());
    let r = session
        .run(&SessionCommand::script("pwd; echo \"$MARK\""))
        .await
        .expect("run");
    assert_eq!(
        r.stdout_text(),
        format!("{}/deep/er\n42\n", suite.contract.workdir())
    );
    session.close().await.expect("close");
    ws.delete().await;
    Outcome::Passed
}

/// Every command gets its own exit code and output; a failing command does not end the session.
pub async fn exit_code_per_command(suite: &Suite) -> Outcome {
    if let Some(s) = skip(suite) {
        return s;
    }
    let ws = suite.running("session-exit-codes").await;
    let mut session = ws.executor.session().await.expect("session");
    for code in [0, 4, 0, 1] {
        let r = session
            .run(&SessionCommand::script(format!(
                "echo run-{code}; (exit {code})"
            )))
            .await
            .expect("run");
        assert_eq!(r.exit, ExitStatus::Code(code));
        assert_eq!(r.stdout_text(), format!("run-{code}\n"));
    }
    let r = session
        .run(&SessionCommand::argv(["printf", "%s", "it's $HOME"]))
        .await
        .expect("argv");
    assert_eq!(r.stdout_text(), "it's $HOME", "argv commands are quoted");
    session.close().await.expect("close");
    ws.delete().await;
    Outcome::Passed
}

/// Output that imitates the session's framing, lacks a trailing newline or is long does not
/// confuse it.
pub async fn hostile_output(suite: &Suite) -> Outcome {
    if let Some(s) = skip(suite) {
        return s;
    }
    let ws = suite.running("session-hostile-output").await;
    let mut session = ws.executor.session().await.expect("session");
    let r = session
        .run(&SessionCommand::script("printf 'no newline'"))
        .await
        .expect("run");
    assert_eq!(r.stdout_text(), "no newline");
    let fake = "printf '__AGENTBOX_%s__ 0\\n' 00000000000000000000000000000000; exit_code_follows=1; (exit 9)";
    let r = session
        .run(&SessionCommand::script(fake))
        .await
        .expect("run");
    assert_eq!(
        r.exit,
        ExitStatus::Code(9),
        "a fake sentinel in output is not taken for the real one"
    );
    let r = session
        .run(&SessionCommand::script(
            "head -c 1048576 /dev/zero | tr '\\0' a; echo",
        ))
        .await
        .expect("run");
    assert_eq!(
        r.stdout.len(),
        1024 * 1024 + 1,
        "a 1 MiB line comes back whole"
    );
    let r = session
        .run(&SessionCommand::script("echo still alive"))
        .await
        .expect("run");
    assert_eq!(r.stdout_text(), "still alive\n");
    session.close().await.expect("close");
    ws.delete().await;
    Outcome::Passed
}
