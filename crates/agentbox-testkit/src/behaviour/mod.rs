//! The behaviour suite: what every backend must do, tested through the traits only.
//!
//! Every behaviour is an `async fn(&Suite) -> Outcome` that panics (with a message naming the
//! backend) when the backend misbehaves, and returns [`Outcome::Skipped`] when the backend's
//! [`Capabilities`] say it cannot do the thing at all. Each behaviour makes its own workspace and
//! deletes it again, so behaviours may run concurrently.

pub mod evidence;
pub mod exec;
pub mod files;
pub mod lifecycle;
pub mod session;

use agentbox_core::WorkspaceProvider;
use agentbox_core::contract::{Contract, LoadOptions};
use agentbox_core::exec::Executor;
use agentbox_core::provider::{Capabilities, CreateRequest, WorkspaceId, WorkspaceInfo};
use std::sync::Arc;
use std::time::Duration;

/// What the suite runs against: a provider and the contract its workspaces are made from.
#[derive(Debug, Clone)]
pub struct Suite {
    /// The backend under test.
    pub provider: Arc<dyn WorkspaceProvider>,
    /// The contract every workspace is created from.
    pub contract: Contract,
    /// How long a workspace may take to become ready.
    pub ready_timeout: Duration,
}

/// The result of one behaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The backend behaved.
    Passed,
    /// The backend cannot do this (per its capabilities); the reason says which.
    Skipped(String),
}

/// The contract the suite uses unless told otherwise: a small workspace under `/projects`,
/// no network, default-deny permissions.
pub const SUITE_CONTRACT: &str = r#"apiVersion: agentbox.dev/v1alpha1
kind: Environment
metadata:
  name: behaviour-suite
spec:
  image: docker.io/library/debian:12
  workdir: /projects/suite
  storage: { type: per-workspace, size: 1Gi, mountPath: /projects }
  env:
    SUITE_GREETING: hello from the contract
  commands:
    test: { run: "test -f ok.txt", group: test }
  network:
    egress: { default: deny }
"#;

impl Suite {
    /// A suite for `provider` with [`SUITE_CONTRACT`] and a 60 s readiness timeout.
    pub fn new(provider: Arc<dyn WorkspaceProvider>) -> Self {
        let contract = Contract::from_yaml(SUITE_CONTRACT, &LoadOptions::default())
            .unwrap_or_else(|e| panic!("the suite's own contract must load: {e}"));
        Self {
            provider,
            contract,
            ready_timeout: Duration::from_secs(60),
        }
    }

    /// Use another contract (for a backend that needs a particular image).
    pub fn with_contract(mut self, contract: Contract) -> Self {
        self.contract = contract;
        self
    }

    /// The backend's capabilities.
    pub fn capabilities(&self) -> Capabilities {
        self.provider.capabilities()
    }

    /// Create a workspace named after the behaviour (plus a random suffix), start it and wait
    /// until it is ready. It is deleted when the returned guard's [`Running::delete`] is awaited
    /// (and, best effort, when the guard is dropped).
    pub async fn running(&self, behaviour: &str) -> Running {
        let info = self.created(behaviour).await;
        let provider = &self.provider;
        provider
            .start(&info.id)
            .await
            .unwrap_or_else(|e| panic!("{}: start failed: {e}", provider.backend()));
        let info = provider
            .wait_ready(&info.id, self.ready_timeout)
            .await
            .unwrap_or_else(|e| panic!("{}: wait_ready failed: {e}", provider.backend()));
        let executor = provider
            .executor(&info.id)
            .await
            .unwrap_or_else(|e| panic!("{}: executor failed: {e}", provider.backend()));
        Running {
            provider: self.provider.clone(),
            info,
            executor,
            deleted: false,
        }
    }

    /// Create (but do not start) a workspace for a behaviour.
    pub async fn created(&self, behaviour: &str) -> WorkspaceInfo {
        let name = unique_name(behaviour);
        self.provider
            .create(
                &self.contract,
                CreateRequest::named(name).label("agentbox.dev/suite", behaviour),
            )
            .await
            .unwrap_or_else(|e| panic!("{}: create failed: {e}", self.provider.backend()))
    }
}

/// A running workspace made by the suite.
#[derive(Debug)]
pub struct Running {
    /// The provider it lives on.
    pub provider: Arc<dyn WorkspaceProvider>,
    /// Its state when it became ready.
    pub info: WorkspaceInfo,
    /// Its executor.
    pub executor: Arc<dyn Executor>,
    deleted: bool,
}

impl Running {
    /// The workspace's id.
    pub fn id(&self) -> &WorkspaceId {
        &self.info.id
    }

    /// Delete the workspace, failing the behaviour if that fails.
    pub async fn delete(mut self) {
        self.deleted = true;
        self.provider
            .delete(&self.info.id)
            .await
            .unwrap_or_else(|e| panic!("{}: delete failed: {e}", self.provider.backend()));
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.deleted {
            return;
        }
        // A behaviour panicked before deleting: clean up in the background, best effort.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let provider = self.provider.clone();
            let id = self.info.id.clone();
            handle.spawn(async move {
                let _ = provider.delete(&id).await;
            });
        }
    }
}

/// A DNS-1123 name for a behaviour's workspace: the behaviour's name and a random suffix.
pub fn unique_name(behaviour: &str) -> String {
    let base: String = behaviour
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    let suffix = &uuid_like()[..8];
    format!("{}-{suffix}", base.trim_matches('-'))
}

fn uuid_like() -> String {
    use sha2::{Digest, Sha256};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let seed = format!(
        "{:?}-{}-{n}",
        std::time::SystemTime::now(),
        std::process::id()
    );
    hex::encode(Sha256::digest(seed.as_bytes()))
}

/// Generate one `#[tokio::test]` per behaviour for a backend.
///
/// The argument is an expression (usually an `async` block) that yields a [`Suite`]; it is
/// evaluated once per test.
#[macro_export]
macro_rules! behaviour_suite {
    ($make:expr) => {
        $crate::behaviour_suite!(@tests $make;
            lifecycle::order_of_operations,
            lifecycle::delete_is_idempotent,
            lifecycle::list_by_label,
            lifecycle::executor_refused_when_stopped,
            exec::exit_codes,
            exec::stdin_is_delivered,
            exec::stderr_is_separate,
            exec::env_and_cwd,
            exec::argv_is_not_interpreted_by_a_shell,
            exec::output_streams_before_exit,
            exec::output_is_bounded,
            exec::timeout_kills_children,
            files::ten_mib_round_trip,
            files::files_are_shared_with_commands,
            files::path_escape_refused,
            session::state_is_kept,
            session::exit_code_per_command,
            session::hostile_output,
            evidence::redaction_in_evidence,
            evidence::junit_written_on_failure,
        );
    };
    (@tests $make:expr; $($module:ident :: $name:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let suite: $crate::behaviour::Suite = $make.await;
                match $crate::behaviour::$module::$name(&suite).await {
                    $crate::behaviour::Outcome::Passed => {}
                    $crate::behaviour::Outcome::Skipped(why) => {
                        eprintln!("skipped {}: {why}", stringify!($name));
                    }
                }
            }
        )+
    };
}
