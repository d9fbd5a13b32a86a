//! A loopback fake of coderd, Coder's API server, for testing Coder clients without a
//! deployment.
//!
//! It serves exactly the routes a workspace client uses, under `/api/v2` (see `routes.rs`),
//! with bodies shaped as the swagger's `codersdk.*` definitions, and checks every JSON answer
//! it sends against the vendored v2.34.3 `swagger.json` ([`CoderApiSchema`]); what does not
//! match is reported by [`FakeCoderd::schema_violations`].
//!
//! - Builds are a state machine: the job goes `pending → running → succeeded` (or `failed`,
//!   `canceled`), so the workspace goes `pending → starting → running`, `stopping → stopped`,
//!   `deleting → deleted`; a new build while one is active is refused with 409. A deleted
//!   workspace answers 410 on `GET /workspaces/{id}` (coderd's `workspace` handler) and is
//!   gone from lists and name lookups.
//! - After a start, the agent (`latest_build.resources[].agents[]`) goes `connecting/created →
//!   connected/starting → connected/ready`. Every change is sent, as the whole workspace, to
//!   `watch-ws` (a `ping` event, then `data` events) and `watch` (SSE) watchers.
//! - Each workspace is backed by a workspace of an `agentbox-local` provider: its files live at
//!   the [mount path](FakeCoderdBuilder::mount_path) in a bubblewrap sandbox, survive stop and
//!   start, and are removed by a delete.
//! - The reconnecting PTY (`/workspaceagents/{id}/pty`) runs `sh -c <command>` on a real
//!   pseudo-terminal in that sandbox: output has the terminal's echo and `\r\n`; the same
//!   `reconnect` id re-attaches to the live process and replays its last 64 KiB of output; the
//!   socket closes when the command exits. bubblewrap's `--new-session` means the terminal is
//!   not the command's controlling terminal, so Ctrl-C and job control do not work.
//! - [`Faults`]: a failed build with logs, an agent `start_error`, 401 for every token,
//!   dropped WebSockets, slow builds and builds held active.
//!
//! ```
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use agentbox_testkit::coder::FakeCoderd;
//! use secrecy::ExposeSecret;
//!
//! let coderd = FakeCoderd::builder().mount_path("/projects").start().await?;
//! let http = reqwest::Client::new();
//! let me: serde_json::Value = http
//!     .get(format!("{}/api/v2/users/me", coderd.url()))
//!     .header("Coder-Session-Token", coderd.token().expose_secret())
//!     .send()
//!     .await?
//!     .json()
//!     .await?;
//! assert_eq!(me["username"], "admin");
//! let template = coderd.template_id("agentbox").expect("the default template");
//! let created = http
//!     .post(format!("{}/api/v2/organizations/default/members/me/workspaces", coderd.url()))
//!     .header("Coder-Session-Token", coderd.token().expose_secret())
//!     .json(&serde_json::json!({ "name": "demo", "template_id": template }))
//!     .send()
//!     .await?;
//! assert_eq!(created.status(), 201);
//! assert_eq!(coderd.counters().requests("POST", "/api/v2/organizations/{organization}/members/{user}/workspaces"), 1);
//! assert!(coderd.schema_violations().is_empty());
//! coderd.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod api;
mod backing;
mod builder;
mod counters;
mod error;
mod faults;
mod lifecycle;
mod pty;
mod render;
mod routes;
mod schema;
mod state;
mod store;
mod template;

pub use builder::{DEFAULT_VERSION, FakeCoderdBuilder};
pub use counters::Counters;
pub use error::FakeCoderdError;
pub use faults::{BuildHold, Faults};
pub use schema::{CODER_SWAGGER, CoderApiSchema, NULLABLE};
pub use state::Timings;
pub use template::{FakeParameter, FakeTemplate, ParameterType};

use std::net::SocketAddr;
use std::sync::Arc;

use agentbox_core::provider::WorkspaceId;
use agentbox_local::LocalProvider;
use secrecy::{ExposeSecret, SecretString};
use tokio::task::JoinHandle;
use uuid::Uuid;

use state::Shared;

/// A running fake coderd; see the [module docs](self). Dropping it stops the server and kills
/// the commands of its PTYs; [`shutdown`](Self::shutdown) does the same and waits for it.
#[derive(Debug)]
pub struct FakeCoderd {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: Option<JoinHandle<()>>,
    state_dir: Option<tempfile::TempDir>,
}

impl FakeCoderd {
    /// Settings for a fake coderd.
    pub fn builder() -> FakeCoderdBuilder {
        FakeCoderdBuilder::default()
    }

    pub(crate) fn new(
        shared: Arc<Shared>,
        addr: SocketAddr,
        server: JoinHandle<()>,
        state_dir: Option<tempfile::TempDir>,
    ) -> Self {
        Self {
            shared,
            addr,
            server: Some(server),
            state_dir,
        }
    }

    /// The base URL, e.g. `http://127.0.0.1:41234` (routes are under `/api/v2`).
    pub fn url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The valid session token (send it as the `Coder-Session-Token` header).
    pub fn token(&self) -> SecretString {
        SecretString::from(self.shared.settings.token.expose_secret().to_owned())
    }

    /// The fault knobs.
    pub fn faults(&self) -> Faults {
        self.shared.faults.clone()
    }

    /// Request and WebSocket counts so far.
    pub fn counters(&self) -> Counters {
        self.shared.counters.snapshot()
    }

    /// Every JSON body the fake sent that its swagger schema does not allow (empty when all
    /// matched), each prefixed with where it was sent.
    pub fn schema_violations(&self) -> Vec<String> {
        self.shared.violations()
    }

    /// The user's id.
    pub fn user_id(&self) -> Uuid {
        self.shared.read(|s| s.user.id)
    }

    /// The user's name.
    pub fn username(&self) -> String {
        self.shared.read(|s| s.user.username.clone())
    }

    /// The organization's id.
    pub fn organization_id(&self) -> Uuid {
        self.shared.read(|s| s.org.id)
    }

    /// The id of the template named `name`.
    pub fn template_id(&self, name: &str) -> Option<Uuid> {
        self.shared.read(|s| {
            s.templates
                .iter()
                .find(|t| t.spec.name == name)
                .map(|t| t.id)
        })
    }

    /// The id of the active version of the template named `name`.
    pub fn template_version_id(&self, name: &str) -> Option<Uuid> {
        self.shared.read(|s| {
            s.templates
                .iter()
                .find(|t| t.spec.name == name)
                .map(|t| t.version_id)
        })
    }

    /// Where workspaces' persistent directories appear in their sandboxes.
    pub fn mount_path(&self) -> &str {
        &self.shared.settings.mount_path
    }

    /// The local provider whose workspaces back the Coder workspaces (to look at their files
    /// from a test).
    pub fn local_provider(&self) -> &LocalProvider {
        self.shared.backing.provider()
    }

    /// The id, in [`local_provider`](Self::local_provider), of the workspace behind Coder
    /// workspace `workspace` (it exists once the first start build ran).
    pub fn local_workspace(&self, workspace: Uuid) -> Option<WorkspaceId> {
        self.shared
            .read(|s| s.workspace(workspace).map(|w| w.local.clone()))
    }

    /// How many PTY sessions have a running command.
    pub fn live_ptys(&self) -> usize {
        self.shared.ptys.live()
    }

    /// Stop serving, end every WebSocket and build, kill the PTY commands and wait for it all.
    pub async fn shutdown(mut self) {
        self.shared.shutdown.send_replace(true);
        self.shared.ptys.close_all().await;
        if let Some(server) = self.server.take() {
            // A server task that panicked has nothing left to clean up.
            let _ = server.await;
        }
    }
}

impl Drop for FakeCoderd {
    fn drop(&mut self) {
        self.shared.shutdown.send_replace(true);
        self.shared.ptys.kill_all();
        // The state directory goes last: its workspaces' commands are being killed.
        drop(self.state_dir.take());
    }
}
