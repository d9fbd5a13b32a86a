//! What the fake model server received.

use serde_json::Value;
use std::time::Instant;

/// One request the fake server received, for assertions.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Request path, e.g. `/chat/completions`.
    pub path: String,
    /// Headers in arrival order, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body as JSON (`Null` when empty; a JSON string holding the text when it is not JSON).
    pub body: Value,
    /// When it arrived.
    pub received_at: Instant,
}

impl RecordedRequest {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True for a chat-completions request.
    pub fn is_chat(&self) -> bool {
        self.path.ends_with("/chat/completions")
    }
}
