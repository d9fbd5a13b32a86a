//! Helpers shared by the local provider's tests.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use agentbox_core::Contract;
use agentbox_core::contract::LoadOptions;
use agentbox_core::exec::{ExecOutput, ExecRequest, Executor};
use agentbox_core::progress::{Progress, ProgressEvent};
use agentbox_core::provider::{
    CreateRequest, WorkspaceInfo, WorkspaceProvider, WorkspaceProviderExt,
};
use agentbox_core::secrets::StaticSecrets;
use agentbox_local::{Isolation, LocalProvider};

/// A contract named `demo` (workdir `/projects/demo`) with `extra` appended to its spec.
pub fn contract(extra: &str) -> Contract {
    let yaml = format!(
        "apiVersion: agentbox.dev/v1alpha1\nkind: Environment\nmetadata: {{ name: demo }}\nspec:\n  image: alpine:3.20\n{extra}"
    );
    Contract::from_yaml(&yaml, &LoadOptions::default()).unwrap()
}

/// Progress events, recorded.
#[derive(Clone, Default)]
pub struct Events(Arc<Mutex<Vec<ProgressEvent>>>);

impl Events {
    pub fn progress(&self) -> Progress {
        let events = self.0.clone();
        Progress::new(Arc::new(move |e: &ProgressEvent| {
            events.lock().unwrap().push(e.clone())
        }))
    }

    pub fn all(&self) -> Vec<ProgressEvent> {
        self.0.lock().unwrap().clone()
    }

    pub fn warnings(&self) -> Vec<String> {
        self.all()
            .into_iter()
            .filter_map(|e| match e {
                ProgressEvent::Warning { message, .. } => Some(message),
                _ => None,
            })
            .collect()
    }
}

/// A test's state directory and provider.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub provider: LocalProvider,
    pub events: Events,
}

pub fn fixture(isolation: Isolation) -> Fixture {
    fixture_with(isolation, StaticSecrets::new())
}

pub fn fixture_with(isolation: Isolation, secrets: StaticSecrets) -> Fixture {
    fixture_in(tempfile::tempdir().unwrap(), isolation, secrets)
}

/// A fixture whose state directory is `dir`.
pub fn fixture_in(dir: tempfile::TempDir, isolation: Isolation, secrets: StaticSecrets) -> Fixture {
    let events = Events::default();
    let provider = LocalProvider::builder()
        .root(dir.path())
        .isolation(isolation)
        .secrets(Arc::new(secrets))
        .progress(events.progress())
        .build()
        .unwrap();
    Fixture {
        dir,
        provider,
        events,
    }
}

impl Fixture {
    /// Create, start and wait for `name` from `contract`.
    pub async fn running(
        &self,
        contract: &Contract,
        name: &str,
    ) -> (WorkspaceInfo, Arc<dyn Executor>) {
        let info = self
            .provider
            .provision(
                contract,
                CreateRequest::named(name),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
        let exec = self.provider.executor(&info.id).await.unwrap();
        (info, exec)
    }

    /// The host directory holding `name`'s files.
    pub fn files(&self, name: &str) -> std::path::PathBuf {
        self.provider.root().join(name).join("files")
    }
}

/// Run `sh -c script` to completion.
pub async fn sh(exec: &Arc<dyn Executor>, script: &str) -> ExecOutput {
    exec.exec(ExecRequest::new(["sh", "-c", script]))
        .await
        .unwrap()
}
