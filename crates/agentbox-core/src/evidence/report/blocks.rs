//! Blocks of text that can be long: command and test output, and diffs.

use std::fmt::{self, Write};

use super::html::{Escaped, cut, href};
use super::{MAX_BLOCK, Page, ReportArtifact, clean, is_diff};
use crate::evidence::EVENTS_FILE;

impl Page<'_> {
    /// A block of output in a collapsed `<details>`; nothing when it is empty.
    pub(super) fn output(&mut self, label: &str, text: &str) -> fmt::Result {
        let text = clean(self.redactor, text);
        if text.is_empty() {
            return Ok(());
        }
        let lines = text.lines().count();
        write!(
            self.out,
            "<details><summary>{label} ({lines} {}, {} bytes)</summary><pre>",
            if lines == 1 { "line" } else { "lines" },
            text.len()
        )?;
        let left_out = self.block(&text, |out, shown| write!(out, "{}", Escaped(shown)))?;
        self.out.push_str("</pre>");
        self.cut_note(left_out, EVENTS_FILE)?;
        self.out.push_str("</details>");
        Ok(())
    }

    /// Write as much of `text` as the limits allow with `write`; returns the bytes left out.
    fn block(
        &mut self,
        text: &str,
        write: impl FnOnce(&mut String, &str) -> fmt::Result,
    ) -> Result<usize, fmt::Error> {
        let (shown, left_out) = cut(text, MAX_BLOCK.min(self.budget));
        self.budget -= shown.len();
        write(&mut self.out, shown)?;
        Ok(left_out)
    }

    /// Say how much of a block was left out, and which file holds all of it.
    fn cut_note(&mut self, left_out: usize, file: &str) -> fmt::Result {
        if left_out == 0 {
            return Ok(());
        }
        write!(
            self.out,
            "<p class=\"remark\">{left_out} more bytes are not shown (the report is kept small); \
             see <a href=\"{}\">{}</a>.</p>",
            href(file),
            self.t(file)
        )
    }

    pub(super) fn diffs(&mut self, artifacts: &[ReportArtifact]) -> fmt::Result {
        self.out
            .push_str("<section id=\"diffs\">\n<h2>Diffs</h2>\n");
        let diffs: Vec<_> = artifacts.iter().filter(|a| is_diff(&a.path)).collect();
        if diffs.is_empty() {
            self.out.push_str("<p>No diffs were stored.</p>\n");
        }
        for artifact in diffs {
            let file = format!("artifacts/{}", artifact.path);
            writeln!(
                self.out,
                "<h3><a href=\"{}\">{}</a></h3>",
                href(&file),
                self.t(&artifact.path)
            )?;
            let Some(diff) = &artifact.diff else {
                writeln!(
                    self.out,
                    "<p class=\"remark\">Too large to show ({} bytes); open the file.</p>",
                    artifact.bytes
                )?;
                continue;
            };
            let text = clean(self.redactor, diff);
            self.out.push_str("<pre class=\"diff\">");
            let left_out = self.block(&text, |out, shown| {
                shown.lines().try_for_each(|line| {
                    write!(
                        out,
                        "<span class=\"{}\">{}\n</span>",
                        diff_class(line),
                        Escaped(line)
                    )
                })
            })?;
            self.out.push_str("</pre>\n");
            self.cut_note(left_out, &file)?;
        }
        writeln!(self.out, "</section>")
    }
}

/// The class of a line of a unified diff: a file header, a hunk header, added, removed or
/// context.
fn diff_class(line: &str) -> &'static str {
    const FILE: [&str; 4] = ["diff ", "index ", "--- ", "+++ "];
    if FILE.iter().any(|p| line.starts_with(p)) {
        "file"
    } else if line.starts_with("@@") {
        "hunk"
    } else if line.starts_with('+') {
        "add"
    } else if line.starts_with('-') {
        "del"
    } else {
        "ctx"
    }
}
