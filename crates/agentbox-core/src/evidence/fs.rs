//! [`FsEvidenceSink`]: a run's evidence as files in a directory.

use async_trait::async_trait;
use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::ledger::Ledger;
use super::report;
use super::{EvidenceEvent, EvidenceSink, Redactor, RunInfo, RunOutcome, RunRecord};
use crate::provider::WorkspaceId;
use crate::{Error, Result};

/// The run record's file name.
pub const RUN_FILE: &str = "run.json";
/// The event log's file name.
pub const EVENTS_FILE: &str = "events.jsonl";
/// The JUnit report's file name.
pub const JUNIT_FILE: &str = "junit.xml";
/// The HTML report's file name.
pub const REPORT_FILE: &str = "index.html";
/// The directory artifacts are stored in.
pub const ARTIFACTS_DIR: &str = "artifacts";

/// Writes a run's evidence to `<dir>/<run-id>/`:
///
/// - `run.json`: the [`RunRecord`], written when the run starts (outcome `running`), when it
///   gains a workspace, and when it ends — so an orchestrator that crashed finds the workspaces
///   to clean up;
/// - `events.jsonl`: one [`RecordedEvent`](super::RecordedEvent) per line, appended and flushed
///   as events come;
/// - `junit.xml`: the test results, written when the run starts (as unfinished) and when it ends;
/// - `index.html`: a self-contained report of the run (summary, test results, a timeline of
///   every event, diffs, links to the other files) that any browser shows offline, written
///   when the run ends;
/// - `artifacts/`: files stored with [`EvidenceSink::artifact`]; those named `*.diff` or
///   `*.patch` are shown in the report.
///
/// Everything is redacted with the sink's [`Redactor`]; `run.json`, `junit.xml`, `index.html`
/// and artifacts are written atomically (a temporary file, then a rename). Dropping the sink
/// before [`EvidenceSink::finish`] (for instance because the future running the task was
/// dropped) finishes the run synchronously as [`RunOutcome::Cancelled`], report included.
///
/// ```no_run
/// use agentbox_core::evidence::{EvidenceEvent, EvidenceSink, FsEvidenceSink, RunInfo, RunOutcome};
///
/// # async fn run() -> agentbox_core::Result<()> {
/// let sink = FsEvidenceSink::create("evidence", RunInfo::default()).await?;
/// sink.record(EvidenceEvent::Note { message: "hello".into() }).await?;
/// let record = sink.finish(RunOutcome::Succeeded).await?;
/// assert_eq!(record.events, 1);
/// # Ok(())
/// # }
/// ```
pub struct FsEvidenceSink {
    run_id: String,
    run_dir: PathBuf,
    redactor: Redactor,
    state: Arc<Mutex<FsState>>,
}

impl FsEvidenceSink {
    /// Start a run: create `<dir>/<run-id>/` (and `dir` if needed) with its first `run.json`,
    /// an empty `events.jsonl` and an unfinished `junit.xml`. Fails when a run with that id
    /// already exists there.
    pub async fn create(dir: impl AsRef<Path>, info: RunInfo) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let ledger = Ledger::new(info, |id| dir.join(id))?;
        let run_id = ledger.run_id().to_owned();
        let run_dir = dir.join(&run_id);
        let redactor = Redactor::new();
        let open = {
            let (run_dir, redactor) = (run_dir.clone(), redactor.clone());
            move || FsState::open(&dir, run_dir, ledger, &redactor)
        };
        let state = blocking(&run_dir, open).await?;
        tracing::debug!(run = %run_id, dir = %run_dir.display(), "evidence run started");
        Ok(Self {
            run_id,
            run_dir,
            redactor,
            state: Arc::new(Mutex::new(state)),
        })
    }

    /// The run's directory, `<dir>/<run-id>`.
    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    /// Add a workspace to the record (and rewrite `run.json`), so cleanup can be re-run from it.
    /// Workspaces named in [`EvidenceEvent::Lifecycle`] events are added by themselves.
    pub async fn note_workspace(&self, id: &WorkspaceId) -> Result<()> {
        let id = id.as_str().to_owned();
        self.with_state(move |state, redactor| {
            if state.ledger.add_workspace(&id)? {
                state.write_record(redactor)?;
            }
            Ok(())
        })
        .await
    }

    /// Read the record of the run in `run_dir` back, e.g. to clean up after a crash.
    pub async fn read_record(run_dir: impl AsRef<Path>) -> Result<RunRecord> {
        let run_dir = run_dir.as_ref();
        let path = run_dir.join(RUN_FILE);
        let bytes = tokio::fs::read(&path).await.map_err(|source| Error::Io {
            action: "read the run record",
            path: path.clone(),
            source,
        })?;
        serde_json::from_slice(&bytes).map_err(|source| Error::Evidence {
            path: run_dir.to_path_buf(),
            source: format!("{} is not a run record: {source}", path.display()).into(),
        })
    }

    /// Run `f` on the state, off the async threads.
    async fn with_state<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut FsState, &Redactor) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (state, redactor) = (Arc::clone(&self.state), self.redactor.clone());
        blocking(&self.run_dir, move || f(&mut lock(&state), &redactor)).await
    }
}

#[async_trait]
impl EvidenceSink for FsEvidenceSink {
    fn run_id(&self) -> &str {
        &self.run_id
    }

    fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    async fn record(&self, event: EvidenceEvent) -> Result<()> {
        self.with_state(move |state, redactor| state.record(&event, redactor))
            .await
    }

    async fn artifact(&self, name: &str, content: &[u8]) -> Result<()> {
        let name = name.to_owned();
        let content = self.redactor.redact_bytes(content);
        self.with_state(move |state, redactor| state.artifact(&name, &content, redactor))
            .await
    }

    async fn finish(&self, outcome: RunOutcome) -> Result<RunRecord> {
        self.with_state(move |state, redactor| state.finish(outcome, redactor))
            .await
    }
}

impl Drop for FsEvidenceSink {
    fn drop(&mut self) {
        let mut state = lock(&self.state);
        if state.sealed {
            return;
        }
        match state.finish(RunOutcome::Cancelled, &self.redactor) {
            Ok(record) => tracing::warn!(
                run = %self.run_id,
                outcome = record.outcome.status(),
                "evidence sink dropped before finish; run recorded as ended"
            ),
            Err(error) => tracing::error!(
                run = %self.run_id,
                %error,
                "evidence sink dropped before finish and could not record the run as cancelled"
            ),
        }
    }
}

impl std::fmt::Debug for FsEvidenceSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FsEvidenceSink")
            .field("run_id", &self.run_id)
            .field("run_dir", &self.run_dir)
            .field("redactor", &self.redactor)
            .finish_non_exhaustive()
    }
}

/// The sink's files and ledger, behind its lock.
struct FsState {
    ledger: Ledger,
    run_dir: PathBuf,
    /// The open event log; `None` once sealed.
    events: Option<BufWriter<File>>,
    /// The artifacts stored, relative to `artifacts/`.
    artifacts: BTreeSet<PathBuf>,
    /// Whether the final `junit.xml`, `index.html` and `run.json` are written.
    sealed: bool,
}

impl FsState {
    fn open(dir: &Path, run_dir: PathBuf, ledger: Ledger, redactor: &Redactor) -> Result<Self> {
        fs::create_dir_all(dir).map_err(|source| Error::Io {
            action: "create the evidence directory",
            path: dir.to_path_buf(),
            source,
        })?;
        fs::create_dir(&run_dir).map_err(|source| match source.kind() {
            std::io::ErrorKind::AlreadyExists => ledger.error(format!(
                "a run `{}` already exists there; use another run id",
                ledger.run_id()
            )),
            _ => Error::Io {
                action: "create the run directory",
                path: run_dir.clone(),
                source,
            },
        })?;
        let mut state = Self {
            ledger,
            run_dir,
            events: None,
            artifacts: BTreeSet::new(),
            sealed: false,
        };
        // No half-made run directory is left behind on error.
        if let Err(error) = state.populate(redactor) {
            if let Err(cleanup) = fs::remove_dir_all(&state.run_dir) {
                tracing::warn!(dir = %state.run_dir.display(), error = %cleanup, "could not remove a half-made run directory");
            }
            return Err(error);
        }
        Ok(state)
    }

    fn populate(&mut self, redactor: &Redactor) -> Result<()> {
        let artifacts = self.run_dir.join(ARTIFACTS_DIR);
        fs::create_dir(&artifacts).map_err(|source| Error::Io {
            action: "create the artifacts directory",
            path: artifacts,
            source,
        })?;
        let events = self.run_dir.join(EVENTS_FILE);
        let file = File::options()
            .append(true)
            .create_new(true)
            .open(&events)
            .map_err(|source| Error::Io {
                action: "create the event log",
                path: events,
                source,
            })?;
        self.events = Some(BufWriter::new(file));
        self.write_junit(redactor)?;
        self.write_record(redactor)
    }

    fn record(&mut self, event: &EvidenceEvent, redactor: &Redactor) -> Result<()> {
        let stamped = self.ledger.prepare(event, redactor)?;
        let path = self.run_dir.join(EVENTS_FILE);
        let events = self
            .events
            .as_mut()
            .ok_or_else(|| self.ledger.error("the event log is already closed"))?;
        writeln!(events, "{}", stamped.line)
            .and_then(|()| events.flush())
            .map_err(|source| Error::Io {
                action: "append to the event log",
                path,
                source,
            })?;
        if self.ledger.commit(&stamped) {
            self.write_record(redactor)?;
        }
        Ok(())
    }

    fn artifact(&mut self, name: &str, content: &[u8], redactor: &Redactor) -> Result<()> {
        let relative = self.ledger.artifact_path(name, redactor)?;
        let path = self.run_dir.join(ARTIFACTS_DIR).join(&relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|source| Error::Io {
                action: "create the artifact's directory",
                path: parent.to_path_buf(),
                source,
            })?;
        }
        write_atomic(&path, content, "write an artifact")?;
        self.artifacts.insert(relative);
        Ok(())
    }

    /// End the run and write the final files; again after an earlier failure to write them.
    fn finish(&mut self, outcome: RunOutcome, redactor: &Redactor) -> Result<RunRecord> {
        let record = self.ledger.finish(outcome, redactor)?;
        if !self.sealed {
            self.seal(redactor)?;
        }
        Ok(record)
    }

    fn seal(&mut self, redactor: &Redactor) -> Result<()> {
        if let Some(mut events) = self.events.take() {
            let synced = events.flush().and_then(|()| events.get_ref().sync_all());
            if let Err(source) = synced {
                self.events = Some(events);
                return Err(Error::Io {
                    action: "flush the event log",
                    path: self.run_dir.join(EVENTS_FILE),
                    source,
                });
            }
        }
        // The record goes last: a final `run.json` means every other file is final too.
        self.write_junit(redactor)?;
        self.write_report(redactor)?;
        self.write_record(redactor)?;
        self.sealed = true;
        Ok(())
    }

    fn write_record(&self, redactor: &Redactor) -> Result<()> {
        let json = self.ledger.record_json(redactor)?;
        write_atomic(
            &self.run_dir.join(RUN_FILE),
            json.as_bytes(),
            "write the run record",
        )
    }

    fn write_junit(&self, redactor: &Redactor) -> Result<()> {
        let xml = self.ledger.junit(redactor)?;
        write_atomic(
            &self.run_dir.join(JUNIT_FILE),
            xml.as_bytes(),
            "write the JUnit report",
        )
    }

    /// Write `index.html` from the (flushed) event log and the stored artifacts.
    fn write_report(&self, redactor: &Redactor) -> Result<()> {
        let events = report::read_events(&self.run_dir.join(EVENTS_FILE))?;
        let artifacts = report::read_artifacts(&self.run_dir.join(ARTIFACTS_DIR), &self.artifacts)?;
        let html = self.ledger.report(events, &artifacts, redactor)?;
        write_atomic(
            &self.run_dir.join(REPORT_FILE),
            html.as_bytes(),
            "write the HTML report",
        )
    }
}

/// Write `content` to `path` through a synced temporary file in the same directory and a
/// rename, so readers see the old file or the new one, never half of one.
fn write_atomic(path: &Path, content: &[u8], action: &'static str) -> Result<()> {
    let io_error = |source| Error::Io {
        action,
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(io_error)?;
    file.write_all(content)
        .and_then(|()| file.as_file().sync_all())
        .map_err(io_error)?;
    file.persist(path).map_err(|e| io_error(e.error))?;
    Ok(())
}

fn lock(state: &Mutex<FsState>) -> MutexGuard<'_, FsState> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Run blocking file work on tokio's blocking threads.
async fn blocking<T: Send + 'static>(
    run_dir: &Path,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|source| Error::Evidence {
            path: run_dir.to_path_buf(),
            source: Box::new(source),
        })?
}
