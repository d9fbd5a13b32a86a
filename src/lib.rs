//! agentbox facade (filled in below).
pub use agentbox_core as core;
