//! The task runner's git and forge helpers, run in bubblewrap workspaces against a bare
//! repository on the host bound in as the remote, and against fake HTTP remotes and a fake
//! `gh`.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agentbox_core::exec::{
    ExecRequest, ExecStream, Executor, ExecutorExt, FileReader, FileSource, FileWritten,
    OutputStreams, Session,
};
use agentbox_core::provider::{CreateRequest, WorkspaceProvider, WorkspaceProviderExt};
use agentbox_core::secrets::StaticSecrets;
use agentbox_core::task::forge::{Forge, GhCliForge, PullRequest};
use agentbox_core::task::git::{self, GitAuthor, RepoSpec};
use agentbox_core::{Contract, Error, Result};
use agentbox_local::{Isolation, LocalProvider};
use async_trait::async_trait;
use common::contract;
use secrecy::SecretString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "ghp_s3cr3t-t0ken";
const BRANCH: &str = "agentbox/fix-1";

/// A bare repository on the host, with one commit on `main`, bound at `/remotes/origin.git`.
struct Remote {
    dir: tempfile::TempDir,
}

impl Remote {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let seed = dir.path().join("seed");
        host_git(
            dir.path(),
            &["init", "--quiet", "--initial-branch=main", "seed"],
        );
        std::fs::write(seed.join("README.md"), "seed\n").unwrap();
        host_git(&seed, &["add", "README.md"]);
        host_git(
            &seed,
            &[
                "-c",
                "user.name=Seed",
                "-c",
                "user.email=seed@example.com",
                "commit",
                "--quiet",
                "-m",
                "seed",
            ],
        );
        host_git(
            dir.path(),
            &["clone", "--quiet", "--bare", "seed", "origin.git"],
        );
        Self { dir }
    }

    fn bare(&self) -> PathBuf {
        self.dir.path().join("origin.git")
    }
}

fn host_git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every request an executor was given, kept to check where secrets went.
#[derive(Debug)]
struct Recording {
    inner: Arc<dyn Executor>,
    requests: Mutex<Vec<ExecRequest>>,
}

impl Recording {
    /// Whether `needle` appears in any argv, plain environment value or stdin.
    fn saw_in_the_clear(&self, needle: &str) -> bool {
        self.requests.lock().unwrap().iter().any(|r| {
            r.argv.iter().any(|a| a.contains(needle))
                || r.env.values().any(|v| v.contains(needle))
                || r.stdin
                    .as_ref()
                    .is_some_and(|s| String::from_utf8_lossy(s).contains(needle))
        })
    }

    fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

#[async_trait]
impl Executor for Recording {
    fn workspace(&self) -> &str {
        self.inner.workspace()
    }
    fn output_streams(&self) -> OutputStreams {
        self.inner.output_streams()
    }
    async fn exec_stream(&self, request: ExecRequest) -> Result<ExecStream> {
        self.requests.lock().unwrap().push(request.clone());
        self.inner.exec_stream(request).await
    }
    async fn write_file(&self, path: &str, content: FileSource) -> Result<FileWritten> {
        self.inner.write_file(path, content).await
    }
    async fn read_file(&self, path: &str) -> Result<FileReader> {
        self.inner.read_file(path).await
    }
    async fn session(&self) -> Result<Box<dyn Session>> {
        self.inner.session().await
    }
}

/// A provider binding the remote's directory at `/remotes`, and a running workspace.
struct Fixture {
    _state: tempfile::TempDir,
    provider: LocalProvider,
    exec: Recording,
}

impl Fixture {
    async fn new(remote: &Remote, contract: &Contract) -> Self {
        let state = tempfile::tempdir().unwrap();
        let provider = LocalProvider::builder()
            .root(state.path())
            .isolation(Isolation::Bubblewrap)
            .secrets(Arc::new(StaticSecrets::new()))
            .bind(remote.dir.path(), "/remotes")
            .build()
            .unwrap();
        let info = provider
            .provision(
                contract,
                CreateRequest::named("git"),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
        let inner = provider.executor(&info.id).await.unwrap();
        Self {
            _state: state,
            provider,
            exec: Recording {
                inner,
                requests: Mutex::new(Vec::new()),
            },
        }
    }

    fn host_file(&self, path: &str) -> PathBuf {
        self.provider.root().join("git/files/demo").join(path)
    }
}

fn token() -> SecretString {
    SecretString::from(TOKEN)
}

fn repo(url: &str) -> RepoSpec {
    RepoSpec {
        url: url.to_owned(),
        base: Some("main".to_owned()),
        branch: BRANCH.to_owned(),
    }
}

fn author() -> GitAuthor {
    GitAuthor {
        name: "Agent Box".to_owned(),
        email: "agent@example.com".to_owned(),
    }
}

#[tokio::test]
async fn clone_branch_commit_and_push_reach_the_remote_as_the_author() {
    let remote = Remote::new();
    let f = Fixture::new(&remote, &contract("")).await;
    let ex = &f.exec;
    let token = token();

    git::clone(ex, &repo("/remotes/origin.git"), "app", Some(&token))
        .await
        .unwrap();
    git::create_branch(ex, "app", BRANCH).await.unwrap();
    ex.write_bytes("app/hello.txt", b"hello\n".to_vec())
        .await
        .unwrap();
    let message = "Add hello\n\nWith `quotes`, $(no expansion) and \"more\".\n";
    let sha = git::commit_all(ex, "app", message, &author())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sha.len(), 40, "{sha}");
    assert_eq!(
        git::commit_all(ex, "app", "again", &author())
            .await
            .unwrap(),
        None
    );
    let diff = git::diff(ex, "app", "main").await.unwrap();
    assert!(
        diff.contains("+++ b/hello.txt") && diff.contains("+hello"),
        "{diff}"
    );
    git::push(ex, "app", "origin", BRANCH, Some(&token))
        .await
        .unwrap();

    let bare = remote.bare();
    let git_dir = format!("--git-dir={}", bare.display());
    let log = host_git(
        &bare,
        &[
            &git_dir,
            "log",
            "-1",
            "--format=%H%n%an <%ae>%n%cn <%ce>%n%B",
            &format!("refs/heads/{BRANCH}"),
        ],
    );
    assert_eq!(
        log,
        format!("{sha}\nAgent Box <agent@example.com>\nAgent Box <agent@example.com>\n{message}\n")
    );
    assert!(!f.exec.saw_in_the_clear(TOKEN));
    let config = std::fs::read_to_string(f.host_file("app/.git/config")).unwrap();
    assert!(
        !config.contains(TOKEN) && !config.contains("credential"),
        "{config}"
    );
}

#[tokio::test]
async fn a_second_push_of_a_rewritten_branch_is_rejected_not_forced() {
    let remote = Remote::new();
    let f = Fixture::new(&remote, &contract("")).await;
    let ex = &f.exec;
    git::clone(ex, &repo("/remotes/origin.git"), "app", None)
        .await
        .unwrap();
    git::create_branch(ex, "app", BRANCH).await.unwrap();
    ex.write_bytes("app/a.txt", b"a".to_vec()).await.unwrap();
    git::commit_all(ex, "app", "a", &author())
        .await
        .unwrap()
        .unwrap();
    git::push(ex, "app", "/remotes/origin.git", BRANCH, None)
        .await
        .unwrap();

    let reset = ExecRequest::new(["git", "reset", "--hard", "--quiet", "main"]).cwd("app");
    ex.exec_ok(reset).await.unwrap();
    ex.write_bytes("app/b.txt", b"b".to_vec()).await.unwrap();
    git::commit_all(ex, "app", "b", &author())
        .await
        .unwrap()
        .unwrap();
    let err = git::push(ex, "app", "origin", BRANCH, None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Backend { .. }), "{err}");
    assert!(err.to_string().contains("rejected"), "{err}");
}

#[tokio::test]
async fn urls_with_credentials_and_hostile_branch_names_are_refused_before_git_runs() {
    let remote = Remote::new();
    let f = Fixture::new(&remote, &contract("")).await;
    let ex = &f.exec;
    let err = git::clone(
        ex,
        &repo("https://user:hunter2@example.com/o/r.git"),
        "app",
        None,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Refused { .. }), "{err}");
    assert!(!err.to_string().contains("hunter2"), "{err}");

    for branch in [
        "--upload-pack=touch /projects/pwned",
        "-f",
        "a..b",
        "x y",
        "HEAD",
        "a.lock",
    ] {
        let err = git::create_branch(ex, "app", branch).await.unwrap_err();
        assert!(matches!(err, Error::Refused { .. }), "{branch}: {err}");
        let err = git::push(ex, "app", "origin", branch, None)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Refused { .. }), "{branch}: {err}");
    }
    let hostile_base = RepoSpec {
        base: Some("--upload-pack=touch /projects/pwned".to_owned()),
        ..repo("/remotes/origin.git")
    };
    assert!(git::clone(ex, &hostile_base, "app", None).await.is_err());
    assert_eq!(f.exec.count(), 0, "a command ran for refused input");
}

/// An HTTP server that asks for Basic credentials and records every `Authorization` header
/// it is sent; requests with credentials get 403.
struct FakeHttpRemote {
    port: u16,
    authorizations: Arc<Mutex<Vec<String>>>,
    requests: Arc<Mutex<usize>>,
}

impl FakeHttpRemote {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let authorizations = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::new(Mutex::new(0));
        let (auths, count) = (authorizations.clone(), requests.clone());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && socket.read(&mut byte).await.unwrap_or(0) == 1
                {
                    head.push(byte[0]);
                }
                *count.lock().unwrap() += 1;
                let head = String::from_utf8_lossy(&head).into_owned();
                let auth = head.lines().find_map(|l| {
                    l.strip_prefix("Authorization: ")
                        .or_else(|| l.strip_prefix("authorization: "))
                });
                let response = match auth {
                    Some(auth) => {
                        auths.lock().unwrap().push(auth.to_owned());
                        "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    }
                    None => {
                        "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"fake\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    }
                };
                let _ = socket.write_all(response.as_bytes()).await;
            }
        });
        Self {
            port,
            authorizations,
            requests,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/octo/app.git", self.port)
    }
}

fn basic(credentials: &str) -> String {
    let mut child = Command::new("base64")
        .arg("-w0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), credentials.as_bytes()).unwrap();
    format!(
        "Basic {}",
        String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()
    )
}

const EGRESS: &str = "  network: { egress: { default: allow } }\n";

#[tokio::test]
async fn the_token_reaches_the_remote_only_through_the_credential_helper() {
    let remote = Remote::new();
    let http = FakeHttpRemote::start().await;
    let f = Fixture::new(&remote, &contract(EGRESS)).await;
    let token = token();

    let err = git::clone(&f.exec, &repo(&http.url()), "app", Some(&token))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PermissionDenied { .. }), "{err}");
    assert!(!err.to_string().contains(TOKEN), "{err}");
    let sent = http.authorizations.lock().unwrap().clone();
    assert_eq!(sent, [basic(&format!("x-access-token:{TOKEN}"))]);
    assert!(!f.exec.saw_in_the_clear(TOKEN));
}

#[tokio::test]
async fn a_repository_config_that_redirects_the_url_gets_no_token() {
    let remote = Remote::new();
    let trusted = FakeHttpRemote::start().await;
    let attacker = FakeHttpRemote::start().await;
    let f = Fixture::new(&remote, &contract(EGRESS)).await;
    let ex = &f.exec;
    git::clone(ex, &repo("/remotes/origin.git"), "app", None)
        .await
        .unwrap();
    git::create_branch(ex, "app", BRANCH).await.unwrap();
    let redirect = format!("url.http://127.0.0.1:{}/.insteadOf", attacker.port);
    let from = format!("http://127.0.0.1:{}/", trusted.port);
    ex.exec_ok(ExecRequest::new(["git", "config", &redirect, &from]).cwd("app"))
        .await
        .unwrap();

    let err = git::push(ex, "app", &trusted.url(), BRANCH, Some(&token()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PermissionDenied { .. }), "{err}");
    assert!(
        *attacker.requests.lock().unwrap() > 0,
        "the redirect was not followed"
    );
    assert!(attacker.authorizations.lock().unwrap().is_empty());
    assert_eq!(*trusted.requests.lock().unwrap(), 0);
}

/// Write a fake `gh` at `bin/gh` in the workdir that records its argv, stdin and `GH_TOKEN`
/// under `gh-record/`, then runs `then`.
async fn fake_gh(ex: &dyn Executor, then: &str) -> String {
    let script = format!(
        "#!/bin/sh\nrec=/projects/demo/gh-record\nmkdir -p \"$rec\"\nprintf '%s\\n' \"$@\" > \"$rec/argv\"\ncat > \"$rec/stdin\"\nprintf '%s' \"$GH_TOKEN\" > \"$rec/token\"\n{then}\n"
    );
    ex.write_bytes("bin/gh", script.into_bytes()).await.unwrap();
    ex.exec_ok(ExecRequest::new(["chmod", "+x", "bin/gh"]))
        .await
        .unwrap();
    "/projects/demo/bin/gh".to_owned()
}

fn pull_request() -> PullRequest {
    PullRequest {
        repo: "octo/app".to_owned(),
        head: BRANCH.to_owned(),
        base: "main".to_owned(),
        title: "Fix: don't `rm -rf` $HOME; --draft".to_owned(),
        body: "## What\n\n- `$(whoami)` stays text\n- 'quotes' \"too\"\n".to_owned(),
    }
}

async fn read_text(ex: &dyn Executor, path: &str) -> String {
    String::from_utf8(ex.read_bytes(path).await.unwrap()).unwrap()
}

#[tokio::test]
async fn gh_gets_the_title_as_one_argument_the_body_on_stdin_and_the_token_in_its_env() {
    let remote = Remote::new();
    let f = Fixture::new(&remote, &contract("")).await;
    let ex = &f.exec;
    let gh = fake_gh(
        ex,
        "echo 'Creating pull request'\necho\necho https://github.com/octo/app/pull/42",
    )
    .await;

    let forge = GhCliForge::new(token()).program(gh);
    let url = forge.open_pull_request(ex, &pull_request()).await.unwrap();
    assert_eq!(url, "https://github.com/octo/app/pull/42");
    let pr = pull_request();
    assert_eq!(
        read_text(ex, "gh-record/argv").await,
        format!(
            "pr\ncreate\n--repo=octo/app\n--head={BRANCH}\n--base=main\n--title={}\n--body-file=-\n",
            pr.title
        )
    );
    assert_eq!(read_text(ex, "gh-record/stdin").await, pr.body);
    assert_eq!(read_text(ex, "gh-record/token").await, TOKEN);
    assert!(!f.exec.saw_in_the_clear(TOKEN));
}

#[tokio::test]
async fn an_open_pull_request_for_the_branch_is_returned_not_an_error() {
    let remote = Remote::new();
    let f = Fixture::new(&remote, &contract("")).await;
    let gh = fake_gh(
        &f.exec,
        "echo 'a pull request for branch \"agentbox/fix-1\" into branch \"main\" already exists:' >&2\necho https://github.com/octo/app/pull/7 >&2\nexit 1",
    )
    .await;
    let url = GhCliForge::new(token())
        .program(gh)
        .open_pull_request(&f.exec, &pull_request())
        .await
        .unwrap();
    assert_eq!(url, "https://github.com/octo/app/pull/7");
}

#[tokio::test]
async fn a_rejected_gh_token_is_a_permission_error_naming_what_to_grant() {
    let remote = Remote::new();
    let f = Fixture::new(&remote, &contract("")).await;
    let gh = fake_gh(
        &f.exec,
        "echo 'pull request create failed: GraphQL: Resource not accessible by personal access token (HTTP 403)' >&2\nexit 1",
    )
    .await;
    let err = GhCliForge::new(token())
        .program(gh)
        .open_pull_request(&f.exec, &pull_request())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PermissionDenied { .. }), "{err}");
    assert!(
        err.to_string().contains("Pull requests: read and write"),
        "{err}"
    );
    assert!(!err.to_string().contains(TOKEN));
}

#[tokio::test]
async fn a_missing_gh_says_to_install_it() {
    let remote = Remote::new();
    let f = Fixture::new(&remote, &contract("")).await;
    let err = GhCliForge::new(token())
        .program("/projects/demo/no-such-gh")
        .open_pull_request(&f.exec, &pull_request())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("install the GitHub CLI"), "{err}");
}

#[test]
fn gh_forge_debug_output_hides_the_token() {
    let debug = format!("{:?}", GhCliForge::new(token()));
    assert!(
        debug.contains("GhCliForge") && !debug.contains(TOKEN),
        "{debug}"
    );
}
