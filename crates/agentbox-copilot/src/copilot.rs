//! [`CopilotClient`]: GitHub Copilot's chat completions, on top of the OpenAI-compatible
//! client.
//!
//! GitHub publishes no specification for this API. The client follows what open-source
//! clients do: exchange the GitHub OAuth token at `copilot_internal/v2/token` for a
//! short-lived Copilot token, send chat to the `endpoints.api` the exchange names, and send
//! the editor headers Copilot expects. Every constant is configurable.

use agentbox_core::model::{ChatChunk, ChatRequest, ChatResponse};
use agentbox_core::{EvidenceSink, ModelClient};
use async_trait::async_trait;
use futures::stream::BoxStream;
use secrecy::SecretString;
use std::sync::Arc;
use std::time::Duration;

use crate::engine::{Engine, Settings, check_base_url};
use crate::evidence::CallRecorder;
use crate::openai::{OpenAiCompatibleClient, shared_settings};
use crate::token::CopilotUpstream;
use crate::{CopilotError, RetryPolicy};

/// GitHub.com's token-exchange endpoint.
pub const GITHUB_TOKEN_URL: &str = "https://api.github.com/copilot_internal/v2/token";

const AGENTBOX: &str = concat!("agentbox/", env!("CARGO_PKG_VERSION"));

/// A [`ModelClient`] for GitHub Copilot.
///
/// Sends `Authorization: Bearer <copilot token>`, `Copilot-Integration-Id`, `Editor-Version`,
/// `Editor-Plugin-Version`, `User-Agent`, and `X-Initiator` (`agent` when the last message is
/// a tool result, else `user`). The Copilot token is refreshed shortly before it expires, by
/// one caller while the others wait, and once more when the API answers 401.
///
/// Cheap to clone: clones share the token cache and the connection pool.
#[derive(Debug, Clone)]
pub struct CopilotClient {
    chat: OpenAiCompatibleClient,
}

impl CopilotClient {
    /// Settings for a client of `model` using the GitHub OAuth token `oauth_token` (a `ghu_`
    /// or `gho_` token of an account with Copilot).
    pub fn builder(oauth_token: SecretString, model: impl Into<String>) -> CopilotClientBuilder {
        CopilotClientBuilder {
            oauth_token,
            token_url: GITHUB_TOKEN_URL.to_owned(),
            integration_id: "vscode-chat".to_owned(),
            editor_version: AGENTBOX.to_owned(),
            editor_plugin_version: AGENTBOX.to_owned(),
            user_agent: AGENTBOX.to_owned(),
            refresh_skew: Duration::from_secs(5 * 60),
            settings: Settings::new(model.into()),
        }
    }
}

#[async_trait]
impl ModelClient for CopilotClient {
    fn model(&self) -> &str {
        self.chat.model()
    }

    async fn chat(&self, request: ChatRequest) -> agentbox_core::Result<ChatResponse> {
        self.chat.chat(request).await
    }

    async fn chat_stream(
        &self,
        request: ChatRequest,
    ) -> agentbox_core::Result<BoxStream<'static, agentbox_core::Result<ChatChunk>>> {
        self.chat.chat_stream(request).await
    }
}

/// Settings for a [`CopilotClient`].
#[derive(Debug)]
#[must_use]
pub struct CopilotClientBuilder {
    oauth_token: SecretString,
    token_url: String,
    integration_id: String,
    editor_version: String,
    editor_plugin_version: String,
    user_agent: String,
    refresh_skew: Duration,
    settings: Settings,
}

impl CopilotClientBuilder {
    /// The token-exchange endpoint (default [`GITHUB_TOKEN_URL`]; GitHub Enterprise with data
    /// residency uses `https://api.<domain>/copilot_internal/v2/token`).
    pub fn token_url(mut self, url: impl Into<String>) -> Self {
        self.token_url = url.into();
        self
    }

    /// `Copilot-Integration-Id` (default `vscode-chat`, what every known client sends).
    pub fn integration_id(mut self, id: impl Into<String>) -> Self {
        self.integration_id = id.into();
        self
    }

    /// `Editor-Version`, as `<editor>/<version>` (default `agentbox/<version>`).
    pub fn editor_version(mut self, version: impl Into<String>) -> Self {
        self.editor_version = version.into();
        self
    }

    /// `Editor-Plugin-Version` (default `agentbox/<version>`).
    pub fn editor_plugin_version(mut self, version: impl Into<String>) -> Self {
        self.editor_plugin_version = version.into();
        self
    }

    /// `User-Agent` (default `agentbox/<version>`).
    pub fn user_agent(mut self, agent: impl Into<String>) -> Self {
        self.user_agent = agent.into();
        self
    }

    /// Refresh the Copilot token this long before its `expires_at` (default 5 min).
    pub fn refresh_skew(mut self, skew: Duration) -> Self {
        self.refresh_skew = skew;
        self
    }

    shared_settings!();

    /// The client. No request is made until the first call.
    pub fn build(mut self) -> Result<CopilotClient, CopilotError> {
        check_base_url(&self.token_url)?;
        let identity = [
            ("editor-version", self.editor_version.clone()),
            ("editor-plugin-version", self.editor_plugin_version.clone()),
            ("user-agent", self.user_agent.clone()),
        ];
        let mut exchange = Settings::new(self.settings.model.clone());
        for (name, value) in &identity {
            exchange.header(name, value, false);
            self.settings.header(name, value, false);
        }
        self.settings
            .header("copilot-integration-id", &self.integration_id, false);
        self.settings.check()?;
        exchange.check()?;
        let http = self.settings.http_client()?;
        let recorder = CallRecorder::new(self.settings.evidence.clone());
        Engine::register_secret(&recorder, &self.oauth_token);
        let upstream = CopilotUpstream::new(
            http.clone(),
            self.token_url,
            self.oauth_token,
            exchange.headers,
            self.refresh_skew,
            self.settings.retry,
            recorder.clone(),
        );
        Ok(CopilotClient {
            chat: OpenAiCompatibleClient::from_engine(Engine {
                http,
                settings: self.settings,
                upstream: Arc::new(upstream),
                recorder,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_oauth_token() {
        let client = CopilotClient::builder(SecretString::from("ghu_very_secret"), "gpt-4o")
            .build()
            .unwrap();
        let debug = format!("{client:?}");
        assert!(!debug.contains("ghu_very_secret"), "{debug}");
        assert!(debug.contains("gpt-4o"), "{debug}");
    }
}
