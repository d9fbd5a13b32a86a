//! Integration tests of the Coder backend against the test kit's fake coderd.
//!
//! One test binary for the crate's integration tests (linking one binary instead of one per
//! file keeps a clean `cargo test` fast and small); each module is one area.

mod behaviour;
mod common;
#[cfg(feature = "kube")]
mod kube_exec;
mod lifecycle;
mod parameters;
