//! Integration tests of the `agentbox` facade: whole tasks, evidence reports, real peers.
//!
//! One test binary for the crate's integration tests (linking one binary instead of one per
//! file keeps a clean `cargo test` fast and small); each module is one area.

mod peers;
mod report_chromium;
mod task_git;
mod task_lifecycle;
mod task_modes;
mod task_orchestrator;
#[cfg(all(feature = "local", feature = "copilot"))]
mod task_support;
