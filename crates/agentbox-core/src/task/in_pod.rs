//! Mode 2, the in-pod agent: an agent CLI inside the workspace does the work. The runner builds
//! its argv from a template — the prompt is one argv element, never part of a shell string —
//! translates the contract's permission rules into the CLI's own flags where it has them,
//! records the CLI's output and exit code, then runs the tests.

use futures::StreamExt;
use std::collections::BTreeMap;

use super::event::TaskStep;
use super::outcome::TaskOutcome;
use super::work::Work;
use crate::contract::{PermissionPattern, Permissions, Verdict};
use crate::evidence::{EvidenceEvent, EvidenceSink};
use crate::exec::{DEFAULT_OUTPUT_LIMIT, ExecChunk, ExecOutput, ExecRequest};
use crate::model::ModelClient;
use crate::{Error, Result};

/// The argv element replaced by the prompt.
pub const PROMPT: &str = "{prompt}";
/// The argv element replaced by the permission flags (zero or more elements).
pub const PERMISSIONS: &str = "{permissions}";

/// How an agent CLI takes permission rules on its command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PermissionFlags {
    /// It has no such flags; `{permissions}` expands to nothing and the workspace's sandbox is
    /// the only fence.
    None,
    /// The GitHub Copilot CLI: `--allow-tool`, `--deny-tool`, `--allow-all-tools`.
    CopilotCli,
}

/// An agent CLI to run in the workspace.
///
/// ```
/// use agentbox_core::task::AgentCli;
///
/// let cli = AgentCli::copilot();
/// assert_eq!(cli.argv, ["copilot", "-p", "{prompt}", "{permissions}"]);
/// let codex = AgentCli::new(["codex", "exec", "--full-auto", "{prompt}"]);
/// assert!(codex.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentCli {
    /// The argv template: exactly one element is `{prompt}`; an element `{permissions}` is
    /// replaced by the permission flags.
    pub argv: Vec<String>,
    /// How permission rules become flags.
    pub permission_flags: PermissionFlags,
    /// Extra environment variables for the CLI.
    pub env: BTreeMap<String, String>,
}

impl AgentCli {
    /// A CLI run with this argv template and no permission flags.
    pub fn new<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            argv: argv.into_iter().map(Into::into).collect(),
            permission_flags: PermissionFlags::None,
            env: BTreeMap::new(),
        }
    }

    /// The GitHub Copilot CLI in non-interactive mode: `copilot -p {prompt} {permissions}`.
    pub fn copilot() -> Self {
        Self {
            permission_flags: PermissionFlags::CopilotCli,
            ..Self::new(["copilot", "-p", PROMPT, PERMISSIONS])
        }
    }

    /// Set how permission rules become flags.
    pub fn permission_flags(mut self, flags: PermissionFlags) -> Self {
        self.permission_flags = flags;
        self
    }

    /// Check the template: a program, and exactly one `{prompt}` element.
    pub fn validate(&self) -> Result<()> {
        let prompts = self.argv.iter().filter(|a| *a == PROMPT).count();
        if self
            .argv
            .first()
            .is_none_or(|p| p.is_empty() || p == PROMPT || p == PERMISSIONS)
            || prompts != 1
        {
            return Err(Error::Refused {
                backend: "task",
                message: format!(
                    "agent CLI template {:?} is unusable: it must start with a program and have exactly one element that is `{PROMPT}`",
                    self.argv
                ),
            });
        }
        Ok(())
    }

    /// The argv to run: the template with the prompt and the permission flags put in, and
    /// the rules that could not be translated (each with why).
    pub fn render(&self, prompt: &str, permissions: &Permissions) -> (Vec<String>, Vec<String>) {
        let translation = match self.permission_flags {
            PermissionFlags::None => Translation::default(),
            PermissionFlags::CopilotCli => copilot_flags(permissions),
        };
        let mut argv = Vec::with_capacity(self.argv.len() + translation.flags.len());
        for element in &self.argv {
            match element.as_str() {
                PROMPT => argv.push(prompt.to_owned()),
                PERMISSIONS => argv.extend(translation.flags.iter().cloned()),
                other => argv.push(other.to_owned()),
            }
        }
        (argv, translation.notes)
    }
}

/// Permission rules as CLI flags.
#[derive(Debug, Default, PartialEq, Eq)]
struct Translation {
    flags: Vec<String>,
    /// What could not be said exactly, and what was done instead.
    notes: Vec<String>,
}

/// The Copilot CLI's flags for `permissions`. Shell rules translate one to one
/// (`shell(git:*)` → `--allow-tool shell(git:*)`, `shell(*)` → `shell`). The CLI's `write`
/// tool has no path argument, so a path-scoped `write(…)` allow rule allows `write` (the
/// workspace's sandbox bounds where) and a `write(…)` deny rule denies `write` altogether,
/// erring on the side of refusing. `read(…)` rules have no equivalent. A `default: allow`
/// becomes `--allow-all-tools`.
fn copilot_flags(permissions: &Permissions) -> Translation {
    let mut t = Translation::default();
    let tool = |p: &PermissionPattern| -> Option<(String, Option<String>)> {
        let text = p.as_str();
        let (kind, arg) = text.split_once('(')?;
        let arg = arg.strip_suffix(')')?.trim();
        match kind {
            "shell" if arg == "*" => Some(("shell".into(), None)),
            "shell" => Some((text.to_owned(), None)),
            "write" => Some((
                "write".into(),
                Some(format!(
                    "`{text}` became `write` for every path: the Copilot CLI's write tool takes no path"
                )),
            )),
            _ => None,
        }
    };
    for (rules, flag) in [
        (&permissions.deny, "--deny-tool"),
        (&permissions.allow, "--allow-tool"),
    ] {
        for rule in rules {
            match tool(rule) {
                Some((spec, note)) => {
                    if !t.flags.windows(2).any(|w| w[0] == flag && w[1] == spec) {
                        t.flags.extend([flag.to_owned(), spec]);
                    }
                    t.notes.extend(note);
                }
                None => t.notes.push(format!(
                    "`{rule}` has no Copilot CLI flag and was left out; the workspace's sandbox applies"
                )),
            }
        }
    }
    if permissions.default == Verdict::Allow {
        t.flags.push("--allow-all-tools".into());
    }
    t
}

/// Run the agent CLI, then the tests.
pub(crate) async fn run<M, E>(
    work: &mut Work<'_, M, E>,
    cli: &AgentCli,
    extra: Option<&str>,
) -> Result<TaskOutcome>
where
    M: ModelClient + ?Sized,
    E: EvidenceSink + ?Sized,
{
    let (_, test) = work.task.test_command()?;
    let mut prompt = format!(
        "{}\n\nWork in {}. The tests are `{test}`; make them pass before you stop.",
        work.task.description,
        work.gate.workdir()
    );
    work.append_instructions(&mut prompt);
    if let Some(extra) = extra {
        prompt.push_str("\n\n");
        prompt.push_str(extra);
    }
    let permissions = work
        .task
        .contract
        .spec
        .agent
        .as_ref()
        .map(|a| a.permissions.clone())
        .unwrap_or_default();
    let (argv, notes) = cli.render(&prompt, &permissions);
    for message in notes {
        work.evidence
            .record(EvidenceEvent::Note { message })
            .await?;
    }
    let program = argv.first().cloned().unwrap_or_default();
    work.emit(TaskStep::AgentStarted {
        program: program.clone(),
    });
    let mut request = ExecRequest::new(argv).cwd(work.gate.workdir());
    request.env = cli.env.clone();
    let out = stream_recorded(work, request).await?;
    let tests = work.run_tests().await?;
    Ok(if !out.exit.success() {
        TaskOutcome::Failed {
            reason: format!("agent CLI `{program}` ended with {}", out.exit),
        }
    } else if tests.passed {
        TaskOutcome::Succeeded
    } else {
        TaskOutcome::Failed {
            reason: format!("agent CLI `{program}` finished but the tests do not pass"),
        }
    })
}

/// Run `request` streaming, recording its start, its output (as the artifact
/// `agent-output.log`, stdout and stderr interleaved as they came) and its end.
async fn stream_recorded<M, E>(work: &Work<'_, M, E>, request: ExecRequest) -> Result<ExecOutput>
where
    M: ModelClient + ?Sized,
    E: EvidenceSink + ?Sized,
{
    // The agent does the whole task: it may take what is left of the deadline.
    let request = request.timeout(
        work.deadline
            .saturating_duration_since(tokio::time::Instant::now()),
    );
    let argv = request.argv.clone();
    work.record_started(&request).await?;
    let started = std::time::Instant::now();
    let mut out = ExecOutput::empty(work.exec.output_streams());
    let mut log = Vec::new();
    let mut stream = work.exec.exec_stream(request).await?;
    while let Some(chunk) = stream.next().await {
        match chunk? {
            ExecChunk::Stdout(b) => {
                out.push_stdout(&b, DEFAULT_OUTPUT_LIMIT);
                push_log(&mut log, &b);
            }
            ExecChunk::Stderr(b) => {
                out.push_stderr(&b, DEFAULT_OUTPUT_LIMIT);
                push_log(&mut log, &b);
            }
            ExecChunk::Exit(status) => {
                out.exit = status;
                break;
            }
        }
    }
    out.duration = started.elapsed();
    work.evidence.artifact("agent-output.log", &log).await?;
    work.record_finished(argv, &out).await?;
    Ok(out)
}

fn push_log(log: &mut Vec<u8>, bytes: &[u8]) {
    let room = DEFAULT_OUTPUT_LIMIT.saturating_sub(log.len());
    log.extend_from_slice(&bytes[..room.min(bytes.len())]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perms(default: Verdict, allow: &[&str], deny: &[&str]) -> Permissions {
        Permissions {
            default,
            allow: allow.iter().map(|p| p.parse().unwrap()).collect(),
            deny: deny.iter().map(|p| p.parse().unwrap()).collect(),
        }
    }

    #[test]
    fn the_prompt_is_one_argv_element_however_it_is_written() {
        let prompt = "fix it'; rm -rf / $(whoami) \"quoted\"\nline two";
        let (argv, _) =
            AgentCli::new(["agent", "--task", PROMPT]).render(prompt, &Permissions::default());
        assert_eq!(argv, ["agent", "--task", prompt]);
    }

    #[test]
    fn copilot_flags_follow_the_contract_rules() {
        let p = perms(
            Verdict::Deny,
            &[
                "shell(git:*)",
                "shell(*)",
                "write(/projects/app/**)",
                "read(/projects/**)",
            ],
            &["shell(git push --force:*)"],
        );
        let (argv, notes) = AgentCli::copilot().render("do it", &p);
        assert_eq!(
            argv,
            [
                "copilot",
                "-p",
                "do it",
                "--deny-tool",
                "shell(git push --force:*)",
                "--allow-tool",
                "shell(git:*)",
                "--allow-tool",
                "shell",
                "--allow-tool",
                "write",
            ]
        );
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].contains("write(/projects/app/**)"), "{notes:?}");
        assert!(notes[1].contains("read(/projects/**)"), "{notes:?}");
    }

    #[test]
    fn a_denied_write_path_denies_every_write_and_default_allow_allows_all() {
        let p = perms(Verdict::Allow, &[], &["write(/projects/app/.git/**)"]);
        let (argv, _) = AgentCli::copilot().render("x", &p);
        assert_eq!(argv[3..], ["--deny-tool", "write", "--allow-all-tools"]);
    }

    #[test]
    fn templates_need_a_program_and_one_prompt() {
        assert!(AgentCli::new(["agent"]).validate().is_err());
        assert!(AgentCli::new([PROMPT]).validate().is_err());
        assert!(AgentCli::new(["agent", PROMPT, PROMPT]).validate().is_err());
        assert!(AgentCli::new(["agent", PROMPT]).validate().is_ok());
    }
}
