//! The Copilot token: exchanged for the GitHub OAuth token, cached until shortly before it
//! expires, refreshed by one caller at a time.

use agentbox_core::model::{ChatRequest, Role};
use async_trait::async_trait;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Mutex;

use crate::engine::Engine;
use crate::evidence::CallRecorder;
use crate::retry::{is_retryable_status, is_retryable_transport, parse_retry_after};
use crate::upstream::{Target, Upstream};
use crate::{CopilotError, RetryPolicy, error};

/// Where chat goes when the exchange names no `endpoints.api`.
pub(crate) const DEFAULT_API: &str = "https://api.githubcopilot.com";

/// The exchange's answer.
#[derive(Deserialize)]
struct TokenResponse {
    token: SecretString,
    /// Unix seconds.
    expires_at: i64,
    #[serde(default)]
    endpoints: Option<Endpoints>,
}

#[derive(Deserialize)]
struct Endpoints {
    #[serde(default)]
    api: Option<String>,
}

struct CachedToken {
    token: SecretString,
    expires_at: SystemTime,
    api: String,
    generation: u64,
}

/// Copilot's token exchange and the cached token.
pub(crate) struct CopilotUpstream {
    pub http: reqwest::Client,
    pub token_url: String,
    pub oauth: SecretString,
    /// Headers for the exchange (editor identification).
    pub exchange_headers: HeaderMap,
    pub refresh_skew: Duration,
    pub retry: RetryPolicy,
    pub recorder: CallRecorder,
    cache: Mutex<Option<CachedToken>>,
    generations: std::sync::atomic::AtomicU64,
}

impl fmt::Debug for CopilotUpstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CopilotUpstream")
            .field("token_url", &self.token_url)
            .field("oauth", &"[REDACTED]")
            .field("refresh_skew", &self.refresh_skew)
            .finish_non_exhaustive()
    }
}

impl CopilotUpstream {
    pub(crate) fn new(
        http: reqwest::Client,
        token_url: String,
        oauth: SecretString,
        exchange_headers: HeaderMap,
        refresh_skew: Duration,
        retry: RetryPolicy,
        recorder: CallRecorder,
    ) -> Self {
        Self {
            http,
            token_url,
            oauth,
            exchange_headers,
            refresh_skew,
            retry,
            recorder,
            cache: Mutex::new(None),
            generations: Default::default(),
        }
    }

    /// One exchange, with retries on throttling, server errors and connection failures.
    async fn exchange(&self) -> Result<CachedToken, CopilotError> {
        let mut authorization = HeaderValue::from_str(&format!(
            "token {}",
            self.oauth.expose_secret()
        ))
        .map_err(|_| {
            CopilotError::Config("the GitHub token has characters HTTP headers do not allow".into())
        })?;
        authorization.set_sensitive(true);
        let mut attempts = self.retry.start();
        loop {
            let sent = self
                .http
                .get(&self.token_url)
                .headers(self.exchange_headers.clone())
                .header(AUTHORIZATION, authorization.clone())
                .header(reqwest::header::ACCEPT, "application/json")
                .send()
                .await;
            let (retryable, retry_after, error) = match sent {
                Ok(response) if response.status().is_success() => return self.read(response).await,
                Ok(response) => {
                    let status = response.status();
                    let retry_after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| parse_retry_after(v, SystemTime::now()));
                    let error = CopilotError::TokenExchange {
                        url: self.token_url.clone(),
                        status,
                        hint: error::exchange_hint(status),
                    };
                    (is_retryable_status(status), retry_after, error)
                }
                Err(source) => {
                    let retryable = is_retryable_transport(&source);
                    let error = CopilotError::Transport {
                        url: self.token_url.clone(),
                        kind: if source.is_timeout() {
                            "timed out"
                        } else {
                            "connection failed"
                        },
                        retries: attempts.retries(),
                        source,
                    };
                    (retryable, None, error)
                }
            };
            let delay = if retryable {
                attempts.next_delay(retry_after)
            } else {
                None
            };
            let Some(delay) = delay else {
                return Err(error);
            };
            tracing::warn!(url = %self.token_url, ?delay, "Copilot token exchange failed; retrying");
            tokio::time::sleep(delay).await;
        }
    }

    async fn read(&self, response: reqwest::Response) -> Result<CachedToken, CopilotError> {
        let protocol = |detail: String| CopilotError::Protocol {
            url: self.token_url.clone(),
            detail,
        };
        let bytes = response
            .bytes()
            .await
            .map_err(|e| protocol(format!("the token response could not be read ({e})")))?;
        // serde_json's messages can quote values; report only where the body went wrong.
        let parsed: TokenResponse = serde_json::from_slice(&bytes).map_err(|e| {
            protocol(format!(
                "not a Copilot token response with `token` and `expires_at` ({:?} error at line {} column {})",
                e.classify(),
                e.line(),
                e.column()
            ))
        })?;
        Engine::register_secret(&self.recorder, &parsed.token);
        let expires_at =
            UNIX_EPOCH + Duration::from_secs(u64::try_from(parsed.expires_at).unwrap_or(0));
        let api = parsed
            .endpoints
            .and_then(|e| e.api)
            .filter(|a| !a.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_API.to_owned());
        let generation = self
            .generations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        tracing::debug!(api = %api, generation, "obtained a Copilot token");
        Ok(CachedToken {
            token: parsed.token,
            expires_at,
            api,
            generation,
        })
    }
}

fn target(token: &CachedToken) -> Target {
    Target {
        base_url: token.api.clone(),
        bearer: Some(token.token.clone()),
        generation: token.generation,
    }
}

#[async_trait]
impl Upstream for CopilotUpstream {
    async fn target(&self) -> Result<Target, CopilotError> {
        // Holding the lock through the exchange makes concurrent callers wait for the one
        // refresh and then share its token.
        let mut cache = self.cache.lock().await;
        let now = SystemTime::now();
        if let Some(token) = cache.as_ref()
            && now
                .checked_add(self.refresh_skew)
                .is_some_and(|t| t < token.expires_at)
        {
            return Ok(target(token));
        }
        let fresh = self.exchange().await?;
        let t = target(&fresh);
        *cache = Some(fresh);
        Ok(t)
    }

    async fn rejected(&self, target: &Target) -> bool {
        let mut cache = self.cache.lock().await;
        if cache
            .as_ref()
            .is_some_and(|t| t.generation == target.generation)
        {
            *cache = None;
        }
        true
    }

    fn request_headers(&self, request: &ChatRequest, headers: &mut HeaderMap) {
        let initiator = match request.messages.last() {
            Some(m) if m.role == Role::Tool => "agent",
            _ => "user",
        };
        headers.insert("x-initiator", HeaderValue::from_static(initiator));
    }
}
