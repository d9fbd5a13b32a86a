//! [`OpenAiCompatibleClient`]: any server that speaks OpenAI's `/chat/completions` (OpenAI,
//! Azure OpenAI behind a gateway, vLLM, Ollama, llama.cpp, LiteLLM, …).

use agentbox_core::model::{ChatChunk, ChatRequest, ChatResponse};
use agentbox_core::{EvidenceSink, ModelClient};
use async_trait::async_trait;
use futures::stream::BoxStream;
use secrecy::SecretString;
use std::sync::Arc;
use std::time::Duration;

use crate::engine::{Engine, Settings, check_base_url};
use crate::evidence::CallRecorder;
use crate::upstream::StaticUpstream;
use crate::{CopilotError, RetryPolicy};

/// A [`ModelClient`] for an OpenAI-compatible chat-completions server.
///
/// Cheap to clone: clones share one HTTP connection pool.
#[derive(Debug, Clone)]
pub struct OpenAiCompatibleClient {
    engine: Arc<Engine>,
}

impl OpenAiCompatibleClient {
    /// Settings for a client of `model` at `base_url` (chat is at
    /// `{base_url}/chat/completions`, so OpenAI's is `https://api.openai.com/v1`).
    pub fn builder(
        base_url: impl Into<String>,
        model: impl Into<String>,
    ) -> OpenAiCompatibleClientBuilder {
        OpenAiCompatibleClientBuilder {
            base_url: base_url.into(),
            api_key: None,
            settings: Settings::new(model.into()),
        }
    }

    pub(crate) fn from_engine(engine: Engine) -> Self {
        Self {
            engine: Arc::new(engine),
        }
    }
}

#[async_trait]
impl ModelClient for OpenAiCompatibleClient {
    fn model(&self) -> &str {
        self.engine.model()
    }

    async fn chat(&self, request: ChatRequest) -> agentbox_core::Result<ChatResponse> {
        self.engine.chat(request).await
    }

    async fn chat_stream(
        &self,
        request: ChatRequest,
    ) -> agentbox_core::Result<BoxStream<'static, agentbox_core::Result<ChatChunk>>> {
        self.engine.chat_stream(request).await
    }
}

/// Settings for an [`OpenAiCompatibleClient`].
#[derive(Debug)]
#[must_use]
pub struct OpenAiCompatibleClientBuilder {
    base_url: String,
    api_key: Option<SecretString>,
    settings: Settings,
}

/// Builder methods both clients share.
macro_rules! shared_settings {
    () => {
        /// Adds a header to every request.
        pub fn header(mut self, name: &str, value: &str) -> Self {
            self.settings.header(name, value, false);
            self
        }

        /// Adds a header holding a secret (e.g. Azure's `api-key`): it is marked sensitive and
        /// never shown.
        pub fn secret_header(mut self, name: &str, value: &secrecy::SecretString) -> Self {
            use secrecy::ExposeSecret;
            self.settings.header(name, value.expose_secret(), true);
            self
        }

        /// How failed calls are retried (default: [`RetryPolicy::default`]).
        pub fn retry(mut self, policy: RetryPolicy) -> Self {
            self.settings.retry = policy;
            self
        }

        /// The longest wait for a connection (default 10 s).
        pub fn connect_timeout(mut self, timeout: Duration) -> Self {
            self.settings.connect_timeout = timeout;
            self
        }

        /// The longest wait for the next bytes of an answer (default 120 s); a stream whose
        /// server falls silent this long fails.
        pub fn read_timeout(mut self, timeout: Duration) -> Self {
            self.settings.read_timeout = timeout;
            self
        }

        /// The longest a whole request may take, streams included (default: no limit).
        pub fn request_timeout(mut self, timeout: Duration) -> Self {
            self.settings.request_timeout = Some(timeout);
            self
        }

        /// Whether streamed calls ask for a final usage chunk (`stream_options.include_usage`,
        /// default true); turn off for servers that reject `stream_options`.
        pub fn stream_usage(mut self, include: bool) -> Self {
            self.settings.stream_usage = include;
            self
        }

        /// Record one evidence event per call in `sink`; the client's credentials are
        /// registered with the sink's redactor.
        pub fn evidence(mut self, sink: Arc<dyn EvidenceSink>) -> Self {
            self.settings.evidence = Some(sink);
            self
        }
    };
}
pub(crate) use shared_settings;

impl OpenAiCompatibleClientBuilder {
    /// Send `Authorization: Bearer <key>`.
    pub fn api_key(mut self, key: SecretString) -> Self {
        self.api_key = Some(key);
        self
    }

    shared_settings!();

    /// The client.
    pub fn build(self) -> Result<OpenAiCompatibleClient, CopilotError> {
        self.settings.check()?;
        check_base_url(&self.base_url)?;
        let http = self.settings.http_client()?;
        let recorder = CallRecorder::new(self.settings.evidence.clone());
        if let Some(key) = &self.api_key {
            Engine::register_secret(&recorder, key);
        }
        Ok(OpenAiCompatibleClient::from_engine(Engine {
            http,
            upstream: Arc::new(StaticUpstream {
                base_url: self.base_url,
                api_key: self.api_key,
            }),
            settings: self.settings,
            recorder,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_api_key() {
        let client = OpenAiCompatibleClient::builder("http://127.0.0.1:1", "m")
            .api_key(SecretString::from("sk-very-secret"))
            .secret_header("api-key", &SecretString::from("azure-very-secret"))
            .build()
            .unwrap();
        let debug = format!("{client:?}");
        assert!(!debug.contains("very-secret"), "{debug}");
        assert!(debug.contains("127.0.0.1"), "{debug}");
    }

    #[test]
    fn a_bad_header_is_reported_by_name_without_its_value() {
        let err = OpenAiCompatibleClient::builder("http://127.0.0.1:1", "m")
            .header("x-token", "line\nbreak-secret")
            .build()
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("x-token") && !text.contains("break-secret"),
            "{text}"
        );
    }

    #[test]
    fn a_base_url_with_credentials_is_refused() {
        let err = OpenAiCompatibleClient::builder("https://user:pw@example.com/v1", "m")
            .build()
            .unwrap_err();
        assert!(!err.to_string().contains("pw"), "{err}");
    }

    #[test]
    fn an_empty_model_name_is_refused() {
        assert!(
            OpenAiCompatibleClient::builder("http://127.0.0.1:1", " ")
                .build()
                .is_err()
        );
    }
}
