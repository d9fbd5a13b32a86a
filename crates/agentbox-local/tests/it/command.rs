//! `LocalExecutor::command`: a process the caller drives itself, in the same sandbox as `exec`.

use crate::common;

use std::process::Stdio;

use agentbox_core::exec::ExecRequest;
use agentbox_core::provider::WorkspaceProvider;
use agentbox_local::Isolation;
use common::{contract, fixture};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn a_driven_command_sees_the_workspace_and_streams_stdin() {
    let f = fixture(Isolation::Auto);
    let (info, _) = f
        .running(&contract("  env: { GREETING: from-contract }\n"), "driven")
        .await;
    let exec = f.provider.local_executor(&info.id).await.unwrap();
    let mut command = exec
        .command(
            &ExecRequest::new([
                "sh",
                "-c",
                "cat > data.bin; echo \"$GREETING $EXTRA $(pwd) $(wc -c < data.bin)\"; echo err >&2; exit 7",
            ])
            .env("EXTRA", "from-request"),
        )
        .unwrap();
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = tokio::spawn(async move {
        for _ in 0..64 {
            stdin.write_all(&[b'x'; 16 * 1024]).await.unwrap();
        }
    });
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .await
        .unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    writer.await.unwrap();
    let status = child.wait().await.unwrap();
    assert_eq!(
        stdout,
        format!(
            "from-contract from-request /projects/demo {}\n",
            64 * 16 * 1024
        )
    );
    assert_eq!(stderr, "err\n");
    assert_eq!(status.code(), Some(7));
    assert_eq!(
        std::fs::metadata(f.files("driven").join("demo/data.bin"))
            .unwrap()
            .len(),
        64 * 16 * 1024
    );
    f.provider.delete(&info.id).await.unwrap();
}

#[tokio::test]
async fn a_driven_command_is_refused_when_the_workspace_is_stopped() {
    let f = fixture(Isolation::Auto);
    let (info, _) = f.running(&contract(""), "stopped").await;
    let exec = f.provider.local_executor(&info.id).await.unwrap();
    f.provider.stop(&info.id).await.unwrap();
    let err = exec.command(&ExecRequest::new(["true"])).unwrap_err();
    assert!(err.to_string().contains("stopped"), "{err}");
    assert!(f.provider.local_executor(&info.id).await.is_err());
}
