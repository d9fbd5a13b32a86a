//! Evidence behaviours: secrets never reach stored evidence; JUnit is written on failure.

use agentbox_core::EvidenceSink;
use agentbox_core::evidence::{
    EvidenceEvent, FsEvidenceSink, MemoryEvidenceSink, RunInfo, RunOutcome, TestOutcome, TestResult,
};
use agentbox_core::exec::ExecRequest;
use secrecy::SecretString;

use super::{Outcome, Suite};

/// A secret given to a command and echoed back is redacted in evidence, even when the output
/// splits it.
pub async fn redaction_in_evidence(suite: &Suite) -> Outcome {
    let ws = suite.running("redaction-in-evidence").await;
    let secret = "s3cr3t-Value-that-must-not-leak";
    let sink = MemoryEvidenceSink::new(RunInfo::default()).expect("memory sink");
    sink.redactor().register(&SecretString::from(secret));
    // Print the secret in two halves, flushing between them, so output chunks may split it.
    let script = r#"printf '%s' "${TOKEN%-must-not-leak}"; sleep 0.1; printf '%s\n' "-must-not-leak"; echo "$TOKEN" >&2"#;
    let req =
        ExecRequest::new(["sh", "-c", script]).secret_env("TOKEN", SecretString::from(secret));
    let out = ws.executor.exec(req).await.expect("exec");
    assert!(
        out.stdout_text().contains(secret),
        "the command itself sees the secret"
    );
    sink.record(EvidenceEvent::ExecFinished {
        workspace: ws.id().to_string(),
        argv: vec!["sh".into(), "-c".into(), script.into()],
        exit: out.exit,
        duration_ms: 1,
        stdout: out.stdout_text(),
        stderr: out.stderr_text(),
        truncated: out.truncated(),
    })
    .await
    .expect("record");
    let stored = serde_json::to_string(&sink.events()).expect("json");
    assert!(
        !stored.contains(secret),
        "the secret reached stored evidence"
    );
    assert!(stored.contains("[REDACTED]"));
    ws.delete().await;
    Outcome::Passed
}

/// A failing test command leaves a JUnit file that says it failed.
pub async fn junit_written_on_failure(suite: &Suite) -> Outcome {
    let ws = suite.running("junit-written-on-failure").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = FsEvidenceSink::create(dir.path(), RunInfo::default())
        .await
        .expect("sink");
    let test = suite
        .contract
        .spec
        .commands
        .iter()
        .find(|(name, _)| name.as_str() == "test")
        .map(|(_, c)| c.run.clone())
        .expect("the suite contract has a test command");
    let out = ws
        .executor
        .exec(ExecRequest::new(["sh", "-c", &test]))
        .await
        .expect("exec");
    assert!(
        !out.exit.success(),
        "the suite's test command fails until ok.txt exists"
    );
    let mut result = TestResult::new("contract", "test", TestOutcome::Failed, out.duration);
    result.message = Some(out.exit.to_string());
    sink.record(EvidenceEvent::Test(result))
        .await
        .expect("record");
    sink.finish(RunOutcome::Failed {
        reason: "tests failed".into(),
    })
    .await
    .expect("finish");
    let junit =
        std::fs::read_to_string(sink.run_dir().join("junit.xml")).expect("junit.xml exists");
    assert!(
        junit.contains("failures=\"1\""),
        "junit records the failure: {junit}"
    );
    ws.delete().await;
    Outcome::Passed
}
