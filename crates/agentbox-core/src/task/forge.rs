//! Forges: where pull requests are opened, behind the small [`Forge`] trait so GitHub, GitLab
//! and others can sit side by side.
//!
//! [`GhCliForge`] runs the GitHub CLI inside the workspace: the title travels in argv as one
//! `--title=…` argument, the body on stdin, the token as a secret environment variable.

use std::fmt;

use async_trait::async_trait;
use secrecy::SecretString;

use crate::exec::{ExecOutput, ExecRequest, Executor};
use crate::task::git::validate_branch_name;
use crate::{Error, Result};

/// The name errors carry.
const BACKEND: &str = "gh";
/// How much of a failed command's output an error keeps.
const OUTPUT_TAIL: usize = 2000;

/// A pull request to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    /// The repository, `owner/name`.
    pub repo: String,
    /// The branch with the changes (`branch`, or `owner:branch` for a fork).
    pub head: String,
    /// The branch to merge into.
    pub base: String,
    /// One line of title.
    pub title: String,
    /// The description, Markdown.
    pub body: String,
}

/// Somewhere pull requests are opened.
#[async_trait]
pub trait Forge: Send + Sync + fmt::Debug {
    /// Open `pr` and return its web URL. When one is open already for the same head and base,
    /// its URL is returned, so a task that is run again does not fail here.
    async fn open_pull_request(&self, ex: &dyn Executor, pr: &PullRequest) -> Result<String>;
}

/// GitHub through the `gh` CLI in the workspace (`gh pr create`).
///
/// The token is given to `gh` as `GH_TOKEN` (and `GH_ENTERPRISE_TOKEN` for another host) in
/// the command's secret environment; it needs permission to write pull requests
/// (fine-grained: "Pull requests: read and write"; classic: `repo`).
#[derive(Debug, Clone)]
pub struct GhCliForge {
    token: SecretString,
    program: String,
    host: Option<String>,
}

impl GhCliForge {
    /// `gh` from the workspace's `PATH`, for github.com, with `token`.
    pub fn new(token: SecretString) -> Self {
        Self {
            token,
            program: "gh".to_owned(),
            host: None,
        }
    }

    /// Run `gh` from this path in the workspace.
    pub fn program(mut self, program: impl Into<String>) -> Self {
        self.program = program.into();
        self
    }

    /// Talk to this GitHub Enterprise host (`GH_HOST`) instead of github.com.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    fn request(&self, pr: &PullRequest) -> ExecRequest {
        let argv = [
            self.program.clone(),
            "pr".to_owned(),
            "create".to_owned(),
            format!("--repo={}", pr.repo),
            format!("--head={}", pr.head),
            format!("--base={}", pr.base),
            format!("--title={}", pr.title),
            "--body-file=-".to_owned(),
        ];
        let request = ExecRequest::new(argv)
            .env("GH_PROMPT_DISABLED", "1")
            .env("GH_NO_UPDATE_NOTIFIER", "1")
            .env("NO_COLOR", "1")
            .secret_env("GH_TOKEN", self.token.clone())
            .stdin(pr.body.clone().into_bytes());
        match &self.host {
            Some(host) => request
                .env("GH_HOST", host)
                .secret_env("GH_ENTERPRISE_TOKEN", self.token.clone()),
            None => request,
        }
    }
}

#[async_trait]
impl Forge for GhCliForge {
    #[tracing::instrument(skip_all, fields(workspace = ex.workspace(), repo = %pr.repo, head = %pr.head))]
    async fn open_pull_request(&self, ex: &dyn Executor, pr: &PullRequest) -> Result<String> {
        validate(pr)?;
        let out = ex.exec(self.request(pr)).await?;
        let stdout = out.stdout_text();
        let stderr = out.stderr_text();
        if out.exit.success() {
            return match last_url(&stdout) {
                Some(url) => {
                    tracing::info!(%url, "pull request opened");
                    Ok(url.to_owned())
                }
                None => Err(Error::Backend {
                    backend: BACKEND,
                    message: format!(
                        "`{} pr create` for {} in workspace `{}` succeeded but printed no pull request URL: {}",
                        self.program,
                        pr.repo,
                        ex.workspace(),
                        tail(stdout.trim())
                    ),
                    source: None,
                }),
            };
        }
        if stderr.contains("already exists")
            && let Some(url) = last_url(&stderr)
        {
            tracing::info!(%url, "a pull request for this branch is open already");
            return Ok(url.to_owned());
        }
        Err(self.failure(ex, pr, &out))
    }
}

impl GhCliForge {
    /// The error for a failed `gh pr create`, saying what to do.
    fn failure(&self, ex: &dyn Executor, pr: &PullRequest, out: &ExecOutput) -> Error {
        let text = if out.stderr.is_empty() {
            out.stdout_text()
        } else {
            out.stderr_text()
        };
        let text = tail(text.trim());
        let message = format!(
            "`{} pr create` for {} ({} into {}) in workspace `{}` ended with {}: {text}",
            self.program,
            pr.repo,
            pr.head,
            pr.base,
            ex.workspace(),
            out.exit
        );
        let lower = text.to_ascii_lowercase();
        let has = |needles: &[&str]| needles.iter().any(|n| lower.contains(n));
        // A shell reports a missing program with 127; bubblewrap with its `execvp` error.
        let hint = if out.exit.code() == Some(127) || has(&["execvp"]) {
            "install the GitHub CLI in the workspace image, or point GhCliForge::program at it"
        } else if has(&["http 401", "bad credentials", "authentication"]) {
            return Error::PermissionDenied {
                backend: BACKEND,
                message: format!("{message}; the token was rejected: give a valid token"),
            };
        } else if has(&[
            "http 403",
            "resource not accessible",
            "must have push access",
        ]) {
            return Error::PermissionDenied {
                backend: BACKEND,
                message: format!(
                    "{message}; grant the token \"Pull requests: read and write\" (fine-grained) or the `repo` scope (classic) on {}",
                    pr.repo
                ),
            };
        } else if has(&["http 404", "could not resolve to a repository"]) {
            "check the owner/name and that the token can see the repository"
        } else if has(&["http 422", "no commits between", "head sha can't be blank"]) {
            "push the head branch first; it must exist on the remote and differ from the base"
        } else {
            "see gh's message above"
        };
        Error::Backend {
            backend: BACKEND,
            message: format!("{message}; {hint}"),
            source: None,
        }
    }
}

/// Refuse what `gh` would misread or GitHub would reject.
fn validate(pr: &PullRequest) -> Result<()> {
    let refused = |message: String| {
        Err(Error::Refused {
            backend: BACKEND,
            message,
        })
    };
    let word = |s: &str| {
        !s.is_empty()
            && !s.starts_with(['-', '.'])
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    match pr.repo.split_once('/') {
        Some((owner, name)) if word(owner) && word(name) => {}
        _ => {
            return refused(format!(
                "pull request repository `{}` is not `owner/name`",
                pr.repo.escape_debug()
            ));
        }
    }
    let head_branch = match pr.head.split_once(':') {
        Some((owner, branch)) if word(owner) => branch,
        Some(_) => {
            return refused(format!(
                "pull request head `{}` is not `branch` or `owner:branch`",
                pr.head.escape_debug()
            ));
        }
        None => &pr.head,
    };
    validate_branch_name(head_branch)?;
    validate_branch_name(&pr.base)?;
    if pr.title.trim().is_empty() || pr.title.chars().any(char::is_control) {
        return refused(format!(
            "pull request title `{}` is empty or not one line; give a one-line title",
            pr.title.escape_debug()
        ));
    }
    Ok(())
}

/// The last line of `text` that is an http(s) URL.
fn last_url(text: &str) -> Option<&str> {
    text.lines()
        .map(str::trim)
        .rfind(|line| line.starts_with("https://") || line.starts_with("http://"))
}

/// The last [`OUTPUT_TAIL`] bytes of `text`, cut at a character boundary.
fn tail(text: &str) -> &str {
    let start = text.len().saturating_sub(OUTPUT_TAIL);
    let start = (start..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    &text[start..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn pr() -> PullRequest {
        PullRequest {
            repo: "octo/app".to_owned(),
            head: "agentbox/fix".to_owned(),
            base: "main".to_owned(),
            title: "Fix: `--flag` handling; $(rm -rf /)".to_owned(),
            body: "Body\n\n- item".to_owned(),
        }
    }

    #[test]
    fn title_is_one_argument_body_is_stdin_token_is_secret() {
        let forge = GhCliForge::new(SecretString::from("ghp_x"));
        let request = forge.request(&pr());
        assert_eq!(
            request.argv,
            [
                "gh",
                "pr",
                "create",
                "--repo=octo/app",
                "--head=agentbox/fix",
                "--base=main",
                "--title=Fix: `--flag` handling; $(rm -rf /)",
                "--body-file=-",
            ]
        );
        assert_eq!(request.stdin.as_deref(), Some(&b"Body\n\n- item"[..]));
        assert_eq!(request.secret_env["GH_TOKEN"].expose_secret(), "ghp_x");
        assert!(request.env.values().all(|v| !v.contains("ghp_x")));
        assert!(!request.env.contains_key("GH_HOST"));
    }

    #[test]
    fn an_enterprise_host_gets_the_token_too() {
        let forge = GhCliForge::new(SecretString::from("t")).host("ghe.example.com");
        let request = forge.request(&pr());
        assert_eq!(request.env["GH_HOST"], "ghe.example.com");
        assert_eq!(
            request.secret_env["GH_ENTERPRISE_TOKEN"].expose_secret(),
            "t"
        );
    }

    #[test]
    fn malformed_pull_requests_are_refused() {
        let cases: [fn(&mut PullRequest); 7] = [
            |p| p.repo = "octo".into(),
            |p| p.repo = "-o/app".into(),
            |p| p.repo = "octo/app/x".into(),
            |p| p.head = "--force".into(),
            |p| p.head = "a b:c".into(),
            |p| p.base = "main..x".into(),
            |p| p.title = "two\nlines".into(),
        ];
        validate(&pr()).unwrap();
        for (i, change) in cases.iter().enumerate() {
            let mut bad = pr();
            change(&mut bad);
            assert!(validate(&bad).is_err(), "case {i}: {bad:?}");
        }
        let mut fork = pr();
        fork.head = "someone:agentbox/fix".into();
        validate(&fork).unwrap();
    }

    #[test]
    fn the_url_is_the_last_url_printed() {
        assert_eq!(
            last_url("Creating pull request\n\nhttps://github.com/o/r/pull/7\n"),
            Some("https://github.com/o/r/pull/7")
        );
        assert_eq!(last_url("warning: nothing\n"), None);
    }
}
