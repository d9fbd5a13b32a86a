//! The chat-completions wire format (OpenAI's `CreateChatCompletionRequest`,
//! `CreateChatCompletionResponse` and `CreateChatCompletionStreamResponse`), as far as
//! agentbox uses it.

use agentbox_core::model::{ChatMessage, ChatRequest, FinishReason, Role, ToolChoice, Usage};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A `POST /chat/completions` body.
#[derive(Debug, Serialize)]
pub(crate) struct WireRequest<'a> {
    model: &'a str,
    messages: Vec<WireMessage<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<Value>,
}

#[derive(Debug, Serialize)]
struct WireMessage<'a> {
    role: Role,
    /// Always present: `null` for an assistant message that only calls tools.
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_call_id: Option<&'a str>,
}

impl<'a> WireRequest<'a> {
    /// The body for `request` to `model`; `stream_usage` asks a streamed answer to end with
    /// a usage chunk.
    pub(crate) fn new(
        model: &'a str,
        request: &'a ChatRequest,
        stream: bool,
        stream_usage: bool,
    ) -> Self {
        Self {
            model,
            messages: request.messages.iter().map(message).collect(),
            tools: request
                .tools
                .iter()
                .map(|t| {
                    json!({"type": "function", "function": {
                        "name": t.name, "description": t.description, "parameters": t.parameters
                    }})
                })
                .collect(),
            tool_choice: request.tool_choice.as_ref().map(|choice| match choice {
                ToolChoice::Auto => json!("auto"),
                ToolChoice::None => json!("none"),
                ToolChoice::Required => json!("required"),
                ToolChoice::Tool(name) => json!({"type": "function", "function": {"name": name}}),
            }),
            temperature: request.temperature,
            max_tokens: request.max_tokens,
            stream,
            stream_options: (stream && stream_usage).then(|| json!({"include_usage": true})),
        }
    }
}

fn message(m: &ChatMessage) -> WireMessage<'_> {
    WireMessage {
        role: m.role,
        content: m.content.as_deref(),
        tool_calls: m
            .tool_calls
            .iter()
            .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
            .collect(),
        tool_call_id: m.tool_call_id.as_deref(),
    }
}

/// A non-streamed answer.
#[derive(Debug, Deserialize)]
pub(crate) struct WireResponse {
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub choices: Vec<WireChoice>,
    #[serde(default)]
    pub usage: Option<WireUsage>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireChoice {
    pub message: WireResponseMessage,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireResponseMessage {
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub tool_calls: Option<Vec<WireToolCall>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireToolCall {
    pub id: String,
    pub function: WireFunction,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireFunction {
    pub name: String,
    #[serde(default)]
    pub arguments: String,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub(crate) struct WireUsage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
}

impl From<WireUsage> for Usage {
    fn from(u: WireUsage) -> Self {
        Usage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
        }
    }
}

/// One streamed `chat.completion.chunk`.
#[derive(Debug, Deserialize)]
pub(crate) struct WireChunk {
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub choices: Vec<WireChunkChoice>,
    #[serde(default)]
    pub usage: Option<WireUsage>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireChunkChoice {
    #[serde(default)]
    pub delta: Option<WireDelta>,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireDelta {
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub tool_calls: Option<Vec<WireToolCallDelta>>,
}

/// A fragment of a tool call: the first carries `id` and `name`, later ones more `arguments`.
#[derive(Debug, Deserialize)]
pub(crate) struct WireToolCallDelta {
    #[serde(default)]
    pub index: Option<u32>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub function: Option<WireFunctionDelta>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireFunctionDelta {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub arguments: Option<String>,
}

/// A wire `finish_reason` as a [`FinishReason`].
pub(crate) fn finish_reason(reason: &str) -> FinishReason {
    match reason {
        "stop" => FinishReason::Stop,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        "length" => FinishReason::Length,
        "content_filter" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentbox_core::model::{ToolCall, ToolSpec};

    #[test]
    fn a_conversation_with_tools_serialises_in_openai_form() {
        let mut assistant = ChatMessage::assistant("");
        assistant.content = None;
        assistant.tool_calls = vec![ToolCall {
            id: "c1".into(),
            name: "ls".into(),
            arguments: "{}".into(),
        }];
        let request = ChatRequest {
            messages: vec![
                ChatMessage::user("hi"),
                assistant,
                ChatMessage::tool("c1", "a.txt"),
            ],
            tools: vec![ToolSpec {
                name: "ls".into(),
                description: "list".into(),
                parameters: json!({"type": "object"}),
            }],
            tool_choice: Some(ToolChoice::Tool("ls".into())),
            temperature: None,
            max_tokens: Some(100),
        };
        let body = serde_json::to_value(WireRequest::new("m", &request, true, true)).unwrap();
        assert_eq!(
            body,
            json!({
                "model": "m",
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": null, "tool_calls": [
                        {"id": "c1", "type": "function", "function": {"name": "ls", "arguments": "{}"}}
                    ]},
                    {"role": "tool", "content": "a.txt", "tool_call_id": "c1"}
                ],
                "tools": [{"type": "function", "function": {"name": "ls", "description": "list", "parameters": {"type": "object"}}}],
                "tool_choice": {"type": "function", "function": {"name": "ls"}},
                "max_tokens": 100,
                "stream": true,
                "stream_options": {"include_usage": true}
            })
        );
    }

    #[test]
    fn unknown_finish_reasons_are_kept() {
        assert_eq!(finish_reason("tool_calls"), FinishReason::ToolCalls);
        assert_eq!(finish_reason("eos"), FinishReason::Other("eos".into()));
    }
}
