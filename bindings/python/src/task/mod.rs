//! Tasks: `Task` and what it is made of (`spec`, `repo`), `TaskRunner` and `run_task` (`runner`),
//! `TaskResult` (`result`) and the `TaskEvent`s delivered to `on_event` (`event`).

mod event;
pub(crate) mod json;
mod repo;
mod result;
mod runner;
mod spec;

use pyo3::prelude::*;

/// Adds `run_task` and the task classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<spec::Task>()?;
    m.add_class::<repo::TaskRepo>()?;
    m.add_class::<spec::Limits>()?;
    m.add_class::<spec::AgentCli>()?;
    m.add_class::<repo::GhCliForge>()?;
    m.add_class::<runner::TaskRunner>()?;
    m.add_class::<result::TaskResult>()?;
    m.add_class::<event::TaskEvent>()?;
    m.add_function(wrap_pyfunction!(runner::run_task, m)?)?;
    Ok(())
}
