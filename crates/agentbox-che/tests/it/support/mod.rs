//! One fake cluster shared by the tests of a file, on a runtime of its own (each
//! `#[tokio::test]` has its own runtime, which ends with the test).

use std::sync::OnceLock;

use agentbox_che::CheProvider;
use agentbox_testkit::kube::FakeCluster;

/// The namespace the shared cluster's workspaces live in.
pub const NAMESPACE: &str = "agentbox";

static SHARED: OnceLock<FakeCluster> = OnceLock::new();

/// The shared cluster, started on first use.
pub fn shared_cluster() -> &'static FakeCluster {
    SHARED.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime for the fake cluster");
            runtime.block_on(async move {
                let cluster = FakeCluster::builder()
                    .namespace(NAMESPACE)
                    .start()
                    .await
                    .expect("the fake cluster starts");
                tx.send(cluster).expect("the test waits for the cluster");
                std::future::pending::<()>().await
            });
        });
        rx.recv().expect("the fake cluster starts")
    })
}

/// A provider on the shared cluster (its own client, on the calling test's runtime).
pub fn provider() -> CheProvider {
    CheProvider::new(shared_cluster().client(), NAMESPACE)
}
