//! Routing: every request goes through [`gate`] (counters, latency, error bursts) and then,
//! unless a merged router claims it, [`dispatch`], which parses the path the way the
//! apiserver's `RequestInfoFactory` does.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, Method, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::Arc;

use super::INTERNAL_USER_AGENT_PREFIX;
use super::call::{Call, ResourcePath};
use super::counters::{Caller, Verb};
use super::discovery::{self, Discovery};
use super::resource::Strategy;
use super::state::ApiState;
use super::status::{ApiError, ApiResult};
use super::{delete, read, watch, write};

/// Subresources of a namespace, rather than namespaced resources (`RequestInfoFactory`).
const NAMESPACE_SUBRESOURCES: &[&str] = &["status", "finalize"];

/// What a path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Discovery(Discovery),
    Resource(ResourcePath),
    Unknown,
}

/// Parse a request path.
pub(crate) fn parse(path: &str) -> Target {
    let parts: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|p| !p.is_empty())
        .collect();
    let (group, version, rest) = match parts.as_slice() {
        ["version"] => return Target::Discovery(Discovery::Version),
        ["healthz" | "livez" | "readyz", ..] => return Target::Discovery(Discovery::Health),
        ["api"] => return Target::Discovery(Discovery::CoreVersions),
        ["apis"] => return Target::Discovery(Discovery::Groups),
        ["apis", group] => return Target::Discovery(Discovery::Group((*group).to_owned())),
        ["api", version] => {
            return Target::Discovery(Discovery::GroupVersion(
                String::new(),
                (*version).to_owned(),
            ));
        }
        ["apis", group, version] => {
            return Target::Discovery(Discovery::GroupVersion(
                (*group).to_owned(),
                (*version).to_owned(),
            ));
        }
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Target::Unknown,
    };
    let mut rest = rest;
    let mut namespace = None;
    if rest.first() == Some(&"namespaces")
        && rest.len() > 2
        && !NAMESPACE_SUBRESOURCES.contains(&rest[2])
    {
        namespace = Some(rest[1].to_owned());
        rest = &rest[2..];
    }
    match rest {
        [plural, more @ ..] if more.len() <= 2 => Target::Resource(ResourcePath {
            group: group.to_owned(),
            version: version.to_owned(),
            plural: (*plural).to_owned(),
            namespace,
            name: more.first().map(|n| (*n).to_owned()),
            subresource: more.get(1).map(|s| (*s).to_owned()),
        }),
        _ => Target::Unknown,
    }
}

fn query_of(uri: &Uri) -> HashMap<String, String> {
    Query::<HashMap<String, String>>::try_from_uri(uri)
        .map(|q| q.0)
        .unwrap_or_default()
}

fn is_watch(query: &HashMap<String, String>) -> bool {
    matches!(query.get("watch").map(String::as_str), Some("true" | "1"))
}

/// The verb and resource a request counts under.
pub(crate) fn classify(method: &Method, uri: &Uri) -> (Verb, String) {
    let by_method = |named: bool| match *method {
        Method::POST => Verb::Create,
        Method::PUT => Verb::Update,
        Method::PATCH => Verb::Patch,
        Method::DELETE if named => Verb::Delete,
        Method::DELETE => Verb::DeleteCollection,
        _ if named => Verb::Get,
        _ if is_watch(&query_of(uri)) => Verb::Watch,
        _ => Verb::List,
    };
    match parse(uri.path()) {
        Target::Resource(path) => {
            let resource = match &path.subresource {
                Some(sub) => format!("{}/{sub}", path.plural),
                None => path.plural.clone(),
            };
            (by_method(path.name.is_some()), resource)
        }
        _ => (by_method(true), uri.path().to_owned()),
    }
}

/// Count the request, and for the client under test apply latency and error bursts.
pub(crate) async fn gate(
    State(state): State<Arc<ApiState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let internal = request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.starts_with(INTERNAL_USER_AGENT_PREFIX));
    let caller = if internal {
        Caller::Internal
    } else {
        Caller::Client
    };
    let (verb, resource) = classify(request.method(), request.uri());
    state.counters.request(caller, verb, &resource);
    request.extensions_mut().insert(caller);
    let response = match caller {
        Caller::Internal => next.run(request).await,
        Caller::Client => {
            let delay = state.faults.take_latency();
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            match state.faults.take_burst(verb) {
                Some((status, retry_after)) => {
                    tracing::debug!(status, %verb, resource, "fake API server: injected error");
                    ApiError::injected(status, retry_after).into_response()
                }
                None => next.run(request).await,
            }
        }
    };
    state.counters.answered(caller, response.status().as_u16());
    response
}

/// The generic apiserver routes (a fallback, so merged routers take precedence).
pub(crate) fn router(state: Arc<ApiState>) -> Router {
    Router::new().fallback(dispatch).with_state(state)
}

async fn dispatch(
    State(state): State<Arc<ApiState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    caller: Option<axum::Extension<Caller>>,
    body: Bytes,
) -> Response {
    let caller = caller.map_or(Caller::Client, |c| c.0);
    match parse(uri.path()) {
        Target::Discovery(path) if method == Method::GET => {
            discovery::serve(&state, &path, &headers)
        }
        Target::Discovery(_) => ApiError::method_not_allowed().into_response(),
        Target::Unknown => ApiError::no_route().into_response(),
        Target::Resource(path) => {
            let kind = state.store().find(&path.group, &path.version, &path.plural);
            let Some(kind) = kind else {
                return ApiError::no_route().into_response();
            };
            let call = Call {
                path,
                kind,
                query: query_of(&uri),
                headers,
                body,
                caller,
            };
            match serve(&state, &call, &method) {
                Ok(response) => response,
                Err(error) => {
                    tracing::debug!(%method, %uri, code = error.code, message = %error.message, "fake API server: refused");
                    error.into_response()
                }
            }
        }
    }
}

fn serve(state: &ApiState, call: &Call, method: &Method) -> ApiResult<Response> {
    let path = &call.path;
    let namespaced = call.kind.namespaced;
    if !namespaced && path.namespace.is_some() {
        return Err(ApiError::no_route());
    }
    if namespaced && path.namespace.is_none() {
        // Across namespaces, only list and watch are served.
        return match (method, &path.name) {
            (&Method::GET, None) if is_watch(&call.query) => watch::watch(state, call),
            (&Method::GET, None) => read::list(state, call).map(IntoResponse::into_response),
            (_, None) => Err(ApiError::method_not_allowed()),
            (_, Some(_)) => Err(ApiError::no_route()),
        };
    }
    let reply = match (method, path.name.is_some(), path.subresource.as_deref()) {
        (&Method::GET, false, None) if is_watch(&call.query) => return watch::watch(state, call),
        (&Method::GET, false, None) => read::list(state, call),
        (&Method::POST, false, None) => write::create(state, call),
        (&Method::DELETE, false, None) => delete::delete_collection(state, call),
        (&Method::GET, true, None) => read::get(state, call),
        (&Method::PUT, true, None) => write::update(state, call, false),
        (&Method::PATCH, true, None) => write::patch(state, call, false),
        (&Method::DELETE, true, None) => delete::delete(state, call),
        (_, true, Some("status")) if call.status_enabled() => match *method {
            Method::GET => read::get(state, call),
            Method::PUT => write::update(state, call, true),
            Method::PATCH => write::patch(state, call, true),
            _ => Err(ApiError::method_not_allowed()),
        },
        (&Method::POST, true, Some("binding")) if call.kind.strategy == Strategy::Pod => {
            write::bind(state, call)
        }
        (_, _, Some(_)) => Err(ApiError::no_route()),
        _ => Err(ApiError::method_not_allowed()),
    };
    reply.map(IntoResponse::into_response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(path: &str) -> ResourcePath {
        match parse(path) {
            Target::Resource(r) => r,
            other => panic!("{path} parsed as {other:?}"),
        }
    }

    #[test]
    fn paths_parse_like_the_apiserver() {
        let dw =
            resource("/apis/workspace.devfile.io/v1alpha2/namespaces/u/devworkspaces/w/status");
        assert_eq!(
            (
                dw.group.as_str(),
                dw.namespace.as_deref(),
                dw.name.as_deref(),
                dw.subresource.as_deref()
            ),
            ("workspace.devfile.io", Some("u"), Some("w"), Some("status"))
        );
        let ns = resource("/api/v1/namespaces/u/status");
        assert_eq!(
            (ns.plural.as_str(), ns.namespace, ns.name.as_deref()),
            ("namespaces", None, Some("u"))
        );
        let all = resource("/api/v1/pods");
        assert_eq!((all.namespace, all.name), (None, None));
        assert_eq!(parse("/apis"), Target::Discovery(Discovery::Groups));
        assert_eq!(parse("/apis/g/v/namespaces/n/x/y/z/extra"), Target::Unknown);
    }

    #[test]
    fn requests_classify_by_apiserver_verbs() {
        let uri = |s: &str| s.parse::<Uri>().unwrap();
        assert_eq!(
            classify(&Method::GET, &uri("/api/v1/namespaces/n/pods?watch=true")),
            (Verb::Watch, "pods".into())
        );
        assert_eq!(
            classify(
                &Method::GET,
                &uri("/api/v1/namespaces/n/pods/p/exec?command=ls")
            ),
            (Verb::Get, "pods/exec".into())
        );
        assert_eq!(
            classify(&Method::DELETE, &uri("/api/v1/namespaces/n/pods")),
            (Verb::DeleteCollection, "pods".into())
        );
        assert_eq!(
            classify(&Method::GET, &uri("/apis")),
            (Verb::Get, "/apis".into())
        );
    }
}
