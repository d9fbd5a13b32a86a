//! What a command is asked to do, and what it did.

use bytes::Bytes;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// How much of each output stream [`super::Executor::exec`] keeps unless told otherwise: 4 MiB.
pub const DEFAULT_OUTPUT_LIMIT: usize = 4 * 1024 * 1024;

/// A command to run: an argv vector, never a shell string.
#[derive(Clone)]
pub struct ExecRequest {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Extra environment variables.
    pub env: BTreeMap<String, String>,
    /// Environment variables holding secrets; registered for redaction, never logged.
    pub secret_env: BTreeMap<String, SecretString>,
    /// Working directory (absolute, or relative to the workdir); the workdir when `None`.
    pub cwd: Option<String>,
    /// Bytes fed to the command's stdin, which is then closed; empty stdin when `None`.
    pub stdin: Option<Bytes>,
    /// Kill the command's process tree after this long.
    pub timeout: Option<Duration>,
    /// Bytes kept per stream by [`super::Executor::exec`].
    pub output_limit: usize,
}

impl ExecRequest {
    /// A request to run `argv`.
    pub fn new<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            argv: argv.into_iter().map(Into::into).collect(),
            env: BTreeMap::new(),
            secret_env: BTreeMap::new(),
            cwd: None,
            stdin: None,
            timeout: None,
            output_limit: DEFAULT_OUTPUT_LIMIT,
        }
    }

    /// Set an environment variable.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Set an environment variable holding a secret.
    pub fn secret_env(mut self, key: impl Into<String>, value: SecretString) -> Self {
        self.secret_env.insert(key.into(), value);
        self
    }

    /// Run in this directory.
    pub fn cwd(mut self, cwd: impl Into<String>) -> Self {
        self.cwd = Some(cwd.into());
        self
    }

    /// Feed these bytes to stdin.
    pub fn stdin(mut self, stdin: impl Into<Bytes>) -> Self {
        self.stdin = Some(stdin.into());
        self
    }

    /// Kill the command after this long.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Keep at most this many bytes of each stream.
    pub fn output_limit(mut self, bytes: usize) -> Self {
        self.output_limit = bytes;
        self
    }
}

impl fmt::Debug for ExecRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecRequest")
            .field("argv", &self.argv)
            .field("env", &self.env)
            .field("secret_env", &self.secret_env.keys().collect::<Vec<_>>())
            .field("cwd", &self.cwd)
            .field(
                "stdin",
                &self.stdin.as_ref().map(|b| format!("{} bytes", b.len())),
            )
            .field("timeout", &self.timeout)
            .field("output_limit", &self.output_limit)
            .finish()
    }
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum ExitStatus {
    /// It exited with this code.
    Code(i32),
    /// A signal ended it.
    Signal(i32),
    /// Its timeout passed and it was killed.
    TimedOut,
    /// The backend lost track of it (e.g. the status channel was cut); never assume success.
    Unknown,
}

impl ExitStatus {
    /// True only for exit code 0.
    pub fn success(&self) -> bool {
        matches!(self, ExitStatus::Code(0))
    }

    /// The exit code, when it exited normally.
    pub fn code(&self) -> Option<i32> {
        match self {
            ExitStatus::Code(c) => Some(*c),
            _ => None,
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Code(c) => write!(f, "exit code {c}"),
            ExitStatus::Signal(s) => write!(f, "killed by signal {s}"),
            ExitStatus::TimedOut => f.write_str("timed out"),
            ExitStatus::Unknown => f.write_str("unknown exit status"),
        }
    }
}

/// Whether a backend keeps stdout and stderr apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputStreams {
    /// stdout and stderr are separate.
    Separate,
    /// Both arrive interleaved as stdout (e.g. over a PTY); `stderr` is always empty.
    Combined,
}

/// One piece of a streaming command's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecChunk {
    /// Bytes from stdout.
    Stdout(Bytes),
    /// Bytes from stderr.
    Stderr(Bytes),
    /// The command ended; always the last chunk.
    Exit(ExitStatus),
}

/// What a finished command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// How it ended.
    pub exit: ExitStatus,
    /// Its stdout (at most the output limit).
    pub stdout: Vec<u8>,
    /// Its stderr (at most the output limit; empty when streams are combined).
    pub stderr: Vec<u8>,
    /// stdout was longer than the limit and was cut.
    pub stdout_truncated: bool,
    /// stderr was longer than the limit and was cut.
    pub stderr_truncated: bool,
    /// Wall-clock time it took.
    pub duration: Duration,
    /// Whether stdout and stderr were kept apart.
    pub streams: OutputStreams,
}

impl ExecOutput {
    /// An output with nothing in it yet.
    pub fn empty(streams: OutputStreams) -> Self {
        Self {
            exit: ExitStatus::Unknown,
            stdout: Vec::new(),
            stderr: Vec::new(),
            stdout_truncated: false,
            stderr_truncated: false,
            duration: Duration::ZERO,
            streams,
        }
    }

    /// stdout as text (invalid UTF-8 replaced).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// stderr as text (invalid UTF-8 replaced).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// True when either stream was cut.
    pub fn truncated(&self) -> bool {
        self.stdout_truncated || self.stderr_truncated
    }

    /// Append to stdout, keeping at most `limit` bytes.
    pub fn push_stdout(&mut self, bytes: &[u8], limit: usize) {
        self.stdout_truncated |= push_bounded(&mut self.stdout, bytes, limit);
    }

    /// Append to stderr, keeping at most `limit` bytes.
    pub fn push_stderr(&mut self, bytes: &[u8], limit: usize) {
        self.stderr_truncated |= push_bounded(&mut self.stderr, bytes, limit);
    }
}

fn push_bounded(buf: &mut Vec<u8>, bytes: &[u8], limit: usize) -> bool {
    let room = limit.saturating_sub(buf.len());
    buf.extend_from_slice(&bytes[..room.min(bytes.len())]);
    bytes.len() > room
}
