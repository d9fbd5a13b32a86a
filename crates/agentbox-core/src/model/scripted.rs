//! [`ScriptedModel`]: a [`ModelClient`] that replays canned replies, in order, from a script.
//!
//! It stands in for a real model where none is configured (demos, offline runs, tests of an
//! orchestrator's plumbing), and says plainly that it is scripted: its name starts with
//! `scripted:` and running out of replies is an error, never an invented answer.
//!
//! A script is YAML (or JSON):
//!
//! ```yaml
//! model: demo-fixer            # shown as `scripted:demo-fixer`
//! replies:
//!   - tool_calls:
//!       - name: run_tests
//!         arguments: {}
//!   - text: The tests pass now.
//! ```

use async_trait::async_trait;
use futures::stream::{self, BoxStream};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::path::Path;
use std::sync::Mutex;

use super::{
    ChatChunk, ChatMessage, ChatRequest, ChatResponse, FinishReason, ModelClient, Role, ToolCall,
};
use crate::{Error, Result};

/// A script file's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Script {
    /// A name for the scripted model.
    model: String,
    /// The replies, in order.
    replies: Vec<ScriptedReply>,
}

/// One canned reply: text, tool calls, or both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedReply {
    /// Text content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Tool calls, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ScriptedToolCall>,
}

/// One canned tool call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedToolCall {
    /// The tool's name.
    pub name: String,
    /// Its arguments, as a JSON value (sent to the caller as JSON text, as real models do).
    #[serde(default = "empty_object")]
    pub arguments: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

/// A model that replays a script.
#[derive(Debug)]
pub struct ScriptedModel {
    name: String,
    total: usize,
    replies: Mutex<VecDeque<ScriptedReply>>,
}

impl ScriptedModel {
    /// A scripted model called `scripted:<name>` with these replies.
    pub fn new(name: &str, replies: Vec<ScriptedReply>) -> Self {
        Self {
            name: format!("scripted:{name}"),
            total: replies.len(),
            replies: Mutex::new(replies.into()),
        }
    }

    /// Parse a script (YAML or JSON).
    pub fn from_yaml(text: &str, origin: &str) -> Result<Self> {
        let script: Script = serde_saphyr::from_str(text).map_err(|e| Error::Model {
            model: format!("scripted ({origin})"),
            message: format!("the script {origin} is not valid: {e}"),
            source: None,
        })?;
        Ok(Self::new(&script.model, script.replies))
    }

    /// Read and parse a script file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            action: "read the model script",
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_yaml(&text, &path.display().to_string())
    }

    /// Replies not yet given.
    pub fn remaining(&self) -> usize {
        self.replies.lock().map_or(0, |r| r.len())
    }

    fn next_reply(&self) -> Result<(usize, ScriptedReply)> {
        let mut replies = self.replies.lock().map_err(|_| Error::Model {
            model: self.name.clone(),
            message: "the script's state was poisoned by a panic elsewhere".into(),
            source: None,
        })?;
        let index = self.total - replies.len();
        replies.pop_front().map(|r| (index, r)).ok_or_else(|| Error::Model {
            model: self.name.clone(),
            message: format!(
                "the script has no reply left (it had {}); the conversation went further than scripted — add replies or use a real model",
                self.total
            ),
            source: None,
        })
    }
}

#[async_trait]
impl ModelClient for ScriptedModel {
    fn model(&self) -> &str {
        &self.name
    }

    async fn chat(&self, _request: ChatRequest) -> Result<ChatResponse> {
        let (index, reply) = self.next_reply()?;
        let tool_calls: Vec<ToolCall> = reply
            .tool_calls
            .iter()
            .enumerate()
            .map(|(i, call)| ToolCall {
                id: format!("call_{index}_{i}"),
                name: call.name.clone(),
                arguments: call.arguments.to_string(),
            })
            .collect();
        let finish_reason = if tool_calls.is_empty() {
            FinishReason::Stop
        } else {
            FinishReason::ToolCalls
        };
        Ok(ChatResponse {
            message: ChatMessage {
                role: Role::Assistant,
                content: reply.text,
                tool_calls,
                tool_call_id: None,
            },
            finish_reason,
            usage: None,
            model: self.name.clone(),
        })
    }

    async fn chat_stream(
        &self,
        request: ChatRequest,
    ) -> Result<BoxStream<'static, Result<ChatChunk>>> {
        let response = self.chat(request).await?;
        let mut chunks = Vec::new();
        if let Some(text) = &response.message.content {
            chunks.push(Ok(ChatChunk::Text(text.clone())));
        }
        chunks.push(Ok(ChatChunk::Done(response)));
        Ok(Box::pin(stream::iter(chunks)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    const SCRIPT: &str = "model: demo
replies:
  - tool_calls:
      - name: write_file
        arguments: { path: a.txt, content: hi }
      - name: run_tests
  - text: done
";

    #[tokio::test]
    async fn replies_come_back_in_order_then_run_out() {
        let model = ScriptedModel::from_yaml(SCRIPT, "test").unwrap();
        assert_eq!(model.model(), "scripted:demo");
        let first = model.chat(ChatRequest::default()).await.unwrap();
        assert_eq!(first.finish_reason, FinishReason::ToolCalls);
        assert_eq!(first.message.tool_calls.len(), 2);
        assert_eq!(first.message.tool_calls[0].id, "call_0_0");
        let args: serde_json::Value =
            serde_json::from_str(&first.message.tool_calls[0].arguments).unwrap();
        assert_eq!(args["content"], "hi");
        assert_eq!(first.message.tool_calls[1].arguments, "{}");

        let mut stream = model.chat_stream(ChatRequest::default()).await.unwrap();
        assert_eq!(
            stream.next().await.unwrap().unwrap(),
            ChatChunk::Text("done".into())
        );
        assert!(
            matches!(stream.next().await.unwrap().unwrap(), ChatChunk::Done(r) if r.finish_reason == FinishReason::Stop)
        );

        let err = model.chat(ChatRequest::default()).await.unwrap_err();
        assert!(
            err.to_string().contains("no reply left (it had 2)"),
            "{err}"
        );
    }

    #[test]
    fn malformed_scripts_are_refused_with_their_origin() {
        let err = ScriptedModel::from_yaml("model: x\nreplies:\n  - txt: typo\n", "demo.yaml")
            .unwrap_err();
        assert!(err.to_string().contains("demo.yaml"), "{err}");
    }
}
