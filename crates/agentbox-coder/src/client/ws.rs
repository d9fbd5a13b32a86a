//! WebSockets upgraded through the client's own HTTP/1.1 connections, so TLS, proxies and the
//! session header are those of every REST call.

use reqwest::header::{
    CONNECTION, HeaderValue, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION,
    UPGRADE,
};
use reqwest::{Method, StatusCode, Version};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

use super::{CoderClient, check};
use crate::error::CoderError;

/// A WebSocket to coderd.
pub type CoderSocket = WebSocketStream<reqwest::Upgraded>;

impl CoderClient {
    /// Open a WebSocket to `/api/v2/<segments...>?<query>`. A refusal (any answer but 101) is
    /// [`CoderError::Api`] with coderd's decoded body.
    pub async fn websocket(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<CoderSocket, CoderError> {
        let url = self.url(segments, query);
        let path = url.path().to_owned();
        let key = generate_key();
        let response = self
            .request(Method::GET, url)
            .version(Version::HTTP_11)
            .header(CONNECTION, "Upgrade")
            .header(UPGRADE, "websocket")
            .header(SEC_WEBSOCKET_VERSION, "13")
            .header(SEC_WEBSOCKET_KEY, &key)
            .send()
            .await
            .map_err(|source| CoderError::Transport {
                method: "GET",
                path: path.clone(),
                source,
            })?;
        if response.status() != StatusCode::SWITCHING_PROTOCOLS {
            let response = check("GET", &path, response).await?;
            return Err(CoderError::Api {
                method: "GET",
                path,
                status: response.status().as_u16(),
                response: crate::models::ApiResponse {
                    message: "the server did not switch to the WebSocket protocol".into(),
                    ..Default::default()
                },
            });
        }
        let expected = derive_accept_key(key.as_bytes());
        let accepted = response.headers().get(SEC_WEBSOCKET_ACCEPT);
        if accepted != HeaderValue::from_str(&expected).ok().as_ref() {
            return Err(CoderError::Protocol(format!(
                "{path}: the WebSocket accept key does not match the request's"
            )));
        }
        let upgraded = response
            .upgrade()
            .await
            .map_err(|source| CoderError::Transport {
                method: "GET",
                path,
                source,
            })?;
        Ok(WebSocketStream::from_raw_socket(upgraded, Role::Client, None).await)
    }
}
