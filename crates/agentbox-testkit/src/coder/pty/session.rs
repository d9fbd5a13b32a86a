//! [`PtySession`]: one command on a pseudo-terminal in a workspace's sandbox, like the Coder
//! agent's "buffered" reconnecting-PTY backend: its recent output is kept in a ring buffer and
//! replayed to every connection that (re)attaches, live output goes to all of them, and the
//! process outlives its connections until it exits or the workspace stops.

use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};

use agentbox_core::exec::ExecRequest;
use agentbox_local::LocalExecutor;
use bytes::Bytes;
use rustix::process::{Pid, PidfdFlags, Signal};
use tokio::io::unix::AsyncFd;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::terminal::{self, PtyMaster};

/// Bytes of output kept for replay (Coder's buffered backend keeps 64 KiB).
const RING: usize = 64 * 1024;
/// Output chunks a slow connection may fall behind before it is closed.
const BACKLOG: usize = 1024;
const READ_CHUNK: usize = 32 * 1024;

/// What a connection receives.
#[derive(Debug, Clone)]
pub(crate) enum PtyEvent {
    Output(Bytes),
    /// The command exited and its output is drained.
    Exited,
}

#[derive(Debug)]
struct Output {
    ring: VecDeque<u8>,
    tx: broadcast::Sender<PtyEvent>,
    exited: bool,
}

/// A live attachment: the replay, then the events after it (no gap, no repeat).
#[derive(Debug)]
pub(crate) struct Attachment {
    pub replay: Bytes,
    pub events: broadcast::Receiver<PtyEvent>,
    pub exited: bool,
}

/// A command on a pseudo-terminal.
#[derive(Debug)]
pub(crate) struct PtySession {
    pub workspace: Uuid,
    master: Arc<PtyMaster>,
    output: Arc<Mutex<Output>>,
    kill: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl PtySession {
    /// Start `request` in the workspace behind `executor` with a `width` × `height` terminal
    /// as its stdin, stdout and stderr. Call on a runtime thread (see
    /// [`LocalExecutor::command`]).
    pub fn spawn(
        workspace: Uuid,
        executor: &LocalExecutor,
        request: &ExecRequest,
        width: u16,
        height: u16,
    ) -> Result<Arc<Self>, String> {
        let mut command = executor.command(request).map_err(|e| e.to_string())?;
        let (master, slave) =
            terminal::open(width, height).map_err(|e| format!("open a pseudo-terminal: {e}"))?;
        let dup = |fd: &std::os::fd::OwnedFd| {
            fd.try_clone()
                .map_err(|e| format!("duplicate the terminal: {e}"))
        };
        command
            .stdin(Stdio::from(dup(&slave)?))
            .stdout(Stdio::from(dup(&slave)?))
            .stderr(Stdio::from(slave));
        let child = command
            .spawn()
            .map_err(|e| format!("start {:?}: {e}", request.argv))?;
        // The command holds the only copies of the slave now: once the process tree is gone,
        // reading the master ends.
        drop(command);
        let master = Arc::new(master);
        let output = Arc::new(Mutex::new(Output {
            ring: VecDeque::with_capacity(RING),
            tx: broadcast::channel(BACKLOG).0,
            exited: false,
        }));
        let kill = watch::Sender::new(false);
        let supervisor = tokio::spawn(supervise(child, kill.subscribe()));
        let reader = tokio::spawn(read_output(Arc::clone(&master), Arc::clone(&output)));
        Ok(Arc::new(Self {
            workspace,
            master,
            output,
            kill,
            tasks: Mutex::new(vec![supervisor, reader]),
        }))
    }

    /// Attach a connection.
    pub fn attach(&self) -> Attachment {
        let output = lock(&self.output);
        let (front, back) = output.ring.as_slices();
        Attachment {
            replay: Bytes::from([front, back].concat()),
            events: output.tx.subscribe(),
            exited: output.exited,
        }
    }

    pub fn exited(&self) -> bool {
        lock(&self.output).exited
    }

    /// Type `data`.
    pub async fn input(&self, data: &[u8]) -> std::io::Result<()> {
        self.master.write_all(data).await
    }

    /// Resize the terminal.
    pub fn resize(&self, width: u16, height: u16) -> std::io::Result<()> {
        self.master.resize(width, height)
    }

    /// Ask for the process tree to be killed, without waiting.
    pub fn kill(&self) {
        self.kill.send_replace(true);
    }

    /// Kill the process tree and wait until it is reaped and its output drained.
    pub async fn terminate(&self) {
        self.kill.send_replace(true);
        let tasks = std::mem::take(&mut *lock(&self.tasks));
        for task in tasks {
            // A task that panicked has nothing left to clean up.
            let _ = task.await;
        }
    }
}

/// Copy the terminal's output into the ring and to every connection until it ends.
async fn read_output(master: Arc<PtyMaster>, output: Arc<Mutex<Output>>) {
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        match master.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => {
                let chunk = Bytes::copy_from_slice(&buf[..n]);
                let mut out = lock(&output);
                out.ring.extend(chunk.iter());
                let excess = out.ring.len().saturating_sub(RING);
                out.ring.drain(..excess);
                // No receiver is fine: nobody is attached right now.
                let _ = out.tx.send(PtyEvent::Output(chunk));
            }
            // EIO: every slave descriptor is closed, the command is gone.
            Err(_) => break,
        }
    }
    let mut out = lock(&output);
    out.exited = true;
    let _ = out.tx.send(PtyEvent::Exited);
}

/// Wait until the command exits (through a pidfd, without reaping it) or a kill is asked for;
/// then kill whatever is left of its process group while the leader's pid still names it, and
/// reap the leader. (Inside bubblewrap the leader is bubblewrap, and its death ends the whole
/// sandbox.)
async fn supervise(mut child: tokio::process::Child, mut kill: watch::Receiver<bool>) {
    let pid = child
        .id()
        .and_then(|raw| i32::try_from(raw).ok())
        .and_then(Pid::from_raw);
    if let Some(pid) = pid {
        let pidfd = rustix::process::pidfd_open(pid, PidfdFlags::empty())
            .map_err(std::io::Error::from)
            .and_then(|fd| {
                // SAFETY: an `OwnedFd` is open for its whole life and always names the same
                // descriptor, which is what registering it with the reactor requires.
                unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
                    .map_err(std::io::Error::from)
            });
        match pidfd {
            Ok(exited) => {
                tokio::select! {
                    _ = exited.readable() => {}
                    _ = kill.wait_for(|k| *k) => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch a PTY command through a pidfd");
                tokio::select! {
                    status = child.wait() => {
                        if let Err(e) = status {
                            tracing::warn!(error = %e, "could not reap a PTY command");
                        }
                        return;
                    }
                    _ = kill.wait_for(|k| *k) => {}
                }
            }
        }
        match rustix::process::kill_process_group(pid, Signal::KILL) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::SRCH => {}
            Err(e) => tracing::warn!(error = %e, "could not kill a PTY command's process group"),
        }
    }
    if let Err(e) = child.wait().await {
        tracing::warn!(error = %e, "could not reap a PTY command");
    }
}
