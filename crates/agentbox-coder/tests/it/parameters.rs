//! Parameters: every value is checked against the template version's rich parameters before
//! anything is created; the contract's values reach the parameters the template declares.

use crate::common;

use std::sync::{Arc, Mutex};

use agentbox_coder::{CoderError, ParameterProblem, Rule, WorkspaceMetadata};
use agentbox_core::Error;
use agentbox_core::contract::{Contract, LoadOptions};
use agentbox_core::progress::{Progress, ProgressEvent};
use agentbox_core::provider::{CreateRequest, LabelSelector, Project, WorkspaceProvider};
use agentbox_testkit::coder::{FakeParameter, FakeTemplate};
use common::{Served, contract};

const CREATE: &str = "/api/v2/organizations/{organization}/members/{user}/workspaces";

/// The parameter problems an error carries (it must be a typed parameter error).
fn problems(err: &Error) -> Vec<ParameterProblem> {
    let source = std::error::Error::source(err).expect("the typed error is the source");
    match source.downcast_ref::<CoderError>() {
        Some(CoderError::Parameters { problems, .. }) => problems.clone(),
        other => panic!("expected CoderError::Parameters, got {other:?} ({err})"),
    }
}

fn rules(problems: &[ParameterProblem]) -> Vec<(&str, Rule)> {
    problems
        .iter()
        .map(|p| (p.parameter.as_str(), p.rule))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_values_are_refused_before_anything_is_created() {
    let template = FakeTemplate::agentbox()
        .parameter(
            FakeParameter::string("region")
                .required()
                .option("EU", "eu")
                .option("US", "us"),
        )
        .parameter(FakeParameter::bool("gpu"))
        .parameter(
            FakeParameter::string("size")
                .option("S", "s")
                .option("L", "l"),
        );
    let s = Served::start(common::coderd().template(template)).await;
    let p = common::provider(&s.coderd)
        .parameter("cpu", 64i64)
        .parameter("gpu", "maybe")
        .parameter("size", "xl")
        .parameter("nope", 1i64)
        .build();
    let err = p
        .create(&contract("bad"), CreateRequest::named("bad-1"))
        .await
        .expect_err("refused");
    let found = problems(&err);
    assert_eq!(
        rules(&found),
        [
            ("nope", Rule::Unknown),
            ("cpu", Rule::Max),
            ("region", Rule::Required),
            ("gpu", Rule::Type),
            ("size", Rule::Options),
        ]
    );
    let text = err.to_string();
    assert!(
        text.contains("5 parameter problem(s)") && text.contains("nothing was created"),
        "{text}"
    );
    assert!(
        text.contains("parameter `cpu` (validation_max): 64 is more than the maximum 16"),
        "{text}"
    );
    assert_eq!(
        s.coderd.counters().requests("POST", CREATE),
        0,
        "no workspace was asked for"
    );
    assert!(p.list(&LabelSelector::all()).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contract_and_typed_values_reach_the_declared_parameters() {
    let template = FakeTemplate::agentbox()
        .parameter(FakeParameter::list("repos"))
        .parameter(FakeParameter::bool("gpu"));
    let s = Served::start(common::coderd().template(template)).await;
    let p = common::provider(&s.coderd)
        .parameter("repos", vec!["a".to_owned(), "b \"quoted\"".to_owned()])
        .parameter("gpu", true)
        .build();
    let contract = Contract::from_yaml(
        "apiVersion: agentbox.dev/v1alpha1\nkind: Environment\nmetadata: { name: typed }\nspec:\n  image: alpine:3.20\n  resources: { cpu: { limit: 2500m }, memory: { limit: 3Gi } }\n  idleTimeout: 30m\n",
        &LoadOptions::default(),
    )
    .unwrap();
    let request = CreateRequest::named("typed-1").project(Project {
        url: "https://example.com/repo.git".into(),
        revision: None,
    });
    let info = p.create(&contract, request).await.expect("create");

    let client = common::client(&s.coderd);
    let id = uuid::Uuid::parse_str(info.id.as_str()).unwrap();
    let w = client.workspace(id).await.unwrap();
    assert_eq!(
        w.ttl_ms,
        Some(30 * 60 * 1000),
        "idleTimeout is the autostop TTL"
    );
    let values: std::collections::BTreeMap<String, String> = client
        .build_parameters(w.latest_build.id)
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.name, p.value))
        .collect();
    assert_eq!(values["image"], "alpine:3.20");
    assert_eq!(
        values["cpu"], "3",
        "whole cores, rounded up, for a number parameter"
    );
    assert_eq!(values["memory"], "3", "GiB for a number parameter");
    assert_eq!(values["repo"], "https://example.com/repo.git");
    assert_eq!(values["repos"], r#"["a","b \"quoted\""]"#, "lists are JSON");
    assert_eq!(values["gpu"], "true");
    assert!(values["devcontainer_json"].contains("\"image\": \"alpine:3.20\""));
    let metadata = WorkspaceMetadata::decode(&values["agentbox_metadata"]).expect("metadata");
    assert_eq!(metadata.contract_hash, contract.hash());
    p.delete(&info.id).await.expect("delete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_template_cannot_take_is_said() {
    let mut norev = FakeTemplate::agentbox();
    norev.name = "norev".into();
    norev.parameters.retain(|p| p.name != "repo_revision");
    let s = Served::start(
        common::coderd()
            .template(FakeTemplate::new("bare").parameter(FakeParameter::string("image")))
            .template(norev),
    )
    .await;
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&warnings);
    let observer = move |event: &ProgressEvent| {
        if let ProgressEvent::Warning { message, .. } = event {
            sink.lock().unwrap().push(message.clone());
        }
    };

    // No metadata parameter: the template is refused, naming what to declare.
    let bare = agentbox_coder::CoderProvider::builder(common::client(&s.coderd), "bare").build();
    let err = bare
        .create(&contract("bare"), CreateRequest::named("bare-1"))
        .await
        .expect_err("no metadata parameter");
    assert!(err.to_string().contains("agentbox_metadata"), "{err}");

    // A revision the template has no parameter for is a problem; a short idle timeout is a
    // warning.
    let p = agentbox_coder::CoderProvider::builder(common::client(&s.coderd), "norev")
        .progress(Progress::new(Arc::new(observer)))
        .build();
    let request = CreateRequest::named("rev-1").project(Project {
        url: "https://example.com/repo.git".into(),
        revision: Some("v1.2".into()),
    });
    let err = p
        .create(&contract("rev"), request)
        .await
        .expect_err("no parameter for the revision");
    assert_eq!(
        rules(&problems(&err)),
        [("repo_revision", Rule::Declaration)]
    );

    let missing = agentbox_coder::CoderProvider::builder(common::client(&s.coderd), "nope").build();
    let err = missing
        .create(&contract("nope"), CreateRequest::named("nope-1"))
        .await
        .expect_err("no such template");
    assert!(
        err.to_string().contains("template `nope` not found"),
        "{err}"
    );
    assert_eq!(s.coderd.counters().requests("POST", CREATE), 0);

    let short = Contract::from_yaml(
        "apiVersion: agentbox.dev/v1alpha1\nkind: Environment\nmetadata: { name: short }\nspec:\n  image: alpine:3.20\n  idleTimeout: 10s\n",
        &LoadOptions::default(),
    )
    .unwrap();
    let info = p
        .create(&short, CreateRequest::named("short-1"))
        .await
        .expect("create");
    let id = uuid::Uuid::parse_str(info.id.as_str()).unwrap();
    let w = common::client(&s.coderd).workspace(id).await.unwrap();
    assert_eq!(w.ttl_ms, Some(60_000), "Coder's shortest autostop");
    assert!(
        warnings
            .lock()
            .unwrap()
            .iter()
            .any(|w| w.contains("shorter than Coder's shortest autostop")),
        "{:?}",
        warnings.lock().unwrap()
    );
    p.delete(&info.id).await.expect("delete");
}
