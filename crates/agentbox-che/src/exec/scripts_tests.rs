//! The scripts, run by this host's `sh` (dash on Debian) exactly as a pod's shell runs them.

use super::*;
use crate::exec::tarstream::{self, Entry, TarReader};
use std::process::Stdio;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

/// Run `script` with `args`, feeding `stdin`; the exit code, stdout and stderr.
async fn run(script: &str, args: &[&str], stdin: &[u8]) -> (i32, Vec<u8>, Vec<u8>) {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("agentbox-test")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh runs");
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let feeder = tokio::spawn(async move {
        let _ = input.write_all(&stdin).await;
    });
    let out = child.wait_with_output().await.unwrap();
    let _ = feeder.await;
    (out.status.code().unwrap_or(-1), out.stdout, out.stderr)
}

/// An upload stream as the executor sends it.
fn upload(parts: &[&[u8]], end: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts {
        out.extend_from_slice(&tarstream::chunk_header(part.len() as u64));
        out.extend_from_slice(part);
        out.extend(std::iter::repeat_n(
            0u8,
            tarstream::padding(part.len() as u64),
        ));
    }
    if end {
        out.extend_from_slice(&tarstream::end_header());
        out.extend_from_slice(&tarstream::END);
    }
    out
}

#[tokio::test]
async fn the_wrapper_passes_env_through_stdin_and_announces_the_pid() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().canonicalize().unwrap();
    let tricky: &[u8] = b"x y\n'$(id)\"`\\ \n";
    let mut stdin =
        env_header([("A", tricky), ("B", &[0xff, 0x01][..]), ("EMPTY", &b""[..])]).unwrap();
    stdin.extend_from_slice(b"rest of stdin");
    let (code, out, err) = run(
        &wrapper(),
        &[
            "tag123",
            cwd.to_str().unwrap(),
            "13",
            "sh",
            "-c",
            "printf '%s|' \"$A\" \"$B\" \"$EMPTY\" \"$AGENTBOX_EXEC_ID\"; pwd; cat; exit 3",
        ],
        &stdin,
    )
    .await;
    assert_eq!(code, 3, "the command's exit code is the wrapper's");
    let mut want = tricky.to_vec();
    want.extend_from_slice(b"|\xff\x01||tag123|");
    want.extend_from_slice(cwd.to_str().unwrap().as_bytes());
    want.extend_from_slice(b"\nrest of stdin");
    assert_eq!(
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(&want)
    );
    let first = String::from_utf8_lossy(&err)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    let pid = first
        .strip_prefix("tag123 ")
        .expect("the announcement comes first");
    assert!(pid.parse::<u32>().is_ok(), "{first}");
}

#[tokio::test]
async fn argv_reaches_the_program_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let tricky = ["$HOME", "a;b", "'q'", "*", "line\nbreak", " lead", "-n"];
    let mut args = vec!["t", dir.path().to_str().unwrap(), "0", "printf", "%s\\0"];
    args.extend(tricky);
    let (code, out, _) = run(&wrapper(), &args, b".\n").await;
    assert_eq!(code, 0);
    let got: Vec<String> = out
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    assert_eq!(got, tricky);
}

#[test]
fn bad_variable_names_are_refused() {
    assert!(env_header([("1A", &b""[..])]).is_none());
    assert!(env_header([("A B", &b""[..])]).is_none());
    assert!(env_header([("AGENTBOX_EXEC_ID", &b""[..])]).is_none());
    assert_eq!(
        env_header([("A_1", &b"a"[..])]).unwrap(),
        b"A_1 \\0141\n.\n"
    );
}

/// Processes whose environment carries `AGENTBOX_EXEC_ID=<tag>`.
fn tagged(tag: &str) -> Vec<u32> {
    let want = format!("AGENTBOX_EXEC_ID={tag}");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|env| env.split(|b| *b == 0).any(|v| v == want.as_bytes()))
                .unwrap_or(false)
        })
        .collect()
}

/// A tree started under the wrapper: the wrapper, its stdin (kept open) and the announced pid.
struct Tree {
    child: tokio::process::Child,
    stdin: Option<tokio::process::ChildStdin>,
    pid: Option<u32>,
}

/// Start `(sleep 30; echo late) & sleep 60` under the wrapper with stdin mode `n`, and wait
/// until its three processes carry the tag.
async fn start_tree(tag: &str, dir: &std::path::Path, n: &str) -> Tree {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(wrapper())
        .args([
            "agentbox-test",
            tag,
            dir.to_str().unwrap(),
            n,
            "sh",
            "-c",
            "(sleep 30; echo late) & sleep 60",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b".\n").await.unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while stderr.read(&mut byte).await.unwrap() == 1 && byte[0] != b'\n' {
        line.push(byte[0]);
    }
    let line = String::from_utf8(line).unwrap();
    let pid = line
        .strip_prefix(&format!("{tag} "))
        .and_then(|p| p.parse().ok());
    while tagged(tag).len() < 3 {
        tokio::task::yield_now().await;
    }
    Tree {
        child,
        stdin: Some(stdin),
        pid,
    }
}

/// The wrapper ends (its command was killed) and no process of the tree is left.
async fn assert_tree_gone(tree: &mut Tree, tag: &str) {
    let status = tokio::time::timeout(std::time::Duration::from_secs(10), tree.child.wait())
        .await
        .expect("the wrapper ends once its command is killed")
        .unwrap();
    assert!(!status.success());
    // SIGKILL is delivered at once but processes take a moment to exit, and none of them is
    // this test's child to wait for: look until they are gone.
    let gone = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while !tagged(tag).is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(
        gone.is_ok(),
        "processes of the tree are left: {:?}",
        tagged(tag)
    );
}

#[tokio::test]
async fn a_second_exec_kills_the_whole_tree() {
    let dir = tempfile::tempdir().unwrap();
    let tag = crate::token::token("test").unwrap();
    let mut tree = start_tree(&tag, dir.path(), "0").await;
    assert!(tree.pid.is_some(), "the wrapper announced its pid");
    let pid = tree.pid.unwrap().to_string();
    let (code, _, err) = run(&kill_script(), &[&tag, &pid], b"").await;
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&err));
    assert_tree_gone(&mut tree, &tag).await;
}

#[tokio::test]
async fn a_second_exec_without_a_pid_sweeps_by_tag() {
    let dir = tempfile::tempdir().unwrap();
    let tag = crate::token::token("test").unwrap();
    let mut tree = start_tree(&tag, dir.path(), "0").await;
    let (code, _, _) = run(&kill_script(), &[&tag, ""], b"").await;
    assert_eq!(code, 0);
    assert_tree_gone(&mut tree, &tag).await;
}

#[tokio::test]
async fn a_kill_line_on_stdin_kills_the_whole_tree() {
    let dir = tempfile::tempdir().unwrap();
    let tag = crate::token::token("test").unwrap();
    let mut tree = start_tree(&tag, dir.path(), "0").await;
    let stdin = tree.stdin.as_mut().unwrap();
    // Lines without the tag (stdin the command left unread) are not a kill. Nothing signals
    // that they were read and ignored, so give the watcher a moment before looking.
    stdin.write_all(b"kill 1\nnoise\n").await.unwrap();
    stdin.flush().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(tagged(&tag).len() >= 3, "the tree still runs");
    let line = format!("{tag} kill {}\n", tree.pid.unwrap());
    stdin.write_all(line.as_bytes()).await.unwrap();
    stdin.flush().await.unwrap();
    assert_tree_gone(&mut tree, &tag).await;
}

#[tokio::test]
async fn a_session_relays_lines_until_its_kill_line() {
    let dir = tempfile::tempdir().unwrap();
    let tag = crate::token::token("test").unwrap();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(wrapper())
        .args([
            "agentbox-test",
            &tag,
            dir.path().to_str().unwrap(),
            "-",
            "sh",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    stdin
        .write_all(b".\necho 'it'\\''s \\ here'\n(sleep 30; echo late) & sleep 60\n")
        .await
        .unwrap();
    let mut line = vec![0u8; 12];
    stdout.read_exact(&mut line).await.unwrap();
    assert_eq!(line, b"it's \\ here\n", "lines reach the shell unchanged");
    while tagged(&tag).len() < 3 {
        tokio::task::yield_now().await;
    }
    stdin
        .write_all(format!("{tag} kill\n").as_bytes())
        .await
        .unwrap();
    stdin.flush().await.unwrap();
    let mut tree = Tree {
        child,
        stdin: Some(stdin),
        pid: None,
    };
    assert_tree_gone(&mut tree, &tag).await;
}

#[tokio::test]
async fn the_end_of_stdin_kills_the_whole_tree() {
    let dir = tempfile::tempdir().unwrap();
    let tag = crate::token::token("test").unwrap();
    let mut tree = start_tree(&tag, dir.path(), "0").await;
    // The client left (or the stream was cut): the kubelet closes the process's stdin.
    tree.stdin = None;
    assert_tree_gone(&mut tree, &tag).await;
}

/// A workspace root with `app/` inside and `outside/` next to it.
fn layout() -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    let root = base.join("root");
    std::fs::create_dir_all(root.join("app")).unwrap();
    std::fs::create_dir_all(base.join("outside")).unwrap();
    std::os::unix::fs::symlink(base.join("outside"), root.join("app/sneaky")).unwrap();
    let root = root.to_str().unwrap().to_owned();
    let outside = base.join("outside").to_str().unwrap().to_owned();
    (dir, root, outside)
}

#[tokio::test]
async fn write_creates_parents_and_reports_the_size() {
    let (_dir, root, _) = layout();
    let target = format!("{root}/app/new/deep/file.bin");
    let big = vec![9u8; 3000];
    let (code, out, err) = run(
        &write_script(),
        &[&target, &root],
        &upload(&[b"head ", &big, b""], true),
    )
    .await;
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&err));
    assert_eq!(String::from_utf8_lossy(&out).trim(), "3005");
    let written = std::fs::read(&target).unwrap();
    assert_eq!(&written[..5], b"head ");
    assert_eq!(written.len(), 3005);
}

#[tokio::test]
async fn a_cut_upload_leaves_nothing_behind() {
    let (_dir, root, _) = layout();
    let target = format!("{root}/app/cut.txt");
    let (code, _, _) = run(
        &write_script(),
        &[&target, &root],
        &upload(&[b"partial"], false),
    )
    .await;
    assert_ne!(code, 0);
    assert!(!std::path::Path::new(&target).exists());
    let leftovers: Vec<_> = std::fs::read_dir(format!("{root}/app"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(
        leftovers.len(),
        1,
        "only the symlink: no temporary file left"
    );
}

#[tokio::test]
async fn writes_through_a_symlink_out_of_the_root_are_refused() {
    let (_dir, root, outside) = layout();
    for target in [
        format!("{root}/app/sneaky/x"),
        format!("{root}/app/sneaky/new/x"),
    ] {
        let (code, _, _) = run(&write_script(), &[&target, &root], &upload(&[b"x"], true)).await;
        assert_eq!(code, EXIT_ESCAPES, "{target}");
    }
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "nothing was created outside"
    );
}

/// Read `path` with the read script: the exit code and the file's bytes from the tar stream.
async fn read(path: &str, root: &str) -> (i32, Option<Vec<u8>>) {
    let (code, out, _) = run(&read_script(), &[path, root], b"").await;
    let mut tar = TarReader::new(out.as_slice());
    let data = match tar.next_file().await.unwrap() {
        Some(Entry::File(_)) => {
            let mut data = Vec::new();
            while let Some(chunk) = tar.next_chunk(1000).await.unwrap() {
                data.extend_from_slice(&chunk);
            }
            Some(data)
        }
        _ => None,
    };
    (code, data)
}

#[tokio::test]
async fn read_streams_a_file_and_follows_links_inside_the_root() {
    let (_dir, root, outside) = layout();
    std::fs::write(format!("{root}/app/a.txt"), b"alpha").unwrap();
    std::os::unix::fs::symlink("a.txt", format!("{root}/app/link")).unwrap();
    std::fs::write(format!("{outside}/secret"), b"no").unwrap();
    std::os::unix::fs::symlink(format!("{outside}/secret"), format!("{root}/app/out")).unwrap();

    assert_eq!(
        read(&format!("{root}/app/a.txt"), &root).await,
        (0, Some(b"alpha".to_vec()))
    );
    assert_eq!(
        read(&format!("{root}/app/link"), &root).await,
        (0, Some(b"alpha".to_vec()))
    );
    assert_eq!(
        read(&format!("{root}/app/out"), &root).await.0,
        EXIT_ESCAPES
    );
    assert_eq!(
        read(&format!("{root}/app/sneaky/secret"), &root).await.0,
        EXIT_ESCAPES
    );
    assert_eq!(
        read(&format!("{root}/app/missing"), &root).await.0,
        EXIT_MISSING
    );
    assert_eq!(
        read(&format!("{root}/app"), &root).await.0,
        3,
        "a directory is not a file"
    );
}
