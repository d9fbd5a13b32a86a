//! File behaviours: large round trips, sharing with commands, refusing escapes.

use agentbox_core::Error;
use agentbox_core::exec::{ExecRequest, ExecutorExt};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use super::{Outcome, Suite};

/// Deterministic, incompressible-looking test data.
pub fn test_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A 10 MiB file goes in and comes back byte for byte, with the right size and hash.
pub async fn ten_mib_round_trip(suite: &Suite) -> Outcome {
    let ws = suite.running("ten-mib-round-trip").await;
    let data = test_bytes(10 * 1024 * 1024, 7);
    let written = ws
        .executor
        .write_file(
            "data/blob.bin",
            Box::new(std::io::Cursor::new(data.clone())),
        )
        .await
        .expect("write_file");
    assert_eq!(written.bytes, data.len() as u64);
    assert_eq!(written.sha256, hex::encode(Sha256::digest(&data)));
    assert_eq!(
        written.path,
        format!("{}/data/blob.bin", suite.contract.workdir())
    );

    let mut reader = ws
        .executor
        .read_file("data/blob.bin")
        .await
        .expect("read_file");
    let mut back = Vec::new();
    reader.read_to_end(&mut back).await.expect("read");
    assert!(
        back == data,
        "{}: 10 MiB round trip differs",
        ws.provider.backend()
    );
    ws.delete().await;
    Outcome::Passed
}

/// Files written through the executor are seen by commands, and the other way round.
pub async fn files_are_shared_with_commands(suite: &Suite) -> Outcome {
    let ws = suite.running("files-are-shared").await;
    let ex = &ws.executor;
    ex.write_bytes("in.txt", b"from the API\n".to_vec())
        .await
        .expect("write");
    let out = ex
        .exec(ExecRequest::new(["cat", "in.txt"]))
        .await
        .expect("cat");
    assert_eq!(out.stdout_text(), "from the API\n");

    let make = ExecRequest::new([
        "sh",
        "-c",
        "mkdir -p out && printf 'from a command' > out/x.txt",
    ]);
    assert!(ex.exec(make).await.expect("exec").exit.success());
    let absolute = format!("{}/out/x.txt", suite.contract.workdir());
    assert_eq!(
        ex.read_bytes(&absolute).await.expect("read"),
        b"from a command"
    );

    let missing = ex.read_file("no/such/file").await;
    assert!(missing.is_err(), "reading a missing file fails");
    ws.delete().await;
    Outcome::Passed
}

/// Paths that leave the workspace are refused for reading and writing, before any I/O.
pub async fn path_escape_refused(suite: &Suite) -> Outcome {
    let ws = suite.running("path-escape-refused").await;
    let ex = &ws.executor;
    for path in [
        "../../../etc/passwd",
        "/etc/passwd",
        "a/../../../../etc/hosts",
        "/",
    ] {
        let w = ex.write_bytes(path, b"x".to_vec()).await;
        assert!(
            matches!(w, Err(Error::PathEscapes { .. })),
            "write {path}: {w:?}"
        );
        let r = ex.read_file(path).await.map(|_| ());
        assert!(
            matches!(r, Err(Error::PathEscapes { .. })),
            "read {path}: {r:?}"
        );
    }
    // A symlink planted inside the workspace that points outside is not followed.
    let link = ExecRequest::new(["ln", "-s", "/etc", "sneaky"]);
    assert!(ex.exec(link).await.expect("ln").exit.success());
    let r = ex.read_file("sneaky/hostname").await.map(|_| ());
    assert!(
        matches!(r, Err(Error::PathEscapes { .. })),
        "read through symlink: {r:?}"
    );
    let w = ex
        .write_bytes("sneaky/agentbox-was-here", b"x".to_vec())
        .await;
    assert!(
        matches!(w, Err(Error::PathEscapes { .. })),
        "write through symlink: {w:?}"
    );
    ws.delete().await;
    Outcome::Passed
}
