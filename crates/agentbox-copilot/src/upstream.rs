//! Where chat requests go and with which credentials: a fixed base URL and API key, or
//! Copilot's exchanged, expiring tokens.

use agentbox_core::model::ChatRequest;
use async_trait::async_trait;
use reqwest::header::HeaderMap;
use secrecy::SecretString;
use std::fmt;

use crate::CopilotError;

/// The base URL and bearer credential for one request.
pub(crate) struct Target {
    /// Base URL; chat is at `{base_url}/chat/completions`.
    pub base_url: String,
    /// `Authorization: Bearer` credential, if any.
    pub bearer: Option<SecretString>,
    /// Which credential this is, so a rejection invalidates only that one.
    pub generation: u64,
}

impl Target {
    pub(crate) fn chat_url(&self) -> String {
        format!("{}/chat/completions", self.base_url.trim_end_matches('/'))
    }
}

/// A source of [`Target`]s.
#[async_trait]
pub(crate) trait Upstream: Send + Sync + fmt::Debug {
    /// The target for the next request.
    async fn target(&self) -> Result<Target, CopilotError>;

    /// A request made with `target` got 401. True when trying again with fresh credentials
    /// may succeed (the stale ones are dropped).
    async fn rejected(&self, target: &Target) -> bool;

    /// Headers that depend on the request.
    fn request_headers(&self, request: &ChatRequest, headers: &mut HeaderMap);
}

/// A fixed base URL with an optional API key.
pub(crate) struct StaticUpstream {
    pub base_url: String,
    pub api_key: Option<SecretString>,
}

impl fmt::Debug for StaticUpstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticUpstream")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

#[async_trait]
impl Upstream for StaticUpstream {
    async fn target(&self) -> Result<Target, CopilotError> {
        Ok(Target {
            base_url: self.base_url.clone(),
            bearer: self.api_key.clone(),
            generation: 0,
        })
    }

    async fn rejected(&self, _target: &Target) -> bool {
        false
    }

    fn request_headers(&self, _request: &ChatRequest, _headers: &mut HeaderMap) {}
}
