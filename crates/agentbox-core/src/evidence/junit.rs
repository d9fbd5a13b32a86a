//! Rendering a run's test results as JUnit XML, shared by every sink.
//!
//! Tests become test cases grouped into one `<testsuite>` per [`TestResult::suite`]. One more
//! suite, named after the run, carries the run's id, outcome, backend and contract hash as
//! properties, says "no tests were run" when there were none, and holds an `<error>` test case
//! named `run` when the run did not succeed — so CI shows a failed, timed-out or cancelled run
//! as red even when no test failed.

use indexmap::IndexMap;
use quick_junit::{
    NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite, XmlString,
};
use std::time::Duration;

use super::{Redactor, RunOutcome, RunRecord, TestOutcome, TestResult};

/// What the run's suite says when no test was recorded.
pub(crate) const NO_TESTS: &str = "no tests were run";

/// The JUnit XML for a run, with every registered secret redacted.
pub(crate) fn render(
    record: &RunRecord,
    tests: &[TestResult],
    redactor: &Redactor,
) -> Result<String, quick_junit::SerializeError> {
    let text = |s: &str| xml_text(redactor, s);
    let run_name = text(&format!("agentbox run {}", record.run_id));

    let mut suites: IndexMap<&str, TestSuite> = IndexMap::new();
    for test in tests {
        suites
            .entry(test.suite.as_str())
            .or_insert_with(|| TestSuite::new(text(&test.suite)))
            .add_test_case(test_case(test, &text));
    }

    let mut run = TestSuite::new(run_name.clone());
    run.add_property(Property::new("run_id", text(&record.run_id)))
        .add_property(Property::new("outcome", record.outcome.status()));
    if let RunOutcome::Failed { reason } = &record.outcome {
        run.add_property(Property::new("reason", text(reason)));
    }
    if let Some(backend) = &record.backend {
        run.add_property(Property::new("backend", text(backend)));
    }
    if let Some(hash) = &record.contract_hash {
        run.add_property(Property::new("contract_hash", text(hash)));
    }
    if tests.is_empty() {
        run.set_system_out(NO_TESTS);
    }
    if let Some(problem) = run_problem(&record.outcome) {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status
            .set_message(text(&problem))
            .set_type(record.outcome.status());
        run.add_test_case(TestCase::new("run", status));
    }

    let mut report = Report::new(run_name);
    report.set_timestamp(record.started_at);
    if let Some(time) = record
        .finished_at
        .and_then(|end| (end - record.started_at).to_std().ok())
    {
        report.set_time(time);
        run.set_time(time);
    }
    report.add_test_suites(suites.into_values());
    report.add_test_suite(run);
    report.to_string()
}

fn test_case(test: &TestResult, text: &impl Fn(&str) -> XmlString) -> TestCase {
    let mut status = match test.outcome {
        TestOutcome::Passed => TestCaseStatus::success(),
        TestOutcome::Failed => TestCaseStatus::non_success(NonSuccessKind::Failure),
        TestOutcome::Error => TestCaseStatus::non_success(NonSuccessKind::Error),
        TestOutcome::Skipped => TestCaseStatus::skipped(),
    };
    if let Some(message) = &test.message {
        status.set_message(text(message));
    }
    let mut case = TestCase::new(text(&test.name), status);
    case.set_classname(text(&test.suite))
        .set_time(Duration::from_millis(test.duration_ms));
    if let Some(output) = &test.output {
        case.set_system_out(text(output));
    }
    case
}

/// Why the run itself counts as an error, or `None` when it succeeded.
fn run_problem(outcome: &RunOutcome) -> Option<String> {
    match outcome {
        RunOutcome::Succeeded => None,
        RunOutcome::Failed { reason } => Some(format!("the run failed: {reason}")),
        RunOutcome::TimedOut => Some("the run timed out".to_owned()),
        RunOutcome::Cancelled => Some("the run was cancelled before it finished".to_owned()),
        RunOutcome::Running => Some("the run has not finished".to_owned()),
    }
}

/// `s` made fit for XML (control characters and ANSI escapes removed), then redacted.
///
/// Sanitising first means removing a control character cannot join two halves of a secret.
fn xml_text(redactor: &Redactor, s: &str) -> XmlString {
    XmlString::new(redactor.redact(XmlString::new(s).as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::TestCounts;
    use chrono::{TimeZone, Utc};
    use secrecy::SecretString;

    fn record(outcome: RunOutcome) -> RunRecord {
        let started_at = Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).single().unwrap();
        RunRecord {
            run_id: "run-1".into(),
            contract_hash: Some("abc".into()),
            backend: Some("local".into()),
            workspaces: vec![],
            started_at,
            finished_at: Some(started_at + chrono::Duration::seconds(3)),
            outcome,
            events: 0,
            tests: TestCounts::default(),
        }
    }

    fn parse(xml: &str) -> Report {
        Report::deserialize_from_str(xml).unwrap()
    }

    #[test]
    fn tests_are_grouped_by_suite_with_times_and_messages() {
        let mut failed = TestResult::new(
            "unit",
            "b",
            TestOutcome::Failed,
            Duration::from_millis(1500),
        );
        failed.message = Some("expected 1, got 2".into());
        failed.output = Some("assertion output".into());
        let tests = [
            TestResult::new("unit", "a", TestOutcome::Passed, Duration::from_millis(10)),
            TestResult::new("lint", "c", TestOutcome::Skipped, Duration::ZERO),
            failed,
        ];
        let report =
            parse(&render(&record(RunOutcome::Succeeded), &tests, &Redactor::new()).unwrap());

        assert_eq!((report.tests, report.failures, report.skipped), (3, 1, 1));
        let names: Vec<_> = report.test_suites.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["unit", "lint", "agentbox run run-1"]);
        let unit = &report.test_suites[0];
        assert_eq!(unit.tests, 2);
        let b = &unit.test_cases[1];
        assert_eq!(b.time, Some(Duration::from_millis(1500)));
        assert_eq!(
            b.system_out.as_ref().map(|s| s.as_str()),
            Some("assertion output")
        );
        assert!(matches!(
            &b.status,
            TestCaseStatus::NonSuccess { kind: NonSuccessKind::Failure, message: Some(m), .. } if m.as_str() == "expected 1, got 2"
        ));
    }

    #[test]
    fn a_run_without_tests_says_so() {
        let report = parse(&render(&record(RunOutcome::Succeeded), &[], &Redactor::new()).unwrap());
        assert_eq!(report.tests, 0);
        let run = &report.test_suites[0];
        assert_eq!(run.system_out.as_ref().map(|s| s.as_str()), Some(NO_TESTS));
        assert!(
            run.properties
                .iter()
                .any(|p| p.name.as_str() == "outcome" && p.value.as_str() == "succeeded")
        );
    }

    #[test]
    fn an_unsuccessful_run_is_an_error_case_named_run() {
        let outcome = RunOutcome::Failed {
            reason: "agent gave up".into(),
        };
        let report = parse(&render(&record(outcome), &[], &Redactor::new()).unwrap());
        assert_eq!((report.tests, report.errors), (1, 1));
        let case = &report.test_suites[0].test_cases[0];
        assert_eq!(case.name.as_str(), "run");
        assert!(matches!(
            &case.status,
            TestCaseStatus::NonSuccess { kind: NonSuccessKind::Error, message: Some(m), .. } if m.as_str().contains("agent gave up")
        ));
    }

    #[test]
    fn secrets_joined_by_a_control_character_are_still_redacted() {
        let redactor = Redactor::new();
        redactor.register(&SecretString::from("topsecret"));
        let mut test = TestResult::new("s", "t", TestOutcome::Error, Duration::ZERO);
        test.output = Some("top\u{1}secret".into());
        let xml = render(&record(RunOutcome::Succeeded), &[test], &redactor).unwrap();
        assert!(!xml.contains("topsecret"), "{xml}");
        assert!(xml.contains("[REDACTED]"), "{xml}");
    }
}
