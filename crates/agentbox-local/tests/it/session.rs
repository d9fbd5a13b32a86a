//! Persistent shell sessions in the sandbox.

use crate::common;

use std::time::Duration;

use agentbox_core::Error;
use agentbox_core::exec::{ExitStatus, SessionCommand};
use agentbox_core::provider::WorkspaceProvider;
use agentbox_local::Isolation;
use common::{contract, fixture};

#[tokio::test]
async fn directory_and_variables_persist_and_each_command_has_its_exit_code() {
    let f = fixture(Isolation::Auto);
    let (_, exec) = f.running(&contract(""), "sess").await;
    let mut session = exec.session().await.unwrap();
    let run = |s: &str| SessionCommand::script(s);
    assert!(
        session
            .run(&run("mkdir -p sub && cd sub && export A=1"))
            .await
            .unwrap()
            .exit
            .success()
    );
    let out = session
        .run(&run("pwd; echo \"A=$A\"; echo oops >&2; false"))
        .await
        .unwrap();
    assert_eq!(out.stdout_text(), "/projects/demo/sub\nA=1\n");
    assert_eq!(out.stderr_text(), "oops\n");
    assert_eq!(out.exit, ExitStatus::Code(1));
    let out = session
        .run(&SessionCommand::argv(["printf", "%s", "it's $A"]))
        .await
        .unwrap();
    assert_eq!(out.stdout_text(), "it's $A");
    session.close().await.unwrap();
}

#[tokio::test]
async fn syntax_errors_fail_the_command_not_the_session() {
    let f = fixture(Isolation::Auto);
    let (_, exec) = f.running(&contract(""), "syntax").await;
    let mut session = exec.session().await.unwrap();
    let out = session
        .run(&SessionCommand::script("if then"))
        .await
        .unwrap();
    assert_eq!(out.exit, ExitStatus::Code(2));
    let out = session
        .run(&SessionCommand::script("echo alive"))
        .await
        .unwrap();
    assert_eq!(out.stdout_text(), "alive\n");
}

#[tokio::test]
async fn output_that_looks_like_a_marker_is_passed_through() {
    let f = fixture(Isolation::Auto);
    let (_, exec) = f.running(&contract(""), "fake").await;
    let mut session = exec.session().await.unwrap();
    let fake = "__agentbox_0123456789abcdef0123456789abcdef__ 0";
    let script =
        format!("echo '{fake}'; echo '{fake}' >&2; echo after; exit_code_is_next=1; (exit 4)");
    let out = session.run(&SessionCommand::script(script)).await.unwrap();
    assert_eq!(out.stdout_text(), format!("{fake}\nafter\n"));
    assert_eq!(out.stderr_text(), format!("{fake}\n"));
    assert_eq!(out.exit, ExitStatus::Code(4));
}

#[tokio::test]
async fn a_timeout_kills_the_session() {
    let f = fixture(Isolation::Auto);
    let (_, exec) = f.running(&contract(""), "slow").await;
    let mut session = exec.session().await.unwrap();
    let out = session
        .run(&SessionCommand::script("echo started; sleep 100").timeout(Duration::from_millis(300)))
        .await
        .unwrap();
    assert_eq!(
        (out.exit, out.stdout_text()),
        (ExitStatus::TimedOut, "started\n".into())
    );
    let err = session
        .run(&SessionCommand::script("true"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SessionClosed { .. }), "{err}");
}

#[tokio::test]
async fn exiting_the_shell_ends_the_session() {
    let f = fixture(Isolation::Auto);
    let (_, exec) = f.running(&contract(""), "bye").await;
    let mut session = exec.session().await.unwrap();
    let out = session
        .run(&SessionCommand::script("exit 7"))
        .await
        .unwrap();
    assert_eq!(out.exit, ExitStatus::Code(7));
    let err = session
        .run(&SessionCommand::script("true"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SessionClosed { .. }), "{err}");
}

#[tokio::test]
async fn stopping_the_workspace_closes_its_sessions() {
    let f = fixture(Isolation::Auto);
    let (info, exec) = f.running(&contract(""), "stopped").await;
    let mut session = exec.session().await.unwrap();
    assert!(
        session
            .run(&SessionCommand::script(
                "(sleep 2; touch /projects/marker) &"
            ))
            .await
            .unwrap()
            .exit
            .success()
    );
    f.provider.stop(&info.id).await.unwrap();
    let err = session
        .run(&SessionCommand::script("true"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SessionClosed { .. }), "{err}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !f.files("stopped").join("marker").exists(),
        "a background job outlived the stop"
    );
}
