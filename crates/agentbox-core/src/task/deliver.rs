//! The runner's steps around the work: seeding files into a fresh workspace, and delivering
//! finished work — commit, diff, push, pull request.

use super::event::TaskStep;
use super::forge::{Forge, PullRequest};
use super::gate::PermissionGate;
use super::git;
use super::spec::{Task, TaskRepo};
use super::work::Work;
use crate::Result;
use crate::evidence::{EvidenceEvent, EvidenceSink};
use crate::exec::{Executor, ExecutorExt};
use crate::model::ModelClient;

/// Commit the work, keep its diff, push, and open the pull request, as the task says.
pub(crate) async fn deliver<M: ModelClient + ?Sized, E: EvidenceSink + ?Sized>(
    work: &mut Work<'_, M, E>,
    repo: &TaskRepo,
    forge: Option<&dyn Forge>,
) -> Result<()> {
    let exec = &*work.exec;
    let dir = work.gate.workdir().to_owned();
    let message = commit_message(&work.task.description, work.evidence.run_id());
    let Some(sha) = git::commit_all(exec, &dir, &message, &repo.author).await? else {
        work.evidence
            .record(EvidenceEvent::Note {
                message: "the work changed no file; nothing was committed".into(),
            })
            .await?;
        return Ok(());
    };
    work.tally.commit = Some(sha.clone());
    work.evidence
        .record(EvidenceEvent::Note {
            message: format!("committed {sha} on branch `{}`", repo.spec.branch),
        })
        .await?;
    work.emit(TaskStep::Committed { sha: sha.clone() });
    let base = repo.spec.base.as_deref().unwrap_or("origin/HEAD");
    let diff = git::diff(exec, &dir, base).await?;
    work.evidence
        .artifact("diff.patch", diff.as_bytes())
        .await?;
    if repo.push {
        git::push(exec, &dir, "origin", &repo.spec.branch, repo.token.as_ref()).await?;
        work.evidence
            .record(EvidenceEvent::Note {
                message: format!("pushed branch `{}` to origin", repo.spec.branch),
            })
            .await?;
    }
    if let (Some(forge), Some(slug), Some(base)) = (forge, &repo.pull_request, &repo.spec.base) {
        let pr = PullRequest {
            repo: slug.clone(),
            head: repo.spec.branch.clone(),
            base: base.clone(),
            title: title(&work.task.description),
            body: format!(
                "{}\n\n---\nMade by an agentbox task (evidence run `{}`); the tests pass.",
                work.task.description,
                work.evidence.run_id()
            ),
        };
        let url = forge.open_pull_request(exec, &pr).await?;
        work.evidence
            .record(EvidenceEvent::Note {
                message: format!("opened pull request {url}"),
            })
            .await?;
        work.tally.pull_request = Some(url.clone());
        work.emit(TaskStep::PullRequestOpened { url });
    }
    Ok(())
}

/// Write the task's seed files into the workspace.
pub(crate) async fn seed<E: EvidenceSink + ?Sized>(
    exec: &dyn Executor,
    gate: &PermissionGate,
    task: &Task,
    evidence: &E,
) -> Result<()> {
    for (path, content) in &task.files {
        let path = gate.resolve(path)?;
        let written = exec.write_bytes(&path, content.clone()).await?;
        evidence
            .record(EvidenceEvent::FileWritten {
                workspace: exec.workspace().to_owned(),
                path: written.path,
                bytes: written.bytes,
                sha256: written.sha256,
            })
            .await?;
    }
    Ok(())
}

/// A commit message: the description's first line as the subject, the rest and the run as the
/// body.
fn commit_message(description: &str, run_id: &str) -> String {
    format!(
        "{}\n\n{}\n\nagentbox-run: {run_id}\n",
        title(description),
        description.trim()
    )
}

/// The description's first line, cut to 72 characters.
fn title(description: &str) -> String {
    let line = description
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("agentbox task");
    let mut title: String = line.chars().take(72).collect();
    if line.chars().count() > 72 {
        title.pop();
        title.push('…');
    }
    title
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_the_first_line_cut_to_72_characters() {
        assert_eq!(title("\n  Fix the parser\nDetails"), "Fix the parser");
        let long = "x".repeat(100);
        assert_eq!(title(&long).chars().count(), 72);
        assert!(title(&long).ends_with('…'));
        assert_eq!(title(""), "agentbox task");
    }

    #[test]
    fn commit_messages_name_the_run() {
        let m = commit_message("Fix it\nplease", "run-1");
        assert!(m.starts_with("Fix it\n\n"), "{m}");
        assert!(m.ends_with("agentbox-run: run-1\n"), "{m}");
    }
}
