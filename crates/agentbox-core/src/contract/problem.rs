//! One problem found in a contract, located by YAML path, line and column.

use serde::{Deserialize, Serialize};
use std::fmt;

/// How serious a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The contract is rejected.
    Error,
    /// The contract loads, but the author should look (an error under `strict`).
    Warning,
}

/// One problem in a contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Dotted path to the offending value, e.g. `spec.ports[1].name` (empty for the document).
    pub path: String,
    /// 1-based line of the value (or of its parent when the value is missing); 0 when unknown.
    pub line: usize,
    /// 1-based column, as for `line`.
    pub column: usize,
    /// What is wrong and what to write instead.
    pub message: String,
    /// Error or warning.
    pub severity: Severity,
}

impl Problem {
    /// An error at a location.
    pub fn error(
        path: impl Into<String>,
        line: usize,
        column: usize,
        message: impl Into<String>,
    ) -> Self {
        Self {
            path: path.into(),
            line,
            column,
            message: message.into(),
            severity: Severity::Error,
        }
    }

    /// A warning at a location.
    pub fn warning(
        path: impl Into<String>,
        line: usize,
        column: usize,
        message: impl Into<String>,
    ) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(path, line, column, message)
        }
    }

    /// True for [`Severity::Error`].
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let path = if self.path.is_empty() {
            "(document)"
        } else {
            &self.path
        };
        write!(
            f,
            "{}:{}: {kind}: {path}: {}",
            self.line, self.column, self.message
        )
    }
}
