//! The environment contract: a versioned YAML document that says what an agent's workspace is.
//!
//! [`Contract::from_yaml`] parses and validates a document in one step and reports **every**
//! problem it finds, each with its YAML path, line and column; nothing is half-loaded.
//!
//! ```
//! use agentbox_core::contract::{Contract, LoadOptions};
//!
//! let yaml = "
//! apiVersion: agentbox.dev/v1alpha1
//! kind: Environment
//! metadata: { name: demo }
//! spec:
//!   image: alpine:3.20
//!   resources: { memory: { request: 2Gb } }
//! ";
//! let err = Contract::from_yaml(yaml, &LoadOptions::default()).unwrap_err();
//! let problems = err.problems().unwrap();
//! assert_eq!(problems[0].path, "spec.resources.memory.request");
//! assert_eq!(problems[0].line, 7);
//! ```

mod load;
pub mod model;
pub mod permission;
mod problem;
mod schema;
pub mod types;
mod validate;
mod yaml;

pub use model::*;
pub use permission::{Action, Decision};
pub use problem::{Problem, Severity};
pub use types::{Cidr, DnsLabel, EnvName, GoDuration, ImageRef, PermissionPattern, Quantity};

use sha2::{Digest, Sha256};
use std::path::Path;

use crate::Error;

/// Where a workspace's files live when the contract does not say.
pub const DEFAULT_MOUNT_PATH: &str = "/projects";

/// How strictly to load a contract.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Turn warnings (such as an image without a digest) into errors.
    pub strict: bool,
}

impl LoadOptions {
    /// Options with `strict` set.
    pub fn strict() -> Self {
        Self { strict: true }
    }
}

/// A validated environment contract.
///
/// It dereferences to the typed [`ContractDocument`], so `contract.spec.image` reads naturally.
#[derive(Debug, Clone, PartialEq)]
pub struct Contract {
    document: ContractDocument,
    warnings: Vec<Problem>,
    hash: String,
}

impl Contract {
    /// Parse and validate a YAML document; `Err` carries every problem found.
    pub fn from_yaml(text: &str, options: &LoadOptions) -> Result<Self, Error> {
        load::load(text, "<string>", options)
    }

    /// Read, parse and validate the contract file at `path`.
    pub fn load(path: impl AsRef<Path>, options: &LoadOptions) -> Result<Self, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            action: "read the contract file",
            path: path.to_path_buf(),
            source,
        })?;
        load::load(&text, &path.display().to_string(), options)
    }

    /// Validate a document built in code, as if it had been loaded from YAML.
    pub fn from_document(document: ContractDocument, options: &LoadOptions) -> Result<Self, Error> {
        let value = serde_json::to_value(&document).map_err(|e| Error::InvalidContract {
            origin: "<document>".into(),
            problems: vec![Problem::error("", 0, 0, e.to_string())],
        })?;
        load::validate_value(value, None, "<document>", options)
    }

    /// The typed document.
    pub fn document(&self) -> &ContractDocument {
        &self.document
    }

    /// Warnings found while loading (empty under [`LoadOptions::strict`], which fails instead).
    pub fn warnings(&self) -> &[Problem] {
        &self.warnings
    }

    /// The environment's name.
    pub fn name(&self) -> &str {
        self.document.metadata.name.as_str()
    }

    /// The agent profile (`default` when the contract names none).
    pub fn profile(&self) -> &str {
        self.document
            .metadata
            .profile
            .as_ref()
            .map_or("default", |p| p.as_str())
    }

    /// Where the workspace's storage is mounted (`/projects` unless the contract says otherwise).
    pub fn mount_path(&self) -> &str {
        self.document
            .spec
            .storage
            .as_ref()
            .and_then(|s| s.mount_path.as_deref())
            .unwrap_or(DEFAULT_MOUNT_PATH)
    }

    /// The absolute directory the agent works in.
    pub fn workdir(&self) -> String {
        match &self.document.spec.workdir {
            Some(w) => w.clone(),
            None => format!(
                "{}/{}",
                self.mount_path().trim_end_matches('/'),
                self.name()
            ),
        }
    }

    /// A stable identifier of the contract's content: the SHA-256 of its canonical JSON form,
    /// in hex. Two contracts that mean the same thing have the same hash, whatever their layout.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The contract's JSON Schema (draft 2020-12), for editors and for validation elsewhere.
    pub fn json_schema() -> serde_json::Value {
        schema::contract_schema()
    }

    /// The contract as YAML, in canonical field order.
    pub fn to_yaml(&self) -> String {
        load::to_yaml(&self.document)
    }

    fn new(document: ContractDocument, warnings: Vec<Problem>) -> Self {
        let canonical = serde_json::to_vec(&document).unwrap_or_default();
        let hash = hex::encode(Sha256::digest(&canonical));
        Self {
            document,
            warnings,
            hash,
        }
    }
}

impl std::ops::Deref for Contract {
    type Target = ContractDocument;
    fn deref(&self) -> &ContractDocument {
        &self.document
    }
}
