//! Feature `kube`: a Coder workspace that is a pod runs its commands over `pods/exec` (the Che
//! backend's `KubeExecutor`), found by the labels of Coder's Kubernetes templates.

use crate::common;

use std::time::Duration;

use agentbox_coder::kube::PodSelector;
use agentbox_core::Error;
use agentbox_core::exec::{ExecRequest, ExecutorExt, OutputStreams};
use agentbox_core::provider::{CreateRequest, WorkspaceProvider, WorkspaceProviderExt};
use agentbox_testkit::kube::FakeCluster;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use kube::runtime::wait::{await_condition, conditions};

const NAMESPACE: &str = "coder";

/// A pod as Coder's Kubernetes template makes it for workspace `id`.
fn workspace_pod(id: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": format!("coder-{id}"),
            "labels": {
                "app.kubernetes.io/name": "coder-workspace",
                "com.coder.workspace.id": id,
            },
        },
        "spec": {
            "containers": [{
                "name": "dev",
                "image": "codercom/enterprise-base:ubuntu",
                "command": ["sleep", "3600"],
                "volumeMounts": [{ "name": "projects", "mountPath": "/projects" }],
            }],
            "volumes": [{ "name": "projects", "emptyDir": {} }],
        },
    }))
    .expect("a pod")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_run_in_the_workspace_pod_with_separate_streams() {
    // `RUST_LOG=agentbox_coder=debug,agentbox_che=debug` shows each step.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let cluster = FakeCluster::builder()
        .namespace(NAMESPACE)
        .start()
        .await
        .expect("the fake cluster starts");
    let coderd = common::coderd()
        .start()
        .await
        .expect("the fake coderd starts");
    let provider = common::provider(&coderd)
        .kube_exec(cluster.client(), NAMESPACE, PodSelector::default())
        .build();
    let info = provider
        .provision(
            &common::contract("kube"),
            CreateRequest::named("kube-1"),
            Duration::from_secs(60),
        )
        .await
        .expect("provision");

    // Without its pod the workspace cannot run commands this way, and says why.
    let err = provider.executor(&info.id).await.expect_err("no pod yet");
    assert!(
        matches!(&err, Error::InvalidState { state, .. } if state.contains("no running pod")),
        "{err}"
    );

    let pods: Api<Pod> = Api::namespaced(cluster.client(), NAMESPACE);
    let pod = workspace_pod(info.id.as_str());
    let name = pod.metadata.name.clone().unwrap();
    pods.create(&PostParams::default(), &pod)
        .await
        .expect("create the pod");
    tokio::time::timeout(
        Duration::from_secs(60),
        await_condition(pods, &name, conditions::is_pod_running()),
    )
    .await
    .expect("the pod runs in time")
    .expect("watch the pod");

    let exec = provider.executor(&info.id).await.expect("executor");
    assert_eq!(exec.output_streams(), OutputStreams::Separate);
    exec.write_bytes("hello.txt", b"from the API".to_vec())
        .await
        .expect("write into the workdir");
    let out = exec
        .exec(ExecRequest::new([
            "sh",
            "-c",
            "cat hello.txt; echo; echo \"$GREETING\"; pwd; echo err >&2",
        ]))
        .await
        .expect("exec");
    assert!(out.exit.success(), "{out:?}");
    assert_eq!(out.stdout_text(), "from the API\nhello\n/projects/kube\n");
    assert_eq!(out.stderr_text(), "err\n");

    provider.delete(&info.id).await.expect("delete");
    coderd.shutdown().await;
    cluster.shutdown().await;
}
