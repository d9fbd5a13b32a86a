//! [`MemoryEvidenceSink`]: a run's evidence kept in memory, for tests.

use async_trait::async_trait;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::ledger::Ledger;
use super::report::ReportArtifact;
use super::{EvidenceEvent, EvidenceSink, RecordedEvent, Redactor, RunInfo, RunOutcome, RunRecord};
use crate::Result;
use crate::provider::WorkspaceId;

/// Keeps a run's evidence in memory: what [`FsEvidenceSink`](super::FsEvidenceSink) would write,
/// numbered, redacted and checked the same way, readable through accessors.
///
/// ```
/// use agentbox_core::evidence::{EvidenceEvent, EvidenceSink, MemoryEvidenceSink, RunInfo, RunOutcome};
/// use secrecy::SecretString;
///
/// # futures::executor::block_on(async {
/// let sink = MemoryEvidenceSink::new(RunInfo::with_id("run-1"))?;
/// sink.redactor().register(&SecretString::from("hunter2"));
/// sink.record(EvidenceEvent::Note { message: "pw hunter2".into() }).await?;
/// sink.finish(RunOutcome::Succeeded).await?;
///
/// assert_eq!(sink.events()[0].event, EvidenceEvent::Note { message: "pw [REDACTED]".into() });
/// assert!(sink.junit().unwrap().contains("no tests were run"));
/// # Ok::<(), agentbox_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct MemoryEvidenceSink {
    run_id: String,
    redactor: Redactor,
    state: Mutex<MemoryState>,
}

#[derive(Debug)]
struct MemoryState {
    ledger: Ledger,
    events: Vec<RecordedEvent>,
    artifacts: BTreeMap<String, Vec<u8>>,
    junit: Option<String>,
    record: Option<RunRecord>,
}

impl MemoryEvidenceSink {
    /// Start a run in memory.
    pub fn new(info: RunInfo) -> Result<Self> {
        let ledger = Ledger::new(info, |id| PathBuf::from(format!("memory:{id}")))?;
        Ok(Self {
            run_id: ledger.run_id().to_owned(),
            redactor: Redactor::new(),
            state: Mutex::new(MemoryState {
                ledger,
                events: Vec::new(),
                artifacts: BTreeMap::new(),
                junit: None,
                record: None,
            }),
        })
    }

    /// Add a workspace to the record. Workspaces named in [`EvidenceEvent::Lifecycle`] events
    /// are added by themselves.
    pub fn note_workspace(&self, id: &WorkspaceId) -> Result<()> {
        self.lock().ledger.add_workspace(id.as_str()).map(drop)
    }

    /// The events recorded so far, redacted and numbered.
    pub fn events(&self) -> Vec<RecordedEvent> {
        self.lock().events.clone()
    }

    /// The artifacts stored so far, redacted, by their (redacted) paths under `artifacts/`.
    pub fn artifacts(&self) -> BTreeMap<String, Vec<u8>> {
        self.lock().artifacts.clone()
    }

    /// The run record: the final one once finished, else the run as it stands (outcome
    /// `running`). (Not named `record`, which records an event.)
    pub fn run_record(&self) -> Result<RunRecord> {
        let state = self.lock();
        match &state.record {
            Some(record) => Ok(record.clone()),
            None => state.ledger.current(&self.redactor),
        }
    }

    /// The JUnit XML written when the run finished; `None` before.
    pub fn junit(&self) -> Option<String> {
        self.lock().junit.clone()
    }

    /// The HTML report for the run as it stands: what
    /// [`FsEvidenceSink`](super::FsEvidenceSink) writes as `index.html` when the run ends.
    pub fn report_html(&self) -> Result<String> {
        let state = self.lock();
        let artifacts: Vec<_> = state
            .artifacts
            .iter()
            .map(|(path, content)| ReportArtifact::from_content(path.clone(), content))
            .collect();
        let events = state.events.iter().cloned().map(Ok);
        state.ledger.report(events, &artifacts, &self.redactor)
    }

    fn lock(&self) -> MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl EvidenceSink for MemoryEvidenceSink {
    fn run_id(&self) -> &str {
        &self.run_id
    }

    fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    async fn record(&self, event: EvidenceEvent) -> Result<()> {
        let mut state = self.lock();
        let stamped = state.ledger.prepare(&event, &self.redactor)?;
        state.ledger.commit(&stamped);
        state.events.push(stamped.recorded);
        Ok(())
    }

    async fn artifact(&self, name: &str, content: &[u8]) -> Result<()> {
        let mut state = self.lock();
        let path = state.ledger.artifact_path(name, &self.redactor)?;
        let content = self.redactor.redact_bytes(content);
        state
            .artifacts
            .insert(path.to_string_lossy().into_owned(), content);
        Ok(())
    }

    async fn finish(&self, outcome: RunOutcome) -> Result<RunRecord> {
        let mut state = self.lock();
        if let Some(record) = &state.record {
            return Ok(record.clone());
        }
        let record = state.ledger.finish(outcome, &self.redactor)?;
        let junit = state.ledger.junit(&self.redactor)?;
        state.junit = Some(junit);
        state.record = Some(record.clone());
        Ok(record)
    }
}
