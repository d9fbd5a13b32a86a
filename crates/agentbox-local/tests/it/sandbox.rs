//! What a command inside the bubblewrap sandbox can and cannot see or do.

use crate::common;

use std::time::Duration;

use agentbox_core::Error;
use agentbox_core::exec::{ExecChunk, ExecRequest, ExecutorExt, ExitStatus};
use agentbox_core::secrets::StaticSecrets;
use agentbox_local::Isolation;
use common::{contract, fixture, fixture_in, sh};
use futures::StreamExt;
use secrecy::SecretString;

#[tokio::test]
async fn the_network_is_unshared_by_default() {
    let f = fixture(Isolation::Auto);
    let (_, exec) = f.running(&contract(""), "net").await;
    let out = sh(&exec, "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '").await;
    assert_eq!(out.stdout_text(), "lo\n");
}

#[tokio::test]
async fn the_host_users_home_is_hidden() {
    let home = std::env::var("HOME").unwrap();
    let marker = tempfile::tempdir_in(&home).unwrap();
    let f = fixture(Isolation::Auto);
    let (_, exec) = f.running(&contract(""), "home").await;
    let marker = marker.path().display().to_string();
    let out = exec
        .exec(ExecRequest::new(["test", "-e", &marker]))
        .await
        .unwrap();
    assert_eq!(
        out.exit,
        ExitStatus::Code(1),
        "{marker} is visible in the sandbox"
    );
    let out = sh(
        &exec,
        "find /root /home -mindepth 1 -not -path /home/user; echo \"$HOME\"",
    )
    .await;
    assert_eq!(out.stdout_text(), "/home/user\n", "{}", out.stderr_text());
}

#[tokio::test]
async fn only_the_mount_path_and_temporary_dirs_are_writable() {
    let f = fixture(Isolation::Auto);
    let (_, exec) = f.running(&contract(""), "ro").await;
    for path in ["/agentbox-test", "/usr/agentbox-test", "/etc/agentbox-test"] {
        let out = exec.exec(ExecRequest::new(["touch", path])).await.unwrap();
        assert!(!out.exit.success(), "{path} was writable");
    }
    let out = sh(&exec, "touch /projects/demo/ok /tmp/ok /home/user/ok").await;
    assert!(out.exit.success(), "{}", out.stderr_text());
    assert!(f.files("ro").join("demo/ok").is_file());
}

#[tokio::test]
async fn other_workspaces_and_the_state_directory_are_invisible() {
    // Outside /tmp, which the sandbox replaces anyway: here only hiding the root can help.
    let state = tempfile::tempdir_in("/var/tmp").unwrap();
    let f = fixture_in(state, Isolation::Auto, StaticSecrets::new());
    f.running(&contract(""), "other").await;
    let (_, exec) = f.running(&contract(""), "one").await;
    let root = f.provider.root().display().to_string();
    let out = exec
        .exec(ExecRequest::new(["ls", "-A", &root]))
        .await
        .unwrap();
    assert!(out.exit.success(), "{}", out.stderr_text());
    assert!(out.stdout_text().trim().is_empty(), "{}", out.stdout_text());
}

#[tokio::test]
async fn writable_paths_persist_between_commands() {
    let f = fixture(Isolation::Auto);
    let (_, exec) = f
        .running(
            &contract("  isolation: { writablePaths: [ /cache ] }\n"),
            "wp",
        )
        .await;
    assert!(sh(&exec, "echo kept > /cache/file").await.exit.success());
    assert_eq!(sh(&exec, "cat /cache/file").await.stdout_text(), "kept\n");
}

#[tokio::test]
async fn a_timeout_kills_the_whole_tree() {
    let f = fixture(Isolation::Auto);
    let (_, exec) = f.running(&contract(""), "tree").await;
    let request = ExecRequest::new(["sh", "-c", "(sleep 2; touch /projects/marker) & sleep 100"])
        .timeout(Duration::from_millis(500));
    let out = exec.exec(request).await.unwrap();
    assert_eq!(out.exit, ExitStatus::TimedOut);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !f.files("tree").join("marker").exists(),
        "a grandchild outlived the timeout"
    );
}

#[tokio::test]
async fn dropping_the_stream_kills_the_command() {
    let f = fixture(Isolation::Auto);
    let (_, exec) = f.running(&contract(""), "drop").await;
    let mut stream = exec
        .exec_stream(ExecRequest::new([
            "sh",
            "-c",
            "echo ready; sleep 2; touch /projects/marker",
        ]))
        .await
        .unwrap();
    assert_eq!(
        stream.next().await.unwrap().unwrap(),
        ExecChunk::Stdout("ready\n".into())
    );
    drop(stream);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !f.files("drop").join("marker").exists(),
        "the command outlived its stream"
    );
}

#[tokio::test]
async fn exit_codes_signals_and_streams_are_reported() {
    let f = fixture(Isolation::Auto);
    let (_, exec) = f.running(&contract(""), "exit").await;
    let out = sh(&exec, "echo out; echo err >&2; exit 3").await;
    assert_eq!(
        (out.exit, out.stdout_text(), out.stderr_text()),
        (ExitStatus::Code(3), "out\n".into(), "err\n".into())
    );
    assert_eq!(
        sh(&exec, "kill -TERM $$").await.exit,
        ExitStatus::Signal(15)
    );
    let out = exec
        .exec(ExecRequest::new(["cat"]).stdin("from stdin"))
        .await
        .unwrap();
    assert_eq!(out.stdout_text(), "from stdin");
    let out = exec
        .exec(ExecRequest::new(["head", "-c", "100000", "/dev/zero"]).output_limit(10))
        .await
        .unwrap();
    assert_eq!((out.stdout.len(), out.stdout_truncated), (10, true));
}

#[tokio::test]
async fn the_environment_is_only_what_was_asked_for() {
    let f = fixture(Isolation::Auto);
    let (_, exec) = f
        .running(&contract("  env: { FROM_CONTRACT: c }\n"), "env")
        .await;
    let request = ExecRequest::new(["env"])
        .env("FROM_REQUEST", "r")
        .secret_env("SECRET", SecretString::from("s"));
    let out = exec.exec(request).await.unwrap();
    let mut names: Vec<_> = out
        .stdout_text()
        .lines()
        .map(|l| l.split('=').next().unwrap().to_owned())
        .collect();
    names.sort();
    // bubblewrap sets PWD to the working directory it changed to.
    assert_eq!(
        names,
        [
            "FROM_CONTRACT",
            "FROM_REQUEST",
            "HOME",
            "PATH",
            "PWD",
            "SECRET"
        ]
    );
}

#[tokio::test]
async fn working_directories_are_checked() {
    let f = fixture(Isolation::Auto);
    let (_, exec) = f.running(&contract(""), "cwd").await;
    assert_eq!(sh(&exec, "pwd").await.stdout_text(), "/projects/demo\n");
    exec.write_bytes("sub/f", b"x".to_vec()).await.unwrap();
    let out = exec
        .exec(ExecRequest::new(["pwd"]).cwd("sub"))
        .await
        .unwrap();
    assert_eq!(out.stdout_text(), "/projects/demo/sub\n");
    let err = exec
        .exec(ExecRequest::new(["pwd"]).cwd("../../etc"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PathEscapes { .. }), "{err}");
    let err = exec
        .exec(ExecRequest::new(["pwd"]).cwd("missing"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
}

#[tokio::test]
async fn a_memory_limit_caps_the_address_space() {
    let f = fixture(Isolation::Auto);
    let (_, exec) = f
        .running(
            &contract("  resources: { memory: { limit: 512Mi } }\n"),
            "mem",
        )
        .await;
    assert_eq!(sh(&exec, "ulimit -v").await.stdout_text(), "524288\n");
}
