//! 64 MiB through `write_file` / `read_file` against a raw exec of `cat` piping the same bytes
//! through the same API server.

use std::time::{Duration, Instant};

use agentbox::exec::{ExecRequest, Executor, ExecutorExt};
use kube::api::AttachParams;
use tokio::io::AsyncWriteExt;

use crate::Res;
use crate::exec::{RawTarget, check_status};
use crate::report::{format_dur, table};

const FILE_SIZE: usize = 64 * 1024 * 1024;
/// The buffer agentbox's executor gives each exec stream.
const STREAM_BUFFER: usize = 64 * 1024;
/// Where the raw upload writes, in the workspace's storage.
const RAW_PATH: &str = "/projects/raw.bin";
const RAW_TIMEOUT: Duration = Duration::from_secs(600);

/// Move 64 MiB each way and print the throughputs.
pub async fn run(executor: &dyn Executor, raw: &RawTarget) -> Res<()> {
    let data = agentbox_testkit::behaviour::files::test_bytes(FILE_SIZE, 42);
    let mut rows = Vec::new();

    let started = Instant::now();
    let written = executor
        .write_file("blob.bin", Box::new(std::io::Cursor::new(data.clone())))
        .await?;
    rows.push(row(
        "agentbox `write_file` (tar, sha256 checked)",
        started.elapsed(),
    ));
    if written.bytes as usize != FILE_SIZE {
        return Err(format!("write_file wrote {} bytes", written.bytes).into());
    }
    for (label, buffer) in [
        ("kube's default 1 KiB buffer", None),
        ("64 KiB buffer", Some(STREAM_BUFFER)),
    ] {
        let started = Instant::now();
        upload(raw, &data, buffer).await?;
        rows.push(row(
            &format!("raw exec `cat > file` stdin, {label}"),
            started.elapsed(),
        ));
        let size = executor
            .exec_ok(ExecRequest::new(["stat", "-c", "%s", RAW_PATH]))
            .await?;
        if size.stdout_text().trim() != FILE_SIZE.to_string() {
            return Err(format!("the raw upload left {} bytes", size.stdout_text().trim()).into());
        }
    }

    let started = Instant::now();
    let mut reader = executor.read_file("blob.bin").await?;
    let read = tokio::io::copy(&mut reader, &mut tokio::io::sink()).await?;
    rows.push(row("agentbox `read_file` (tar)", started.elapsed()));
    if read as usize != FILE_SIZE {
        return Err(format!("read_file returned {read} bytes").into());
    }
    let started = Instant::now();
    let read = download(raw).await?;
    rows.push(row(
        "raw exec `cat file` stdout, 64 KiB buffer",
        started.elapsed(),
    ));
    if read as usize != FILE_SIZE {
        return Err(format!("the raw download returned {read} bytes").into());
    }

    println!();
    println!("## 64 MiB transfer");
    println!();
    table(&["transfer", "MiB/s", "time"], &rows);
    Ok(())
}

fn row(label: &str, took: Duration) -> Vec<String> {
    let mib = FILE_SIZE as f64 / (1024.0 * 1024.0);
    vec![
        label.to_owned(),
        format!("{:.0}", mib / took.as_secs_f64()),
        format_dur(took),
    ]
}

/// Pipe `data` into `cat > RAW_PATH` and wait for it to exit.
async fn upload(raw: &RawTarget, data: &[u8], buffer: Option<usize>) -> Res<()> {
    let mut params = AttachParams::default()
        .stdin(true)
        .stdout(false)
        .stderr(true);
    if let Some(size) = buffer {
        params = params.max_stdin_buf_size(size);
    }
    let script = format!("cat > {RAW_PATH}");
    let mut attached = raw.attach(&["sh", "-c", &script], params).await?;
    let mut stdin = attached.stdin().ok_or("the exec has no stdin")?;
    let status = attached
        .take_status()
        .ok_or("the exec has no status channel")?;
    let piped = async {
        stdin.write_all(data).await?;
        stdin.shutdown().await?;
        drop(stdin);
        let status = status.await;
        attached.join().await?;
        check_status(status, &script)
    };
    tokio::time::timeout(RAW_TIMEOUT, piped)
        .await
        .map_err(|_| "the raw upload took more than 10 minutes")?
}

/// Read `RAW_PATH` through `cat`'s stdout; the bytes read.
async fn download(raw: &RawTarget) -> Res<u64> {
    let params = AttachParams::default()
        .stdout(true)
        .stderr(false)
        .max_stdout_buf_size(STREAM_BUFFER);
    let mut attached = raw.attach(&["cat", RAW_PATH], params).await?;
    let mut stdout = attached.stdout().ok_or("the exec has no stdout")?;
    let status = attached
        .take_status()
        .ok_or("the exec has no status channel")?;
    let piped = async {
        let read = tokio::io::copy(&mut stdout, &mut tokio::io::sink()).await?;
        let status = status.await;
        attached.join().await?;
        check_status(status, "cat file")?;
        Ok(read)
    };
    tokio::time::timeout(RAW_TIMEOUT, piped)
        .await
        .map_err(|_| "the raw download took more than 10 minutes")?
}
