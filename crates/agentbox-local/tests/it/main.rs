//! Integration tests of the local backend (bubblewrap sandboxes).
//!
//! One test binary for the crate's integration tests (linking one binary instead of one per
//! file keeps a clean `cargo test` fast and small); each module is one area.

mod behaviour;
mod bind;
mod command;
mod common;
mod files;
mod git_helpers;
mod lifecycle;
mod lifecycle_hooks;
mod sandbox;
mod session;
mod unisolated;
