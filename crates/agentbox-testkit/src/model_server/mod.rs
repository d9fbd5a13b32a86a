//! A loopback OpenAI-compatible model server for tests, with a GitHub Copilot token endpoint.
//!
//! It answers `POST /chat/completions` (also under `/v1`) from a scripted queue of
//! [`Reply`]s — text or tool calls, as one JSON body or as SSE chunks when the request asks to
//! stream — and `GET /copilot_internal/v2/token` with short-lived tokens whose `endpoints.api`
//! is the server itself. It records every request (headers and body), checks every chat
//! request and every completion it sends against the OpenAI schemas ([`ChatCompletionsSchema`]),
//! and has fault knobs: error statuses with `Retry-After`, slow (gated) streams, connections
//! dropped mid-stream, revoked tokens.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use agentbox_testkit::model_server::{FakeModelServer, Reply};
//!
//! let server = FakeModelServer::start().await?;
//! server.enqueue(Reply::text("hello"));
//! // Point a client at `server.base_url()`; afterwards:
//! assert!(server.chat_requests().is_empty());
//! assert!(server.schema_violations().is_empty());
//! # Ok(())
//! # }
//! ```
//!
//! The server stops when the [`FakeModelServer`] is dropped.

mod handlers;
mod record;
mod reply;
mod schema;

pub use record::RecordedRequest;
pub use reply::{Reply, ScriptedToolCall, StreamGate};
pub use schema::{CHAT_COMPLETIONS_SCHEMA, ChatCompletionsSchema};

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};
use tokio::sync::oneshot;

/// Settings fixed when the server starts.
#[derive(Debug, Clone)]
pub struct FakeModelServerBuilder {
    api_key: Option<String>,
    oauth_token: Option<String>,
    token_lifetime: Duration,
    api_endpoint: Option<String>,
}

impl Default for FakeModelServerBuilder {
    fn default() -> Self {
        Self {
            api_key: None,
            oauth_token: None,
            token_lifetime: Duration::from_secs(30 * 60),
            api_endpoint: None,
        }
    }
}

impl FakeModelServerBuilder {
    /// Chat requests must carry `Authorization: Bearer <key>`.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Copilot mode: the token endpoint requires `Authorization: token <oauth>`, and chat
    /// requests must carry a Copilot token it issued that has not expired or been revoked.
    pub fn copilot_oauth_token(mut self, oauth: impl Into<String>) -> Self {
        self.oauth_token = Some(oauth.into());
        self
    }

    /// How long issued Copilot tokens live (`expires_at` is now plus this; default 30 min).
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    /// The `endpoints.api` issued tokens name (default: this server).
    pub fn api_endpoint(mut self, url: impl Into<String>) -> Self {
        self.api_endpoint = Some(url.into());
        self
    }

    /// Bind `127.0.0.1:0` and serve until the returned server is dropped.
    pub async fn start(self) -> std::io::Result<FakeModelServer> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(ServerState {
            base_url: format!("http://{addr}"),
            settings: self,
            inner: Mutex::default(),
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let app = handlers::router(state.clone());
        tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "fake model server stopped with an error");
            }
        });
        Ok(FakeModelServer {
            addr,
            state,
            stop: Some(stop),
        })
    }
}

/// A running fake model server; see the [module docs](self).
#[derive(Debug)]
pub struct FakeModelServer {
    addr: SocketAddr,
    state: Arc<ServerState>,
    stop: Option<oneshot::Sender<()>>,
}

#[derive(Debug)]
pub(crate) struct ServerState {
    pub(crate) base_url: String,
    pub(crate) settings: FakeModelServerBuilder,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
pub(crate) struct Inner {
    pub(crate) queue: VecDeque<Reply>,
    pub(crate) fallback: Option<Reply>,
    pub(crate) requests: Vec<RecordedRequest>,
    /// Issued Copilot tokens and when they expire.
    pub(crate) tokens: HashMap<String, SystemTime>,
    pub(crate) exchanges: usize,
    pub(crate) exchange_failure: Option<u16>,
    pub(crate) violations: Vec<String>,
    pub(crate) next_id: u64,
}

impl ServerState {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave `Inner` half-updated in a way that
        // matters for a test double, so a poisoned lock is used as it is.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl FakeModelServer {
    /// Start a server with default settings (any credentials accepted).
    pub async fn start() -> std::io::Result<Self> {
        Self::builder().start().await
    }

    /// Settings for a server.
    pub fn builder() -> FakeModelServerBuilder {
        FakeModelServerBuilder::default()
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL for OpenAI-compatible clients, e.g. `http://127.0.0.1:41234`; chat is
    /// at `{base_url}/chat/completions` (and `{base_url}/v1/chat/completions`).
    pub fn base_url(&self) -> &str {
        &self.state.base_url
    }

    /// The Copilot token-exchange URL.
    pub fn token_url(&self) -> String {
        format!("{}/copilot_internal/v2/token", self.state.base_url)
    }

    /// Queue a reply for the next chat request.
    pub fn enqueue(&self, reply: Reply) {
        self.state.lock().queue.push_back(reply);
    }

    /// The reply for chat requests when the queue is empty; without one, such a request gets
    /// a 400 saying no reply was scripted.
    pub fn set_fallback(&self, reply: Option<Reply>) {
        self.state.lock().fallback = reply;
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.lock().requests.clone()
    }

    /// The chat-completions requests received, in order.
    pub fn chat_requests(&self) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(RecordedRequest::is_chat)
            .collect()
    }

    /// How many Copilot tokens the token endpoint issued.
    pub fn token_exchanges(&self) -> usize {
        self.state.lock().exchanges
    }

    /// Reject every token issued so far with 401, as Copilot does once a token expires.
    pub fn revoke_tokens(&self) {
        self.state.lock().tokens.clear();
    }

    /// Make the token endpoint answer with `status` (`None`: issue tokens again).
    pub fn fail_token_exchange(&self, status: Option<u16>) {
        self.state.lock().exchange_failure = status;
    }

    /// Requests and completions that did not validate against the OpenAI schemas.
    pub fn schema_violations(&self) -> Vec<String> {
        self.state.lock().violations.clone()
    }
}

impl Drop for FakeModelServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
