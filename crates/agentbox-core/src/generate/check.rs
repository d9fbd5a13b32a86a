//! Drift check: are the files on disk what `generate` would write? For CI.

use std::path::Path;

use similar::TextDiff;

use super::{GenerateOptions, Generated, Target, generate};
use crate::{Contract, Error, Result};

/// How one file differs from what `generate` would write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriftKind {
    /// The file does not exist.
    Missing,
    /// The file exists with other content.
    Changed,
}

/// One drifted file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDrift {
    /// Path relative to the output directory.
    pub path: String,
    /// Missing or changed.
    pub kind: DriftKind,
    /// A unified diff from the file on disk to the expected file.
    pub diff: String,
}

/// The result of a drift check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// Every file that differs, in path order; empty when everything matches.
    pub files: Vec<FileDrift>,
    /// What generation produced (and its report).
    pub generated: Generated,
}

impl Drift {
    /// True when every file on disk is what `generate` would write.
    pub fn is_clean(&self) -> bool {
        self.files.is_empty()
    }
}

/// Compare the files under `dir` with what [`generate`] writes for `contract` and `targets`.
pub fn check(
    contract: &Contract,
    targets: &[Target],
    options: &GenerateOptions,
    dir: &Path,
) -> Result<Drift> {
    let generated = generate(contract, targets, options)?;
    let mut files = Vec::new();
    for (relative, expected) in &generated.files {
        let path = dir.join(relative);
        let (actual, kind) = match std::fs::read(&path) {
            Ok(bytes) => (
                String::from_utf8_lossy(&bytes).into_owned(),
                DriftKind::Changed,
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                (String::new(), DriftKind::Missing)
            }
            Err(source) => {
                return Err(Error::Io {
                    action: "read the generated file",
                    path,
                    source,
                });
            }
        };
        if kind == DriftKind::Changed && actual == *expected {
            continue;
        }
        let old_name = match kind {
            DriftKind::Missing => "/dev/null".to_owned(),
            DriftKind::Changed => format!("a/{relative}"),
        };
        let diff = TextDiff::from_lines(actual.as_str(), expected.as_str())
            .unified_diff()
            .context_radius(3)
            .header(&old_name, &format!("b/{relative}"))
            .to_string();
        files.push(FileDrift {
            path: relative.clone(),
            kind,
            diff,
        });
    }
    Ok(Drift { files, generated })
}
