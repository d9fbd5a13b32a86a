//! The run's HTML report (`index.html`): written however the run ends, showing its tests, every
//! event and its diffs, with every piece of text escaped and every registered secret redacted.

use std::path::Path;
use std::time::Duration;

use agentbox_core::contract::Verdict;
use agentbox_core::evidence::{
    ARTIFACTS_DIR, EVENTS_FILE, EvidenceEvent, EvidenceSink, FsEvidenceSink, MemoryEvidenceSink,
    REDACTED, REPORT_FILE, RunInfo, RunOutcome, TestOutcome, TestResult,
};
use agentbox_core::exec::ExitStatus;
use agentbox_core::provider::Phase;
use secrecy::SecretString;

const HOSTILE: &str = "<script>alert(1)</script>";
const HOSTILE_ESCAPED: &str = "&lt;script&gt;alert(1)&lt;/script&gt;";

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

fn exec(argv: &[&str], code: i32, stdout: &str, stderr: &str) -> EvidenceEvent {
    EvidenceEvent::ExecFinished {
        workspace: "ws-1".into(),
        argv: argv.iter().map(|a| (*a).to_owned()).collect(),
        exit: ExitStatus::Code(code),
        duration_ms: 1_500,
        stdout: stdout.into(),
        stderr: stderr.into(),
        truncated: false,
    }
}

async fn fs_sink(dir: &Path) -> FsEvidenceSink {
    FsEvidenceSink::create(dir, RunInfo::with_id("run-1"))
        .await
        .unwrap()
}

fn read_report(sink: &FsEvidenceSink) -> String {
    std::fs::read_to_string(sink.run_dir().join(REPORT_FILE)).unwrap()
}

fn memory_sink() -> MemoryEvidenceSink {
    MemoryEvidenceSink::new(RunInfo::with_id("run-1")).unwrap()
}

/// The report's test-results table: from `<table id="tests">` to its end.
fn tests_table(html: &str) -> &str {
    let start = html
        .find("<table id=\"tests\">")
        .expect("a test-results table");
    let end = start + html[start..].find("</table>").unwrap();
    &html[start..end]
}

/// Where `needle` is in `html`, failing the test when it is not there.
fn position(html: &str, needle: &str) -> usize {
    html.find(needle)
        .unwrap_or_else(|| panic!("the report has no {needle:?}:\n{html}"))
}

#[tokio::test]
async fn a_finished_run_directory_has_a_report_with_its_test_results() {
    let dir = tempfile::tempdir().unwrap();
    let sink = fs_sink(dir.path()).await;
    sink.record(test("unit", "adds", TestOutcome::Passed))
        .await
        .unwrap();
    sink.record(test("unit", "subtracts", TestOutcome::Failed))
        .await
        .unwrap();
    let mut skipped = TestResult::new("lint", "style", TestOutcome::Skipped, Duration::ZERO);
    skipped.message = Some("not configured".into());
    sink.record(EvidenceEvent::Test(skipped)).await.unwrap();
    sink.finish(RunOutcome::Failed {
        reason: "1 test failed".into(),
    })
    .await
    .unwrap();

    let html = read_report(&sink);
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.trim_end().ends_with("</html>"), "{html}");
    assert!(html.contains("<code>run-1</code>"), "{html}");
    assert!(
        html.contains("<span id=\"outcome\" class=\"badge failed\">failed</span> 1 test failed"),
        "{html}"
    );
    assert!(
        html.contains(
            "3 tests: <span class=\"passed\">1 passed</span>, <span class=\"failed\">1 failed</span>, \
             <span class=\"muted\">0 errors</span>, <span class=\"skipped\">1 skipped</span>"
        ),
        "{html}"
    );
    let table = tests_table(&html);
    let rows: Vec<&str> = table.split("<tr class=\"test ").skip(1).collect();
    assert_eq!(rows.len(), 3, "{table}");
    assert!(
        rows[0].starts_with("passed\"><td>unit</td><td>adds</td>"),
        "{}",
        rows[0]
    );
    assert!(
        rows[1].starts_with("failed\"><td>unit</td><td>subtracts</td>"),
        "{}",
        rows[1]
    );
    assert!(
        rows[2].starts_with("skipped\"><td>lint</td><td>style</td>"),
        "{}",
        rows[2]
    );
    assert!(rows[2].contains("not configured"), "{}", rows[2]);
    for file in ["./run.json", "./events.jsonl", "./junit.xml"] {
        assert!(html.contains(&format!("href=\"{file}\"")), "{file}: {html}");
    }
}

#[tokio::test]
async fn hostile_text_is_escaped_wherever_it_appears() {
    let dir = tempfile::tempdir().unwrap();
    let sink = fs_sink(dir.path()).await;
    sink.record(exec(
        &["echo", HOSTILE],
        0,
        &format!("{HOSTILE}\n"),
        HOSTILE,
    ))
    .await
    .unwrap();
    sink.record(test(HOSTILE, HOSTILE, TestOutcome::Failed))
        .await
        .unwrap();
    sink.record(note(&format!("quotes \" and ' and & {HOSTILE}")))
        .await
        .unwrap();
    let artifact = "x\"><script>alert(2)</script>.diff";
    sink.artifact(artifact, format!("+{HOSTILE}\n").as_bytes())
        .await
        .unwrap();
    sink.finish(RunOutcome::Succeeded).await.unwrap();

    let html = read_report(&sink);
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("alert(2)</"), "{html}");
    // stdout, stderr, the argv, the test's suite and name, the note and the diff line.
    assert!(html.matches(HOSTILE_ESCAPED).count() >= 7, "{html}");
    assert!(
        html.contains("quotes &quot; and &#39; and &amp; "),
        "{html}"
    );
    assert!(
        html.contains("href=\"./artifacts/x%22%3E%3Cscript%3Ealert%282%29%3C/script%3E.diff\""),
        "{html}"
    );
}

#[tokio::test]
async fn a_denied_permission_shows_as_denied_with_its_rule() {
    let sink = memory_sink();
    sink.record(EvidenceEvent::Permission {
        action: "shell(git push --force)".into(),
        verdict: Verdict::Deny,
        rule: Some("deny shell(git push --force*)".into()),
    })
    .await
    .unwrap();
    sink.record(EvidenceEvent::Permission {
        action: "shell(git status)".into(),
        verdict: Verdict::Allow,
        rule: Some("shell(git:*)".into()),
    })
    .await
    .unwrap();
    sink.record(EvidenceEvent::Permission {
        action: "write(/etc/passwd)".into(),
        verdict: Verdict::Deny,
        rule: None,
    })
    .await
    .unwrap();
    sink.finish(RunOutcome::Succeeded).await.unwrap();

    let html = sink.report_html().unwrap();
    let denied = position(
        &html,
        "<code>shell(git push --force)</code> <span class=\"badge denied\">denied</span> \
         by rule <code>deny shell(git push --force*)</code>",
    );
    let allowed = position(
        &html,
        "<code>shell(git status)</code> <span class=\"badge allowed\">allowed</span> \
         by rule <code>shell(git:*)</code>",
    );
    let by_default = position(
        &html,
        "<code>write(/etc/passwd)</code> <span class=\"badge denied\">denied</span> \
         by default (no rule matched)",
    );
    assert!(denied < allowed && allowed < by_default);
    assert_eq!(
        html.matches("<tr class=\"event permission denied\">")
            .count(),
        2
    );
}

#[tokio::test]
async fn a_dropped_run_still_gets_a_report_saying_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let sink = fs_sink(dir.path()).await;
    let run_dir = sink.run_dir().to_path_buf();
    sink.record(note("working")).await.unwrap();
    sink.record(test("unit", "half-way", TestOutcome::Passed))
        .await
        .unwrap();
    drop(sink);

    let html = std::fs::read_to_string(run_dir.join(REPORT_FILE)).unwrap();
    assert!(
        html.contains("<span id=\"outcome\" class=\"badge cancelled\">cancelled</span>"),
        "{html}"
    );
    assert!(
        html.contains("<title>agentbox run run-1: cancelled</title>"),
        "{html}"
    );
    assert!(tests_table(&html).contains("<td>half-way</td>"), "{html}");
    assert!(html.contains("working"), "{html}");
}

#[tokio::test]
async fn no_registered_secret_appears_in_the_report() {
    // A space and a quote: shell quoting of the argv must not split it around the redaction.
    let early = "ear'ly s3cret";
    let late = "late-s3cret<&>";
    let dir = tempfile::tempdir().unwrap();
    let sink = fs_sink(dir.path()).await;
    sink.redactor().register(&SecretString::from(early));
    sink.record(exec(
        &["curl", "-H", &format!("Authorization: {early}")],
        0,
        &format!("{early}\n"),
        "",
    ))
    .await
    .unwrap();
    // Recorded before its secret is known: the event log holds it, the report must not.
    sink.record(note(&format!("token {late}"))).await.unwrap();
    let mut failing = TestResult::new("unit", "t", TestOutcome::Failed, Duration::ZERO);
    failing.message = Some(format!("expected {late}"));
    failing.output = Some(format!("out {late}"));
    sink.record(EvidenceEvent::Test(failing)).await.unwrap();
    sink.artifact("change.diff", format!("-{early}\n+{late}\n").as_bytes())
        .await
        .unwrap();
    sink.redactor().register(&SecretString::from(late));
    sink.finish(RunOutcome::Failed {
        reason: format!("gave up on {late}"),
    })
    .await
    .unwrap();

    let events = std::fs::read_to_string(sink.run_dir().join(EVENTS_FILE)).unwrap();
    assert!(
        events.contains(late),
        "the event log was written before the secret was known"
    );
    let html = read_report(&sink);
    for form in [
        early,
        late,
        "ear&#39;ly s3cret",
        "late-s3cret&lt;&amp;&gt;",
        "s3cret",
    ] {
        assert!(!html.contains(form), "the report holds {form:?}:\n{html}");
    }
    assert!(html.contains("Authorization: [REDACTED]"), "{html}");
    assert!(html.matches(REDACTED).count() >= 6, "{html}");
}

#[tokio::test]
async fn the_timeline_shows_every_event_in_order_with_its_details() {
    let sink = memory_sink();
    sink.record(EvidenceEvent::Lifecycle {
        workspace: "ws-1".into(),
        operation: "create".into(),
        phase: Some(Phase::Running),
        message: Some("ready".into()),
    })
    .await
    .unwrap();
    sink.record(EvidenceEvent::ExecStarted {
        workspace: "ws-1".into(),
        argv: vec!["cargo".into(), "test".into(), "two words".into()],
        cwd: Some("/projects/app".into()),
    })
    .await
    .unwrap();
    sink.record(exec(&["cargo", "test"], 101, "running 2 tests\n", "boom\n"))
        .await
        .unwrap();
    sink.record(EvidenceEvent::FileWritten {
        workspace: "ws-1".into(),
        path: "/projects/app/src/lib.rs".into(),
        bytes: 42,
        sha256: "ab12".into(),
    })
    .await
    .unwrap();
    sink.record(EvidenceEvent::ModelCall {
        model: "gpt-test".into(),
        prompt_tokens: 1200,
        completion_tokens: 340,
        latency_ms: 2_250,
        retries: 1,
    })
    .await
    .unwrap();
    sink.record(note("all done")).await.unwrap();
    sink.finish(RunOutcome::Succeeded).await.unwrap();

    let html = sink.report_html().unwrap();
    let expected = [
        "<strong>create</strong> workspace <code>ws-1</code> → running: ready",
        "<code>cargo test &#39;two words&#39;</code> in <code>/projects/app</code>",
        "<code>cargo test</code> <span class=\"badge bad\">exit code 101</span> after 1.500 s",
        "<summary>stdout (1 line, 16 bytes)</summary><pre>running 2 tests\n</pre>",
        "<summary>stderr (1 line, 5 bytes)</summary><pre>boom\n</pre>",
        "<code>/projects/app/src/lib.rs</code>, 42 bytes, sha256 <code>ab12</code>",
        "<code>gpt-test</code>: 1200 prompt + 340 completion tokens in 2.250 s, 1 retry",
        "<span class=\"msg\">all done</span>",
    ];
    let positions: Vec<usize> = expected.iter().map(|s| position(&html, s)).collect();
    assert!(positions.is_sorted(), "out of order: {positions:?}");
    for seq in 1..=6 {
        assert!(
            html.contains(&format!("<td class=\"num\">{seq}</td>")),
            "#{seq}"
        );
    }
    assert!(
        html.contains("<td class=\"when\"><time datetime=\""),
        "{html}"
    );
}

#[tokio::test]
async fn diffs_are_shown_with_added_and_removed_lines_marked() {
    let dir = tempfile::tempdir().unwrap();
    let sink = fs_sink(dir.path()).await;
    let diff = "--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1,2 +1,2 @@\n fn keep() {}\n-fn old() {}\n+fn new() {}\n";
    sink.artifact("changes/fix.patch", diff.as_bytes())
        .await
        .unwrap();
    sink.artifact("logs/build.txt", b"-not a diff\n")
        .await
        .unwrap();
    sink.finish(RunOutcome::Succeeded).await.unwrap();

    let html = read_report(&sink);
    let diffs =
        &html[position(&html, "<section id=\"diffs\">")..position(&html, "<section id=\"files\">")];
    for line in [
        "<span class=\"file\">--- a/src/lib.rs\n</span>",
        "<span class=\"file\">+++ b/src/lib.rs\n</span>",
        "<span class=\"hunk\">@@ -1,2 +1,2 @@\n</span>",
        "<span class=\"ctx\"> fn keep() {}\n</span>",
        "<span class=\"del\">-fn old() {}\n</span>",
        "<span class=\"add\">+fn new() {}\n</span>",
    ] {
        assert!(diffs.contains(line), "{line:?} in {diffs}");
    }
    assert!(
        diffs.contains("href=\"./artifacts/changes/fix.patch\""),
        "{diffs}"
    );
    assert!(!diffs.contains("not a diff"), "{diffs}");
    assert!(
        html.contains("<a href=\"./artifacts/logs/build.txt\">logs/build.txt</a> (12 bytes)"),
        "{html}"
    );
    assert!(
        dir.path()
            .join("run-1")
            .join(ARTIFACTS_DIR)
            .join("changes/fix.patch")
            .exists()
    );
}

#[tokio::test]
async fn long_output_is_cut_with_a_note_and_the_report_stays_small() {
    let sink = memory_sink();
    let long = "x".repeat(256 * 1024);
    for _ in 0..20 {
        sink.record(exec(&["yes"], 0, &long, &long)).await.unwrap();
    }
    sink.finish(RunOutcome::Succeeded).await.unwrap();

    let html = sink.report_html().unwrap();
    // 40 blocks of 256 KiB: each shows at most 64 KiB, and all together at most 2 MiB.
    assert!(
        html.len() < 2 * 1024 * 1024 + 256 * 1024,
        "{} bytes",
        html.len()
    );
    let cut_by_block = format!("{} more bytes are not shown", 192 * 1024);
    let cut_by_total = format!("{} more bytes are not shown", 256 * 1024);
    assert_eq!(html.matches(&cut_by_block).count(), 32);
    assert_eq!(html.matches(&cut_by_total).count(), 8);
}

#[tokio::test]
async fn events_past_the_limit_are_left_to_the_event_log() {
    let sink = memory_sink();
    for i in 1..=2_001 {
        sink.record(note(&format!("note number {i}.")))
            .await
            .unwrap();
    }
    sink.finish(RunOutcome::Succeeded).await.unwrap();

    let html = sink.report_html().unwrap();
    assert!(html.contains("note number 2000."));
    assert!(!html.contains("note number 2001."));
    assert!(
        html.contains("Only the first 2000 of 2001 events are shown"),
        "{}",
        &html[html.len() - 2000..]
    );
}

#[tokio::test]
async fn an_unreadable_event_line_is_shown_and_the_run_still_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let sink = fs_sink(dir.path()).await;
    sink.record(note("before")).await.unwrap();
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(sink.run_dir().join(EVENTS_FILE))
        .unwrap();
    std::io::Write::write_all(&mut log, b"{\"not\": \"an event\"}\n").unwrap();
    sink.finish(RunOutcome::Succeeded).await.unwrap();

    let html = read_report(&sink);
    assert!(html.contains("before"), "{html}");
    assert!(
        html.contains("<tr class=\"event unreadable bad\">"),
        "{html}"
    );
    assert!(
        html.contains("line 2 of events.jsonl is not an event"),
        "{html}"
    );
}

#[tokio::test]
async fn a_run_without_tests_events_or_artifacts_says_so() {
    let sink = memory_sink();
    sink.finish(RunOutcome::TimedOut).await.unwrap();

    let html = sink.report_html().unwrap();
    for text in [
        "<span id=\"outcome\" class=\"badge timed_out\">timed out</span>",
        "No tests were run.",
        "No events were recorded.",
        "No diffs were stored.",
        "No artifacts were stored.",
    ] {
        assert!(html.contains(text), "{text}: {html}");
    }
    assert!(!html.contains("<table id=\"tests\">"));
}

#[tokio::test]
async fn the_same_run_renders_to_the_same_bytes() {
    let sink = memory_sink();
    sink.record(exec(&["make"], 0, "ok\n", "")).await.unwrap();
    sink.record(test("unit", "a", TestOutcome::Passed))
        .await
        .unwrap();
    sink.artifact("a.diff", b"+x\n").await.unwrap();
    sink.finish(RunOutcome::Succeeded).await.unwrap();

    assert_eq!(sink.report_html().unwrap(), sink.report_html().unwrap());
}

#[tokio::test]
async fn the_report_fetches_nothing_and_runs_no_script() {
    let sink = memory_sink();
    sink.record(note("https://example.com/x.js")).await.unwrap();
    sink.finish(RunOutcome::Succeeded).await.unwrap();

    let html = sink.report_html().unwrap();
    assert!(
        html.contains("content=\"default-src 'none'; style-src 'unsafe-inline'\""),
        "{html}"
    );
    for tag in ["<script", "<link", "<img", "<iframe", "@import", "url("] {
        assert!(!html.contains(tag), "{tag}");
    }
    for href in html.split("href=\"").skip(1) {
        assert!(href.starts_with("./") || href.starts_with('#'), "{href}");
    }
}
