//! [`ParameterValue`]: a typed value for a rich parameter, encoded the way coderd wants it.

use std::fmt;

/// A value for a template's rich parameter. coderd takes every value as a string; a list is a
/// JSON-encoded array of strings. Checked against the parameter's declared type before any
/// workspace is created.
#[derive(Clone, PartialEq)]
pub enum ParameterValue {
    /// A `string` value.
    String(String),
    /// A `number` value, as its decimal text.
    Number(String),
    /// A `bool` value.
    Bool(bool),
    /// A `list(string)` value.
    List(Vec<String>),
}

impl ParameterValue {
    /// The string coderd receives.
    pub fn encode(&self) -> String {
        match self {
            ParameterValue::String(s) | ParameterValue::Number(s) => s.clone(),
            ParameterValue::Bool(b) => b.to_string(),
            // A Vec<String> always encodes as JSON.
            ParameterValue::List(items) => serde_json::to_string(items).unwrap_or_default(),
        }
    }
}

impl fmt::Debug for ParameterValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.encode())
    }
}

impl From<&str> for ParameterValue {
    fn from(s: &str) -> Self {
        ParameterValue::String(s.to_owned())
    }
}

impl From<String> for ParameterValue {
    fn from(s: String) -> Self {
        ParameterValue::String(s)
    }
}

impl From<bool> for ParameterValue {
    fn from(b: bool) -> Self {
        ParameterValue::Bool(b)
    }
}

impl From<i64> for ParameterValue {
    fn from(n: i64) -> Self {
        ParameterValue::Number(n.to_string())
    }
}

impl From<u32> for ParameterValue {
    fn from(n: u32) -> Self {
        ParameterValue::Number(n.to_string())
    }
}

impl From<f64> for ParameterValue {
    fn from(n: f64) -> Self {
        ParameterValue::Number(n.to_string())
    }
}

impl From<Vec<String>> for ParameterValue {
    fn from(items: Vec<String>) -> Self {
        ParameterValue::List(items)
    }
}

impl From<&[&str]> for ParameterValue {
    fn from(items: &[&str]) -> Self {
        ParameterValue::List(items.iter().map(|s| s.to_string()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_json_and_scalars_are_text() {
        assert_eq!(
            ParameterValue::from(&["a", "b\"c"][..]).encode(),
            r#"["a","b\"c"]"#
        );
        assert_eq!(ParameterValue::from(4i64).encode(), "4");
        assert_eq!(ParameterValue::from(true).encode(), "true");
        assert_eq!(ParameterValue::from("x").encode(), "x");
    }
}
