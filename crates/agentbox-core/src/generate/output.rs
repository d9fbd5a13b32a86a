//! Writing values as YAML and JSON text, with the generated-file header.

use serde_json::Value;

use crate::{Contract, Error, Result};

/// YAML documents (separated by `---`) after a `#` header comment. Long strings stay on one
/// line; multi-line strings are literal blocks.
pub(super) fn yaml_documents(contract: &Contract, documents: &[Value]) -> Result<String> {
    let mut out = format!("# {}\n", super::header(contract));
    for (i, document) in documents.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&yaml(document)?);
    }
    Ok(out)
}

/// One value as YAML, configured as the contract's own YAML writer is.
pub(super) fn yaml(value: &Value) -> Result<String> {
    let mut options = serde_saphyr::SerializerOptions::default();
    options.folded_wrap_chars = usize::MAX;
    let mut text =
        serde_saphyr::to_string_with_options(value, options).map_err(|e| Error::Backend {
            backend: "generate",
            message: format!("could not write YAML: {e}"),
            source: Some(Box::new(e)),
        })?;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

/// Pretty JSON (keys in insertion order) after a `//` header line: JSON with comments, as
/// devcontainer.json allows.
pub(super) fn jsonc(contract: &Contract, value: &Value) -> Result<String> {
    let body = serde_json::to_string_pretty(value).map_err(|e| Error::Backend {
        backend: "generate",
        message: format!("could not write JSON: {e}"),
        source: Some(Box::new(e)),
    })?;
    Ok(format!("// {}\n{body}\n", super::header(contract)))
}

/// A JSON object built in a deliberate key order, skipping absent and empty values.
#[derive(Debug, Default)]
pub(super) struct Object(serde_json::Map<String, Value>);

impl Object {
    /// An empty object.
    pub(super) fn new() -> Self {
        Self::default()
    }

    /// Set `key`, unless `value` is null, an empty array or an empty object.
    pub(super) fn put(&mut self, key: &str, value: impl Into<Value>) -> &mut Self {
        let value = value.into();
        let empty = match &value {
            Value::Null => true,
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
            _ => false,
        };
        if !empty {
            self.0.insert(key.to_owned(), value);
        }
        self
    }

    /// Set `key` when `value` is `Some`.
    pub(super) fn put_opt<T: Into<Value>>(&mut self, key: &str, value: Option<T>) -> &mut Self {
        if let Some(value) = value {
            self.put(key, value);
        }
        self
    }

    /// The object as a value.
    pub(super) fn build(&mut self) -> Value {
        Value::Object(std::mem::take(&mut self.0))
    }
}

impl From<Object> for Value {
    fn from(mut object: Object) -> Value {
        object.build()
    }
}
