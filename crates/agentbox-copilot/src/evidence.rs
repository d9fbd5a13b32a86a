//! One evidence event per model call.

use agentbox_core::EvidenceSink;
use agentbox_core::evidence::EvidenceEvent;
use agentbox_core::model::Usage;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use crate::CopilotError;

/// Records model calls into an optional [`EvidenceSink`].
///
/// A call that answered is a [`EvidenceEvent::ModelCall`]; a call that failed is a
/// [`EvidenceEvent::Note`] naming the model, the retries and the error (which never holds a
/// credential or the prompt). A sink that cannot record is logged, not turned into a failed
/// call: the answer has been paid for.
#[derive(Clone, Default)]
pub(crate) struct CallRecorder {
    sink: Option<Arc<dyn EvidenceSink>>,
}

impl fmt::Debug for CallRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallRecorder")
            .field("run_id", &self.sink.as_ref().map(|s| s.run_id()))
            .finish()
    }
}

impl CallRecorder {
    pub(crate) fn new(sink: Option<Arc<dyn EvidenceSink>>) -> Self {
        Self { sink }
    }

    pub(crate) fn sink(&self) -> Option<&Arc<dyn EvidenceSink>> {
        self.sink.as_ref()
    }

    /// The model answered.
    pub(crate) async fn answered(
        &self,
        model: &str,
        started: Instant,
        usage: Option<Usage>,
        retries: u32,
    ) {
        let usage = usage.unwrap_or_default();
        self.record(EvidenceEvent::ModelCall {
            model: model.to_owned(),
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            latency_ms: millis(started),
            retries,
        })
        .await;
    }

    /// The call failed.
    pub(crate) async fn failed(&self, model: &str, started: Instant, error: &CopilotError) {
        self.record(EvidenceEvent::Note {
            message: format!(
                "model call to `{model}` failed after {} ms and {} retries: {error}",
                millis(started),
                error.retries()
            ),
        })
        .await;
    }

    async fn record(&self, event: EvidenceEvent) {
        if let Some(sink) = &self.sink
            && let Err(e) = sink.record(event).await
        {
            tracing::warn!(error = %e, "could not record the model call as evidence");
        }
    }
}

fn millis(started: Instant) -> u64 {
    started.elapsed().as_millis().try_into().unwrap_or(u64::MAX)
}
