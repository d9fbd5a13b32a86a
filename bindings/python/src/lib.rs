//! Python bindings for agentbox: the native module `agentbox._agentbox`, wrapped by the pure-Python
//! package `agentbox` (see `python/agentbox/`).
//!
//! ```python
//! import asyncio, agentbox
//!
//! async def main() -> None:
//!     contract = agentbox.Contract.load("agentbox.yaml")
//!     provider = agentbox.LocalProvider(root="/tmp/agentbox-workspaces")
//!     ws = await provider.create(contract, name="demo")
//!     await ws.start()
//!     await ws.wait_ready(timeout=60)
//!     result = await ws.exec(["echo", "hello"])
//!     print(result.exit_code, result.stdout)
//!     await ws.delete()
//!
//! asyncio.run(main())
//! ```
//!
//! The bindings add no logic of their own: every call goes to the Rust crates (`agentbox-core`,
//! `agentbox-local`, `agentbox-che`, `agentbox-coder`, `agentbox-copilot`) on one shared tokio
//! runtime, with the GIL released while they run. Errors become `agentbox.Error` subclasses;
//! tokens and keys become `secrecy` secrets at the boundary and never appear in a `repr`, a
//! message or evidence.

mod contract;
mod errors;
mod model;
mod provider;
mod repr;
mod runtime;
mod task;
#[cfg(feature = "testkit")]
mod testkit;
mod workspace;

use pyo3::prelude::*;

/// The native module. Its names are re-exported by the `agentbox` package.
#[pymodule]
fn _agentbox(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    contract::register(m)?;
    provider::register(m)?;
    workspace::register(m)?;
    model::register(m)?;
    task::register(m)?;
    #[cfg(feature = "testkit")]
    testkit::register(m)?;
    Ok(())
}
