//! Cloning a project into a new workspace, on the host, with `git` run as an argv.

use std::path::Path;
use std::process::Stdio;

use agentbox_core::provider::Project;

use crate::error::LocalError;

/// How much of `git`'s error output is kept in an error.
const STDERR_TAIL: usize = 2000;

/// Clone `project` into `target` (which must not exist yet). A branch or tag is checked out
/// with `--branch`; a full commit id is checked out, detached, after the clone.
pub(crate) async fn clone_project(project: &Project, target: &Path) -> Result<(), LocalError> {
    let revision = project.revision.as_deref();
    let commit = revision.filter(|r| is_commit_id(r));
    let mut clone = git();
    clone.args(["-c", "protocol.ext.allow=never", "clone", "--quiet"]);
    if let Some(branch) = revision.filter(|_| commit.is_none()) {
        clone.args(["--branch", branch]);
    }
    clone.arg("--").arg(&project.url).arg(target);
    run(clone, &project.url).await?;
    if let Some(commit) = commit {
        let mut checkout = git();
        checkout.arg("-C").arg(target).args([
            "-c",
            "protocol.ext.allow=never",
            "checkout",
            "--quiet",
            "--detach",
            commit,
        ]);
        run(checkout, &project.url).await?;
    }
    Ok(())
}

fn git() -> tokio::process::Command {
    let mut command = tokio::process::Command::new("git");
    command
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

async fn run(mut command: tokio::process::Command, url: &str) -> Result<(), LocalError> {
    let output = command.output().await.map_err(|source| LocalError::Spawn {
        program: "git".to_owned(),
        source,
    })?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let start = stderr.len().saturating_sub(STDERR_TAIL);
    let start = (start..stderr.len())
        .find(|&i| stderr.is_char_boundary(i))
        .unwrap_or(stderr.len());
    Err(LocalError::Clone {
        url: url.to_owned(),
        status: output.status.to_string(),
        stderr: stderr[start..].trim().to_owned(),
    })
}

/// A full SHA-1 or SHA-256 commit id.
fn is_commit_id(revision: &str) -> bool {
    matches!(revision.len(), 40 | 64) && revision.chars().all(|c| c.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_full_hex_ids_are_commits() {
        assert!(is_commit_id(&"a".repeat(40)));
        assert!(!is_commit_id("main"));
        assert!(!is_commit_id("v1.2.3"));
        assert!(!is_commit_id(&"g".repeat(40)));
    }
}
