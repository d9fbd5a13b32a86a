//! Mode 1, the external orchestrator: the runner talks to the model with tools and executes
//! every call — after the permission gate — in the workspace, feeding the results back. The
//! task succeeds when the model calls `finish` and the tests pass.

use crate::contract::Action;
use crate::evidence::{EvidenceEvent, EvidenceSink};
use crate::exec::{ExecRequest, ExecutorExt};
use crate::model::{ChatMessage, ChatRequest, ModelClient, ToolCall, ToolChoice};

use super::event::TaskStep;
use super::outcome::{Limit, TaskOutcome};
use super::tools::{self, ToolRequest};
use super::work::Work;
use crate::Result;

/// What one tool call led to.
enum Step {
    /// Send this back to the model as the call's result.
    Reply(String),
    /// The model finished and the tests pass.
    Done,
    /// A test run failed and used the last fix attempt.
    OutOfAttempts,
}

/// Whether the tests are known to pass for the workspace as it is now.
#[derive(Default)]
struct Verified(bool);

/// The system prompt: where the agent is, what it may use, when it is done.
pub(crate) fn system_prompt(
    work: &Work<'_, impl ModelClient + ?Sized, impl EvidenceSink + ?Sized>,
) -> Result<String> {
    let (_, test) = work.task.test_command()?;
    let mut prompt = format!(
        "You are a coding agent working in a disposable workspace. Your working directory is {workdir}; relative paths start there.\n\
         Use the tools to inspect and change files and to run programs. Programs run without a shell: give argv as an array.\n\
         Every action is checked against a permission policy; a denied action comes back as an error. Do not retry it: find another way within the policy.\n\
         The tests are `{test}`; run them with run_tests. When they pass, call finish with a short summary.",
        workdir = work.gate.workdir(),
    );
    work.append_instructions(&mut prompt);
    Ok(prompt)
}

/// Run the tool loop until the task succeeds or a limit is reached.
pub(crate) async fn run<M, E>(work: &mut Work<'_, M, E>, extra: Option<&str>) -> Result<TaskOutcome>
where
    M: ModelClient + ?Sized,
    E: EvidenceSink + ?Sized,
{
    let mut messages = vec![
        ChatMessage::system(system_prompt(work)?),
        ChatMessage::user(work.task.description.clone()),
    ];
    if let Some(extra) = extra {
        messages.push(ChatMessage::user(extra.to_owned()));
    }
    let mut verified = Verified::default();
    loop {
        if let Some(limit) = work.turn_limit() {
            return Ok(TaskOutcome::LimitReached { limit });
        }
        let response = work
            .chat(ChatRequest {
                messages: messages.clone(),
                tools: tools::specs(),
                tool_choice: Some(ToolChoice::Auto),
                ..ChatRequest::default()
            })
            .await?;
        let calls = response.message.tool_calls.clone();
        messages.push(response.message);
        if calls.is_empty() {
            messages.push(ChatMessage::user(
                "Keep working with the tools. When the tests pass, call finish.",
            ));
            continue;
        }
        for call in &calls {
            match dispatch(work, call, &mut verified).await? {
                Step::Reply(text) => messages.push(ChatMessage::tool(call.id.clone(), text)),
                Step::Done => return Ok(TaskOutcome::Succeeded),
                Step::OutOfAttempts => {
                    return Ok(TaskOutcome::LimitReached {
                        limit: Limit::FixAttempts,
                    });
                }
            }
        }
    }
}

/// Parse, gate and execute one tool call.
async fn dispatch<M, E>(
    work: &mut Work<'_, M, E>,
    call: &ToolCall,
    verified: &mut Verified,
) -> Result<Step>
where
    M: ModelClient + ?Sized,
    E: EvidenceSink + ?Sized,
{
    let request = match tools::parse(&call.name, &call.arguments) {
        Ok(request) => request,
        Err(message) => {
            work.evidence
                .record(EvidenceEvent::Note {
                    message: format!("tool call `{}` refused: {message}", call.name),
                })
                .await?;
            work.emit(TaskStep::ToolCall {
                tool: call.name.clone(),
                allowed: false,
            });
            return Ok(Step::Reply(format!("error: {message}")));
        }
    };
    tracing::debug!(tool = request.name(), "tool call");
    match request {
        ToolRequest::ReadFile { path } => {
            let path = match gated_path(work, tools::READ_FILE, &path, Kind::Read).await? {
                Ok(path) => path,
                Err(reply) => return Ok(reply),
            };
            Ok(Step::Reply(match work.exec.read_bytes(&path).await {
                Ok(bytes) => work.feedback(&String::from_utf8_lossy(&bytes)),
                Err(e) => format!("error: reading `{path}` failed: {e}"),
            }))
        }
        ToolRequest::WriteFile { path, content } => {
            let path = match gated_path(work, tools::WRITE_FILE, &path, Kind::Write).await? {
                Ok(path) => path,
                Err(reply) => return Ok(reply),
            };
            verified.0 = false;
            Ok(Step::Reply(
                match work.write_recorded(&path, content.into_bytes()).await? {
                    Ok(written) => format!("wrote {} bytes to {}", written.bytes, written.path),
                    Err(e) => format!("error: writing `{path}` failed: {e}"),
                },
            ))
        }
        ToolRequest::ListDir { path } => {
            let path = match gated_path(
                work,
                tools::LIST_DIR,
                path.as_deref().unwrap_or("."),
                Kind::Read,
            )
            .await?
            {
                Ok(path) => path,
                Err(reply) => return Ok(reply),
            };
            let out = work
                .run_recorded(ExecRequest::new(["ls", "-1Ap", "--", &path]))
                .await?;
            Ok(Step::Reply(if out.exit.success() {
                work.feedback(&out.stdout_text())
            } else {
                format!(
                    "error: listing `{path}` failed ({}): {}",
                    out.exit,
                    work.feedback(&out.stderr_text())
                )
            }))
        }
        ToolRequest::RunCommand { argv, cwd } => {
            let cwd = match cwd {
                None => None,
                Some(cwd) => match work.gate.resolve_for_agent(&cwd) {
                    Ok(cwd) => Some(cwd),
                    Err(message) => return Ok(Step::Reply(format!("error: {message}"))),
                },
            };
            let allowed = work
                .gate
                .check(&Action::Shell(&argv), work.evidence)
                .await?;
            work.emit(TaskStep::ToolCall {
                tool: tools::RUN_COMMAND.into(),
                allowed: allowed.is_ok(),
            });
            if let Err(denial) = allowed {
                return Ok(Step::Reply(format!("error: {denial}")));
            }
            verified.0 = false;
            let mut request = ExecRequest::new(argv);
            request.cwd = cwd;
            let out = work.run_recorded(request).await?;
            Ok(Step::Reply(format!(
                "{}\nstdout:\n{}\nstderr:\n{}",
                out.exit,
                work.feedback(&out.stdout_text()),
                work.feedback(&out.stderr_text())
            )))
        }
        ToolRequest::RunTests => {
            work.emit(TaskStep::ToolCall {
                tool: tools::RUN_TESTS.into(),
                allowed: true,
            });
            let run = work.run_tests().await?;
            verified.0 = run.passed;
            if !run.passed && work.out_of_fix_attempts() {
                return Ok(Step::OutOfAttempts);
            }
            Ok(Step::Reply(run.report))
        }
        ToolRequest::Finish { summary } => {
            work.emit(TaskStep::ToolCall {
                tool: tools::FINISH.into(),
                allowed: true,
            });
            if let Some(summary) = summary {
                work.evidence
                    .record(EvidenceEvent::Note {
                        message: format!("the agent's summary: {summary}"),
                    })
                    .await?;
            }
            if verified.0 {
                return Ok(Step::Done);
            }
            let run = work.run_tests().await?;
            verified.0 = run.passed;
            if run.passed {
                Ok(Step::Done)
            } else if work.out_of_fix_attempts() {
                Ok(Step::OutOfAttempts)
            } else {
                Ok(Step::Reply(format!(
                    "not finished: the tests do not pass yet. Keep going.\n{}",
                    run.report
                )))
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Read,
    Write,
}

/// Resolve `path` in the workspace and pass it through the gate: the resolved path, or the
/// reply telling the model why not.
async fn gated_path<M, E>(
    work: &Work<'_, M, E>,
    tool: &str,
    path: &str,
    kind: Kind,
) -> Result<std::result::Result<String, Step>>
where
    M: ModelClient + ?Sized,
    E: EvidenceSink + ?Sized,
{
    let resolved = match work.gate.resolve_for_agent(path) {
        Ok(resolved) => resolved,
        Err(message) => {
            work.emit(TaskStep::ToolCall {
                tool: tool.into(),
                allowed: false,
            });
            return Ok(Err(Step::Reply(format!("error: {message}"))));
        }
    };
    let action = match kind {
        Kind::Read => Action::Read(&resolved),
        Kind::Write => Action::Write(&resolved),
    };
    let allowed = work.gate.check(&action, work.evidence).await?;
    work.emit(TaskStep::ToolCall {
        tool: tool.into(),
        allowed: allowed.is_ok(),
    });
    Ok(match allowed {
        Ok(()) => Ok(resolved),
        Err(denial) => Err(Step::Reply(format!("error: {denial}"))),
    })
}
