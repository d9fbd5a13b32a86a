//! # agentbox-copilot
//!
//! [`ModelClient`](agentbox_core::ModelClient)s for GitHub Copilot ([`CopilotClient`]) and for
//! any server that speaks OpenAI's chat completions ([`OpenAiCompatibleClient`]): messages with
//! tools, tool calls (streamed ones reassembled from their fragments), usage, streaming over
//! SSE, timeouts, retries with backoff that honour `Retry-After`, and one evidence event per
//! call. Credentials are [`SecretString`](secrecy::SecretString)s and appear in no error,
//! log line or `Debug` output.
//!
//! Against the fake server from `agentbox-testkit`:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use agentbox_copilot::OpenAiCompatibleClient;
//! use agentbox_core::ModelClient;
//! use agentbox_core::model::{ChatMessage, ChatRequest, FinishReason};
//! use agentbox_testkit::model_server::{FakeModelServer, Reply};
//! use secrecy::SecretString;
//!
//! let server = FakeModelServer::builder().api_key("sk-test").start().await?;
//! server.enqueue(Reply::tool_call("call_1", "read_file", r#"{"path":"README.md"}"#));
//!
//! let client = OpenAiCompatibleClient::builder(server.base_url(), "gpt-4o-mini")
//!     .api_key(SecretString::from("sk-test"))
//!     .build()?;
//! let response = client
//!     .chat(ChatRequest { messages: vec![ChatMessage::user("What is in the README?")], ..Default::default() })
//!     .await?;
//!
//! assert_eq!(response.finish_reason, FinishReason::ToolCalls);
//! assert_eq!(response.message.tool_calls[0].name, "read_file");
//! # Ok(())
//! # }
//! ```
//!
//! GitHub Copilot, with a GitHub OAuth token of an account that has Copilot:
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use agentbox_copilot::CopilotClient;
//! use agentbox_core::ModelClient;
//! use agentbox_core::model::{ChatChunk, ChatMessage, ChatRequest};
//! use futures::StreamExt;
//! use secrecy::SecretString;
//!
//! let token = SecretString::from(std::env::var("GITHUB_COPILOT_TOKEN")?);
//! let client = CopilotClient::builder(token, "gpt-4o").build()?;
//! let request = ChatRequest { messages: vec![ChatMessage::user("Say hi")], ..Default::default() };
//! let mut chunks = client.chat_stream(request).await?;
//! while let Some(chunk) = chunks.next().await {
//!     match chunk? {
//!         ChatChunk::Text(text) => print!("{text}"),
//!         ChatChunk::Done(response) => println!("\n({:?} tokens)", response.usage),
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! ## Map
//! - [`OpenAiCompatibleClient`]: base URL, optional API key, extra headers.
//! - [`CopilotClient`]: the token exchange, the token cache and Copilot's headers.
//! - [`RetryPolicy`]: which failures are retried and how long to wait.
//! - [`CopilotError`]: what went wrong, mapped into [`agentbox_core::Error::Model`].

#![warn(missing_docs)]

mod assemble;
mod copilot;
mod engine;
mod error;
mod evidence;
mod openai;
mod retry;
mod stream;
mod token;
mod upstream;
mod wire;

pub use copilot::{CopilotClient, CopilotClientBuilder, GITHUB_TOKEN_URL};
pub use error::CopilotError;
pub use openai::{OpenAiCompatibleClient, OpenAiCompatibleClientBuilder};
pub use retry::RetryPolicy;
