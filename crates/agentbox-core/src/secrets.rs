//! Secret values, resolved by reference (`secret` + `key`) at the moment a workspace needs them.
//! Values are [`SecretString`]s end to end: they never reach `Debug` output, logs or files.

use async_trait::async_trait;
use secrecy::SecretString;
use std::collections::BTreeMap;
use std::fmt;

use crate::Result;
use crate::contract::SecretRef;

/// Resolves secret references to values.
#[async_trait]
pub trait SecretSource: Send + Sync + fmt::Debug {
    /// The value of `reference`, or `None` when this source does not have it.
    async fn resolve(&self, reference: &SecretRef) -> Result<Option<SecretString>>;

    /// Where this source looks, for error messages ("set AGENTBOX_SECRET_…").
    fn describe(&self, reference: &SecretRef) -> String;
}

/// Secrets held in memory, given by the caller.
#[derive(Default, Clone)]
pub struct StaticSecrets(BTreeMap<(String, String), SecretString>);

impl StaticSecrets {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add (or replace) `secret`/`key`.
    pub fn with(
        mut self,
        secret: impl Into<String>,
        key: impl Into<String>,
        value: SecretString,
    ) -> Self {
        self.0.insert((secret.into(), key.into()), value);
        self
    }
}

impl fmt::Debug for StaticSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.0.keys().map(|(s, k)| format!("{s}/{k}")))
            .finish()
    }
}

#[async_trait]
impl SecretSource for StaticSecrets {
    async fn resolve(&self, reference: &SecretRef) -> Result<Option<SecretString>> {
        Ok(self
            .0
            .get(&(reference.secret.as_str().to_owned(), reference.key.clone()))
            .cloned())
    }

    fn describe(&self, reference: &SecretRef) -> String {
        format!(
            "add `{}`/`{}` to the provider's secrets",
            reference.secret, reference.key
        )
    }
}

/// Secrets read from the host's environment: `secret: copilot-token, key: token` is read from
/// `AGENTBOX_SECRET_COPILOT_TOKEN__TOKEN` (upper case, `-` and `.` as `_`, `__` between).
#[derive(Debug, Default, Clone, Copy)]
pub struct EnvSecrets;

impl EnvSecrets {
    /// The variable a reference is read from.
    pub fn variable(reference: &SecretRef) -> String {
        let clean = |s: &str| s.to_ascii_uppercase().replace(['-', '.'], "_");
        format!(
            "AGENTBOX_SECRET_{}__{}",
            clean(reference.secret.as_str()),
            clean(&reference.key)
        )
    }
}

#[async_trait]
impl SecretSource for EnvSecrets {
    async fn resolve(&self, reference: &SecretRef) -> Result<Option<SecretString>> {
        Ok(std::env::var(Self::variable(reference))
            .ok()
            .map(SecretString::from))
    }

    fn describe(&self, reference: &SecretRef) -> String {
        format!("set the environment variable {}", Self::variable(reference))
    }
}
