//! A `CoderProvider` that owns the fake coderd it talks to, so the server lives exactly as long
//! as whoever holds the provider (the behaviour suite holds only an `Arc<dyn WorkspaceProvider>`).

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use agentbox_coder::{CoderClient, CoderProvider, CoderProviderBuilder};
use agentbox_core::contract::{Contract, LoadOptions};
use agentbox_core::provider::{
    Capabilities, CreateRequest, LabelSelector, WorkspaceId, WorkspaceInfo,
};
use agentbox_core::{Executor, Result, WorkspaceProvider};
use agentbox_testkit::coder::{FakeCoderd, FakeCoderdBuilder};
use async_trait::async_trait;

/// The storage mount of every test workspace (the suite's contract uses it too).
pub const MOUNT: &str = "/projects";

/// A fake coderd with `/projects` as the workspaces' storage.
pub fn coderd() -> FakeCoderdBuilder {
    FakeCoderd::builder().mount_path(MOUNT)
}

/// A client of `coderd`.
pub fn client(coderd: &FakeCoderd) -> CoderClient {
    CoderClient::new(&coderd.url(), coderd.token()).expect("a client of the fake coderd")
}

/// A provider builder for the `agentbox` template of `coderd`.
pub fn provider(coderd: &FakeCoderd) -> CoderProviderBuilder {
    CoderProvider::builder(client(coderd), "agentbox")
}

/// A small contract under `/projects`.
pub fn contract(name: &str) -> Contract {
    Contract::from_yaml(
        &format!(
            "apiVersion: agentbox.dev/v1alpha1\nkind: Environment\nmetadata: {{ name: {name} }}\nspec:\n  image: docker.io/library/debian:12\n  storage: {{ type: per-workspace, mountPath: {MOUNT} }}\n  env: {{ GREETING: hello }}\n"
        ),
        &LoadOptions::default(),
    )
    .expect("the test contract loads")
}

/// A provider together with the fake coderd it talks to.
#[derive(Debug)]
pub struct Served {
    pub provider: CoderProvider,
    pub coderd: FakeCoderd,
}

impl Served {
    /// A fake coderd from `builder` and a default provider of it.
    pub async fn start(builder: FakeCoderdBuilder) -> Self {
        let coderd = builder.start().await.expect("the fake coderd starts");
        let provider = provider(&coderd).build();
        Self { provider, coderd }
    }

    /// As an `Arc<dyn WorkspaceProvider>`.
    pub fn shared(self) -> Arc<dyn WorkspaceProvider> {
        Arc::new(self)
    }
}

#[async_trait]
impl WorkspaceProvider for Served {
    fn backend(&self) -> &'static str {
        self.provider.backend()
    }

    fn capabilities(&self) -> Capabilities {
        self.provider.capabilities()
    }

    async fn create(&self, contract: &Contract, request: CreateRequest) -> Result<WorkspaceInfo> {
        self.provider.create(contract, request).await
    }

    async fn start(&self, id: &WorkspaceId) -> Result<()> {
        self.provider.start(id).await
    }

    async fn stop(&self, id: &WorkspaceId) -> Result<()> {
        self.provider.stop(id).await
    }

    async fn delete(&self, id: &WorkspaceId) -> Result<()> {
        self.provider.delete(id).await
    }

    async fn status(&self, id: &WorkspaceId) -> Result<WorkspaceInfo> {
        self.provider.status(id).await
    }

    async fn list(&self, selector: &LabelSelector) -> Result<Vec<WorkspaceInfo>> {
        self.provider.list(selector).await
    }

    async fn wait_ready(&self, id: &WorkspaceId, timeout: Duration) -> Result<WorkspaceInfo> {
        self.provider.wait_ready(id, timeout).await
    }

    async fn executor(&self, id: &WorkspaceId) -> Result<Arc<dyn Executor>> {
        self.provider.executor(id).await
    }
}
