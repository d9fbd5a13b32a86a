//! `FakeCoderd`: the test kit's fake Coder API server (workspaces backed by local bubblewrap
//! sandboxes), for `CoderProvider`.

use agentbox_testkit::coder::{FakeCoderd as Coderd, FakeTemplate};
use pyo3::prelude::*;
use secrecy::ExposeSecret;

use crate::errors::backend_error;
use crate::repr::py_repr;
use crate::runtime;

/// A fake coderd on loopback for testing against `CoderProvider` without a deployment. It has
/// one user, one organization and one template (`template`) whose workspaces are local
/// bubblewrap sandboxes with their persistent directory at `mount_path`.
///
/// Use it as `async with FakeCoderd(mount_path="/projects") as coderd:`, or call `close()`.
/// The session `token` is a plain `str` (it is a test server's), never shown by `repr`.
///
/// Start a fake coderd whose workspaces keep their files at `mount_path`, in organization
/// `organization`, accepting `token` (default: a random one) as the only session token.
#[pyclass(module = "agentbox.testkit", frozen)]
pub struct FakeCoderd {
    running: super::Running<Coderd>,
    url: String,
    token: String,
    organization: String,
    template: String,
    mount_path: String,
}

#[pymethods]
impl FakeCoderd {
    #[new]
    #[pyo3(
        signature = (mount_path = "/home/coder".to_owned(), *, organization = "coder".to_owned(), token = None),
        text_signature = "(mount_path='/home/coder', *, organization='coder', token=None)"
    )]
    fn new(
        py: Python<'_>,
        mount_path: String,
        organization: String,
        token: Option<String>,
    ) -> PyResult<Self> {
        let mut builder = Coderd::builder()
            .mount_path(mount_path)
            .organization(organization.clone());
        if let Some(token) = &token {
            builder = builder.token(token);
        }
        let coderd = runtime::block_on(py, builder.start()).map_err(|e| backend_error(&e))?;
        Ok(Self {
            url: coderd.url(),
            token: coderd.token().expose_secret().to_owned(),
            organization,
            template: FakeTemplate::agentbox().name,
            mount_path: coderd.mount_path().to_owned(),
            running: super::Running::new(coderd),
        })
    }

    /// The base URL, e.g. `http://127.0.0.1:41234`.
    #[getter]
    fn url(&self) -> &str {
        &self.url
    }

    /// The one valid session token.
    #[getter]
    fn token(&self) -> &str {
        &self.token
    }

    /// The organization's name.
    #[getter]
    fn organization(&self) -> &str {
        &self.organization
    }

    /// The name of the template workspaces are made from.
    #[getter]
    fn template(&self) -> &str {
        &self.template
    }

    /// Where each workspace's persistent directory appears in its sandbox.
    #[getter]
    fn mount_path(&self) -> &str {
        &self.mount_path
    }

    /// Stop serving, end every build and kill the commands of every terminal. Closing a closed
    /// server does nothing.
    fn close<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let running = self.running.take();
        runtime::py_future(py, async move {
            if let Some(coderd) = running {
                coderd.shutdown().await;
            }
            Ok(())
        })
    }

    fn __aenter__<'py>(slf: Py<Self>, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        runtime::py_future(py, async move { Ok(slf) })
    }

    fn __aexit__<'py>(
        &self,
        py: Python<'py>,
        _exc_type: Option<Bound<'py, PyAny>>,
        _exc: Option<Bound<'py, PyAny>>,
        _traceback: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.close(py)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let state = self.running.state();
        Ok(format!(
            "FakeCoderd(url={}, organization={}, template={}, token=<redacted>, {state})",
            py_repr(py, &self.url)?,
            py_repr(py, &self.organization)?,
            py_repr(py, &self.template)?
        ))
    }
}

/// Adds `FakeCoderd` to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<FakeCoderd>()?;
    Ok(())
}
