//! # agentbox-testkit
//!
//! Tools for testing agentbox backends and the orchestrators built on them:
//!
//! - [`behaviour`]: one behaviour suite, written against the traits only, that every
//!   [`WorkspaceProvider`](agentbox_core::WorkspaceProvider) runs (the way object_store and
//!   OpenDAL test every backend with one suite). A backend declares what it can do through its
//!   [`Capabilities`](agentbox_core::provider::Capabilities); behaviours it cannot support are
//!   skipped with a reason, never faked.
//!
//! Running the whole suite against a provider takes one macro call in a test file:
//!
//! ```ignore
//! // tests/behaviour.rs of a backend crate
//! agentbox_testkit::behaviour_suite!(async {
//!     let provider = my_backend::Provider::connect().await.unwrap();
//!     agentbox_testkit::behaviour::Suite::new(std::sync::Arc::new(provider))
//! });
//! ```
//!
//! Each behaviour is also a plain `pub async fn` that can be called on its own:
//!
//! ```
//! use agentbox_testkit::behaviour::{self, Outcome};
//! # async fn demo(suite: behaviour::Suite) {
//! assert_eq!(behaviour::exec::exit_codes(&suite).await, Outcome::Passed);
//! # }
//! ```

#![warn(missing_docs)]

pub mod behaviour;
pub mod model_server;
