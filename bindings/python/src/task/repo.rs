//! The repository a task works on (`TaskRepo`) and the forge pull requests are opened with
//! (`GhCliForge`). Their tokens become secrets at once and are shown by no `repr`.

use std::sync::Arc;

use agentbox_core::task::TaskRepo as CoreTaskRepo;
use agentbox_core::task::forge::{Forge, GhCliForge as CoreGhCliForge};
use agentbox_core::task::git::{GitAuthor, RepoSpec};
use pyo3::prelude::*;
use secrecy::SecretString;

use crate::repr::py_repr;

/// The repository a task clones into the workdir and works on, on a new branch `branch`
/// (started from `base`, or the remote's default branch). The work is committed as
/// `author_name <author_email>`; with `push`, the branch is pushed to the URL cloned from, and
/// with `pull_request` (`owner/name`, needs `base` and `push`) a pull request is opened by the
/// runner's forge. `token` authenticates clone and push; it is handed to git by reference
/// (never in argv or URLs), redacted from the evidence and shown by no `repr`.
#[pyclass(module = "agentbox", frozen)]
pub struct TaskRepo {
    pub(crate) inner: CoreTaskRepo,
}

#[pymethods]
impl TaskRepo {
    #[new]
    #[pyo3(signature = (url, *, branch, author_name, author_email, base=None, token=None, push=false, pull_request=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        url: String,
        branch: String,
        author_name: String,
        author_email: String,
        base: Option<String>,
        token: Option<String>,
        push: bool,
        pull_request: Option<String>,
    ) -> Self {
        let token = token.map(SecretString::from);
        let mut repo = CoreTaskRepo::new(
            RepoSpec { url, base, branch },
            GitAuthor {
                name: author_name,
                email: author_email,
            },
        )
        .push(push);
        repo.token = token;
        repo.pull_request = pull_request;
        Self { inner: repo }
    }

    /// Where the repository is cloned from.
    #[getter]
    fn url(&self) -> &str {
        &self.inner.spec.url
    }

    /// The branch the work goes on.
    #[getter]
    fn branch(&self) -> &str {
        &self.inner.spec.branch
    }

    /// The branch to start from (and merge into); `None` for the remote's default branch.
    #[getter]
    fn base(&self) -> Option<&str> {
        self.inner.spec.base.as_deref()
    }

    /// Who commits: `(name, email)`.
    #[getter]
    fn author(&self) -> (String, String) {
        (
            self.inner.author.name.clone(),
            self.inner.author.email.clone(),
        )
    }

    /// Whether the branch is pushed after committing.
    #[getter]
    fn push(&self) -> bool {
        self.inner.push
    }

    /// The repository (`owner/name`) a pull request is opened in, if any.
    #[getter]
    fn pull_request(&self) -> Option<&str> {
        self.inner.pull_request.as_deref()
    }

    /// Whether a token was given (its value is never readable from Python).
    #[getter]
    fn has_token(&self) -> bool {
        self.inner.token.is_some()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let r = &self.inner;
        Ok(format!(
            "TaskRepo(url={}, branch={}, base={}, push={}, pull_request={}, token={})",
            py_repr(py, &r.spec.url)?,
            py_repr(py, &r.spec.branch)?,
            py_repr(py, &r.spec.base)?,
            py_repr(py, r.push)?,
            py_repr(py, &r.pull_request)?,
            if r.token.is_some() {
                "<redacted>"
            } else {
                "None"
            },
        ))
    }
}

/// Opens pull requests on GitHub with the `gh` CLI inside the workspace (`gh pr create`).
/// `token` needs permission to write pull requests; it reaches `gh` as a secret environment
/// variable, is redacted from the evidence and shown by no `repr`. `host` is a GitHub
/// Enterprise host.
#[pyclass(module = "agentbox", frozen)]
pub struct GhCliForge {
    pub(crate) inner: Arc<dyn Forge>,
    pub(crate) token: SecretString,
    program: String,
    host: Option<String>,
}

#[pymethods]
impl GhCliForge {
    #[new]
    #[pyo3(signature = (token, *, program="gh".to_owned(), host=None))]
    fn new(token: String, program: String, host: Option<String>) -> Self {
        let token = SecretString::from(token);
        let mut forge = CoreGhCliForge::new(token.clone()).program(program.clone());
        if let Some(host) = &host {
            forge = forge.host(host.clone());
        }
        Self {
            inner: Arc::new(forge),
            token,
            program,
            host,
        }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "GhCliForge(program={}, host={}, token=<redacted>)",
            py_repr(py, &self.program)?,
            py_repr(py, &self.host)?
        ))
    }
}
