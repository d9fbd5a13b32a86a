//! The run's HTML report (`index.html`) in a real browser: Debian's Chromium, headless and
//! offline, renders a run with passed and failed tests. The DOM it builds must hold the
//! test-results table with the right rows and counts, and its screenshot must be a real page
//! (the right size, many colours, the failed test's row highlighted), not a blank one.
//!
//! Optional: skipped, with the reason printed, when `/usr/bin/chromium` is missing
//! (`apt-get install -y chromium` installs it). Set `AGENTBOX_KEEP_SCREENSHOT=<file.png>` to
//! keep the screenshot and look at it.
#![cfg(unix)]

use agentbox::evidence::{
    EvidenceEvent, EvidenceSink, FsEvidenceSink, REPORT_FILE, RunInfo, RunOutcome, TestOutcome,
    TestResult,
};
use agentbox::exec::ExitStatus;
use agentbox::provider::Phase;
use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

const CHROMIUM: &str = "/usr/bin/chromium";
/// Longer than any healthy run (a few seconds); a run that reaches it has hung.
const HANG_GUARD: Duration = Duration::from_secs(60);
const WIDTH: u32 = 1280;
const HEIGHT: u32 = 2000;
/// The background of a failed test's row (`tr.test.failed` in the report's CSS).
const FAILED_ROW: [u8; 3] = [0xff, 0xf5, 0xf5];

const PASSED: [&str; 3] = [
    "parses_positive_numbers",
    "parses_zero",
    "rejects_empty_input",
];
const FAILED: &str = "parses_negative_numbers";

/// A finished run through [`FsEvidenceSink`]: a command, three passed tests and a failed one,
/// a denied permission and a diff. Returns the report's path.
async fn record_run(dir: &Path) -> PathBuf {
    let sink = FsEvidenceSink::create(dir, RunInfo::with_id("chromium-run"))
        .await
        .unwrap();
    sink.record(EvidenceEvent::Lifecycle {
        workspace: "ws-1".into(),
        operation: "create".into(),
        phase: Some(Phase::Running),
        message: None,
    })
    .await
    .unwrap();
    sink.record(EvidenceEvent::Permission {
        action: "shell(git push --force)".into(),
        verdict: agentbox::contract::Verdict::Deny,
        rule: None,
    })
    .await
    .unwrap();
    sink.record(EvidenceEvent::ExecFinished {
        workspace: "ws-1".into(),
        argv: vec!["cargo".into(), "test".into()],
        exit: ExitStatus::Code(101),
        duration_ms: 4_200,
        stdout: "running 4 tests\n<script>alert(1)</script>\n".into(),
        stderr: "test parses_negative_numbers ... FAILED\n".into(),
        truncated: false,
    })
    .await
    .unwrap();
    for name in PASSED {
        let test = TestResult::new("unit", name, TestOutcome::Passed, Duration::from_millis(3));
        sink.record(EvidenceEvent::Test(test)).await.unwrap();
    }
    let mut failed = TestResult::new(
        "unit",
        FAILED,
        TestOutcome::Failed,
        Duration::from_millis(7),
    );
    failed.message = Some("assertion `left == right` failed: left: 1, right: -1".into());
    sink.record(EvidenceEvent::Test(failed)).await.unwrap();
    sink.artifact(
        "fix.diff",
        b"--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1 +1 @@\n-    s.parse().ok()\n+    s.trim().parse().ok()\n",
    )
    .await
    .unwrap();
    sink.finish(RunOutcome::Failed {
        reason: "1 test failed".into(),
    })
    .await
    .unwrap();
    sink.run_dir().join(REPORT_FILE)
}

/// Run headless Chromium on `page` with `args`, offline, with a throwaway profile and home.
async fn chromium(page: &Path, args: &[OsString]) -> std::process::Output {
    let profile = tempfile::tempdir().unwrap();
    let mut user_data_dir = OsString::from("--user-data-dir=");
    user_data_dir.push(profile.path());
    let mut url = OsString::from("file://");
    url.push(page);
    let mut command = tokio::process::Command::new(CHROMIUM);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(user_data_dir)
        .arg(format!("--window-size={WIDTH},{HEIGHT}"))
        .args(args)
        .arg(url)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", profile.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let output = tokio::time::timeout(HANG_GUARD, command.output())
        .await
        .unwrap_or_else(|_| panic!("chromium did not finish within {HANG_GUARD:?}; killed it"))
        .unwrap();
    assert!(
        output.status.success(),
        "chromium failed with {}:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The element of `dom` that starts with `start` (up to its `end` tag).
fn element<'a>(dom: &'a str, start: &str, end: &str) -> &'a str {
    let from = dom
        .find(start)
        .unwrap_or_else(|| panic!("the rendered DOM has no {start:?}:\n{dom}"));
    let to = from + dom[from..].find(end).unwrap() + end.len();
    &dom[from..to]
}

#[tokio::test]
async fn chromium_renders_the_reports_test_results() {
    if !Path::new(CHROMIUM).is_file() {
        eprintln!("skipped: {CHROMIUM} is missing; install it with `apt-get install -y chromium`");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let page = record_run(dir.path()).await;

    // The DOM Chromium built from the page.
    let dom = chromium(&page, &["--dump-dom".into()]).await;
    let dom = String::from_utf8(dom.stdout).unwrap();
    let table = element(&dom, "<table id=\"tests\">", "</table>");
    assert_eq!(
        table.matches("<tr class=\"test passed\">").count(),
        3,
        "{table}"
    );
    assert_eq!(
        table.matches("<tr class=\"test failed\">").count(),
        1,
        "{table}"
    );
    let failed_row = element(table, "<tr class=\"test failed\">", "</tr>");
    assert!(
        failed_row.contains(&format!("<td>{FAILED}</td>")),
        "{failed_row}"
    );
    assert!(failed_row.contains("left: 1, right: -1"), "{failed_row}");
    for name in PASSED {
        assert!(
            table.contains(&format!("<td>{name}</td>")),
            "{name}: {table}"
        );
    }
    let counts = element(&dom, "<p id=\"test-counts\"", "</p>");
    assert!(
        counts.contains("4 tests: <span class=\"passed\">3 passed</span>, <span class=\"failed\">1 failed</span>"),
        "{counts}"
    );
    assert!(
        dom.contains("<span id=\"outcome\" class=\"badge failed\">failed</span>"),
        "{dom}"
    );
    // The hostile command output became text, not an element.
    assert!(!dom.contains("<script"), "{dom}");
    assert!(
        dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{dom}"
    );

    // What it looks like.
    let png = dir.path().join("report.png");
    let mut screenshot = OsString::from("--screenshot=");
    screenshot.push(&png);
    chromium(&page, &[screenshot]).await;
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR", "no IHDR chunk first");
    let be32 = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    assert_eq!((be32(16), be32(20)), (WIDTH, HEIGHT));

    let decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    let channels = frame.color_type.samples();
    assert_eq!(frame.bit_depth, png::BitDepth::Eight);
    assert!(channels >= 3, "{:?}", frame.color_type);
    let rgb: Vec<[u8; 3]> = pixels[..frame.buffer_size()]
        .chunks_exact(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    let colours: HashSet<[u8; 3]> = rgb.iter().copied().collect();
    assert!(
        colours.len() >= 32,
        "only {} colours: a blank page?",
        colours.len()
    );
    let not_white = rgb.iter().filter(|p| **p != [0xff; 3]).count();
    assert!(
        not_white * 50 > rgb.len(),
        "only {not_white} of {} pixels are not white",
        rgb.len()
    );
    let failed_row = rgb.iter().filter(|p| **p == FAILED_ROW).count();
    assert!(
        failed_row > 1_000,
        "the failed test's row is not highlighted ({failed_row} pixels)"
    );
    if let Some(keep) = std::env::var_os("AGENTBOX_KEEP_SCREENSHOT") {
        std::fs::copy(&png, &keep).unwrap();
        eprintln!("screenshot kept at {}", Path::new(&keep).display());
    }
}
