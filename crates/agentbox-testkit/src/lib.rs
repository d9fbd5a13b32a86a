//! # agentbox-testkit
//!
//! Tools for testing agentbox backends and the orchestrators built on them:
//!
//! - [`behaviour`]: one behaviour suite, written against the traits only, that every
//!   [`WorkspaceProvider`](agentbox_core::WorkspaceProvider) runs (the way object_store and
//!   OpenDAL test every backend with one suite). A backend declares what it can do through its
//!   [`Capabilities`](agentbox_core::provider::Capabilities); behaviours it cannot support are
//!   skipped with a reason, never faked.
//! - [`model_server`]: a loopback OpenAI-compatible chat-completions server with a scripted
//!   queue of answers, a Copilot token exchange, a record of every request and fault knobs.
//!
//! Each behaviour is a plain `pub async fn` that can be called on its own, here against the
//! local provider:
//!
//! ```
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() {
//! use agentbox_testkit::behaviour::{self, Outcome, Suite};
//! use std::sync::Arc;
//!
//! let state = tempfile::tempdir().unwrap();
//! let provider = agentbox_local::LocalProvider::builder().root(state.path()).build().unwrap();
//! let suite = Suite::new(Arc::new(provider));
//! assert_eq!(behaviour::exec::exit_codes(&suite).await, Outcome::Passed);
//! # }
//! ```
//!
//! Running the whole suite against a backend takes one macro call in its test file; it makes
//! one `#[tokio::test]` per behaviour:
//!
//! ```ignore
//! // tests/behaviour.rs of a backend crate
//! agentbox_testkit::behaviour_suite!(async {
//!     let provider = my_backend::Provider::connect().await.unwrap();
//!     agentbox_testkit::behaviour::Suite::new(std::sync::Arc::new(provider))
//! });
//! ```

#![warn(missing_docs)]

pub mod behaviour;
#[cfg(feature = "coder")]
pub mod coder;
#[cfg(feature = "kube")]
pub mod kube;
pub mod model_server;
