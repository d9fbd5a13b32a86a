//! The evidence sinks: what lands on disk (and in memory) for every way a run can end, and that
//! no registered secret survives anywhere in it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use agentbox_core::Error;
use agentbox_core::evidence::{
    ARTIFACTS_DIR, EVENTS_FILE, EvidenceEvent, EvidenceSink, FsEvidenceSink, JUNIT_FILE,
    MemoryEvidenceSink, REDACTED, REPORT_FILE, RUN_FILE, RecordedEvent, RunInfo, RunOutcome,
    RunRecord, TestOutcome, TestResult,
};
use agentbox_core::exec::ExitStatus;
use agentbox_core::provider::WorkspaceId;
use quick_junit::{NonSuccessKind, Report, TestCaseStatus};
use secrecy::SecretString;

fn note(message: &str) -> EvidenceEvent {
    EvidenceEvent::Note {
        message: message.to_owned(),
    }
}

fn test(suite: &str, name: &str, outcome: TestOutcome) -> EvidenceEvent {
    EvidenceEvent::Test(TestResult::new(
        suite,
        name,
        outcome,
        Duration::from_millis(250),
    ))
}

async fn fs_sink(dir: &Path, run_id: &str) -> FsEvidenceSink {
    FsEvidenceSink::create(dir, RunInfo::with_id(run_id))
        .await
        .unwrap()
}

fn read_events(run_dir: &Path) -> Vec<RecordedEvent> {
    std::fs::read_to_string(run_dir.join(EVENTS_FILE))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn read_junit(run_dir: &Path) -> Report {
    Report::deserialize_from_str(&std::fs::read_to_string(run_dir.join(JUNIT_FILE)).unwrap())
        .unwrap()
}

/// The `<error>` case named `run` in the run's own suite, with its type.
fn run_error_type(report: &Report) -> Option<String> {
    report
        .test_suites
        .iter()
        .flat_map(|suite| &suite.test_cases)
        .filter(|case| case.name.as_str() == "run")
        .find_map(|case| match &case.status {
            TestCaseStatus::NonSuccess {
                kind: NonSuccessKind::Error,
                ty,
                ..
            } => ty.as_ref().map(|t| t.as_str().to_owned()),
            _ => None,
        })
}

/// Every file under `dir`, by path relative to it.
fn all_files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                files.insert(path.strip_prefix(dir).unwrap().to_path_buf(), bytes);
            }
        }
    }
    files
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Record a little of everything: a workspace, a command, passing and failing tests, an artifact.
async fn record_a_run(sink: &dyn EvidenceSink) {
    sink.record(EvidenceEvent::Lifecycle {
        workspace: "ws-1".into(),
        operation: "create".into(),
        phase: None,
        message: None,
    })
    .await
    .unwrap();
    sink.record(EvidenceEvent::ExecFinished {
        workspace: "ws-1".into(),
        argv: vec!["make".into(), "test".into()],
        exit: ExitStatus::Code(2),
        duration_ms: 1200,
        stdout: "ok\n".into(),
        stderr: "1 failed\n".into(),
        truncated: false,
    })
    .await
    .unwrap();
    sink.record(test("unit", "adds", TestOutcome::Passed))
        .await
        .unwrap();
    sink.record(test("unit", "subtracts", TestOutcome::Failed))
        .await
        .unwrap();
    sink.artifact("logs/build.txt", b"built\n").await.unwrap();
}

/// A run that ended with `outcome` has all its files, consistent with each other.
async fn assert_complete_run(outcome: RunOutcome) {
    let dir = tempfile::tempdir().unwrap();
    let sink = fs_sink(dir.path(), "run-1").await;
    record_a_run(&sink).await;
    let returned = sink.finish(outcome.clone()).await.unwrap();
    let run_dir = sink.run_dir().to_path_buf();
    assert_eq!(run_dir, dir.path().join("run-1"));

    let record = FsEvidenceSink::read_record(&run_dir).await.unwrap();
    assert_eq!(record, returned);
    assert_eq!(record.outcome, outcome);
    assert!(record.finished_at.is_some());
    assert_eq!(record.workspaces, ["ws-1"]);
    assert_eq!(
        (record.events, record.tests.passed, record.tests.failed),
        (4, 1, 1)
    );

    let events = read_events(&run_dir);
    assert_eq!(
        events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert!(matches!(&events[2].event, EvidenceEvent::Test(t) if t.name == "adds"));

    let junit = read_junit(&run_dir);
    assert_eq!(junit.test_suites[0].name.as_str(), "unit");
    assert_eq!(
        (junit.test_suites[0].tests, junit.test_suites[0].failures),
        (2, 1)
    );
    let expected_error = (outcome != RunOutcome::Succeeded).then(|| outcome.status().to_owned());
    assert_eq!(run_error_type(&junit), expected_error);

    let artifact = run_dir.join(ARTIFACTS_DIR).join("logs/build.txt");
    assert_eq!(std::fs::read(artifact).unwrap(), b"built\n");
}

#[tokio::test]
async fn fs_sink_writes_every_file_when_the_run_succeeds() {
    assert_complete_run(RunOutcome::Succeeded).await;
}

#[tokio::test]
async fn fs_sink_writes_every_file_when_the_run_fails() {
    assert_complete_run(RunOutcome::Failed {
        reason: "tests failed".into(),
    })
    .await;
}

#[tokio::test]
async fn fs_sink_writes_every_file_when_the_run_times_out() {
    assert_complete_run(RunOutcome::TimedOut).await;
}

#[tokio::test]
async fn event_lines_carry_time_seq_and_type() {
    let dir = tempfile::tempdir().unwrap();
    let sink = fs_sink(dir.path(), "run-1").await;
    sink.record(note("hello")).await.unwrap();
    let text = std::fs::read_to_string(sink.run_dir().join(EVENTS_FILE)).unwrap();
    let line: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
    assert_eq!(line["seq"], 1);
    assert_eq!(line["type"], "note");
    assert_eq!(line["message"], "hello");
    let at = line["at"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(at)
            .unwrap()
            .offset()
            .local_minus_utc()
            == 0,
        "{at}"
    );
    assert!(text.ends_with('\n'));
}

#[tokio::test]
async fn the_record_exists_while_the_run_is_going() {
    let dir = tempfile::tempdir().unwrap();
    let sink = fs_sink(dir.path(), "run-1").await;
    sink.note_workspace(&WorkspaceId::from("ws-a"))
        .await
        .unwrap();
    sink.record(EvidenceEvent::Lifecycle {
        workspace: "ws-b".into(),
        operation: "create".into(),
        phase: None,
        message: None,
    })
    .await
    .unwrap();

    let record = FsEvidenceSink::read_record(sink.run_dir()).await.unwrap();
    assert_eq!(record.outcome, RunOutcome::Running);
    assert_eq!(record.finished_at, None);
    assert_eq!(record.workspaces, ["ws-a", "ws-b"]);
    let files = all_files(sink.run_dir());
    assert!(
        files.contains_key(Path::new(JUNIT_FILE)) && files.contains_key(Path::new(EVENTS_FILE))
    );
}

#[tokio::test]
async fn dropping_the_sink_without_finish_records_a_cancelled_run() {
    let dir = tempfile::tempdir().unwrap();
    let sink = fs_sink(dir.path(), "run-1").await;
    sink.record(test("unit", "adds", TestOutcome::Passed))
        .await
        .unwrap();
    let run_dir = sink.run_dir().to_path_buf();
    drop(sink);

    let record = FsEvidenceSink::read_record(&run_dir).await.unwrap();
    assert_eq!(record.outcome, RunOutcome::Cancelled);
    assert!(record.finished_at.is_some());
    assert_eq!(record.tests.passed, 1);
    assert_eq!(read_events(&run_dir).len(), 1);
    let junit = read_junit(&run_dir);
    assert_eq!(run_error_type(&junit).as_deref(), Some("cancelled"));
    assert_eq!(junit.test_suites[0].test_cases[0].name.as_str(), "adds");
}

#[tokio::test]
async fn dropping_the_future_that_owns_the_sink_records_a_cancelled_run() {
    let dir = tempfile::tempdir().unwrap();
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let evidence_dir = dir.path().to_path_buf();
    let task = tokio::spawn(async move {
        let sink = fs_sink(&evidence_dir, "run-1").await;
        sink.record(note("working")).await.unwrap();
        started_tx.send(()).unwrap();
        std::future::pending::<()>().await;
        sink.finish(RunOutcome::Succeeded).await.unwrap();
    });
    started_rx.await.unwrap();
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());

    let record = FsEvidenceSink::read_record(dir.path().join("run-1"))
        .await
        .unwrap();
    assert_eq!(record.outcome, RunOutcome::Cancelled);
    assert_eq!(record.events, 1);
}

#[tokio::test]
async fn a_run_without_tests_writes_a_valid_junit_report_saying_so() {
    let dir = tempfile::tempdir().unwrap();
    let sink = fs_sink(dir.path(), "run-1").await;
    sink.finish(RunOutcome::Succeeded).await.unwrap();

    let xml = std::fs::read_to_string(sink.run_dir().join(JUNIT_FILE)).unwrap();
    let report = Report::deserialize_from_str(&xml).unwrap();
    assert_eq!((report.tests, report.failures, report.errors), (0, 0, 0));
    assert_eq!(report.test_suites.len(), 1);
    let run = &report.test_suites[0];
    assert_eq!(run.name.as_str(), "agentbox run run-1");
    assert_eq!(run.tests, 0);
    assert_eq!(
        run.system_out.as_ref().map(|s| s.as_str()),
        Some("no tests were run")
    );
    assert!(xml.contains(r#"tests="0""#), "{xml}");
}

#[tokio::test]
async fn secrets_registered_before_and_after_events_appear_in_no_file() {
    // Characters JSON and XML escape, so escaping cannot hide a leak from the search.
    let early = "early\"secret\\with\nnewline<&>";
    let late = "late-s3cret-value";
    let dir = tempfile::tempdir().unwrap();
    let sink = fs_sink(dir.path(), "run-1").await;
    sink.redactor().register(&SecretString::from(early));
    sink.record(note(&format!("token={early}"))).await.unwrap();
    sink.record(EvidenceEvent::ExecStarted {
        workspace: "ws-1".into(),
        argv: vec!["curl".into(), format!("-HAuthorization: {early}")],
        cwd: None,
    })
    .await
    .unwrap();
    let mut failing = TestResult::new(
        "unit",
        format!("t {early}"),
        TestOutcome::Failed,
        Duration::ZERO,
    );
    failing.message = Some(format!("expected {early}"));
    failing.output = Some(format!("out {early}"));
    sink.record(EvidenceEvent::Test(failing)).await.unwrap();

    sink.redactor().register(&SecretString::from(late));
    let mut erroring = TestResult::new("unit", "late", TestOutcome::Error, Duration::ZERO);
    erroring.output = Some(format!("{early} and {late}"));
    sink.record(EvidenceEvent::Test(erroring)).await.unwrap();
    sink.record(note(&format!("late {late}"))).await.unwrap();
    sink.artifact("log.txt", format!("a {early} b {late} c").as_bytes())
        .await
        .unwrap();
    sink.artifact(&format!("by-name/{late}.txt"), b"x")
        .await
        .unwrap();
    let record = sink
        .finish(RunOutcome::Failed {
            reason: format!("gave up on {late}"),
        })
        .await
        .unwrap();

    let json_escaped = |s: &str| {
        serde_json::to_string(s)
            .unwrap()
            .trim_matches('"')
            .to_owned()
    };
    let forms = [
        early,
        late,
        &json_escaped(early),
        "early&quot;secret",
        "early\"secret",
    ];
    let files = all_files(sink.run_dir());
    assert!(files.len() >= 5, "{:?}", files.keys());
    for (path, bytes) in &files {
        for form in forms {
            assert!(!contains(bytes, form), "{} holds {form:?}", path.display());
        }
        assert!(!path.to_string_lossy().contains(late), "{}", path.display());
    }
    assert!(contains(&files[Path::new(EVENTS_FILE)], REDACTED));
    assert!(contains(&files[Path::new(JUNIT_FILE)], REDACTED));
    assert_eq!(
        record.outcome,
        RunOutcome::Failed {
            reason: format!("gave up on {REDACTED}")
        }
    );
}

#[tokio::test]
async fn artifacts_outside_the_artifacts_directory_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fs = fs_sink(dir.path(), "run-1").await;
    let memory = MemoryEvidenceSink::new(RunInfo::with_id("run-1")).unwrap();
    for sink in [&fs as &dyn EvidenceSink, &memory] {
        for name in ["../x", "a/../../x", "/tmp/x", ""] {
            let error = sink.artifact(name, b"escape").await.unwrap_err();
            assert!(matches!(error, Error::Evidence { .. }), "{error}");
            assert!(error.to_string().contains(&format!("`{name}`")), "{error}");
        }
    }
    assert!(!dir.path().join("x").exists());
    assert!(all_files(&fs.run_dir().join(ARTIFACTS_DIR)).is_empty());
    assert!(memory.artifacts().is_empty());
}

#[tokio::test]
async fn finish_twice_returns_the_first_record() {
    let dir = tempfile::tempdir().unwrap();
    let fs = fs_sink(dir.path(), "run-1").await;
    let memory = MemoryEvidenceSink::new(RunInfo::with_id("run-1")).unwrap();
    for sink in [&fs as &dyn EvidenceSink, &memory] {
        let first = sink.finish(RunOutcome::Succeeded).await.unwrap();
        let second = sink.finish(RunOutcome::TimedOut).await.unwrap();
        assert_eq!(first, second);
        assert_eq!(second.outcome, RunOutcome::Succeeded);
    }
    let on_disk = FsEvidenceSink::read_record(fs.run_dir()).await.unwrap();
    assert_eq!(on_disk.outcome, RunOutcome::Succeeded);
}

#[tokio::test]
async fn a_run_cannot_finish_as_running() {
    let sink = MemoryEvidenceSink::new(RunInfo::with_id("run-1")).unwrap();
    let error = sink.finish(RunOutcome::Running).await.unwrap_err();
    assert!(
        error.to_string().contains("cannot finish as `running`"),
        "{error}"
    );
    let record = sink.finish(RunOutcome::TimedOut).await.unwrap();
    assert_eq!(record.outcome, RunOutcome::TimedOut);
}

#[tokio::test]
async fn nothing_is_recorded_after_finish() {
    let dir = tempfile::tempdir().unwrap();
    let sink = fs_sink(dir.path(), "run-1").await;
    sink.finish(RunOutcome::Succeeded).await.unwrap();
    let error = sink.record(note("late")).await.unwrap_err();
    assert!(error.to_string().contains("already finished"), "{error}");
    assert!(sink.artifact("late.txt", b"x").await.is_err());
    assert!(read_events(sink.run_dir()).is_empty());
}

#[tokio::test]
async fn a_run_id_in_use_is_refused_and_its_evidence_kept() {
    let dir = tempfile::tempdir().unwrap();
    let first = fs_sink(dir.path(), "run-1").await;
    first.record(note("first")).await.unwrap();
    let error = FsEvidenceSink::create(dir.path(), RunInfo::with_id("run-1"))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("already exists"), "{error}");
    assert_eq!(read_events(first.run_dir()).len(), 1);
}

#[tokio::test]
async fn generated_run_ids_name_distinct_directories() {
    let dir = tempfile::tempdir().unwrap();
    let a = FsEvidenceSink::create(dir.path(), RunInfo::default())
        .await
        .unwrap();
    let b = FsEvidenceSink::create(dir.path(), RunInfo::default())
        .await
        .unwrap();
    assert_ne!(a.run_id(), b.run_id());
    assert_eq!(a.run_dir(), dir.path().join(a.run_id()));
}

/// The record without its timestamps, which differ between two sinks.
fn timeless(mut record: RunRecord) -> RunRecord {
    record.started_at = chrono::DateTime::UNIX_EPOCH;
    record.finished_at = record.finished_at.map(|_| chrono::DateTime::UNIX_EPOCH);
    record
}

/// The report without its timestamps and durations of the run.
fn timeless_report(mut report: Report) -> Report {
    report.timestamp = None;
    report.time = None;
    for suite in &mut report.test_suites {
        suite.time = None;
    }
    report
}

#[tokio::test]
async fn memory_sink_mirrors_fs_sink() {
    let dir = tempfile::tempdir().unwrap();
    let info = RunInfo {
        run_id: Some("run-1".into()),
        contract_hash: Some("c0ffee".into()),
        backend: Some("local".into()),
    };
    let fs = FsEvidenceSink::create(dir.path(), info.clone())
        .await
        .unwrap();
    let memory = MemoryEvidenceSink::new(info).unwrap();
    for sink in [&fs as &dyn EvidenceSink, &memory] {
        sink.redactor().register(&SecretString::from("pw"));
        record_a_run(sink).await;
        sink.record(note("pw here")).await.unwrap();
        sink.artifact("./secret.txt", b"the pw").await.unwrap();
    }
    let outcome = RunOutcome::Failed {
        reason: "pw".into(),
    };
    let from_memory = memory.finish(outcome.clone()).await.unwrap();
    let from_fs = fs.finish(outcome).await.unwrap();

    assert_eq!(timeless(from_memory.clone()), timeless(from_fs));
    assert_eq!(memory.run_record().unwrap(), from_memory);
    let strip_at = |events: Vec<RecordedEvent>| -> Vec<_> {
        events.into_iter().map(|e| (e.seq, e.event)).collect()
    };
    assert_eq!(
        strip_at(memory.events()),
        strip_at(read_events(fs.run_dir()))
    );
    let on_disk: BTreeMap<String, Vec<u8>> = all_files(&fs.run_dir().join(ARTIFACTS_DIR))
        .into_iter()
        .map(|(path, bytes)| (path.to_string_lossy().into_owned(), bytes))
        .collect();
    assert_eq!(memory.artifacts(), on_disk);
    assert_eq!(
        on_disk["secret.txt"],
        format!("the {REDACTED}").into_bytes()
    );
    let memory_junit = Report::deserialize_from_str(&memory.junit().unwrap()).unwrap();
    assert_eq!(
        timeless_report(memory_junit),
        timeless_report(read_junit(fs.run_dir()))
    );
    let files = all_files(fs.run_dir());
    assert_eq!(
        files
            .keys()
            .filter(|p| p.parent() == Some(Path::new("")))
            .count(),
        [RUN_FILE, EVENTS_FILE, JUNIT_FILE, REPORT_FILE].len()
    );
}

#[tokio::test]
async fn memory_sink_keeps_a_running_record_with_its_workspaces() {
    let sink = MemoryEvidenceSink::new(RunInfo::with_id("run-1")).unwrap();
    sink.note_workspace(&WorkspaceId::from("ws-a")).unwrap();
    sink.record(test("unit", "adds", TestOutcome::Skipped))
        .await
        .unwrap();

    let record = sink.run_record().unwrap();
    assert_eq!(record.outcome, RunOutcome::Running);
    assert_eq!(record.workspaces, ["ws-a"]);
    assert_eq!((record.events, record.tests.skipped), (1, 1));
    assert_eq!(sink.junit(), None);
}
