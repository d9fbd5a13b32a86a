//! The OpenAI chat-completions wire format as JSON Schema, for checking that requests and
//! responses are what a real OpenAI-compatible server would accept and send.
//!
//! The schemas are vendored in `specs/openai-chat-completions.schema.json` (see the README
//! there for provenance): the `$ref` closure of `CreateChatCompletionRequest`,
//! `CreateChatCompletionResponse` and `CreateChatCompletionStreamResponse` from OpenAI's
//! OpenAPI document, with OpenAPI's `nullable` translated to JSON Schema.

use serde_json::{Value, json};
use std::sync::LazyLock;

/// The vendored schemas, as `{"components": {"schemas": {…}}}`.
pub const CHAT_COMPLETIONS_SCHEMA: &str =
    include_str!("../../specs/openai-chat-completions.schema.json");

/// Validators for the three chat-completions messages.
#[derive(Debug)]
pub struct ChatCompletionsSchema {
    request: jsonschema::Validator,
    response: jsonschema::Validator,
    stream_chunk: jsonschema::Validator,
}

static SCHEMA: LazyLock<ChatCompletionsSchema> = LazyLock::new(|| {
    // The vendored file is a constant of this crate, checked by its tests; it is not input.
    ChatCompletionsSchema::from_document(CHAT_COMPLETIONS_SCHEMA)
        .unwrap_or_else(|e| panic!("the vendored chat-completions schema is broken: {e}"))
});

impl ChatCompletionsSchema {
    /// The validators built from the vendored schemas (built once, on first use).
    pub fn get() -> &'static ChatCompletionsSchema {
        &SCHEMA
    }

    /// Validators built from a document shaped like the vendored file.
    pub fn from_document(document: &str) -> Result<Self, String> {
        let doc: Value = serde_json::from_str(document).map_err(|e| format!("not JSON: {e}"))?;
        let components = doc
            .get("components")
            .cloned()
            .ok_or("no `components` object")?;
        let build = |name: &str| {
            let root = json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$ref": format!("#/components/schemas/{name}"),
                "components": components,
            });
            jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .build(&root)
                .map_err(|e| format!("schema {name}: {e}"))
        };
        Ok(Self {
            request: build("CreateChatCompletionRequest")?,
            response: build("CreateChatCompletionResponse")?,
            stream_chunk: build("CreateChatCompletionStreamResponse")?,
        })
    }

    /// Problems with a `POST /chat/completions` body (empty when it is valid).
    pub fn request_errors(&self, body: &Value) -> Vec<String> {
        errors(&self.request, body)
    }

    /// Problems with a non-streamed chat completion (empty when it is valid).
    pub fn response_errors(&self, body: &Value) -> Vec<String> {
        errors(&self.response, body)
    }

    /// Problems with one streamed chunk, the JSON of a `data:` line (empty when it is valid).
    pub fn stream_chunk_errors(&self, chunk: &Value) -> Vec<String> {
        errors(&self.stream_chunk, chunk)
    }
}

fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("at `{}`: {e}", e.instance_path()))
        .collect()
}

#[cfg(test)]
#[path = "extract.rs"]
mod extract;

#[cfg(test)]
mod tests {
    use super::*;

    fn valid_request() -> Value {
        json!({
            "model": "gpt-test",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "ls", "arguments": "{}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_1", "content": "a.txt"}
            ],
            "tools": [{"type": "function", "function": {"name": "ls", "description": "list", "parameters": {"type": "object"}}}],
            "tool_choice": "auto",
            "stream": true,
            "stream_options": {"include_usage": true}
        })
    }

    #[test]
    fn a_well_formed_request_validates() {
        let errors = ChatCompletionsSchema::get().request_errors(&valid_request());
        assert!(errors.is_empty(), "{errors:#?}");
    }

    #[test]
    fn a_request_with_an_unknown_role_is_rejected() {
        let mut request = valid_request();
        request["messages"][1]["role"] = json!("narrator");
        assert!(
            !ChatCompletionsSchema::get()
                .request_errors(&request)
                .is_empty()
        );
    }

    #[test]
    fn a_request_without_messages_is_rejected() {
        let errors = ChatCompletionsSchema::get().request_errors(&json!({"model": "m"}));
        assert!(errors.iter().any(|e| e.contains("messages")), "{errors:#?}");
    }

    #[test]
    fn nullable_fields_accept_null_after_translation() {
        let mut request = valid_request();
        request["max_tokens"] = Value::Null;
        request["seed"] = Value::Null;
        let errors = ChatCompletionsSchema::get().request_errors(&request);
        assert!(errors.is_empty(), "{errors:#?}");
    }

    #[test]
    fn a_stream_chunk_with_a_wrong_object_type_is_rejected() {
        let chunk = json!({
            "id": "c", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": null}]
        });
        assert!(
            !ChatCompletionsSchema::get()
                .stream_chunk_errors(&chunk)
                .is_empty()
        );
    }
}
