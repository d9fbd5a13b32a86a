//! Loading a contract: YAML text, then a JSON value with the place of every node, then the
//! schema check, then the checks that span several fields, then the typed document.
//!
//! Every step runs over the whole document and every problem is collected before anything is
//! returned, so the author sees all of them at once; a contract with an error is never returned.

use serde_json::Value;
use std::collections::HashSet;

use super::problem::Problem;
use super::yaml::{self, Mark, Spans};
use super::{Contract, ContractDocument, LoadOptions, schema, validate};
use crate::Error;

/// Turns dotted paths into located problems; without spans every location is `0:0`.
pub(super) struct Locator<'a> {
    spans: Option<&'a Spans>,
}

impl Locator<'_> {
    fn node(&self, path: &str) -> Mark {
        self.spans
            .and_then(|s| s.node(path))
            .unwrap_or(Mark { line: 0, column: 0 })
    }

    /// A problem with the value at `path`.
    pub(super) fn node_error(&self, path: &str, message: impl Into<String>) -> Problem {
        let mark = self.node(path);
        Problem::error(path, mark.line, mark.column, message)
    }

    /// A problem with the key of the mapping entry at `path` (or, for a list item, its value).
    pub(super) fn key_error(&self, path: &str, message: impl Into<String>) -> Problem {
        let mark = self
            .spans
            .and_then(|s| s.key(path))
            .unwrap_or_else(|| self.node(path));
        Problem::error(path, mark.line, mark.column, message)
    }

    /// A problem with the missing entry `path` of the mapping at `parent`, located at the
    /// parent's key (or the parent itself when it has none).
    pub(super) fn missing_error(
        &self,
        parent: &str,
        path: &str,
        message: impl Into<String>,
    ) -> Problem {
        let Problem { line, column, .. } = self.key_error(parent, "");
        Problem::error(path, line, column, message)
    }
}

/// Parse and validate `text`; `origin` names it in the error.
pub(super) fn load(text: &str, origin: &str, options: &LoadOptions) -> Result<Contract, Error> {
    let parsed = yaml::parse(text).map_err(|problem| invalid(origin, vec![problem]))?;
    validate_parsed(
        parsed.value,
        Some(&parsed.spans),
        parsed.problems,
        origin,
        options,
    )
}

/// Validate a document already in JSON form; `spans`, when known, locates its problems.
pub(super) fn validate_value(
    value: Value,
    spans: Option<&Spans>,
    origin: &str,
    options: &LoadOptions,
) -> Result<Contract, Error> {
    validate_parsed(value, spans, Vec::new(), origin, options)
}

fn validate_parsed(
    value: Value,
    spans: Option<&Spans>,
    mut problems: Vec<Problem>,
    origin: &str,
    options: &LoadOptions,
) -> Result<Contract, Error> {
    let at = Locator { spans };
    if value.is_null() {
        problems.push(at.node_error(
            "",
            "the document is empty: a contract is a map that starts with `apiVersion: agentbox.dev/v1alpha1`",
        ));
    } else {
        problems.extend(schema::check(&value, &at));
        problems.extend(validate::check(&value, &at, options));
    }
    let (errors, warnings): (Vec<_>, Vec<_>) =
        tidy(problems).into_iter().partition(Problem::is_error);
    if !errors.is_empty() {
        return Err(invalid(origin, errors));
    }
    let document: ContractDocument = serde_json::from_value(value).map_err(|e| {
        let message = format!(
            "internal error: the contract passed validation but does not deserialize ({e}); please report this"
        );
        invalid(origin, vec![Problem::error("", 0, 0, message)])
    })?;
    Ok(Contract::new(document, warnings))
}

/// Problems in document order, each reported once.
fn tidy(mut problems: Vec<Problem>) -> Vec<Problem> {
    problems.sort_by_key(|p| (p.line, p.column));
    let mut seen = HashSet::new();
    problems.retain(|p| seen.insert((p.path.clone(), p.message.clone())));
    problems
}

fn invalid(origin: &str, problems: Vec<Problem>) -> Error {
    Error::InvalidContract {
        origin: origin.to_owned(),
        problems,
    }
}

/// The document as YAML, fields in the model's order. Long one-line strings (a digest-pinned
/// image) stay on one line; multi-line strings are literal blocks.
pub(super) fn to_yaml(document: &ContractDocument) -> String {
    let mut options = serde_saphyr::SerializerOptions::default();
    options.folded_wrap_chars = usize::MAX;
    match serde_saphyr::to_string_with_options(document, options) {
        Ok(text) => text,
        Err(e) => {
            // JSON is YAML too; it cannot fail for a model whose map keys are all strings.
            tracing::warn!(error = %e, "serde-saphyr could not write the contract; writing JSON-style YAML");
            serde_json::to_string_pretty(document).unwrap_or_default()
        }
    }
}
