//! The bookkeeping every sink shares: the run's identity ([`RunInfo`]), numbering and redacting
//! events, counting tests, sealing the record once, and checking artifact names.

use chrono::Utc;
use std::path::{Component, Path, PathBuf};

use super::report::{self, EventLine, ReportArtifact};
use super::{EvidenceEvent, RecordedEvent, Redactor, RunOutcome, RunRecord, TestResult, junit};
use crate::{BoxError, Error, Result};

/// Who a run is, given when its sink is made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunInfo {
    /// The run's id, also the name of its directory: ASCII letters, digits, `-`, `_` and `.`,
    /// not starting with `.`. When `None`, a time-sortable id is made
    /// (`20250102T030405.678Z-1a2b3c4d`).
    pub run_id: Option<String>,
    /// The hash of the contract the run uses.
    pub contract_hash: Option<String>,
    /// The backend the run uses.
    pub backend: Option<String>,
}

impl RunInfo {
    /// Information with only a run id.
    pub fn with_id(run_id: impl Into<String>) -> Self {
        Self {
            run_id: Some(run_id.into()),
            ..Self::default()
        }
    }
}

/// A numbered, redacted event ready to store.
#[derive(Debug)]
pub(crate) struct Stamped {
    /// The event as stored.
    pub recorded: RecordedEvent,
    /// Its `events.jsonl` line, without the newline.
    pub line: String,
}

/// What a sink knows about its run; every sink keeps one behind its lock.
#[derive(Debug)]
pub(crate) struct Ledger {
    /// Where the evidence goes, for error messages.
    location: PathBuf,
    record: RunRecord,
    /// Test results as stored (redacted when recorded, redacted again when rendered).
    tests: Vec<TestResult>,
    /// The final record, once the run is finished.
    finished: Option<RunRecord>,
}

impl Ledger {
    /// A ledger for a run starting now; `location` names where its evidence goes.
    pub(crate) fn new(info: RunInfo, location: impl FnOnce(&str) -> PathBuf) -> Result<Self> {
        let run_id = info.run_id.unwrap_or_else(new_run_id);
        let location = location(&run_id);
        check_run_id(&run_id).map_err(|source| Error::Evidence {
            path: location.clone(),
            source,
        })?;
        Ok(Self {
            location,
            record: RunRecord {
                run_id,
                contract_hash: info.contract_hash,
                backend: info.backend,
                workspaces: Vec::new(),
                started_at: Utc::now(),
                finished_at: None,
                outcome: RunOutcome::Running,
                events: 0,
                tests: Default::default(),
            },
            tests: Vec::new(),
            finished: None,
        })
    }

    /// The run's id.
    pub(crate) fn run_id(&self) -> &str {
        &self.record.run_id
    }

    /// Number and redact `event` without recording it yet (see [`Ledger::commit`]).
    pub(crate) fn prepare(&self, event: &EvidenceEvent, redactor: &Redactor) -> Result<Stamped> {
        self.refuse_if_finished("record an event")?;
        let mut value = serde_json::to_value(event).map_err(|e| self.error(e))?;
        redactor.redact_json(&mut value);
        let event = serde_json::from_value(value).map_err(|e| self.error(e))?;
        let recorded = RecordedEvent {
            at: Utc::now(),
            seq: self.record.events + 1,
            event,
        };
        let line = serde_json::to_string(&recorded).map_err(|e| self.error(e))?;
        Ok(Stamped { recorded, line })
    }

    /// Count a prepared event once it is stored. Returns true when it named a workspace the
    /// record did not hold yet (the record then needs writing again).
    pub(crate) fn commit(&mut self, stamped: &Stamped) -> bool {
        self.record.events = stamped.recorded.seq;
        match &stamped.recorded.event {
            EvidenceEvent::Test(test) => {
                self.record.tests.add(test.outcome);
                self.tests.push(test.clone());
                false
            }
            EvidenceEvent::Lifecycle { workspace, .. } => self.note_workspace(workspace),
            _ => false,
        }
    }

    /// Add a workspace to the record (refused once finished); false when it was there already.
    pub(crate) fn add_workspace(&mut self, workspace: &str) -> Result<bool> {
        self.refuse_if_finished("note a workspace")?;
        Ok(self.note_workspace(workspace))
    }

    fn note_workspace(&mut self, workspace: &str) -> bool {
        if self.record.workspaces.iter().any(|w| w == workspace) {
            return false;
        }
        self.record.workspaces.push(workspace.to_owned());
        true
    }

    /// The relative path an artifact named `name` is stored under, redacted.
    pub(crate) fn artifact_path(&self, name: &str, redactor: &Redactor) -> Result<PathBuf> {
        self.refuse_if_finished("store an artifact")?;
        check_artifact_name(&redactor.redact(name)).map_err(|source| self.error(source))
    }

    /// End the run with `outcome`; after the first call, the first record is returned.
    pub(crate) fn finish(&mut self, outcome: RunOutcome, redactor: &Redactor) -> Result<RunRecord> {
        if let Some(record) = &self.finished {
            return Ok(record.clone());
        }
        if outcome == RunOutcome::Running {
            return Err(self.error(
                "a run cannot finish as `running`; pass succeeded, failed, timed_out or cancelled",
            ));
        }
        let mut record = self.record.clone();
        record.outcome = outcome;
        record.finished_at = Some(Utc::now());
        let record = self.redacted(&record, redactor)?;
        self.finished = Some(record.clone());
        Ok(record)
    }

    /// The record as it stands (the final one once finished), redacted.
    pub(crate) fn current(&self, redactor: &Redactor) -> Result<RunRecord> {
        match &self.finished {
            Some(record) => Ok(record.clone()),
            None => self.redacted(&self.record, redactor),
        }
    }

    /// The record as `run.json` text, redacted.
    pub(crate) fn record_json(&self, redactor: &Redactor) -> Result<String> {
        let record = self.current(redactor)?;
        serde_json::to_string_pretty(&record).map_err(|e| self.error(e))
    }

    /// The JUnit XML for the run as it stands, redacted.
    pub(crate) fn junit(&self, redactor: &Redactor) -> Result<String> {
        let record = self.current(redactor)?;
        junit::render(&record, &self.tests, redactor).map_err(|e| self.error(e))
    }

    /// The HTML report for the run as it stands, redacted.
    pub(crate) fn report(
        &self,
        events: impl IntoIterator<Item = EventLine>,
        artifacts: &[ReportArtifact],
        redactor: &Redactor,
    ) -> Result<String> {
        let record = self.current(redactor)?;
        report::render(&record, &self.tests, events, artifacts, redactor).map_err(|e| self.error(e))
    }

    /// An [`Error::Evidence`] for this run.
    pub(crate) fn error(&self, source: impl Into<BoxError>) -> Error {
        Error::Evidence {
            path: self.location.clone(),
            source: source.into(),
        }
    }

    fn refuse_if_finished(&self, action: &str) -> Result<()> {
        match self.finished {
            Some(_) => Err(self.error(format!(
                "cannot {action}: run `{}` is already finished; record everything before calling finish",
                self.record.run_id
            ))),
            None => Ok(()),
        }
    }

    fn redacted(&self, record: &RunRecord, redactor: &Redactor) -> Result<RunRecord> {
        let mut value = serde_json::to_value(record).map_err(|e| self.error(e))?;
        redactor.redact_json(&mut value);
        serde_json::from_value(value).map_err(|e| self.error(e))
    }
}

/// A time-sortable run id: the UTC time to the millisecond, then 8 random hex digits.
fn new_run_id() -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "{}-{}",
        Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
        &random[..8]
    )
}

fn check_run_id(id: &str) -> Result<(), BoxError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if id.is_empty() || id.len() > 128 || id.starts_with('.') || !id.chars().all(allowed) {
        return Err(format!(
            "run id `{id}` is not usable as a directory name; use 1 to 128 ASCII letters, digits, `-`, `_` or `.`, not starting with `.`"
        )
        .into());
    }
    Ok(())
}

/// The relative path for an artifact name: plain path components only.
fn check_artifact_name(name: &str) -> Result<PathBuf, BoxError> {
    let path = Path::new(name);
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(format!(
                    "artifact name `{name}` must be a relative path inside the run's artifacts (no `..`, not absolute), e.g. `logs/build.txt`"
                )
                .into());
            }
        }
    }
    if clean.as_os_str().is_empty() {
        return Err(format!(
            "artifact name `{name}` names no file; give a relative path such as `logs/build.txt`"
        )
        .into());
    }
    Ok(clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_run_ids_are_valid_and_sort_by_time() {
        let first = new_run_id();
        check_run_id(&first).unwrap();
        assert!(
            first.starts_with(&Utc::now().format("%Y").to_string()),
            "{first}"
        );
    }

    #[test]
    fn run_ids_that_are_not_one_plain_name_are_refused() {
        for bad in ["", "..", ".hidden", "a/b", "a b", "x\0"] {
            assert!(check_run_id(bad).is_err(), "{bad:?}");
        }
        check_run_id("run_1.2-x").unwrap();
    }

    #[test]
    fn artifact_names_must_stay_inside() {
        for bad in ["../x", "a/../../x", "/etc/passwd", "", ".", "a/.."] {
            assert!(check_artifact_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            check_artifact_name("./logs/b.txt").unwrap(),
            PathBuf::from("logs/b.txt")
        );
    }
}
