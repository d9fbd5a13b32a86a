//! Reading what the report shows back from a run directory.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::{EventLine, MAX_DIFF_READ, ReportArtifact, is_diff};
use crate::evidence::EVENTS_FILE;
use crate::{Error, Result};

/// The events in the log at `path`, one by one. A line that is not an event becomes an `Err`
/// saying so; reading stops after the first line that cannot be read at all.
pub(crate) fn read_events(path: &Path) -> Result<impl Iterator<Item = EventLine> + use<>> {
    let file = File::open(path).map_err(|source| Error::Io {
        action: "open the event log for the report",
        path: path.to_path_buf(),
        source,
    })?;
    let mut lines = BufReader::new(file).lines().enumerate();
    let mut broken = false;
    Ok(std::iter::from_fn(move || {
        if broken {
            return None;
        }
        let (index, line) = lines.next()?;
        let number = index + 1;
        Some(match line {
            Ok(line) => serde_json::from_str(&line)
                .map_err(|e| format!("line {number} of {EVENTS_FILE} is not an event: {e}")),
            Err(e) => {
                broken = true;
                Err(format!(
                    "line {number} of {EVENTS_FILE} could not be read, nor any after it: {e}"
                ))
            }
        })
    }))
}

/// The stored artifacts at `paths` (relative to `dir`), in order, with the text of the diffs.
pub(crate) fn read_artifacts(dir: &Path, paths: &BTreeSet<PathBuf>) -> Result<Vec<ReportArtifact>> {
    paths
        .iter()
        .map(|relative| {
            let path = dir.join(relative);
            let io_error = |source| Error::Io {
                action: "read an artifact for the report",
                path: path.clone(),
                source,
            };
            let name = relative
                .iter()
                .map(|part| part.to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            let bytes = fs::metadata(&path).map_err(io_error)?.len();
            if is_diff(&name) && bytes <= MAX_DIFF_READ {
                let content = fs::read(&path).map_err(io_error)?;
                return Ok(ReportArtifact::from_content(name, &content));
            }
            Ok(ReportArtifact {
                path: name,
                bytes,
                diff: None,
            })
        })
        .collect()
}
