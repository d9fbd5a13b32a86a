//! Integration tests of the test kit's fake servers.
//!
//! One test binary for the crate's integration tests (linking one binary instead of one per
//! file keeps a clean `cargo test` fast and small); each module is one area.

mod fake_coderd;
mod kube_cluster;
mod kube_server;
