//! [`CoderClient`]: one pooled HTTP client for coderd's REST API and its WebSockets.
//!
//! Paths are always `/api/v2/...` on the deployment URL. The two OpenAPI files differ only in
//! how they write that down (v2.34.3: `basePath: /` and full paths; v2.33.9:
//! `basePath: /api/v2` and short paths); the server serves `/api/v2/...` in both, so a base
//! URL that already ends in `/api/v2` is accepted and trimmed.

mod api;
mod watch;
mod ws;

pub use watch::WorkspaceWatch;
pub use ws::CoderSocket;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Method, Response, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::OnceCell;

use crate::error::CoderError;
use crate::models::{ApiResponse, BuildInfo};

/// The header coderd reads the session token from.
pub const SESSION_TOKEN_HEADER: &str = "Coder-Session-Token";

/// The oldest coderd this crate talks to.
pub const MINIMUM_VERSION: &str = "v2.0.0";

/// A client of one Coder deployment: its base URL, a session token (sent as
/// `Coder-Session-Token`, never as a cookie: the client keeps no cookie jar) and one pooled
/// HTTP/1.1 client shared by REST calls and WebSocket upgrades, so TLS settings, proxies and
/// the token are the same for both. Cheap to clone.
#[derive(Clone)]
pub struct CoderClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    token: SecretString,
    build_info: OnceCell<BuildInfo>,
    /// Cleared once a server answers 404 to `watch-ws`; later watches use SSE directly.
    watch_ws: AtomicBool,
}

impl fmt::Debug for CoderClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoderClient")
            .field("base", &self.inner.base.as_str())
            .field("token", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

impl CoderClient {
    /// A client of the deployment at `base_url` (e.g. `https://coder.example.com`), with its own
    /// HTTP client (HTTP/1.1 only: WebSocket upgrades need it, and coderd's are HTTP/1.1).
    pub fn new(base_url: &str, token: SecretString) -> Result<Self, CoderError> {
        let http = reqwest::Client::builder()
            .http1_only()
            .user_agent(concat!("agentbox-coder/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CoderError::Config(format!("cannot build the HTTP client: {e}")))?;
        Self::with_http_client(base_url, token, http)
    }

    /// A client using `http` for every request (for custom roots, proxies or timeouts). It must
    /// be able to speak HTTP/1.1 to the deployment (build it with `http1_only()`), because
    /// WebSockets are upgraded from HTTP/1.1 requests; it must not keep cookies.
    pub fn with_http_client(
        base_url: &str,
        token: SecretString,
        http: reqwest::Client,
    ) -> Result<Self, CoderError> {
        let base = normalise_base(base_url)?;
        if token.expose_secret().trim().is_empty() {
            return Err(CoderError::Config(
                "the session token is empty; create one with `coder tokens create`".into(),
            ));
        }
        HeaderValue::from_str(token.expose_secret()).map_err(|_| {
            CoderError::Config("the session token holds characters a header cannot carry".into())
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base,
                token,
                build_info: OnceCell::new(),
                watch_ws: AtomicBool::new(true),
            }),
        })
    }

    /// The deployment's URL, without `/api/v2`.
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// The server's build info, asked once per client; fails when the server is older than
    /// [`MINIMUM_VERSION`].
    pub async fn build_info(&self) -> Result<&BuildInfo, CoderError> {
        self.inner
            .build_info
            .get_or_try_init(|| async {
                let info: BuildInfo = self.get_json(&["buildinfo"], &[]).await?;
                if !version_supported(&info.version) {
                    return Err(CoderError::Version {
                        found: info.version.clone(),
                        minimum: MINIMUM_VERSION,
                    });
                }
                tracing::debug!(version = %info.version, "coderd version");
                Ok(info)
            })
            .await
    }

    /// The URL of `/api/v2/<segments...>`; each segment is escaped.
    pub(crate) fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.inner.base.clone();
        {
            // A base URL is always a hierarchical http(s) URL (checked in `normalise_base`).
            if let Ok(mut path) = url.path_segments_mut() {
                path.pop_if_empty().extend(["api", "v2"]).extend(segments);
            }
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// A request with the session token.
    pub(crate) fn request(&self, method: Method, url: Url) -> reqwest::RequestBuilder {
        let mut token = HeaderValue::from_str(self.inner.token.expose_secret())
            .unwrap_or_else(|_| HeaderValue::from_static(""));
        token.set_sensitive(true);
        self.inner
            .http
            .request(method, url)
            .header(HeaderName::from_static("coder-session-token"), token)
    }

    /// Send a request and fail unless it answered 2xx.
    pub(crate) async fn send(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<Response, CoderError> {
        let url = self.url(segments, query);
        let path = url.path().to_owned();
        let verb = method_name(&method);
        let mut request = self.request(method, url);
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let response = request
            .send()
            .await
            .map_err(|source| CoderError::Transport {
                method: verb,
                path: path.clone(),
                source,
            })?;
        check(verb, &path, response).await
    }

    /// `GET` JSON.
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<T, CoderError> {
        let response = self.send(Method::GET, segments, query, None).await?;
        decode("GET", segments, response).await
    }

    /// `POST` JSON, decode JSON.
    pub(crate) async fn post_json<B: Serialize, T: DeserializeOwned>(
        &self,
        segments: &[&str],
        body: &B,
    ) -> Result<T, CoderError> {
        let what = format!("/api/v2/{}", segments.join("/"));
        let body = serde_json::to_vec(body).map_err(|source| CoderError::Decode {
            what: what.clone(),
            source,
        })?;
        let response = self.send(Method::POST, segments, &[], Some(body)).await?;
        decode("POST", segments, response).await
    }

    pub(crate) fn watch_ws_enabled(&self) -> bool {
        self.inner.watch_ws.load(Ordering::Relaxed)
    }

    pub(crate) fn disable_watch_ws(&self) {
        self.inner.watch_ws.store(false, Ordering::Relaxed);
    }
}

/// `response` if it is 2xx (coderd answers 201 where its OpenAPI file says 200), else
/// [`CoderError::Api`] with the decoded `codersdk.Response` body.
pub(crate) async fn check(
    method: &'static str,
    path: &str,
    response: Response,
) -> Result<Response, CoderError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.bytes().await.unwrap_or_default();
    let response = serde_json::from_slice::<ApiResponse>(&body).unwrap_or_else(|_| ApiResponse {
        message: String::from_utf8_lossy(&body[..body.len().min(500)])
            .trim()
            .to_owned(),
        ..ApiResponse::default()
    });
    Err(CoderError::Api {
        method,
        path: path.to_owned(),
        status: status.as_u16(),
        response,
    })
}

async fn decode<T: DeserializeOwned>(
    method: &'static str,
    segments: &[&str],
    response: Response,
) -> Result<T, CoderError> {
    let what = format!("/api/v2/{}", segments.join("/"));
    let bytes = response
        .bytes()
        .await
        .map_err(|source| CoderError::Transport {
            method,
            path: what.clone(),
            source,
        })?;
    serde_json::from_slice(&bytes).map_err(|source| CoderError::Decode { what, source })
}

fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        _ => "HTTP",
    }
}

/// The deployment URL: http(s), no query, no trailing `/` or `/api/v2`.
fn normalise_base(text: &str) -> Result<Url, CoderError> {
    let mut url = Url::parse(text.trim())
        .map_err(|e| CoderError::Config(format!("`{text}` is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(CoderError::Config(format!(
            "`{text}` must be an http:// or https:// URL"
        )));
    }
    if url.cannot_be_a_base() || url.host().is_none() {
        return Err(CoderError::Config(format!("`{text}` has no host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(CoderError::Config(
            "put no credentials in the URL; pass the session token instead".into(),
        ));
    }
    url.set_query(None);
    url.set_fragment(None);
    let path = url.path().trim_end_matches('/');
    let path = path.strip_suffix("/api/v2").unwrap_or(path).to_owned();
    url.set_path(if path.is_empty() { "/" } else { &path });
    Ok(url)
}

/// Whether `version` (`v2.34.3`, `2.33.9-devel+abc`) is at least [`MINIMUM_VERSION`]. A
/// version that cannot be read (a development build) is accepted.
fn version_supported(version: &str) -> bool {
    let core = version.trim_start_matches('v');
    let major = core.split(['.', '-', '+']).next().unwrap_or("");
    match major.parse::<u64>() {
        Ok(major) => major >= 2,
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base: &str) -> CoderClient {
        CoderClient::new(base, SecretString::from("id-secret")).unwrap()
    }

    #[test]
    fn both_base_path_styles_give_the_same_urls() {
        for base in [
            "https://coder.example.com",
            "https://coder.example.com/",
            "https://coder.example.com/api/v2",
            "https://coder.example.com/api/v2/",
        ] {
            let url = client(base).url(&["users", "me"], &[]);
            assert_eq!(
                url.as_str(),
                "https://coder.example.com/api/v2/users/me",
                "{base}"
            );
        }
    }

    #[test]
    fn segments_and_queries_are_escaped() {
        let url = client("http://127.0.0.1:3000")
            .url(&["workspaces", "a/b c"], &[("q", "owner:me name:x&y")]);
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:3000/api/v2/workspaces/a%2Fb%20c?q=owner%3Ame+name%3Ax%26y"
        );
    }

    #[test]
    fn bad_configuration_is_refused() {
        let token = || SecretString::from("t");
        assert!(CoderClient::new("ftp://x", token()).is_err());
        assert!(CoderClient::new("https://u:p@x", token()).is_err());
        assert!(CoderClient::new("https://x", SecretString::from(" ")).is_err());
        assert!(CoderClient::new("https://x", SecretString::from("a\nb")).is_err());
    }

    #[test]
    fn debug_output_hides_the_token() {
        let text = format!("{:?}", client("https://x"));
        assert!(!text.contains("id-secret"), "{text}");
    }

    #[test]
    fn versions() {
        assert!(version_supported("v2.34.3"));
        assert!(version_supported("v2.33.9-devel+355536e7"));
        assert!(version_supported("unknown"));
        assert!(!version_supported("v0.27.3"));
    }
}
