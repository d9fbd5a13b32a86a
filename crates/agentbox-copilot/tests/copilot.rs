//! `CopilotClient` against the fake model server's Copilot mode.

mod common;

use agentbox_copilot::{CopilotClient, CopilotClientBuilder, CopilotError};
use agentbox_core::ModelClient;
use agentbox_core::evidence::{EvidenceEvent, EvidenceSink};
use agentbox_core::model::ChatMessage;
use agentbox_testkit::model_server::{FakeModelServer, Reply};
use common::*;
use secrecy::SecretString;
use std::time::Duration;

const OAUTH: &str = "ghu_fake_oauth_token";

async fn server(token_lifetime: Duration) -> FakeModelServer {
    FakeModelServer::builder()
        .copilot_oauth_token(OAUTH)
        .token_lifetime(token_lifetime)
        .start()
        .await
        .expect("start fake")
}

fn builder(server: &FakeModelServer) -> CopilotClientBuilder {
    CopilotClient::builder(SecretString::from(OAUTH), "gpt-4o")
        .token_url(server.token_url())
        .retry(fast_retries())
}

#[tokio::test]
async fn fifty_concurrent_calls_share_one_token_exchange() {
    let server = server(Duration::from_secs(3600)).await;
    server.set_fallback(Some(Reply::text("ok")));
    let client = builder(&server).build().unwrap();
    let calls = (0..50).map(|i| {
        let client = client.clone();
        tokio::spawn(async move { client.chat(ask(&format!("call {i}"))).await })
    });
    for call in futures::future::join_all(calls).await {
        call.unwrap().unwrap();
    }
    assert_eq!(server.token_exchanges(), 1);
    assert_eq!(server.chat_requests().len(), 50);
}

#[tokio::test]
async fn a_token_inside_the_refresh_skew_is_refreshed_before_use() {
    // Tokens live 60 s; the client refreshes 5 min before expiry, so every call needs a new one.
    let server = server(Duration::from_secs(60)).await;
    server.set_fallback(Some(Reply::text("ok")));
    let client = builder(&server).build().unwrap();
    client.chat(ask("one")).await.unwrap();
    client.chat(ask("two")).await.unwrap();
    assert_eq!(server.token_exchanges(), 2);
    let bearers: Vec<_> = server
        .chat_requests()
        .iter()
        .map(|r| r.header("authorization").unwrap().to_owned())
        .collect();
    assert_eq!(
        bearers,
        ["Bearer fake-copilot-token-1", "Bearer fake-copilot-token-2"]
    );
}

#[tokio::test]
async fn a_token_outside_the_refresh_skew_is_reused() {
    let server = server(Duration::from_secs(60)).await;
    server.set_fallback(Some(Reply::text("ok")));
    let client = builder(&server)
        .refresh_skew(Duration::from_secs(10))
        .build()
        .unwrap();
    client.chat(ask("one")).await.unwrap();
    client.chat(ask("two")).await.unwrap();
    assert_eq!(server.token_exchanges(), 1);
}

#[tokio::test]
async fn a_401_with_a_cached_token_refreshes_it_once_and_retries() {
    let server = server(Duration::from_secs(3600)).await;
    server.set_fallback(Some(Reply::text("ok")));
    let sink = sink();
    let client = builder(&server).evidence(sink.clone()).build().unwrap();
    client.chat(ask("one")).await.unwrap();
    server.revoke_tokens();
    client.chat(ask("two")).await.unwrap();

    assert_eq!(server.token_exchanges(), 2);
    let bearers: Vec<_> = server
        .chat_requests()
        .iter()
        .map(|r| r.header("authorization").unwrap().to_owned())
        .collect();
    assert_eq!(
        bearers,
        [
            "Bearer fake-copilot-token-1",
            "Bearer fake-copilot-token-1",
            "Bearer fake-copilot-token-2"
        ]
    );
    assert!(
        matches!(
            events(&sink)[1],
            EvidenceEvent::ModelCall { retries: 1, .. }
        ),
        "{:?}",
        events(&sink)
    );
}

#[tokio::test]
async fn a_401_that_persists_after_a_refresh_is_returned() {
    let server = server(Duration::from_secs(3600)).await;
    server.set_fallback(Some(Reply::status(401)));
    let error = builder(&server)
        .build()
        .unwrap()
        .chat(ask("hi"))
        .await
        .unwrap_err();
    assert_eq!(
        copilot_error(&error).status().map(|s| s.as_u16()),
        Some(401)
    );
    assert_eq!(
        server.chat_requests().len(),
        2,
        "one retry with a fresh token, no more"
    );
    assert_eq!(server.token_exchanges(), 2);
}

#[tokio::test]
async fn chat_requests_carry_copilot_headers() {
    let server = server(Duration::from_secs(3600)).await;
    server.set_fallback(Some(Reply::text("ok")));
    let client = builder(&server)
        .editor_version("vscode/1.95.0")
        .editor_plugin_version("copilot-chat/0.26.7")
        .build()
        .unwrap();
    client.chat(ask("hello")).await.unwrap();
    let mut request = ask("hello");
    request.messages.push(ChatMessage::tool("call_1", "done"));
    client.chat(request).await.unwrap();

    let exchange = &server.requests()[0];
    assert_eq!(exchange.path, "/copilot_internal/v2/token");
    assert_eq!(
        exchange.header("authorization"),
        Some("token ghu_fake_oauth_token")
    );
    assert_eq!(exchange.header("editor-version"), Some("vscode/1.95.0"));

    let chats = server.chat_requests();
    for chat in &chats {
        assert_eq!(chat.path, "/chat/completions");
        assert_eq!(
            chat.header("authorization"),
            Some("Bearer fake-copilot-token-1")
        );
        assert_eq!(chat.header("copilot-integration-id"), Some("vscode-chat"));
        assert_eq!(chat.header("editor-version"), Some("vscode/1.95.0"));
        assert_eq!(
            chat.header("editor-plugin-version"),
            Some("copilot-chat/0.26.7")
        );
        assert_eq!(chat.body["model"], "gpt-4o");
    }
    assert_eq!(chats[0].header("x-initiator"), Some("user"));
    assert_eq!(
        chats[1].header("x-initiator"),
        Some("agent"),
        "the last message is a tool result"
    );
    assert_wire_format_valid(&server);
}

#[tokio::test]
async fn a_rejected_token_exchange_says_what_it_means_and_is_not_retried() {
    let server = server(Duration::from_secs(3600)).await;
    server.fail_token_exchange(Some(401));
    let error = builder(&server)
        .build()
        .unwrap()
        .chat(ask("hi"))
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("Copilot token exchange")
            && text.contains("returned 401")
            && text.contains("no Copilot entitlement"),
        "{text}"
    );
    assert!(matches!(
        copilot_error(&error),
        CopilotError::TokenExchange { .. }
    ));
    assert_eq!(server.requests().len(), 1);
    assert!(server.chat_requests().is_empty());
}

#[tokio::test]
async fn a_token_exchange_server_error_is_retried() {
    let server = server(Duration::from_secs(3600)).await;
    server.set_fallback(Some(Reply::text("ok")));
    server.fail_token_exchange(Some(503));
    let client = builder(&server).build().unwrap();
    let error = client.chat(ask("hi")).await.unwrap_err();
    let exchanges_tried = server.requests().len();
    assert!(exchanges_tried > 1, "a 503 from the exchange is retried");
    assert_eq!(
        copilot_error(&error).status().map(|s| s.as_u16()),
        Some(503)
    );

    server.fail_token_exchange(None);
    client.chat(ask("again")).await.unwrap();
}

#[tokio::test]
async fn tokens_never_appear_in_errors_debug_or_evidence() {
    let server = server(Duration::from_secs(3600)).await;
    server.enqueue(Reply::text("ok"));
    server.enqueue(Reply::status(400));
    let sink = sink();
    let client = builder(&server).evidence(sink.clone()).build().unwrap();
    client.chat(ask("hi")).await.unwrap();
    let error = client.chat(ask("hi")).await.unwrap_err();

    let mut shown = format!("{error} {error:?} {client:?}");
    for event in sink.events() {
        shown.push_str(&serde_json::to_string(&event).unwrap());
    }
    for secret in [OAUTH, "fake-copilot-token-1"] {
        assert!(!shown.contains(secret), "{secret} leaked: {shown}");
        // The client registered its credentials with the sink's redactor.
        assert!(
            !sink
                .redactor()
                .redact(&format!("x {secret} y"))
                .contains(secret)
        );
    }
}

#[tokio::test]
async fn chat_goes_to_the_api_endpoint_the_exchange_names() {
    let chat_server = FakeModelServer::start().await.unwrap();
    chat_server.enqueue(Reply::text("from the named endpoint"));
    let token_server = FakeModelServer::builder()
        .copilot_oauth_token(OAUTH)
        .api_endpoint(chat_server.base_url())
        .start()
        .await
        .unwrap();
    let client = CopilotClient::builder(SecretString::from(OAUTH), "gpt-4o")
        .token_url(token_server.token_url())
        .build()
        .unwrap();
    let response = client.chat(ask("hi")).await.unwrap();
    assert_eq!(
        response.message.content.as_deref(),
        Some("from the named endpoint")
    );
    assert!(token_server.chat_requests().is_empty());
    assert_eq!(
        chat_server.chat_requests()[0].header("authorization"),
        Some("Bearer fake-copilot-token-1")
    );
}
