//! Files read and written straight on the host, confined to the workspace.

use crate::common;

use agentbox_core::Error;
use agentbox_core::exec::{ExecRequest, ExecutorExt};
use agentbox_local::Isolation;
use common::{contract, fixture, sh};
use sha2::{Digest, Sha256};

#[tokio::test]
async fn written_files_are_seen_by_commands_and_read_back() {
    let f = fixture(Isolation::Auto);
    let (_, exec) = f.running(&contract(""), "rw").await;
    let content: Vec<u8> = (0..5 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let written = exec
        .write_bytes("deep/dir/blob.bin", content.clone())
        .await
        .unwrap();
    assert_eq!(written.path, "/projects/demo/deep/dir/blob.bin");
    assert_eq!(written.bytes, content.len() as u64);
    assert_eq!(written.sha256, hex::encode(Sha256::digest(&content)));
    assert_eq!(
        exec.read_bytes("/projects/demo/deep/dir/blob.bin")
            .await
            .unwrap(),
        content
    );

    let out = exec
        .exec(ExecRequest::new(["sha256sum", "deep/dir/blob.bin"]))
        .await
        .unwrap();
    assert!(
        out.stdout_text().starts_with(&written.sha256),
        "{}",
        out.stdout_text()
    );
    assert!(sh(&exec, "echo made > made.txt").await.exit.success());
    assert_eq!(exec.read_bytes("made.txt").await.unwrap(), b"made\n");
}

#[tokio::test]
async fn paths_outside_the_workspace_are_refused() {
    let f = fixture(Isolation::Auto);
    let (_, exec) = f.running(&contract(""), "esc").await;
    for path in ["../../etc/passwd", "/etc/passwd", "/projects/../etc/x"] {
        let err = exec.read_bytes(path).await.unwrap_err();
        assert!(matches!(err, Error::PathEscapes { .. }), "{path}: {err}");
        let err = exec.write_bytes(path, b"x".to_vec()).await.unwrap_err();
        assert!(matches!(err, Error::PathEscapes { .. }), "{path}: {err}");
    }
}

#[tokio::test]
async fn symlinks_planted_inside_cannot_lead_out() {
    let f = fixture(Isolation::Auto);
    let (_, exec) = f.running(&contract(""), "link").await;
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), "host secret").unwrap();
    std::os::unix::fs::symlink(outside.path(), f.files("link").join("demo/out")).unwrap();
    assert!(
        sh(&exec, "ln -s /etc etc-link && ln -s ../../.. up")
            .await
            .exit
            .success()
    );

    for path in ["out/secret", "etc-link/passwd", "up/etc/passwd"] {
        let err = exec.read_bytes(path).await.unwrap_err();
        assert!(matches!(err, Error::PathEscapes { .. }), "{path}: {err}");
    }
    let err = exec
        .write_bytes("out/planted", b"x".to_vec())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PathEscapes { .. }), "{err}");
    assert!(!outside.path().join("planted").exists());
}

#[tokio::test]
async fn a_failed_write_leaves_the_old_file() {
    struct Failing;
    impl tokio::io::AsyncRead for Failing {
        fn poll_read(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            _: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Err(std::io::Error::other("source broke")))
        }
    }
    let f = fixture(Isolation::Auto);
    let (_, exec) = f.running(&contract(""), "atomic").await;
    exec.write_bytes("f", b"old".to_vec()).await.unwrap();
    let err = exec.write_file("f", Box::new(Failing)).await.unwrap_err();
    assert!(
        err.to_string().contains("source broke") || format!("{err:?}").contains("source broke"),
        "{err}"
    );
    assert_eq!(exec.read_bytes("f").await.unwrap(), b"old");
    let names: Vec<_> = std::fs::read_dir(f.files("atomic").join("demo"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["f"], "no temporary file is left behind");
}
