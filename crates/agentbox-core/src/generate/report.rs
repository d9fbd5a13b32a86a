//! The enforceability report: for every target, every field the contract sets is either
//! represented in the target's file or listed with why not. Nothing is weakened silently.

use std::collections::BTreeMap;
use std::fmt;

use super::Target;
use super::fields::Field;

/// How one target carries one contract field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Coverage {
    /// The file expresses the field fully.
    Represented {
        /// Where and how.
        how: String,
    },
    /// The file expresses part of the field, or expresses it in a way some consumers ignore.
    Partial {
        /// What the file does.
        how: String,
        /// What is lost, and where to make up for it.
        missing: String,
    },
    /// The file cannot express the field.
    NotRepresented {
        /// Why, and what to do instead.
        why: String,
    },
    /// Another target's file carries the field.
    Delegated {
        /// The target responsible.
        to: Target,
        /// Why this file does not, and what the other does.
        why: String,
    },
}

impl Coverage {
    /// True when the file expresses the field fully.
    pub fn is_represented(&self) -> bool {
        matches!(self, Coverage::Represented { .. })
    }
}

/// One contract field in one target's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The field's path in the contract, e.g. `spec.network.egress.allow[1]`.
    pub field: String,
    /// True for fields that protect something (isolation, egress, secrets, limits, permissions).
    pub security: bool,
    /// How the target carries it.
    pub coverage: Coverage,
}

/// What one target's file carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetReport {
    /// The target.
    pub target: Target,
    /// One entry per field the contract sets, in contract order.
    pub entries: Vec<Entry>,
    /// Remarks about the file as a whole (mappings a reader should know about).
    pub notes: Vec<String>,
}

impl TargetReport {
    /// The entry for `field`, if the contract sets it.
    pub fn entry(&self, field: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.field == field)
    }
}

/// The report for every generated target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// One report per target, in output order.
    pub targets: Vec<TargetReport>,
}

impl Report {
    pub(super) fn new(targets: Vec<TargetReport>) -> Self {
        Self { targets }
    }

    /// The report of one target, when it was generated.
    pub fn target(&self, target: Target) -> Option<&TargetReport> {
        self.targets.iter().find(|t| t.target == target)
    }

    /// Security fields that the chosen targets do not enforce: one line per field and target,
    /// `<target>: <field>: <why>`. A field delegated to another target is reported by that
    /// target when it is among `chosen`, and as unenforced otherwise.
    pub fn unenforced(&self, chosen: &[Target]) -> Vec<String> {
        let mut out = Vec::new();
        for report in &self.targets {
            for entry in report.entries.iter().filter(|e| e.security) {
                let why = match &entry.coverage {
                    Coverage::Represented { .. } => continue,
                    Coverage::Partial { missing, .. } => missing.clone(),
                    Coverage::NotRepresented { why } => why.clone(),
                    // When the responsible target is generated, its own entry says whether
                    // the field is enforced; report it once, there.
                    Coverage::Delegated { to, .. } if chosen.contains(to) => continue,
                    Coverage::Delegated { to, why } => {
                        format!("{why} (and target `{to}` is not generated)")
                    }
                };
                out.push(format!("{}: {}: {why}", report.target, entry.field));
            }
        }
        out
    }
}

impl fmt::Display for Report {
    /// One line per field; fields handed to the same other target for the same reason share
    /// one line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for report in &self.targets {
            let path = report.target.path().unwrap_or_default();
            writeln!(f, "{} ({path}):", report.target)?;
            let mut elsewhere: Vec<(Target, &str, Vec<String>)> = Vec::new();
            for entry in &report.entries {
                let mark = if entry.security { " [security]" } else { "" };
                let field = &entry.field;
                match &entry.coverage {
                    Coverage::Represented { how } => {
                        writeln!(f, "  represented      {field}{mark}: {how}")?
                    }
                    Coverage::Partial { how, missing } => {
                        writeln!(f, "  PARTIAL          {field}{mark}: {how}; but {missing}")?
                    }
                    Coverage::NotRepresented { why } => {
                        writeln!(f, "  NOT REPRESENTED  {field}{mark}: {why}")?
                    }
                    Coverage::Delegated { to, why } => {
                        let name = format!("{field}{mark}");
                        match elsewhere.iter_mut().find(|(t, w, _)| t == to && w == why) {
                            Some((_, _, fields)) => fields.push(name),
                            None => elsewhere.push((*to, why, vec![name])),
                        }
                    }
                }
            }
            for (to, why, fields) in elsewhere {
                let to = format!("see {to}");
                writeln!(f, "  {to:<16} {}: {why}", fields.join(", "))?;
            }
            for note in &report.notes {
                writeln!(f, "  note: {note}")?;
            }
        }
        Ok(())
    }
}

/// What a target's renderer records while it writes its file.
#[derive(Debug, Default)]
pub(super) struct Notes {
    coverage: BTreeMap<String, Coverage>,
    notes: Vec<String>,
}

impl Notes {
    /// The file expresses `field` fully.
    pub(super) fn represented(&mut self, field: impl Into<String>, how: impl Into<String>) {
        self.set(field, Coverage::Represented { how: how.into() });
    }

    /// The file expresses part of `field`.
    pub(super) fn partial(
        &mut self,
        field: impl Into<String>,
        how: impl Into<String>,
        missing: impl Into<String>,
    ) {
        let coverage = Coverage::Partial {
            how: how.into(),
            missing: missing.into(),
        };
        self.set(field, coverage);
    }

    /// The file cannot express `field`.
    pub(super) fn missing(&mut self, field: impl Into<String>, why: impl Into<String>) {
        self.set(field, Coverage::NotRepresented { why: why.into() });
    }

    /// Another target carries `field`.
    pub(super) fn delegated(
        &mut self,
        field: impl Into<String>,
        to: Target,
        why: impl Into<String>,
    ) {
        let why = why.into();
        self.set(field, Coverage::Delegated { to, why });
    }

    /// A remark about the whole file.
    pub(super) fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    fn set(&mut self, field: impl Into<String>, coverage: Coverage) {
        self.coverage.insert(field.into(), coverage);
    }

    /// The target's report: one entry per field the contract sets, in contract order. A field
    /// the renderer said nothing about is listed as not represented, never dropped.
    pub(super) fn finish(mut self, target: Target, fields: &[Field]) -> TargetReport {
        let entries = fields
            .iter()
            .map(|field| {
                let coverage = self
                    .coverage
                    .remove(&field.path)
                    .unwrap_or_else(|| unmentioned(target, &field.path));
                Entry {
                    field: field.path.clone(),
                    security: field.security,
                    coverage,
                }
            })
            .collect();
        debug_assert!(
            self.coverage.is_empty(),
            "{target} reported fields the contract does not set: {:?}",
            self.coverage.keys().collect::<Vec<_>>()
        );
        TargetReport {
            target,
            entries,
            notes: self.notes,
        }
    }
}

/// The coverage of a field a renderer did not mention: files with a narrow scope leave it to
/// the workspace definition; the others cannot express it.
fn unmentioned(target: Target, field: &str) -> Coverage {
    match target {
        Target::Agents if field.starts_with("spec.network.") => Coverage::Delegated {
            to: Target::NetworkPolicy,
            why: "AGENTS.md describes egress; the NetworkPolicy enforces it".to_owned(),
        },
        Target::NetworkPolicy
            if field.starts_with("spec.agent.") || field == "metadata.profile" =>
        {
            Coverage::Delegated {
                to: Target::Agents,
                why: "what the agent is told and allowed is in AGENTS.md".to_owned(),
            }
        }
        Target::NetworkPolicy | Target::Agents => Coverage::Delegated {
            to: Target::Devfile,
            why: format!(
                "outside {target}'s scope: the workspace definition (devfile, DevWorkspace or devcontainer.json) carries it"
            ),
        },
        _ => Coverage::NotRepresented {
            why: format!("{target} has no place for this field"),
        },
    }
}
