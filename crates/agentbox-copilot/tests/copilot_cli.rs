//! The real GitHub Copilot CLI (`@github/copilot`, pinned in `tests/peers/package.json`)
//! against the fake model server, in its offline "bring your own model" mode: proof that the
//! fake speaks the OpenAI chat-completions dialect a real agent CLI speaks, tool calls
//! included. This is also how the in-pod agent reaches its model.
//!
//! Optional: skipped, with the reason printed, when `node` is not on `PATH` or the CLI is not
//! installed (`npm ci --prefix tests/peers` installs it).
//!
//! The CLI's documented switches (`copilot help providers`, `copilot help environment`):
//! `COPILOT_OFFLINE=true` (no GitHub authentication, telemetry or update checks),
//! `COPILOT_PROVIDER_BASE_URL` / `COPILOT_PROVIDER_API_KEY` (an OpenAI-compatible provider;
//! the key is sent as `Authorization: Bearer`), `COPILOT_MODEL`, `-p` (one prompt,
//! non-interactive), `-s` (print only the agent's answer) and `--allow-all-tools` (required
//! without a terminal to approve tools).
#![cfg(unix)]

use agentbox_testkit::model_server::{FakeModelServer, RecordedRequest, Reply};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Longer than any healthy run (a few seconds); a run that reaches it has hung.
const HANG_GUARD: Duration = Duration::from_secs(120);
const MODEL: &str = "agentbox-fake-model";
const API_KEY: &str = "sk-agentbox-copilot-cli-test";

/// The routes the fake model server answers; anything else the CLI asks for is a part of the
/// dialect the fake lacks.
const SERVED_PATHS: [&str; 4] = [
    "/v1/chat/completions",
    "/chat/completions",
    "/v1/models",
    "/models",
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The installed CLI's entry point, or why the test cannot run.
fn copilot_cli() -> Result<PathBuf, String> {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).any(|dir| dir.join("node").is_file()))
        .unwrap_or(false);
    if !on_path {
        return Err(
            "`node` is not on PATH; install Node.js, then `npm ci --prefix tests/peers`".into(),
        );
    }
    let cli = workspace_root().join("tests/peers/node_modules/.bin/copilot");
    if !cli.exists() {
        return Err(format!(
            "{} is not installed; run `npm ci --prefix tests/peers` in the workspace root",
            cli.display()
        ));
    }
    Ok(cli)
}

/// Kills the CLI's whole process group when dropped: the npm entry point is a node script
/// that runs the platform's native binary as a child, so killing the direct child alone
/// would leave the binary running after a timeout or a failed assertion.
struct ProcessGroup(rustix::process::Pid);

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        // ESRCH (the group is already gone) is the usual, expected outcome.
        let _ = rustix::process::kill_process_group(self.0, rustix::process::Signal::KILL);
    }
}

/// One finished run of the CLI.
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    logs: String,
}

impl Run {
    fn describe(&self) -> String {
        format!(
            "exit: {}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--- logs (tail) ---\n{}",
            self.status, self.stdout, self.stderr, self.logs
        )
    }
}

/// The last few kilobytes of every log file the CLI wrote to `dir`.
fn read_logs(dir: &Path) -> String {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return "(no log directory)".into();
    };
    let mut out = String::new();
    for entry in entries.flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        let tail: String = {
            let chars: Vec<char> = text.chars().collect();
            chars[chars.len().saturating_sub(4000)..].iter().collect()
        };
        out.push_str(&format!("== {} ==\n{tail}\n", entry.path().display()));
    }
    out
}

/// Runs `copilot -p <prompt>` in `workdir` against `server` with a fresh home directory and
/// nothing inherited from the environment but `PATH`; panics, with the CLI's output and
/// logs, if it does not finish within [`HANG_GUARD`].
async fn run_copilot(cli: &Path, server: &FakeModelServer, workdir: &Path, prompt: &str) -> Run {
    let scratch = tempfile::tempdir().expect("scratch dir");
    let home = scratch.path().join("home");
    let logs = scratch.path().join("logs");
    std::fs::create_dir(&home).expect("home dir");
    let stdout_path = scratch.path().join("stdout");
    let stderr_path = scratch.path().join("stderr");
    let stdout = std::fs::File::create(&stdout_path).expect("stdout file");
    let stderr = std::fs::File::create(&stderr_path).expect("stderr file");

    let mut command = tokio::process::Command::new(cli);
    command
        .arg("-p")
        .arg(prompt)
        .args(["-s", "--allow-all-tools", "--no-auto-update"])
        .args(["--no-custom-instructions", "--log-level", "debug"])
        .arg("--log-dir")
        .arg(&logs)
        .current_dir(workdir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("COPILOT_HOME", home.join(".copilot"))
        .env("COPILOT_OFFLINE", "true")
        .env(
            "COPILOT_PROVIDER_BASE_URL",
            format!("{}/v1", server.base_url()),
        )
        .env("COPILOT_PROVIDER_API_KEY", API_KEY)
        .env("COPILOT_MODEL", MODEL)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        // Files, not pipes: a stray grandchild holding a pipe open cannot stall the test,
        // and the output is still there to show when the run times out.
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command.spawn().expect("spawn the copilot CLI");
    let _group = child
        .id()
        .and_then(|id| rustix::process::Pid::from_raw(i32::try_from(id).ok()?))
        .map(ProcessGroup);

    let started = Instant::now();
    let waited = tokio::time::timeout(HANG_GUARD, child.wait()).await;
    let read = |path: &Path| std::fs::read_to_string(path).unwrap_or_default();
    let status = match waited {
        Ok(status) => status.expect("wait for the copilot CLI"),
        Err(_) => panic!(
            "the copilot CLI did not finish within {HANG_GUARD:?}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--- logs ---\n{}",
            read(&stdout_path),
            read(&stderr_path),
            read_logs(&logs)
        ),
    };
    eprintln!("copilot CLI run took {:?}", started.elapsed());
    Run {
        status,
        stdout: read(&stdout_path),
        stderr: read(&stderr_path),
        logs: read_logs(&logs),
    }
}

/// Checks every request the CLI sent: only routes the fake serves, the configured key, the
/// configured model, and bodies (and the fake's answers) that validate against the OpenAI
/// schemas. Returns the chat requests.
fn assert_spoke_the_dialect(server: &FakeModelServer, run: &Run) -> Vec<RecordedRequest> {
    let requests = server.requests();
    let unserved: Vec<String> = requests
        .iter()
        .filter(|r| !SERVED_PATHS.contains(&r.path.as_str()))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(
        unserved.is_empty(),
        "the CLI asked for routes the fake does not serve: {unserved:?}\n{}",
        run.describe()
    );
    let violations = server.schema_violations();
    assert!(
        violations.is_empty(),
        "schema violations: {violations:#?}\n{}",
        run.describe()
    );
    let chats = server.chat_requests();
    assert!(!chats.is_empty(), "no chat request\n{}", run.describe());
    for chat in &chats {
        assert_eq!(chat.path, "/v1/chat/completions");
        assert_eq!(
            chat.header("authorization"),
            Some(format!("Bearer {API_KEY}").as_str())
        );
        assert_eq!(chat.body["model"], MODEL, "{}", chat.body);
    }
    chats
}

fn messages(request: &RecordedRequest) -> &[Value] {
    request.body["messages"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

#[tokio::test]
async fn real_copilot_cli_prints_the_answer_the_fake_model_scripted() {
    let cli = match copilot_cli() {
        Ok(cli) => cli,
        Err(reason) => {
            eprintln!("skipped: {reason}");
            return;
        }
    };
    let server = FakeModelServer::builder()
        .api_key(API_KEY)
        .start()
        .await
        .expect("start fake");
    let answer = "The secret word is PINEAPPLE-42.";
    server.enqueue(Reply::text(answer));
    let workdir = tempfile::tempdir().expect("workdir");

    let run = run_copilot(&cli, &server, workdir.path(), "What is the secret word?").await;

    assert!(run.status.success(), "{}", run.describe());
    assert!(run.stdout.contains(answer), "{}", run.describe());
    let chats = assert_spoke_the_dialect(&server, &run);
    let first = messages(&chats[0]);
    assert_eq!(first.first().map(|m| &m["role"]), Some(&json!("system")));
    let user = first
        .iter()
        .find(|m| m["role"] == "user")
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default();
    assert!(
        user.contains("What is the secret word?"),
        "{}",
        chats[0].body
    );
}

#[tokio::test]
async fn real_copilot_cli_runs_a_streamed_tool_call_and_returns_its_result() {
    let cli = match copilot_cli() {
        Ok(cli) => cli,
        Err(reason) => {
            eprintln!("skipped: {reason}");
            return;
        }
    };
    let server = FakeModelServer::builder()
        .api_key(API_KEY)
        .start()
        .await
        .expect("start fake");
    let workdir = tempfile::tempdir().expect("workdir");
    let target = workdir.path().join("greeting.txt");
    let arguments = json!({"path": target, "file_text": "hello from the fake model\n"});
    // `create` is the CLI's built-in file-creation tool; the arguments arrive in 5-character
    // deltas the CLI has to reassemble.
    server.enqueue(Reply::tool_call("call_create_1", "create", arguments.to_string()).chunked(5));
    server.enqueue(Reply::text("Created greeting.txt."));

    let run = run_copilot(&cli, &server, workdir.path(), "Create greeting.txt.").await;

    assert!(run.status.success(), "{}", run.describe());
    assert!(
        run.stdout.contains("Created greeting.txt."),
        "{}",
        run.describe()
    );
    assert_eq!(
        std::fs::read_to_string(&target).ok().as_deref(),
        Some("hello from the fake model\n"),
        "{}",
        run.describe()
    );
    let chats = assert_spoke_the_dialect(&server, &run);
    let follow_up = chats
        .iter()
        .find(|c| messages(c).iter().any(|m| m["role"] == "tool"))
        .unwrap_or_else(|| panic!("no request carried the tool result\n{}", run.describe()));
    let history = messages(follow_up);
    let call = history
        .iter()
        .find_map(|m| m["tool_calls"].as_array()?.first())
        .unwrap_or_else(|| {
            panic!(
                "the assistant's tool call was not sent back: {}",
                follow_up.body
            )
        });
    assert_eq!(call["id"], "call_create_1");
    assert_eq!(call["function"]["name"], "create");
    let sent: Value = call["function"]["arguments"]
        .as_str()
        .and_then(|a| serde_json::from_str(a).ok())
        .unwrap_or_default();
    assert_eq!(sent, arguments, "the reassembled arguments");
    let result = history
        .iter()
        .find(|m| m["role"] == "tool")
        .expect("tool message");
    assert_eq!(result["tool_call_id"], "call_create_1");
}
