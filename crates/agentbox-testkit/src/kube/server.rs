//! Starting, addressing and stopping the fake API server.

use axum::Router;
use axum::http::{HeaderValue, header};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::builtin;
use super::counters::RequestCounters;
use super::crds::{self, Definition};
use super::error::FakeApiError;
use super::faults::FaultKnobs;
use super::meta;
use super::resource::{ResourceType, Strategy};
use super::routes;
use super::state::ApiState;
use super::store::Store;

/// Namespaces every cluster starts with.
const SYSTEM_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Settings for a [`FakeApiServer`], fixed when it starts.
#[derive(Debug)]
pub struct FakeApiServerBuilder {
    definitions: Vec<Definition>,
    errors: Vec<FakeApiError>,
    namespaces: Vec<String>,
    routers: Vec<Router>,
    history: usize,
    bookmark_interval: Duration,
}

impl Default for FakeApiServerBuilder {
    fn default() -> Self {
        Self {
            definitions: Vec::new(),
            errors: Vec::new(),
            namespaces: Vec::new(),
            routers: Vec::new(),
            history: 2000,
            bookmark_interval: Duration::from_secs(5),
        }
    }
}

impl FakeApiServerBuilder {
    /// Serve the kind a CustomResourceDefinition (`apiextensions.k8s.io/v1`, one YAML
    /// document) defines, validating its objects against each version's `openAPIV3Schema`.
    /// A CRD that does not parse or that the apiserver would refuse makes
    /// [`start`](Self::start) fail, saying why.
    pub fn crd_yaml(mut self, yaml: &str) -> Self {
        match crds::from_yaml(yaml) {
            Ok(definition) => self.definitions.push(definition),
            Err(e) => self.errors.push(e),
        }
        self
    }

    /// [`crd_yaml`](Self::crd_yaml) for a CRD already parsed to JSON.
    pub fn crd(mut self, crd: Value) -> Self {
        match crds::from_value(crd) {
            Ok(definition) => self.definitions.push(definition),
            Err(e) => self.errors.push(e),
        }
        self
    }

    /// Serve `DevWorkspace` and `DevWorkspaceTemplate` (`workspace.devfile.io`, v1alpha1 and
    /// v1alpha2) from the CRDs of devfile/api v2.3.0 shipped with the test kit.
    pub fn devworkspace_crds(mut self) -> Self {
        match crds::devworkspaces() {
            Ok(definitions) => self.definitions.extend(definitions),
            Err(e) => self.errors.push(e),
        }
        self
    }

    /// Create a namespace at start (`default`, `kube-system`, `kube-public` and
    /// `kube-node-lease` always exist). Like a real cluster, the server refuses namespaced
    /// objects in a namespace that does not exist.
    pub fn namespace(mut self, name: impl Into<String>) -> Self {
        self.namespaces.push(name.into());
        self
    }

    /// Merge routes of your own (e.g. a kubelet's `pods/{name}/exec`). They take precedence
    /// over the generic API routes, which are a fallback; the router must not have a fallback
    /// of its own. Every request to them is still counted and subject to faults.
    pub fn router(mut self, routes: Router) -> Self {
        self.routers.push(routes);
        self
    }

    /// How many events the server keeps for watches to resume from (default 2000). A watch
    /// or a paged list from an older resourceVersion gets 410 Gone.
    pub fn history(mut self, events: usize) -> Self {
        self.history = events.max(1);
        self
    }

    /// How often watches that allow bookmarks get one (default 5 s).
    pub fn bookmark_interval(mut self, every: Duration) -> Self {
        self.bookmark_interval = every.max(Duration::from_millis(10));
        self
    }

    /// Listen on `127.0.0.1` (a free port) and serve until the server is shut down or dropped.
    pub async fn start(mut self) -> Result<FakeApiServer, FakeApiError> {
        if !self.errors.is_empty() {
            return Err(self.errors.remove(0));
        }
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|source| FakeApiError::Bind { source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| FakeApiError::Bind { source })?;
        let url = format!("http://{addr}");
        let seed_client = build_client(&url, None)?;
        let store = Arc::new(Mutex::new(self.seed()));
        let (stop, stopping) = watch::channel(false);
        let state = Arc::new(ApiState {
            faults: FaultKnobs::new(store.clone()),
            store,
            counters: RequestCounters::default(),
            bookmark_interval: self.bookmark_interval,
            address: addr.to_string(),
            stopping,
        });
        let mut app = Router::new();
        for routes in self.routers {
            app = app.merge(routes);
        }
        let app =
            app.merge(routes::router(state.clone()))
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    routes::gate,
                ));
        let mut shutdown = stop.subscribe();
        let task = tokio::spawn(async move {
            let serve = axum::serve(nodelay(listener), app).with_graceful_shutdown(async move {
                let _ = shutdown.wait_for(|stopping| *stopping).await;
            });
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "the fake API server stopped with an error");
            }
        });
        tracing::debug!(%url, "fake API server listening");
        Ok(FakeApiServer {
            addr,
            url,
            state,
            seed_client,
            stop,
            task: Some(task),
        })
    }

    /// The store a new server starts with: built-in kinds, namespaces and the CRDs.
    fn seed(&self) -> Store {
        let mut store = Store::new(self.history);
        for kind in builtin::kinds() {
            store.register(Arc::new(kind));
        }
        let names = SYSTEM_NAMESPACES
            .iter()
            .map(|n| (*n).to_owned())
            .chain(self.namespaces.iter().cloned());
        for name in names {
            let namespace =
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
            seed_object(&mut store, "namespaces", Strategy::Namespace, namespace);
        }
        for (crd, kind) in &self.definitions {
            seed_object(
                &mut store,
                "customresourcedefinitions",
                Strategy::Definition,
                crd.clone(),
            );
            store.register(kind.clone());
        }
        store
    }
}

/// Store a cluster-scoped object the way a create through the API would.
fn seed_object(store: &mut Store, plural: &str, strategy: Strategy, mut object: Value) {
    let group = if strategy == Strategy::Definition {
        "apiextensions.k8s.io"
    } else {
        ""
    };
    let name = meta::meta_str(&object, "name")
        .unwrap_or_default()
        .to_owned();
    let id = (group.to_owned(), plural.to_owned());
    if store.get(&id, &(String::new(), name.clone())).is_some() {
        return;
    }
    let metadata = meta::meta_mut(&mut object);
    metadata.insert("uid".into(), Value::String(meta::uid()));
    metadata.insert("creationTimestamp".into(), Value::String(meta::now()));
    if strategy == Strategy::Definition {
        metadata.insert("generation".into(), Value::from(1));
    }
    builtin::prepare_create(strategy, &mut object);
    store.insert(&id, (String::new(), name), object);
}

fn build_client(url: &str, user_agent: Option<&str>) -> Result<::kube::Client, FakeApiError> {
    let failed = |source| FakeApiError::Client {
        url: url.to_owned(),
        source,
    };
    let uri = url
        .parse()
        .map_err(|e| failed(::kube::Error::HttpError(axum::http::Error::from(e))))?;
    let mut config = ::kube::Config::new(uri);
    if let Some(agent) = user_agent {
        let value = HeaderValue::from_str(agent)
            .map_err(|e| failed(::kube::Error::HttpError(axum::http::Error::from(e))))?;
        config.headers.push((header::USER_AGENT, value));
    }
    ::kube::Client::try_from(config).map_err(failed)
}

/// A running fake Kubernetes API server; see the [module docs](super).
///
/// Its [faults](Self::faults) and [counters](Self::counters) let a test check how the code
/// under test copes with a throttling apiserver, and what it costs:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use agentbox_testkit::kube::{Burst, FakeApiServer, Verb};
/// use k8s_openapi::api::core::v1::Namespace;
/// use kube::api::Api;
///
/// let server = FakeApiServer::builder().start().await?;
/// let namespaces: Api<Namespace> = Api::all(server.client());
/// // Two 503s; kube's client retries them with backoff and then succeeds.
/// server.faults().burst(Burst::new(503, 2));
/// let default = namespaces.get("default").await?;
/// assert_eq!(default.status.and_then(|s| s.phase).as_deref(), Some("Active"));
/// assert_eq!(server.faults().fired().bursts.get(&503), Some(&2));
/// assert_eq!(server.counters().client().count(Verb::Get, "namespaces"), 3);
/// server.shutdown().await;
/// # Ok(())
/// # }
/// ```
pub struct FakeApiServer {
    addr: SocketAddr,
    url: String,
    state: Arc<ApiState>,
    seed_client: ::kube::Client,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for FakeApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeApiServer")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl FakeApiServer {
    /// Settings for a server.
    pub fn builder() -> FakeApiServerBuilder {
        FakeApiServerBuilder::default()
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A new `kube::Client` for the server (plain HTTP, no credentials, default namespace
    /// `default`); each call makes a client with its own connections.
    pub fn client(&self) -> ::kube::Client {
        build_client(&self.url, None).unwrap_or_else(|_| self.seed_client.clone())
    }

    /// A new client whose requests carry `User-Agent: {user_agent}`. The test kit's own
    /// components use one starting with [`INTERNAL_USER_AGENT_PREFIX`](super::INTERNAL_USER_AGENT_PREFIX),
    /// which the counters report apart and faults leave alone.
    pub fn client_with_user_agent(&self, user_agent: &str) -> Result<::kube::Client, FakeApiError> {
        build_client(&self.url, Some(user_agent))
    }

    /// A kubeconfig (cluster, user and context `agentbox-testkit`, namespace `default`) for
    /// pointing kubectl or other tools at the server.
    pub fn kubeconfig_yaml(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: agentbox-testkit\n  cluster:\n    server: {url}\n\
             users:\n- name: agentbox-testkit\n  user: {{}}\ncontexts:\n- name: agentbox-testkit\n  context:\n    \
             cluster: agentbox-testkit\n    user: agentbox-testkit\n    namespace: default\n\
             current-context: agentbox-testkit\n",
            url = self.url
        )
    }

    /// The fault knobs.
    pub fn faults(&self) -> FaultKnobs {
        self.state.faults.clone()
    }

    /// The request counters.
    pub fn counters(&self) -> RequestCounters {
        self.state.counters.clone()
    }

    /// The kinds served, as `group/version/plural` (core kinds as `version/plural`).
    pub fn served_resources(&self) -> Vec<String> {
        let store = self.state.store();
        let kinds: Vec<Arc<ResourceType>> = store.types().cloned().collect();
        kinds
            .iter()
            .flat_map(|k| {
                k.versions
                    .iter()
                    .map(move |v| format!("{}/{}", k.api_version(&v.name), k.plural))
            })
            .collect()
    }

    /// Stop: end every watch, stop accepting connections and wait (up to 5 s) for open
    /// requests to finish.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Send small writes at once, as Go's net/http servers (coderd, the apiserver) do.
fn nodelay(
    listener: tokio::net::TcpListener,
) -> impl axum::serve::Listener<Io = tokio::net::TcpStream, Addr = std::net::SocketAddr> {
    use axum::serve::ListenerExt;
    listener.tap_io(|stream| {
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    })
}
