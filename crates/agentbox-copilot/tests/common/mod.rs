//! Helpers shared by the integration tests.
#![allow(dead_code)]

use agentbox_copilot::{CopilotError, RetryPolicy};
use agentbox_core::evidence::{EvidenceEvent, MemoryEvidenceSink, RunInfo};
use agentbox_core::model::{ChatChunk, ChatMessage, ChatRequest, ChatResponse};
use agentbox_testkit::model_server::FakeModelServer;
use futures::stream::{BoxStream, StreamExt};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// A guard against hangs: a test that waits longer than this has deadlocked.
pub const HANG_GUARD: Duration = Duration::from_secs(30);

/// Awaits `future`, failing the test if it never finishes.
pub async fn guarded<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(HANG_GUARD, future)
        .await
        .expect("the call hung (no answer within the hang guard)")
}

/// Quick retries, so tests of retrying do not wait long.
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy::default()
        .with_initial_delay(Duration::from_millis(5))
        .with_max_delay(Duration::from_millis(20))
}

pub fn ask(text: &str) -> ChatRequest {
    ChatRequest {
        messages: vec![ChatMessage::user(text)],
        ..Default::default()
    }
}

pub fn sink() -> Arc<MemoryEvidenceSink> {
    Arc::new(MemoryEvidenceSink::new(RunInfo::with_id("run-test")).expect("memory sink"))
}

pub fn events(sink: &MemoryEvidenceSink) -> Vec<EvidenceEvent> {
    sink.events().into_iter().map(|e| e.event).collect()
}

/// The [`CopilotError`] inside a core error.
pub fn copilot_error(error: &agentbox_core::Error) -> &CopilotError {
    let agentbox_core::Error::Model {
        source: Some(source),
        ..
    } = error
    else {
        panic!("not a model error with a source: {error:?}");
    };
    source
        .downcast_ref::<CopilotError>()
        .expect("a CopilotError source")
}

/// Every chunk of a stream, until it ends.
pub async fn collect(
    mut stream: BoxStream<'static, agentbox_core::Result<ChatChunk>>,
) -> (Vec<String>, agentbox_core::Result<ChatResponse>) {
    let mut texts = Vec::new();
    while let Some(chunk) = guarded(stream.next()).await {
        match chunk {
            Ok(ChatChunk::Text(t)) => texts.push(t),
            Ok(ChatChunk::Done(response)) => {
                assert!(guarded(stream.next()).await.is_none(), "Done must be last");
                return (texts, Ok(response));
            }
            Err(e) => {
                assert!(
                    guarded(stream.next()).await.is_none(),
                    "an error must end the stream"
                );
                return (texts, Err(e));
            }
        }
    }
    panic!("the stream ended without Done or an error");
}

/// Every chat request the fake received validated against `CreateChatCompletionRequest`,
/// and every completion it sent against the response schemas.
pub fn assert_wire_format_valid(server: &FakeModelServer) {
    let violations = server.schema_violations();
    assert!(violations.is_empty(), "schema violations: {violations:#?}");
}
