//! Scripted replies of the fake model server, and how they are rendered on the wire.

use serde_json::{Value, json};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// One tool call in a scripted reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptedToolCall {
    /// The call's id.
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// Arguments, as JSON text.
    pub arguments: String,
}

/// Holds a streamed reply part-way until the test opens it: the server sends the chunks
/// before the gate, then waits.
#[derive(Debug, Clone)]
pub struct StreamGate(Arc<Semaphore>);

impl StreamGate {
    /// A closed gate.
    pub fn new() -> Self {
        Self(Arc::new(Semaphore::new(0)))
    }

    /// Let the held stream go on.
    pub fn open(&self) {
        // No permit is ever added: acquiring ends only when the semaphore is closed.
        self.0.close();
    }

    pub(crate) async fn wait(&self) {
        let _ = self.0.acquire().await;
    }
}

impl Default for StreamGate {
    fn default() -> Self {
        Self::new()
    }
}

/// What the fake server answers to one chat request.
///
/// A completion is sent as one JSON body, or as SSE chunks when the request asks to stream.
#[derive(Debug, Clone)]
pub struct Reply {
    pub(crate) body: ReplyBody,
    pub(crate) chunk_chars: usize,
    pub(crate) drop_after: Option<usize>,
    pub(crate) pause: Option<(usize, StreamGate)>,
}

#[derive(Debug, Clone)]
pub(crate) enum ReplyBody {
    Completion {
        content: Option<String>,
        tool_calls: Vec<ScriptedToolCall>,
        finish_reason: String,
        usage: (u64, u64),
    },
    Status {
        status: u16,
        retry_after: Option<String>,
        message: String,
    },
}

impl Reply {
    fn completion(content: Option<String>, tool_calls: Vec<ScriptedToolCall>) -> Self {
        let finish_reason = if tool_calls.is_empty() {
            "stop"
        } else {
            "tool_calls"
        };
        Self {
            body: ReplyBody::Completion {
                content,
                tool_calls,
                finish_reason: finish_reason.into(),
                usage: (10, 5),
            },
            chunk_chars: 8,
            drop_after: None,
            pause: None,
        }
    }

    /// An assistant message with this text (finish reason `stop`, usage 10 + 5 tokens).
    pub fn text(text: impl Into<String>) -> Self {
        Self::completion(Some(text.into()), Vec::new())
    }

    /// An assistant message calling one tool (finish reason `tool_calls`).
    pub fn tool_call(
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<String>,
    ) -> Self {
        Self::tool_calls([ScriptedToolCall {
            id: id.into(),
            name: name.into(),
            arguments: arguments.into(),
        }])
    }

    /// An assistant message calling these tools (finish reason `tool_calls`).
    pub fn tool_calls(calls: impl IntoIterator<Item = ScriptedToolCall>) -> Self {
        Self::completion(None, calls.into_iter().collect())
    }

    /// An error answer with this HTTP status and an OpenAI-style error body.
    pub fn status(status: u16) -> Self {
        Self {
            body: ReplyBody::Status {
                status,
                retry_after: None,
                message: format!("fake model server scripted status {status}"),
            },
            chunk_chars: 8,
            drop_after: None,
            pause: None,
        }
    }

    /// Adds a `Retry-After` header (seconds or an HTTP date) to an error answer.
    pub fn with_retry_after(mut self, value: impl Into<String>) -> Self {
        if let ReplyBody::Status { retry_after, .. } = &mut self.body {
            *retry_after = Some(value.into());
        }
        self
    }

    /// Sets the text of a completion (also beside tool calls).
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        if let ReplyBody::Completion { content, .. } = &mut self.body {
            *content = Some(text.into());
        }
        self
    }

    /// Sets the token usage reported.
    pub fn with_usage(mut self, prompt_tokens: u64, completion_tokens: u64) -> Self {
        if let ReplyBody::Completion { usage, .. } = &mut self.body {
            *usage = (prompt_tokens, completion_tokens);
        }
        self
    }

    /// When streamed, split text and tool-call arguments into deltas of at most `chars`
    /// characters (default 8; at least 1).
    pub fn chunked(mut self, chars: usize) -> Self {
        self.chunk_chars = chars.max(1);
        self
    }

    /// When streamed, drop the connection after `events` SSE events, without `[DONE]`.
    pub fn drop_after_events(mut self, events: usize) -> Self {
        self.drop_after = Some(events);
        self
    }

    /// When streamed, send `events` SSE events, then wait until `gate` opens.
    pub fn pause_after_events(mut self, events: usize, gate: &StreamGate) -> Self {
        self.pause = Some((events, gate.clone()));
        self
    }
}

/// The fields every rendered completion shares.
pub(crate) struct Envelope<'a> {
    pub id: &'a str,
    pub created: u64,
    pub model: &'a str,
}

fn usage_json((prompt, completion): (u64, u64)) -> Value {
    json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion})
}

/// A non-streamed `chat.completion` body; `None` for an error reply.
pub(crate) fn render_completion(body: &ReplyBody, env: &Envelope<'_>) -> Option<Value> {
    let ReplyBody::Completion {
        content,
        tool_calls,
        finish_reason,
        usage,
    } = body
    else {
        return None;
    };
    let mut message = json!({"role": "assistant", "content": content, "refusal": null});
    if !tool_calls.is_empty() {
        message["tool_calls"] = tool_calls
            .iter()
            .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
            .collect();
    }
    Some(json!({
        "id": env.id,
        "object": "chat.completion",
        "created": env.created,
        "model": env.model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": null}],
        "usage": usage_json(*usage),
    }))
}

/// The `chat.completion.chunk` objects of a streamed completion, in order (without the final
/// `[DONE]`); empty for an error reply.
pub(crate) fn render_chunks(reply: &Reply, env: &Envelope<'_>, include_usage: bool) -> Vec<Value> {
    let ReplyBody::Completion {
        content,
        tool_calls,
        finish_reason,
        usage,
    } = &reply.body
    else {
        return Vec::new();
    };
    let chunk = |choices: Value| {
        json!({
            "id": env.id,
            "object": "chat.completion.chunk",
            "created": env.created,
            "model": env.model,
            "choices": choices,
        })
    };
    let delta = |delta: Value| chunk(json!([{"index": 0, "delta": delta, "finish_reason": null}]));
    let mut chunks = vec![delta(json!({"role": "assistant", "content": ""}))];
    for piece in pieces(content.as_deref().unwrap_or(""), reply.chunk_chars) {
        chunks.push(delta(json!({"content": piece})));
    }
    for (index, call) in tool_calls.iter().enumerate() {
        chunks.push(delta(json!({"tool_calls": [{
            "index": index, "id": call.id, "type": "function",
            "function": {"name": call.name, "arguments": ""}
        }]})));
        for piece in pieces(&call.arguments, reply.chunk_chars) {
            chunks.push(delta(
                json!({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}),
            ));
        }
    }
    chunks.push(chunk(
        json!([{"index": 0, "delta": {}, "finish_reason": finish_reason}]),
    ));
    if include_usage {
        let mut last = chunk(json!([]));
        last["usage"] = usage_json(*usage);
        chunks.push(last);
    }
    chunks
}

/// `text` in pieces of at most `chars` characters (never splitting a character).
fn pieces(text: &str, chars: usize) -> Vec<String> {
    let all: Vec<char> = text.chars().collect();
    all.chunks(chars.max(1))
        .map(|c| c.iter().collect())
        .collect()
}

/// The OpenAI-style error body of an error reply.
pub(crate) fn render_error(status: u16, message: &str) -> Value {
    let kind = match status {
        401 => "authentication_error",
        429 => "rate_limit_error",
        s if s >= 500 => "server_error",
        _ => "invalid_request_error",
    };
    json!({"error": {"message": message, "type": kind, "param": null, "code": null}})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model_server::ChatCompletionsSchema;

    const ENV: Envelope<'static> = Envelope {
        id: "chatcmpl-1",
        created: 1_700_000_000,
        model: "m",
    };

    #[test]
    fn rendered_completions_validate_against_the_response_schema() {
        for reply in [
            Reply::text("hello"),
            Reply::tool_call("call_1", "read", r#"{"path":"a"}"#).with_text("looking"),
        ] {
            let body = render_completion(&reply.body, &ENV).unwrap();
            let errors = ChatCompletionsSchema::get().response_errors(&body);
            assert!(errors.is_empty(), "{body}: {errors:#?}");
        }
    }

    #[test]
    fn rendered_chunks_validate_against_the_stream_schema() {
        let reply = Reply::tool_call("call_1", "read", r#"{"path":"a"}"#)
            .with_text("hi there")
            .chunked(2);
        let chunks = render_chunks(&reply, &ENV, true);
        for chunk in &chunks {
            let errors = ChatCompletionsSchema::get().stream_chunk_errors(chunk);
            assert!(errors.is_empty(), "{chunk}: {errors:#?}");
        }
    }

    #[test]
    fn streamed_arguments_are_split_into_pieces_that_join_to_the_whole() {
        let args = r#"{"path":"src/main.rs"}"#;
        let reply = Reply::tool_call("c", "read", args).chunked(3);
        let joined: String = render_chunks(&reply, &ENV, false)
            .iter()
            .filter_map(|c| {
                c.pointer("/choices/0/delta/tool_calls/0/function/arguments")?
                    .as_str()
                    .map(str::to_owned)
            })
            .collect();
        assert_eq!(joined, args);
    }

    #[test]
    fn pieces_never_split_a_character() {
        assert_eq!(pieces("héllo", 2), ["hé", "ll", "o"]);
    }

    #[test]
    fn usage_chunk_is_only_sent_when_asked_for() {
        let reply = Reply::text("x");
        let without = render_chunks(&reply, &ENV, false);
        let with = render_chunks(&reply, &ENV, true);
        assert_eq!(with.len(), without.len() + 1);
        assert_eq!(with.last().unwrap()["usage"]["total_tokens"], 15);
        assert!(without.iter().all(|c| c.get("usage").is_none()));
    }
}
