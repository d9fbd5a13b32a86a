//! Workspace providers: `LocalProvider`, `CheProvider`, `CoderProvider`, all subclasses of
//! `Provider`.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::PathBuf;
use std::sync::Arc;

use agentbox_core::WorkspaceProvider;
use agentbox_core::provider::{CreateRequest, LabelSelector, WorkspaceId};
use agentbox_core::{BoxError, Error as CoreError};
use kube::config::{Config, KubeConfigOptions, Kubeconfig};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use secrecy::SecretString;

use crate::contract::Contract;
use crate::errors::{backend_error, to_py};
use crate::repr::py_repr;
use crate::runtime;
use crate::workspace::{Capabilities, Project, Workspace, WorkspaceInfo};

/// A workspace backend. Subclassed by `LocalProvider`, `CheProvider` and `CoderProvider`.
#[pyclass(module = "agentbox", subclass, frozen)]
pub struct Provider {
    /// The backend.
    pub(crate) inner: Arc<dyn WorkspaceProvider>,
}

#[pymethods]
impl Provider {
    /// The backend's name: `"local"`, `"che"` or `"coder"`.
    #[getter]
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    /// What this backend can do.
    #[getter]
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities().into()
    }

    /// Create a workspace from a validated contract; it is not started.
    ///
    /// `name` defaults to the contract's name plus a random suffix; `labels` are merged over
    /// the contract's; `project` is a repository cloned into the workdir.
    #[pyo3(signature = (contract, name = None, labels = None, project = None))]
    fn create<'py>(
        &self,
        py: Python<'py>,
        contract: PyRef<'py, Contract>,
        name: Option<String>,
        labels: Option<BTreeMap<String, String>>,
        project: Option<PyRef<'py, Project>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let contract = contract.inner.clone();
        let request = CreateRequest {
            name,
            labels: labels.unwrap_or_default(),
            project: project.map(|p| (&*p).into()),
        };
        let provider = Arc::clone(&self.inner);
        runtime::future(py, async move {
            let info = provider.create(&contract, request).await?;
            Ok(Workspace::new(provider, info.id, info.name))
        })
    }

    /// The existing workspace `id`; raises `NotFound` when there is none.
    fn get<'py>(&self, py: Python<'py>, id: String) -> PyResult<Bound<'py, PyAny>> {
        let provider = Arc::clone(&self.inner);
        runtime::future(py, async move {
            let info = provider.status(&WorkspaceId(id)).await?;
            Ok(Workspace::new(provider, info.id, info.name))
        })
    }

    /// Every workspace of this provider whose labels include all of `labels`.
    #[pyo3(signature = (labels = None))]
    fn list<'py>(
        &self,
        py: Python<'py>,
        labels: Option<BTreeMap<String, String>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let selector = LabelSelector {
            equals: labels.unwrap_or_default(),
        };
        let provider = Arc::clone(&self.inner);
        runtime::future(py, async move {
            let infos = provider.list(&selector).await?;
            Ok(infos
                .into_iter()
                .map(WorkspaceInfo::from)
                .collect::<Vec<_>>())
        })
    }

    fn __repr__(&self) -> String {
        format!("Provider(backend='{}')", self.inner.backend())
    }
}

/// The base-class part of a provider subclass.
fn base<P: WorkspaceProvider + 'static>(provider: Arc<P>) -> PyClassInitializer<Provider> {
    PyClassInitializer::from(Provider { inner: provider })
}

/// Workspaces as directories on this host, commands in a bubblewrap sandbox.
///
/// Keep workspaces under `root` (default: `$XDG_STATE_HOME/agentbox/workspaces`, else
/// `~/.local/state/agentbox/workspaces`), created if needed.
///
/// `isolation` is `"auto"` (bubblewrap; refused when it does not work), `"bubblewrap"`
/// or `"none"` (commands run as the host user with the host's files and network: an explicit
/// opt-in). `bwrap` is the bubblewrap binary (default: `bwrap` from `PATH`). `binds` maps
/// existing host directories to absolute paths in every workspace's sandbox, read-write.
#[pyclass(module = "agentbox", extends = Provider, frozen)]
pub struct LocalProvider {
    local: Arc<agentbox_local::LocalProvider>,
    isolation: &'static str,
}

#[pymethods]
impl LocalProvider {
    #[new]
    #[pyo3(signature = (root = None, *, isolation = "auto", bwrap = None, binds = None))]
    fn new(
        root: Option<PathBuf>,
        isolation: &str,
        bwrap: Option<PathBuf>,
        binds: Option<BTreeMap<PathBuf, String>>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let (mode, name) = match isolation {
            "auto" => (agentbox_local::Isolation::Auto, "auto"),
            "bubblewrap" => (agentbox_local::Isolation::Bubblewrap, "bubblewrap"),
            "none" => (agentbox_local::Isolation::None, "none"),
            other => {
                return Err(PyValueError::new_err(format!(
                    "isolation={other:?} is not known; use \"auto\", \"bubblewrap\" or \"none\""
                )));
            }
        };
        let mut builder = agentbox_local::LocalProvider::builder().isolation(mode);
        if let Some(root) = root {
            builder = builder.root(root);
        }
        if let Some(bwrap) = bwrap {
            builder = builder.bwrap_path(bwrap);
        }
        for (host, sandbox) in binds.unwrap_or_default() {
            builder = builder.bind(host, sandbox);
        }
        let local = Arc::new(builder.build().map_err(to_py)?);
        Ok(base(Arc::clone(&local)).add_subclass(Self {
            local,
            isolation: name,
        }))
    }

    /// The directory the workspaces are kept in (absolute), as a `str`.
    #[getter]
    fn root(&self) -> &OsStr {
        self.local.root().as_os_str()
    }

    /// What `contract` asks that this host cannot enforce (one line each; empty when all of it
    /// applies).
    fn limitations(&self, contract: PyRef<'_, Contract>) -> Vec<String> {
        self.local.limitations(&contract.inner)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "LocalProvider(root={}, isolation='{}')",
            py_repr(py, self.local.root().display().to_string())?,
            self.isolation
        ))
    }
}

/// A kube client from `kubeconfig` (default: `$KUBECONFIG`, else `~/.kube/config`) with
/// `context` (default: the current context).
async fn kube_client(
    kubeconfig: Option<PathBuf>,
    context: Option<String>,
) -> Result<kube::Client, CoreError> {
    let failed = |what: String, source: BoxError| CoreError::Backend {
        backend: "che",
        message: what,
        source: Some(source),
    };
    let source = match &kubeconfig {
        Some(path) => format!("the kubeconfig {}", path.display()),
        None => "the default kubeconfig ($KUBECONFIG, else ~/.kube/config)".to_owned(),
    };
    let options = KubeConfigOptions {
        context: context.clone(),
        ..KubeConfigOptions::default()
    };
    let config = match &kubeconfig {
        Some(path) => match Kubeconfig::read_from(path) {
            Ok(file) => Config::from_custom_kubeconfig(file, &options).await,
            Err(e) => Err(e),
        },
        None => Config::from_kubeconfig(&options).await,
    }
    .map_err(|e| {
        let context = context.as_deref().map_or_else(
            || "its current context".to_owned(),
            |c| format!("context {c:?}"),
        );
        failed(
            format!("cannot load {source} with {context}; check the file and the context's name"),
            Box::new(e),
        )
    })?;
    kube::Client::try_from(config).map_err(|e| {
        failed(
            format!("cannot make a Kubernetes client from {source}"),
            Box::new(e),
        )
    })
}

/// Workspaces as Eclipse Che DevWorkspaces in one Kubernetes namespace.
///
/// Manage DevWorkspaces in `namespace` (Che's is `<user>-che` by default).
///
/// The cluster is reached through `kubeconfig` (a path; default `$KUBECONFIG`, else
/// `~/.kube/config`) and its `context` (default: the current one). With neither given, the
/// kubeconfig or, inside a pod, its service account is used.
#[pyclass(module = "agentbox", extends = Provider, frozen)]
pub struct CheProvider {
    che: Arc<agentbox_che::CheProvider>,
    kubeconfig: Option<PathBuf>,
    context: Option<String>,
}

#[pymethods]
impl CheProvider {
    #[new]
    #[pyo3(signature = (namespace, kubeconfig = None, context = None))]
    fn new(
        py: Python<'_>,
        namespace: String,
        kubeconfig: Option<PathBuf>,
        context: Option<String>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let (path, ctx) = (kubeconfig.clone(), context.clone());
        let che = runtime::block_on(py, async move {
            let mut builder = agentbox_che::CheProvider::builder().namespace(namespace);
            if path.is_some() || ctx.is_some() {
                builder = builder.client(kube_client(path, ctx).await?);
            }
            builder.build().await
        })
        .map_err(to_py)?;
        let che = Arc::new(che);
        Ok(base(Arc::clone(&che)).add_subclass(Self {
            che,
            kubeconfig,
            context,
        }))
    }

    /// The namespace the workspaces live in.
    #[getter]
    fn namespace(&self) -> &str {
        self.che.namespace()
    }

    /// What `contract` asks that a DevWorkspace cannot enforce or this provider does not apply.
    fn limitations(&self, contract: PyRef<'_, Contract>) -> Vec<String> {
        self.che.limitations(&contract.inner)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "CheProvider(namespace={}, kubeconfig={}, context={})",
            py_repr(py, self.che.namespace())?,
            py_repr(
                py,
                self.kubeconfig.as_ref().map(|p| p.display().to_string())
            )?,
            py_repr(py, &self.context)?
        ))
    }
}

/// Workspaces as Coder workspaces made from one template, through coderd's REST API.
///
/// Make workspaces from `template` on the Coder deployment at `url`, as the user whose
/// session `token` is given (it becomes a secret at once and is never shown). `organization`
/// is a name or an id (default: the user's default organization, else their only one).
#[pyclass(module = "agentbox", extends = Provider, frozen)]
pub struct CoderProvider {
    url: String,
    template: String,
    organization: Option<String>,
}

#[pymethods]
impl CoderProvider {
    #[new]
    #[pyo3(signature = (url, token, organization = None, *, template))]
    fn new(
        url: String,
        token: String,
        organization: Option<String>,
        template: String,
    ) -> PyResult<PyClassInitializer<Self>> {
        let token = SecretString::from(token);
        let client =
            agentbox_coder::CoderClient::new(&url, token).map_err(|e| backend_error(&e))?;
        let mut builder = agentbox_coder::CoderProvider::builder(client, template.clone());
        if let Some(organization) = &organization {
            builder = builder.organization(organization.clone());
        }
        Ok(base(Arc::new(builder.build())).add_subclass(Self {
            url,
            template,
            organization,
        }))
    }

    /// The deployment's URL.
    #[getter]
    fn url(&self) -> &str {
        &self.url
    }

    /// The template workspaces are made from.
    #[getter]
    fn template(&self) -> &str {
        &self.template
    }

    /// The organization asked for, if any.
    #[getter]
    fn organization(&self) -> Option<&str> {
        self.organization.as_deref()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "CoderProvider(url={}, template={}, organization={}, token=<redacted>)",
            py_repr(py, &self.url)?,
            py_repr(py, &self.template)?,
            py_repr(py, &self.organization)?
        ))
    }
}

/// Adds the provider classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Provider>()?;
    m.add_class::<LocalProvider>()?;
    m.add_class::<CheProvider>()?;
    m.add_class::<CoderProvider>()?;
    Ok(())
}
