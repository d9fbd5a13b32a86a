//! How git is run: the hardening options, the credential helper that hands a token to git, and
//! errors that keep git's own words.

use secrecy::{ExposeSecret, SecretString};

use super::BACKEND;
use super::validate::refused;
use crate::evidence::REDACTED;
use crate::exec::{ExecOutput, ExecRequest, Executor};
use crate::{Error, Result};

/// The secret environment variable a token travels in.
pub const TOKEN_ENV: &str = "AGENTBOX_GIT_TOKEN";
/// The protocol the credential helper answers for.
const PIN_PROTOCOL_ENV: &str = "AGENTBOX_GIT_PROTOCOL";
/// The host (with port, as git names it) the credential helper answers for.
const PIN_HOST_ENV: &str = "AGENTBOX_GIT_HOST";
/// A credential helper that reads git's request, and answers `get` for the pinned protocol and
/// host with the token from the environment. Constant text: nothing is interpolated.
const CREDENTIAL_HELPER: &str = concat!(
    "!f() { p=; h=; while IFS= read -r l; do case \"$l\" in ",
    "protocol=*) p=\"${l#protocol=}\" ;; host=*) h=\"${l#host=}\" ;; esac; done; ",
    "test \"$1\" = get && test -n \"$p\" && test \"$p\" = \"$AGENTBOX_GIT_PROTOCOL\" ",
    "&& test \"$h\" = \"$AGENTBOX_GIT_HOST\" || exit 0; ",
    "printf '%s\\n' username=x-access-token \"password=$AGENTBOX_GIT_TOKEN\"; }; f"
);
/// Options before every subcommand.
const HARDENING: &[&str] = &[
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "protocol.ext.allow=never",
];
/// How much of a failed command's output an error keeps.
const OUTPUT_TAIL: usize = 2000;

/// The credential options and secret environment for `token`, when `pin` names an http(s)
/// protocol and host to give it to.
pub(super) fn authenticate<'a>(
    token: Option<&'a SecretString>,
    pin: Option<&'a (String, String)>,
) -> Result<Option<(&'a SecretString, &'a (String, String))>> {
    let Some(token) = token else {
        return Ok(None);
    };
    if token.expose_secret().is_empty() || token.expose_secret().contains(['\n', '\r', '\0']) {
        return Err(refused(
            "the git token is empty or holds a line break or NUL; pass the token alone".to_owned(),
        ));
    }
    if pin.is_none() {
        tracing::debug!("the URL is not http(s); the token is not passed");
    }
    Ok(pin.map(|pin| (token, pin)))
}

/// `git` with the hardening options, credentials when given, then `args`.
pub(super) fn command<I, S>(
    auth: Option<(&SecretString, &(String, String))>,
    args: I,
) -> ExecRequest
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut argv: Vec<String> = std::iter::once("git")
        .chain(HARDENING.iter().copied())
        .map(str::to_owned)
        .collect();
    if auth.is_some() {
        argv.extend(
            ["-c", "credential.helper=", "-c"]
                .map(str::to_owned)
                .into_iter()
                .chain([format!("credential.helper={CREDENTIAL_HELPER}")]),
        );
    }
    argv.extend(args.into_iter().map(Into::into));
    let request = ExecRequest::new(argv)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C");
    match auth {
        Some((token, (protocol, host))) => request
            .env(PIN_PROTOCOL_ENV, protocol)
            .env(PIN_HOST_ENV, host)
            .secret_env(TOKEN_ENV, token.clone()),
        None => request,
    }
}

/// Run `request`; a failure names `what` and keeps the end of git's output, with `token`
/// redacted.
pub(super) async fn run(
    ex: &dyn Executor,
    request: ExecRequest,
    what: &str,
    token: Option<&SecretString>,
) -> Result<ExecOutput> {
    let out = ex.exec(request).await?;
    if out.exit.success() {
        Ok(out)
    } else {
        Err(failure(ex, what, &out, token))
    }
}

/// The error for a failed git command: [`Error::PermissionDenied`] when the remote refused
/// the credentials, else [`Error::Backend`]; both keep the end of git's output.
pub(super) fn failure(
    ex: &dyn Executor,
    what: &str,
    out: &ExecOutput,
    token: Option<&SecretString>,
) -> Error {
    let text = if out.stderr.is_empty() {
        out.stdout_text()
    } else {
        out.stderr_text()
    };
    let mut text = tail(text.trim(), OUTPUT_TAIL).to_owned();
    if let Some(token) = token.map(ExposeSecret::expose_secret)
        && !token.is_empty()
    {
        text = text.replace(token, REDACTED);
    }
    let message = format!(
        "{what} in workspace `{}` ended with {}: {text}",
        ex.workspace(),
        out.exit
    );
    if is_auth_failure(&text) {
        Error::PermissionDenied {
            backend: BACKEND,
            message: format!(
                "{message}; check that the token is valid and may read (clone) or write (push) the repository"
            ),
        }
    } else {
        Error::Backend {
            backend: BACKEND,
            message,
            source: None,
        }
    }
}

/// Whether git's output says the remote refused the credentials (or got none).
fn is_auth_failure(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    [
        "authentication failed",
        "could not read username",
        "could not read password",
        "terminal prompts disabled",
        "returned error: 401",
        "returned error: 403",
        "permission denied (publickey",
        "permission to ",
        "write access to repository not granted",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

/// The last `max` bytes of `text`, cut at a character boundary.
fn tail(text: &str, max: usize) -> &str {
    let start = text.len().saturating_sub(max);
    let start = (start..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    &text[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_goes_only_to_the_secret_environment() {
        let token = SecretString::from("s3cr3t");
        let pin = ("https".to_owned(), "example.com".to_owned());
        let request = command(Some((&token, &pin)), ["push", "--", "origin"]);
        assert!(request.argv.iter().all(|a| !a.contains("s3cr3t")));
        assert!(request.env.values().all(|v| !v.contains("s3cr3t")));
        assert_eq!(
            request
                .secret_env
                .get(TOKEN_ENV)
                .map(ExposeSecret::expose_secret),
            Some("s3cr3t")
        );
        assert_eq!(request.env[PIN_HOST_ENV], "example.com");
        let helper = request
            .argv
            .iter()
            .position(|a| a == "credential.helper=")
            .unwrap();
        assert!(helper < request.argv.iter().position(|a| a == "push").unwrap());
    }

    #[test]
    fn tokens_with_line_breaks_are_refused() {
        let token = SecretString::from("a\nurl=https://evil");
        let pin = ("https".to_owned(), "example.com".to_owned());
        assert!(authenticate(Some(&token), Some(&pin)).is_err());
    }

    #[test]
    fn auth_failures_are_recognised() {
        assert!(is_auth_failure(
            "fatal: Authentication failed for 'https://h/r'"
        ));
        assert!(is_auth_failure(
            "fatal: could not read Username for 'https://h': terminal prompts disabled"
        ));
        assert!(!is_auth_failure("fatal: repository '/x' does not exist"));
    }
}
