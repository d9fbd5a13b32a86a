//! `FakeModelServer`: the test kit's loopback OpenAI-compatible chat-completions server (with
//! a GitHub Copilot token endpoint), scripted from Python with `ModelReply`s.

use std::time::Duration;

use agentbox_testkit::model_server::{
    FakeModelServer as Server, RecordedRequest, Reply, ScriptedToolCall,
};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::errors::backend_error;
use crate::model::seconds;
use crate::repr::py_repr;
use crate::runtime;
use crate::task::json::{from_python, to_python};

/// What the fake model server answers to one chat request: a completion (text, tool calls or
/// both; usage 10 + 5 tokens unless set) or an error status. Build one with the static
/// methods; the `with_…` methods return a changed copy.
#[pyclass(module = "agentbox.testkit", frozen)]
pub struct ModelReply {
    reply: Reply,
}

#[pymethods]
impl ModelReply {
    /// An assistant message with this text (finish reason `stop`).
    #[staticmethod]
    fn text(text: String) -> Self {
        Self {
            reply: Reply::text(text),
        }
    }

    /// An assistant message calling one tool. `arguments` is JSON text, or a dict (sent as
    /// JSON).
    #[staticmethod]
    fn tool_call(id: String, name: String, arguments: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self {
            reply: Reply::tool_call(id, name, arguments_text(arguments)?),
        })
    }

    /// An assistant message calling these tools: `(id, name, arguments)` each.
    #[staticmethod]
    fn tool_calls(calls: Vec<(String, String, Bound<'_, PyAny>)>) -> PyResult<Self> {
        let calls = calls
            .into_iter()
            .map(|(id, name, arguments)| {
                Ok(ScriptedToolCall {
                    id,
                    name,
                    arguments: arguments_text(&arguments)?,
                })
            })
            .collect::<PyResult<Vec<_>>>()?;
        Ok(Self {
            reply: Reply::tool_calls(calls),
        })
    }

    /// An error answer with this HTTP status and an OpenAI-style error body.
    #[staticmethod]
    fn status(status: u16) -> Self {
        Self {
            reply: Reply::status(status),
        }
    }

    /// This error answer with a `Retry-After` header (seconds or an HTTP date).
    fn with_retry_after(&self, value: String) -> Self {
        Self {
            reply: self.reply.clone().with_retry_after(value),
        }
    }

    /// This completion with text (also beside tool calls).
    fn with_text(&self, text: String) -> Self {
        Self {
            reply: self.reply.clone().with_text(text),
        }
    }

    /// This completion reporting this token usage.
    fn with_usage(&self, prompt_tokens: u64, completion_tokens: u64) -> Self {
        Self {
            reply: self
                .reply
                .clone()
                .with_usage(prompt_tokens, completion_tokens),
        }
    }

    /// When streamed, text and arguments are sent in deltas of at most `chars` characters.
    fn chunked(&self, chars: usize) -> Self {
        Self {
            reply: self.reply.clone().chunked(chars),
        }
    }

    /// When streamed, the connection is dropped after `events` SSE events, without `[DONE]`.
    fn drop_after_events(&self, events: usize) -> Self {
        Self {
            reply: self.reply.clone().drop_after_events(events),
        }
    }

    fn __repr__(&self) -> String {
        "ModelReply(...)".to_owned()
    }
}

fn arguments_text(arguments: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(text) = arguments.cast::<PyString>() {
        return Ok(text.to_str()?.to_owned());
    }
    Ok(from_python(arguments)?.to_string())
}

/// One request the fake model server received. Its headers are as received, credentials
/// included (that is what tests check), so its `repr` shows only the method and path.
#[pyclass(module = "agentbox.testkit", frozen)]
pub struct ModelRequest {
    request: RecordedRequest,
}

#[pymethods]
impl ModelRequest {
    /// The HTTP method.
    #[getter]
    fn method(&self) -> &str {
        &self.request.method
    }

    /// The request path, e.g. `/chat/completions`.
    #[getter]
    fn path(&self) -> &str {
        &self.request.path
    }

    /// The headers in arrival order, names in lower case.
    #[getter]
    fn headers(&self) -> Vec<(String, String)> {
        self.request.headers.clone()
    }

    /// The first value of header `name` (any case), or `None`.
    fn header(&self, name: &str) -> Option<&str> {
        self.request.header(name)
    }

    /// The body as JSON (dicts and lists; `None` when empty; a string when it is not JSON).
    #[getter]
    fn body<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.request.body)
    }

    /// True for a chat-completions request.
    #[getter]
    fn is_chat(&self) -> bool {
        self.request.is_chat()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "ModelRequest(method={}, path={})",
            py_repr(py, &self.request.method)?,
            py_repr(py, &self.request.path)?
        ))
    }
}

/// A loopback OpenAI-compatible model server for tests: point `OpenAICompatible(server.base_url,
/// model=...)` (or `Copilot(..., token_url=server.token_url)`) at it, `enqueue` the replies,
/// and check what it received. It answers from its queue in order; a request it has no reply
/// for gets a 400 (unless `set_fallback` gave one). Every request and every completion is
/// checked against OpenAI's schemas (`schema_violations`).
///
/// With `api_key`, chat requests must carry `Authorization: Bearer <api_key>`; with
/// `copilot_oauth_token`, it behaves as GitHub Copilot: the token endpoint wants that token
/// and issues Copilot tokens living `token_lifetime` seconds, which chat requests must carry.
/// Use it as `with FakeModelServer() as server:`, or call `close()`.
#[pyclass(module = "agentbox.testkit", frozen)]
pub struct FakeModelServer {
    server: super::Running<Server>,
    base_url: String,
    token_url: String,
}

impl FakeModelServer {
    fn with<T>(&self, f: impl FnOnce(&Server) -> T) -> PyResult<T> {
        self.server.with(f).ok_or_else(|| {
            PyRuntimeError::new_err(format!(
                "the fake model server at {} is closed; start a new one",
                self.base_url
            ))
        })
    }
}

#[pymethods]
impl FakeModelServer {
    #[new]
    #[pyo3(signature = (*, api_key=None, copilot_oauth_token=None, token_lifetime=None))]
    fn new(
        py: Python<'_>,
        api_key: Option<String>,
        copilot_oauth_token: Option<String>,
        token_lifetime: Option<f64>,
    ) -> PyResult<Self> {
        let mut builder = Server::builder();
        if let Some(key) = api_key {
            builder = builder.api_key(key);
        }
        if let Some(token) = copilot_oauth_token {
            builder = builder.copilot_oauth_token(token);
        }
        if let Some(lifetime) = token_lifetime {
            let lifetime: Duration = seconds(lifetime, "token_lifetime")?;
            builder = builder.token_lifetime(lifetime);
        }
        let server = runtime::block_on(py, builder.start()).map_err(|e| backend_error(&e))?;
        Ok(Self {
            base_url: server.base_url().to_owned(),
            token_url: server.token_url(),
            server: super::Running::new(server),
        })
    }

    /// The base URL for OpenAI-compatible clients, e.g. `http://127.0.0.1:41234`.
    #[getter]
    fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The Copilot token-exchange URL (`Copilot(..., token_url=server.token_url)`).
    #[getter]
    fn token_url(&self) -> &str {
        &self.token_url
    }

    /// Queue a reply for the next chat request.
    fn enqueue(&self, reply: &Bound<'_, ModelReply>) -> PyResult<()> {
        let reply = reply.get().reply.clone();
        self.with(|s| s.enqueue(reply))
    }

    /// The reply for chat requests when the queue is empty (`None`: answer 400).
    fn set_fallback(&self, reply: Option<&Bound<'_, ModelReply>>) -> PyResult<()> {
        let reply = reply.map(|r| r.get().reply.clone());
        self.with(|s| s.set_fallback(reply))
    }

    /// Every request received, in order.
    fn requests(&self) -> PyResult<Vec<ModelRequest>> {
        self.with(|s| wrap(s.requests()))
    }

    /// The chat-completions requests received, in order.
    fn chat_requests(&self) -> PyResult<Vec<ModelRequest>> {
        self.with(|s| wrap(s.chat_requests()))
    }

    /// How many Copilot tokens the token endpoint issued.
    #[getter]
    fn token_exchanges(&self) -> PyResult<usize> {
        self.with(Server::token_exchanges)
    }

    /// Reject every Copilot token issued so far with 401, as Copilot does once one expires.
    fn revoke_tokens(&self) -> PyResult<()> {
        self.with(Server::revoke_tokens)
    }

    /// Make the token endpoint answer with `status` (`None`: issue tokens again).
    fn fail_token_exchange(&self, status: Option<u16>) -> PyResult<()> {
        self.with(|s| s.fail_token_exchange(status))
    }

    /// Requests and completions that did not validate against OpenAI's schemas.
    fn schema_violations(&self) -> PyResult<Vec<String>> {
        self.with(Server::schema_violations)
    }

    /// Stop serving. Closing a closed server does nothing.
    fn close(&self) {
        self.server.drop_now();
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &self,
        _exc_type: Option<Bound<'_, PyAny>>,
        _exc: Option<Bound<'_, PyAny>>,
        _traceback: Option<Bound<'_, PyAny>>,
    ) {
        self.close();
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "FakeModelServer(base_url={}, {})",
            py_repr(py, &self.base_url)?,
            self.server.state()
        ))
    }
}

fn wrap(requests: Vec<RecordedRequest>) -> Vec<ModelRequest> {
    requests
        .into_iter()
        .map(|request| ModelRequest { request })
        .collect()
}

/// Adds `FakeModelServer`, `ModelReply` and `ModelRequest` to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<FakeModelServer>()?;
    m.add_class::<ModelReply>()?;
    m.add_class::<ModelRequest>()?;
    Ok(())
}
