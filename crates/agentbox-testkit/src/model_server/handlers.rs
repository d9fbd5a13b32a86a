//! The fake model server's HTTP routes.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

use super::reply::{Envelope, ReplyBody, render_chunks, render_completion, render_error};
use super::{ChatCompletionsSchema, RecordedRequest, Reply, ServerState};

type Shared = State<Arc<ServerState>>;

pub(crate) fn router(state: Arc<ServerState>) -> Router {
    Router::new()
        .route("/chat/completions", post(chat))
        .route("/v1/chat/completions", post(chat))
        .route("/copilot_internal/v2/token", get(token))
        .route("/models", get(models))
        .route("/v1/models", get(models))
        .fallback(not_found)
        .with_state(state)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn record(
    state: &ServerState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Value {
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
    };
    state.lock().requests.push(RecordedRequest {
        method: method.to_string(),
        path: uri.path().to_owned(),
        headers: headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.clone(),
        received_at: Instant::now(),
    });
    body
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(render_error(status.as_u16(), message))).into_response()
}

/// The credential after `scheme ` in the Authorization header.
fn credential<'h>(headers: &'h HeaderMap, scheme: &str) -> Option<&'h str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (given, credential) = value.split_once(' ')?;
    given
        .eq_ignore_ascii_case(scheme)
        .then_some(credential.trim())
}

async fn not_found(
    State(state): Shared,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&state, &method, &uri, &headers, &body);
    error(
        StatusCode::NOT_FOUND,
        &format!("the fake model server has no route {method} {}", uri.path()),
    )
}

async fn models(State(state): Shared, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    record(&state, &method, &uri, &headers, &Bytes::new());
    axum::Json(json!({"object": "list", "data": [
        {"id": "fake-model", "object": "model", "created": 0, "owned_by": "agentbox-testkit"}
    ]}))
    .into_response()
}

async fn token(State(state): Shared, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    record(&state, &method, &uri, &headers, &Bytes::new());
    let mut inner = state.lock();
    if let Some(status) = inner.exchange_failure {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (
            status,
            axum::Json(json!({"message": "fake token exchange failure"})),
        )
            .into_response();
    }
    if let Some(expected) = &state.settings.oauth_token
        && credential(&headers, "token") != Some(expected.as_str())
    {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"message": "Bad credentials"})),
        )
            .into_response();
    }
    inner.exchanges += 1;
    let token = format!("fake-copilot-token-{}", inner.exchanges);
    let lifetime = state.settings.token_lifetime;
    inner
        .tokens
        .insert(token.clone(), SystemTime::now() + lifetime);
    axum::Json(json!({
        "token": token,
        "expires_at": unix_now() + lifetime.as_secs(),
        "refresh_in": lifetime.as_secs().saturating_sub(60),
        "endpoints": {"api": state.settings.api_endpoint.as_deref().unwrap_or(&state.base_url)},
    }))
    .into_response()
}

/// Why a chat request's credentials are refused, if they are.
fn refusal(state: &ServerState, headers: &HeaderMap) -> Option<&'static str> {
    if state.settings.oauth_token.is_some() {
        let Some(token) = credential(headers, "bearer") else {
            return Some("missing bearer token");
        };
        return match state.lock().tokens.get(token) {
            Some(expires) if *expires > SystemTime::now() => None,
            Some(_) => Some("token expired"),
            None => Some("unknown or revoked token"),
        };
    }
    match &state.settings.api_key {
        Some(key) if credential(headers, "bearer") != Some(key.as_str()) => {
            Some("incorrect API key")
        }
        _ => None,
    }
}

async fn chat(
    State(state): Shared,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = record(&state, &method, &uri, &headers, &body);
    let problems = ChatCompletionsSchema::get().request_errors(&request);
    if !problems.is_empty() {
        state
            .lock()
            .violations
            .extend(problems.into_iter().map(|p| format!("request: {p}")));
    }
    if let Some(reason) = refusal(&state, &headers) {
        return error(StatusCode::UNAUTHORIZED, reason);
    }
    let (reply, id) = {
        let mut inner = state.lock();
        inner.next_id += 1;
        let reply = inner.queue.pop_front().or_else(|| inner.fallback.clone());
        (reply, format!("chatcmpl-fake-{}", inner.next_id))
    };
    let Some(reply) = reply else {
        return error(
            StatusCode::BAD_REQUEST,
            "the fake model server has no scripted reply left; enqueue one",
        );
    };
    if let ReplyBody::Status {
        status,
        retry_after,
        message,
    } = &reply.body
    {
        let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = error(status, message);
        if let Some(value) = retry_after
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    let model = request["model"].as_str().unwrap_or("fake-model").to_owned();
    let env = Envelope {
        id: &id,
        created: unix_now(),
        model: &model,
    };
    if request["stream"] == Value::Bool(true) {
        let include_usage = request["stream_options"]["include_usage"] == Value::Bool(true);
        let chunks = render_chunks(&reply, &env, include_usage);
        check(&state, "stream chunk", chunks.iter(), |c| {
            ChatCompletionsSchema::get().stream_chunk_errors(c)
        });
        return stream(reply, chunks);
    }
    match render_completion(&reply.body, &env) {
        Some(completion) => {
            check(&state, "completion", [&completion], |c| {
                ChatCompletionsSchema::get().response_errors(c)
            });
            axum::Json(completion).into_response()
        }
        None => error(StatusCode::INTERNAL_SERVER_ERROR, "unrenderable reply"),
    }
}

fn check<'v>(
    state: &ServerState,
    what: &str,
    values: impl IntoIterator<Item = &'v Value>,
    errors: impl Fn(&Value) -> Vec<String>,
) {
    let problems: Vec<String> = values
        .into_iter()
        .flat_map(|v| {
            errors(v)
                .into_iter()
                .map(move |e| format!("{what} {v}: {e}"))
        })
        .collect();
    state.lock().violations.extend(problems);
}

/// Streams `chunks` as SSE `data:` events, then `data: [DONE]`, honouring the reply's
/// pause and drop knobs.
fn stream(reply: Reply, chunks: Vec<Value>) -> Response {
    let (tx, mut rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    tokio::spawn(async move {
        let mut events: Vec<String> = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
        events.push("data: [DONE]\n\n".to_owned());
        for (sent, event) in events.into_iter().enumerate() {
            if reply.drop_after == Some(sent) {
                let _ = tx
                    .send(Err(std::io::Error::other(
                        "fake model server dropped the connection",
                    )))
                    .await;
                return;
            }
            if let Some((after, gate)) = &reply.pause
                && *after == sent
            {
                tokio::select! {
                    _ = gate.wait() => {}
                    _ = tx.closed() => return,
                }
            }
            if tx.send(Ok(Bytes::from(event))).await.is_err() {
                return;
            }
        }
    });
    let body = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(body))
        .unwrap_or_else(|_| {
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "could not build the stream response",
            )
        })
}
