//! [`Work`]: what every mode shares while a task runs in a ready workspace — the executor, the
//! gate, the model, the evidence, the counters — and the recorded ways to run a command, run
//! the tests and call the model.

use std::sync::Arc;
use std::time::Instant as StdInstant;
use tokio::time::Instant;

use super::event::TaskStep;
use super::gate::PermissionGate;
use super::spec::Task;
use crate::Result;
use crate::evidence::{EvidenceEvent, EvidenceSink, TestOutcome, TestResult};
use crate::exec::{ExecOutput, ExecRequest, Executor, ExecutorExt, FileWritten};
use crate::model::{ChatRequest, ChatResponse, ModelClient};
use crate::progress::{Progress, ProgressEvent};

/// How much of a tool's result or a test's output the model gets back: the head and the tail
/// of longer text, with a marker between.
pub(crate) const FEEDBACK_LIMIT: usize = 16 * 1024;

/// What a task has used and produced so far; kept outside the work so a deadline or a
/// cancellation does not lose it.
#[derive(Debug, Default, Clone)]
pub(crate) struct Tally {
    pub turns: u32,
    pub tokens: u64,
    pub test_runs: u32,
    pub failed_test_runs: u32,
    pub commit: Option<String>,
    pub pull_request: Option<String>,
}

/// One test run's result, as the modes need it.
#[derive(Debug, Clone)]
pub(crate) struct TestRun {
    pub passed: bool,
    /// A report for the model: the exit status and the (bounded, redacted) output.
    pub report: String,
}

/// A task at work in a ready workspace.
pub(crate) struct Work<'a, M: ?Sized, E: ?Sized> {
    pub task: &'a Task,
    pub exec: Arc<dyn Executor>,
    pub gate: PermissionGate,
    pub model: &'a M,
    pub evidence: &'a E,
    pub progress: &'a Progress,
    pub tally: &'a mut Tally,
    pub deadline: Instant,
}

impl<M: ModelClient + ?Sized, E: EvidenceSink + ?Sized> Work<'_, M, E> {
    /// Tell the caller's observer about a step.
    pub fn emit(&self, step: TaskStep) {
        emit(self.progress, self.evidence.run_id(), step);
    }

    /// The timeout for one command: the task's command timeout, cut to what is left of the
    /// deadline.
    fn command_timeout(&self) -> std::time::Duration {
        self.task
            .limits
            .command_timeout
            .min(self.deadline.saturating_duration_since(Instant::now()))
    }

    /// Append the contract's agent instructions, when it has any, to a prompt.
    pub fn append_instructions(&self, prompt: &mut String) {
        let agent = self.task.contract.spec.agent.as_ref();
        if let Some(instructions) = agent.and_then(|a| a.instructions.as_deref()) {
            prompt.push_str("\n\nProject instructions:\n");
            prompt.push_str(instructions);
        }
    }

    /// Run a command with the task's timeout, recording its start and end as evidence.
    pub async fn run_recorded(&self, request: ExecRequest) -> Result<ExecOutput> {
        let request = request.timeout(self.command_timeout());
        self.record_started(&request).await?;
        let argv = request.argv.clone();
        let out = self.exec.exec(request).await?;
        self.record_finished(argv, &out).await?;
        Ok(out)
    }

    /// Record that `request` is about to run.
    pub async fn record_started(&self, request: &ExecRequest) -> Result<()> {
        self.evidence
            .record(EvidenceEvent::ExecStarted {
                workspace: self.exec.workspace().to_owned(),
                argv: request.argv.clone(),
                cwd: request.cwd.clone(),
            })
            .await
    }

    /// Record how the command `argv` ended.
    pub async fn record_finished(&self, argv: Vec<String>, out: &ExecOutput) -> Result<()> {
        self.evidence
            .record(EvidenceEvent::ExecFinished {
                workspace: self.exec.workspace().to_owned(),
                argv,
                exit: out.exit,
                duration_ms: millis(out.duration),
                stdout: out.stdout_text(),
                stderr: out.stderr_text(),
                truncated: out.truncated(),
            })
            .await
    }

    /// Write a file the gate has allowed, recording it as evidence when written. The outer
    /// `Err` is an evidence failure; the inner one is the write's, for the agent to see.
    pub async fn write_recorded(
        &self,
        path: &str,
        content: Vec<u8>,
    ) -> Result<std::result::Result<FileWritten, crate::Error>> {
        match self.exec.write_bytes(path, content).await {
            Ok(written) => {
                self.evidence
                    .record(EvidenceEvent::FileWritten {
                        workspace: self.exec.workspace().to_owned(),
                        path: written.path.clone(),
                        bytes: written.bytes,
                        sha256: written.sha256.clone(),
                    })
                    .await?;
                Ok(Ok(written))
            }
            Err(e) => Ok(Err(e)),
        }
    }

    /// Run the contract's test command, record the result as a test and count it.
    pub async fn run_tests(&mut self) -> Result<TestRun> {
        let (name, line) = self.task.test_command()?;
        let cwd = self
            .task
            .contract
            .spec
            .commands
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .and_then(|(_, c)| c.workdir.clone())
            .unwrap_or_else(|| self.gate.workdir().to_owned());
        let (name, line) = (name.to_owned(), line.to_owned());
        let out = self
            .run_recorded(ExecRequest::new(["sh", "-c", &line]).cwd(cwd))
            .await?;
        self.tally.test_runs += 1;
        let passed = out.exit.success();
        if !passed {
            self.tally.failed_test_runs += 1;
        }
        let output = format!("{}{}", out.stdout_text(), out.stderr_text());
        let mut result = TestResult::new(
            name.clone(),
            format!("{name} (run {})", self.tally.test_runs),
            if passed {
                TestOutcome::Passed
            } else if out.exit.code().is_some() {
                TestOutcome::Failed
            } else {
                TestOutcome::Error
            },
            out.duration,
        );
        if !passed {
            result.message = Some(format!("`{line}` ended with {}", out.exit));
        }
        result.output = Some(output.clone());
        self.evidence.record(EvidenceEvent::Test(result)).await?;
        self.emit(TaskStep::Tests {
            passed,
            run: self.tally.test_runs,
        });
        let verdict = if passed { "PASSED" } else { "FAILED" };
        let report = format!(
            "tests {verdict} (`{line}` ended with {})\n{}",
            out.exit,
            self.feedback(&output)
        );
        Ok(TestRun { passed, report })
    }

    /// True when the failing test runs have used every fix attempt.
    pub fn out_of_fix_attempts(&self) -> bool {
        self.tally.failed_test_runs >= self.task.limits.max_fix_attempts
    }

    /// Whether another model call is allowed; the limit reached when not.
    pub fn turn_limit(&self) -> Option<super::outcome::Limit> {
        let limits = &self.task.limits;
        if self.tally.turns >= limits.max_turns {
            Some(super::outcome::Limit::Turns)
        } else if limits.token_budget.is_some_and(|b| self.tally.tokens >= b) {
            Some(super::outcome::Limit::Tokens)
        } else {
            None
        }
    }

    /// One model call: counted, shown as a step and recorded with its usage and latency.
    pub async fn chat(&mut self, request: ChatRequest) -> Result<ChatResponse> {
        self.tally.turns += 1;
        self.emit(TaskStep::ModelTurn {
            turn: self.tally.turns,
            max: self.task.limits.max_turns,
        });
        let started = StdInstant::now();
        let response = self.model.chat(request).await?;
        let usage = response.usage.unwrap_or_default();
        self.tally.tokens += usage.prompt_tokens + usage.completion_tokens;
        self.evidence
            .record(EvidenceEvent::ModelCall {
                model: response.model.clone(),
                prompt_tokens: usage.prompt_tokens,
                completion_tokens: usage.completion_tokens,
                latency_ms: millis(started.elapsed()),
                retries: 0,
            })
            .await?;
        Ok(response)
    }

    /// Text for the model: redacted, and bounded to [`FEEDBACK_LIMIT`] bytes.
    pub fn feedback(&self, text: &str) -> String {
        bounded(&self.evidence.redactor().redact(text), FEEDBACK_LIMIT)
    }
}

/// Deliver a task step to `progress`.
pub(crate) fn emit(progress: &Progress, run: &str, step: TaskStep) {
    progress.emit(ProgressEvent::Task {
        run: run.to_owned(),
        step,
    });
}

/// `text` cut to at most about `limit` bytes: its head and its tail, with a note of what was
/// left out between them (on character boundaries).
pub(crate) fn bounded(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let half = limit / 2;
    let mut head_end = half;
    while !text.is_char_boundary(head_end) {
        head_end -= 1;
    }
    let mut tail_start = text.len() - half;
    while !text.is_char_boundary(tail_start) {
        tail_start += 1;
    }
    format!(
        "{}\n[… {} bytes left out …]\n{}",
        &text[..head_end],
        tail_start - head_end,
        &text[tail_start..]
    )
}

pub(crate) fn millis(d: std::time::Duration) -> u64 {
    d.as_millis().try_into().unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_feedback_keeps_head_and_tail() {
        let text = format!("{}{}", "a".repeat(100), "é".repeat(100));
        let cut = bounded(&text, 50);
        assert!(cut.starts_with(&"a".repeat(25)), "{cut}");
        assert!(cut.ends_with("éééé"), "{cut}");
        assert!(cut.contains("bytes left out"), "{cut}");
        assert_eq!(bounded("short", 50), "short");
    }
}
