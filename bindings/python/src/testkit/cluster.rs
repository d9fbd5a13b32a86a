//! `FakeCluster`: the test kit's fake Kubernetes cluster (API server, one node, a simulated
//! DevWorkspace Operator) with a kubeconfig for it, for `CheProvider`.

use std::ffi::OsStr;
use std::path::PathBuf;

use agentbox_core::Error as CoreError;
use agentbox_testkit::kube::FakeCluster as Cluster;
use kube::config::Kubeconfig;
use pyo3::prelude::*;
use tempfile::TempDir;

use crate::errors::{backend_error, to_py};
use crate::repr::py_repr;
use crate::runtime;

/// A started cluster and the directory holding its kubeconfig.
struct Started {
    cluster: Cluster,
    _kubeconfig_dir: TempDir,
}

/// A fake Kubernetes cluster on loopback for testing against `CheProvider` without a real one:
/// an API server with the DevWorkspace CRDs, one node whose containers are local bubblewrap
/// sandboxes, and a simulated DevWorkspace Operator.
///
/// `kubeconfig` is the path of a kubeconfig for it (its `context` is the current one). Use it
/// as `async with FakeCluster(namespace="che-user") as cluster:`, or call `close()`.
///
/// Start a cluster with namespace `namespace` (`default` always exists). Pulling
/// `fail_image` fails on the node, so a workspace using it ends failed.
#[pyclass(module = "agentbox.testkit", frozen)]
pub struct FakeCluster {
    running: super::Running<Started>,
    namespace: String,
    url: String,
    kubeconfig: PathBuf,
    context: String,
}

#[pymethods]
impl FakeCluster {
    #[new]
    #[pyo3(
        signature = (namespace = "default".to_owned(), *, fail_image = None),
        text_signature = "(namespace='default', *, fail_image=None)"
    )]
    fn new(py: Python<'_>, namespace: String, fail_image: Option<String>) -> PyResult<Self> {
        let mut builder = Cluster::builder().namespace(namespace.clone());
        if let Some(image) = fail_image {
            builder = builder.fail_image(image);
        }
        let cluster = runtime::block_on(py, builder.start()).map_err(|e| backend_error(&e))?;
        let url = cluster.server().url().to_owned();
        let yaml = cluster.server().kubeconfig_yaml();
        let context = Kubeconfig::from_yaml(&yaml)
            .map_err(|e| backend_error(&e))?
            .current_context
            .unwrap_or_default();
        let (dir, kubeconfig) = write_kubeconfig(&yaml).map_err(to_py)?;
        Ok(Self {
            running: super::Running::new(Started {
                cluster,
                _kubeconfig_dir: dir,
            }),
            namespace,
            url,
            kubeconfig,
            context,
        })
    }

    /// The path of a kubeconfig for the cluster, as a `str` (removed by `close()`).
    #[getter]
    fn kubeconfig(&self) -> &OsStr {
        self.kubeconfig.as_os_str()
    }

    /// The kubeconfig's context (its current one).
    #[getter]
    fn context(&self) -> &str {
        &self.context
    }

    /// The namespace created at start.
    #[getter]
    fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The API server's URL, e.g. `http://127.0.0.1:41234`.
    #[getter]
    fn url(&self) -> &str {
        &self.url
    }

    /// Stop the operator and the node, wait until every container's processes are gone, and
    /// remove the kubeconfig. Closing a closed cluster does nothing.
    fn close<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let running = self.running.take();
        runtime::py_future(py, async move {
            if let Some(running) = running {
                running.cluster.shutdown().await;
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
            "FakeCluster(url={}, namespace={}, {state})",
            py_repr(py, &self.url)?,
            py_repr(py, &self.namespace)?
        ))
    }
}

/// Write `yaml` as `kubeconfig` in a new temporary directory.
fn write_kubeconfig(yaml: &str) -> Result<(TempDir, PathBuf), CoreError> {
    let dir = tempfile::Builder::new()
        .prefix("agentbox-fake-cluster-")
        .tempdir()
        .map_err(|source| CoreError::Io {
            action: "create a directory for the fake cluster's kubeconfig",
            path: std::env::temp_dir(),
            source,
        })?;
    let path = dir.path().join("kubeconfig");
    std::fs::write(&path, yaml).map_err(|source| CoreError::Io {
        action: "write the fake cluster's kubeconfig",
        path: path.clone(),
        source,
    })?;
    Ok((dir, path))
}

/// Adds `FakeCluster` to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<FakeCluster>()?;
    Ok(())
}
