//! The fake coderd, driven over HTTP and WebSockets as a Coder client would drive coderd.
//! Every JSON answer is checked against the swagger document here too, independently of the
//! fake's own check.

#![cfg(feature = "coder")]

mod support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use agentbox_core::exec::{ExecRequest, ExecutorExt};
use agentbox_core::provider::WorkspaceProvider;
use agentbox_testkit::coder::{
    CODER_SWAGGER, CoderApiSchema, FakeCoderd, FakeParameter, FakeTemplate,
};
use futures::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use support::{
    Api, CREATE, agent, distinct, id, keys, patient, read_pty, ready, running_agent, state,
    urlencode, uuid_like, watch_until,
};

#[test]
fn the_vendored_swagger_is_the_shared_one_byte_for_byte() {
    let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/specs/coder/v2.34.3/swagger.json");
    let Ok(original) = std::fs::read_to_string(&shared) else {
        println!(
            "skipped: {} is not present (it lives beside the repository)",
            shared.display()
        );
        return;
    };
    assert!(
        original == CODER_SWAGGER,
        "specs/coder/v2.34.3/swagger.json differs from {}",
        shared.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_lifecycle_answers_as_the_swagger_says() {
    let coderd = FakeCoderd::builder()
        .mount_path("/projects")
        .start()
        .await
        .unwrap();
    let api = Api::new(&coderd);

    let info = api.ok("/api/v2/buildinfo", "/api/v2/buildinfo").await;
    assert!(info["version"].as_str().unwrap().starts_with("v2.34.3"));
    let me = api.ok("/api/v2/users/{user}", "/api/v2/users/me").await;
    let orgs = api
        .ok(
            "/api/v2/users/{user}/organizations",
            "/api/v2/users/me/organizations",
        )
        .await;
    assert_eq!(orgs[0]["id"], coderd.organization_id().to_string());
    assert_eq!(me["organization_ids"][0], orgs[0]["id"]);
    api.ok(
        "/api/v2/organizations/{organization}",
        "/api/v2/organizations/coder",
    )
    .await;
    let template = api
        .ok(
            "/api/v2/organizations/{organization}/templates/{templatename}",
            "/api/v2/organizations/default/templates/agentbox",
        )
        .await;
    let version = template["active_version_id"].as_str().unwrap();
    api.ok(
        "/api/v2/templateversions/{templateversion}",
        &format!("/api/v2/templateversions/{version}"),
    )
    .await;
    let parameters = api
        .ok(
            "/api/v2/templateversions/{templateversion}/rich-parameters",
            &format!("/api/v2/templateversions/{version}/rich-parameters"),
        )
        .await;
    let names: Vec<&str> = parameters
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "image",
            "repo",
            "repo_revision",
            "workdir",
            "devcontainer_json",
            "agentbox_metadata",
            "cpu",
            "memory"
        ]
    );

    // A bad value is refused with the parameter named; so is a name in use.
    let (status, body) = api
        .call(Method::POST, CREATE, "/api/v2/organizations/default/members/me/workspaces", Some(json!({
            "name": "ws-1", "template_id": template["id"], "rich_parameter_values": [{"name": "cpu", "value": "99"}]
        })))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["validations"][0]["field"], "cpu", "{body:#}");

    let created = api.create("ws-1", json!([{"name": "cpu", "value": "4"}, {"name": "agentbox_metadata", "value": "{\"task\":\"t1\"}"}])).await;
    assert_eq!(created["latest_build"]["status"], "pending");
    assert_eq!(created["latest_build"]["transition"], "start");
    let ws_id = id(&created);
    let (status, body) = api
        .call(
            Method::POST,
            CREATE,
            "/api/v2/organizations/default/members/me/workspaces",
            Some(json!({"name": "ws-1", "template_id": template["id"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["validations"][0]["field"], "name");

    // The watch sends a ping, then every state in order.
    let mut watch = api
        .ws(&format!("/api/v2/workspaces/{ws_id}/watch-ws"))
        .await;
    let seen = watch_until(&mut watch, api.schema, ready).await;
    let states = distinct(&seen);
    let expected = [
        "pending",
        "starting",
        "running connecting/created",
        "running connected/starting",
        "running connected/ready",
    ];
    let from = expected
        .iter()
        .position(|s| *s == states[0])
        .expect("a known first state");
    assert_eq!(states, expected[from..], "{seen:#?}");
    let running = seen.last().unwrap().clone();
    assert_eq!(agent(&running)["directory"], "/projects");

    // Reads of the running workspace.
    let build_id = running["latest_build"]["id"].as_str().unwrap().to_owned();
    let agent_id = id(&agent(&running));
    api.ok(
        "/api/v2/workspaces/{workspace}",
        &format!("/api/v2/workspaces/{ws_id}"),
    )
    .await;
    api.ok(
        "/api/v2/users/{user}/workspace/{workspacename}",
        "/api/v2/users/me/workspace/ws-1",
    )
    .await;
    let list = api
        .ok(
            "/api/v2/workspaces",
            "/api/v2/workspaces?q=owner:me+template:agentbox+name:ws&limit=10",
        )
        .await;
    assert_eq!(list["count"], 1);
    let none = api
        .ok(
            "/api/v2/workspaces",
            "/api/v2/workspaces?q=name:%22other%22",
        )
        .await;
    assert_eq!(none["count"], 0);
    api.ok(
        "/api/v2/workspacebuilds/{workspacebuild}",
        &format!("/api/v2/workspacebuilds/{build_id}"),
    )
    .await;
    let logs = api
        .ok(
            "/api/v2/workspacebuilds/{workspacebuild}/logs",
            &format!("/api/v2/workspacebuilds/{build_id}/logs"),
        )
        .await;
    assert!(logs.as_array().unwrap().len() > 3, "{logs:#}");
    let values = api
        .ok(
            "/api/v2/workspacebuilds/{workspacebuild}/parameters",
            &format!("/api/v2/workspacebuilds/{build_id}/parameters"),
        )
        .await;
    assert!(
        values
            .as_array()
            .unwrap()
            .contains(&json!({"name": "cpu", "value": "4"})),
        "{values:#}"
    );
    api.ok(
        "/api/v2/workspaceagents/{workspaceagent}",
        &format!("/api/v2/workspaceagents/{agent_id}"),
    )
    .await;
    let startup = api
        .ok(
            "/api/v2/workspaceagents/{workspaceagent}/logs",
            &format!("/api/v2/workspaceagents/{agent_id}/logs"),
        )
        .await;
    assert_eq!(
        startup[1]["output"], "The startup script finished",
        "{startup:#}"
    );
    let (status, _) = api
        .call(
            Method::PUT,
            "/api/v2/workspaces/{workspace}/ttl",
            &format!("/api/v2/workspaces/{ws_id}/ttl"),
            Some(json!({"ttl_ms": 3_600_000})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = api
        .call(
            Method::PUT,
            "/api/v2/workspaces/{workspace}/autostart",
            &format!("/api/v2/workspaces/{ws_id}/autostart"),
            Some(json!({"schedule": "CRON_TZ=UTC 30 9 * * 1-5"})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Files written in the sandbox persist across stop and start.
    let local = coderd.local_workspace(ws_id.parse().unwrap()).unwrap();
    let exec = coderd.local_provider().executor(&local).await.unwrap();
    exec.write_bytes("/projects/kept.txt", b"still here".to_vec())
        .await
        .unwrap();

    let (status, stop) = api.build(&ws_id, "stop").await;
    assert_eq!(status, StatusCode::CREATED, "{stop:#}");
    let seen = watch_until(&mut watch, api.schema, |w| state(w) == "stopped").await;
    // (The TTL and autostart changes were published first.)
    assert!(
        distinct(&seen).ends_with(&["pending".into(), "stopping".into(), "stopped".into()]),
        "{seen:#?}"
    );
    let (status, _) = api.build(&ws_id, "start").await;
    assert_eq!(status, StatusCode::CREATED);
    watch_until(&mut watch, api.schema, ready).await;
    let exec = coderd.local_provider().executor(&local).await.unwrap();
    let kept = exec
        .exec_ok(ExecRequest::new(["cat", "/projects/kept.txt"]))
        .await
        .unwrap();
    assert_eq!(kept.stdout_text(), "still here");

    // Delete: the workspace is gone (410 by id, 404 by name, out of lists), files removed.
    let (status, _) = api.build(&ws_id, "delete").await;
    assert_eq!(status, StatusCode::CREATED);
    watch_until(&mut watch, api.schema, |w| state(w) == "deleted").await;
    let (status, body) = api
        .get(
            "/api/v2/workspaces/{workspace}",
            &format!("/api/v2/workspaces/{ws_id}"),
        )
        .await;
    assert_eq!(status, StatusCode::GONE, "{body:#}");
    let deleted = api
        .ok(
            "/api/v2/workspaces/{workspace}",
            &format!("/api/v2/workspaces/{ws_id}?include_deleted=true"),
        )
        .await;
    assert_eq!(deleted["latest_build"]["status"], "deleted");
    let (status, _) = api
        .get(
            "/api/v2/users/{user}/workspace/{workspacename}",
            "/api/v2/users/me/workspace/ws-1",
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        api.ok("/api/v2/workspaces", "/api/v2/workspaces").await["count"],
        0
    );
    assert!(coderd.local_provider().status(&local).await.is_err());

    // Not found and malformed ids.
    let (status, _) = api
        .get(
            "/api/v2/workspaces/{workspace}",
            &format!("/api/v2/workspaces/{}", uuid_like()),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = api
        .get(
            "/api/v2/workspaces/{workspace}",
            "/api/v2/workspaces/not-a-uuid",
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["message"], "Invalid UUID \"not-a-uuid\".");

    assert_eq!(coderd.counters().requests("POST", CREATE), 3);
    assert_eq!(coderd.counters().websockets_opened(), 1);
    assert_eq!(coderd.schema_violations(), Vec::<String>::new());
    coderd.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_while_another_is_active_is_refused_with_409() {
    let coderd = FakeCoderd::builder().start().await.unwrap();
    let api = Api::new(&coderd);
    let hold = coderd.faults().hold_builds();
    let ws_id = id(&api.create("busy", json!([])).await);
    let mut watch = api
        .ws(&format!("/api/v2/workspaces/{ws_id}/watch-ws"))
        .await;
    watch_until(&mut watch, api.schema, |w| state(w) == "starting").await;
    let (status, body) = api.build(&ws_id, "stop").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["message"], "A workspace build is already active.");
    hold.release();
    watch_until(&mut watch, api.schema, |w| state(w).starts_with("running")).await;
    let (status, _) = api.build(&ws_id, "stop").await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(
        coderd.schema_violations().is_empty(),
        "{:#?}",
        coderd.schema_violations()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_build_reports_its_error_and_logs_and_can_be_retried() {
    let coderd = FakeCoderd::builder().start().await.unwrap();
    let api = Api::new(&coderd);
    coderd
        .faults()
        .fail_next_build(vec!["Error: pulling image: manifest unknown".into()]);
    let created = api.create("broken", json!([])).await;
    let ws_id = id(&created);
    let mut watch = api
        .ws(&format!("/api/v2/workspaces/{ws_id}/watch-ws"))
        .await;
    let failed = watch_until(&mut watch, api.schema, |w| state(w) == "failed")
        .await
        .pop()
        .unwrap();
    assert_eq!(failed["latest_build"]["job"]["status"], "failed");
    assert_eq!(
        failed["latest_build"]["job"]["error"],
        "Error: pulling image: manifest unknown"
    );
    let build = failed["latest_build"]["id"].as_str().unwrap();
    let logs = api
        .ok(
            "/api/v2/workspacebuilds/{workspacebuild}/logs",
            &format!("/api/v2/workspacebuilds/{build}/logs"),
        )
        .await;
    assert!(
        logs.as_array()
            .unwrap()
            .iter()
            .any(|l| l["log_level"] == "error"
                && l["output"] == "Error: pulling image: manifest unknown"),
        "{logs:#}"
    );
    let (status, _) = api.build(&ws_id, "start").await;
    assert_eq!(status, StatusCode::CREATED);
    watch_until(&mut watch, api.schema, ready).await;
    assert!(
        coderd.schema_violations().is_empty(),
        "{:#?}",
        coderd.schema_violations()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_whose_startup_failed_reports_start_error() {
    let coderd = FakeCoderd::builder().start().await.unwrap();
    let api = Api::new(&coderd);
    coderd.faults().agent_start_error();
    let ws_id = id(&api.create("script-fails", json!([])).await);
    let mut watch = api
        .ws(&format!("/api/v2/workspaces/{ws_id}/watch-ws"))
        .await;
    let mut seen = watch_until(&mut watch, api.schema, |w| {
        state(w) == "running connected/start_error"
    })
    .await;
    assert!(!seen.iter().any(ready));
    let agent_id = id(&agent(&seen.pop().unwrap()));
    let startup = api
        .ok(
            "/api/v2/workspaceagents/{workspaceagent}/logs",
            &format!("/api/v2/workspaceagents/{agent_id}/logs"),
        )
        .await;
    let last = startup.as_array().unwrap().last().unwrap();
    assert_eq!(last["level"], "error", "{startup:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_required_and_checked() {
    let coderd = FakeCoderd::builder()
        .token("abcdefghij-0123456789012345678901")
        .start()
        .await
        .unwrap();
    let mut api = Api::new(&coderd);
    api.ok("/api/v2/users/{user}", "/api/v2/users/me").await;
    for query in ["?coder_session_token=abcdefghij-0123456789012345678901"] {
        let anonymous = Api {
            token: None,
            ..Api::new(&coderd)
        };
        anonymous
            .ok("/api/v2/users/{user}", &format!("/api/v2/users/me{query}"))
            .await;
    }
    let bearer = reqwest::Client::new()
        .get(format!("{}/api/v2/users/me", coderd.url()))
        .bearer_auth("abcdefghij-0123456789012345678901")
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), StatusCode::OK);

    api.token = None;
    let (status, body) = api.get("/api/v2/users/{user}", "/api/v2/users/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["message"].as_str().unwrap().contains("signed out"),
        "{body:#}"
    );
    api.ok("/api/v2/buildinfo", "/api/v2/buildinfo").await;
    api.token = Some("abcdefghij-wrong".into());
    assert_eq!(
        api.get("/api/v2/users/{user}", "/api/v2/users/me").await.0,
        StatusCode::UNAUTHORIZED
    );

    api.token = Some("abcdefghij-0123456789012345678901".into());
    coderd.faults().reject_tokens(true);
    assert_eq!(
        api.get("/api/v2/users/{user}", "/api/v2/users/me").await.0,
        StatusCode::UNAUTHORIZED
    );
    coderd.faults().reject_tokens(false);
    api.ok("/api/v2/users/{user}", "/api/v2/users/me").await;
    assert_eq!(coderd.counters().requests("GET", "/api/v2/users/{user}"), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pty_echoes_input_translates_newlines_and_closes_when_the_command_exits() {
    let coderd = FakeCoderd::builder().start().await.unwrap();
    let api = Api::new(&coderd);
    let workdir = json!([{"name": "workdir", "value": "/home/coder/src"}]);
    let (_, agent) = running_agent(&api, "terminal", workdir).await;

    let command = "printf 'one\\ntwo\\n'; pwd; head -n1";
    let path = format!(
        "/api/v2/workspaceagents/{agent}/pty?reconnect={}&width=100&height=30&command={}",
        uuid_like(),
        urlencode(command)
    );
    let mut pty = api.ws(&path).await;
    // The command starts in the agent's directory, the template's `workdir`.
    let (out, _) = read_pty(&mut pty, |o| o.contains("/home/coder/src\r\n")).await;
    assert!(out.starts_with("one\r\ntwo\r\n"), "{out:?}");
    pty.send(keys("hello\r")).await.unwrap();
    let (out, end) = read_pty(&mut pty, |_| false).await;
    // The terminal echoes what was typed (with \r\n), then head prints the line.
    assert_eq!(out, "hello\r\nhello\r\n");
    match end {
        Some(Ok(Message::Close(frame))) => assert_eq!(u16::from(frame.unwrap().code), 1000),
        other => panic!("expected a close frame, got {other:?}"),
    }
    assert_eq!(coderd.live_ptys(), 0);

    // A missing reconnect id is refused before the upgrade.
    let (status, body) = api
        .get(
            "/api/v2/workspaceagents/{workspaceagent}/pty",
            &format!("/api/v2/workspaceagents/{agent}/pty"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["validations"][0]["field"], "reconnect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_reattaches_to_the_live_process_and_replays_its_output() {
    let coderd = FakeCoderd::builder().start().await.unwrap();
    let api = Api::new(&coderd);
    let (_, agent) = running_agent(&api, "reattach", json!([])).await;
    let command = "echo \"started $$\"; read line; echo \"got $line\"";
    let path = format!(
        "/api/v2/workspaceagents/{agent}/pty?reconnect={}&command={}",
        uuid_like(),
        urlencode(command)
    );

    // The first connection is dropped after 4 bytes, without a close frame.
    coderd.faults().drop_pty_after(4);
    let mut first = api.ws(&path).await;
    let (partial, end) = read_pty(&mut first, |_| false).await;
    assert_eq!(partial, "star");
    assert!(!matches!(end, Some(Ok(Message::Close(_)))), "{end:?}");

    let mut second = api.ws(&path).await;
    let (replay, _) = read_pty(&mut second, |o| o.contains("\r\n")).await;
    assert!(replay.starts_with("started "), "{replay:?}");
    assert_eq!(coderd.live_ptys(), 1);

    // Dropping every socket leaves the process alive too; a third connection finishes it.
    coderd.faults().drop_websockets_now();
    let (_, end) = read_pty(&mut second, |_| false).await;
    assert!(!matches!(end, Some(Ok(Message::Close(_)))), "{end:?}");
    let mut third = api.ws(&path).await;
    let (again, _) = read_pty(&mut third, |o| o.contains("\r\n")).await;
    assert_eq!(again, replay);
    third.send(keys("x\r")).await.unwrap();
    let (rest, end) = read_pty(&mut third, |_| false).await;
    assert_eq!(rest, "x\r\ngot x\r\n");
    assert!(matches!(end, Some(Ok(Message::Close(_)))), "{end:?}");
    assert_eq!(coderd.counters().websockets_opened(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followed_logs_stream_until_the_job_ends() {
    let coderd = FakeCoderd::builder().start().await.unwrap();
    let api = Api::new(&coderd);
    let hold = coderd.faults().hold_builds();
    let created = api.create("logs", json!([])).await;
    let build = created["latest_build"]["id"].as_str().unwrap().to_owned();
    let mut logs = api
        .ws(&format!("/api/v2/workspacebuilds/{build}/logs?follow=true"))
        .await;
    hold.release();
    let mut ids = Vec::new();
    patient("followed logs", async {
        while let Some(message) = logs.next().await {
            match message.unwrap() {
                Message::Text(text) => {
                    let log: Value = serde_json::from_str(text.as_str()).unwrap();
                    let errors = api
                        .schema
                        .definition_errors("codersdk.ProvisionerJobLog", &log);
                    assert!(errors.is_empty(), "{errors:#?}");
                    ids.push(log["id"].as_i64().unwrap());
                }
                Message::Close(_) => break,
                _ => {}
            }
        }
    })
    .await;
    assert!(
        ids.len() > 3 && ids.windows(2).all(|w| w[0] < w[1]),
        "{ids:?}"
    );
    let build = api
        .ok(
            "/api/v2/workspacebuilds/{workspacebuild}",
            &format!("/api/v2/workspacebuilds/{build}"),
        )
        .await;
    assert_eq!(build["job"]["status"], "succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_build_can_be_canceled() {
    let coderd = FakeCoderd::builder().start().await.unwrap();
    let api = Api::new(&coderd);
    let _hold = coderd.faults().hold_builds();
    let created = api.create("cancel-me", json!([])).await;
    let ws_id = id(&created);
    let build = created["latest_build"]["id"].as_str().unwrap();
    let route = "/api/v2/workspacebuilds/{workspacebuild}/cancel";
    let (status, body) = api
        .call(
            Method::PATCH,
            route,
            &format!("/api/v2/workspacebuilds/{build}/cancel"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body:#}");
    let mut watch = api
        .ws(&format!("/api/v2/workspaces/{ws_id}/watch-ws"))
        .await;
    watch_until(&mut watch, api.schema, |w| state(w) == "canceled").await;
    let (status, _) = api
        .call(
            Method::PATCH,
            route,
            &format!("/api/v2/workspacebuilds/{build}/cancel"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_watch_ws_the_sse_watch_still_streams_workspaces() {
    let shared_v2339 = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/specs/coder/v2.33.9/swagger.json");
    // v2.33.9's document when it is beside the repository, else the vendored one.
    let older = std::fs::read_to_string(&shared_v2339)
        .ok()
        .map(|text| Arc::new(CoderApiSchema::from_swagger(&text).unwrap()));
    let mut builder = FakeCoderd::builder()
        .version("v2.33.9+355536e")
        .without_watch_ws()
        .heartbeat(Duration::from_millis(50))
        .template(
            FakeTemplate::new("plain").parameter(FakeParameter::bool("gpu").default_value("false")),
        );
    if let Some(schema) = &older {
        builder = builder.schema(schema.clone());
    }
    let coderd = builder.start().await.unwrap();
    let schema: &CoderApiSchema = match &older {
        Some(schema) => schema,
        None => CoderApiSchema::vendored(),
    };
    let api = Api::with_schema(&coderd, schema);
    let info = api.ok("/api/v2/buildinfo", "/api/v2/buildinfo").await;
    assert_eq!(info["version"], "v2.33.9+355536e");
    let ws_id = id(&api.create("sse", json!([])).await);
    let (status, body) = api
        .get(
            "/api/v2/workspaces/{workspace}/watch-ws",
            &format!("/api/v2/workspaces/{ws_id}/watch-ws"),
        )
        .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (StatusCode::NOT_FOUND, Some("Route not found."))
    );

    let response = reqwest::Client::new()
        .get(format!("{}/api/v2/workspaces/{ws_id}/watch", coderd.url()))
        .header("Coder-Session-Token", coderd.token().expose_secret())
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.bytes_stream();
    let mut text = String::new();
    let mut kinds = Vec::new();
    patient("SSE frames", async {
        while let Some(chunk) = body.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            while let Some(end) = text.find("\n\n") {
                let frame: String = text.drain(..end + 2).collect();
                let kind = frame
                    .lines()
                    .next()
                    .unwrap()
                    .strip_prefix("event: ")
                    .unwrap()
                    .to_owned();
                if let Some(data) = frame.lines().find_map(|l| l.strip_prefix("data: ")) {
                    let workspace: Value = serde_json::from_str(data).unwrap();
                    let errors = schema.definition_errors("codersdk.Workspace", &workspace);
                    assert!(errors.is_empty(), "{errors:#?}");
                    if ready(&workspace) {
                        kinds.push(kind);
                        return;
                    }
                }
                kinds.push(kind);
            }
        }
    })
    .await;
    assert_eq!(kinds[0], "ping");
    assert_eq!(kinds[1], "data");
    assert_eq!(kinds.last().map(String::as_str), Some("data"));
    assert!(
        coderd.schema_violations().is_empty(),
        "{:#?}",
        coderd.schema_violations()
    );
}
