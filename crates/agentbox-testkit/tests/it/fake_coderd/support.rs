//! A Coder client for the fake coderd's tests: every JSON answer is checked against a swagger
//! document, WebSockets are authenticated, and waits are bounded.

use std::time::Duration;

use agentbox_testkit::coder::{CoderApiSchema, FakeCoderd};
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// A bound on every wait, so a broken fake fails the test instead of hanging it.
pub const PATIENCE: Duration = Duration::from_secs(30);

pub const CREATE: &str = "/api/v2/organizations/{organization}/members/{user}/workspaces";

pub type Ws = WebSocketStream<TcpStream>;

/// A client that checks every JSON answer against a swagger document.
pub struct Api<'a> {
    pub coderd: &'a FakeCoderd,
    pub http: reqwest::Client,
    pub schema: &'a CoderApiSchema,
    pub token: Option<String>,
}

impl<'a> Api<'a> {
    pub fn new(coderd: &'a FakeCoderd) -> Self {
        Self::with_schema(coderd, CoderApiSchema::vendored())
    }

    pub fn with_schema(coderd: &'a FakeCoderd, schema: &'a CoderApiSchema) -> Self {
        Self {
            coderd,
            http: reqwest::Client::new(),
            schema,
            token: Some(coderd.token().expose_secret().to_owned()),
        }
    }

    /// `method` on `path` (route template `route`), with an optional JSON body.
    pub async fn call(
        &self,
        method: Method,
        route: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.coderd.url()));
        if let Some(token) = &self.token {
            request = request.header("Coder-Session-Token", token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the fake answers");
        let status = response.status();
        let text = response.text().await.expect("a body");
        if status == StatusCode::NO_CONTENT {
            assert!(text.is_empty(), "204 with a body: {text}");
            return (status, Value::Null);
        }
        let value: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!("{method} {path} answered {status} with non-JSON {text:?}: {e}")
        });
        let errors = self
            .schema
            .response_errors(method.as_str(), route, status.as_u16(), &value);
        assert!(
            errors.is_empty(),
            "{method} {path} ({status}): {errors:#?}\n{value:#}"
        );
        (status, value)
    }

    pub async fn get(&self, route: &str, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, route, path, None).await
    }

    pub async fn ok(&self, route: &str, path: &str) -> Value {
        let (status, body) = self.get(route, path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body:#}");
        body
    }

    /// Create a workspace from the default template.
    pub async fn create(&self, name: &str, parameters: Value) -> Value {
        let template = self.coderd.template_id("agentbox").unwrap();
        let (status, body) = self
            .call(
                Method::POST,
                CREATE,
                "/api/v2/organizations/default/members/me/workspaces",
                Some(json!({ "name": name, "template_id": template, "rich_parameter_values": parameters })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body:#}");
        body
    }

    pub async fn build(&self, workspace: &str, transition: &str) -> (StatusCode, Value) {
        self.call(
            Method::POST,
            "/api/v2/workspaces/{workspace}/builds",
            &format!("/api/v2/workspaces/{workspace}/builds"),
            Some(json!({ "transition": transition })),
        )
        .await
    }

    /// A WebSocket to `path_and_query`, authenticated.
    pub async fn ws(&self, path_and_query: &str) -> Ws {
        let stream = TcpStream::connect(self.coderd.addr()).await.unwrap();
        let mut request = format!("ws://{}{path_and_query}", self.coderd.addr())
            .into_client_request()
            .unwrap();
        request.headers_mut().insert(
            "Coder-Session-Token",
            self.coderd.token().expose_secret().parse().unwrap(),
        );
        tokio_tungstenite::client_async(request, stream)
            .await
            .unwrap_or_else(|e| panic!("WebSocket to {path_and_query}: {e}"))
            .0
    }
}

pub async fn patient<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, f)
        .await
        .unwrap_or_else(|_| panic!("gave up waiting for {what}"))
}

pub fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

pub fn agent(workspace: &Value) -> Value {
    workspace["latest_build"]["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["agents"].as_array().into_iter().flatten())
        .next()
        .cloned()
        .unwrap_or(Value::Null)
}

/// A one-line summary of a workspace's state: build status, then agent status/lifecycle.
pub fn state(workspace: &Value) -> String {
    let a = agent(workspace);
    let mut s = workspace["latest_build"]["status"]
        .as_str()
        .unwrap()
        .to_owned();
    if !a.is_null() {
        s += &format!(
            " {}/{}",
            a["status"].as_str().unwrap(),
            a["lifecycle_state"].as_str().unwrap()
        );
    }
    s
}

/// The workspaces a watch-ws socket sends until one satisfies `done`, each checked against the
/// schema; the first event must be a ping.
pub async fn watch_until(
    ws: &mut Ws,
    schema: &CoderApiSchema,
    done: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    let mut seen = Vec::new();
    patient("a watched workspace state", async {
        loop {
            let message = ws
                .next()
                .await
                .expect("the watch stays open")
                .expect("a message");
            let Message::Text(text) = message else {
                continue;
            };
            let event: Value = serde_json::from_str(text.as_str()).unwrap();
            let errors = schema.definition_errors("codersdk.ServerSentEvent", &event);
            assert!(errors.is_empty(), "{errors:#?}");
            match event["type"].as_str() {
                Some("ping") => continue,
                Some("data") => {}
                other => panic!("unexpected event type {other:?}: {event}"),
            }
            let errors = schema.definition_errors("codersdk.Workspace", &event["data"]);
            assert!(errors.is_empty(), "{errors:#?}");
            seen.push(event["data"].clone());
            if done(&event["data"]) {
                return seen;
            }
        }
    })
    .await
}

pub fn ready(w: &Value) -> bool {
    state(w) == "running connected/ready"
}

/// The distinct states in order (a state can be sent twice when an unrelated field changed).
pub fn distinct(seen: &[Value]) -> Vec<String> {
    let mut states: Vec<String> = seen.iter().map(state).collect();
    states.dedup();
    states
}

pub fn uuid_like() -> String {
    "0b6f7c1e-2f0a-4c47-9a86-0e6f3f1f1c2d".to_owned()
}

/// Read binary PTY output until `done` holds for everything read so far, or the socket ends.
pub async fn read_pty(
    ws: &mut Ws,
    done: impl Fn(&str) -> bool,
) -> (String, Option<Result<Message, WsError>>) {
    let mut out = String::new();
    patient("PTY output", async {
        loop {
            let next = ws.next().await;
            match next {
                Some(Ok(Message::Binary(bytes))) => {
                    out.push_str(&String::from_utf8_lossy(&bytes));
                    if done(&out) {
                        return (out, None);
                    }
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                other => return (out, other),
            }
        }
    })
    .await
}

pub fn keys(text: &str) -> Message {
    Message::binary(json!({ "data": text }).to_string().into_bytes())
}

/// Create a workspace with `parameters`, wait until its agent is ready; its id and the agent's.
pub async fn running_agent(api: &Api<'_>, name: &str, parameters: Value) -> (String, String) {
    let ws_id = id(&api.create(name, parameters).await);
    let mut watch = api
        .ws(&format!("/api/v2/workspaces/{ws_id}/watch-ws"))
        .await;
    let running = watch_until(&mut watch, api.schema, ready)
        .await
        .pop()
        .unwrap();
    (ws_id, id(&agent(&running)))
}

pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
