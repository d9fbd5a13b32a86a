//! `agentbox.testkit`-facing fakes (feature `testkit`): start the test kit's protocol-faithful
//! servers from Python, on the shared runtime, to test orchestrators without a cluster.

mod cluster;
mod coderd;
mod model_server;

use pyo3::prelude::*;

/// Adds the fake servers to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    cluster::register(m)?;
    coderd::register(m)?;
    model_server::register(m)?;
    Ok(())
}
