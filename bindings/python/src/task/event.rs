//! `TaskEvent` and the relay that hands progress events to a Python callback.
//!
//! The task runner reports progress synchronously, on the tokio task doing the work. The relay
//! only queues each event there; one blocking thread per runner takes them off the queue, in
//! order, and calls the Python callback with the GIL held, so a slow callback never stalls the
//! runtime's workers. An exception raised by the callback is logged (`tracing`, target
//! `agentbox::task`) and the next event is delivered as usual: the task is not affected.

use std::fmt::Write as _;

use agentbox_core::evidence::Redactor;
use agentbox_core::progress::{Progress, ProgressEvent};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde_json::{Map, Value};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

use super::json::to_python;
use crate::repr::py_repr;

/// One progress event of a task.
///
/// `kind` is the task step — `"provisioning"`, `"ready"`, `"cloned"`, `"model_turn"`,
/// `"tool_call"`, `"agent_started"`, `"tests"`, `"committed"`, `"pull_request_opened"`,
/// `"finished"`, `"cleaned_up"` — or, for events that are not task steps, the progress event's
/// kind (`"workspace"`, `"exec_started"`, `"exec_finished"`, `"transfer"`, `"warning"`).
/// `fields` holds the rest, e.g. `{"turn": 1, "max": 30}` for `"model_turn"`,
/// `{"tool": "run_tests", "allowed": True}` for `"tool_call"`, `{"passed": False, "run": 1}` for
/// `"tests"`, `{"outcome": {"status": "succeeded"}}` for `"finished"`. `run_id` is the task's
/// evidence run. Known secrets are redacted from every value.
#[pyclass(module = "agentbox", frozen)]
pub struct TaskEvent {
    kind: String,
    run_id: Option<String>,
    fields: Map<String, Value>,
}

impl TaskEvent {
    /// The Python view of `event`, with `redactor`'s secrets taken out.
    pub(crate) fn new(
        event: &ProgressEvent,
        redactor: &Redactor,
    ) -> Result<Self, serde_json::Error> {
        let (run_id, value, tag) = match event {
            ProgressEvent::Task { run, step } => {
                (Some(run.clone()), serde_json::to_value(step)?, "step")
            }
            other => (None, serde_json::to_value(other)?, "event"),
        };
        let mut fields = match value {
            Value::Object(map) => map,
            other => Map::from_iter([("value".to_owned(), other)]),
        };
        let kind = match fields.shift_remove(tag) {
            Some(Value::String(kind)) => kind,
            _ => "unknown".to_owned(),
        };
        for value in fields.values_mut() {
            redactor.redact_json(value);
        }
        Ok(Self {
            kind,
            run_id,
            fields,
        })
    }
}

#[pymethods]
impl TaskEvent {
    /// What happened (see the class docstring for the kinds).
    #[getter]
    fn kind(&self) -> &str {
        &self.kind
    }

    /// The evidence run of the task this event belongs to (`None` for events that are not
    /// task steps).
    #[getter]
    fn run_id(&self) -> Option<&str> {
        self.run_id.as_deref()
    }

    /// The event's other fields.
    #[getter]
    fn fields<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (key, value) in &self.fields {
            dict.set_item(key, to_python(py, value)?)?;
        }
        Ok(dict)
    }

    /// `fields[key]`; raises `KeyError` when the event has no such field.
    fn __getitem__<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Bound<'py, PyAny>> {
        match self.fields.get(key) {
            Some(value) => to_python(py, value),
            None => Err(pyo3::exceptions::PyKeyError::new_err(format!(
                "a {} event has no field {}; it has {}",
                py_repr(py, &self.kind)?,
                py_repr(py, key)?,
                py_repr(py, self.fields.keys().collect::<Vec<_>>())?
            ))),
        }
    }

    /// `fields.get(key, default)`.
    #[pyo3(signature = (key, default=None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        key: &str,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        match self.fields.get(key) {
            Some(value) => to_python(py, value),
            None => Ok(default.unwrap_or_else(|| py.None().into_bound(py))),
        }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let mut text = format!("TaskEvent(kind={}", py_repr(py, &self.kind)?);
        if let Some(run) = &self.run_id {
            let _ = write!(text, ", run_id={}", py_repr(py, run)?);
        }
        for (key, value) in &self.fields {
            let _ = write!(text, ", {key}={}", to_python(py, value)?.repr()?);
        }
        text.push(')');
        Ok(text)
    }
}

enum Message {
    Event(ProgressEvent),
    Flush(oneshot::Sender<()>),
}

/// Hands a runner's progress events to a Python callback, in order, off the runtime's workers.
pub(crate) struct EventRelay {
    queue: mpsc::UnboundedSender<Message>,
}

impl EventRelay {
    /// Start delivering to `callback`; the delivery thread ends when the relay and every
    /// [`Progress`] made from it are dropped.
    pub(crate) fn start(callback: Py<PyAny>, redactor: Redactor) -> Self {
        let (queue, mut receiver) = mpsc::unbounded_channel::<Message>();
        crate::runtime::handle().spawn_blocking(move || {
            while let Some(message) = receiver.blocking_recv() {
                match message {
                    Message::Event(event) => deliver(&callback, &event, &redactor),
                    Message::Flush(done) => {
                        let _ = done.send(());
                    }
                }
            }
        });
        Self { queue }
    }

    /// A progress handle feeding this relay.
    pub(crate) fn progress(&self) -> Progress {
        let queue = self.queue.clone();
        Progress::new(Arc::new(move |event: &ProgressEvent| {
            // The receiver only goes away with the last sender, so this cannot fail while the
            // runner is alive.
            let _ = queue.send(Message::Event(event.clone()));
        }))
    }

    /// Wait until every event queued so far has been delivered.
    pub(crate) async fn flush(&self) {
        let (done, delivered) = oneshot::channel();
        if self.queue.send(Message::Flush(done)).is_ok() {
            let _ = delivered.await;
        }
    }
}

/// Call `callback(TaskEvent)`; its exceptions are logged, never propagated.
fn deliver(callback: &Py<PyAny>, event: &ProgressEvent, redactor: &Redactor) {
    let event = match TaskEvent::new(event, redactor) {
        Ok(event) => event,
        Err(error) => {
            tracing::warn!(target: "agentbox::task", %error, "a progress event could not be converted for Python; skipped");
            return;
        }
    };
    let attached = Python::try_attach(|py| {
        if let Err(error) = callback.call1(py, (event,)) {
            tracing::warn!(
                target: "agentbox::task",
                error = %error,
                "the on_event callback raised; the task goes on"
            );
        }
    });
    if attached.is_none() {
        tracing::debug!(target: "agentbox::task", "the interpreter is shutting down; progress event dropped");
    }
}
