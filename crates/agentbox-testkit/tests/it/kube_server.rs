//! The fake Kubernetes API server, driven by kube-rs as a real client would drive a real cluster.
#![cfg(feature = "kube")]

use agentbox_testkit::kube::{Burst, FakeApiServer, Verb};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch,
    PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use serde_json::{Value, json};
use std::time::Duration;

const NS: &str = "che-user";
/// Upper bound for anything a test waits on; tests finish far sooner.
const PATIENCE: Duration = Duration::from_secs(10);

fn devworkspaces() -> ApiResource {
    let gvk = GroupVersionKind::gvk("workspace.devfile.io", "v1alpha2", "DevWorkspace");
    ApiResource::from_gvk_with_plural(&gvk, "devworkspaces")
}

async fn server() -> FakeApiServer {
    FakeApiServer::builder()
        .devworkspace_crds()
        .namespace(NS)
        .start()
        .await
        .expect("the fake API server starts")
}

fn dw_api(server: &FakeApiServer) -> Api<DynamicObject> {
    Api::namespaced_with(server.client(), NS, &devworkspaces())
}

fn workspace(name: &str, labels: &[(&str, &str)]) -> DynamicObject {
    let mut dw = DynamicObject::new(name, &devworkspaces());
    dw.metadata.labels = Some(
        labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    );
    dw.data = json!({"spec": {"started": false, "template": {
        "components": [{"name": "tools", "container": {"image": "quay.io/devfile/universal-developer-image:latest"}}]
    }}});
    dw
}

fn status_of(error: kube::Error) -> Box<kube::core::Status> {
    match error {
        kube::Error::Api(status) => status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn names(list: &[DynamicObject]) -> Vec<String> {
    list.iter()
        .filter_map(|o| o.metadata.name.clone())
        .collect()
}

#[tokio::test]
async fn create_get_and_list_by_label_and_field_selectors() {
    let server = server().await;
    let api = dw_api(&server);
    let pp = PostParams::default();
    let a = api
        .create(&pp, &workspace("a", &[("app", "ws"), ("tier", "1")]))
        .await
        .unwrap();
    api.create(&pp, &workspace("b", &[("app", "ws")]))
        .await
        .unwrap();
    api.create(&pp, &workspace("c", &[("app", "other")]))
        .await
        .unwrap();

    let meta = &a.metadata;
    assert!(meta.uid.as_deref().is_some_and(|u| u.len() == 36));
    assert_eq!(meta.generation, Some(1));
    assert!(meta.creation_timestamp.is_some());
    assert_eq!(
        api.get("a").await.unwrap().metadata.resource_version,
        meta.resource_version
    );

    let list = |selector: &'static str| {
        let api = api.clone();
        async move {
            names(
                &api.list(&ListParams::default().labels(selector))
                    .await
                    .unwrap()
                    .items,
            )
        }
    };
    assert_eq!(list("app=ws").await, ["a", "b"]);
    assert_eq!(list("app!=ws").await, ["c"]);
    assert_eq!(list("app in (ws,other),tier").await, ["a"]);
    assert_eq!(list("app notin (ws)").await, ["c"]);
    assert_eq!(list("!tier").await, ["b", "c"]);
    let by_name = api
        .list(&ListParams::default().fields("metadata.name=b"))
        .await
        .unwrap();
    assert_eq!(names(&by_name.items), ["b"]);

    // Pages are consistent: a page continues the list as of the first page's resourceVersion.
    let first = api.list(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(names(&first.items), ["a", "b"]);
    assert_eq!(first.metadata.remaining_item_count, Some(1));
    api.delete("c", &DeleteParams::default()).await.unwrap();
    let token = first.metadata.continue_.clone().unwrap();
    let rest = api
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .unwrap();
    assert_eq!(names(&rest.items), ["c"]);
    assert_eq!(
        rest.metadata.resource_version,
        first.metadata.resource_version
    );

    let duplicate = status_of(api.create(&pp, &workspace("a", &[])).await.unwrap_err());
    assert_eq!(
        (duplicate.code, duplicate.reason.as_str()),
        (409, "AlreadyExists")
    );
    assert_eq!(
        duplicate.message,
        "devworkspaces.workspace.devfile.io \"a\" already exists"
    );
    let missing = status_of(api.get("zzz").await.unwrap_err());
    assert_eq!((missing.code, missing.reason.as_str()), (404, "NotFound"));

    let mut generated = workspace("", &[]);
    generated.metadata.name = None;
    generated.metadata.generate_name = Some("ws-".into());
    let created = api.create(&pp, &generated).await.unwrap();
    assert!(
        created
            .metadata
            .name
            .as_deref()
            .is_some_and(|n| n.starts_with("ws-") && n.len() == 8)
    );

    let elsewhere: Api<DynamicObject> =
        Api::namespaced_with(server.client(), "nowhere", &devworkspaces());
    let no_namespace = status_of(
        elsewhere
            .create(&pp, &workspace("x", &[]))
            .await
            .unwrap_err(),
    );
    assert_eq!(no_namespace.message, "namespaces \"nowhere\" not found");
}

#[tokio::test]
async fn updates_conflict_on_stale_resource_versions_and_bump_generation_on_spec_changes() {
    let server = server().await;
    let api = dw_api(&server);
    let created = api
        .create(&PostParams::default(), &workspace("w", &[]))
        .await
        .unwrap();

    let mut relabelled = created.clone();
    relabelled.metadata.labels = Some([("k".to_owned(), "v".to_owned())].into());
    let relabelled = api
        .replace("w", &PostParams::default(), &relabelled)
        .await
        .unwrap();
    assert_eq!(
        relabelled.metadata.generation,
        Some(1),
        "metadata changes keep the generation"
    );

    let mut stale = created.clone();
    stale.data["spec"]["started"] = json!(true);
    let conflict = status_of(
        api.replace("w", &PostParams::default(), &stale)
            .await
            .unwrap_err(),
    );
    assert_eq!((conflict.code, conflict.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        conflict.message,
        "Operation cannot be fulfilled on devworkspaces.workspace.devfile.io \"w\": the object has been modified; \
         please apply your changes to the latest version and try again"
    );

    let mut fresh = relabelled.clone();
    fresh.data["spec"]["started"] = json!(true);
    let started = api
        .replace("w", &PostParams::default(), &fresh)
        .await
        .unwrap();
    assert_eq!(started.metadata.generation, Some(2));
    let before: u64 = relabelled
        .metadata
        .resource_version
        .unwrap()
        .parse()
        .unwrap();
    let after: u64 = started
        .metadata
        .resource_version
        .clone()
        .unwrap()
        .parse()
        .unwrap();
    assert!(after > before);

    // A write that changes nothing stores nothing.
    let same = api
        .replace("w", &PostParams::default(), &started)
        .await
        .unwrap();
    assert_eq!(
        same.metadata.resource_version,
        started.metadata.resource_version
    );

    let mut unconditional = started.clone();
    unconditional.metadata.resource_version = None;
    let refused = status_of(
        api.replace("w", &PostParams::default(), &unconditional)
            .await
            .unwrap_err(),
    );
    assert_eq!((refused.code, refused.reason.as_str()), (422, "Invalid"));
}

#[tokio::test]
async fn merge_json_and_apply_patches() {
    let server = server().await;
    let api = dw_api(&server);
    api.create(&PostParams::default(), &workspace("w", &[]))
        .await
        .unwrap();
    let pp = PatchParams::default();

    let merged = api
        .patch(
            "w",
            &pp,
            &Patch::Merge(json!({"metadata": {"labels": {"a": "1"}}, "spec": {"started": true}})),
        )
        .await
        .unwrap();
    assert_eq!(merged.data["spec"]["started"], true);
    assert_eq!(merged.metadata.generation, Some(2));

    let ops: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/spec/started", "value": true},
        {"op": "add", "path": "/spec/routingClass", "value": "basic"}
    ]))
    .unwrap();
    let patched = api.patch("w", &pp, &Patch::Json::<()>(ops)).await.unwrap();
    assert_eq!(patched.data["spec"]["routingClass"], "basic");

    let failing: json_patch::Patch =
        serde_json::from_value(json!([{"op": "test", "path": "/spec/started", "value": false}]))
            .unwrap();
    let refused = status_of(
        api.patch("w", &pp, &Patch::Json::<()>(failing))
            .await
            .unwrap_err(),
    );
    assert_eq!(refused.code, 422);

    let stale = json!({"metadata": {"resourceVersion": "1"}, "spec": {"started": false}});
    assert_eq!(
        status_of(api.patch("w", &pp, &Patch::Merge(stale)).await.unwrap_err()).code,
        409
    );

    let strategic = api
        .patch("w", &pp, &Patch::Strategic(json!({"spec": {}})))
        .await
        .unwrap_err();
    assert_eq!(status_of(strategic).reason, "UnsupportedMediaType");

    let mut applied = workspace("applied", &[]);
    applied.data["spec"]["started"] = json!(true);
    let created = api
        .patch(
            "applied",
            &PatchParams::apply("test"),
            &Patch::Apply(&applied),
        )
        .await
        .unwrap();
    assert_eq!(created.data["spec"]["started"], true);
}

#[tokio::test]
async fn the_status_subresource_is_written_apart_from_the_object() {
    let server = server().await;
    let api = dw_api(&server);
    let mut with_status = workspace("w", &[]);
    with_status.data["status"] = json!({"devworkspaceId": "ignored", "phase": "Running"});
    let created = api
        .create(&PostParams::default(), &with_status)
        .await
        .unwrap();
    assert!(
        created.data.get("status").is_none(),
        "create cannot set status"
    );

    let status = json!({"status": {"devworkspaceId": "workspace1234", "phase": "Starting"}});
    let patched = api
        .patch_status("w", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
    assert_eq!(patched.data["status"]["phase"], "Starting");
    assert_eq!(
        patched.metadata.generation,
        Some(1),
        "status changes keep the generation"
    );

    let sneaky = json!({"spec": {"started": true}, "status": {"devworkspaceId": "workspace1234", "phase": "Running"}});
    let after = api
        .patch_status("w", &PatchParams::default(), &Patch::Merge(&sneaky))
        .await
        .unwrap();
    assert_eq!(
        (
            after.data["spec"]["started"].clone(),
            after.data["status"]["phase"].clone()
        ),
        (json!(false), json!("Running"))
    );

    let main = api
        .patch(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Failed"}})),
        )
        .await
        .unwrap();
    assert_eq!(
        main.data["status"]["phase"], "Running",
        "main-resource writes ignore status"
    );

    let invalid = json!({"status": {"devworkspaceId": null, "phase": "Running"}});
    let refused = status_of(
        api.patch_status("w", &PatchParams::default(), &Patch::Merge(&invalid))
            .await
            .unwrap_err(),
    );
    assert_eq!(refused.code, 422);
    assert_eq!(
        refused.details.unwrap().causes[0].field,
        "status.devworkspaceId"
    );
}

#[tokio::test]
async fn schemas_reject_invalid_objects_and_prune_unknown_fields() {
    let server = server().await;
    let api = dw_api(&server);
    let mut invalid = workspace("invalid", &[]);
    invalid.data["spec"]["template"]["components"] = json!([
        {"name": "Bad_Name", "container": {"image": "x"}},
        {"name": "nothing"}
    ]);
    let refused = status_of(
        api.create(&PostParams::default(), &invalid)
            .await
            .unwrap_err(),
    );
    assert_eq!((refused.code, refused.reason.as_str()), (422, "Invalid"));
    assert!(
        refused
            .message
            .starts_with("DevWorkspace.workspace.devfile.io \"invalid\" is invalid: [")
    );
    let causes = refused.details.unwrap().causes;
    let fields: Vec<(&str, &str)> = causes
        .iter()
        .map(|c| (c.field.as_str(), c.reason.as_str()))
        .collect();
    assert!(
        fields.contains(&("spec.template.components[0].name", "FieldValueInvalid")),
        "{fields:?}"
    );
    assert!(
        fields.contains(&("spec.template.components[1]", "FieldValueInvalid")),
        "{fields:?}"
    );

    let mut extra = workspace("extra", &[]);
    extra.data["spec"]["unknownField"] = json!(1);
    extra.data["spec"]["template"]["components"][0]["container"]["bogus"] = json!("x");
    let created = api.create(&PostParams::default(), &extra).await.unwrap();
    assert!(created.data["spec"].get("unknownField").is_none());
    let container = &created.data["spec"]["template"]["components"][0]["container"];
    assert!(container.get("bogus").is_none());
    assert_eq!(
        container["sourceMapping"], "/projects",
        "schema defaults are applied"
    );

    let strict = PatchParams {
        field_validation: Some(kube::api::ValidationDirective::Strict),
        ..PatchParams::default()
    };
    let refused = status_of(
        api.patch(
            "extra",
            &strict,
            &Patch::Merge(json!({"spec": {"nope": 1}})),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(
        (refused.code, refused.message.as_str()),
        (400, "strict decoding error: unknown field \"spec.nope\"")
    );
}

#[tokio::test]
async fn finalizers_hold_a_deleted_object_until_they_are_removed() {
    let server = server().await;
    let api = dw_api(&server);
    let mut dw = workspace("w", &[]);
    dw.metadata.finalizers = Some(vec!["example.com/cleanup".into()]);
    let created = api.create(&PostParams::default(), &dw).await.unwrap();
    let rv = created.metadata.resource_version.clone().unwrap();
    let mut events = api
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();

    let marked = api
        .delete("w", &DeleteParams::background())
        .await
        .unwrap()
        .left()
        .unwrap();
    assert!(marked.metadata.deletion_timestamp.is_some());
    assert!(
        api.get("w")
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .is_some()
    );

    let refused = api
        .patch(
            "w",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"finalizers": ["example.com/cleanup", "x.io/more"]}}),
            ),
        )
        .await
        .unwrap_err();
    assert_eq!(
        status_of(refused).code,
        422,
        "no new finalizers once deleting"
    );

    api.patch(
        "w",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert_eq!(status_of(api.get("w").await.unwrap_err()).code, 404);

    let mut kinds = Vec::new();
    while kinds.len() < 2 {
        match tokio::time::timeout(PATIENCE, events.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
        {
            WatchEvent::Modified(o) => {
                kinds.push(("MODIFIED", o.metadata.deletion_timestamp.is_some()))
            }
            WatchEvent::Deleted(o) => {
                kinds.push(("DELETED", o.metadata.deletion_timestamp.is_some()))
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(kinds, [("MODIFIED", true), ("DELETED", true)]);
}

async fn next_event(
    events: &mut (impl futures::Stream<Item = kube::Result<WatchEvent<DynamicObject>>> + Unpin),
) -> WatchEvent<DynamicObject> {
    tokio::time::timeout(PATIENCE, events.next())
        .await
        .expect("an event within the patience window")
        .expect("the stream is open")
        .expect("a well-formed event")
}

fn describe(event: &WatchEvent<DynamicObject>) -> (String, String) {
    let (kind, name) = match event {
        WatchEvent::Added(o) => ("ADDED", o.metadata.name.clone()),
        WatchEvent::Modified(o) => ("MODIFIED", o.metadata.name.clone()),
        WatchEvent::Deleted(o) => ("DELETED", o.metadata.name.clone()),
        WatchEvent::Bookmark(_) => ("BOOKMARK", None),
        WatchEvent::Error(e) => ("ERROR", Some(e.reason.clone())),
    };
    (kind.to_owned(), name.unwrap_or_default())
}

#[tokio::test]
async fn watches_stream_changes_in_order_and_resume_from_a_resource_version() {
    let server = server().await;
    let api = dw_api(&server);
    api.create(&PostParams::default(), &workspace("existing", &[]))
        .await
        .unwrap();
    let mut from_zero = api
        .watch(&WatchParams::default(), "0")
        .await
        .unwrap()
        .boxed();
    assert_eq!(
        describe(&next_event(&mut from_zero).await),
        ("ADDED".into(), "existing".into())
    );

    let created = api
        .create(&PostParams::default(), &workspace("w", &[]))
        .await
        .unwrap();
    let resume_at = created.metadata.resource_version.clone().unwrap();
    api.patch(
        "w",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"started": true}})),
    )
    .await
    .unwrap();
    api.delete("w", &DeleteParams::default()).await.unwrap();

    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(describe(&next_event(&mut from_zero).await));
    }
    let expected = [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]
        .map(|(k, n)| (k.to_owned(), n.to_owned()));
    assert_eq!(seen, expected);

    let mut resumed = api
        .watch(&WatchParams::default(), &resume_at)
        .await
        .unwrap()
        .boxed();
    assert_eq!(describe(&next_event(&mut resumed).await), expected[1]);
    assert_eq!(describe(&next_event(&mut resumed).await), expected[2]);
}

#[tokio::test]
async fn selector_watches_see_objects_enter_and_leave_and_get_bookmarks() {
    let server = FakeApiServer::builder()
        .devworkspace_crds()
        .namespace(NS)
        .bookmark_interval(Duration::from_millis(50))
        .start()
        .await
        .unwrap();
    let api = dw_api(&server);
    api.create(&PostParams::default(), &workspace("w", &[("app", "other")]))
        .await
        .unwrap();
    let params = WatchParams::default().labels("app=ws");
    let mut events = api.watch(&params, "0").await.unwrap().boxed();
    let relabel = |value: &'static str| {
        let api = api.clone();
        async move {
            let patch = Patch::Merge(json!({"metadata": {"labels": {"app": value}}}));
            api.patch("w", &PatchParams::default(), &patch)
                .await
                .unwrap();
        }
    };
    relabel("ws").await;
    assert_eq!(
        describe(&next_event(&mut events).await),
        ("ADDED".into(), "w".into())
    );
    relabel("other").await;
    assert_eq!(
        describe(&next_event(&mut events).await),
        ("DELETED".into(), "w".into())
    );

    let mut bookmarked = api
        .watch(
            &WatchParams {
                bookmarks: true,
                ..WatchParams::default()
            },
            "0",
        )
        .await
        .unwrap()
        .boxed();
    assert_eq!(describe(&next_event(&mut bookmarked).await).0, "ADDED");
    let WatchEvent::Bookmark(bookmark) = next_event(&mut bookmarked).await else {
        panic!("a bookmark follows");
    };
    let latest = api
        .get("w")
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    assert_eq!(bookmark.metadata.resource_version, latest);
}

#[tokio::test]
async fn a_too_old_resource_version_gets_410_and_the_runtime_watcher_relists() {
    let server = FakeApiServer::builder()
        .devworkspace_crds()
        .namespace(NS)
        .history(2)
        .start()
        .await
        .unwrap();
    let api = dw_api(&server);
    let first = api
        .create(&PostParams::default(), &workspace("a", &[]))
        .await
        .unwrap();
    let old = first.metadata.resource_version.clone().unwrap();
    for name in ["b", "c", "d"] {
        api.create(&PostParams::default(), &workspace(name, &[]))
            .await
            .unwrap();
    }
    let mut gone = api
        .watch(&WatchParams::default(), &old)
        .await
        .unwrap()
        .boxed();
    let WatchEvent::Error(status) = next_event(&mut gone).await else {
        panic!("a too-old resourceVersion gets an ERROR event");
    };
    assert_eq!((status.code, status.reason.as_str()), (410, "Expired"));
    assert!(
        status
            .message
            .starts_with(&format!("too old resource version: {old} ("))
    );

    let writer = reflector::store::Writer::new(devworkspaces());
    let reader = writer.as_reader();
    let stream = watcher(api.clone(), watcher::Config::default())
        .reflect(writer)
        .applied_objects();
    let driver = tokio::spawn(stream.for_each(|_| async {}));
    let converged = |want: &'static [&'static str]| {
        let reader = reader.clone();
        async move {
            tokio::time::timeout(PATIENCE, async {
                loop {
                    let mut have: Vec<String> = reader
                        .state()
                        .iter()
                        .filter_map(|o| o.metadata.name.clone())
                        .collect();
                    have.sort();
                    if have == want {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
            .await
            .unwrap_or_else(|_| panic!("the reflector converges on {want:?}"));
        }
    };
    converged(&["a", "b", "c", "d"]).await;
    let lists_before = server.counters().client().verb(Verb::List);

    // The watch is dropped and the history forgotten: the watcher's resume gets 410 and it re-lists.
    server.faults().force_gone_once();
    server.faults().drop_watches_now();
    api.delete("a", &DeleteParams::default()).await.unwrap();
    api.create(&PostParams::default(), &workspace("e", &[]))
        .await
        .unwrap();
    converged(&["b", "c", "d", "e"]).await;
    let fired = server.faults().fired();
    assert_eq!((fired.gone, fired.watches_dropped), (1, 1));
    assert!(
        server.counters().client().verb(Verb::List) > lists_before,
        "the watcher re-listed"
    );
    driver.abort();
}

#[tokio::test]
async fn the_streaming_list_watcher_gets_initial_events_and_their_end_bookmark() {
    let server = server().await;
    let api = dw_api(&server);
    api.create(&PostParams::default(), &workspace("a", &[]))
        .await
        .unwrap();
    let writer = reflector::store::Writer::new(devworkspaces());
    let reader = writer.as_reader();
    let config = watcher::Config::default().streaming_lists();
    let driver = tokio::spawn(
        watcher(api.clone(), config)
            .reflect(writer)
            .for_each(|_| async {}),
    );
    tokio::time::timeout(PATIENCE, reader.wait_until_ready())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reader.state().len(), 1);
    assert_eq!(
        server.counters().client().verb(Verb::List),
        0,
        "no list call with streaming lists"
    );
    driver.abort();
}

#[tokio::test]
async fn error_bursts_latency_and_dropped_watches_hit_the_client() {
    let server = server().await;
    let api = dw_api(&server);
    let faults = server.faults();

    // 429 with Retry-After, exactly as the apiserver's priority-and-fairness answers.
    faults.burst(Burst::new(429, 1));
    let raw = reqwest::get(format!("{}/api/v1/namespaces", server.url()))
        .await
        .unwrap();
    assert_eq!(raw.status(), 429);
    assert_eq!(raw.headers()["retry-after"], "1");
    let body: Value = raw.json().await.unwrap();
    assert_eq!(
        (body["kind"].clone(), body["reason"].clone()),
        (json!("Status"), json!("TooManyRequests"))
    );

    // kube retries 503 by itself (a bounded backoff); it does not retry 500.
    faults.burst(Burst::new(503, 2).retry_after(None));
    api.list(&ListParams::default()).await.unwrap();
    faults.burst(Burst::new(500, 1).verbs([Verb::Create]));
    api.list(&ListParams::default()).await.unwrap();
    let failed = status_of(
        api.create(&PostParams::default(), &workspace("w", &[]))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (failed.code, failed.reason.as_str()),
        (500, "InternalError")
    );
    let fired = faults.fired();
    assert_eq!(fired.bursts.get(&503), Some(&2));
    assert_eq!(fired.bursts.get(&500), Some(&1));
    assert_eq!(server.counters().client().status(503), 2);

    faults.latency(Duration::from_millis(100));
    let started = std::time::Instant::now();
    api.list(&ListParams::default()).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(100));
    assert_eq!(faults.fired().delayed, 1);
    faults.clear();

    let mut events = api
        .watch(&WatchParams::default(), "0")
        .await
        .unwrap()
        .boxed();
    faults.drop_watches_after(2);
    for name in ["x", "y", "z"] {
        api.create(&PostParams::default(), &workspace(name, &[]))
            .await
            .unwrap();
    }
    assert_eq!(
        describe(&next_event(&mut events).await),
        ("ADDED".into(), "x".into())
    );
    assert_eq!(
        describe(&next_event(&mut events).await),
        ("ADDED".into(), "y".into())
    );
    let ended = tokio::time::timeout(PATIENCE, events.next()).await.unwrap();
    assert!(ended.is_none(), "the stream ends after two events");
    assert_eq!(faults.fired().watches_dropped, 1);

    // After the history is forgotten, resuming from a version before it gets 410.
    let x_rv = api
        .get("x")
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    faults.expire_history();
    let mut stale = api
        .watch(&WatchParams::default(), &x_rv)
        .await
        .unwrap()
        .boxed();
    assert_eq!(
        describe(&next_event(&mut stale).await),
        ("ERROR".into(), "Expired".into())
    );
}

#[tokio::test]
async fn counters_report_the_clients_requests_apart_from_the_test_kits_own() {
    let server = server().await;
    let api = dw_api(&server);
    let internal: Api<DynamicObject> = Api::namespaced_with(
        server
            .client_with_user_agent("agentbox-testkit/test")
            .unwrap(),
        NS,
        &devworkspaces(),
    );
    server.faults().burst(Burst::new(500, 1));
    internal
        .create(&PostParams::default(), &workspace("w", &[]))
        .await
        .unwrap();
    server.faults().clear();
    api.get("w").await.unwrap();
    api.patch_status(
        "w",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"devworkspaceId": "x"}})),
    )
    .await
    .unwrap();
    let watch = api.watch(&WatchParams::default(), "0").await.unwrap();

    let snapshot = server.counters().snapshot();
    assert_eq!(snapshot.internal.count(Verb::Create, "devworkspaces"), 1);
    assert_eq!(snapshot.client.verb(Verb::Create), 0);
    assert_eq!(snapshot.client.count(Verb::Get, "devworkspaces"), 1);
    assert_eq!(
        snapshot.client.count(Verb::Patch, "devworkspaces/status"),
        1
    );
    assert_eq!(
        (
            snapshot.client.open_watches,
            snapshot.client.peak_open_watches
        ),
        (1, 1)
    );
    drop(watch);
    tokio::time::timeout(PATIENCE, async {
        while server.counters().client().open_watches > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the gauge drops when the client closes its watch");
    server.counters().reset();
    assert_eq!(server.counters().client().requests, 0);
}

#[tokio::test]
async fn pods_are_built_in_and_bound_pods_are_deleted_gracefully() {
    let server = server().await;
    let pods: Api<Pod> = Api::namespaced(server.client(), NS);
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "busybox"}]},
        "status": {"phase": "Running"}
    }))
    .unwrap();
    let created = pods.create(&PostParams::default(), &pod).await.unwrap();
    let status = created.status.unwrap();
    assert_eq!(
        (status.phase.as_deref(), status.qos_class.as_deref()),
        (Some("Pending"), Some("BestEffort"))
    );

    let marked = pods
        .delete("p", &DeleteParams::default())
        .await
        .unwrap()
        .left()
        .unwrap();
    assert_eq!(marked.metadata.deletion_grace_period_seconds, Some(30));
    assert!(
        pods.get("p").await.is_ok(),
        "the kubelet has not confirmed yet"
    );
    pods.delete(
        "p",
        &DeleteParams {
            grace_period_seconds: Some(0),
            ..DeleteParams::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(status_of(pods.get("p").await.unwrap_err()).code, 404);

    let invalid: Pod = serde_json::from_value(
        json!({"metadata": {"name": "q"}, "spec": {"containers": [{"name": "c"}]}}),
    )
    .unwrap();
    let refused = status_of(
        pods.create(&PostParams::default(), &invalid)
            .await
            .unwrap_err(),
    );
    assert_eq!(
        refused.details.unwrap().causes[0].field,
        "spec.containers[0].image"
    );

    // Owners' dependents are garbage-collected.
    let owner = dw_api(&server)
        .create(&PostParams::default(), &workspace("owner", &[]))
        .await
        .unwrap();
    let owned: Pod = serde_json::from_value(json!({
        "metadata": {"name": "owned", "ownerReferences": [{"apiVersion": "workspace.devfile.io/v1alpha2",
            "kind": "DevWorkspace", "name": "owner", "uid": owner.metadata.uid}]},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &owned).await.unwrap();
    dw_api(&server)
        .delete("owner", &DeleteParams::default())
        .await
        .unwrap();
    assert_eq!(status_of(pods.get("owned").await.unwrap_err()).code, 404);

    let namespaces: Api<Namespace> = Api::all(server.client());
    namespaces
        .delete(NS, &DeleteParams::default())
        .await
        .unwrap();
    assert_eq!(
        status_of(namespaces.get(NS).await.unwrap_err()).code,
        404,
        "an empty namespace goes at once"
    );
}

#[tokio::test]
async fn discovery_kubeconfig_and_crds_created_through_the_api() {
    let server = server().await;
    let discovery = kube::Discovery::new(server.client()).run().await.unwrap();
    let gvk = GroupVersionKind::gvk("workspace.devfile.io", "v1alpha2", "DevWorkspace");
    let (resource, caps) = discovery
        .resolve_gvk(&gvk)
        .expect("discovery finds DevWorkspace");
    assert_eq!(resource.plural, "devworkspaces");
    assert!(
        caps.subresources
            .iter()
            .any(|(r, _)| r.plural == "devworkspaces/status" || r.plural == "status")
    );
    let aggregated = kube::Discovery::new(server.client())
        .run_aggregated()
        .await
        .unwrap();
    assert!(
        aggregated
            .resolve_gvk(&GroupVersionKind::gvk("", "v1", "Pod"))
            .is_some()
    );
    assert_eq!(
        server.client().apiserver_version().await.unwrap().major,
        "1"
    );

    let kubeconfig = kube::config::Kubeconfig::from_yaml(&server.kubeconfig_yaml()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    let via_kubeconfig = kube::Client::try_from(config).unwrap();
    let names: Vec<String> = Api::<Namespace>::all(via_kubeconfig)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    assert!(names.contains(&NS.to_owned()));

    let crds_resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
        "customresourcedefinitions",
    );
    let crds: Api<DynamicObject> = Api::all_with(server.client(), &crds_resource);
    let crd: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
                 "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                 "versions": [{"name": "v1", "served": true, "storage": true,
                     "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                         "spec": {"type": "object", "properties": {"size": {"type": "integer", "maximum": 10}}}}}}}]}
    }))
    .unwrap();
    crds.create(&PostParams::default(), &crd).await.unwrap();
    let widget_resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Widget"),
        "widgets",
    );
    let widgets: Api<DynamicObject> = Api::namespaced_with(server.client(), NS, &widget_resource);
    let mut widget = DynamicObject::new("w", &widget_resource);
    widget.data = json!({"spec": {"size": 11}});
    assert_eq!(
        status_of(
            widgets
                .create(&PostParams::default(), &widget)
                .await
                .unwrap_err()
        )
        .code,
        422
    );
    widget.data = json!({"spec": {"size": 3}});
    widgets
        .create(&PostParams::default(), &widget)
        .await
        .unwrap();
    crds.delete("widgets.example.com", &DeleteParams::default())
        .await
        .unwrap();
    assert_eq!(status_of(widgets.get("w").await.unwrap_err()).code, 404);
}

#[tokio::test]
async fn merged_routes_take_precedence_and_are_counted() {
    let exec = axum::Router::new().route(
        "/api/v1/namespaces/{namespace}/pods/{name}/exec",
        axum::routing::get(|| async { "exec served by the merged router" }),
    );
    let server = FakeApiServer::builder()
        .namespace(NS)
        .router(exec)
        .start()
        .await
        .unwrap();
    let base = format!("{}/api/v1/namespaces/{NS}/pods/p", server.url());
    let served = reqwest::get(format!("{base}/exec?command=ls"))
        .await
        .unwrap();
    assert_eq!(
        served.text().await.unwrap(),
        "exec served by the merged router"
    );
    let unknown = reqwest::get(format!("{base}/log")).await.unwrap();
    assert_eq!(unknown.status(), 404);
    let body: Value = unknown.json().await.unwrap();
    assert_eq!(
        (body["kind"].clone(), body["reason"].clone()),
        (json!("Status"), json!("NotFound"))
    );
    assert_eq!(server.counters().client().count(Verb::Get, "pods/exec"), 1);
    server.shutdown().await;
}

#[test]
fn the_vendored_crds_are_the_devfile_api_files_byte_for_byte() {
    let specs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("specs");
    let upstream = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/specs/devfile-api/crds");
    if !upstream.is_dir() {
        eprintln!(
            "skipped: {} is not present to compare against",
            upstream.display()
        );
        return;
    }
    for file in [
        "workspace.devfile.io_devworkspaces.yaml",
        "workspace.devfile.io_devworkspacetemplates.yaml",
    ] {
        let vendored = std::fs::read(specs.join(file)).unwrap();
        let original = std::fs::read(upstream.join(file)).unwrap();
        assert!(vendored == original, "{file} differs from devfile/api's");
    }
}
