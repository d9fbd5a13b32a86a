//! Commands run without isolation (the explicit `Isolation::None` opt-in).

use crate::common;

use std::time::Duration;

use agentbox_core::exec::{ExecRequest, ExitStatus, SessionCommand};
use agentbox_local::Isolation;
use common::{contract, fixture, sh};

#[tokio::test]
async fn commands_run_in_the_host_workdir_with_a_cleared_environment() {
    let f = fixture(Isolation::None);
    let (_, exec) = f
        .running(&contract("  env: { FROM_CONTRACT: c }\n"), "plain")
        .await;
    let workdir = std::fs::canonicalize(f.files("plain").join("demo")).unwrap();
    assert_eq!(
        sh(&exec, "pwd -P").await.stdout_text(),
        format!("{}\n", workdir.display())
    );
    let out = exec.exec(ExecRequest::new(["env"])).await.unwrap();
    let mut names: Vec<_> = out
        .stdout_text()
        .lines()
        .map(|l| l.split('=').next().unwrap().to_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["FROM_CONTRACT", "HOME", "PATH"]);
    assert!(
        f.events
            .warnings()
            .iter()
            .any(|w| w.contains("WITHOUT isolation"))
    );
}

#[tokio::test]
async fn a_timeout_kills_the_process_group() {
    let f = fixture(Isolation::None);
    let (_, exec) = f.running(&contract(""), "group").await;
    let request = ExecRequest::new(["sh", "-c", "(sleep 2; touch marker) & sleep 100"])
        .timeout(Duration::from_millis(500));
    assert_eq!(exec.exec(request).await.unwrap().exit, ExitStatus::TimedOut);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !f.files("group").join("demo/marker").exists(),
        "a grandchild outlived the timeout"
    );
}

#[tokio::test]
async fn signals_are_reported_and_sessions_work() {
    let f = fixture(Isolation::None);
    let (_, exec) = f.running(&contract(""), "sig").await;
    assert_eq!(sh(&exec, "kill -KILL $$").await.exit, ExitStatus::Signal(9));
    let mut session = exec.session().await.unwrap();
    let out = session
        .run(&SessionCommand::script("export B=2; echo $B"))
        .await
        .unwrap();
    assert_eq!(out.stdout_text(), "2\n");
}
