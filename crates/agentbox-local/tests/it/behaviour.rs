//! The shared behaviour suite, run against the local provider with bubblewrap.

use std::sync::{Arc, OnceLock};

use agentbox_local::{Isolation, LocalProvider};
use agentbox_testkit::behaviour::Suite;

/// One state directory for the whole suite; every behaviour deletes its own workspace.
fn root() -> &'static tempfile::TempDir {
    static ROOT: OnceLock<tempfile::TempDir> = OnceLock::new();
    ROOT.get_or_init(|| tempfile::tempdir().expect("a temporary directory"))
}

async fn suite() -> Suite {
    let provider = LocalProvider::builder()
        .root(root().path())
        .isolation(Isolation::Bubblewrap)
        .build()
        .expect("the local provider builds");
    Suite::new(Arc::new(provider))
}

agentbox_testkit::behaviour_suite!(suite());
