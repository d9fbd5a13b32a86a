//! The contract's lifecycle commands, run as Che and Coder run them: `postCreate` once, after
//! the first start; `postStart` after every start — the workspace is ready only once they all
//! succeeded, and fails with the command's output otherwise; `preStop` before a stop, best
//! effort (a failure is a warning: the stop goes ahead).

use std::time::Duration;

use agentbox_core::contract::DnsLabel;
use agentbox_core::exec::{ExecRequest, Executor};
use agentbox_core::provider::Phase;
use agentbox_core::{Error, Result};

use super::LocalProvider;
use crate::error::{BACKEND, invalid_state};
use crate::executor::LocalExecutor;

/// How long one lifecycle command may run.
const HOOK_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// How much of a failed command's output its failure message keeps.
const TAIL: usize = 2000;

impl LocalProvider {
    /// Starting → run `postCreate` (first start only) and `postStart` → Running, or Failed
    /// with the failing command's output.
    pub(super) async fn start_with_hooks(&self, id: &str) -> Result<()> {
        let (_, record) = self.load(id)?;
        match record.info.phase {
            Phase::Running => return Ok(()),
            Phase::Terminating => return Err(invalid_state(id, Phase::Terminating, "start")),
            _ => {}
        }
        let allowed = |from| from != Phase::Terminating;
        self.transition(id, "start", Phase::Starting, allowed)
            .await?;

        let (dir, record) = self.load(id)?;
        let lifecycle = &record.contract.spec.lifecycle;
        let mut hooks: Vec<(&'static str, &DnsLabel)> = Vec::new();
        if !record.post_create_done {
            hooks.extend(lifecycle.post_create.iter().map(|n| ("postCreate", n)));
        }
        hooks.extend(lifecycle.post_start.iter().map(|n| ("postStart", n)));
        if !hooks.is_empty() {
            self.check_isolation().await?;
            let secrets = self.resolve_secrets(id, &record.contract).await?;
            let epoch = self.runtime(id, Phase::Starting).epoch();
            let executor = LocalExecutor::new(self.exec_context(&dir, &record, epoch, secrets)?);
            for (hook, name) in hooks {
                if let Err(message) = self.run_hook(&executor, &record.contract, hook, name).await {
                    self.fail(id, message.clone()).await?;
                    return Err(Error::WorkspaceFailed {
                        backend: BACKEND,
                        workspace: id.to_owned(),
                        message,
                    });
                }
            }
        }
        self.mark_post_create_done(id).await?;
        self.transition(id, "start", Phase::Running, |from| from == Phase::Starting)
            .await
    }

    /// Run `preStop` commands of a running workspace; failures become warnings.
    pub(super) async fn run_pre_stop(&self, id: &str) -> Result<()> {
        let (dir, record) = self.load(id)?;
        let names = &record.contract.spec.lifecycle.pre_stop;
        if record.info.phase != Phase::Running || names.is_empty() {
            return Ok(());
        }
        let secrets = self.resolve_secrets(id, &record.contract).await?;
        let epoch = self.runtime(id, Phase::Running).epoch();
        let executor = LocalExecutor::new(self.exec_context(&dir, &record, epoch, secrets)?);
        for name in names {
            if let Err(message) = self
                .run_hook(&executor, &record.contract, "preStop", name)
                .await
            {
                self.warn(id, message);
            }
        }
        Ok(())
    }

    /// Run one named contract command; `Err` is the failure message.
    async fn run_hook(
        &self,
        executor: &LocalExecutor,
        contract: &agentbox_core::contract::ContractDocument,
        hook: &str,
        name: &DnsLabel,
    ) -> std::result::Result<(), String> {
        // Validation guarantees lifecycle names refer to existing commands.
        let Some(command) = contract.spec.commands.get(name) else {
            return Err(format!(
                "{hook} names command `{name}`, which the contract does not define"
            ));
        };
        let mut request = ExecRequest::new(["sh", "-c", command.run.as_str()])
            .timeout(HOOK_TIMEOUT)
            .output_limit(64 * 1024);
        if let Some(workdir) = &command.workdir {
            request = request.cwd(workdir.clone());
        }
        tracing::info!(hook, command = %name, "running lifecycle command");
        let output = executor
            .exec(request)
            .await
            .map_err(|e| format!("{hook} command `{name}` could not run: {e}"))?;
        if output.exit.success() {
            return Ok(());
        }
        let mut text = output.stderr_text();
        if text.trim().is_empty() {
            text = output.stdout_text();
        }
        let start = text.len().saturating_sub(TAIL);
        let start = (start..text.len())
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(text.len());
        Err(format!(
            "{hook} command `{name}` (`{}`) ended with {}: {}",
            command.run,
            output.exit,
            text[start..].trim()
        ))
    }
}
