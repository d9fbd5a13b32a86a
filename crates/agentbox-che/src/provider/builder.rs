//! [`CheProviderBuilder`]: a client, a namespace, and how patient to be.

use std::time::Duration;

use agentbox_core::Result;
use agentbox_core::progress::Progress;

use super::CheProvider;
use crate::api::RetryPolicy;
use crate::error::CheError;

/// Builds a [`CheProvider`]. Every setting has a default; with none set, the client comes from
/// `kube::Client::try_default()` (the kubeconfig, or the pod's service account in a cluster)
/// and the namespace is the client's default.
#[derive(Default)]
pub struct CheProviderBuilder {
    client: Option<kube::Client>,
    namespace: Option<String>,
    progress: Progress,
    policy: RetryPolicy,
    operation_timeout: Option<Duration>,
}

impl std::fmt::Debug for CheProviderBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheProviderBuilder")
            .field("namespace", &self.namespace)
            .field("policy", &self.policy)
            .field("operation_timeout", &self.operation_timeout)
            .finish_non_exhaustive()
    }
}

impl CheProviderBuilder {
    /// Talk to the cluster through this client (one client per provider, reused for everything).
    pub fn client(mut self, client: kube::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Manage DevWorkspaces in this namespace (Che's is `<user>-che` by default).
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Report workspace phases, commands, transfers and warnings here.
    pub fn progress(mut self, progress: Progress) -> Self {
        self.progress = progress;
        self
    }

    /// Bound and retry API calls this way.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// How long `stop` and `delete` wait for the operator (default 5 minutes, the operator's
    /// own `progressTimeout`).
    pub fn operation_timeout(mut self, timeout: Duration) -> Self {
        self.operation_timeout = Some(timeout);
        self
    }

    /// The provider. Without a client, one is inferred (kubeconfig or in-cluster).
    pub async fn build(self) -> Result<CheProvider> {
        let client = match self.client {
            Some(client) => client,
            None => kube::Client::try_default().await.map_err(|source| {
                CheError::Config {
                    source: Box::new(source),
                }
                .into_core("*")
            })?,
        };
        let namespace = self
            .namespace
            .unwrap_or_else(|| client.default_namespace().to_owned());
        Ok(CheProvider::assemble(
            client,
            namespace,
            self.progress,
            self.policy,
            self.operation_timeout.unwrap_or(Duration::from_secs(300)),
        ))
    }
}
