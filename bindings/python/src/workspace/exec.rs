//! `ExecResult`, and turning Python arguments into an [`ExecRequest`] or a [`SessionCommand`].

use std::collections::BTreeMap;
use std::time::Duration;

use agentbox_core::exec::{ExecOutput, ExecRequest, ExitStatus, OutputStreams, SessionCommand};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use secrecy::SecretString;

/// Bytes given from Python: `bytes` (or anything bytes-like) as is, `str` as UTF-8.
#[derive(FromPyObject)]
pub(crate) enum Data {
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// Text, sent as UTF-8.
    Text(String),
}

impl Data {
    /// The bytes.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        match self {
            Data::Bytes(b) => b,
            Data::Text(t) => t.into_bytes(),
        }
    }
}

/// A command for a session: an argv list (every argument quoted) or shell text.
#[derive(FromPyObject)]
pub(crate) enum Command {
    /// Program and arguments, passed literally.
    Argv(Vec<String>),
    /// Shell text, run by the session's shell.
    Script(String),
}

/// A duration in float seconds, refused when negative, NaN or too large.
pub(crate) fn seconds(what: &str, value: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(value).map_err(|e| {
        PyValueError::new_err(format!(
            "{what}={value} is not a valid duration ({e}); give a non-negative number of seconds"
        ))
    })
}

/// The options every command takes, as Python gave them.
pub(crate) struct ExecArgs {
    pub(crate) argv: Vec<String>,
    pub(crate) env: Option<BTreeMap<String, String>>,
    pub(crate) secret_env: Option<BTreeMap<String, String>>,
    pub(crate) cwd: Option<String>,
    pub(crate) stdin: Option<Data>,
    pub(crate) timeout: Option<f64>,
    pub(crate) output_limit: Option<usize>,
}

impl ExecArgs {
    /// The request; secret values become [`SecretString`]s here, before anything else sees them.
    pub(crate) fn into_request(self) -> PyResult<ExecRequest> {
        let mut request = ExecRequest::new(self.argv);
        request.env = self.env.unwrap_or_default();
        request.secret_env = self
            .secret_env
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, SecretString::from(v)))
            .collect();
        request.cwd = self.cwd;
        request.stdin = self.stdin.map(|d| d.into_bytes().into());
        if let Some(timeout) = self.timeout {
            request.timeout = Some(seconds("timeout", timeout)?);
        }
        if let Some(limit) = self.output_limit {
            request.output_limit = limit;
        }
        Ok(request)
    }
}

/// A session command from Python arguments.
pub(crate) fn session_command(
    command: Command,
    timeout: Option<f64>,
    output_limit: Option<usize>,
) -> PyResult<SessionCommand> {
    let mut command = match command {
        Command::Argv(argv) => SessionCommand::argv(argv),
        Command::Script(script) => SessionCommand::script(script),
    };
    if let Some(timeout) = timeout {
        command.timeout = Some(seconds("timeout", timeout)?);
    }
    if let Some(limit) = output_limit {
        command.output_limit = limit;
    }
    Ok(command)
}

/// The signal that ended a command, if one did.
pub(crate) fn signal(exit: ExitStatus) -> Option<i32> {
    match exit {
        ExitStatus::Signal(signal) => Some(signal),
        _ => None,
    }
}

/// `"separate"` or `"combined"`.
pub(crate) fn streams_name(streams: OutputStreams) -> &'static str {
    match streams {
        OutputStreams::Separate => "separate",
        OutputStreams::Combined => "combined",
    }
}

/// What a finished command did.
///
/// `stdout` and `stderr` are the output decoded as UTF-8 (invalid bytes replaced);
/// `stdout_bytes` and `stderr_bytes` are the exact bytes. A command that timed out has
/// `timed_out=True` and no `exit_code`.
#[pyclass(module = "agentbox", frozen)]
#[derive(Clone)]
pub struct ExecResult {
    output: ExecOutput,
}

impl From<ExecOutput> for ExecResult {
    fn from(output: ExecOutput) -> Self {
        Self { output }
    }
}

#[pymethods]
impl ExecResult {
    /// The exit code; `None` when the command was killed by a signal, timed out, or its end was
    /// not seen.
    #[getter]
    fn exit_code(&self) -> Option<i32> {
        self.output.exit.code()
    }

    /// The signal that ended the command, if one did.
    #[getter]
    fn signal(&self) -> Option<i32> {
        signal(self.output.exit)
    }

    /// Whether the command's timeout passed and it was killed.
    #[getter]
    fn timed_out(&self) -> bool {
        self.output.exit == ExitStatus::TimedOut
    }

    /// Whether it exited with code 0.
    #[getter]
    fn ok(&self) -> bool {
        self.output.exit.success()
    }

    /// stdout as text (invalid UTF-8 replaced).
    #[getter]
    fn stdout(&self) -> String {
        self.output.stdout_text()
    }

    /// stderr as text (invalid UTF-8 replaced); empty when the streams are combined.
    #[getter]
    fn stderr(&self) -> String {
        self.output.stderr_text()
    }

    /// stdout's exact bytes.
    #[getter]
    fn stdout_bytes(&self) -> &[u8] {
        &self.output.stdout
    }

    /// stderr's exact bytes.
    #[getter]
    fn stderr_bytes(&self) -> &[u8] {
        &self.output.stderr
    }

    /// Wall-clock time it took, in seconds.
    #[getter]
    fn duration(&self) -> f64 {
        self.output.duration.as_secs_f64()
    }

    /// Whether stdout or stderr was longer than the output limit and was cut.
    #[getter]
    fn truncated(&self) -> bool {
        self.output.truncated()
    }

    /// `"separate"`, or `"combined"` when the backend cannot keep stderr apart (a PTY) and
    /// both arrive in `stdout`.
    #[getter]
    fn streams(&self) -> &'static str {
        streams_name(self.output.streams)
    }

    fn __repr__(&self) -> String {
        let exit = match self.output.exit {
            ExitStatus::Code(code) => format!("exit_code={code}"),
            ExitStatus::Signal(signal) => format!("signal={signal}"),
            ExitStatus::TimedOut => "timed_out=True".to_owned(),
            ExitStatus::Unknown => "exit_code=None".to_owned(),
        };
        format!(
            "ExecResult({exit}, stdout={} bytes, stderr={} bytes, duration={:.3}s{})",
            self.output.stdout.len(),
            self.output.stderr.len(),
            self.output.duration.as_secs_f64(),
            if self.output.truncated() {
                ", truncated=True"
            } else {
                ""
            },
        )
    }
}
