//! The timeline: every event in order, with its time since the run started.

use std::fmt::{self, Write};

use super::html::{Escaped, duration, href};
use super::{EventLine, MAX_EVENTS, Page, clean, test_outcome};
use crate::contract::Verdict;
use crate::evidence::{EVENTS_FILE, EvidenceEvent, RecordedEvent, RunRecord, TestOutcome};

impl Page<'_> {
    pub(super) fn timeline(
        &mut self,
        record: &RunRecord,
        events: impl IntoIterator<Item = EventLine>,
    ) -> fmt::Result {
        self.out
            .push_str("<section id=\"timeline\">\n<h2>Timeline</h2>\n");
        let mut events = events.into_iter().peekable();
        if events.peek().is_none() {
            return writeln!(self.out, "<p>No events were recorded.</p>\n</section>");
        }
        self.out.push_str(
            "<table id=\"events\">\n<thead><tr><th scope=\"col\" class=\"num\">#</th>\
             <th scope=\"col\">Time</th><th scope=\"col\">Event</th><th scope=\"col\">Details</th>\
             </tr></thead>\n<tbody>\n",
        );
        for line in events.by_ref().take(MAX_EVENTS) {
            match line {
                Ok(recorded) => self.event(&recorded)?,
                Err(problem) => writeln!(
                    self.out,
                    "<tr class=\"event unreadable bad\"><td class=\"num\">?</td><td class=\"when\"></td>\
                     <td class=\"kind\">unreadable</td><td>{}</td></tr>",
                    self.t(&problem)
                )?,
            }
        }
        self.out.push_str("</tbody>\n</table>\n");
        if events.next().is_some() {
            writeln!(
                self.out,
                "<p class=\"remark\">Only the first {MAX_EVENTS} of {} events are shown; \
                 <a href=\"{}\">{EVENTS_FILE}</a> has them all.</p>",
                record.events,
                href(EVENTS_FILE)
            )?;
        }
        writeln!(self.out, "</section>")
    }

    fn event(&mut self, recorded: &RecordedEvent) -> fmt::Result {
        let (kind, label, status) = match &recorded.event {
            EvidenceEvent::Lifecycle { .. } => ("lifecycle", "lifecycle", ""),
            EvidenceEvent::ExecStarted { .. } => ("exec-started", "command started", ""),
            EvidenceEvent::ExecFinished { exit, .. } => (
                "exec-finished",
                "command finished",
                if exit.success() { " ok" } else { " bad" },
            ),
            EvidenceEvent::FileWritten { .. } => ("file-written", "file written", ""),
            EvidenceEvent::ModelCall { .. } => ("model-call", "model call", ""),
            EvidenceEvent::Permission { verdict, .. } => (
                "permission",
                "permission",
                match verdict {
                    Verdict::Allow => " allowed",
                    Verdict::Deny => " denied",
                },
            ),
            EvidenceEvent::Test(test) => ("test", "test", test_outcome_class(test.outcome)),
            EvidenceEvent::Note { .. } => ("note", "note", ""),
        };
        write!(
            self.out,
            "<tr class=\"event {kind}{status}\"><td class=\"num\">{}</td>\
             <td class=\"when\"><time datetime=\"{}\">+{}</time></td><td class=\"kind\">{label}</td><td>",
            recorded.seq,
            recorded.at.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
            duration(self.since_start(recorded.at))
        )?;
        self.event_details(&recorded.event)?;
        self.out.push_str("</td></tr>\n");
        Ok(())
    }

    fn event_details(&mut self, event: &EvidenceEvent) -> fmt::Result {
        match event {
            EvidenceEvent::Lifecycle {
                workspace,
                operation,
                phase,
                message,
            } => {
                write!(
                    self.out,
                    "<strong>{}</strong> workspace <code>{}</code>",
                    self.t(operation),
                    self.t(workspace)
                )?;
                if let Some(phase) = phase {
                    write!(self.out, " → {phase}")?;
                }
                if let Some(message) = message {
                    write!(self.out, ": {}", self.t(message))?;
                }
            }
            EvidenceEvent::ExecStarted { argv, cwd, .. } => {
                write!(self.out, "<code>{}</code>", self.argv(argv))?;
                if let Some(cwd) = cwd {
                    write!(self.out, " in <code>{}</code>", self.t(cwd))?;
                }
            }
            EvidenceEvent::ExecFinished {
                argv,
                exit,
                duration_ms,
                stdout,
                stderr,
                truncated,
                ..
            } => {
                let class = if exit.success() { "ok" } else { "bad" };
                write!(
                    self.out,
                    "<code>{}</code> <span class=\"badge {class}\">{exit}</span> after {}",
                    self.argv(argv),
                    duration(*duration_ms)
                )?;
                if *truncated {
                    self.out
                        .push_str(" <span class=\"remark\">(output was cut when recorded)</span>");
                }
                self.output("stdout", stdout)?;
                self.output("stderr", stderr)?;
            }
            EvidenceEvent::FileWritten {
                path,
                bytes,
                sha256,
                ..
            } => write!(
                self.out,
                "<code>{}</code>, {bytes} bytes, sha256 <code>{}</code>",
                self.t(path),
                self.t(sha256)
            )?,
            EvidenceEvent::ModelCall {
                model,
                prompt_tokens,
                completion_tokens,
                latency_ms,
                retries,
            } => write!(
                self.out,
                "<code>{}</code>: {prompt_tokens} prompt + {completion_tokens} completion tokens \
                 in {}, {retries} {}",
                self.t(model),
                duration(*latency_ms),
                if *retries == 1 { "retry" } else { "retries" }
            )?,
            EvidenceEvent::Permission {
                action,
                verdict,
                rule,
            } => {
                let verdict = match verdict {
                    Verdict::Allow => "allowed",
                    Verdict::Deny => "denied",
                };
                write!(
                    self.out,
                    "<code>{}</code> <span class=\"badge {verdict}\">{verdict}</span> ",
                    self.t(action)
                )?;
                match rule {
                    Some(rule) => write!(self.out, "by rule <code>{}</code>", self.t(rule))?,
                    None => self.out.push_str("by default (no rule matched)"),
                }
            }
            EvidenceEvent::Test(test) => {
                let outcome = test_outcome(test.outcome);
                write!(
                    self.out,
                    "{} › <strong>{}</strong> <span class=\"badge {outcome}\">{outcome}</span> in {}",
                    self.t(&test.suite),
                    self.t(&test.name),
                    duration(test.duration_ms)
                )?;
                if let Some(message) = &test.message {
                    write!(self.out, "<div class=\"msg\">{}</div>", self.t(message))?;
                }
            }
            EvidenceEvent::Note { message } => {
                write!(self.out, "<span class=\"msg\">{}</span>", self.t(message))?
            }
        }
        Ok(())
    }

    /// An argv as one shell-quoted line; each argument is redacted before quoting, so quoting
    /// cannot split a secret.
    fn argv(&self, argv: &[String]) -> String {
        let args: Vec<String> = argv.iter().map(|a| clean(self.redactor, a)).collect();
        let joined =
            shlex::try_join(args.iter().map(String::as_str)).unwrap_or_else(|_| args.join(" "));
        Escaped(&joined).to_string()
    }
}

fn test_outcome_class(outcome: TestOutcome) -> &'static str {
    match outcome {
        TestOutcome::Failed | TestOutcome::Error => " bad",
        TestOutcome::Passed | TestOutcome::Skipped => "",
    }
}
