//! Persistent shell sessions: one long-lived shell, many commands, an exit code per command.

use async_trait::async_trait;
use std::fmt;
use std::time::Duration;

use super::request::{DEFAULT_OUTPUT_LIMIT, ExecOutput};
use crate::Result;

/// One command for a [`Session`]: shell text, run by the session's shell in its current state
/// (directory, exported variables). Build it from an argv with [`SessionCommand::argv`] to have
/// every argument quoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCommand {
    /// Shell text, e.g. `cd src` or `export A=1`.
    pub script: String,
    /// Kill the session after this long (a shell cannot be trusted to survive killing one job).
    pub timeout: Option<Duration>,
    /// Bytes kept per stream.
    pub output_limit: usize,
}

impl SessionCommand {
    /// Shell text written by the caller (who is trusted with the shell it opened).
    pub fn script(script: impl Into<String>) -> Self {
        Self {
            script: script.into(),
            timeout: None,
            output_limit: DEFAULT_OUTPUT_LIMIT,
        }
    }

    /// An argv, each argument quoted for the shell so no text is interpreted.
    pub fn argv<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let quoted: Vec<String> = argv.into_iter().map(|a| quote(a.as_ref())).collect();
        Self::script(quoted.join(" "))
    }

    /// Kill the session after this long.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// Quote one argument for a POSIX shell: wrapped in single quotes, each `'` written as `'\''`.
pub fn quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

/// A persistent shell in a workspace.
#[async_trait]
pub trait Session: Send + fmt::Debug {
    /// Run one command and return its own output and exit code. Commands do not read stdin.
    /// When the timeout passes, the session is killed and later calls fail with
    /// [`crate::Error::SessionClosed`].
    async fn run(&mut self, command: &SessionCommand) -> Result<ExecOutput>;

    /// End the shell.
    async fn close(self: Box<Self>) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_is_quoted_so_nothing_is_interpreted() {
        let c = SessionCommand::argv(["echo", "it's $HOME; rm -rf /"]);
        assert_eq!(c.script, r"'echo' 'it'\''s $HOME; rm -rf /'");
    }
}
