//! Processes in a container over the `pods/exec` subresource: starting one, reading how it
//! ended from the Status channel, and killing one the kubelet would leave running.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use agentbox_core::exec::ExitStatus;
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::api::{Api, AttachParams};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf, ReadHalf, SimplexStream, WriteHalf};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::scripts;
use crate::api::RetryPolicy;
use crate::error::{ApiAction, CheError};

/// Bytes buffered per stream between the WebSocket and the reader (kube's default is 1 KiB).
const STREAM_BUFFER: usize = 64 * 1024;
/// How long a command killed through the wrapper's control channel may take to end before a
/// second exec kills it (the channel is blocked while the command leaves its stdin unread).
pub(crate) const KILL_GRACE: Duration = Duration::from_secs(3);

/// A container commands run in.
#[derive(Clone)]
pub(crate) struct Container {
    pub(crate) pods: Api<Pod>,
    pub(crate) namespace: String,
    pub(crate) pod: String,
    pub(crate) name: String,
    pub(crate) policy: RetryPolicy,
}

impl std::fmt::Debug for Container {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Container")
            .field("namespace", &self.namespace)
            .field("pod", &self.pod)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A process started in a container.
pub(crate) struct Remote {
    /// Its stdin; shutting it down closes the process's stdin.
    pub(crate) stdin: Option<WriteHalf<SimplexStream>>,
    /// Its stdout.
    pub(crate) stdout: Output,
    /// Its stderr.
    pub(crate) stderr: Output,
    /// How it ended, from the Status channel; `None` when the channel was lost.
    pub(crate) status: BoxFuture<'static, Option<Status>>,
    /// The connection.
    pub(crate) link: Link,
}

/// The connection of a [`Remote`]; dropping or aborting it cuts the streams (the process may
/// live on, as it would with a real kubelet).
pub(crate) struct Link {
    task: JoinHandle<()>,
}

impl Link {
    /// Cut the connection now.
    pub(crate) fn abort(&self) {
        self.task.abort();
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One output stream of a [`Remote`]. It ends when the process closes it, and also when the
/// connection ends without closing it (kube leaves the stream open when its message loop
/// fails, so reading it would otherwise never end).
pub(crate) struct Output {
    inner: ReadHalf<SimplexStream>,
    ended: Shared<BoxFuture<'static, ()>>,
}

impl AsyncRead for Output {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if let Poll::Ready(read) = Pin::new(&mut this.inner).poll_read(cx, buf) {
            return Poll::Ready(read);
        }
        if this.ended.poll_unpin(cx).is_pending() {
            return Poll::Pending;
        }
        // Nothing is written after the connection ended: what is buffered is all there is.
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(read) => Poll::Ready(read),
            Poll::Pending => Poll::Ready(Ok(())),
        }
    }
}

impl Container {
    /// Start `argv` with stdin, stdout and stderr attached. Fails only before the process
    /// started, so connecting is retried like any other call.
    pub(crate) async fn spawn(&self, argv: Vec<String>) -> Result<Remote, CheError> {
        let params = AttachParams::default()
            .container(self.name.clone())
            .stdin(true)
            .stdout(true)
            .stderr(true)
            .max_stdin_buf_size(STREAM_BUFFER)
            .max_stdout_buf_size(STREAM_BUFFER)
            .max_stderr_buf_size(STREAM_BUFFER);
        let action = ApiAction::new("create", "pods/exec", &self.namespace).named(&self.pod);
        let mut connection = self
            .policy
            .call(action, || self.pods.exec(&self.pod, argv.clone(), &params))
            .await?;
        let (Some(stdin), Some(stdout), Some(stderr), Some(status)) = (
            connection.stdin(),
            connection.stdout(),
            connection.stderr(),
            connection.take_status(),
        ) else {
            return Err(self.exec_error("the exec connection has no streams", None));
        };
        let (ended_tx, ended_rx) = oneshot::channel::<()>();
        let ended = async move {
            let _ = ended_rx.await;
        }
        .boxed()
        .shared();
        let task = tokio::spawn(async move {
            if let Err(e) = connection.join().await {
                tracing::debug!(error = %e, "an exec connection ended with an error");
            }
            drop(ended_tx);
        });
        Ok(Remote {
            stdin: Some(stdin),
            stdout: Output {
                inner: stdout,
                ended: ended.clone(),
            },
            stderr: Output {
                inner: stderr,
                ended,
            },
            status: status.boxed(),
            link: Link { task },
        })
    }

    /// Kill, from a second exec, every process the wrapper started under `tag` (its group
    /// first when `pid` is known), waiting at most the call deadline. This reaches the
    /// command only where the container's processes share a PID namespace, as in a real pod.
    pub(crate) async fn kill(&self, tag: &str, pid: Option<u32>) -> Result<(), CheError> {
        let argv = vec![
            "sh".to_owned(),
            "-c".to_owned(),
            scripts::kill_script(),
            "agentbox-kill".to_owned(),
            tag.to_owned(),
            pid.map(|p| p.to_string()).unwrap_or_default(),
        ];
        let deadline = self.policy.call_timeout;
        let killed = async {
            let mut remote = self.spawn(argv).await?;
            // The script reads nothing; stdin stays open (closing it could close the whole
            // connection on a server without the v5 protocol).
            let _stdin = remote.stdin.take();
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let (_, _, status) = tokio::join!(
                remote.stdout.read_to_end(&mut out),
                remote.stderr.read_to_end(&mut err),
                remote.status,
            );
            match exit_status(status.as_ref()) {
                Ok(ExitStatus::Code(0)) => Ok(()),
                Ok(other) => {
                    Err(self.exec_error(&format!("the kill script ended with {other}"), None))
                }
                Err(message) => Err(self.exec_error(&message, None)),
            }
        };
        match tokio::time::timeout(deadline, killed).await {
            Ok(result) => result,
            Err(_) => Err(CheError::Deadline {
                what: format!("killing a command in pod `{}`", self.pod),
                after: deadline,
            }),
        }
    }

    /// A [`CheError::Exec`] about this container.
    pub(crate) fn exec_error(
        &self,
        message: &str,
        source: Option<agentbox_core::BoxError>,
    ) -> CheError {
        CheError::Exec {
            pod: self.pod.clone(),
            container: self.name.clone(),
            message: message.to_owned(),
            source,
        }
    }
}

/// How a process ended, from the Status channel: `Success` is code 0, `NonZeroExitCode` carries
/// the code in a cause; `None` (the channel was lost) is [`ExitStatus::Unknown`], never success.
/// `Err` holds the message of a failure that is not the command's (e.g. no such container).
pub(crate) fn exit_status(status: Option<&Status>) -> Result<ExitStatus, String> {
    let Some(status) = status else {
        return Ok(ExitStatus::Unknown);
    };
    if status.status.as_deref() == Some("Success") {
        return Ok(ExitStatus::Code(0));
    }
    if status.reason.as_deref() == Some("NonZeroExitCode") {
        let code = status
            .details
            .as_ref()
            .and_then(|d| d.causes.as_ref())
            .and_then(|causes| {
                causes
                    .iter()
                    .find(|c| c.reason.as_deref() == Some("ExitCode"))
            })
            .and_then(|c| c.message.as_deref())
            .and_then(|m| m.trim().parse().ok());
        return Ok(code.map_or(ExitStatus::Unknown, ExitStatus::Code));
    }
    Err(match &status.message {
        Some(message) if !message.is_empty() => message.clone(),
        _ => format!(
            "the exec failed ({})",
            status.reason.as_deref().unwrap_or("no reason given")
        ),
    })
}

/// Sleep for `duration`, or forever when there is none.
pub(crate) async fn sleep_or_forever(duration: Option<Duration>) {
    match duration {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Status as the kubelet sends it on channel 3.
    fn wire(json: serde_json::Value) -> Status {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn the_status_channel_gives_the_exit_code() {
        let ok = wire(serde_json::json!({"metadata": {}, "status": "Success"}));
        assert_eq!(exit_status(Some(&ok)), Ok(ExitStatus::Code(0)));
        let three = wire(serde_json::json!({
            "metadata": {},
            "status": "Failure",
            "message": "command terminated with non-zero exit code: exit code 3",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}
        }));
        assert_eq!(exit_status(Some(&three)), Ok(ExitStatus::Code(3)));
    }

    #[test]
    fn a_lost_status_is_unknown_never_success() {
        assert_eq!(exit_status(None), Ok(ExitStatus::Unknown));
        let no_code = wire(serde_json::json!({"status": "Failure", "reason": "NonZeroExitCode"}));
        assert_eq!(exit_status(Some(&no_code)), Ok(ExitStatus::Unknown));
    }

    #[test]
    fn an_infrastructure_failure_is_an_error_with_its_message() {
        let status = wire(serde_json::json!({
            "status": "Failure",
            "message": "container tools not found",
            "reason": "InternalError"
        }));
        assert_eq!(
            exit_status(Some(&status)),
            Err("container tools not found".to_owned())
        );
    }
}
