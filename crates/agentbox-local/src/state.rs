//! The on-disk form of a workspace: `<root>/<name>/` holding `workspace.json` (the record),
//! `files/` (the content of the contract's storage mount), `home/` (HOME when unisolated) and
//! `writable/` (one directory per `isolation.writablePaths` entry).

use std::io::Write;
use std::path::{Path, PathBuf};

use agentbox_core::contract::ContractDocument;
use agentbox_core::provider::WorkspaceInfo;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::LocalError;

/// The record's file name.
const RECORD_FILE: &str = "workspace.json";
/// The record format this crate writes.
const RECORD_VERSION: u32 = 1;

/// Everything the backend keeps about one workspace, written atomically as `workspace.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WorkspaceRecord {
    /// Format version, for later migrations.
    pub version: u32,
    /// What `status` and `list` report.
    pub info: WorkspaceInfo,
    /// Where `files/` appears inside the sandbox (`storage.mountPath`).
    pub mount_path: String,
    /// The absolute directory commands run in by default.
    pub workdir: String,
    /// The contract the workspace was made from.
    pub contract: ContractDocument,
    /// Whether the contract's `postCreate` commands have run (they run once).
    #[serde(default)]
    pub post_create_done: bool,
}

impl WorkspaceRecord {
    /// A record in the current format.
    pub fn new(
        info: WorkspaceInfo,
        mount_path: String,
        workdir: String,
        contract: ContractDocument,
    ) -> Self {
        Self {
            version: RECORD_VERSION,
            info,
            mount_path,
            workdir,
            contract,
            post_create_done: false,
        }
    }
}

/// The directory of one workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WorkspaceDir {
    path: PathBuf,
}

impl WorkspaceDir {
    /// The workspace called `name` under `root`. `name` must already be a DNS-1123 label.
    pub fn new(root: &Path, name: &str) -> Self {
        Self {
            path: root.join(name),
        }
    }

    /// The workspace's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The content of the storage mount.
    pub fn files(&self) -> PathBuf {
        self.path.join("files")
    }

    /// HOME for unisolated commands.
    pub fn home(&self) -> PathBuf {
        self.path.join("home")
    }

    /// The host directory backing the writable path `target` (an absolute sandbox path).
    /// The name is readable and, thanks to the hash, distinct for distinct targets.
    pub fn writable(&self, target: &str) -> PathBuf {
        let readable: String = target
            .trim_matches('/')
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        let hash = hex::encode(&Sha256::digest(target.as_bytes())[..4]);
        self.path
            .join("writable")
            .join(format!("{readable}-{hash}"))
    }

    fn record_path(&self) -> PathBuf {
        self.path.join(RECORD_FILE)
    }

    /// Whether a record exists.
    pub fn has_record(&self) -> bool {
        self.record_path().is_file()
    }

    /// Read the record.
    pub fn read_record(&self) -> Result<WorkspaceRecord, LocalError> {
        let path = self.record_path();
        let bytes = std::fs::read(&path)
            .map_err(|e| LocalError::io("read the workspace record", &path, e))?;
        serde_json::from_slice(&bytes).map_err(|source| LocalError::Record { path, source })
    }

    /// Write the record atomically: a temporary file in the same directory, synced, then
    /// renamed over the old record, so a reader sees the old or the new record, never half.
    pub fn write_record(&self, record: &WorkspaceRecord) -> Result<(), LocalError> {
        let path = self.record_path();
        let json = serde_json::to_vec_pretty(record).map_err(|source| LocalError::Record {
            path: path.clone(),
            source,
        })?;
        let tmp = self.path.join(format!(
            ".{RECORD_FILE}.{}.tmp",
            uuid::Uuid::new_v4().simple()
        ));
        let written = std::fs::File::create_new(&tmp)
            .and_then(|mut f| {
                f.write_all(&json)?;
                f.sync_all()
            })
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = written {
            // Best effort: the temporary file is garbage whether or not this succeeds.
            let _ = std::fs::remove_file(&tmp);
            return Err(LocalError::io("write the workspace record", &path, e));
        }
        Ok(())
    }

    /// Remove the whole directory. Directories a command made read-only are made writable
    /// first, so that removal cannot fail on them.
    pub fn remove(&self) -> Result<(), LocalError> {
        match std::fs::remove_dir_all(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(first) if first.kind() == std::io::ErrorKind::PermissionDenied => {
                make_dirs_writable(&self.path);
                std::fs::remove_dir_all(&self.path)
                    .map_err(|e| LocalError::io("remove the workspace directory", &self.path, e))
            }
            Err(e) => Err(LocalError::io(
                "remove the workspace directory",
                &self.path,
                e,
            )),
        }
    }
}

/// Give the owner write and search permission on every directory below `path` (not following
/// symlinks), ignoring failures: the removal that follows reports what still cannot be removed.
fn make_dirs_writable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    if !meta.is_dir() {
        return;
    }
    let mode = meta.permissions().mode() | 0o700;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
    if let Ok(entries) = std::fs::read_dir(path) {
        for entry in entries.flatten() {
            make_dirs_writable(&entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writable_dirs_are_distinct_for_paths_that_read_alike() {
        let dir = WorkspaceDir::new(Path::new("/r"), "ws");
        assert_ne!(dir.writable("/a/b"), dir.writable("/a_b"));
        assert!(dir.writable("/var/cache").starts_with("/r/ws/writable"));
        assert!(
            dir.writable("/var/cache")
                .to_string_lossy()
                .contains("var_cache-")
        );
    }
}
