//! The generator: one contract compiled into each platform's native files, with a report of
//! what each file can and cannot enforce.
//!
//! ```
//! use agentbox_core::contract::{Contract, LoadOptions};
//! use agentbox_core::generate::{self, GenerateOptions, Target};
//!
//! let contract = Contract::from_yaml(
//!     "apiVersion: agentbox.dev/v1alpha1\nkind: Environment\nmetadata: { name: demo }\nspec: { image: alpine:3.20 }\n",
//!     &LoadOptions::default(),
//! )?;
//! let generated = generate::generate(&contract, &[Target::All], &GenerateOptions::default())?;
//! assert!(generated.files.contains_key("devfile.yaml"));
//! assert!(generated.files["devfile.yaml"].contains("schemaVersion: \"2.2.2\""));
//! // devcontainer.json cannot express egress rules, and the report says so.
//! assert!(!generated.report.target(Target::Devcontainer).unwrap().entries.is_empty());
//! # Ok::<(), agentbox_core::Error>(())
//! ```
//!
//! Output is deterministic: the same contract gives byte-identical files, keys in a fixed order.
//!
//! ## Map
//! - [`devcontainer`]: `.devcontainer/devcontainer.json` (Dev Containers, Coder's envbuilder).
//! - [`devfile`]: `devfile.yaml`, Devfile 2.2.2 as the DevWorkspace Operator reads it.
//! - [`devworkspace`]: `.agentbox/devworkspace.yaml`, a `DevWorkspace` ready to apply (Che).
//! - [`network_policy`]: `.agentbox/networkpolicy.yaml`, egress as Kubernetes (and Cilium) policy.
//! - [`agents_md`]: `AGENTS.md`, what the agent is told, may do, and where its sandbox ends.
//! - [`report`]: the enforceability report and the `strict` check.
//! - [`check`]: drift between files on disk and what `generate` would write.
//! - [`import`]: an existing devcontainer.json or devfile.yaml as a contract document.

pub mod agents_md;
pub mod check;
pub mod devcontainer;
pub mod devfile;
pub mod devworkspace;
pub mod import;
pub mod network_policy;
pub mod report;

mod fields;
mod output;

pub use check::{Drift, DriftKind, FileDrift, check};
pub use report::{Coverage, Entry, Report, TargetReport};

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use crate::{Contract, Error, Result};

/// A file format the generator writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// Every target below.
    All,
    /// `.devcontainer/devcontainer.json`.
    Devcontainer,
    /// `devfile.yaml`.
    Devfile,
    /// `.agentbox/devworkspace.yaml`.
    DevWorkspace,
    /// `.agentbox/networkpolicy.yaml`.
    NetworkPolicy,
    /// `AGENTS.md`.
    Agents,
}

impl Target {
    /// Every concrete target, in output order.
    pub const EACH: [Target; 5] = [
        Target::Devcontainer,
        Target::Devfile,
        Target::DevWorkspace,
        Target::NetworkPolicy,
        Target::Agents,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Target::All => "all",
            Target::Devcontainer => "devcontainer",
            Target::Devfile => "devfile",
            Target::DevWorkspace => "devworkspace",
            Target::NetworkPolicy => "networkpolicy",
            Target::Agents => "agents",
        }
    }

    /// Where the target's file goes, relative to the output directory (`None` for [`Target::All`]).
    pub fn path(self) -> Option<&'static str> {
        match self {
            Target::All => None,
            Target::Devcontainer => Some(".devcontainer/devcontainer.json"),
            Target::Devfile => Some("devfile.yaml"),
            Target::DevWorkspace => Some(".agentbox/devworkspace.yaml"),
            Target::NetworkPolicy => Some(".agentbox/networkpolicy.yaml"),
            Target::Agents => Some("AGENTS.md"),
        }
    }

    /// The concrete targets `targets` names, each once, in output order; `All` (or an empty
    /// list) means every target.
    pub fn expand(targets: &[Target]) -> Vec<Target> {
        if targets.is_empty() || targets.contains(&Target::All) {
            return Target::EACH.to_vec();
        }
        Target::EACH
            .into_iter()
            .filter(|t| targets.contains(t))
            .collect()
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error of parsing a target name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownTarget(pub String);

impl fmt::Display for UnknownTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown target `{}`: use one of all, devcontainer, devfile, devworkspace, networkpolicy, agents",
            self.0
        )
    }
}

impl std::error::Error for UnknownTarget {}

impl FromStr for Target {
    type Err = UnknownTarget;
    fn from_str(s: &str) -> std::result::Result<Self, UnknownTarget> {
        std::iter::once(Target::All)
            .chain(Target::EACH)
            .find(|t| t.name() == s)
            .ok_or_else(|| UnknownTarget(s.to_owned()))
    }
}

/// How to generate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenerateOptions {
    /// The cluster runs Cilium: host (FQDN) egress rules become a `CiliumNetworkPolicy`.
    pub cilium: bool,
    /// Refuse (with [`Error::Unenforceable`]) when a security field would not be enforced.
    pub strict: bool,
}

/// The generated files and the enforceability report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// File contents by path relative to the output directory, with `/` separators.
    pub files: BTreeMap<String, String>,
    /// What each target represents, and what it cannot, with why.
    pub report: Report,
}

impl Generated {
    /// Write every file under `dir`, creating directories as needed. Each file is written to a
    /// temporary sibling and renamed into place, so a reader never sees half a file.
    pub fn write_to(&self, dir: &Path) -> Result<()> {
        for (relative, text) in &self.files {
            let path = dir.join(relative);
            let parent = path.parent().unwrap_or(dir);
            std::fs::create_dir_all(parent).map_err(|source| Error::Io {
                action: "create the output directory",
                path: parent.to_path_buf(),
                source,
            })?;
            let io = |action| {
                let path = path.clone();
                move |source| Error::Io {
                    action,
                    path,
                    source,
                }
            };
            let mut temp = tempfile::NamedTempFile::new_in(parent)
                .map_err(io("create a temporary file for"))?;
            std::io::Write::write_all(&mut temp, text.as_bytes())
                .map_err(io("write the generated file"))?;
            temp.persist(&path)
                .map_err(|e| io("move the generated file into place")(e.error))?;
        }
        Ok(())
    }
}

/// Compile `contract` into the files of `targets` ([`Target::All`] for every one).
///
/// With `options.strict`, returns [`Error::Unenforceable`] (and no files) when a security
/// field of the contract is represented by none of the chosen targets that are responsible
/// for it; otherwise every such gap is listed in the report.
pub fn generate(
    contract: &Contract,
    targets: &[Target],
    options: &GenerateOptions,
) -> Result<Generated> {
    let targets = Target::expand(targets);
    let fields = fields::enumerate(contract);
    let mut files = BTreeMap::new();
    let mut reports = Vec::new();
    for &target in &targets {
        let mut notes = report::Notes::default();
        let text = match target {
            Target::Devcontainer => devcontainer::render(contract, &mut notes)?,
            Target::Devfile => devfile::render(contract, &mut notes)?,
            Target::DevWorkspace => devworkspace::render(contract, &mut notes)?,
            Target::NetworkPolicy => network_policy::render(contract, options, &mut notes)?,
            Target::Agents => agents_md::render(contract, &mut notes),
            Target::All => continue,
        };
        if let Some(path) = target.path() {
            files.insert(path.to_owned(), text);
        }
        reports.push(notes.finish(target, &fields));
    }
    let report = Report::new(reports);
    if options.strict {
        let unenforced = report.unenforced(&targets);
        if !unenforced.is_empty() {
            return Err(Error::Unenforceable { fields: unenforced });
        }
    }
    Ok(Generated { files, report })
}

/// The first 12 hex digits of the contract's hash, as the generated headers quote it.
fn short_hash(contract: &Contract) -> &str {
    contract.hash().get(..12).unwrap_or(contract.hash())
}

/// The sentence every generated file starts with (without comment markers).
fn header(contract: &Contract) -> String {
    format!(
        "Generated by agentbox from {} (contract hash {}); do not edit — edit agentbox.yaml and run `agentbox generate`.",
        contract.name(),
        short_hash(contract)
    )
}
