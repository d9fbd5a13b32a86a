//! One exec session over WebSocket with the `v4.channel.k8s.io` / `v5.channel.k8s.io`
//! subprotocols: every binary frame starts with a channel byte (0 stdin, 1 stdout, 2 stderr,
//! 3 the final `metav1.Status`, 4 terminal resize; in v5, `255 <channel>` closes a channel).
//!
//! As with a real kubelet and container runtime, the process belongs to the pod, not to the
//! connection: when the client goes away its stdin is closed but it keeps running (its
//! output is drained and dropped) until it ends or the pod is deleted.

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket};
use bytes::{BufMut, Bytes, BytesMut};
use futures::stream::SplitStream;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::exec::ExecOptions;
use super::pod::{PodRuntime, RunningContainer};

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const STATUS: u8 = 3;
const RESIZE: u8 = 4;
const CLOSE: u8 = 255;

/// Bytes read from a pipe at a time.
const READ_CHUNK: usize = 32 * 1024;
/// The search path of a container that sets none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Host directories the sandbox replaces with its own, so a program there cannot be looked
/// up on the host.
const SANDBOX_OWN_DIRS: &[&str] = &["/home", "/root", "/run", "/tmp", "/proc", "/dev"];

/// A channel subprotocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// `v4.channel.k8s.io`: stdin ends only with the connection.
    V4,
    /// `v5.channel.k8s.io`: adds the close-channel frame, so stdin can end alone.
    V5,
}

impl Protocol {
    /// The subprotocols served, newest first.
    pub const SUPPORTED: [Protocol; 2] = [Protocol::V5, Protocol::V4];

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V4 => "v4.channel.k8s.io",
            Self::V5 => "v5.channel.k8s.io",
        }
    }

    /// The first protocol the client offers that is served, as the API server picks.
    pub fn select(offered: &[String]) -> Option<Self> {
        offered
            .iter()
            .find_map(|p| Self::SUPPORTED.into_iter().find(|s| s.as_str() == p))
    }
}

/// What an upgraded exec request runs.
pub(crate) struct Session {
    pub runtime: Arc<PodRuntime>,
    pub container: RunningContainer,
    pub options: ExecOptions,
    /// Cut the connection after this many bytes of stdout (a fault).
    pub cut_after: Option<u64>,
}

/// A frame on `channel`.
fn frame(channel: u8, data: &[u8]) -> Message {
    let mut buf = BytesMut::with_capacity(data.len() + 1);
    buf.put_u8(channel);
    buf.put_slice(data);
    Message::Binary(buf.freeze())
}

/// Serve one session until the process's output and status are sent, the client leaves, or
/// a fault cuts the connection.
pub(crate) async fn serve(socket: WebSocket, protocol: Protocol, session: Session) {
    let (mut sink, source) = socket.split();
    let options = &session.options;
    // The real server writes one empty frame to the lowest writable channel first.
    let first = if options.stdout {
        STDOUT
    } else if options.stderr {
        STDERR
    } else {
        STATUS
    };
    if sink.send(frame(first, &[])).await.is_err() {
        return;
    }
    let runtime = Arc::clone(&session.runtime);
    let mut child = match spawn(&session) {
        Ok(child) => child,
        Err(status) => {
            let _ = sink
                .send(frame(STATUS, status.to_string().as_bytes()))
                .await;
            let _ = sink.send(Message::Close(None)).await;
            return;
        }
    };
    let stdin = child.stdin.take();
    let (frames_tx, mut frames_rx) = mpsc::channel::<Message>(16);
    if let Some(out) = child.stdout.take() {
        runtime.tasks.spawn(pump(out, STDOUT, frames_tx.clone()));
    }
    if let Some(err) = child.stderr.take() {
        let channel = if options.tty { STDOUT } else { STDERR };
        runtime.tasks.spawn(pump(err, channel, frames_tx.clone()));
    }
    drop(frames_tx);
    let (exit_tx, exit_rx) = oneshot::channel();
    runtime
        .tasks
        .spawn(supervise(child, runtime.token.clone(), exit_tx));
    let input = tokio::spawn(read_input(source, stdin, protocol));

    let mut stdout_sent = 0u64;
    while let Some(message) = frames_rx.recv().await {
        let mut message = message;
        let mut cut = false;
        if let (Some(limit), Message::Binary(data)) = (session.cut_after, &message)
            && data.first() == Some(&STDOUT)
        {
            let room = limit.saturating_sub(stdout_sent);
            let len = data.len() as u64 - 1;
            if len >= room {
                let keep = usize::try_from(room).unwrap_or(usize::MAX);
                message = Message::Binary(data.slice(..=keep));
                cut = true;
            }
            stdout_sent += len.min(room);
        }
        let sent = sink.send(message).await.is_ok();
        if cut {
            tracing::debug!(pod = %runtime.name, after = stdout_sent, "exec stream cut by a fault");
        }
        if cut || !sent {
            // Dropping both halves drops the connection without a close frame; the pumps
            // drain the process's output from now on.
            input.abort();
            return;
        }
    }
    let status = match exit_rx.await {
        Ok(exit) => exit_status(&session.options.command, exit),
        Err(_) => json!({
            "metadata": {},
            "status": "Failure",
            "message": "error executing command in container: the container was killed",
            "reason": "InternalError",
            "code": 500,
        }),
    };
    let _ = sink
        .send(frame(STATUS, status.to_string().as_bytes()))
        .await;
    let _ = sink.send(Message::Close(None)).await;
    input.abort();
}

/// Start the process, or the `metav1.Status` saying why it could not start.
fn spawn(session: &Session) -> Result<Child, Value> {
    let options = &session.options;
    let container = &session.container;
    let exec_id = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let internal = |cause: String| {
        let error = format!(
            "error executing command in container: failed to exec in container: failed to start exec \"{exec_id}\": {cause}"
        );
        json!({
            "metadata": {},
            "status": "Failure",
            "message": format!("Internal error occurred: {error}"),
            "reason": "InternalError",
            "details": { "causes": [{ "message": error }] },
            "code": 500,
        })
    };
    let program = &options.command[0];
    if !program_exists(program, container) {
        return Err(internal(format!(
            "OCI runtime exec failed: exec failed: unable to start container process: exec: \"{program}\": executable file not found in $PATH: unknown"
        )));
    }
    let request = container.request(options.command.clone());
    let mut command = container
        .executor
        .command(&request)
        .map_err(|e| internal(format!("OCI runtime exec failed: {e}: unknown")))?;
    let piped = |on: bool| if on { Stdio::piped() } else { Stdio::null() };
    command
        .stdin(piped(options.stdin))
        .stdout(piped(options.stdout))
        .stderr(piped(options.stderr || (options.tty && options.stdout)));
    command.spawn().map_err(|e| {
        internal(format!(
            "OCI runtime exec failed: exec failed: unable to start container process: {e}: unknown"
        ))
    })
}

/// Whether `program` can be found the way the runtime looks it up: a bare name on the
/// container's `PATH`. Names with a slash, and search paths the host cannot see (the
/// volume, the sandbox's own directories), are left for the process to report.
fn program_exists(program: &str, container: &RunningContainer) -> bool {
    if program.contains('/') {
        return true;
    }
    let path = container
        .env
        .plain
        .get("PATH")
        .map_or(DEFAULT_PATH, String::as_str);
    let dirs: Vec<&str> = path.split(':').filter(|d| !d.is_empty()).collect();
    let unseen = |dir: &str| {
        !dir.starts_with('/')
            || SANDBOX_OWN_DIRS
                .iter()
                .chain(std::iter::once(&container.mount_path.as_str()))
                .any(|own| agentbox_core::exec::path::relative_to(own, dir).is_some())
    };
    if dirs.iter().any(|d| unseen(d)) {
        return true;
    }
    dirs.iter().any(|dir| {
        std::fs::metadata(std::path::Path::new(dir).join(program)).is_ok_and(|m| {
            m.is_file() && std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0
        })
    })
}

/// The final status of a process that ended with `exit`, as the kubelet writes it.
fn exit_status(argv: &[String], exit: std::process::ExitStatus) -> Value {
    let code = exit
        .code()
        .unwrap_or_else(|| 128 + exit.signal().unwrap_or(0));
    if code == 0 {
        return json!({ "metadata": {}, "status": "Success" });
    }
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!(
            "command terminated with non-zero exit code: error executing command [{}], exit code {code}",
            argv.join(" ")
        ),
        "reason": "NonZeroExitCode",
        "details": { "causes": [{ "reason": "ExitCode", "message": code.to_string() }] },
    })
}

/// Send what `reader` gives as frames on `channel` while someone listens, then drain it.
async fn pump<R: AsyncRead + Unpin>(mut reader: R, channel: u8, tx: mpsc::Sender<Message>) {
    let mut tx = Some(tx);
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let n = match reader.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if let Some(sender) = &tx
            && sender.send(frame(channel, &buf[..n])).await.is_err()
        {
            tx = None;
        }
    }
}

/// Wait for the process; kill its process group when the pod is killed.
async fn supervise(
    mut child: Child,
    killed: CancellationToken,
    exit: oneshot::Sender<std::process::ExitStatus>,
) {
    let pid = child.id();
    let status = tokio::select! {
        status = child.wait() => status,
        () = killed.cancelled() => {
            // Not reaped yet, so the group id cannot have been reused.
            if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()).and_then(rustix::process::Pid::from_raw) {
                let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
            }
            child.wait().await
        }
    };
    match status {
        Ok(status) => {
            let _ = exit.send(status);
        }
        Err(e) => tracing::warn!(error = %e, "lost track of an exec process"),
    }
}

/// Feed stdin from the client's frames until it closes stdin or leaves.
async fn read_input(
    mut source: SplitStream<WebSocket>,
    mut stdin: Option<ChildStdin>,
    protocol: Protocol,
) {
    while let Some(message) = source.next().await {
        let data: Bytes = match message {
            Ok(Message::Binary(data)) => data,
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        match data.first() {
            Some(&STDIN) => {
                if let Some(pipe) = stdin.as_mut()
                    && pipe.write_all(&data[1..]).await.is_err()
                {
                    // The process closed its stdin; what follows is dropped.
                    stdin = None;
                }
            }
            Some(&CLOSE) if protocol == Protocol::V5 && data.get(1) == Some(&STDIN) => stdin = None,
            Some(&RESIZE) => {}
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clients_preference_wins() {
        let offered = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            Protocol::select(&offered(&["v5.channel.k8s.io", "v4.channel.k8s.io"])),
            Some(Protocol::V5)
        );
        assert_eq!(
            Protocol::select(&offered(&["channel.k8s.io", "v4.channel.k8s.io"])),
            Some(Protocol::V4)
        );
        assert_eq!(Protocol::select(&offered(&["base64.channel.k8s.io"])), None);
    }

    #[test]
    fn exit_statuses_read_like_the_kubelets() {
        let argv = ["sh".to_owned(), "-c".to_owned(), "exit 3".to_owned()];
        let ok = exit_status(&argv, std::process::ExitStatus::from_raw(0));
        assert_eq!(ok, json!({ "metadata": {}, "status": "Success" }));
        let failed = exit_status(&argv, std::process::ExitStatus::from_raw(3 << 8));
        assert_eq!(failed["reason"], "NonZeroExitCode");
        assert_eq!(
            failed["details"]["causes"][0],
            json!({ "reason": "ExitCode", "message": "3" })
        );
        assert_eq!(
            failed["message"],
            "command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3"
        );
        let killed = exit_status(&argv, std::process::ExitStatus::from_raw(9));
        assert_eq!(killed["details"]["causes"][0]["message"], "137");
    }
}
