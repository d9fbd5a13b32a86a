//! Who makes workspaces, and where (resolved once), and the contract's secrets.

use agentbox_core::contract::SecretEnv;
use agentbox_core::{Error, Result};
use secrecy::SecretString;

use super::CoderProvider;
use crate::error::BACKEND;
use crate::models::{Organization, User};

/// Who makes workspaces, and where: resolved once.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    pub user: User,
    pub organization: Organization,
}

impl CoderProvider {
    /// The user and organization, asked for once: the server's version is checked, then the
    /// token's user (`me`) and the organization to use.
    pub(crate) async fn context(&self) -> Result<&Context> {
        self.inner
            .context
            .get_or_try_init(|| async {
                let client = self.client();
                client.build_info().await.map_err(|e| e.into_core("-"))?;
                let user = client
                    .user(&self.inner.user)
                    .await
                    .map_err(|e| e.into_core("-"))?;
                let organizations = client
                    .organizations(&self.inner.user)
                    .await
                    .map_err(|e| e.into_core("-"))?;
                let organization = pick_organization(
                    organizations,
                    self.inner.organization.as_deref(),
                    &user.username,
                )?;
                tracing::debug!(user = %user.username, organization = %organization.name, "Coder context");
                Ok(Context { user, organization })
            })
            .await
    }

    /// The values of `secrets`, or [`Error::SecretMissing`] for the first one not found.
    pub(crate) async fn resolve_secrets(
        &self,
        workspace: &str,
        secrets: &[SecretEnv],
    ) -> Result<Vec<(String, SecretString)>> {
        let mut resolved = Vec::with_capacity(secrets.len());
        for secret in secrets {
            match self.inner.secrets.resolve(&secret.from).await? {
                Some(value) => resolved.push((secret.env.to_string(), value)),
                None => {
                    return Err(Error::SecretMissing {
                        workspace: workspace.to_owned(),
                        env: secret.env.to_string(),
                        secret: secret.from.secret.to_string(),
                        key: secret.from.key.clone(),
                        hint: self.inner.secrets.describe(&secret.from),
                    });
                }
            }
        }
        Ok(resolved)
    }
}

/// The organization named `wanted` (a name or an id), else the default one, else the only one.
fn pick_organization(
    organizations: Vec<Organization>,
    wanted: Option<&str>,
    user: &str,
) -> Result<Organization> {
    let names = || {
        organizations
            .iter()
            .map(|o| o.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let found = match wanted {
        Some(w) => organizations
            .iter()
            .find(|o| o.name == w || o.id.to_string() == w)
            .cloned(),
        None => organizations
            .iter()
            .find(|o| o.is_default)
            .or(if organizations.len() == 1 {
                organizations.first()
            } else {
                None
            })
            .cloned(),
    };
    found.ok_or_else(|| Error::PermissionDenied {
        backend: BACKEND,
        message: match wanted {
            Some(w) => format!(
                "user `{user}` is not a member of organization `{w}` (their organizations: {}); ask an administrator to add them or choose another",
                names()
            ),
            None => format!(
                "user `{user}` has no default organization among theirs ({}); name one with CoderProviderBuilder::organization",
                names()
            ),
        },
    })
}
