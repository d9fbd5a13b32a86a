//! Evidence: a durable record of what happened in a run — events, logs, test results and
//! artifacts — written whatever the outcome, with every known secret redacted.

mod event;
mod fs;
mod junit;
mod ledger;
mod memory;
mod redact;
mod report;

pub use event::{
    EvidenceEvent, RecordedEvent, RunOutcome, RunRecord, TestCounts, TestOutcome, TestResult,
};
pub use fs::{ARTIFACTS_DIR, EVENTS_FILE, FsEvidenceSink, JUNIT_FILE, REPORT_FILE, RUN_FILE};
pub use ledger::RunInfo;
pub use memory::MemoryEvidenceSink;
pub use redact::{REDACTED, Redactor, StreamRedactor};

use async_trait::async_trait;
use std::fmt;

use crate::Result;

/// Where a run's evidence goes.
///
/// A sink redacts every value registered with its [`Redactor`] from everything it stores, and
/// [`EvidenceSink::finish`] may be called more than once (later calls return the first record).
#[async_trait]
pub trait EvidenceSink: Send + Sync + fmt::Debug {
    /// The run's id.
    fn run_id(&self) -> &str;

    /// The redactor; register secret values with it before they can appear in output.
    fn redactor(&self) -> &Redactor;

    /// Record one event.
    async fn record(&self, event: EvidenceEvent) -> Result<()>;

    /// Store an artifact (a log, a diff, a report) under `name` (a relative path).
    async fn artifact(&self, name: &str, content: &[u8]) -> Result<()>;

    /// End the run with this outcome and write the final records.
    async fn finish(&self, outcome: RunOutcome) -> Result<RunRecord>;
}
