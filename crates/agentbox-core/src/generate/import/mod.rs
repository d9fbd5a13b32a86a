//! Import: an existing devcontainer.json or devfile.yaml as a contract document, for adoption.
//! What cannot be mapped is listed in [`Imported::unmapped`], never dropped silently.
//!
//! ```
//! use agentbox_core::generate::import;
//!
//! let imported = import::devcontainer::import(
//!     r#"{ "name": "web", "image": "node:22", "forwardPorts": [3000], "onCreateCommand": "npm ci" }"#,
//!     "devcontainer.json",
//! )?;
//! assert_eq!(imported.document.spec.ports[0].port, 3000);
//! assert_eq!(imported.unmapped[0].path, "onCreateCommand");
//! # Ok::<(), agentbox_core::Error>(())
//! ```

pub mod devcontainer;
pub mod devfile;

use std::path::Path;

use indexmap::IndexMap;

use crate::contract::{
    ApiVersion, ContractDocument, DnsLabel, EnvironmentSpec, ImageRef, Kind, Metadata, Quantity,
    Storage, StorageKind,
};
use crate::{Error, Result};

/// A contract document recovered from another format, with what could not be mapped.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The contract document; validate it with [`crate::Contract::from_document`].
    pub document: ContractDocument,
    /// Every part of the input that has no place in the contract, or was changed to fit.
    pub unmapped: Vec<Unmapped>,
}

/// One part of the input that could not be mapped as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmapped {
    /// Where it is in the input, e.g. `portsAttributes.40000-55000`.
    pub path: String,
    /// What happened to it, and why.
    pub why: String,
}

/// Import a file, choosing the format by its name: `*.json` is a devcontainer.json,
/// `*.yaml`/`*.yml` a devfile.
pub fn import_file(path: &Path) -> Result<Imported> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        action: "read the file to import",
        path: path.to_path_buf(),
        source,
    })?;
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") | Some("jsonc") => devcontainer::import(&text, &origin),
        Some("yaml") | Some("yml") => devfile::import(&text, &origin),
        _ => Err(Error::Import {
            origin,
            message: "the format is chosen by the file's extension: name a devcontainer `.json` or a devfile `.yaml`".into(),
        }),
    }
}

/// Collects unmapped parts while an importer walks its input.
#[derive(Debug, Default)]
pub(crate) struct Log(Vec<Unmapped>);

impl Log {
    pub(crate) fn unmapped(&mut self, path: impl Into<String>, why: impl Into<String>) {
        self.0.push(Unmapped {
            path: path.into(),
            why: why.into(),
        });
    }
}

/// `text` made into a DNS-1123 label of at most `max` characters (lower case, `-` for
/// anything else), or `None` when nothing usable is left.
pub(crate) fn label(text: &str, max: usize) -> Option<DnsLabel> {
    let mut out = String::new();
    for c in text.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out: String = out.trim_matches('-').chars().take(max).collect();
    out.trim_end_matches('-').parse().ok()
}

/// A name for the contract from the input's name, logging any change.
pub(crate) fn contract_name(
    name: Option<&str>,
    path: &str,
    origin: &str,
    log: &mut Log,
) -> Result<DnsLabel> {
    let why = match name {
        Some(n) => match label(n, 63) {
            Some(l) if l.as_str() == n => return Ok(l),
            Some(l) => {
                log.unmapped(
                    path,
                    format!("`{n}` is not a DNS-1123 label; the contract is named `{l}`"),
                );
                return Ok(l);
            }
            None => format!("`{n}` has no usable characters; the contract is named `imported`"),
        },
        None => "no name given; the contract is named `imported`".to_owned(),
    };
    log.unmapped(path, why);
    "imported"
        .parse()
        .map_err(|e: crate::contract::types::ValueError| Error::Import {
            origin: origin.to_owned(),
            message: e.0,
        })
}

/// A byte count as a Kubernetes quantity, in the largest binary unit that divides it.
pub(crate) fn bytes_quantity(bytes: u64) -> Option<Quantity> {
    let text = [
        ("Ti", 1u64 << 40),
        ("Gi", 1 << 30),
        ("Mi", 1 << 20),
        ("Ki", 1 << 10),
    ]
    .into_iter()
    .find(|&(_, f)| bytes >= f && bytes.is_multiple_of(f))
    .map_or_else(
        || bytes.to_string(),
        |(unit, f)| format!("{}{unit}", bytes / f),
    );
    text.parse().ok()
}

/// A new document with `name` and `image` and nothing else.
pub(crate) fn document(name: DnsLabel, image: ImageRef) -> ContractDocument {
    ContractDocument {
        api_version: ApiVersion::V1Alpha1,
        kind: Kind::Environment,
        metadata: Metadata {
            name,
            profile: None,
            labels: Default::default(),
        },
        spec: EnvironmentSpec {
            image,
            workdir: None,
            resources: Default::default(),
            storage: None,
            env: IndexMap::new(),
            secrets: Vec::new(),
            features: Vec::new(),
            ports: Vec::new(),
            commands: IndexMap::new(),
            lifecycle: Default::default(),
            editor: Default::default(),
            isolation: None,
            network: None,
            idle_timeout: None,
            agent: None,
        },
    }
}

/// The document's storage, created (per-workspace, logged) when the input implies one.
pub(crate) fn storage<'a>(
    doc: &'a mut ContractDocument,
    path: &str,
    log: &mut Log,
) -> &'a mut Storage {
    doc.spec.storage.get_or_insert_with(|| {
        log.unmapped(
            path,
            "implies storage of an unknown type; the contract says `per-workspace`",
        );
        Storage {
            kind: StorageKind::PerWorkspace,
            size: None,
            mount_path: None,
        }
    })
}

/// Set the workdir; when it is not under the default mount path, mount the storage there.
pub(crate) fn set_workdir(doc: &mut ContractDocument, workdir: &str, path: &str, log: &mut Log) {
    if !workdir.starts_with('/') {
        log.unmapped(
            path,
            format!("`{workdir}` is not an absolute path; the default workdir is used"),
        );
        return;
    }
    let mount = doc
        .spec
        .storage
        .as_ref()
        .and_then(|s| s.mount_path.clone())
        .unwrap_or_else(|| crate::contract::DEFAULT_MOUNT_PATH.to_owned());
    let base = mount.trim_end_matches('/');
    if workdir != mount && !workdir.starts_with(&format!("{base}/")) {
        storage(doc, path, log).mount_path = Some(workdir.to_owned());
    }
    doc.spec.workdir = Some(workdir.to_owned());
}
