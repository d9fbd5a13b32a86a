//! Command behaviours: exit codes, stdin, stderr, env, streaming, bounds, timeouts.

use agentbox_core::exec::{ExecChunk, ExecRequest, ExitStatus};
use futures::StreamExt;
use std::time::Duration;

use super::{Outcome, Suite};

/// Exit codes are reported exactly; success is code 0 only.
pub async fn exit_codes(suite: &Suite) -> Outcome {
    let ws = suite.running("exit-codes").await;
    for code in [0, 1, 3, 127] {
        let out = ws
            .executor
            .exec(ExecRequest::new(["sh", "-c", &format!("exit {code}")]))
            .await
            .expect("exec");
        assert_eq!(
            out.exit,
            ExitStatus::Code(code),
            "{}: exit {code}",
            ws.provider.backend()
        );
    }
    let out = ws
        .executor
        .exec(ExecRequest::new(["sh", "-c", "kill -9 $$"]))
        .await
        .expect("exec");
    assert!(!out.exit.success(), "a killed command is not a success");
    let missing = ws
        .executor
        .exec(ExecRequest::new(["no-such-program-agentbox"]))
        .await;
    if let Ok(out) = missing {
        assert!(!out.exit.success(), "a missing program is not a success");
    }
    ws.delete().await;
    Outcome::Passed
}

/// Bytes given as stdin reach the command unchanged, binary included.
pub async fn stdin_is_delivered(suite: &Suite) -> Outcome {
    let ws = suite.running("stdin-is-delivered").await;
    let input: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    let out = ws
        .executor
        .exec(ExecRequest::new(["cat"]).stdin(input.clone()))
        .await
        .expect("exec");
    assert!(out.exit.success());
    assert!(
        out.stdout == input,
        "{}: stdin round trip differs",
        ws.provider.backend()
    );
    ws.delete().await;
    Outcome::Passed
}

/// stdout and stderr arrive separately where the backend can separate them.
pub async fn stderr_is_separate(suite: &Suite) -> Outcome {
    if !suite.capabilities().separate_streams {
        return Outcome::Skipped("the backend combines stdout and stderr".into());
    }
    let ws = suite.running("stderr-is-separate").await;
    let out = ws
        .executor
        .exec(ExecRequest::new([
            "sh",
            "-c",
            "echo out; echo err >&2; exit 2",
        ]))
        .await
        .expect("exec");
    assert_eq!(out.stdout_text(), "out\n");
    assert_eq!(out.stderr_text(), "err\n");
    assert_eq!(out.exit, ExitStatus::Code(2));
    ws.delete().await;
    Outcome::Passed
}

/// The contract's env, the request's env and cwd all apply; the default cwd is the workdir.
pub async fn env_and_cwd(suite: &Suite) -> Outcome {
    let ws = suite.running("env-and-cwd").await;
    let ex = &ws.executor;
    let out = ex.exec(ExecRequest::new(["pwd"])).await.expect("pwd");
    assert_eq!(
        out.stdout_text().trim(),
        suite.contract.workdir(),
        "default cwd is the workdir"
    );

    let mkdir = ExecRequest::new(["mkdir", "-p", "sub/dir"]);
    assert!(ex.exec(mkdir).await.expect("mkdir").exit.success());
    let out = ex
        .exec(ExecRequest::new(["pwd"]).cwd("sub/dir"))
        .await
        .expect("pwd");
    assert_eq!(
        out.stdout_text().trim(),
        format!("{}/sub/dir", suite.contract.workdir())
    );

    let env = ExecRequest::new(["sh", "-c", "printf '%s|%s' \"$SUITE_GREETING\" \"$EXTRA\""])
        .env("EXTRA", "x y");
    let out = ex.exec(env).await.expect("env");
    let greeting = suite
        .contract
        .spec
        .env
        .values()
        .next()
        .cloned()
        .unwrap_or_default();
    assert_eq!(out.stdout_text(), format!("{greeting}|x y"));
    ws.delete().await;
    Outcome::Passed
}

/// Arguments are passed as they are: no shell expands `$`, `;`, quotes or globs in them.
pub async fn argv_is_not_interpreted_by_a_shell(suite: &Suite) -> Outcome {
    let ws = suite.running("argv-is-not-interpreted").await;
    let tricky = [
        "$HOME",
        "a;b",
        "'q'",
        "\"dq\"",
        "*",
        "$(id)",
        "line\nbreak",
        " lead",
    ];
    let mut argv = vec!["printf".to_owned(), "%s\\0".to_owned()];
    argv.extend(tricky.iter().map(|s| s.to_string()));
    let out = ws
        .executor
        .exec(ExecRequest::new(argv))
        .await
        .expect("exec");
    let got: Vec<String> = out
        .stdout
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    assert_eq!(
        got,
        tricky,
        "{}: argv reached the program unchanged",
        ws.provider.backend()
    );
    ws.delete().await;
    Outcome::Passed
}

/// A streaming command delivers output before it exits, and ends with its exit status.
pub async fn output_streams_before_exit(suite: &Suite) -> Outcome {
    let ws = suite.running("output-streams-before-exit").await;
    // The command prints, then waits for a file that only appears after we saw the output.
    let script = "echo ready; while [ ! -f go ]; do sleep 0.05; done; echo done";
    let mut stream = ws
        .executor
        .exec_stream(ExecRequest::new(["sh", "-c", script]).timeout(Duration::from_secs(30)))
        .await
        .expect("exec_stream");
    let first = stream.next().await.expect("a first chunk").expect("chunk");
    assert_eq!(
        first,
        ExecChunk::Stdout("ready\n".into()),
        "output arrives before exit"
    );
    let touch = ExecRequest::new(["touch", "go"]);
    assert!(ws.executor.exec(touch).await.expect("touch").exit.success());
    let mut rest = Vec::new();
    let mut exit = None;
    while let Some(chunk) = stream.next().await {
        match chunk.expect("chunk") {
            ExecChunk::Stdout(b) => rest.extend_from_slice(&b),
            ExecChunk::Stderr(_) => {}
            ExecChunk::Exit(status) => exit = Some(status),
        }
    }
    assert_eq!(String::from_utf8_lossy(&rest), "done\n");
    assert_eq!(
        exit,
        Some(ExitStatus::Code(0)),
        "the stream ends with the exit status"
    );
    ws.delete().await;
    Outcome::Passed
}

/// Output beyond the limit is cut and flagged, not buffered without bound.
pub async fn output_is_bounded(suite: &Suite) -> Outcome {
    let ws = suite.running("output-is-bounded").await;
    let req = ExecRequest::new(["sh", "-c", "head -c 3000000 /dev/zero"]).output_limit(64 * 1024);
    let out = ws.executor.exec(req).await.expect("exec");
    assert!(out.exit.success());
    assert_eq!(out.stdout.len(), 64 * 1024);
    assert!(out.stdout_truncated && out.truncated());
    ws.delete().await;
    Outcome::Passed
}

/// A timeout kills the command and everything it started, not just the direct child.
pub async fn timeout_kills_children(suite: &Suite) -> Outcome {
    let ws = suite.running("timeout-kills-children").await;
    let script = "(sleep 2; touch marker) & sleep 100";
    let req = ExecRequest::new(["sh", "-c", script]).timeout(Duration::from_millis(500));
    let out = ws.executor.exec(req).await.expect("exec");
    assert_eq!(
        out.exit,
        ExitStatus::TimedOut,
        "{}: the timeout is reported",
        ws.provider.backend()
    );
    // Had the background child survived, it would create the marker after two seconds.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let check = ws
        .executor
        .exec(ExecRequest::new([
            "sh",
            "-c",
            "test -e marker && echo survived || echo killed",
        ]))
        .await
        .expect("check");
    assert_eq!(
        check.stdout_text(),
        "killed\n",
        "{}: a grandchild outlived the timeout",
        ws.provider.backend()
    );
    ws.delete().await;
    Outcome::Passed
}
