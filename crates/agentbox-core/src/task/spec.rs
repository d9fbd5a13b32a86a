//! What a task is: a description, an optional repository, the contract, limits, the way the work
//! is done ([`Mode`]) and what happens to the workspace afterwards ([`CleanupPolicy`]).

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use super::git::{GitAuthor, RepoSpec};
use super::in_pod::AgentCli;
use crate::contract::{CommandGroup, Contract};
use crate::{Error, Result};

/// One task for a [`TaskRunner`](super::TaskRunner).
///
/// ```
/// use agentbox_core::contract::{Contract, LoadOptions};
/// use agentbox_core::task::{CleanupPolicy, Limits, Task};
/// use std::time::Duration;
///
/// let contract = Contract::from_yaml(
///     "apiVersion: agentbox.dev/v1alpha1\nkind: Environment\nmetadata: { name: demo }\nspec:\n  image: alpine:3.20\n  commands:\n    test: { run: sh check.sh, group: test }\n",
///     &Default::default(),
/// )?;
/// let task = Task::new("Make answer.sh print 42", contract)
///     .limits(Limits { max_turns: 10, ..Limits::default() })
///     .cleanup(CleanupPolicy::Stop);
/// assert_eq!(task.test_command()?.0, "test");
/// # Ok::<(), agentbox_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Task {
    /// What to do, in the words of the ticket.
    pub description: String,
    /// The environment contract the workspace is made from; its `agent.permissions` are the
    /// permission gate's rules and its `test`-group command is what "tests pass" means.
    pub contract: Contract,
    /// A repository to clone into the workdir and work on a branch of; `None` works on whatever
    /// the workspace holds.
    pub repo: Option<TaskRepo>,
    /// Limits on the work.
    pub limits: Limits,
    /// How the work is done.
    pub mode: Mode,
    /// What happens to the workspace when the task ends.
    pub cleanup: CleanupPolicy,
    /// Workspace name; the backend's default when `None`.
    pub workspace_name: Option<String>,
    /// How long to wait for the workspace to become ready.
    pub ready_timeout: Duration,
    /// Files the runner writes into the workspace before the work starts (after cloning),
    /// by path (relative to the workdir, or absolute): fixtures, notes for the agent, an agent
    /// CLI's configuration.
    pub files: BTreeMap<String, Vec<u8>>,
}

impl Task {
    /// A task in the default mode ([`Mode::Orchestrator`]) with default limits, deleting its
    /// workspace at the end.
    pub fn new(description: impl Into<String>, contract: Contract) -> Self {
        Self {
            description: description.into(),
            contract,
            repo: None,
            limits: Limits::default(),
            mode: Mode::Orchestrator,
            cleanup: CleanupPolicy::Delete,
            workspace_name: None,
            ready_timeout: Duration::from_secs(300),
            files: BTreeMap::new(),
        }
    }

    /// Work on this repository.
    pub fn repo(mut self, repo: TaskRepo) -> Self {
        self.repo = Some(repo);
        self
    }

    /// Use these limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Do the work this way.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Leave the workspace like this at the end.
    pub fn cleanup(mut self, policy: CleanupPolicy) -> Self {
        self.cleanup = policy;
        self
    }

    /// Write this file into the workspace before the work starts.
    pub fn file(mut self, path: impl Into<String>, content: impl Into<Vec<u8>>) -> Self {
        self.files.insert(path.into(), content.into());
        self
    }

    /// Name the workspace.
    pub fn workspace_name(mut self, name: impl Into<String>) -> Self {
        self.workspace_name = Some(name.into());
        self
    }

    /// The contract command the task's tests are: the first command in the `test` group, else
    /// the command named `test`. Its name and its shell command line.
    pub fn test_command(&self) -> Result<(&str, &str)> {
        let commands = &self.contract.spec.commands;
        commands
            .iter()
            .find(|(_, c)| c.group == Some(CommandGroup::Test))
            .or_else(|| commands.iter().find(|(name, _)| name.as_str() == "test"))
            .map(|(name, c)| (name.as_str(), c.run.as_str()))
            .ok_or_else(|| Error::Refused {
                backend: "task",
                message: format!(
                    "contract `{}` has no test command; add one to spec.commands with `group: test` so the task runner can tell when the work is done",
                    self.contract.name()
                ),
            })
    }

    /// Check the task can run at all, before anything is provisioned.
    pub fn validate(&self) -> Result<()> {
        self.test_command()?;
        self.limits.validate()?;
        if let Mode::InPod(cli) = &self.mode {
            cli.validate()?;
        }
        if let Some(repo) = &self.repo
            && repo.pull_request.is_some()
            && (repo.spec.base.is_none() || !repo.push)
        {
            return Err(Error::Refused {
                backend: "task",
                message: format!(
                    "the task asks for a pull request from `{}` but {}; set both RepoSpec.base (the branch to merge into) and TaskRepo.push",
                    repo.spec.branch,
                    if repo.push {
                        "names no base branch"
                    } else {
                        "does not push"
                    }
                ),
            });
        }
        Ok(())
    }
}

/// The repository a task works on.
#[derive(Clone)]
pub struct TaskRepo {
    /// Where to clone from, the branch to start at and the branch the work goes on.
    pub spec: RepoSpec,
    /// A token for cloning and pushing, passed to git by reference (never in argv or URLs).
    pub token: Option<SecretString>,
    /// Who commits.
    pub author: GitAuthor,
    /// Push the branch after committing (to `origin`, the URL cloned from).
    pub push: bool,
    /// Open a pull request in this repository (`owner/name`) when the runner has a
    /// [`Forge`](super::forge::Forge); needs `spec.base`, the branch to merge into.
    pub pull_request: Option<String>,
}

impl TaskRepo {
    /// Work on `spec`, committing as `author`; no token, no push.
    pub fn new(spec: RepoSpec, author: GitAuthor) -> Self {
        Self {
            spec,
            token: None,
            author,
            push: false,
            pull_request: None,
        }
    }

    /// Authenticate clone and push with this token.
    pub fn token(mut self, token: SecretString) -> Self {
        self.token = Some(token);
        self
    }

    /// Push the branch after committing.
    pub fn push(mut self, push: bool) -> Self {
        self.push = push;
        self
    }

    /// Open a pull request in `repo` (`owner/name`) after pushing.
    pub fn pull_request(mut self, repo: impl Into<String>) -> Self {
        self.pull_request = Some(repo.into());
        self
    }
}

impl fmt::Debug for TaskRepo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskRepo")
            .field("spec", &self.spec)
            .field("token", &self.token.as_ref().map(|_| "[REDACTED]"))
            .field("author", &self.author)
            .field("push", &self.push)
            .field("pull_request", &self.pull_request)
            .finish()
    }
}

/// Limits on one task; reaching any of them ends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Model calls (turns) at most.
    pub max_turns: u32,
    /// Failing test runs tolerated: each test run that fails uses one attempt, and the task
    /// ends when a failing run uses the last one.
    pub max_fix_attempts: u32,
    /// Wall-clock time for the whole task, provisioning included (cleanup is not).
    pub deadline: Duration,
    /// Prompt plus completion tokens at most; `None` for no budget.
    pub token_budget: Option<u64>,
    /// Any one command (a tool's or the tests') is killed after this long.
    pub command_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_turns: 30,
            max_fix_attempts: 3,
            deadline: Duration::from_secs(30 * 60),
            token_budget: None,
            command_timeout: Duration::from_secs(10 * 60),
        }
    }
}

impl Limits {
    fn validate(&self) -> Result<()> {
        let bad = |what: &str| {
            Err(Error::Refused {
                backend: "task",
                message: format!("the task's limits are unusable: {what}"),
            })
        };
        if self.max_turns == 0 {
            return bad("max_turns is 0; allow at least one model turn");
        }
        if self.max_fix_attempts == 0 {
            return bad("max_fix_attempts is 0; allow at least one test run to fail");
        }
        if self.deadline.is_zero() || self.command_timeout.is_zero() {
            return bad("deadline and command_timeout must be longer than zero");
        }
        Ok(())
    }
}

/// How the work gets done.
#[derive(Debug, Clone, Default)]
pub enum Mode {
    /// The runner talks to the model with tools (`read_file`, `write_file`, `list_dir`,
    /// `run_command`, `run_tests`, `finish`) and executes every call through the permission
    /// gate in the workspace.
    #[default]
    Orchestrator,
    /// An agent CLI inside the workspace does the work; the runner delivers the prompt, records
    /// the CLI's output and exit code, then runs the tests.
    InPod(AgentCli),
    /// For models without tool calling: the model answers with whole files in fenced blocks
    /// (see [`whole_file`](super::whole_file)); the runner writes them and runs the tests.
    WholeFile,
}

/// What happens to a task's workspace when the task ends, however it ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CleanupPolicy {
    /// Delete it and its storage.
    #[default]
    Delete,
    /// Stop (suspend) it, keeping its storage for a later resume (e.g. while a PR is reviewed).
    Stop,
    /// Leave it running.
    Keep,
}

impl fmt::Display for CleanupPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CleanupPolicy::Delete => "delete",
            CleanupPolicy::Stop => "stop",
            CleanupPolicy::Keep => "keep",
        })
    }
}
