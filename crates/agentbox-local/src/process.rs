//! Starting a command (sandboxed or not) and supervising its process tree.
//!
//! Every command is the leader of its own process group. Supervision waits for the leader to
//! exit *without reaping it* (through a pidfd), then kills the rest of its group and only then
//! reaps it: while the leader is unreaped its pid, and so its group id, cannot be reused, so
//! the group kill can never hit an unrelated process. Inside bubblewrap the leader is
//! bubblewrap; killing it takes the sandbox's pid namespace, and so every process in it, down.

use std::ffi::OsString;
use std::future::Future;
use std::path::PathBuf;
use std::process::Stdio;

use rustix::process::{Pid, PidfdFlags, Resource, Rlimit, Signal};
use secrecy::{ExposeSecret, SecretString};
use tokio::io::unix::AsyncFd;
use tokio::process::{Child, Command};

use crate::error::LocalError;

/// A program ready to start.
pub(crate) struct Launch {
    /// The program (bubblewrap, or the command itself when unisolated).
    pub program: OsString,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Its whole environment.
    pub env: Vec<(String, String)>,
    /// Environment variables holding secrets.
    pub secret_env: Vec<(String, SecretString)>,
    /// Host working directory (unisolated commands; bubblewrap takes `--chdir`).
    pub cwd: Option<PathBuf>,
    /// Address-space limit in bytes.
    pub memory_limit: Option<u64>,
    /// Pipe stdin (else `/dev/null`).
    pub piped_stdin: bool,
}

impl Launch {
    /// Start it with piped stdout and stderr, in a new process group, with a cleared
    /// environment. Call this on a runtime thread, not a blocking-pool thread: bubblewrap's
    /// `--die-with-parent` ties the sandbox's life to the thread that started it.
    pub fn spawn(self) -> Result<Child, LocalError> {
        let program = self.program.to_string_lossy().into_owned();
        let piped_stdin = self.piped_stdin;
        let mut command = self.into_command();
        command
            .stdin(if piped_stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
            .spawn()
            .map_err(|source| LocalError::Spawn { program, source })
    }

    /// The command, with every setting but its standard streams (which are `/dev/null`):
    /// cleared environment, new process group, killed on drop, and the memory limit.
    pub fn into_command(self) -> Command {
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .envs(self.secret_env.iter().map(|(k, v)| (k, v.expose_secret())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true);
        if let Some(cwd) = &self.cwd {
            command.current_dir(cwd);
        }
        if let Some(bytes) = self.memory_limit {
            let limit = Rlimit {
                current: Some(bytes),
                maximum: Some(bytes),
            };
            // SAFETY: the closure runs in the child between fork and exec, where only
            // async-signal-safe operations are allowed. It makes one `setrlimit` system call
            // through rustix (no allocation, no locks) on a value computed before the fork.
            unsafe {
                command.pre_exec(move || {
                    rustix::process::setrlimit(Resource::As, limit).map_err(std::io::Error::from)
                });
            }
        }
        command
    }
}

/// How a supervised process tree ended.
#[derive(Debug)]
pub(crate) struct Ended<R> {
    /// The leader's wait status.
    pub status: std::process::ExitStatus,
    /// Why it was killed, when it was.
    pub killed: Option<R>,
}

/// Wait until `child` exits or `stop` resolves (then kill its tree); in both cases kill
/// whatever is left of its process group, then reap it.
pub(crate) async fn supervise<R>(
    mut child: Child,
    stop: impl Future<Output = R>,
) -> std::io::Result<Ended<R>> {
    let raw = child
        .id()
        .ok_or_else(|| std::io::Error::other("the process was reaped before it was supervised"))?;
    let pid = i32::try_from(raw)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| std::io::Error::other(format!("process id {raw} is out of range")))?;
    let pidfd = rustix::process::pidfd_open(pid, PidfdFlags::empty())?;
    // SAFETY: an `OwnedFd` is open for its whole life and always returns the same descriptor,
    // which is what registering it with the reactor requires.
    let exited = unsafe { AsyncFd::register_with_interest(pidfd, tokio::io::Interest::READABLE) }?;
    let killed = tokio::select! {
        biased;
        ready = exited.readable() => {
            // A pidfd stays readable once the process has exited: nothing to clear.
            ready?.retain_ready();
            None
        }
        reason = stop => Some(reason),
    };
    // The leader is alive or a zombie, so `pid` still names its group: nothing else can have it.
    match rustix::process::kill_process_group(pid, Signal::KILL) {
        Ok(()) => {}
        Err(e) if e == rustix::io::Errno::SRCH => {}
        Err(e) => tracing::warn!(pid = raw, error = %e, "could not kill the process group"),
    }
    let status = child.wait().await?;
    Ok(Ended { status, killed })
}

/// The core's exit status for a wait status. Inside bubblewrap a command's death by signal N
/// arrives as bubblewrap's exit code 128+N (bubblewrap reports it as shells do), so there codes
/// 129–192 are read as signals; an explicit `exit 137` in a sandbox reads as signal 9 too.
pub(crate) fn exit_status(
    status: std::process::ExitStatus,
    sandboxed: bool,
) -> agentbox_core::exec::ExitStatus {
    use agentbox_core::exec::ExitStatus;
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) if sandboxed && (129..=192).contains(&code) => {
            ExitStatus::Signal(code - 128)
        }
        (Some(code), _) => ExitStatus::Code(code),
        (None, Some(signal)) => ExitStatus::Signal(signal),
        (None, None) => ExitStatus::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentbox_core::exec::ExitStatus;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn signal_deaths_are_reported_as_signals() {
        let killed = std::process::ExitStatus::from_raw(9);
        assert_eq!(exit_status(killed, false), ExitStatus::Signal(9));
        let bwrap_killed_child = std::process::ExitStatus::from_raw(137 << 8);
        assert_eq!(exit_status(bwrap_killed_child, true), ExitStatus::Signal(9));
        assert_eq!(
            exit_status(bwrap_killed_child, false),
            ExitStatus::Code(137)
        );
        assert_eq!(
            exit_status(std::process::ExitStatus::from_raw(3 << 8), true),
            ExitStatus::Code(3)
        );
    }
}
