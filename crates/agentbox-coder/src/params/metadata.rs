//! [`WorkspaceMetadata`]: what agentbox records about a workspace that Coder has no place for
//! (labels, the contract hash, where files and commands go), kept as JSON in an immutable
//! string parameter of the template (default `agentbox_metadata`).

use std::collections::BTreeMap;

use agentbox_core::contract::SecretEnv;
use serde::{Deserialize, Serialize};

/// The format version written into every record.
const FORMAT: u32 = 1;

/// agentbox's record of one workspace, set on create and read back from the latest build's
/// parameters (`GET /api/v2/workspacebuilds/{id}/parameters`). Holds no secrets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkspaceMetadata {
    /// The record's format (`1`).
    pub v: u32,
    /// Labels, agentbox's own included.
    pub labels: BTreeMap<String, String>,
    /// The full hash of the contract the workspace was made from.
    pub contract_hash: String,
    /// The storage mount every file path must stay under.
    pub root: String,
    /// The working directory commands start in.
    pub workdir: String,
    /// The contract's plain environment variables, set for every command.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// The contract's secrets, by reference only: values are resolved by the client for each
    /// executor and never stored in Coder.
    #[serde(default)]
    pub secrets: Vec<SecretEnv>,
}

impl WorkspaceMetadata {
    /// A record in the current format.
    pub fn new(
        labels: BTreeMap<String, String>,
        contract_hash: String,
        root: String,
        workdir: String,
        env: BTreeMap<String, String>,
        secrets: Vec<SecretEnv>,
    ) -> Self {
        Self {
            v: FORMAT,
            labels,
            contract_hash,
            root,
            workdir,
            env,
            secrets,
        }
    }

    /// The parameter value.
    pub fn encode(&self) -> String {
        // Maps of strings always encode.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Read a parameter value; `None` for anything that is not a record of a known format
    /// (e.g. the template's default `{}`: the workspace was not made by agentbox).
    pub fn decode(text: &str) -> Option<Self> {
        serde_json::from_str::<Self>(text)
            .ok()
            .filter(|m| m.v == FORMAT && m.root.starts_with('/') && m.workdir.starts_with('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_foreign_values() {
        let m = WorkspaceMetadata::new(
            [("a".to_owned(), "b".to_owned())].into(),
            "0".repeat(64),
            "/projects".into(),
            "/projects/x".into(),
            BTreeMap::new(),
            Vec::new(),
        );
        assert_eq!(WorkspaceMetadata::decode(&m.encode()), Some(m));
        assert_eq!(WorkspaceMetadata::decode("{}"), None);
        assert_eq!(WorkspaceMetadata::decode(""), None);
        let relative = r#"{"v":1,"labels":{},"contract_hash":"x","root":"p","workdir":"/p"}"#;
        assert_eq!(WorkspaceMetadata::decode(relative), None);
    }
}
