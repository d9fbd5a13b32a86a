//! [`CopilotError`]: what can go wrong talking to a model server, mapped into
//! [`agentbox_core::Error::Model`].
//!
//! No variant holds a token or a request body: messages name the URL, the status and the
//! server's own error message, which never echo credentials back in full.

use reqwest::StatusCode;

/// A failure of a model client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CopilotError {
    /// The client's configuration is unusable.
    #[error("invalid model client configuration: {0}")]
    Config(String),

    /// The HTTP client could not be built (e.g. no TLS roots).
    #[error("could not build the HTTP client")]
    HttpClient(#[source] reqwest::Error),

    /// The Copilot token exchange answered with an error status.
    #[error("Copilot token exchange at {url} returned {status}: {hint}")]
    TokenExchange {
        /// The token endpoint.
        url: String,
        /// Its status.
        status: StatusCode,
        /// What it most likely means and what to do.
        hint: &'static str,
    },

    /// The server answered with an error status (after any retries).
    #[error(
        "{url} returned {status} after {retries} retries: {message}{}",
        hint(status)
    )]
    Status {
        /// The URL called.
        url: String,
        /// The status of the last answer.
        status: StatusCode,
        /// The server's error message (shortened), or the reason phrase.
        message: String,
        /// Retries made before giving up.
        retries: u32,
    },

    /// The server could not be reached, or the connection failed (after any retries).
    #[error(
        "could not reach {url} after {retries} retries ({kind}); check the base URL and the network"
    )]
    Transport {
        /// The URL called.
        url: String,
        /// `timed out`, `connection failed` or `request failed`.
        kind: &'static str,
        /// Retries made before giving up.
        retries: u32,
        /// The HTTP client's error.
        #[source]
        source: reqwest::Error,
    },

    /// The server answered 2xx with a body that is not what the protocol says.
    #[error("{url} answered with an unexpected body: {detail}")]
    Protocol {
        /// The URL called.
        url: String,
        /// What was wrong.
        detail: String,
    },

    /// A streamed answer broke off before it was complete.
    #[error(
        "the stream from {url} broke off after {events} events; the answer is incomplete, call again"
    )]
    StreamInterrupted {
        /// The URL called.
        url: String,
        /// SSE events received before the break.
        events: usize,
        /// Why, when known.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

fn hint(status: &StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "; the server rejected the request (check the model name and the messages)",
        401 => "; the credentials were rejected (check the API key or token)",
        403 => "; the credentials lack permission for this model",
        404 => "; no such endpoint or model (check the base URL and the model name)",
        429 => "; rate limited, try again later",
        _ => "",
    }
}

impl CopilotError {
    /// The HTTP status the server answered with, when it answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            CopilotError::TokenExchange { status, .. } | CopilotError::Status { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// Retries made before this error was returned.
    pub fn retries(&self) -> u32 {
        match self {
            CopilotError::Status { retries, .. } | CopilotError::Transport { retries, .. } => {
                *retries
            }
            _ => 0,
        }
    }

    /// As an [`agentbox_core::Error::Model`] for `model`, keeping this error as its source
    /// (so callers can downcast to [`CopilotError`]).
    pub fn into_core(self, model: &str) -> agentbox_core::Error {
        agentbox_core::Error::Model {
            model: model.to_owned(),
            message: self.to_string(),
            source: Some(Box::new(self)),
        }
    }
}

/// What a failed token exchange most likely means.
pub(crate) fn exchange_hint(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => {
            "the GitHub token is invalid, expired, or has no Copilot entitlement; sign in again with an account that has Copilot"
        }
        403 => {
            "the GitHub token has no Copilot entitlement, or comes from an OAuth app Copilot does not accept"
        }
        404 => {
            "no Copilot token endpoint here, or no Copilot entitlement; check the token URL (GitHub Enterprise uses https://api.<domain>/copilot_internal/v2/token)"
        }
        429 => "rate limited; try again later",
        s if s >= 500 => "GitHub had a server error; try again later",
        _ => "unexpected answer; check the token URL",
    }
}

/// The server's error message from an OpenAI-style error body (`{"error": {"message": …}}`,
/// or `{"message": …}`), shortened; the reason phrase when there is none.
pub(crate) fn server_message(status: StatusCode, body: &[u8]) -> String {
    const MAX: usize = 300;
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let message = parsed.as_ref().and_then(|v| {
        v.pointer("/error/message")
            .or_else(|| v.get("message"))
            .or_else(|| v.get("error"))
            .and_then(serde_json::Value::as_str)
    });
    let text = match message {
        Some(m) if !m.trim().is_empty() => m.trim().to_owned(),
        _ => status
            .canonical_reason()
            .unwrap_or("no reason given")
            .to_owned(),
    };
    if text.chars().count() > MAX {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut}…")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_message_is_taken_from_an_openai_error_body() {
        let body = br#"{"error": {"message": "model not found", "type": "invalid_request_error"}}"#;
        assert_eq!(
            server_message(StatusCode::NOT_FOUND, body),
            "model not found"
        );
    }

    #[test]
    fn the_reason_phrase_stands_in_for_an_unreadable_body() {
        assert_eq!(
            server_message(StatusCode::BAD_GATEWAY, b"<html>"),
            "Bad Gateway"
        );
    }

    #[test]
    fn long_server_messages_are_shortened() {
        let body = serde_json::json!({"message": "x".repeat(1000)}).to_string();
        assert!(
            server_message(StatusCode::BAD_REQUEST, body.as_bytes())
                .chars()
                .count()
                <= 301
        );
    }

    #[test]
    fn a_token_exchange_401_says_what_to_do() {
        let err = CopilotError::TokenExchange {
            url: "https://api.github.com/copilot_internal/v2/token".into(),
            status: StatusCode::UNAUTHORIZED,
            hint: exchange_hint(StatusCode::UNAUTHORIZED),
        };
        let text = err.into_core("gpt-4o").to_string();
        assert!(
            text.starts_with("model `gpt-4o`: Copilot token exchange at"),
            "{text}"
        );
        assert!(text.contains("returned 401 Unauthorized: the GitHub token is invalid, expired, or has no Copilot entitlement"), "{text}");
    }
}
