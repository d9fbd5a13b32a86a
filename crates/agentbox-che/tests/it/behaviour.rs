//! The behaviour suite every backend passes, against the Che provider on the test kit's fake
//! cluster (API server, simulated DevWorkspace Operator, kubelet).

use crate::support;

agentbox_testkit::behaviour_suite!(async {
    agentbox_testkit::behaviour::Suite::new(std::sync::Arc::new(support::provider()))
});
