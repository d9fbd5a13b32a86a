//! Git inside a workspace: clone, branch, commit, push and diff, each an argv run through the
//! workspace's [`Executor`].
//!
//! Every command runs with hooks and fsmonitor off, the `ext::` transport off, terminal prompts
//! off and messages in the C locale. Caller text never reaches a shell: URLs and branch names
//! are validated ([`validate_url`], [`validate_branch_name`]) and passed as `--option=value` or
//! after `--`; commit messages go on stdin.
//!
//! ## Tokens
//! A token never appears in argv, in a URL or in a git config file. It reaches only the one
//! command that needs it, as the secret environment variable [`TOKEN_ENV`]; a constant
//! credential helper, given with `-c` (so never saved), answers git with it — and only when git
//! asks for the protocol and host of the URL the caller named. A repository config that
//! rewrites that URL (`url.*.insteadOf`) therefore gets no token. Tokens serve `http(s)` URLs;
//! other transports (SSH, paths) authenticate their own way and the token is not passed.
//!
//! ## Map
//! - this file: [`RepoSpec`], [`GitAuthor`] and the commands;
//! - `validate.rs`: [`validate_url`], [`validate_branch_name`] and the other input checks;
//! - `command.rs`: the hardening options, the credential helper, running and errors.

mod command;
mod validate;

pub use command::TOKEN_ENV;
pub use validate::{validate_branch_name, validate_url};

use secrecy::SecretString;

use crate::exec::Executor;
use crate::{Error, Result};
use command::{authenticate, command, failure, run};
use validate::{is_remote_name, refused, unsafe_char, validate_author};

/// The name errors carry.
const BACKEND: &str = "git";
/// The largest diff [`diff`] returns.
const DIFF_LIMIT: usize = 16 * 1024 * 1024;

/// The repository a task works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoSpec {
    /// Clone URL (`https://…`, `ssh://…`, `git@host:path` or a path); never with credentials.
    pub url: String,
    /// The branch to start from; the remote's default branch when `None`.
    pub base: Option<String>,
    /// The branch the work goes on.
    pub branch: String,
}

/// Who commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitAuthor {
    /// Display name.
    pub name: String,
    /// E-mail address.
    pub email: String,
}

/// Clone `repo.url` into `dest` (relative to the workdir, or absolute) and check out
/// `repo.base` (the remote's default branch when `None`). `repo.branch` is validated here so a
/// bad name fails before the clone; [`create_branch`] creates it.
#[tracing::instrument(skip_all, fields(workspace = ex.workspace(), url = %repo.url, dest = dest))]
pub async fn clone(
    ex: &dyn Executor,
    repo: &RepoSpec,
    dest: &str,
    token: Option<&SecretString>,
) -> Result<()> {
    let pin = validate_url(&repo.url)?;
    if let Some(base) = &repo.base {
        validate_branch_name(base)?;
    }
    validate_branch_name(&repo.branch)?;
    if dest.is_empty() || dest.contains('\0') {
        return Err(refused(format!(
            "clone destination `{dest}` is not a path; name a directory in the workspace"
        )));
    }
    let mut args = vec!["clone".to_owned(), "--quiet".to_owned()];
    if let Some(base) = &repo.base {
        args.push(format!("--branch={base}"));
    }
    args.extend(["--".to_owned(), repo.url.clone(), dest.to_owned()]);
    let request = command(authenticate(token, pin.as_ref())?, args);
    let what = format!("cloning {} into `{dest}`", repo.url);
    run(ex, request, &what, token).await?;
    tracing::info!("cloned");
    Ok(())
}

/// Create branch `name` at `HEAD` of the repository in `dir` and switch to it; fails when it
/// exists.
#[tracing::instrument(skip_all, fields(workspace = ex.workspace(), dir = dir, branch = name))]
pub async fn create_branch(ex: &dyn Executor, dir: &str, name: &str) -> Result<()> {
    validate_branch_name(name)?;
    let request = command(None, ["switch", "--quiet", &format!("--create={name}")]).cwd(dir);
    run(
        ex,
        request,
        &format!("creating branch `{name}` in `{dir}`"),
        None,
    )
    .await?;
    Ok(())
}

/// Stage every change in `dir` (new, modified and deleted files; ignored files stay out) and
/// commit it as `author`, who is both author and committer. Returns the new commit's id, or
/// `None` when there was nothing to commit. Hooks do not run and the commit is not signed.
#[tracing::instrument(skip_all, fields(workspace = ex.workspace(), dir = dir))]
pub async fn commit_all(
    ex: &dyn Executor,
    dir: &str,
    message: &str,
    author: &GitAuthor,
) -> Result<Option<String>> {
    validate_author(author)?;
    if message.trim().is_empty() || message.contains('\0') {
        return Err(refused(
            "a commit message must have text and no NUL bytes".to_owned(),
        ));
    }
    run(
        ex,
        command(None, ["add", "--all"]).cwd(dir),
        &format!("staging changes in `{dir}`"),
        None,
    )
    .await?;
    let staged = ex
        .exec(command(None, ["diff", "--cached", "--quiet"]).cwd(dir))
        .await?;
    match staged.exit.code() {
        Some(0) => return Ok(None),
        Some(1) => {}
        _ => {
            return Err(failure(
                ex,
                &format!("comparing the index in `{dir}`"),
                &staged,
                None,
            ));
        }
    }
    // Environment variables outrank every config file, so a repository's `author.name` cannot
    // override who commits.
    let commit = command(
        None,
        [
            "-c",
            "commit.gpgSign=false",
            "commit",
            "--quiet",
            "--file=-",
        ],
    )
    .cwd(dir)
    .env("GIT_AUTHOR_NAME", &author.name)
    .env("GIT_AUTHOR_EMAIL", &author.email)
    .env("GIT_COMMITTER_NAME", &author.name)
    .env("GIT_COMMITTER_EMAIL", &author.email)
    .stdin(message.as_bytes().to_vec());
    run(ex, commit, &format!("committing in `{dir}`"), None).await?;
    let head = run(
        ex,
        command(None, ["rev-parse", "--verify", "HEAD"]).cwd(dir),
        &format!("reading the new commit in `{dir}`"),
        None,
    )
    .await?;
    let sha = head.stdout_text().trim().to_owned();
    tracing::info!(%sha, "committed");
    Ok(Some(sha))
}

/// Push local branch `branch` of `dir` to the same branch on `remote` (a remote name such as
/// `origin`, or a URL). Never forces.
///
/// A token is handed out only for the protocol and host of the URL pushed to. For a remote
/// name that URL is read from the repository's config, which anything running in the workspace
/// can rewrite; pass the URL itself to pin the token to a host you chose.
#[tracing::instrument(skip_all, fields(workspace = ex.workspace(), dir = dir, remote = remote, branch = branch))]
pub async fn push(
    ex: &dyn Executor,
    dir: &str,
    remote: &str,
    branch: &str,
    token: Option<&SecretString>,
) -> Result<()> {
    validate_branch_name(branch)?;
    let named = is_remote_name(remote);
    let mut pin = if named { None } else { validate_url(remote)? };
    if token.is_some() && named {
        let out = run(
            ex,
            command(None, ["remote", "get-url", "--push", remote]).cwd(dir),
            &format!("reading the URL of remote `{remote}` in `{dir}`"),
            None,
        )
        .await?;
        pin = validate_url(out.stdout_text().trim())?;
    }
    let refspec = format!("refs/heads/{branch}:refs/heads/{branch}");
    let args = ["push", "--quiet", "--", remote, &refspec];
    let request = command(authenticate(token, pin.as_ref())?, args).cwd(dir);
    let what = format!("pushing branch `{branch}` to {remote}");
    run(ex, request, &what, token).await?;
    tracing::info!("pushed");
    Ok(())
}

/// The changes from revision `base` to the working tree of `dir`, as a unified diff of tracked
/// files (new files show once committed or staged). Non-UTF-8 text is replaced; external diff
/// drivers and text conversion filters do not run.
#[tracing::instrument(skip_all, fields(workspace = ex.workspace(), dir = dir, base = base))]
pub async fn diff(ex: &dyn Executor, dir: &str, base: &str) -> Result<String> {
    if base.is_empty() || base.starts_with('-') || base.chars().any(unsafe_char) {
        return Err(refused(format!(
            "`{base}` is not a revision; name a branch, tag or commit id"
        )));
    }
    let args = [
        "diff",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--end-of-options",
        base,
        "--",
    ];
    let request = command(None, args).cwd(dir).output_limit(DIFF_LIMIT);
    let out = run(
        ex,
        request,
        &format!("diffing `{dir}` against {base}"),
        None,
    )
    .await?;
    if out.stdout_truncated {
        return Err(Error::Backend {
            backend: BACKEND,
            message: format!(
                "the diff of `{dir}` against {base} in workspace `{}` is larger than {DIFF_LIMIT} bytes; diff fewer paths",
                ex.workspace()
            ),
            source: None,
        });
    }
    Ok(out.stdout_text())
}
