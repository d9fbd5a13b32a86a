//! The workspace lifecycle of the local provider: records, phases, persistence, refusals.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use agentbox_core::Error;
use agentbox_core::exec::{ExecChunk, ExecRequest, ExitStatus};
use agentbox_core::progress::ProgressEvent;
use agentbox_core::provider::{
    CreateRequest, LabelSelector, Phase, Project, WorkspaceId, WorkspaceProvider,
};
use agentbox_core::secrets::StaticSecrets;
use agentbox_local::{Isolation, LocalProvider};
use common::{contract, fixture, fixture_with, sh};
use futures::StreamExt;
use secrecy::SecretString;

#[tokio::test]
async fn a_workspace_moves_through_its_phases() {
    let f = fixture(Isolation::Auto);
    let c = contract("");
    let info = f
        .provider
        .create(&c, CreateRequest::named("life"))
        .await
        .unwrap();
    assert_eq!(
        (info.id.as_str(), info.phase, info.backend.as_str()),
        ("life", Phase::Pending, "local")
    );
    assert!(
        f.files("life").join("demo").is_dir(),
        "the workdir is created"
    );

    f.provider.start(&info.id).await.unwrap();
    assert_eq!(
        f.provider.status(&info.id).await.unwrap().phase,
        Phase::Running
    );
    f.provider.start(&info.id).await.unwrap();

    f.provider.stop(&info.id).await.unwrap();
    assert_eq!(
        f.provider.status(&info.id).await.unwrap().phase,
        Phase::Stopped
    );
    assert!(f.files("life").is_dir(), "stop keeps the files");
    f.provider.resume(&info.id).await.unwrap();
    assert_eq!(
        f.provider.status(&info.id).await.unwrap().phase,
        Phase::Running
    );

    f.provider.delete(&info.id).await.unwrap();
    assert!(!f.provider.root().join("life").exists());
    assert!(
        f.provider
            .status(&info.id)
            .await
            .unwrap_err()
            .is_not_found()
    );

    let phases: Vec<_> = f
        .events
        .all()
        .into_iter()
        .filter_map(|e| match e {
            ProgressEvent::Workspace { phase, .. } => Some(phase),
            _ => None,
        })
        .collect();
    assert_eq!(
        phases,
        [
            Some(Phase::Pending),
            Some(Phase::Starting),
            Some(Phase::Running),
            Some(Phase::Stopped),
            Some(Phase::Starting),
            Some(Phase::Running),
            None
        ]
    );
}

#[tokio::test]
async fn a_new_provider_sees_existing_workspaces() {
    let f = fixture(Isolation::Auto);
    let c = contract("");
    let a = f
        .provider
        .create(&c, CreateRequest::named("a").label("team", "x"))
        .await
        .unwrap();
    let b = f
        .provider
        .create(&c, CreateRequest::named("b"))
        .await
        .unwrap();
    f.provider.start(&a.id).await.unwrap();

    let again = LocalProvider::builder().root(f.dir.path()).build().unwrap();
    let all = again.list(&LabelSelector::all()).await.unwrap();
    assert_eq!(
        all.iter().map(|w| w.name.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    let team = again
        .list(&LabelSelector::all().eq("team", "x"))
        .await
        .unwrap();
    assert_eq!(team.len(), 1);
    assert_eq!(team[0].labels["app.kubernetes.io/managed-by"], "agentbox");
    assert_eq!(again.status(&a.id).await.unwrap().phase, Phase::Running);
    assert_eq!(again.status(&b.id).await.unwrap(), b);
    again.delete(&b.id).await.unwrap();
    assert_eq!(
        f.provider.list(&LabelSelector::all()).await.unwrap().len(),
        1
    );
}

#[tokio::test]
async fn names_must_be_dns_labels_and_unique() {
    let f = fixture(Isolation::Auto);
    let c = contract("");
    let err = f
        .provider
        .create(&c, CreateRequest::named("../evil"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Refused { .. }), "{err}");
    f.provider
        .create(&c, CreateRequest::named("one"))
        .await
        .unwrap();
    let err = f
        .provider
        .create(&c, CreateRequest::named("one"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err}");
    let generated = f
        .provider
        .create(&c, CreateRequest::default())
        .await
        .unwrap();
    assert!(generated.name.starts_with("demo-"), "{}", generated.name);
}

#[tokio::test]
async fn deleting_is_idempotent() {
    let f = fixture(Isolation::Auto);
    let info = f
        .provider
        .create(&contract(""), CreateRequest::named("gone"))
        .await
        .unwrap();
    f.provider.delete(&info.id).await.unwrap();
    f.provider.delete(&info.id).await.unwrap();
    f.provider
        .delete(&WorkspaceId::from("never-was"))
        .await
        .unwrap();
    f.provider
        .delete(&WorkspaceId::from("../.."))
        .await
        .unwrap();
    assert!(
        f.dir.path().exists(),
        "an id that is not a name never reaches the file system"
    );
}

#[tokio::test]
async fn a_missing_secret_fails_creation_with_a_hint_and_leaves_nothing() {
    let f = fixture(Isolation::Auto);
    let c = contract("  secrets:\n    - env: TOKEN\n      from: { secret: api, key: token }\n");
    let err = f
        .provider
        .create(&c, CreateRequest::named("s"))
        .await
        .unwrap_err();
    match &err {
        Error::SecretMissing {
            env,
            secret,
            key,
            hint,
            ..
        } => {
            assert_eq!(
                (env.as_str(), secret.as_str(), key.as_str()),
                ("TOKEN", "api", "token")
            );
            assert!(hint.contains("api"), "{hint}");
        }
        other => panic!("expected SecretMissing, got {other}"),
    }
    assert!(!f.provider.root().join("s").exists());
}

#[tokio::test]
async fn wait_ready_is_woken_by_start_and_times_out_otherwise() {
    let f = fixture(Isolation::Auto);
    let info = f
        .provider
        .create(&contract(""), CreateRequest::named("w"))
        .await
        .unwrap();
    let err = f
        .provider
        .wait_ready(&info.id, Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");

    let waiter = {
        let provider = f.provider.clone();
        let id = info.id.clone();
        tokio::spawn(async move { provider.wait_ready(&id, Duration::from_secs(30)).await })
    };
    tokio::task::yield_now().await;
    f.provider.start(&info.id).await.unwrap();
    assert_eq!(waiter.await.unwrap().unwrap().phase, Phase::Running);
    assert_eq!(
        f.provider
            .wait_ready(&info.id, Duration::ZERO)
            .await
            .unwrap()
            .phase,
        Phase::Running
    );
}

#[tokio::test]
async fn executors_exist_only_for_running_workspaces_and_stop_with_them() {
    let f = fixture(Isolation::Auto);
    let info = f
        .provider
        .create(&contract(""), CreateRequest::named("x"))
        .await
        .unwrap();
    let err = f.provider.executor(&info.id).await.unwrap_err();
    assert!(matches!(err, Error::InvalidState { .. }), "{err}");

    f.provider.start(&info.id).await.unwrap();
    let exec = f.provider.executor(&info.id).await.unwrap();
    assert!(sh(&exec, "true").await.exit.success());
    f.provider.stop(&info.id).await.unwrap();
    let err = exec.exec(ExecRequest::new(["true"])).await.unwrap_err();
    assert!(matches!(err, Error::InvalidState { .. }), "{err}");

    f.provider.start(&info.id).await.unwrap();
    let err = exec.exec(ExecRequest::new(["true"])).await.unwrap_err();
    assert!(
        matches!(err, Error::InvalidState { .. }),
        "an old executor stays stopped: {err}"
    );
    let fresh = f.provider.executor(&info.id).await.unwrap();
    assert!(sh(&fresh, "true").await.exit.success());
}

#[tokio::test]
async fn running_without_bubblewrap_needs_an_explicit_opt_in() {
    let dir = tempfile::tempdir().unwrap();
    let provider = LocalProvider::builder()
        .root(dir.path())
        .bwrap_path("/nonexistent/bwrap")
        .build()
        .unwrap();
    let err = provider
        .create(&contract(""), CreateRequest::named("r"))
        .await
        .unwrap_err();
    match &err {
        Error::Refused { message, .. } => {
            assert!(message.contains("apt-get install bubblewrap"), "{message}");
            assert!(message.contains("Isolation::None"), "{message}");
        }
        other => panic!("expected Refused, got {other}"),
    }
    assert!(!dir.path().join("r").exists());

    let unisolated = LocalProvider::builder()
        .root(dir.path())
        .bwrap_path("/nonexistent/bwrap")
        .isolation(Isolation::None)
        .build()
        .unwrap();
    assert!(!unisolated.capabilities().isolated);
    let info = unisolated
        .create(&contract(""), CreateRequest::named("r"))
        .await
        .unwrap();
    unisolated.start(&info.id).await.unwrap();
    let exec = unisolated.executor(&info.id).await.unwrap();
    assert!(sh(&exec, "true").await.exit.success());
}

#[tokio::test]
async fn what_cannot_be_enforced_is_warned_about() {
    let f = fixture(Isolation::Auto);
    let c = contract(
        "  resources: { cpu: { limit: '2' } }\n  isolation: { writablePaths: [ /usr/agentbox-no-such-dir ] }\n",
    );
    f.provider
        .create(&c, CreateRequest::named("warn"))
        .await
        .unwrap();
    let warnings = f.events.warnings().join("\n");
    assert!(warnings.contains("CPU"), "{warnings}");
    assert!(warnings.contains("/usr/agentbox-no-such-dir"), "{warnings}");
    assert_eq!(
        f.provider.limitations(&c).len(),
        2,
        "{:?}",
        f.provider.limitations(&c)
    );
}

#[tokio::test]
async fn secrets_reach_commands_only_as_environment() {
    let secrets = StaticSecrets::new().with("api", "token", SecretString::from("s3cr3t"));
    let f = fixture_with(Isolation::Auto, secrets);
    let c = contract(
        "  env: { GREETING: hello }\n  secrets:\n    - env: TOKEN\n      from: { secret: api, key: token }\n",
    );
    let (_, exec) = f.running(&c, "sec").await;
    let out = sh(&exec, "echo \"$GREETING $TOKEN\"").await;
    assert_eq!(out.stdout_text(), "hello s3cr3t\n");
    let record = std::fs::read_to_string(f.provider.root().join("sec/workspace.json")).unwrap();
    assert!(!record.contains("s3cr3t"));
    assert!(!format!("{exec:?}").contains("s3cr3t"));
}

#[tokio::test]
async fn a_project_is_cloned_into_the_workdir() {
    let upstream = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let status = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@e", "-C"])
            .arg(upstream.path())
            .args(args)
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    };
    git(&["init", "--quiet", "--initial-branch=main"]);
    std::fs::write(upstream.path().join("README"), "upstream").unwrap();
    git(&["add", "README"]);
    git(&["commit", "--quiet", "-m", "first"]);

    let f = fixture(Isolation::Auto);
    let project = Project {
        url: upstream.path().display().to_string(),
        revision: Some("main".into()),
    };
    f.provider
        .create(
            &contract(""),
            CreateRequest::named("cloned").project(project),
        )
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(f.files("cloned").join("demo/README")).unwrap(),
        "upstream"
    );

    let missing = Project {
        url: upstream.path().join("nope").display().to_string(),
        revision: None,
    };
    let err = f
        .provider
        .create(
            &contract(""),
            CreateRequest::named("failed").project(missing),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cloning"), "{err}");
    assert!(
        !f.provider.root().join("failed").exists(),
        "a failed clone leaves no workspace"
    );
}

#[tokio::test]
async fn clones_share_state_so_stop_kills_commands_started_elsewhere() {
    let f = fixture(Isolation::Auto);
    let (info, exec) = f.running(&contract(""), "shared").await;
    let clone: Arc<LocalProvider> = Arc::new(f.provider.clone());
    let mut stream = exec
        .exec_stream(ExecRequest::new(["sh", "-c", "echo ready; exec sleep 100"]))
        .await
        .unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(first, ExecChunk::Stdout("ready\n".into()));
    clone.stop(&info.id).await.unwrap();
    let rest: Vec<_> = stream.map(Result::unwrap).collect().await;
    assert_eq!(rest, [ExecChunk::Exit(ExitStatus::Signal(9))]);
}
