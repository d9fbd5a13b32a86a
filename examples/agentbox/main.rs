//! The `agentbox` command line, as an example of the library in use.
//!
//! ```sh
//! cargo run --example agentbox -- run examples/agentbox.yaml --source examples/demo
//! cargo run --example agentbox -- validate examples/agentbox.yaml
//! cargo run --example agentbox -- schema
//! cargo run --example agentbox -- generate examples/agentbox.yaml --out /tmp/ws [--target devfile] [--cilium] [--strict]
//! cargo run --example agentbox -- check examples/agentbox.yaml --out /tmp/ws
//! cargo run --example agentbox -- import .devcontainer/devcontainer.json
//! ```
//!
//! Exit codes: 0 success, 1 the contract's tests failed (`run`) or the files drifted (`check`),
//! 2 bad input (nothing was provisioned or written).

mod generate;

use agentbox::contract::{Contract, LoadOptions, Severity};
use agentbox::evidence::{
    EvidenceEvent, FsEvidenceSink, RunInfo, RunOutcome, TestOutcome, TestResult,
};
use agentbox::exec::{ExecChunk, ExecOutput, ExecRequest, OutputStreams};
use agentbox::local::{Isolation, LocalProvider};
use agentbox::progress::{Progress, ProgressEvent};
use agentbox::provider::{CreateRequest, WorkspaceInfo};
use agentbox::{Error, EvidenceSink, Executor, WorkspaceProvider};
use clap::{Parser, Subcommand};
use futures::StreamExt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "agentbox",
    about = "Provision agent workspaces from an environment contract"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Provision a local workspace, run the contract's `test` command, write evidence, clean up.
    Run {
        /// The contract file.
        contract: PathBuf,
        /// A directory whose files are copied into the workspace's workdir first.
        #[arg(long)]
        source: Option<PathBuf>,
        /// Where evidence runs are written.
        #[arg(long, default_value = "target/agentbox-evidence")]
        evidence: PathBuf,
        /// Where local workspaces live (default: the provider's state directory).
        #[arg(long)]
        root: Option<PathBuf>,
        /// Keep the (stopped) workspace instead of deleting it.
        #[arg(long)]
        keep: bool,
        /// Treat contract warnings as errors.
        #[arg(long)]
        strict: bool,
        /// Run without a sandbox when bubblewrap is missing (commands then see the whole host).
        #[arg(long)]
        unisolated: bool,
    },
    /// Validate a contract and print every problem with its line and column.
    Validate {
        /// The contract file.
        contract: PathBuf,
        /// Treat warnings as errors.
        #[arg(long)]
        strict: bool,
    },
    /// Print the contract's JSON Schema.
    Schema,
    /// Write devcontainer.json, devfile.yaml, the DevWorkspace, the NetworkPolicy and AGENTS.md.
    Generate(generate::GenerateArgs),
    /// Exit 1, with a unified diff per file, when the files on disk are not what `generate` writes.
    Check(generate::CheckArgs),
    /// Print a contract made from a devcontainer.json or a devfile.yaml.
    Import {
        /// The devcontainer `.json` or devfile `.yaml` to import.
        file: PathBuf,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Schema => {
            println!("{:#}", Contract::json_schema());
            ExitCode::SUCCESS
        }
        Command::Generate(args) => generate::generate(&args),
        Command::Check(args) => generate::check(&args),
        Command::Import { file } => generate::import(&file),
        Command::Validate { contract, strict } => match load(&contract, strict) {
            Some(c) => {
                println!("{}: valid (hash {})", contract.display(), c.hash());
                ExitCode::SUCCESS
            }
            None => ExitCode::from(2),
        },
        Command::Run {
            contract,
            source,
            evidence,
            root,
            keep,
            strict,
            unisolated,
        } => {
            let Some(contract) = load(&contract, strict) else {
                return ExitCode::from(2);
            };
            let options = RunOptions {
                source,
                evidence,
                root,
                keep,
                unisolated,
            };
            match run(contract, options).await {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::from(1),
                Err(e) => {
                    eprintln!("error: {e}");
                    let mut source = std::error::Error::source(&e);
                    while let Some(s) = source {
                        eprintln!("  caused by: {s}");
                        source = s.source();
                    }
                    ExitCode::from(2)
                }
            }
        }
    }
}

/// Load a contract, printing warnings, or every problem when it is invalid.
pub(crate) fn load(path: &Path, strict: bool) -> Option<Contract> {
    let options = if strict {
        LoadOptions::strict()
    } else {
        LoadOptions::default()
    };
    match Contract::load(path, &options) {
        Ok(contract) => {
            for w in contract.warnings() {
                eprintln!("{}:{w}", path.display());
            }
            Some(contract)
        }
        Err(Error::InvalidContract { problems, .. }) => {
            for p in &problems {
                eprintln!("{}:{p}", path.display());
            }
            let errors = problems
                .iter()
                .filter(|p| p.severity == Severity::Error)
                .count();
            eprintln!(
                "{}: {errors} error(s); nothing was written or provisioned",
                path.display()
            );
            None
        }
        Err(e) => {
            eprintln!("error: {e}");
            None
        }
    }
}

struct RunOptions {
    source: Option<PathBuf>,
    evidence: PathBuf,
    root: Option<PathBuf>,
    keep: bool,
    unisolated: bool,
}

/// The main job: provision, copy the source in, test, suspend, delete — with evidence always
/// written and the workspace always cleaned up.
async fn run(contract: Contract, options: RunOptions) -> agentbox::Result<bool> {
    let started = Instant::now();
    let progress = Progress::new(Arc::new(move |event: &ProgressEvent| show(started, event)));
    let mut builder = LocalProvider::builder().progress(progress);
    if let Some(root) = &options.root {
        builder = builder.root(root);
    }
    if options.unisolated {
        builder = builder.isolation(Isolation::None);
    }
    let provider = builder.build()?;
    let sink = FsEvidenceSink::create(
        &options.evidence,
        RunInfo {
            contract_hash: Some(contract.hash().to_owned()),
            backend: Some(provider.backend().to_owned()),
            ..RunInfo::default()
        },
    )
    .await?;
    eprintln!(
        "evidence run {} in {}",
        sink.run_id(),
        sink.run_dir().display()
    );

    let info = provider.create(&contract, CreateRequest::default()).await?;
    sink.note_workspace(&info.id).await?;
    lifecycle(&sink, &info, "create").await?;

    let outcome = work(
        &provider,
        &contract,
        &info,
        &sink,
        options.source.as_deref(),
    )
    .await;

    // Cleanup always runs: suspend (storage kept), then delete unless asked to keep it.
    let mut cleanup = Ok(());
    if let Err(e) = provider.stop(&info.id).await {
        cleanup = Err(e);
    } else {
        lifecycle(&sink, &provider.status(&info.id).await?, "stop").await?;
    }
    if !options.keep {
        if let Err(e) = provider.delete(&info.id).await {
            cleanup = Err(e);
        } else {
            sink.record(EvidenceEvent::Lifecycle {
                workspace: info.id.to_string(),
                operation: "delete".into(),
                phase: None,
                message: None,
            })
            .await?;
        }
    } else {
        eprintln!("kept workspace {} (stopped)", info.id);
    }

    let run_outcome = match &outcome {
        Ok(true) => RunOutcome::Succeeded,
        Ok(false) => RunOutcome::Failed {
            reason: "the contract's tests failed".into(),
        },
        Err(e) => RunOutcome::Failed {
            reason: e.to_string(),
        },
    };
    let record = sink.finish(run_outcome).await?;
    println!("evidence: {}", sink.run_dir().display());
    println!(
        "tests: {} passed, {} failed; outcome: {:?}",
        record.tests.passed, record.tests.failed, record.outcome
    );
    cleanup?;
    outcome
}

/// Start the workspace, copy the source in, run the contract's test command.
async fn work(
    provider: &LocalProvider,
    contract: &Contract,
    info: &WorkspaceInfo,
    sink: &FsEvidenceSink,
    source: Option<&Path>,
) -> agentbox::Result<bool> {
    provider.start(&info.id).await?;
    let ready = provider
        .wait_ready(&info.id, Duration::from_secs(60))
        .await?;
    lifecycle(sink, &ready, "start").await?;
    let executor = provider.executor(&info.id).await?;

    if let Some(dir) = source {
        for (relative, host) in files_under(dir)? {
            let file = tokio::fs::File::open(&host)
                .await
                .map_err(|source| Error::Io {
                    action: "open a source file",
                    path: host.clone(),
                    source,
                })?;
            let written = executor.write_file(&relative, Box::new(file)).await?;
            sink.record(EvidenceEvent::FileWritten {
                workspace: info.id.to_string(),
                path: written.path,
                bytes: written.bytes,
                sha256: written.sha256,
            })
            .await?;
        }
    }

    let Some((name, command)) = contract
        .spec
        .commands
        .iter()
        .find(|(name, _)| name.as_str() == "test")
    else {
        sink.record(EvidenceEvent::Note {
            message: "the contract has no `test` command".into(),
        })
        .await?;
        return Ok(true);
    };
    let mut request =
        ExecRequest::new(["sh", "-c", command.run.as_str()]).timeout(Duration::from_secs(600));
    if let Some(dir) = &command.workdir {
        request = request.cwd(dir.clone());
    }
    sink.record(EvidenceEvent::ExecStarted {
        workspace: info.id.to_string(),
        argv: request.argv.clone(),
        cwd: request.cwd.clone(),
    })
    .await?;
    let output = stream_to_terminal(&*executor, request.clone()).await?;
    sink.record(EvidenceEvent::ExecFinished {
        workspace: info.id.to_string(),
        argv: request.argv.clone(),
        exit: output.exit,
        duration_ms: output.duration.as_millis() as u64,
        stdout: output.stdout_text(),
        stderr: output.stderr_text(),
        truncated: output.truncated(),
    })
    .await?;
    let passed = output.exit.success();
    let mut result = TestResult::new(
        "contract",
        name.as_str(),
        if passed {
            TestOutcome::Passed
        } else {
            TestOutcome::Failed
        },
        output.duration,
    );
    if !passed {
        result.message = Some(format!("`{}` ended with {}", command.run, output.exit));
    }
    result.output = Some(format!("{}{}", output.stdout_text(), output.stderr_text()));
    sink.record(EvidenceEvent::Test(result)).await?;
    Ok(passed)
}

/// Run a command, showing its output as it comes, and collect it.
async fn stream_to_terminal(
    executor: &dyn Executor,
    request: ExecRequest,
) -> agentbox::Result<ExecOutput> {
    let limit = request.output_limit;
    let started = Instant::now();
    let mut stream = executor.exec_stream(request).await?;
    let mut output = ExecOutput::empty(OutputStreams::Separate);
    while let Some(chunk) = stream.next().await {
        match chunk? {
            ExecChunk::Stdout(b) => {
                let _ = std::io::stdout().write_all(&b);
                output.push_stdout(&b, limit);
            }
            ExecChunk::Stderr(b) => {
                let _ = std::io::stderr().write_all(&b);
                output.push_stderr(&b, limit);
            }
            ExecChunk::Exit(status) => output.exit = status,
        }
    }
    output.duration = started.elapsed();
    Ok(output)
}

async fn lifecycle(
    sink: &FsEvidenceSink,
    info: &WorkspaceInfo,
    operation: &str,
) -> agentbox::Result<()> {
    sink.record(EvidenceEvent::Lifecycle {
        workspace: info.id.to_string(),
        operation: operation.into(),
        phase: Some(info.phase),
        message: info.message.clone(),
    })
    .await
}

/// Every regular file under `dir`, with its path relative to `dir`, in a stable order.
fn files_under(dir: &Path) -> agentbox::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current).map_err(|source| Error::Io {
            action: "list the source directory",
            path: current.clone(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| Error::Io {
                action: "list the source directory",
                path: current.clone(),
                source,
            })?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|source| Error::Io {
                action: "inspect a source file",
                path: path.clone(),
                source,
            })?;
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file()
                && let Ok(rel) = path.strip_prefix(dir)
            {
                out.push((rel.to_string_lossy().into_owned(), path.clone()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Show progress events as a live log.
fn show(started: Instant, event: &ProgressEvent) {
    let t = started.elapsed().as_secs_f64();
    match event {
        ProgressEvent::Workspace {
            workspace,
            phase,
            message,
            ..
        } => {
            let phase = phase.map_or("deleted".to_owned(), |p| p.to_string());
            let message = message
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default();
            eprintln!("[{t:6.2}s] workspace {workspace}: {phase}{message}");
        }
        ProgressEvent::ExecStarted { program, .. } => eprintln!("[{t:6.2}s] $ {program} …"),
        ProgressEvent::ExecFinished {
            program,
            exit,
            duration_ms,
            ..
        } => {
            eprintln!("[{t:6.2}s] $ {program}: {exit} in {duration_ms} ms")
        }
        ProgressEvent::Transfer {
            path,
            bytes,
            direction,
            ..
        } => {
            eprintln!("[{t:6.2}s] {direction} {path} ({bytes} bytes)")
        }
        ProgressEvent::Warning { message, .. } => eprintln!("[{t:6.2}s] warning: {message}"),
        other => eprintln!("[{t:6.2}s] {other:?}"),
    }
}
