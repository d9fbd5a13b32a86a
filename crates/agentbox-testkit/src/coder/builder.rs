//! [`FakeCoderdBuilder`]: the settings of a fake coderd, and starting it.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use agentbox_local::{Isolation, LocalProvider};
use chrono::Utc;
use secrecy::SecretString;
use uuid::Uuid;

use super::FakeCoderd;
use super::backing::Backing;
use super::error::FakeCoderdError;
use super::faults::Faults;
use super::routes;
use super::schema::CoderApiSchema;
use super::state::{Settings, Shared, Timings};
use super::store::{OrgRec, Store, TemplateRec, UserRec};
use super::template::FakeTemplate;

/// The coderd version reported by default (`GET /api/v2/buildinfo`).
pub const DEFAULT_VERSION: &str = "v2.34.3+4653f32";

/// Settings of a [`FakeCoderd`]; [`start`](Self::start) runs it.
#[derive(Debug)]
pub struct FakeCoderdBuilder {
    token: SecretString,
    username: String,
    organization: String,
    templates: Vec<FakeTemplate>,
    mount_path: String,
    timings: Timings,
    version: String,
    watch_ws: bool,
    heartbeat: Duration,
    isolation: Isolation,
    state_dir: Option<PathBuf>,
    schema: Option<Arc<CoderApiSchema>>,
}

impl Default for FakeCoderdBuilder {
    fn default() -> Self {
        // Coder's API keys are a 10-character id, a dash and a 22-character secret.
        let id = Uuid::new_v4().simple().to_string();
        let secret = Uuid::new_v4().simple().to_string();
        Self {
            token: SecretString::from(format!("{}-{}", &id[..10], &secret[..22])),
            username: "admin".to_owned(),
            organization: "coder".to_owned(),
            templates: vec![FakeTemplate::agentbox()],
            mount_path: "/home/coder".to_owned(),
            timings: Timings::default(),
            version: DEFAULT_VERSION.to_owned(),
            watch_ws: true,
            heartbeat: Duration::from_secs(15),
            isolation: Isolation::Auto,
            state_dir: None,
            schema: None,
        }
    }
}

impl FakeCoderdBuilder {
    /// The one valid session token (default: a random one, see [`FakeCoderd::token`]).
    pub fn token(mut self, token: &str) -> Self {
        self.token = SecretString::from(token.to_owned());
        self
    }

    /// The user's name (default `admin`; it is an owner, and `me` names it too).
    pub fn username(mut self, name: impl Into<String>) -> Self {
        self.username = name.into();
        self
    }

    /// The organization's name (default `coder`; `default` names it too).
    pub fn organization(mut self, name: impl Into<String>) -> Self {
        self.organization = name.into();
        self
    }

    /// Add a template, or replace the one with the same name (the default template is
    /// [`FakeTemplate::agentbox`]).
    pub fn template(mut self, template: FakeTemplate) -> Self {
        self.templates.retain(|t| t.name != template.name);
        self.templates.push(template);
        self
    }

    /// Where each workspace's persistent directory appears in its sandbox (default
    /// `/home/coder`, as Coder's templates have it). The agent's directory, where PTY commands
    /// start, is the value of a `workdir` parameter when the template declares one and it is
    /// set (it must lie under this path, or the first start fails), else this path.
    pub fn mount_path(mut self, path: impl Into<String>) -> Self {
        self.mount_path = path.into();
        self
    }

    /// How long a build's job stays `running` (default 40 ms).
    pub fn build_delay(mut self, delay: Duration) -> Self {
        self.timings.build = delay;
        self
    }

    /// Every phase's duration (see [`Timings`]).
    pub fn timings(mut self, timings: Timings) -> Self {
        self.timings = timings;
        self
    }

    /// The version `GET /api/v2/buildinfo` reports (default [`DEFAULT_VERSION`]).
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// Serve no `watch-ws` route (404), as coderd releases before it had one, so a client's
    /// fallback to the SSE `watch` is exercised.
    pub fn without_watch_ws(mut self) -> Self {
        self.watch_ws = false;
        self
    }

    /// How often watches send a heartbeat (default 15 s, as coderd).
    pub fn heartbeat(mut self, every: Duration) -> Self {
        self.heartbeat = every;
        self
    }

    /// How the backing local workspaces isolate commands (default [`Isolation::Auto`]:
    /// bubblewrap).
    pub fn isolation(mut self, isolation: Isolation) -> Self {
        self.isolation = isolation;
        self
    }

    /// Keep the backing local workspaces under `dir` (default: a temporary directory removed
    /// with the server).
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }

    /// Check answers against this schema instead of the vendored v2.34.3 one.
    pub fn schema(mut self, schema: Arc<CoderApiSchema>) -> Self {
        self.schema = Some(schema);
        self
    }

    fn check(&self) -> Result<(), FakeCoderdError> {
        let setting = |setting, message: String| Err(FakeCoderdError::Setting { setting, message });
        if !self.mount_path.starts_with('/') || self.mount_path == "/" {
            return setting(
                "mount_path",
                format!(
                    "{:?} must be an absolute directory other than /",
                    self.mount_path
                ),
            );
        }
        if self.heartbeat.is_zero() {
            return setting("heartbeat", "the interval must not be zero".to_owned());
        }
        let mut names = HashSet::new();
        for t in &self.templates {
            let fail = |message: String| {
                Err(FakeCoderdError::Template {
                    template: t.name.clone(),
                    message,
                })
            };
            if t.name.is_empty() || !names.insert(t.name.as_str()) {
                return fail("template names must be non-empty and unique".to_owned());
            }
            let mut parameters = HashSet::new();
            for p in &t.parameters {
                if p.name.is_empty() || !parameters.insert(p.name.as_str()) {
                    return fail(format!(
                        "parameter names must be non-empty and unique; {:?} is not",
                        p.name
                    ));
                }
                if p.required && !p.default_value.is_empty() {
                    return fail(format!(
                        "parameter {:?} is required and has a default; drop one",
                        p.name
                    ));
                }
                if !p.default_value.is_empty()
                    && let Err(why) = p.check(&p.default_value)
                {
                    return fail(format!(
                        "the default of parameter {:?} is invalid: {why}",
                        p.name
                    ));
                }
            }
        }
        Ok(())
    }

    /// Bind `127.0.0.1:0` and serve until the returned server is dropped or shut down.
    pub async fn start(self) -> Result<FakeCoderd, FakeCoderdError> {
        self.check()?;
        let (root, state_dir) = match &self.state_dir {
            Some(dir) => (dir.clone(), None),
            None => {
                let dir = tempfile::Builder::new()
                    .prefix("fake-coderd-")
                    .tempdir()
                    .map_err(FakeCoderdError::StateDir)?;
                (dir.path().to_path_buf(), Some(dir))
            }
        };
        let provider = LocalProvider::builder()
            .root(root)
            .isolation(self.isolation)
            .build()
            .map_err(FakeCoderdError::Provider)?;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(FakeCoderdError::Bind)?;
        let addr = listener.local_addr().map_err(FakeCoderdError::Bind)?;
        let now = Utc::now();
        let store = Store {
            user: UserRec {
                id: Uuid::new_v4(),
                email: format!("{}@coder.test", self.username),
                username: self.username,
                created_at: now,
            },
            org: OrgRec {
                id: Uuid::new_v4(),
                name: self.organization,
                created_at: now,
            },
            templates: self
                .templates
                .into_iter()
                .map(|spec| TemplateRec {
                    id: Uuid::new_v4(),
                    version_id: Uuid::new_v4(),
                    version_name: "v1".to_owned(),
                    version_job_id: Uuid::new_v4(),
                    created_at: now,
                    spec,
                })
                .collect(),
            workspaces: Vec::new(),
            builds: std::collections::HashMap::new(),
            next_log_id: 0,
        };
        let settings = Settings {
            token: self.token,
            mount_path: self.mount_path.clone(),
            timings: self.timings,
            version: self.version,
            watch_ws: self.watch_ws,
            heartbeat: self.heartbeat,
        };
        let shared = Arc::new(Shared::new(
            settings,
            format!("http://{addr}"),
            store,
            Faults::default(),
            Backing::new(provider, self.mount_path),
            self.schema,
        ));
        let app = routes::router(Arc::clone(&shared));
        let stopping = Arc::clone(&shared);
        let server = tokio::spawn(async move {
            let serve = axum::serve(nodelay(listener), app)
                .with_graceful_shutdown(async move { stopping.shutting_down().await });
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "the fake coderd stopped with an error");
            }
        });
        tracing::debug!(%addr, "fake coderd listening");
        Ok(FakeCoderd::new(shared, addr, server, state_dir))
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
