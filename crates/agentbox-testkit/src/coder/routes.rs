//! The router: every route the fake serves under `/api/v2`, session-token authentication,
//! request counting, and the check of every JSON answer against the swagger document.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{MatchedPath, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use secrecy::ExposeSecret;

use super::api::{agents, builds, meta, pty, watch, workspaces};
use super::error::ApiError;
use super::state::Shared;

/// The cookie and query parameter coderd reads a session token from.
const SESSION_COOKIE: &str = "coder_session_token";
const SESSION_HEADER: &str = "Coder-Session-Token";
const SIGNED_OUT: &str =
    "You are signed out or your session has expired. Please sign in again to continue.";
/// Bodies larger than this are not buffered for the schema check.
const CHECK_LIMIT: usize = 16 * 1024 * 1024;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let mut api = Router::new()
        .route("/api/v2/users/{user}", get(meta::user))
        .route(
            "/api/v2/users/{user}/organizations",
            get(meta::user_organizations),
        )
        .route(
            "/api/v2/organizations/{organization}",
            get(meta::organization),
        )
        .route(
            "/api/v2/organizations/{organization}/templates",
            get(meta::organization_templates),
        )
        .route(
            "/api/v2/organizations/{organization}/templates/{templatename}",
            get(meta::template_by_name),
        )
        .route("/api/v2/templates", get(meta::templates))
        .route("/api/v2/templates/{template}", get(meta::template))
        .route(
            "/api/v2/templateversions/{templateversion}",
            get(meta::template_version),
        )
        .route(
            "/api/v2/templateversions/{templateversion}/rich-parameters",
            get(meta::rich_parameters),
        )
        .route(
            "/api/v2/organizations/{organization}/members/{user}/workspaces",
            post(workspaces::create_in_organization),
        )
        .route(
            "/api/v2/users/{user}/workspaces",
            post(workspaces::create_for_user),
        )
        .route("/api/v2/workspaces", get(workspaces::list))
        .route("/api/v2/workspaces/{workspace}", get(workspaces::get))
        .route(
            "/api/v2/users/{user}/workspace/{workspacename}",
            get(workspaces::by_owner_and_name),
        )
        .route(
            "/api/v2/workspaces/{workspace}/ttl",
            put(workspaces::put_ttl),
        )
        .route(
            "/api/v2/workspaces/{workspace}/autostart",
            put(workspaces::put_autostart),
        )
        .route(
            "/api/v2/workspaces/{workspace}/builds",
            post(builds::create).get(builds::list),
        )
        .route(
            "/api/v2/workspaces/{workspace}/watch",
            get(watch::watch_sse),
        )
        .route("/api/v2/workspacebuilds/{workspacebuild}", get(builds::get))
        .route(
            "/api/v2/workspacebuilds/{workspacebuild}/cancel",
            patch(builds::cancel),
        )
        .route(
            "/api/v2/workspacebuilds/{workspacebuild}/logs",
            get(builds::logs),
        )
        .route(
            "/api/v2/workspacebuilds/{workspacebuild}/parameters",
            get(builds::parameters),
        )
        .route(
            "/api/v2/workspaceagents/{workspaceagent}",
            get(agents::agent),
        )
        .route(
            "/api/v2/workspaceagents/{workspaceagent}/logs",
            get(agents::logs),
        )
        .route(
            "/api/v2/workspaceagents/{workspaceagent}/pty",
            get(pty::pty),
        );
    if shared.settings.watch_ws {
        api = api.route(
            "/api/v2/workspaces/{workspace}/watch-ws",
            get(watch::watch_ws),
        );
    }
    let api = api.route_layer(middleware::from_fn_with_state(
        Arc::clone(&shared),
        authenticate,
    ));
    Router::new()
        .route("/api/v2/buildinfo", get(meta::build_info))
        .merge(api)
        .fallback(route_not_found)
        .layer(middleware::from_fn_with_state(Arc::clone(&shared), observe))
        .with_state(shared)
}

/// coderd's answer to a path it has no route for.
async fn route_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "Route not found.")
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn query_param(request: &Request, name: &str) -> Option<String> {
    let Query(mut query) = Query::<HashMap<String, String>>::try_from_uri(request.uri()).ok()?;
    query.remove(name)
}

/// The session token, from where coderd looks, in its order: the cookie, the
/// `coder_session_token` query parameter, the `Coder-Session-Token` header, `Authorization:
/// Bearer`, the `access_token` query parameter.
fn session_token(request: &Request) -> Option<String> {
    let headers = request.headers();
    cookie(headers, SESSION_COOKIE)
        .or_else(|| query_param(request, SESSION_COOKIE))
        .or_else(|| {
            headers
                .get(SESSION_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
        .or_else(|| {
            headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::to_owned)
        })
        .or_else(|| query_param(request, "access_token"))
        .filter(|t| !t.is_empty())
}

async fn authenticate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let unauthorized = |detail: &str| {
        ApiError::new(StatusCode::UNAUTHORIZED, SIGNED_OUT)
            .detail(detail)
            .into_response()
    };
    match session_token(&request) {
        None => unauthorized(&format!(
            "Cookie {SESSION_COOKIE:?} or query parameter must be set."
        )),
        Some(token)
            if shared.faults.rejecting_tokens()
                || token != shared.settings.token.expose_secret() =>
        {
            unauthorized("API key is invalid.")
        }
        Some(_) => next.run(request).await,
    }
}

/// Count the request; check a JSON answer against the swagger document.
async fn observe(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "*".to_owned(), |m| m.as_str().to_owned());
    shared.counters.request(&method, &route);
    let response = next.run(request).await;
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, CHECK_LIMIT).await {
        Ok(bytes) => bytes,
        Err(e) => {
            return ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal error.")
                .detail(e.to_string())
                .into_response();
        }
    };
    let context = format!("{method} {route} {}", parts.status.as_u16());
    let errors = match serde_json::from_slice(&bytes) {
        Ok(value) => {
            shared
                .schema()
                .response_errors(&method, &route, parts.status.as_u16(), &value)
        }
        Err(e) => vec![format!("the body is not JSON: {e}")],
    };
    shared.record_violations(&context, errors);
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_decoded() {
        let request = Request::builder()
            .uri("/x?a=1&coder_session_token=x%2By+z")
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(
            query_param(&request, SESSION_COOKIE).as_deref(),
            Some("x+y z")
        );
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "a=b; coder_session_token=tok".parse().unwrap(),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE).as_deref(), Some("tok"));
    }
}
