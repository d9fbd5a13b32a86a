//! The quickstart: an agent fixes a failing test in a disposable local workspace.
//!
//! ```sh
//! cargo run --example quickstart
//! ```
//!
//! It takes `examples/quickstart/` — a tiny Python library whose tests fail (`repo/`) and its
//! environment contract (`agentbox.yaml`) — and, with no cluster and no network:
//! 1. makes a local bare git repository from `repo/`, standing in for the remote;
//! 2. provisions a local workspace (bubblewrap sandbox) and clones the repository into it;
//! 3. runs the agent loop: the model reads, writes and runs through tools, every call passing
//!    the contract's deny-by-default permission gate, until the tests pass;
//! 4. commits on a new branch and pushes it to the bare repository (no PR without a forge);
//! 5. suspends the workspace, resumes it, deletes it;
//! 6. prints where the evidence is (`index.html` is a report that opens offline).
//!
//! The model is a real one when configured — `AGENTBOX_MODEL_URL` (any OpenAI-compatible
//! server, with `AGENTBOX_MODEL_KEY` and `AGENTBOX_MODEL` as needed) or `AGENTBOX_GITHUB_TOKEN`
//! (GitHub Copilot) — and otherwise the canned replies in `examples/quickstart/script.yaml`,
//! which the output says plainly.

use agentbox::contract::{Contract, LoadOptions};
use agentbox::copilot::{CopilotClient, OpenAiCompatibleClient};
use agentbox::evidence::{FsEvidenceSink, REPORT_FILE, RunInfo};
use agentbox::local::LocalProvider;
use agentbox::model::ScriptedModel;
use agentbox::progress::{Progress, ProgressEvent};
use agentbox::task::git::{GitAuthor, RepoSpec};
use agentbox::task::{CleanupPolicy, Limits, Task, TaskRepo, TaskRunner, TaskStep};
use agentbox::{ModelClient, WorkspaceProvider};
use secrecy::SecretString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::{Duration, Instant};

const HERE: &str = "examples/quickstart";
/// Where the bare "remote" appears inside the sandbox.
const REMOTES: &str = "/remotes";
const BRANCH: &str = "agentbox/fix-slugify";

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    match quickstart().await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = e.source();
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            ExitCode::from(2)
        }
    }
}

async fn quickstart() -> Result<bool, Box<dyn std::error::Error>> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join(HERE);
    let contract = Contract::load(here.join("agentbox.yaml"), &LoadOptions::default())?;
    let scratch = tempfile::tempdir()?;

    // 1. A bare repository standing in for the remote, made from `repo/`.
    let remotes = scratch.path().join("remotes");
    let bare = remotes.join("quickstart.git");
    make_remote(&here.join("repo"), &scratch.path().join("seed"), &bare)?;
    println!("remote: {} (a local bare repository)", bare.display());

    // 2. The model: a real one when configured, else the script.
    let model = model(&here)?;
    println!("model:  {}", model.model());

    // 3. The provider, with the remotes directory visible in the sandbox.
    let started = Instant::now();
    let progress = Progress::new(Arc::new(move |e: &ProgressEvent| show(started, e)));
    let provider = Arc::new(
        LocalProvider::builder()
            .root(scratch.path().join("workspaces"))
            .bind(&remotes, REMOTES)
            .progress(progress.clone())
            .build()?,
    );
    let runner = TaskRunner::new(provider.clone(), model).progress(progress);

    let task = Task::new(
        "The punctuation tests in test_slug.py fail. Fix slug.py so that every test passes; do not change the tests.",
        contract.clone(),
    )
    .repo(
        TaskRepo::new(
            RepoSpec {
                url: format!("{REMOTES}/quickstart.git"),
                base: Some("main".into()),
                branch: BRANCH.into(),
            },
            GitAuthor {
                name: "agentbox quickstart".into(),
                email: "quickstart@agentbox.invalid".into(),
            },
        )
        .push(true),
    )
    .limits(Limits {
        max_turns: 12,
        max_fix_attempts: 3,
        deadline: Duration::from_secs(300),
        ..Limits::default()
    })
    // Suspend rather than delete at the end: a human would now review the branch.
    .cleanup(CleanupPolicy::Stop);

    let evidence_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/agentbox-evidence");
    let sink = Arc::new(
        FsEvidenceSink::create(
            &evidence_root,
            RunInfo {
                contract_hash: Some(contract.hash().to_owned()),
                backend: Some(provider.backend().to_owned()),
                ..RunInfo::default()
            },
        )
        .await?,
    );
    let run_dir = sink.run_dir().to_path_buf();
    let result = runner.run(&task, sink).await?;
    println!();
    println!(
        "outcome: {:?} after {} model turn(s), {} test run(s)",
        result.outcome, result.turns, result.test_runs
    );

    // 4. The branch is on the "remote".
    if let Some(commit) = &result.commit {
        println!("commit {commit} pushed to {BRANCH}:");
        let log = git(&[
            "--git-dir",
            &bare.to_string_lossy(),
            "log",
            "--oneline",
            "-n",
            "3",
            BRANCH,
        ])?;
        print!("{log}");
    }

    // 5. Suspended by the cleanup policy; resume (as after review feedback), then delete.
    if let Some(workspace) = &result.workspace {
        println!("suspended: {}", provider.status(workspace).await?.phase);
        let resumed = runner.resume(workspace, Duration::from_secs(60)).await?;
        println!("resumed:   {}", resumed.phase);
        runner.delete(workspace).await?;
        let gone = matches!(provider.status(workspace).await, Err(e) if e.is_not_found());
        println!("deleted:   {}", if gone { "gone" } else { "still there" });
    }

    // 6. The evidence.
    println!();
    println!("evidence: {}", run_dir.display());
    println!("report:   {}", run_dir.join(REPORT_FILE).display());
    Ok(result.outcome.is_success())
}

/// A real model from the environment, or the quickstart's script.
fn model(here: &Path) -> Result<Arc<dyn ModelClient>, Box<dyn std::error::Error>> {
    if let Ok(url) = std::env::var("AGENTBOX_MODEL_URL") {
        let name = std::env::var("AGENTBOX_MODEL").unwrap_or_else(|_| "gpt-4o-mini".into());
        let mut builder = OpenAiCompatibleClient::builder(url, name);
        if let Ok(key) = std::env::var("AGENTBOX_MODEL_KEY") {
            builder = builder.api_key(SecretString::from(key));
        }
        return Ok(Arc::new(builder.build()?));
    }
    if let Ok(token) = std::env::var("AGENTBOX_GITHUB_TOKEN") {
        let name = std::env::var("AGENTBOX_MODEL").unwrap_or_else(|_| "gpt-4o".into());
        return Ok(Arc::new(
            CopilotClient::builder(SecretString::from(token), name).build()?,
        ));
    }
    let script = here.join("script.yaml");
    println!(
        "note:   no model configured (AGENTBOX_MODEL_URL or AGENTBOX_GITHUB_TOKEN), so the model is SCRIPTED: \
         canned replies from {}",
        script.display()
    );
    Ok(Arc::new(ScriptedModel::load(&script)?))
}

/// `git init` a copy of `repo` on branch `main`, commit it, and clone it bare to `bare`.
fn make_remote(repo: &Path, seed: &Path, bare: &Path) -> Result<(), Box<dyn std::error::Error>> {
    copy_dir(repo, seed)?;
    let seed_s = seed.to_string_lossy();
    git(&["init", "--quiet", "--initial-branch=main", &seed_s])?;
    git(&["-C", &seed_s, "add", "--all"])?;
    git(&[
        "-C",
        &seed_s,
        "-c",
        "user.name=agentbox quickstart",
        "-c",
        "user.email=quickstart@agentbox.invalid",
        "commit",
        "--quiet",
        "-m",
        "slug: a first version",
    ])?;
    git(&[
        "clone",
        "--quiet",
        "--bare",
        "--",
        &seed_s,
        &bare.to_string_lossy(),
    ])?;
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target: PathBuf = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Run host git with an argv; its stdout, or an error with its stderr.
fn git(args: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
    let out = Command::new("git")
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A live progress display.
fn show(started: Instant, event: &ProgressEvent) {
    let t = started.elapsed().as_secs_f64();
    match event {
        ProgressEvent::Task { step, .. } => match step {
            TaskStep::Provisioning => println!("[{t:6.2}s] provisioning a workspace"),
            TaskStep::Ready { workspace, .. } => {
                println!("[{t:6.2}s] workspace {workspace} is ready")
            }
            TaskStep::Cloned { branch, .. } => {
                println!("[{t:6.2}s] cloned; working on branch {branch}")
            }
            TaskStep::ModelTurn { turn, max, .. } => println!("[{t:6.2}s] model turn {turn}/{max}"),
            TaskStep::ToolCall { tool, allowed, .. } => {
                let verdict = if *allowed { "" } else { "  ✗ denied" };
                println!("[{t:6.2}s]   tool {tool}{verdict}")
            }
            TaskStep::Tests { passed, run, .. } => {
                let verdict = if *passed { "passed ✓" } else { "failed ✗" };
                println!("[{t:6.2}s]   tests (run {run}): {verdict}")
            }
            TaskStep::Committed { sha, .. } => println!("[{t:6.2}s] committed {sha}"),
            TaskStep::PullRequestOpened { url, .. } => println!("[{t:6.2}s] pull request {url}"),
            TaskStep::Finished { outcome, .. } => println!("[{t:6.2}s] finished: {outcome:?}"),
            TaskStep::CleanedUp {
                workspace, policy, ..
            } => {
                println!("[{t:6.2}s] workspace {workspace}: {policy}")
            }
            other => println!("[{t:6.2}s] {other:?}"),
        },
        ProgressEvent::Warning { message, .. } => println!("[{t:6.2}s] note: {message}"),
        _ => {}
    }
}
