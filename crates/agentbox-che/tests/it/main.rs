//! Integration tests of the Che backend against the test kit's fake cluster.
//!
//! One test binary for the crate's integration tests (linking one binary instead of one per
//! file keeps a clean `cargo test` fast and small); each module is one area.

mod behaviour;
mod crd;
mod faults;
mod lifecycle;
mod rbac;
mod support;
