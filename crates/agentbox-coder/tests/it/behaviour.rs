//! The behaviour suite every backend passes, run against `CoderProvider` and the test kit's
//! fake coderd (whose workspaces are local bubblewrap sandboxes).

use crate::common;

use agentbox_testkit::behaviour::Suite;

agentbox_testkit::behaviour_suite!(async {
    Suite::new(common::Served::start(common::coderd()).await.shared())
});
