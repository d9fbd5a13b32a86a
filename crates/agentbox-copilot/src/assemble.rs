//! Putting a [`ChatResponse`] together from a non-streamed body or from streamed deltas.
//!
//! Choices are merged: some servers (Copilot with Claude models among them) put the text in
//! one choice and the tool calls in another, and agentbox never asks for `n > 1`.

use agentbox_core::model::{ChatMessage, ChatResponse, FinishReason, Role, ToolCall, Usage};
use std::collections::BTreeMap;

use crate::wire::{WireChunk, WireResponse, finish_reason};

/// A response from a non-streamed body.
pub(crate) fn from_response(wire: WireResponse, requested_model: &str) -> ChatResponse {
    let mut content: Option<String> = None;
    let mut tool_calls = Vec::new();
    let mut reason = None;
    for choice in wire.choices {
        if let Some(text) = choice.message.content {
            content.get_or_insert_with(String::new).push_str(&text);
        }
        for call in choice.message.tool_calls.unwrap_or_default() {
            tool_calls.push(ToolCall {
                id: call.id,
                name: call.function.name,
                arguments: call.function.arguments,
            });
        }
        reason = merge_reason(reason, choice.finish_reason);
    }
    build(
        content,
        tool_calls,
        reason,
        wire.usage.map(Usage::from),
        wire.model,
        requested_model,
    )
}

/// A streamed response in the making.
#[derive(Debug, Default)]
pub(crate) struct Assembler {
    content: Option<String>,
    calls: BTreeMap<u32, ToolCall>,
    last_index: Option<u32>,
    reason: Option<String>,
    usage: Option<Usage>,
    model: Option<String>,
}

impl Assembler {
    /// Takes in one chunk; returns the text it adds (possibly empty).
    pub(crate) fn push(&mut self, chunk: WireChunk) -> String {
        let mut text = String::new();
        if chunk.model.as_deref().is_some_and(|m| !m.is_empty()) {
            self.model = chunk.model;
        }
        if let Some(usage) = chunk.usage {
            self.usage = Some(usage.into());
        }
        for choice in chunk.choices {
            let reason = choice.finish_reason;
            let Some(delta) = choice.delta else {
                self.reason = merge_reason(self.reason.take(), reason);
                continue;
            };
            if let Some(piece) = delta.content {
                self.content
                    .get_or_insert_with(String::new)
                    .push_str(&piece);
                text.push_str(&piece);
            }
            for fragment in delta.tool_calls.unwrap_or_default() {
                // `index` says which call a fragment belongs to; servers that leave it out
                // start a new call with each `id` and continue the last one otherwise.
                let next = self.calls.keys().next_back().map_or(0, |i| i + 1);
                let index = fragment
                    .index
                    .unwrap_or(match (&fragment.id, self.last_index) {
                        (None, Some(last)) => last,
                        _ => next,
                    });
                self.last_index = Some(index);
                let call = self.calls.entry(index).or_insert_with(|| ToolCall {
                    id: String::new(),
                    name: String::new(),
                    arguments: String::new(),
                });
                if let Some(id) = fragment.id.filter(|id| !id.is_empty()) {
                    call.id = id;
                }
                if let Some(function) = fragment.function {
                    if let Some(name) = function.name {
                        call.name.push_str(&name);
                    }
                    if let Some(arguments) = function.arguments {
                        call.arguments.push_str(&arguments);
                    }
                }
            }
            self.reason = merge_reason(self.reason.take(), reason);
        }
        text
    }

    /// Whether a finish reason has arrived (the answer is complete even without `[DONE]`).
    pub(crate) fn has_finished(&self) -> bool {
        self.reason.is_some()
    }

    /// The whole response.
    pub(crate) fn finish(self, requested_model: &str) -> ChatResponse {
        let calls = self.calls.into_values().collect();
        build(
            self.content,
            calls,
            self.reason,
            self.usage,
            self.model,
            requested_model,
        )
    }
}

/// Keeps the more telling of two finish reasons: `tool_calls` wins over others.
fn merge_reason(current: Option<String>, new: Option<String>) -> Option<String> {
    match (current, new) {
        (Some(c), _) if c == "tool_calls" => Some(c),
        (c, None) => c,
        (_, n) => n,
    }
}

fn build(
    content: Option<String>,
    tool_calls: Vec<ToolCall>,
    reason: Option<String>,
    usage: Option<Usage>,
    model: Option<String>,
    requested_model: &str,
) -> ChatResponse {
    let finish_reason = match reason {
        Some(r) => finish_reason(&r),
        // A server that sends no reason: tool calls mean it wants them run.
        None if !tool_calls.is_empty() => FinishReason::ToolCalls,
        None => FinishReason::Stop,
    };
    ChatResponse {
        message: ChatMessage {
            role: Role::Assistant,
            content,
            tool_calls,
            tool_call_id: None,
        },
        finish_reason,
        usage,
        model: model
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| requested_model.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chunk(value: serde_json::Value) -> WireChunk {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn fragments_without_index_continue_the_last_call() {
        let mut a = Assembler::default();
        a.push(chunk(json!({"choices": [{"delta": {"tool_calls": [{"id": "c1", "function": {"name": "ls", "arguments": "{\"a\""}}]}}]})));
        a.push(chunk(
            json!({"choices": [{"delta": {"tool_calls": [{"function": {"arguments": ":1}"}}]}}]}),
        ));
        a.push(chunk(json!({"choices": [{"delta": {"tool_calls": [{"id": "c2", "function": {"name": "cat", "arguments": "{}"}}]}}]})));
        let response = a.finish("m");
        let calls: Vec<_> = response
            .message
            .tool_calls
            .iter()
            .map(|c| (c.id.as_str(), c.name.as_str(), c.arguments.as_str()))
            .collect();
        assert_eq!(calls, [("c1", "ls", "{\"a\":1}"), ("c2", "cat", "{}")]);
        assert_eq!(response.finish_reason, FinishReason::ToolCalls);
    }

    #[test]
    fn interleaved_indexed_fragments_go_to_their_calls() {
        let mut a = Assembler::default();
        a.push(chunk(json!({"choices": [{"delta": {"tool_calls": [
            {"index": 0, "id": "c0", "function": {"name": "a", "arguments": ""}},
            {"index": 1, "id": "c1", "function": {"name": "b", "arguments": "[1"}}
        ]}}]})));
        a.push(chunk(json!({"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": "[0]"}}]}}]})));
        a.push(chunk(json!({"choices": [{"delta": {"tool_calls": [{"index": 1, "function": {"arguments": "]"}}]}, "finish_reason": "tool_calls"}]})));
        let response = a.finish("m");
        assert_eq!(response.message.tool_calls[0].arguments, "[0]");
        assert_eq!(response.message.tool_calls[1].arguments, "[1]");
    }

    #[test]
    fn text_and_tool_calls_in_separate_choices_are_merged() {
        let wire: WireResponse = serde_json::from_value(json!({
            "model": "claude",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "Looking."}, "finish_reason": "stop"},
                {"index": 1, "message": {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "c", "type": "function", "function": {"name": "ls", "arguments": "{}"}}
                ]}, "finish_reason": "tool_calls"}
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
        }))
        .unwrap();
        let response = from_response(wire, "requested");
        assert_eq!(response.message.content.as_deref(), Some("Looking."));
        assert_eq!(response.message.tool_calls.len(), 1);
        assert_eq!(response.finish_reason, FinishReason::ToolCalls);
        assert_eq!(response.model, "claude");
        assert_eq!(
            response.usage,
            Some(Usage {
                prompt_tokens: 3,
                completion_tokens: 4
            })
        );
    }

    #[test]
    fn the_requested_model_stands_in_when_the_server_names_none() {
        let wire: WireResponse = serde_json::from_value(json!({"choices": []})).unwrap();
        assert_eq!(from_response(wire, "asked").model, "asked");
    }
}
