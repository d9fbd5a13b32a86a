//! A streamed answer: SSE `data:` events in, [`ChatChunk`]s out, as they arrive.

use agentbox_core::model::ChatChunk;
use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures::stream::{BoxStream, Stream, StreamExt};
use std::time::Instant;

use crate::CopilotError;
use crate::assemble::Assembler;
use crate::evidence::CallRecorder;
use crate::wire::WireChunk;

/// What a stream needs to know about its call.
pub(crate) struct StreamCall {
    pub model: String,
    pub url: String,
    pub retries: u32,
    pub started: Instant,
    pub recorder: CallRecorder,
}

struct State {
    events: BoxStream<'static, Result<Event, EventStreamError<reqwest::Error>>>,
    assembler: Assembler,
    call: StreamCall,
    received: usize,
    over: bool,
}

enum Step {
    Text(String),
    Done,
    Failed(CopilotError),
}

/// The chunks of `response`: [`ChatChunk::Text`] per text delta, then one
/// [`ChatChunk::Done`]; or an error, after which the stream ends.
pub(crate) fn chunks(
    response: reqwest::Response,
    call: StreamCall,
) -> impl Stream<Item = agentbox_core::Result<ChatChunk>> + Send + 'static {
    let state = State {
        events: response.bytes_stream().eventsource().boxed(),
        assembler: Assembler::default(),
        call,
        received: 0,
        over: false,
    };
    futures::stream::unfold(state, |mut state| async move {
        if state.over {
            return None;
        }
        let item = match state.step().await {
            Step::Text(text) => Ok(ChatChunk::Text(text)),
            Step::Done => {
                state.over = true;
                let assembler = std::mem::take(&mut state.assembler);
                let response = assembler.finish(&state.call.model);
                let call = &state.call;
                call.recorder
                    .answered(&call.model, call.started, response.usage, call.retries)
                    .await;
                Ok(ChatChunk::Done(response))
            }
            Step::Failed(error) => {
                state.over = true;
                let call = &state.call;
                call.recorder
                    .failed(&call.model, call.started, &error)
                    .await;
                Err(error.into_core(&call.model))
            }
        };
        Some((item, state))
    })
}

impl State {
    /// Reads events until one yields text, the answer ends, or the stream fails.
    async fn step(&mut self) -> Step {
        loop {
            let event = match self.events.next().await {
                Some(Ok(event)) => event,
                Some(Err(e)) => return Step::Failed(self.interrupted(Some(Box::new(e)))),
                // Some servers close without `[DONE]` once they have sent a finish reason.
                None if self.assembler.has_finished() => return Step::Done,
                None => return Step::Failed(self.interrupted(None)),
            };
            self.received += 1;
            let data = event.data.trim();
            if data.is_empty() {
                continue;
            }
            if data == "[DONE]" {
                return Step::Done;
            }
            let value: serde_json::Value = match serde_json::from_str(data) {
                Ok(v) => v,
                Err(e) => {
                    return Step::Failed(
                        self.protocol(format!("a `data:` line is not JSON ({e})")),
                    );
                }
            };
            if let Some(error) = value.get("error") {
                let message = error
                    .get("message")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("no message");
                return Step::Failed(self.protocol(format!(
                    "the server reported an error mid-stream: {message}"
                )));
            }
            let chunk: WireChunk = match serde_json::from_value(value) {
                Ok(c) => c,
                Err(e) => {
                    return Step::Failed(
                        self.protocol(format!("a chunk is not a chat.completion.chunk ({e})")),
                    );
                }
            };
            let text = self.assembler.push(chunk);
            if !text.is_empty() {
                return Step::Text(text);
            }
        }
    }

    fn interrupted(
        &self,
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    ) -> CopilotError {
        CopilotError::StreamInterrupted {
            url: self.call.url.clone(),
            events: self.received,
            source,
        }
    }

    fn protocol(&self, detail: String) -> CopilotError {
        CopilotError::Protocol {
            url: self.call.url.clone(),
            detail,
        }
    }
}
