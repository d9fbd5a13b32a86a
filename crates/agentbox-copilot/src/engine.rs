//! The machinery both clients share: settings, the HTTP client, and one chat call with
//! retries, evidence and tracing.

use agentbox_core::EvidenceSink;
use agentbox_core::model::{ChatChunk, ChatRequest, ChatResponse};
use futures::stream::{BoxStream, StreamExt};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Response, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tracing::Instrument;

use crate::evidence::CallRecorder;
use crate::retry::{is_retryable_status, is_retryable_transport, parse_retry_after};
use crate::stream::{StreamCall, chunks};
use crate::upstream::Upstream;
use crate::wire::{WireRequest, WireResponse};
use crate::{CopilotError, RetryPolicy, assemble, error};

/// Settings both builders share.
#[derive(Clone)]
pub(crate) struct Settings {
    pub model: String,
    pub headers: HeaderMap,
    pub invalid: Option<String>,
    pub retry: RetryPolicy,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub request_timeout: Option<Duration>,
    pub stream_usage: bool,
    pub evidence: Option<Arc<dyn EvidenceSink>>,
}

impl Settings {
    pub(crate) fn new(model: String) -> Self {
        Self {
            model,
            headers: HeaderMap::new(),
            invalid: None,
            retry: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(120),
            request_timeout: None,
            stream_usage: true,
            evidence: None,
        }
    }

    /// Adds a header; a bad name or value is reported by `build` (naming the header only:
    /// the value may be a secret).
    pub(crate) fn header(&mut self, name: &str, value: &str, sensitive: bool) {
        let parsed = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("`{name}` is not a valid HTTP header name"))
            .and_then(|n| {
                HeaderValue::from_str(value).map(|v| (n, v)).map_err(|_| {
                    format!("the value of header `{name}` has characters HTTP does not allow")
                })
            });
        match parsed {
            Ok((n, mut v)) => {
                v.set_sensitive(sensitive);
                self.headers.insert(n, v);
            }
            Err(problem) => {
                self.invalid.get_or_insert(problem);
            }
        }
    }

    pub(crate) fn check(&self) -> Result<(), CopilotError> {
        match &self.invalid {
            Some(problem) => Err(CopilotError::Config(problem.clone())),
            None if self.model.trim().is_empty() => {
                Err(CopilotError::Config("the model name is empty".into()))
            }
            None => Ok(()),
        }
    }

    pub(crate) fn http_client(&self) -> Result<reqwest::Client, CopilotError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .read_timeout(self.read_timeout);
        if let Some(total) = self.request_timeout {
            builder = builder.timeout(total);
        }
        builder.build().map_err(CopilotError::HttpClient)
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("model", &self.model)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("retry", &self.retry)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("stream_usage", &self.stream_usage)
            .finish_non_exhaustive()
    }
}

/// A base URL must be http(s) and must not carry credentials.
pub(crate) fn check_base_url(url: &str) -> Result<(), CopilotError> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| CopilotError::Config(format!("base URL `{url}` is not a URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(CopilotError::Config(format!(
            "base URL `{url}` is not http or https"
        )));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(CopilotError::Config(
            "the base URL carries credentials; pass them as the API key instead".into(),
        ));
    }
    Ok(())
}

/// One configured chat endpoint.
#[derive(Debug)]
pub(crate) struct Engine {
    pub http: reqwest::Client,
    pub settings: Settings,
    pub upstream: Arc<dyn Upstream>,
    pub recorder: CallRecorder,
}

/// A failed try.
enum Failure {
    Status {
        status: StatusCode,
        retry_after: Option<Duration>,
        message: String,
    },
    Transport(reqwest::Error),
}

impl Failure {
    async fn from_response(response: Response) -> Self {
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let body = response.bytes().await.unwrap_or_default();
        Failure::Status {
            status,
            retry_after,
            message: error::server_message(status, &body),
        }
    }

    fn is_retryable(&self) -> bool {
        match self {
            Failure::Status { status, .. } => is_retryable_status(*status),
            Failure::Transport(e) => is_retryable_transport(e),
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Failure::Status { retry_after, .. } => *retry_after,
            Failure::Transport(_) => None,
        }
    }

    fn into_error(self, url: String, retries: u32) -> CopilotError {
        match self {
            Failure::Status {
                status, message, ..
            } => CopilotError::Status {
                url,
                status,
                message,
                retries,
            },
            Failure::Transport(source) => CopilotError::Transport {
                url,
                kind: if source.is_timeout() {
                    "timed out"
                } else if source.is_connect() {
                    "connection failed"
                } else {
                    "request failed"
                },
                retries,
                source,
            },
        }
    }
}

/// A successful answer: a whole body, or a response whose body is still streaming.
enum Answer {
    Body(bytes::Bytes),
    Stream(Response),
}

/// What `send` got.
struct Sent {
    answer: Answer,
    url: String,
    retries: u32,
}

impl Engine {
    pub(crate) fn model(&self) -> &str {
        &self.settings.model
    }

    /// Sends `request` until it is answered with 2xx, or a failure is final.
    async fn send(&self, request: &ChatRequest, stream: bool) -> Result<Sent, CopilotError> {
        let body = WireRequest::new(
            &self.settings.model,
            request,
            stream,
            self.settings.stream_usage,
        );
        let mut attempts = self.settings.retry.start();
        let mut reauthenticated = false;
        loop {
            let target = self.upstream.target().await?;
            let url = target.chat_url();
            let mut headers = self.settings.headers.clone();
            self.upstream.request_headers(request, &mut headers);
            let mut builder = self.http.post(&url).headers(headers).json(&body);
            if let Some(bearer) = &target.bearer {
                builder = builder.bearer_auth(bearer.expose_secret());
            }
            let failure = match builder.send().await {
                Ok(response) if response.status().is_success() => {
                    if stream {
                        return Ok(Sent {
                            answer: Answer::Stream(response),
                            url,
                            retries: attempts.retries(),
                        });
                    }
                    match response.bytes().await {
                        Ok(bytes) => {
                            return Ok(Sent {
                                answer: Answer::Body(bytes),
                                url,
                                retries: attempts.retries(),
                            });
                        }
                        Err(e) => Failure::Transport(e),
                    }
                }
                Ok(response)
                    if response.status() == StatusCode::UNAUTHORIZED
                        && !reauthenticated
                        && self.upstream.rejected(&target).await =>
                {
                    tracing::debug!(%url, "401 with a cached token; trying once more with a fresh one");
                    reauthenticated = true;
                    attempts.count_immediate_retry();
                    continue;
                }
                Ok(response) => Failure::from_response(response).await,
                Err(e) => Failure::Transport(e),
            };
            let delay = if failure.is_retryable() {
                attempts.next_delay(failure.retry_after())
            } else {
                None
            };
            let Some(delay) = delay else {
                return Err(failure.into_error(url, attempts.retries()));
            };
            tracing::warn!(%url, retry = attempts.retries(), ?delay, "model call failed; retrying");
            tokio::time::sleep(delay).await;
        }
    }

    pub(crate) async fn chat(&self, request: ChatRequest) -> agentbox_core::Result<ChatResponse> {
        let span = tracing::debug_span!("model_call", model = %self.settings.model, stream = false);
        async {
            let started = Instant::now();
            let result = self.chat_once(&request).await;
            match result {
                Ok((response, retries)) => {
                    self.recorder
                        .answered(&self.settings.model, started, response.usage, retries)
                        .await;
                    Ok(response)
                }
                Err(error) => {
                    self.recorder
                        .failed(&self.settings.model, started, &error)
                        .await;
                    Err(error.into_core(&self.settings.model))
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn chat_once(&self, request: &ChatRequest) -> Result<(ChatResponse, u32), CopilotError> {
        let sent = self.send(request, false).await?;
        let Answer::Body(bytes) = sent.answer else {
            return Err(CopilotError::Protocol {
                url: sent.url,
                detail: "expected a whole body".into(),
            });
        };
        let wire: WireResponse =
            serde_json::from_slice(&bytes).map_err(|e| CopilotError::Protocol {
                url: sent.url.clone(),
                detail: format!("not a chat completion ({e})"),
            })?;
        if wire.choices.is_empty() {
            return Err(CopilotError::Protocol {
                url: sent.url,
                detail: "a chat completion without choices".into(),
            });
        }
        Ok((
            assemble::from_response(wire, &self.settings.model),
            sent.retries,
        ))
    }

    pub(crate) async fn chat_stream(
        &self,
        request: ChatRequest,
    ) -> agentbox_core::Result<BoxStream<'static, agentbox_core::Result<ChatChunk>>> {
        let span = tracing::debug_span!("model_call", model = %self.settings.model, stream = true);
        let started = Instant::now();
        let sent = match self.send(&request, true).instrument(span.clone()).await {
            Ok(sent) => sent,
            Err(error) => {
                self.recorder
                    .failed(&self.settings.model, started, &error)
                    .await;
                return Err(error.into_core(&self.settings.model));
            }
        };
        let Answer::Stream(response) = sent.answer else {
            let error = CopilotError::Protocol {
                url: sent.url,
                detail: "expected a stream".into(),
            };
            return Err(error.into_core(&self.settings.model));
        };
        let call = StreamCall {
            model: self.settings.model.clone(),
            url: sent.url,
            retries: sent.retries,
            started,
            recorder: self.recorder.clone(),
        };
        Ok(chunks(response, call).boxed())
    }

    /// Registers a secret with the evidence sink's redactor, so it can never be stored.
    pub(crate) fn register_secret(recorder: &CallRecorder, secret: &SecretString) {
        if let Some(sink) = recorder.sink() {
            sink.redactor().register(secret);
        }
    }
}
