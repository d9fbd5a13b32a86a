//! `OpenAiCompatibleClient` against the fake model server.

mod common;

use agentbox_copilot::{CopilotError, OpenAiCompatibleClient, RetryPolicy};
use agentbox_core::ModelClient;
use agentbox_core::evidence::EvidenceEvent;
use agentbox_core::model::{
    ChatChunk, ChatMessage, ChatRequest, FinishReason, ToolChoice, ToolSpec, Usage,
};
use agentbox_testkit::model_server::{FakeModelServer, Reply, ScriptedToolCall, StreamGate};
use common::*;
use futures::StreamExt;
use secrecy::SecretString;
use serde_json::json;
use std::time::Duration;

async fn server() -> FakeModelServer {
    FakeModelServer::builder()
        .api_key("sk-test")
        .start()
        .await
        .expect("start fake")
}

fn client(server: &FakeModelServer) -> OpenAiCompatibleClient {
    OpenAiCompatibleClient::builder(server.base_url(), "gpt-test")
        .api_key(SecretString::from("sk-test"))
        .retry(fast_retries())
        .build()
        .expect("client")
}

fn tool_request() -> ChatRequest {
    ChatRequest {
        messages: vec![
            ChatMessage::system("You are terse."),
            ChatMessage::user("list files"),
        ],
        tools: vec![ToolSpec {
            name: "list_files".into(),
            description: "List files in a directory".into(),
            parameters: json!({"type": "object", "properties": {"dir": {"type": "string"}}}),
        }],
        tool_choice: Some(ToolChoice::Auto),
        temperature: Some(0.0),
        max_tokens: Some(256),
    }
}

#[tokio::test]
async fn chat_returns_text_usage_and_finish_reason() {
    let server = server().await;
    server.enqueue(Reply::text("Hello there.").with_usage(12, 3));
    let response = client(&server).chat(ask("hi")).await.unwrap();
    assert_eq!(response.message.content.as_deref(), Some("Hello there."));
    assert_eq!(response.finish_reason, FinishReason::Stop);
    assert_eq!(
        response.usage,
        Some(Usage {
            prompt_tokens: 12,
            completion_tokens: 3
        })
    );
    assert_eq!(response.model, "gpt-test");
    assert_wire_format_valid(&server);
}

#[tokio::test]
async fn requests_carry_the_api_key_and_extra_headers_and_validate_against_the_schema() {
    let server = server().await;
    server.enqueue(Reply::text("ok"));
    let client = OpenAiCompatibleClient::builder(server.base_url(), "gpt-test")
        .api_key(SecretString::from("sk-test"))
        .header("OpenAI-Organization", "org-1")
        .build()
        .unwrap();
    client.chat(tool_request()).await.unwrap();
    let requests = server.chat_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].header("authorization"), Some("Bearer sk-test"));
    assert_eq!(requests[0].header("openai-organization"), Some("org-1"));
    assert_eq!(
        requests[0].body["tools"][0]["function"]["name"],
        "list_files"
    );
    assert_eq!(requests[0].body["stream"], false);
    assert_wire_format_valid(&server);
}

#[tokio::test]
async fn a_tool_call_round_trip_validates_against_the_schema() {
    let server = server().await;
    server.enqueue(Reply::tool_call("call_7", "list_files", r#"{"dir":"src"}"#));
    server.enqueue(Reply::text("There is main.rs."));
    let client = client(&server);
    let mut request = tool_request();
    let first = client.chat(request.clone()).await.unwrap();
    assert_eq!(first.finish_reason, FinishReason::ToolCalls);
    let call = first.message.tool_calls[0].clone();
    assert_eq!(
        (
            call.id.as_str(),
            call.name.as_str(),
            call.arguments.as_str()
        ),
        ("call_7", "list_files", r#"{"dir":"src"}"#)
    );

    request.messages.push(first.message);
    request.messages.push(ChatMessage::tool(call.id, "main.rs"));
    let second = client.chat(request).await.unwrap();
    assert_eq!(second.message.content.as_deref(), Some("There is main.rs."));
    let sent = &server.chat_requests()[1].body;
    assert_eq!(sent["messages"][2]["tool_calls"][0]["id"], "call_7");
    assert_eq!(
        sent["messages"][3],
        json!({"role": "tool", "content": "main.rs", "tool_call_id": "call_7"})
    );
    assert_wire_format_valid(&server);
}

#[tokio::test]
async fn streaming_reassembles_tool_calls_from_many_small_deltas() {
    let server = server().await;
    let calls = [
        ScriptedToolCall {
            id: "call_a".into(),
            name: "read_file".into(),
            arguments: r#"{"path":"src/lib.rs","max_lines":200}"#.into(),
        },
        ScriptedToolCall {
            id: "call_b".into(),
            name: "grep".into(),
            arguments: r#"{"pattern":"fn main","dir":"."}"#.into(),
        },
    ];
    server.enqueue(
        Reply::tool_calls(calls.clone())
            .with_text("Let me look.")
            .chunked(1),
    );
    let stream = client(&server).chat_stream(tool_request()).await.unwrap();
    let (texts, response) = collect(stream).await;
    let response = response.unwrap();

    assert_eq!(texts.concat(), "Let me look.");
    assert_eq!(
        texts.len(),
        "Let me look.".len(),
        "one Text chunk per one-character delta"
    );
    let got: Vec<_> = response
        .message
        .tool_calls
        .iter()
        .map(|c| (c.id.clone(), c.name.clone(), c.arguments.clone()))
        .collect();
    let want: Vec<_> = calls
        .iter()
        .map(|c| (c.id.clone(), c.name.clone(), c.arguments.clone()))
        .collect();
    assert_eq!(got, want);
    assert_eq!(response.finish_reason, FinishReason::ToolCalls);
    assert_eq!(response.message.content.as_deref(), Some("Let me look."));
    assert_eq!(
        response.usage,
        Some(Usage {
            prompt_tokens: 10,
            completion_tokens: 5
        })
    );
    let sent = &server.chat_requests()[0].body;
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["stream_options"], json!({"include_usage": true}));
    assert_wire_format_valid(&server);
}

#[tokio::test]
async fn a_slow_stream_delivers_chunks_as_they_arrive() {
    let server = server().await;
    let gate = StreamGate::new();
    // Events: role, "first ", "half", then the gate, then the rest.
    server.enqueue(
        Reply::text("first half, second half")
            .chunked(6)
            .pause_after_events(2, &gate),
    );
    let mut stream = client(&server).chat_stream(ask("go")).await.unwrap();

    // The server holds everything after the gate; this chunk can only arrive if the client
    // passes chunks on as they come.
    let first = guarded(stream.next()).await.unwrap().unwrap();
    assert_eq!(first, ChatChunk::Text("first ".into()));

    gate.open();
    let (rest, response) = collect(stream).await;
    assert_eq!(
        format!("first {}", rest.concat()),
        "first half, second half"
    );
    assert_eq!(
        response.unwrap().message.content.as_deref(),
        Some("first half, second half")
    );
}

#[tokio::test]
async fn a_connection_dropped_mid_stream_is_a_typed_error() {
    let server = server().await;
    server.enqueue(
        Reply::text("this answer will not finish")
            .chunked(4)
            .drop_after_events(2),
    );
    let sink = sink();
    let client = OpenAiCompatibleClient::builder(server.base_url(), "gpt-test")
        .api_key(SecretString::from("sk-test"))
        .evidence(sink.clone())
        .build()
        .unwrap();
    let stream = client.chat_stream(ask("go")).await.unwrap();
    let (texts, result) = collect(stream).await;
    assert_eq!(texts.concat(), "this", "text before the drop is delivered");
    let error = result.unwrap_err();
    assert!(
        matches!(
            copilot_error(&error),
            CopilotError::StreamInterrupted { events: 2, .. }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("broke off"), "{error}");
    assert_eq!(
        server.chat_requests().len(),
        1,
        "a broken stream is not retried"
    );
    assert!(
        matches!(&events(&sink)[..], [EvidenceEvent::Note { message }] if message.contains("failed"))
    );
}

#[tokio::test]
async fn a_429_with_retry_after_is_honoured_then_succeeds() {
    let server = server().await;
    server.enqueue(Reply::status(429).with_retry_after("1"));
    server.enqueue(Reply::text("finally"));
    let sink = sink();
    let client = OpenAiCompatibleClient::builder(server.base_url(), "gpt-test")
        .api_key(SecretString::from("sk-test"))
        .retry(fast_retries())
        .evidence(sink.clone())
        .build()
        .unwrap();
    let response = guarded(client.chat(ask("hi"))).await.unwrap();
    assert_eq!(response.message.content.as_deref(), Some("finally"));

    let requests = server.chat_requests();
    assert_eq!(requests.len(), 2);
    // The backoff alone would wait at most 10 ms; Retry-After asked for a second.
    let waited = requests[1].received_at - requests[0].received_at;
    assert!(waited >= Duration::from_secs(1), "retried after {waited:?}");
    assert!(
        matches!(
            events(&sink)[..],
            [EvidenceEvent::ModelCall { retries: 1, .. }]
        ),
        "{:?}",
        events(&sink)
    );
}

#[tokio::test]
async fn a_500_is_retried() {
    let server = server().await;
    server.enqueue(Reply::status(500));
    server.enqueue(Reply::status(503));
    server.enqueue(Reply::text("recovered"));
    let response = client(&server).chat(ask("hi")).await.unwrap();
    assert_eq!(response.message.content.as_deref(), Some("recovered"));
    assert_eq!(server.chat_requests().len(), 3);
}

#[tokio::test]
async fn retries_give_up_after_the_cap_with_the_last_status() {
    let server = server().await;
    server.set_fallback(Some(Reply::status(502)));
    let client = OpenAiCompatibleClient::builder(server.base_url(), "gpt-test")
        .api_key(SecretString::from("sk-test"))
        .retry(fast_retries().with_max_retries(2))
        .build()
        .unwrap();
    let error = client.chat(ask("hi")).await.unwrap_err();
    let inner = copilot_error(&error);
    assert_eq!(inner.status().map(|s| s.as_u16()), Some(502));
    assert_eq!(inner.retries(), 2);
    assert_eq!(server.chat_requests().len(), 3);
}

#[tokio::test]
async fn client_errors_400_401_403_are_not_retried() {
    for status in [400u16, 401, 403] {
        let server = server().await;
        server.set_fallback(Some(Reply::status(status)));
        let error = client(&server).chat(ask("hi")).await.unwrap_err();
        assert_eq!(
            copilot_error(&error).status().map(|s| s.as_u16()),
            Some(status)
        );
        assert_eq!(
            server.chat_requests().len(),
            1,
            "status {status} was retried"
        );
        let text = error.to_string();
        assert!(
            text.contains(&status.to_string()) && text.contains("after 0 retries"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn a_wrong_api_key_is_rejected_without_showing_the_key() {
    let server = server().await;
    let client = OpenAiCompatibleClient::builder(server.base_url(), "gpt-test")
        .api_key(SecretString::from("sk-wrong-and-secret"))
        .build()
        .unwrap();
    let error = client.chat(ask("hi")).await.unwrap_err();
    assert_eq!(
        copilot_error(&error).status().map(|s| s.as_u16()),
        Some(401)
    );
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains("sk-wrong-and-secret"), "{shown}");
}

#[tokio::test]
async fn an_unreachable_server_is_a_transport_error_after_retries() {
    // Bind and drop a listener, so the port is (almost certainly) closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = OpenAiCompatibleClient::builder(format!("http://127.0.0.1:{port}"), "m")
        .retry(fast_retries().with_max_retries(1))
        .build()
        .unwrap();
    let error = guarded(client.chat(ask("hi"))).await.unwrap_err();
    assert!(
        matches!(
            copilot_error(&error),
            CopilotError::Transport {
                retries: 1,
                kind: "connection failed",
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn each_call_records_one_model_call_event() {
    let server = server().await;
    server.enqueue(Reply::text("one").with_usage(7, 2));
    server.enqueue(Reply::text("two").with_usage(9, 4));
    let sink = sink();
    let client = OpenAiCompatibleClient::builder(server.base_url(), "gpt-test")
        .api_key(SecretString::from("sk-test"))
        .evidence(sink.clone())
        .build()
        .unwrap();
    client.chat(ask("first")).await.unwrap();
    let (_, done) = collect(client.chat_stream(ask("second")).await.unwrap()).await;
    done.unwrap();

    let recorded = events(&sink);
    assert_eq!(recorded.len(), 2, "{recorded:?}");
    for (event, (prompt, completion)) in recorded.iter().zip([(7, 2), (9, 4)]) {
        let EvidenceEvent::ModelCall {
            model,
            prompt_tokens,
            completion_tokens,
            retries,
            ..
        } = event
        else {
            panic!("not a model call: {event:?}");
        };
        assert_eq!(
            (model.as_str(), *prompt_tokens, *completion_tokens, *retries),
            ("gpt-test", prompt, completion, 0)
        );
    }
}

#[tokio::test]
async fn without_stream_usage_no_stream_options_are_sent() {
    let server = server().await;
    server.enqueue(Reply::text("ok"));
    let client = OpenAiCompatibleClient::builder(server.base_url(), "gpt-test")
        .api_key(SecretString::from("sk-test"))
        .stream_usage(false)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let (_, done) = collect(client.chat_stream(ask("hi")).await.unwrap()).await;
    assert_eq!(done.unwrap().usage, None);
    assert!(
        server.chat_requests()[0]
            .body
            .get("stream_options")
            .is_none()
    );
}
