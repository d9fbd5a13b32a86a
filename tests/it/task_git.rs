//! A task with a repository: the runner clones it, the agent fixes it, and the runner commits
//! on the task's branch, pushes it to the remote and opens a pull request through a forge —
//! against a bare repository on this host standing in for the remote, and a stand-in `gh`.

#![cfg(all(feature = "local", feature = "copilot"))]

use crate::task_support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use agentbox::contract::{Contract, LoadOptions};
use agentbox::copilot::OpenAiCompatibleClient;
use agentbox::local::{Isolation, LocalProvider};
use agentbox::task::forge::GhCliForge;
use agentbox::task::git::{GitAuthor, RepoSpec};
use agentbox::task::{Task, TaskOutcome, TaskRepo, TaskRunner};
use agentbox_testkit::model_server::{FakeModelServer, Reply};
use secrecy::SecretString;
use task_support::{CHECK, CONTRACT, write_answer};

const BRANCH: &str = "agentbox/answer-42";

fn git(args: &[&str]) -> String {
    let out = Command::new("git").args(args).output().expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A bare repository at `<remotes>/app.git` whose `main` holds the project (answer 41).
fn make_remote(scratch: &Path) -> std::path::PathBuf {
    let seed = scratch.join("seed");
    std::fs::create_dir_all(&seed).unwrap();
    std::fs::write(seed.join("check.sh"), CHECK).unwrap();
    std::fs::write(seed.join("answer.sh"), "echo 41\n").unwrap();
    let s = seed.to_str().unwrap();
    git(&["init", "--quiet", "--initial-branch=main", s]);
    git(&["-C", s, "add", "--all"]);
    git(&[
        "-C",
        s,
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.invalid",
        "commit",
        "--quiet",
        "-m",
        "answer 41",
    ]);
    let remotes = scratch.join("remotes");
    std::fs::create_dir_all(&remotes).unwrap();
    git(&[
        "clone",
        "--quiet",
        "--bare",
        "--",
        s,
        remotes.join("app.git").to_str().unwrap(),
    ]);
    remotes
}

/// A stand-in `gh` that records its argv, stdin and `GH_TOKEN`, and prints a PR URL.
fn fake_gh(bin: &Path) {
    std::fs::create_dir_all(bin).unwrap();
    let script = bin.join("gh");
    std::fs::write(
        &script,
        "#!/bin/sh\nprintf '%s\\n' \"$@\" > /fakebin/argv\ncat > /fakebin/stdin\nprintf '%s' \"$GH_TOKEN\" > /fakebin/token\necho https://github.example/acme/app/pull/7\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[tokio::test]
async fn a_task_with_a_repository_clones_commits_pushes_and_opens_a_pull_request() {
    let scratch = tempfile::tempdir().unwrap();
    let remotes = make_remote(scratch.path());
    let fakebin = scratch.path().join("fakebin");
    fake_gh(&fakebin);
    let provider = Arc::new(
        LocalProvider::builder()
            .root(scratch.path().join("state"))
            .isolation(Isolation::Bubblewrap)
            .bind(&remotes, "/remotes")
            .bind(&fakebin, "/fakebin")
            .build()
            .unwrap(),
    );
    let server = FakeModelServer::start().await.unwrap();
    server.enqueue(Reply::tool_call("c1", "write_file", write_answer(42)));
    server.enqueue(Reply::tool_call("c2", "run_tests", "{}"));
    server.enqueue(Reply::tool_call(
        "c3",
        "finish",
        r#"{"summary":"answer is 42"}"#,
    ));
    let model = OpenAiCompatibleClient::builder(server.base_url(), "fake-model")
        .build()
        .unwrap();
    let gh_token = "ghp_planted_forge_token_0123456789";
    let runner = TaskRunner::new(provider.clone(), Arc::new(model)).forge(Arc::new(
        GhCliForge::new(SecretString::from(gh_token)).program("/fakebin/gh"),
    ));

    let contract = Contract::from_yaml(CONTRACT, &LoadOptions::default()).unwrap();
    let repo = TaskRepo::new(
        RepoSpec {
            url: "/remotes/app.git".into(),
            base: Some("main".into()),
            branch: BRANCH.into(),
        },
        GitAuthor {
            name: "Agent Box".into(),
            email: "agent@example.invalid".into(),
        },
    )
    .push(true)
    .pull_request("acme/app");
    let task = Task::new("Make answer.sh print 42", contract).repo(repo);
    let evidence_dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(
        agentbox::evidence::FsEvidenceSink::create(
            evidence_dir.path(),
            agentbox::evidence::RunInfo::with_id("git"),
        )
        .await
        .unwrap(),
    );

    let result = runner.run(&task, sink).await.unwrap();

    assert_eq!(result.outcome, TaskOutcome::Succeeded, "{result:?}");
    let sha = result.commit.clone().expect("the fix was committed");
    let bare = remotes.join("app.git");
    let bare = bare.to_str().unwrap();
    assert_eq!(
        git(&["--git-dir", bare, "rev-parse", BRANCH]).trim(),
        sha,
        "the branch was pushed"
    );
    assert_eq!(
        git(&["--git-dir", bare, "show", &format!("{BRANCH}:answer.sh")]),
        "echo 42\n"
    );
    assert_eq!(
        git(&["--git-dir", bare, "log", "-1", "--format=%an <%ae>", BRANCH]).trim(),
        "Agent Box <agent@example.invalid>"
    );
    assert_eq!(
        git(&["--git-dir", bare, "rev-parse", "main"]).trim(),
        git(&["--git-dir", bare, "rev-parse", &format!("{BRANCH}~1")]).trim()
    );

    assert_eq!(
        result.pull_request.as_deref(),
        Some("https://github.example/acme/app/pull/7")
    );
    let argv = std::fs::read_to_string(fakebin.join("argv")).unwrap();
    let argv: Vec<&str> = argv.lines().collect();
    for flag in [
        "--repo=acme/app",
        &format!("--head={BRANCH}"),
        "--base=main",
        "--body-file=-",
    ] {
        assert!(argv.contains(&flag), "{flag} in {argv:?}");
    }
    assert_eq!(
        std::fs::read_to_string(fakebin.join("token")).unwrap(),
        gh_token
    );

    // The forge's token reached `gh` by environment only: never argv, never evidence.
    assert!(!argv.iter().any(|a| a.contains(gh_token)));
    for entry in std::fs::read_dir(evidence_dir.path().join("git")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !String::from_utf8_lossy(&bytes).contains(gh_token),
                "{} holds the token",
                path.display()
            );
        }
    }
    runner.wait_for_cleanups().await;
}
