//! [`CoderProviderBuilder`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use agentbox_core::progress::Progress;
use agentbox_core::secrets::{EnvSecrets, SecretSource};

use super::{CoderProvider, Inner};
use crate::client::CoderClient;
use crate::params::{ContractParameters, ParameterValue};
use crate::pty::PtyOutput;

/// Builds a [`CoderProvider`]: a client, the template workspaces are made from, and options.
#[derive(Debug)]
pub struct CoderProviderBuilder {
    client: CoderClient,
    template: String,
    organization: Option<String>,
    agent: Option<String>,
    parameters: BTreeMap<String, ParameterValue>,
    mapping: ContractParameters,
    metadata_param: String,
    secrets: Option<Arc<dyn SecretSource>>,
    progress: Progress,
    output: PtyOutput,
    terminal: (u16, u16),
    build_timeout: Duration,
    #[cfg(feature = "kube")]
    kube: Option<crate::kube::KubeTarget>,
}

impl CoderProviderBuilder {
    pub(super) fn new(client: CoderClient, template: String) -> Self {
        Self {
            client,
            template,
            organization: None,
            agent: None,
            parameters: BTreeMap::new(),
            mapping: ContractParameters::default(),
            metadata_param: "agentbox_metadata".into(),
            secrets: None,
            progress: Progress::none(),
            output: PtyOutput::Exact,
            terminal: (200, 50),
            build_timeout: Duration::from_secs(15 * 60),
            #[cfg(feature = "kube")]
            kube: None,
        }
    }

    /// Make workspaces in this organization (a name or an id; default: the user's default
    /// organization, else their only one).
    pub fn organization(mut self, organization: impl Into<String>) -> Self {
        self.organization = Some(organization.into());
        self
    }

    /// Run commands in the agent with this name (default: the first top-level agent).
    pub fn agent(mut self, name: impl Into<String>) -> Self {
        self.agent = Some(name.into());
        self
    }

    /// Give every new workspace this parameter value (checked against the template before
    /// anything is created; it overrides a value derived from the contract).
    pub fn parameter(mut self, name: impl Into<String>, value: impl Into<ParameterValue>) -> Self {
        self.parameters.insert(name.into(), value.into());
        self
    }

    /// Which template parameters receive the contract's image, repository, devcontainer.json,
    /// CPU, memory and workdir (default: [`ContractParameters::default`]).
    pub fn contract_parameters(mut self, mapping: ContractParameters) -> Self {
        self.mapping = mapping;
        self
    }

    /// The template parameter holding agentbox's metadata (default `agentbox_metadata`).
    pub fn metadata_parameter(mut self, name: impl Into<String>) -> Self {
        self.metadata_param = name.into();
        self
    }

    /// Resolve the contract's secrets from `source` (default [`EnvSecrets`]). Values are sent
    /// to each command through the PTY's input, never stored in Coder.
    pub fn secrets(mut self, source: Arc<dyn SecretSource>) -> Self {
        self.secrets = Some(source);
        self
    }

    /// Report progress to `progress` (default: nowhere).
    pub fn progress(mut self, progress: Progress) -> Self {
        self.progress = progress;
        self
    }

    /// What executors do with output (default [`PtyOutput::Exact`]).
    pub fn output(mut self, output: PtyOutput) -> Self {
        self.output = output;
        self
    }

    /// The terminal size PTYs are opened with (default 200 × 50).
    pub fn terminal_size(mut self, width: u16, height: u16) -> Self {
        self.terminal = (width.max(1), height.max(1));
        self
    }

    /// How long `stop`, `delete` and a build refused with 409 may wait for a build to finish
    /// (default 15 minutes). `wait_ready` uses the caller's timeout.
    pub fn build_timeout(mut self, timeout: Duration) -> Self {
        self.build_timeout = timeout;
        self
    }

    /// Run commands through the Kubernetes API instead of the agent's PTY, in the pod of
    /// each workspace (found by `selector`, see [`crate::kube::PodSelector`]) in `namespace`.
    #[cfg(feature = "kube")]
    pub fn kube_exec(
        mut self,
        client: kube::Client,
        namespace: impl Into<String>,
        selector: crate::kube::PodSelector,
    ) -> Self {
        self.kube = Some(crate::kube::KubeTarget::new(
            client,
            namespace.into(),
            selector,
        ));
        self
    }

    /// The provider.
    pub fn build(self) -> CoderProvider {
        CoderProvider {
            inner: Arc::new(Inner {
                client: self.client,
                template: self.template,
                organization: self.organization,
                user: "me".into(),
                agent: self.agent,
                parameters: self.parameters,
                mapping: self.mapping,
                metadata_param: self.metadata_param,
                secrets: self.secrets.unwrap_or_else(|| Arc::new(EnvSecrets)),
                progress: self.progress,
                output: self.output,
                terminal: self.terminal,
                build_timeout: self.build_timeout,
                context: tokio::sync::OnceCell::new(),
                metadata: std::sync::Mutex::new(std::collections::HashMap::new()),
                #[cfg(feature = "kube")]
                kube: self.kube,
            }),
        }
    }
}
