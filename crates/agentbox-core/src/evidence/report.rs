//! The run's HTML report, `index.html`: one self-contained page (inline CSS, no scripts, nothing
//! fetched) with the run's summary, its test results, a timeline of every event with command
//! output, the diffs it stored, and links to the other files — readable offline in any browser.
//!
//! Every piece of text is cleaned (ANSI escapes and control characters removed), redacted with
//! the run's [`Redactor`] (again, so values registered after an event was recorded are caught
//! too), cut to the size limits, and only then HTML-escaped. The page depends on its inputs
//! alone: the same run renders to the same bytes.

mod blocks;
mod files;
mod html;
mod timeline;

use chrono::{DateTime, Utc};
use quick_junit::XmlString;
use std::fmt::{self, Write};
use std::path::Path;

use super::{
    EVENTS_FILE, JUNIT_FILE, RUN_FILE, RecordedEvent, Redactor, RunOutcome, RunRecord, TestOutcome,
    TestResult,
};
use html::{Escaped, duration, href};

pub(crate) use files::{read_artifacts, read_events};

/// Most bytes shown of one block of text (a command's stdout, a test's output, a diff).
const MAX_BLOCK: usize = 64 * 1024;
/// Most bytes of such blocks shown in the whole report.
const MAX_TEXT: usize = 2 * 1024 * 1024;
/// Most events shown in the timeline.
const MAX_EVENTS: usize = 2_000;
/// Largest diff read back to be shown; larger ones are only linked.
pub(crate) const MAX_DIFF_READ: u64 = 8 * 1024 * 1024;

const STYLE: &str = include_str!("report/style.css");

/// One line of the event log: the event, or why it could not be read.
pub(crate) type EventLine = Result<RecordedEvent, String>;

/// An artifact as the report shows it.
#[derive(Debug)]
pub(crate) struct ReportArtifact {
    /// Its path under `artifacts/`, `/`-separated, as stored (redacted).
    pub path: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// For a diff or patch no larger than [`MAX_DIFF_READ`]: its text.
    pub diff: Option<String>,
}

impl ReportArtifact {
    /// An artifact whose content is at hand.
    pub(crate) fn from_content(path: String, content: &[u8]) -> Self {
        let bytes = u64::try_from(content.len()).unwrap_or(u64::MAX);
        let diff = (is_diff(&path) && bytes <= MAX_DIFF_READ)
            .then(|| String::from_utf8_lossy(content).into_owned());
        Self { path, bytes, diff }
    }
}

/// Whether an artifact is shown as a diff: its name ends in `.diff` or `.patch`.
pub(crate) fn is_diff(path: &str) -> bool {
    Path::new(path)
        .extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("diff") || ext.eq_ignore_ascii_case("patch"))
}

/// The report for a run: its record, test results, event log and artifacts.
pub(crate) fn render(
    record: &RunRecord,
    tests: &[TestResult],
    events: impl IntoIterator<Item = EventLine>,
    artifacts: &[ReportArtifact],
    redactor: &Redactor,
) -> Result<String, fmt::Error> {
    let mut page = Page {
        out: String::new(),
        redactor,
        started_at: record.started_at,
        budget: MAX_TEXT,
    };
    page.head(record)?;
    page.summary(record)?;
    page.tests(record, tests)?;
    page.timeline(record, events)?;
    page.diffs(artifacts)?;
    page.files(artifacts)?;
    page.out.push_str(
        "</main>\n<footer>Written by agentbox. Secrets are redacted; long output is cut — the \
         files above hold every event in full.</footer>\n</body>\n</html>\n",
    );
    Ok(page.out)
}

/// The page being written.
struct Page<'a> {
    out: String,
    redactor: &'a Redactor,
    started_at: DateTime<Utc>,
    /// Bytes of blocks still allowed (see [`MAX_TEXT`]).
    budget: usize,
}

/// Text for the page: cleaned, redacted, then escaped when displayed.
struct Text<'a> {
    redactor: &'a Redactor,
    raw: &'a str,
}

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Escaped(&clean(self.redactor, self.raw)).fmt(f)
    }
}

/// `s` without ANSI escapes or control characters (but `\t`, `\n`, `\r`), then redacted.
///
/// Cleaning first means removing a character cannot join two halves of a secret.
fn clean(redactor: &Redactor, s: &str) -> String {
    redactor.redact(XmlString::new(s).as_str())
}

impl<'a> Page<'a> {
    /// `raw` as page text; borrows the redactor, not the page, so it can be written to it.
    fn t<'s>(&self, raw: &'s str) -> Text<'s>
    where
        'a: 's,
    {
        Text {
            redactor: self.redactor,
            raw,
        }
    }

    fn head(&mut self, record: &RunRecord) -> fmt::Result {
        write!(
            self.out,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
             <title>agentbox run {id}: {outcome}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n\
             <header>\n<h1>agentbox run <code>{id}</code></h1>\n<nav aria-label=\"Sections\"><ul>\
             <li><a href=\"#summary\">Summary</a></li><li><a href=\"#test-results\">Test results</a></li>\
             <li><a href=\"#timeline\">Timeline</a></li><li><a href=\"#diffs\">Diffs</a></li>\
             <li><a href=\"#files\">Files</a></li></ul></nav>\n</header>\n<main>\n",
            id = self.t(&record.run_id),
            outcome = outcome_label(&record.outcome),
        )
    }

    fn summary(&mut self, record: &RunRecord) -> fmt::Result {
        let status = record.outcome.status();
        write!(
            self.out,
            "<section id=\"summary\">\n<h2>Summary</h2>\n<dl class=\"summary\">\n\
             <dt>Outcome</dt><dd><span id=\"outcome\" class=\"badge {status}\">{}</span>",
            outcome_label(&record.outcome)
        )?;
        if let RunOutcome::Failed { reason } = &record.outcome {
            write!(self.out, " {}", self.t(reason))?;
        }
        self.out.push_str("</dd>\n");
        let none = "<span class=\"muted\">none</span>";
        for (term, value) in [
            ("Backend", &record.backend),
            ("Contract hash", &record.contract_hash),
        ] {
            match value {
                Some(value) => writeln!(
                    self.out,
                    "<dt>{term}</dt><dd><code>{}</code></dd>",
                    self.t(value)
                )?,
                None => writeln!(self.out, "<dt>{term}</dt><dd>{none}</dd>")?,
            }
        }
        writeln!(
            self.out,
            "<dt>Started</dt><dd>{}</dd>",
            time(record.started_at)
        )?;
        match record.finished_at {
            Some(end) => writeln!(
                self.out,
                "<dt>Finished</dt><dd>{}</dd>\n<dt>Duration</dt><dd>{}</dd>",
                time(end),
                duration(self.since_start(end))
            )?,
            None => writeln!(self.out, "<dt>Finished</dt><dd>not yet</dd>")?,
        }
        self.out.push_str("<dt>Workspaces</dt><dd>");
        if record.workspaces.is_empty() {
            self.out.push_str(none);
        }
        for (i, workspace) in record.workspaces.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(self.out, "{sep}<code>{}</code>", self.t(workspace))?;
        }
        writeln!(
            self.out,
            "</dd>\n<dt>Events</dt><dd>{}</dd>\n</dl>\n</section>",
            record.events
        )
    }

    fn tests(&mut self, record: &RunRecord, tests: &[TestResult]) -> fmt::Result {
        self.out
            .push_str("<section id=\"test-results\">\n<h2>Test results</h2>\n");
        let counts = &record.tests;
        if tests.is_empty() {
            return writeln!(
                self.out,
                "<p id=\"test-counts\" class=\"counts\">No tests were run.</p>\n</section>"
            );
        }
        write!(
            self.out,
            "<p id=\"test-counts\" class=\"counts\">{} tests: ",
            counts.total()
        )?;
        for (i, (n, class, label)) in [
            (counts.passed, "passed", "passed"),
            (counts.failed, "failed", "failed"),
            (counts.errors, "error", "errors"),
            (counts.skipped, "skipped", "skipped"),
        ]
        .into_iter()
        .enumerate()
        {
            let sep = if i == 0 { "" } else { ", " };
            // Only counts that are not zero get their outcome's colour.
            let class = if n == 0 { "muted" } else { class };
            write!(self.out, "{sep}<span class=\"{class}\">{n} {label}</span>")?;
        }
        self.out.push_str(
            "</p>\n<table id=\"tests\">\n<thead><tr><th scope=\"col\">Suite</th>\
             <th scope=\"col\">Test</th><th scope=\"col\">Outcome</th>\
             <th scope=\"col\" class=\"num\">Duration</th><th scope=\"col\">Message</th></tr>\
             </thead>\n<tbody>\n",
        );
        for test in tests {
            let outcome = test_outcome(test.outcome);
            write!(
                self.out,
                "<tr class=\"test {outcome}\"><td>{}</td><td>{}</td>\
                 <td><span class=\"badge {outcome}\">{outcome}</span></td>\
                 <td class=\"num\">{}</td><td class=\"msg\">",
                self.t(&test.suite),
                self.t(&test.name),
                duration(test.duration_ms)
            )?;
            if let Some(message) = &test.message {
                write!(self.out, "{}", self.t(message))?;
            }
            if let Some(output) = &test.output {
                self.output("output", output)?;
            }
            self.out.push_str("</td></tr>\n");
        }
        writeln!(self.out, "</tbody>\n</table>\n</section>")
    }

    fn files(&mut self, artifacts: &[ReportArtifact]) -> fmt::Result {
        write!(
            self.out,
            "<section id=\"files\">\n<h2>Files</h2>\n<ul>\n\
             <li><a href=\"{}\">{RUN_FILE}</a>: the run record</li>\n\
             <li><a href=\"{}\">{EVENTS_FILE}</a>: every event, one JSON object per line</li>\n\
             <li><a href=\"{}\">{JUNIT_FILE}</a>: the test results as JUnit XML</li>\n</ul>\n\
             <h3>Artifacts</h3>\n",
            href(RUN_FILE),
            href(EVENTS_FILE),
            href(JUNIT_FILE)
        )?;
        if artifacts.is_empty() {
            self.out.push_str("<p>No artifacts were stored.</p>\n");
        } else {
            self.out.push_str("<ul>\n");
            for artifact in artifacts {
                writeln!(
                    self.out,
                    "<li><a href=\"{}\">{}</a> ({} bytes)</li>",
                    href(&format!("artifacts/{}", artifact.path)),
                    self.t(&artifact.path),
                    artifact.bytes
                )?;
            }
            self.out.push_str("</ul>\n");
        }
        writeln!(self.out, "</section>")
    }

    /// Milliseconds from the run's start to `at` (zero for earlier times).
    fn since_start(&self, at: DateTime<Utc>) -> u64 {
        u64::try_from((at - self.started_at).num_milliseconds()).unwrap_or(0)
    }
}

fn time(at: DateTime<Utc>) -> impl fmt::Display {
    at.format("%Y-%m-%d %H:%M:%S%.3f UTC")
}

fn outcome_label(outcome: &RunOutcome) -> &'static str {
    match outcome {
        RunOutcome::Running => "running",
        RunOutcome::Succeeded => "succeeded",
        RunOutcome::Failed { .. } => "failed",
        RunOutcome::TimedOut => "timed out",
        RunOutcome::Cancelled => "cancelled",
    }
}

fn test_outcome(outcome: TestOutcome) -> &'static str {
    match outcome {
        TestOutcome::Passed => "passed",
        TestOutcome::Failed => "failed",
        TestOutcome::Error => "error",
        TestOutcome::Skipped => "skipped",
    }
}
