//! Model clients: `OpenAICompatible`, `Copilot` and `ScriptedModel`, all subclasses of `Model`.
//!
//! Keys and tokens become [`SecretString`]s as they cross into Rust and are kept beside the
//! client, so a task run can register them with its evidence redactor; no `repr` shows them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use agentbox_copilot::{CopilotClient, CopilotError, OpenAiCompatibleClient, RetryPolicy};
use agentbox_core::ModelClient;
use agentbox_core::model::{ChatMessage, ChatRequest, ToolChoice, ToolSpec};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use secrecy::SecretString;

use crate::repr::py_repr;
use crate::task::json::{Json, from_python};

/// A chat-completion model. Subclassed by `OpenAICompatible`, `Copilot` and `ScriptedModel`.
#[pyclass(module = "agentbox", subclass, frozen)]
pub struct Model {
    /// The client.
    pub(crate) inner: Arc<dyn ModelClient>,
    /// The credentials the client holds, for the evidence redactor of every task it runs.
    pub(crate) secrets: Vec<SecretString>,
}

#[pymethods]
impl Model {
    /// The model's name (a scripted model's starts with `scripted:`).
    #[getter]
    fn model(&self) -> String {
        self.inner.model().to_owned()
    }

    /// One chat completion: `messages` are OpenAI-style dicts (`role`, `content`,
    /// `tool_calls`, `tool_call_id`), `tools` dicts with `name`, `description` and
    /// `parameters` (a JSON Schema). `tool_choice` is `"auto"`, `"none"`, `"required"` or the
    /// name of a tool. Returns the response as a dict (`message`, `finish_reason`, `usage`,
    /// `model`).
    #[pyo3(signature = (messages, *, tools=None, tool_choice=None, temperature=None, max_tokens=None))]
    fn chat<'py>(
        &self,
        py: Python<'py>,
        messages: &Bound<'py, PyAny>,
        tools: Option<&Bound<'py, PyAny>>,
        tool_choice: Option<String>,
        temperature: Option<f32>,
        max_tokens: Option<u32>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let messages: Vec<ChatMessage> = serde_json::from_value(from_python(messages)?)
            .map_err(|e| bad_argument("messages", &e))?;
        let tools: Vec<ToolSpec> = match tools {
            Some(tools) => serde_json::from_value(from_python(tools)?)
                .map_err(|e| bad_argument("tools", &e))?,
            None => Vec::new(),
        };
        let tool_choice = tool_choice.map(|choice| match choice.as_str() {
            "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "required" => ToolChoice::Required,
            _ => ToolChoice::Tool(choice),
        });
        let request = ChatRequest {
            messages,
            tools,
            tool_choice,
            temperature,
            max_tokens,
        };
        let client = Arc::clone(&self.inner);
        crate::runtime::future(py, async move {
            let response = client.chat(request).await?;
            let value =
                serde_json::to_value(&response).map_err(|e| agentbox_core::Error::Model {
                    model: client.model().to_owned(),
                    message: format!("the response could not be converted for Python: {e}"),
                    source: None,
                })?;
            Ok(Json(value))
        })
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("Model(model={})", py_repr(py, self.inner.model())?))
    }
}

/// Settings both HTTP clients share.
struct Options {
    headers: HashMap<String, String>,
    secret_headers: HashMap<String, SecretString>,
    max_retries: Option<u32>,
    connect_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    request_timeout: Option<Duration>,
    stream_usage: Option<bool>,
}

impl Options {
    #[allow(clippy::too_many_arguments)]
    fn new(
        headers: Option<HashMap<String, String>>,
        secret_headers: Option<HashMap<String, String>>,
        max_retries: Option<u32>,
        connect_timeout: Option<f64>,
        read_timeout: Option<f64>,
        request_timeout: Option<f64>,
        stream_usage: Option<bool>,
    ) -> PyResult<Self> {
        Ok(Self {
            headers: headers.unwrap_or_default(),
            secret_headers: secret_headers
                .unwrap_or_default()
                .into_iter()
                .map(|(name, value)| (name, SecretString::from(value)))
                .collect(),
            max_retries,
            connect_timeout: connect_timeout
                .map(|s| seconds(s, "connect_timeout"))
                .transpose()?,
            read_timeout: read_timeout
                .map(|s| seconds(s, "read_timeout"))
                .transpose()?,
            request_timeout: request_timeout
                .map(|s| seconds(s, "request_timeout"))
                .transpose()?,
            stream_usage,
        })
    }

    /// The secret header values, for the redactor.
    fn secrets(&self) -> impl Iterator<Item = SecretString> + '_ {
        self.secret_headers.values().cloned()
    }
}

/// Applies [`Options`] to either client builder (they share these methods, not a trait).
macro_rules! apply_options {
    ($builder:expr, $options:expr) => {{
        let options = $options;
        let mut builder = $builder;
        for (name, value) in &options.headers {
            builder = builder.header(name, value);
        }
        for (name, value) in &options.secret_headers {
            builder = builder.secret_header(name, value);
        }
        if let Some(retries) = options.max_retries {
            builder = builder.retry(RetryPolicy::default().with_max_retries(retries));
        }
        if let Some(timeout) = options.connect_timeout {
            builder = builder.connect_timeout(timeout);
        }
        if let Some(timeout) = options.read_timeout {
            builder = builder.read_timeout(timeout);
        }
        if let Some(timeout) = options.request_timeout {
            builder = builder.request_timeout(timeout);
        }
        if let Some(include) = options.stream_usage {
            builder = builder.stream_usage(include);
        }
        builder
    }};
}

/// A duration in seconds from Python, refusing negative and non-finite values.
pub(crate) fn seconds(value: f64, name: &str) -> PyResult<Duration> {
    Duration::try_from_secs_f64(value).map_err(|_| {
        PyValueError::new_err(format!(
            "{name}={value} is not a usable duration; give a finite number of seconds, 0 or more"
        ))
    })
}

fn bad_argument(name: &str, error: &serde_json::Error) -> PyErr {
    PyValueError::new_err(format!(
        "`{name}` is not in the OpenAI chat format: {error}; see the docstring of Model.chat"
    ))
}

fn build_error(error: CopilotError, model: &str) -> PyErr {
    crate::errors::to_py(error.into_core(model))
}

/// Any server that speaks OpenAI's chat completions (OpenAI, vLLM, Ollama, LiteLLM, …).
///
/// `base_url` is where `/chat/completions` lives (OpenAI's is `https://api.openai.com/v1`);
/// `api_key`, when given, is sent as `Authorization: Bearer …` and redacted from all evidence.
/// `secret_headers` are headers holding credentials (e.g. Azure's `api-key`), handled the same
/// way. `max_retries` bounds retries of 429/5xx answers and connection failures (default 4);
/// timeouts are seconds.
#[pyclass(module = "agentbox", extends = Model, frozen)]
pub struct OpenAICompatible {
    base_url: String,
    has_key: bool,
}

#[pymethods]
impl OpenAICompatible {
    #[new]
    #[pyo3(signature = (base_url, api_key=None, *, model, headers=None, secret_headers=None,
        max_retries=None, connect_timeout=None, read_timeout=None, request_timeout=None,
        stream_usage=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        base_url: String,
        api_key: Option<String>,
        model: String,
        headers: Option<HashMap<String, String>>,
        secret_headers: Option<HashMap<String, String>>,
        max_retries: Option<u32>,
        connect_timeout: Option<f64>,
        read_timeout: Option<f64>,
        request_timeout: Option<f64>,
        stream_usage: Option<bool>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let api_key = api_key.map(SecretString::from);
        let options = Options::new(
            headers,
            secret_headers,
            max_retries,
            connect_timeout,
            read_timeout,
            request_timeout,
            stream_usage,
        )?;
        let mut secrets: Vec<SecretString> = options.secrets().collect();
        let mut builder = OpenAiCompatibleClient::builder(base_url.clone(), model.clone());
        if let Some(key) = &api_key {
            builder = builder.api_key(key.clone());
            secrets.push(key.clone());
        }
        let client = apply_options!(builder, &options)
            .build()
            .map_err(|e| build_error(e, &model))?;
        Ok(PyClassInitializer::from(Model {
            inner: Arc::new(client),
            secrets,
        })
        .add_subclass(Self {
            base_url,
            has_key: api_key.is_some(),
        }))
    }

    /// The base URL chat requests go to.
    #[getter]
    fn base_url(&self) -> &str {
        &self.base_url
    }

    fn __repr__(slf: PyRef<'_, Self>) -> PyResult<String> {
        let py = slf.py();
        let key = if slf.has_key { "<redacted>" } else { "None" };
        Ok(format!(
            "OpenAICompatible(base_url={}, model={}, api_key={key})",
            py_repr(py, &slf.base_url)?,
            py_repr(py, slf.as_super().inner.model())?
        ))
    }
}

/// GitHub Copilot's chat completions, with a GitHub OAuth token (`ghu_…`/`gho_…`) of an
/// account that has Copilot.
///
/// The token is exchanged for short-lived Copilot tokens (refreshed before they expire) at
/// `token_url` (default GitHub.com's; GitHub Enterprise uses
/// `https://api.<domain>/copilot_internal/v2/token`). The GitHub token is redacted from all
/// evidence and shown by no `repr`.
#[pyclass(module = "agentbox", extends = Model, frozen)]
pub struct Copilot {
    token_url: String,
}

#[pymethods]
impl Copilot {
    #[new]
    #[pyo3(signature = (github_token, model="gpt-4o".to_owned(), *, token_url=None,
        integration_id=None, editor_version=None, editor_plugin_version=None, user_agent=None,
        headers=None, max_retries=None, connect_timeout=None, read_timeout=None,
        request_timeout=None, stream_usage=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        github_token: String,
        model: String,
        token_url: Option<String>,
        integration_id: Option<String>,
        editor_version: Option<String>,
        editor_plugin_version: Option<String>,
        user_agent: Option<String>,
        headers: Option<HashMap<String, String>>,
        max_retries: Option<u32>,
        connect_timeout: Option<f64>,
        read_timeout: Option<f64>,
        request_timeout: Option<f64>,
        stream_usage: Option<bool>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let token = SecretString::from(github_token);
        let options = Options::new(
            headers,
            None,
            max_retries,
            connect_timeout,
            read_timeout,
            request_timeout,
            stream_usage,
        )?;
        let mut builder = CopilotClient::builder(token.clone(), model.clone());
        if let Some(url) = &token_url {
            builder = builder.token_url(url.clone());
        }
        if let Some(id) = integration_id {
            builder = builder.integration_id(id);
        }
        if let Some(version) = editor_version {
            builder = builder.editor_version(version);
        }
        if let Some(version) = editor_plugin_version {
            builder = builder.editor_plugin_version(version);
        }
        if let Some(agent) = user_agent {
            builder = builder.user_agent(agent);
        }
        let client = apply_options!(builder, &options)
            .build()
            .map_err(|e| build_error(e, &model))?;
        Ok(PyClassInitializer::from(Model {
            inner: Arc::new(client),
            secrets: vec![token],
        })
        .add_subclass(Self {
            token_url: token_url.unwrap_or_else(|| agentbox_copilot::GITHUB_TOKEN_URL.to_owned()),
        }))
    }

    /// Where the GitHub token is exchanged for Copilot tokens.
    #[getter]
    fn token_url(&self) -> &str {
        &self.token_url
    }

    fn __repr__(slf: PyRef<'_, Self>) -> PyResult<String> {
        let py = slf.py();
        Ok(format!(
            "Copilot(model={}, token_url={}, github_token=<redacted>)",
            py_repr(py, slf.as_super().inner.model())?,
            py_repr(py, &slf.token_url)?
        ))
    }
}

/// A model that replays canned replies from a script, in order — for demos, offline runs and
/// tests of an orchestrator's plumbing. Its name starts with `scripted:`, and running out of
/// replies is an error, never an invented answer.
///
/// A script is YAML (or JSON)::
///
///     model: demo-fixer
///     replies:
///       - tool_calls:
///           - name: run_tests
///             arguments: {}
///       - text: The tests pass now.
#[pyclass(module = "agentbox", extends = Model, frozen)]
pub struct ScriptedModel {
    script: Arc<agentbox_core::model::ScriptedModel>,
}

impl ScriptedModel {
    fn initializer(script: agentbox_core::model::ScriptedModel) -> PyClassInitializer<Self> {
        let script = Arc::new(script);
        PyClassInitializer::from(Model {
            inner: Arc::clone(&script) as Arc<dyn ModelClient>,
            secrets: Vec::new(),
        })
        .add_subclass(Self { script })
    }
}

#[pymethods]
impl ScriptedModel {
    /// Read and parse a script file. Raises `FileError` when it cannot be read and
    /// `ModelError` when it is not a valid script.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Py<Self>> {
        let script = py
            .detach(|| agentbox_core::model::ScriptedModel::load(&path))
            .map_err(crate::errors::to_py)?;
        Py::new(py, Self::initializer(script))
    }

    /// Parse a script from text; `origin` names it in error messages.
    #[staticmethod]
    #[pyo3(signature = (text, origin="<string>"))]
    fn from_yaml(py: Python<'_>, text: &str, origin: &str) -> PyResult<Py<Self>> {
        let script = agentbox_core::model::ScriptedModel::from_yaml(text, origin)
            .map_err(crate::errors::to_py)?;
        Py::new(py, Self::initializer(script))
    }

    /// Replies not yet given.
    #[getter]
    fn remaining(&self) -> usize {
        self.script.remaining()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "ScriptedModel(model={}, remaining={})",
            py_repr(py, self.script.model())?,
            self.script.remaining()
        ))
    }
}

/// Adds the model classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Model>()?;
    m.add_class::<OpenAICompatible>()?;
    m.add_class::<Copilot>()?;
    m.add_class::<ScriptedModel>()?;
    Ok(())
}
