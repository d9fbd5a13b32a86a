//! The node's storage: the directories behind pod volumes, each one an `agentbox-local`
//! workspace so commands see it at the volume's mount path inside a bubblewrap sandbox.
//!
//! A `persistentVolumeClaim` volume is kept by claim and sub-path, so a pod recreated on the
//! same claim (a DevWorkspace stopped and started again) finds its files; an `emptyDir` volume
//! lives as long as its pod. A claim's data goes away only when someone removes it
//! ([`NodeStorage::remove_claim`]), as DWO's cleanup job does when a DevWorkspace is deleted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use agentbox_core::Contract;
use agentbox_core::contract::LoadOptions;
use agentbox_core::provider::{CreateRequest, Phase, WorkspaceId, WorkspaceProvider};
use agentbox_local::{LocalExecutor, LocalProvider};
use sha2::{Digest, Sha256};

/// How long creating and starting a volume's workspace may take.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Where a volume's data comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VolumeSource {
    /// A directory of a persistent volume claim (`sub_path` empty for the claim's root).
    Claim {
        /// The claim's name.
        claim: String,
        /// The volume mount's `subPath`.
        sub_path: String,
    },
    /// A pod's `emptyDir` volume, or the scratch space of a pod that mounts nothing.
    Pod {
        /// The pod's UID.
        uid: String,
        /// The volume's name in the pod.
        volume: String,
    },
}

/// One volume's data on the node.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VolumeKey {
    /// The namespace of the pod (and claim).
    pub namespace: String,
    /// What it is.
    pub source: VolumeSource,
}

impl VolumeKey {
    /// The local workspace holding it: a DNS label derived from the key.
    fn workspace(&self) -> String {
        let mut hash = Sha256::new();
        hash.update(self.namespace.as_bytes());
        match &self.source {
            VolumeSource::Claim { claim, sub_path } => {
                hash.update(b"\0claim\0");
                hash.update(claim.as_bytes());
                hash.update(b"\0");
                hash.update(sub_path.as_bytes());
            }
            VolumeSource::Pod { uid, volume } => {
                hash.update(b"\0pod\0");
                hash.update(uid.as_bytes());
                hash.update(b"\0");
                hash.update(volume.as_bytes());
            }
        }
        format!("vol-{}", &hex::encode(hash.finalize())[..20])
    }
}

/// A volume present on the node, as [`NodeStorage::volumes`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeInfo {
    /// Which volume.
    pub key: VolumeKey,
    /// Where its files are on the host.
    pub host_path: std::path::PathBuf,
    /// How many running pods use it.
    pub pods: usize,
}

/// What the storage knows about one volume.
#[derive(Debug)]
struct Volume {
    workspace: String,
    users: usize,
}

/// The node's volumes. Cheap to clone; clones share the volumes.
#[derive(Debug, Clone)]
pub struct NodeStorage {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    provider: LocalProvider,
    volumes: Mutex<HashMap<VolumeKey, Volume>>,
    /// Serialises creating, starting, stopping and removing workspaces.
    lock: tokio::sync::Mutex<()>,
}

/// A pod's hold on a volume: its executor, released with [`NodeStorage::release`].
#[derive(Debug, Clone)]
pub(crate) struct Mounted {
    pub key: VolumeKey,
    pub executor: LocalExecutor,
    pub mount_path: String,
}

impl NodeStorage {
    pub(crate) fn new(provider: LocalProvider) -> Self {
        Self {
            inner: Arc::new(Inner {
                provider,
                volumes: Mutex::new(HashMap::new()),
                lock: tokio::sync::Mutex::new(()),
            }),
        }
    }

    fn volumes_map(&self) -> std::sync::MutexGuard<'_, HashMap<VolumeKey, Volume>> {
        self.inner
            .volumes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Every volume on the node.
    pub fn volumes(&self) -> Vec<VolumeInfo> {
        let root = self.inner.provider.root().to_path_buf();
        let mut list: Vec<VolumeInfo> = self
            .volumes_map()
            .iter()
            .map(|(key, volume)| VolumeInfo {
                key: key.clone(),
                host_path: root.join(&volume.workspace).join("files"),
                pods: volume.users,
            })
            .collect();
        list.sort_by(|a, b| a.host_path.cmp(&b.host_path));
        list
    }

    /// Mount `key` for a pod at `mount_path`: create its workspace the first time (with
    /// `image` and `memory_limit` recorded in the contract), start it when no pod runs on it.
    pub(crate) async fn mount(
        &self,
        key: VolumeKey,
        mount_path: &str,
        image: &str,
        memory_limit: Option<&str>,
    ) -> Result<Mounted, String> {
        let _guard = self.inner.lock.lock().await;
        let provider = &self.inner.provider;
        let workspace = key.workspace();
        let id = WorkspaceId(workspace.clone());
        let known = self.volumes_map().contains_key(&key);
        if !known {
            let contract = volume_contract(&workspace, mount_path, image, memory_limit)?;
            match provider
                .create(&contract, CreateRequest::named(workspace.clone()))
                .await
            {
                // Left by an earlier kubelet on the same root: the data is the volume's.
                Ok(_) | Err(agentbox_core::Error::AlreadyExists { .. }) => {}
                Err(e) => return Err(format!("cannot create the volume's storage: {e}")),
            }
            self.volumes_map().insert(
                key.clone(),
                Volume {
                    workspace: workspace.clone(),
                    users: 0,
                },
            );
        }
        let status = provider
            .status(&id)
            .await
            .map_err(|e| format!("cannot read the volume's storage: {e}"))?;
        let stored_mount = provider.root().join(&workspace);
        if status.phase != Phase::Running {
            provider
                .start(&id)
                .await
                .map_err(|e| format!("cannot start the volume's storage: {e}"))?;
            provider
                .wait_ready(&id, START_TIMEOUT)
                .await
                .map_err(|e| format!("the volume's storage did not start: {e}"))?;
        }
        let executor = provider
            .local_executor(&id)
            .await
            .map_err(|e| format!("cannot use the volume's storage: {e}"))?;
        if let Some(volume) = self.volumes_map().get_mut(&key) {
            volume.users += 1;
        }
        tracing::debug!(workspace = %workspace, path = %stored_mount.display(), "volume mounted");
        Ok(Mounted {
            key,
            executor,
            mount_path: mount_path.to_owned(),
        })
    }

    /// A pod stopped using `key`: its workspace stops (killing what runs there) when no other
    /// pod uses it; a pod's own volume is removed.
    pub(crate) async fn release(&self, key: &VolumeKey) {
        let _guard = self.inner.lock.lock().await;
        let (workspace, idle) = {
            let mut volumes = self.volumes_map();
            let Some(volume) = volumes.get_mut(key) else {
                return;
            };
            volume.users = volume.users.saturating_sub(1);
            (volume.workspace.clone(), volume.users == 0)
        };
        if !idle {
            return;
        }
        let id = WorkspaceId(workspace);
        if matches!(key.source, VolumeSource::Pod { .. }) {
            self.remove_workspace(key, &id).await;
        } else if let Err(e) = self.inner.provider.stop(&id).await {
            tracing::warn!(error = %e, "could not stop a volume's storage");
        }
    }

    /// Remove the data of claim `claim` in `namespace`: all of it when `sub_path` is `None`,
    /// else the directory `sub_path` and everything below it (what DWO's cleanup job removes
    /// from the per-user claim). Volumes still mounted by a pod are kept; their keys are
    /// returned so the caller can retry once the pods are gone.
    pub async fn remove_claim(
        &self,
        namespace: &str,
        claim: &str,
        sub_path: Option<&str>,
    ) -> Vec<VolumeKey> {
        let _guard = self.inner.lock.lock().await;
        let matching: Vec<(VolumeKey, String, usize)> = self
            .volumes_map()
            .iter()
            .filter(|(key, _)| key.namespace == namespace)
            .filter(|(key, _)| match &key.source {
                VolumeSource::Claim {
                    claim: c,
                    sub_path: s,
                } => c == claim && sub_path.is_none_or(|prefix| under(s, prefix)),
                VolumeSource::Pod { .. } => false,
            })
            .map(|(key, v)| (key.clone(), v.workspace.clone(), v.users))
            .collect();
        let mut busy = Vec::new();
        for (key, workspace, users) in matching {
            if users > 0 {
                busy.push(key);
                continue;
            }
            self.remove_workspace(&key, &WorkspaceId(workspace)).await;
        }
        busy
    }

    async fn remove_workspace(&self, key: &VolumeKey, id: &WorkspaceId) {
        match self.inner.provider.delete(id).await {
            Ok(()) => {
                self.volumes_map().remove(key);
                tracing::debug!(workspace = %id, "volume removed");
            }
            Err(e) => tracing::warn!(workspace = %id, error = %e, "could not remove a volume"),
        }
    }
}

/// Whether the sub-path `path` is `prefix` or lies below it.
fn under(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_matches('/');
    let path = path.trim_matches('/');
    path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The contract of a volume's workspace: storage at `mount_path`, the first pod's image and
/// memory limit. Built as JSON (valid YAML) so no value is spliced into text.
fn volume_contract(
    workspace: &str,
    mount_path: &str,
    image: &str,
    memory_limit: Option<&str>,
) -> Result<Contract, String> {
    let mut spec = serde_json::json!({
        "image": image,
        "workdir": mount_path,
        "storage": { "type": "per-workspace", "mountPath": mount_path },
    });
    if let Some(limit) = memory_limit {
        spec["resources"] = serde_json::json!({ "memory": { "limit": limit } });
    }
    let document = serde_json::json!({
        "apiVersion": "agentbox.dev/v1alpha1",
        "kind": "Environment",
        "metadata": { "name": workspace },
        "spec": spec,
    });
    Contract::from_yaml(&document.to_string(), &LoadOptions::default())
        .map_err(|e| format!("the container cannot be run on this node: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_paths_match_by_whole_components() {
        assert!(under("workspace1/projects", "workspace1"));
        assert!(under("workspace1", "workspace1/"));
        assert!(!under("workspace12/projects", "workspace1"));
        assert!(!under("other", "workspace1"));
    }

    #[test]
    fn volume_workspaces_are_dns_labels_and_distinct() {
        let claim = |sub: &str| VolumeKey {
            namespace: "ns".into(),
            source: VolumeSource::Claim {
                claim: "claim-devworkspace".into(),
                sub_path: sub.into(),
            },
        };
        let a = claim("a/projects").workspace();
        let b = claim("b/projects").workspace();
        assert_ne!(a, b);
        assert!(
            a.parse::<agentbox_core::contract::DnsLabel>().is_ok(),
            "{a}"
        );
    }

    #[test]
    fn contracts_keep_the_mount_path_and_refuse_bad_images() {
        let contract = volume_contract("vol-1", "/projects", "alpine:3.20", Some("512Mi")).unwrap();
        assert_eq!(contract.mount_path(), "/projects");
        assert!(volume_contract("vol-1", "/projects", "Not An Image!", None).is_err());
    }
}
