//! `GET /api/v1/namespaces/{namespace}/pods/{name}/exec`: the checks the API server and the
//! kubelet make before a WebSocket upgrade, with their status codes and messages, and the
//! choice of the channel subprotocol. The session itself is in `stream.rs`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use ::kube::runtime::reflector::ObjectRef;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

use super::node::Node;
use super::stream::{self, Protocol, Session};

/// The query of an exec request (`PodExecOptions`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ExecOptions {
    pub command: Vec<String>,
    pub container: Option<String>,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
}

impl ExecOptions {
    /// Parse a query string; repeated `command` parameters make the argv. Booleans are read
    /// as Go's `strconv.ParseBool` reads them.
    pub fn parse(query: &str) -> Result<Self, String> {
        let mut options = Self::default();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let flag = || {
                parse_bool(&value)
                    .ok_or_else(|| format!("invalid value {value:?} for query parameter {key:?}"))
            };
            match key.as_ref() {
                "command" => options.command.push(value.into_owned()),
                "container" => {
                    options.container = Some(value.into_owned()).filter(|c| !c.is_empty())
                }
                "stdin" => options.stdin = flag()?,
                "stdout" => options.stdout = flag()?,
                "stderr" => options.stderr = flag()?,
                "tty" => options.tty = flag()?,
                _ => {}
            }
        }
        Ok(options)
    }
}

fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// A `metav1.Status` failure response.
pub(crate) fn status(
    code: StatusCode,
    reason: &str,
    message: String,
    details: Option<Value>,
) -> Response {
    let mut body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    });
    if let Some(details) = details {
        body["details"] = details;
    }
    body["code"] = code.as_u16().into();
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn bad_request(message: String) -> Response {
    status(StatusCode::BAD_REQUEST, "BadRequest", message, None)
}

/// The handler.
pub(super) async fn exec(
    State(node): State<Arc<Node>>,
    Path((namespace, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    node.exec_count.fetch_add(1, Ordering::Relaxed);
    let options = match ExecOptions::parse(query.as_deref().unwrap_or_default()) {
        Ok(options) => options,
        Err(message) => return bad_request(message),
    };
    let Some(pod) = node
        .store
        .get(&ObjectRef::<Pod>::new(&name).within(&namespace))
    else {
        return status(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("pods \"{name}\" not found"),
            Some(json!({ "name": name, "kind": "pods" })),
        );
    };
    let container = match container_name(&pod, &name, options.container.as_deref()) {
        Ok(container) => container,
        Err(message) => return bad_request(message),
    };
    let phase = pod
        .status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_default();
    if phase == "Succeeded" || phase == "Failed" {
        return bad_request(format!(
            "cannot exec into a container in a completed pod; current phase is {phase}"
        ));
    }
    if !(options.stdin || options.stdout || options.stderr) {
        return bad_request("you must specify at least 1 of stdin, stdout, stderr".into());
    }
    if options.command.is_empty() {
        return bad_request("you must specify at least one command for the container".into());
    }
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let running = node
        .pod(&uid)
        .and_then(|runtime| runtime.container(&container).map(|c| (runtime, c)));
    let Some((runtime, running)) = running else {
        // The kubelet answers in plain text here, not with a Status.
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("container not found (\"{container}\")"),
        )
            .into_response();
    };
    let Ok(upgrade) = upgrade else {
        return bad_request("Upgrade request required".into());
    };
    let offered = offered_protocols(&headers);
    let Some(protocol) = Protocol::select(&offered) else {
        return bad_request(format!(
            "requested protocol(s) are not supported: [{}]; supports [{}]",
            offered.join(" "),
            Protocol::SUPPORTED.map(Protocol::as_str).join(" ")
        ));
    };
    let session = Session {
        runtime,
        container: running,
        options,
        cut_after: node.take_exec_cut(),
    };
    let mut upgrade = upgrade;
    upgrade.set_selected_protocol(HeaderValue::from_static(protocol.as_str()));
    upgrade
        .on_upgrade(move |socket| stream::serve(socket, protocol, session))
        .into_response()
}

/// The subprotocols the client offers, in its order of preference.
fn offered_protocols(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

/// The container an exec targets, checked as the API server checks it.
fn container_name(pod: &Pod, name: &str, requested: Option<&str>) -> Result<String, String> {
    let containers = pod
        .spec
        .as_ref()
        .map(|s| s.containers.as_slice())
        .unwrap_or_default();
    match requested {
        Some(container) => {
            if containers.iter().any(|c| c.name == container) {
                Ok(container.to_owned())
            } else {
                Err(format!("container {container} is not valid for pod {name}"))
            }
        }
        None => match containers {
            [only] => Ok(only.name.clone()),
            [] => Err(format!("a container name must be specified for pod {name}")),
            many => Err(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                many.iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_kube_sends_parses() {
        let options =
            ExecOptions::parse("&stdin=true&stdout=true&stderr=true&container=tools&command=sh&command=-c&command=echo+%22a+b%22")
                .unwrap();
        assert_eq!(options.command, ["sh", "-c", "echo \"a b\""]);
        assert_eq!(options.container.as_deref(), Some("tools"));
        assert!(options.stdin && options.stdout && options.stderr && !options.tty);
        assert!(ExecOptions::parse("stdin=maybe").is_err());
    }

    #[test]
    fn containers_are_checked_like_the_api_server() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": { "name": "p" },
            "spec": { "containers": [{ "name": "a" }, { "name": "b" }] }
        }))
        .unwrap();
        assert_eq!(container_name(&pod, "p", Some("b")).unwrap(), "b");
        assert_eq!(
            container_name(&pod, "p", Some("c")).unwrap_err(),
            "container c is not valid for pod p"
        );
        assert_eq!(
            container_name(&pod, "p", None).unwrap_err(),
            "a container name must be specified for pod p, choose one of: [a b]"
        );
    }

    #[test]
    fn offered_protocols_keep_the_clients_order() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("v5.channel.k8s.io, v4.channel.k8s.io"),
        );
        assert_eq!(
            offered_protocols(&headers),
            ["v5.channel.k8s.io", "v4.channel.k8s.io"]
        );
    }
}
