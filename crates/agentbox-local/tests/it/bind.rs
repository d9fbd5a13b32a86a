//! Host directories bound into every workspace with `LocalProviderBuilder::bind`.

use crate::common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use agentbox_core::Error;
use agentbox_core::provider::{CreateRequest, WorkspaceProvider, WorkspaceProviderExt};
use agentbox_core::secrets::StaticSecrets;
use agentbox_local::{Isolation, LocalProvider, LocalProviderBuilder};
use common::{contract, sh};

fn builder(state: &Path) -> LocalProviderBuilder {
    LocalProvider::builder()
        .root(state)
        .isolation(Isolation::Bubblewrap)
        .secrets(Arc::new(StaticSecrets::new()))
}

#[tokio::test]
async fn a_bound_host_directory_is_shared_read_write_by_every_workspace() {
    let state = tempfile::tempdir().unwrap();
    let shared = tempfile::tempdir().unwrap();
    let provider = builder(state.path())
        .bind(shared.path(), "/remotes")
        .build()
        .unwrap();
    let mut execs = Vec::new();
    for name in ["one", "two"] {
        let info = provider
            .provision(
                &contract(""),
                CreateRequest::named(name),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
        execs.push(provider.executor(&info.id).await.unwrap());
    }
    let out = sh(&execs[0], "echo from-one > /remotes/note").await;
    assert!(out.exit.success(), "{}", out.stderr_text());
    let out = sh(&execs[1], "cat /remotes/note").await;
    assert_eq!(out.stdout_text(), "from-one\n", "{}", out.stderr_text());
    assert_eq!(
        std::fs::read_to_string(shared.path().join("note")).unwrap(),
        "from-one\n"
    );
}

#[test]
fn build_refuses_binds_it_cannot_make() {
    let state = tempfile::tempdir().unwrap();
    let shared = tempfile::tempdir().unwrap();
    let file = shared.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let missing = shared.path().join("missing");
    let cases: Vec<(&str, LocalProviderBuilder)> = vec![
        (
            "missing host dir",
            builder(state.path()).bind(&missing, "/remotes"),
        ),
        ("host file", builder(state.path()).bind(&file, "/remotes")),
        (
            "relative target",
            builder(state.path()).bind(shared.path(), "remotes"),
        ),
        (
            "dotted target",
            builder(state.path()).bind(shared.path(), "/a/../etc"),
        ),
        (
            "root target",
            builder(state.path()).bind(shared.path(), "/"),
        ),
        (
            "kernel target",
            builder(state.path()).bind(shared.path(), "/proc/x"),
        ),
        (
            "uncreatable target",
            builder(state.path()).bind(shared.path(), "/usr/no-such-agentbox-dir"),
        ),
        (
            "the workspace root",
            builder(state.path()).bind(state.path(), "/state"),
        ),
        (
            "a parent of the workspace root",
            builder(&state.path().join("nested")).bind(state.path(), "/state"),
        ),
        (
            "no sandbox",
            builder(state.path())
                .isolation(Isolation::None)
                .bind(shared.path(), "/remotes"),
        ),
    ];
    for (case, builder) in cases {
        let err = builder.build().unwrap_err();
        assert!(matches!(err, Error::Refused { .. }), "{case}: {err}");
        assert!(err.to_string().contains("cannot bind"), "{case}: {err}");
    }
}

#[tokio::test]
async fn a_bind_inside_the_storage_mount_is_refused_when_a_workspace_is_created() {
    let state = tempfile::tempdir().unwrap();
    let shared = tempfile::tempdir().unwrap();
    let provider = builder(state.path())
        .bind(shared.path(), "/projects/cache")
        .build()
        .unwrap();
    let err = provider
        .create(&contract(""), CreateRequest::named("inside"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Refused { .. }), "{err}");
    assert!(err.to_string().contains("storage mount"), "{err}");
    assert!(!provider.root().join("inside").exists());
}
