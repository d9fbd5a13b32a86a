//! The generator's output against the real tools that read it, pinned in
//! `tests/peers/package.json`:
//!
//! - `@eclipse-che/che-devworkspace-generator`, what Eclipse Che runs to turn a repository's
//!   devfile into a DevWorkspace, must accept every generated `devfile.yaml` (it validates it
//!   against the official Devfile schema of its `schemaVersion`, and fails otherwise), and
//!   the DevWorkspace it makes from it must agree with the one we generate.
//! - `@devcontainers/cli read-configuration` must read every generated
//!   `.devcontainer/devcontainer.json` with the reference JSONC parser and report what we
//!   wrote, with our `${localEnv:…}` references resolved the way it resolves them. It
//!   validates almost nothing, so schema validation stays with the generator's own tests.
//!
//! Every contract in `crates/agentbox-core/tests/contracts/` that loads is generated and run
//! through both. The tools run offline on local files, with a throwaway `HOME` and nothing
//! from the environment but `PATH`: che-devworkspace-generator with a minimal local editor
//! definition (`tests/peers/editor.yaml`), the devcontainers CLI with a stand-in for the
//! docker CLI (`tests/peers/docker-stub.sh`) so that no Docker engine is needed.
//!
//! Optional: skipped, with the reason printed, when `node` is not on `PATH` or the tools are
//! not installed (`npm ci --prefix tests/peers` installs them).
#![cfg(unix)]

use agentbox::contract::{Contract, LoadOptions};
use agentbox::generate::{self, GenerateOptions, Target};
use futures::stream::{self, StreamExt};
use serde_json::Value;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Longer than any healthy run (under a second each); a run that reaches it has hung.
const HANG_GUARD: Duration = Duration::from_secs(120);
/// Tool runs at once: the machines this runs on may have two cores.
const CONCURRENCY: usize = 2;

// Where `agentbox generate --out <dir>` puts the files the tools read.
const DEVFILE: &str = "devfile.yaml";
const DEVWORKSPACE: &str = ".agentbox/devworkspace.yaml";
const DEVCONTAINER: &str = ".devcontainer/devcontainer.json";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The installed tools, or why the tests cannot run.
struct Peers {
    node: PathBuf,
    che_generator: PathBuf,
    devcontainer_cli: PathBuf,
    editor: PathBuf,
    docker_stub: PathBuf,
}

impl Peers {
    fn find() -> Result<Self, String> {
        let node = std::env::var_os("PATH")
            .and_then(|path| {
                std::env::split_paths(&path)
                    .map(|dir| dir.join("node"))
                    .find(|node| node.is_file())
            })
            .ok_or("`node` is not on PATH; install Node.js, then `npm ci --prefix tests/peers`")?;
        let peers = root().join("tests/peers");
        let modules = peers.join("node_modules");
        let found = Self {
            node,
            che_generator: modules
                .join("@eclipse-che/che-devworkspace-generator/lib/entrypoint.js"),
            devcontainer_cli: modules.join("@devcontainers/cli/devcontainer.js"),
            editor: peers.join("editor.yaml"),
            docker_stub: peers.join("docker-stub.sh"),
        };
        for tool in [&found.che_generator, &found.devcontainer_cli] {
            if !tool.is_file() {
                return Err(format!(
                    "{} is not installed; run `npm ci --prefix tests/peers` in the workspace root",
                    tool.display()
                ));
            }
        }
        Ok(found)
    }
}

/// One contract, generated into a directory laid out as `agentbox generate --out` lays it.
struct Case {
    name: String,
    dir: TempDir,
}

impl Case {
    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.path(file))
            .unwrap_or_else(|e| panic!("{}: read the generated {file}: {e}", self.name))
    }
}

/// Every contract fixture that loads, generated for all targets. A fixture that does not
/// load is there to test the loader's errors, and is left out with a note.
fn cases() -> Vec<Case> {
    let fixtures = root().join("crates/agentbox-core/tests/contracts");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&fixtures)
        .unwrap_or_else(|e| panic!("list {}: {e}", fixtures.display()))
        .map(|entry| entry.expect("read a fixture entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    paths.sort();
    let mut cases = Vec::new();
    for path in paths {
        let name = path
            .file_stem()
            .expect("fixture file name")
            .to_string_lossy()
            .into_owned();
        let contract = match Contract::load(&path, &LoadOptions::default()) {
            Ok(contract) => contract,
            Err(_) => {
                eprintln!("{name}: not generated: it does not load (the loader's tests use it)");
                continue;
            }
        };
        let generated = generate::generate(&contract, &[Target::All], &GenerateOptions::default())
            .unwrap_or_else(|e| panic!("{name}: a contract that loads must generate: {e}"));
        let dir = tempfile::tempdir().expect("case dir");
        generated
            .write_to(dir.path())
            .unwrap_or_else(|e| panic!("{name}: write the generated files: {e}"));
        cases.push(Case { name, dir });
    }
    assert!(
        cases.iter().any(|case| case.name == "ruby-agent"),
        "the ruby-agent contract must be among the cases; fixtures: {}",
        fixtures.display()
    );
    cases
}

/// One finished run of a tool.
struct Run {
    success: bool,
    stdout: String,
    stderr: String,
}

impl Run {
    fn describe(&self) -> String {
        format!(
            "--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout, self.stderr
        )
    }
}

/// Runs `node <script> <args>` in `cwd` with a fresh `HOME` and `TMPDIR`, nothing else
/// inherited but `PATH`, plus `env`. A run that outlives [`HANG_GUARD`] is killed (dropping
/// the child kills it) and reported as an error.
async fn run_node(
    peers: &Peers,
    script: &Path,
    args: Vec<OsString>,
    cwd: &Path,
    env: &BTreeMap<String, String>,
) -> Result<Run, String> {
    let scratch = tempfile::tempdir().expect("scratch dir");
    let mut command = tokio::process::Command::new(&peers.node);
    command
        .arg(script)
        .args(&args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", scratch.path())
        .env("TMPDIR", scratch.path())
        .envs(env)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(HANG_GUARD, command.output())
        .await
        .map_err(|_| {
            format!(
                "{} {args:?} did not finish within {HANG_GUARD:?}",
                script.display()
            )
        })?
        .map_err(|e| format!("run {}: {e}", script.display()))?;
    Ok(Run {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// Runs `check` on every case, [`CONCURRENCY`] at a time, and fails with every case's
/// problems at once.
async fn check_all<'a, F, Fut>(cases: &'a [Case], check: F)
where
    F: Fn(&'a Case) -> Fut,
    Fut: Future<Output = Vec<String>>,
{
    let started = Instant::now();
    let problems: Vec<String> = stream::iter(cases)
        .map(|case| {
            let check = &check;
            async move {
                check(case)
                    .await
                    .into_iter()
                    .map(|problem| format!("{}: {problem}", case.name))
                    .collect::<Vec<_>>()
            }
        })
        .buffer_unordered(CONCURRENCY)
        .flat_map(stream::iter)
        .collect()
        .await;
    eprintln!("{} cases took {:?}", cases.len(), started.elapsed());
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// Every place where `ours` and `theirs` differ, as `path: ours … / theirs …` lines.
fn differences(path: &str, ours: &Value, theirs: &Value, out: &mut Vec<String>) {
    match (ours, theirs) {
        (Value::Object(a), Value::Object(b)) => {
            for key in a.keys().chain(b.keys().filter(|key| !a.contains_key(*key))) {
                let at = format!("{path}.{key}");
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => differences(&at, x, y, out),
                    (x, y) => out.push(format!(
                        "{at}: ours {} / theirs {}",
                        x.map_or("(absent)".into(), Value::to_string),
                        y.map_or("(absent)".into(), Value::to_string)
                    )),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                differences(&format!("{path}[{i}]"), x, y, out);
            }
        }
        _ if ours == theirs => {}
        _ => out.push(format!("{path}: ours {ours} / theirs {theirs}")),
    }
}

/// The first document of `kind` in a (multi-document) YAML text.
fn document_of_kind(yaml: &str, kind: &str) -> Result<Value, String> {
    let documents: Vec<Value> =
        serde_saphyr::from_multiple(yaml).map_err(|e| format!("parse YAML: {e}"))?;
    documents
        .into_iter()
        .find(|document| document["kind"] == kind)
        .ok_or_else(|| format!("no {kind} document in:\n{yaml}"))
}

/// Runs che-devworkspace-generator on the case's devfile and compares its DevWorkspace with
/// ours.
///
/// The tool's DevWorkspace is the devfile minus `schemaVersion` and `metadata` as
/// `spec.template` (with `metadata.attributes` merged into `attributes`), `spec.started: true`,
/// `spec.routingClass: che`, and `metadata.name` from the devfile's. What is not compared, and
/// why:
/// - `spec.contributions`: the tool adds the editor there (a reference to the
///   DevWorkspaceTemplate it makes from `editor.yaml`); which editor a workspace gets is Che's
///   choice at start time, not the contract's.
/// - `metadata` other than `name`: ours may carry labels and annotations the tool has no
///   source for; the tool adds none for a local devfile.
/// - The tool's DevWorkspaceTemplate document: it is the editor definition, not ours.
async fn check_che_generator(peers: &Peers, case: &Case) -> Vec<String> {
    let scratch = tempfile::tempdir().expect("scratch dir");
    let output = scratch.path().join("devworkspace.yaml");
    let arg = |flag: &str, path: &Path| {
        let mut arg = OsString::from(flag);
        arg.push(path);
        arg
    };
    let args = vec![
        arg("--devfile-path:", &case.path(DEVFILE)),
        arg("--editor-path:", &peers.editor),
        arg("--output-file:", &output),
    ];
    let run = match run_node(
        peers,
        &peers.che_generator,
        args,
        scratch.path(),
        &BTreeMap::new(),
    )
    .await
    {
        Ok(run) => run,
        Err(e) => return vec![e],
    };
    if !run.success {
        return vec![format!(
            "che-devworkspace-generator rejected {DEVFILE}:\n{}\n--- {DEVFILE} ---\n{}",
            run.describe(),
            case.read(DEVFILE)
        )];
    }
    let theirs = match std::fs::read_to_string(&output)
        .map_err(|e| format!("read the tool's output: {e}"))
        .and_then(|yaml| document_of_kind(&yaml, "DevWorkspace"))
    {
        Ok(theirs) => theirs,
        Err(e) => return vec![format!("che-devworkspace-generator: {e}")],
    };
    let ours = match document_of_kind(&case.read(DEVWORKSPACE), "DevWorkspace") {
        Ok(ours) => ours,
        Err(e) => return vec![format!("{DEVWORKSPACE}: {e}")],
    };
    let mut found = Vec::new();
    for pointer in [
        "/metadata/name",
        "/spec/started",
        "/spec/routingClass",
        "/spec/template",
    ] {
        differences(
            &pointer[1..].replace('/', "."),
            ours.pointer(pointer).unwrap_or(&Value::Null),
            theirs.pointer(pointer).unwrap_or(&Value::Null),
            &mut found,
        );
    }
    if found.is_empty() {
        return Vec::new();
    }
    vec![format!(
        "our DevWorkspace and che-devworkspace-generator's disagree:\n{}",
        found.join("\n")
    )]
}

/// The environment variables a devcontainer.json reads from the host (`${localEnv:NAME}`,
/// `${localEnv:NAME:default}`, or the older `${env:NAME}`), each with a value planted for
/// the test.
fn planted_host_env(devcontainer: &str) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for prefix in ["${localEnv:", "${env:"] {
        for (at, _) in devcontainer.match_indices(prefix) {
            let rest = &devcontainer[at + prefix.len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                let value = format!("planted-{name}-value");
                env.insert(name, value);
            }
        }
    }
    env
}

/// The variables a devcontainer.json may still hold after `read-configuration`: those
/// resolved in the container, or once it exists.
const CONTAINER_VARIABLES: [&str; 4] = [
    "containerEnv",
    "containerWorkspaceFolder",
    "containerWorkspaceFolderBasename",
    "devcontainerId",
];

/// Every string in `value`, with its path.
fn strings<'a>(path: String, value: &'a Value, out: &mut Vec<(String, &'a str)>) {
    match value {
        Value::String(text) => out.push((path, text)),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                strings(format!("{path}[{i}]"), item, out);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                strings(format!("{path}.{key}"), item, out);
            }
        }
        _ => {}
    }
}

/// `value` with the variables `devcontainer read-configuration` resolves on the host replaced
/// by what they resolve to (containers.dev, "Variables in devcontainer.json"): host
/// environment variables from `env`, and the workspace folder. Variables resolved in the
/// container (`${containerEnv:…}`, `${containerWorkspaceFolder}`) are left as they are.
fn resolve_host_variables(value: &Value, env: &BTreeMap<String, String>, folder: &Path) -> Value {
    let resolve = |inner: &str| -> Option<String> {
        let mut parts = inner.split(':');
        match parts.next()? {
            "localEnv" | "env" => {
                let name = parts.next()?;
                Some(
                    env.get(name)
                        .cloned()
                        .unwrap_or_else(|| parts.next().unwrap_or_default().to_owned()),
                )
            }
            "localWorkspaceFolder" => Some(folder.display().to_string()),
            "localWorkspaceFolderBasename" => {
                Some(folder.file_name()?.to_string_lossy().into_owned())
            }
            _ => None,
        }
    };
    match value {
        Value::String(text) => {
            let mut out = String::new();
            let mut rest = text.as_str();
            while let Some(start) = rest.find("${") {
                let Some(len) = rest[start..].find('}') else {
                    break;
                };
                out.push_str(&rest[..start]);
                let whole = &rest[start..=start + len];
                out.push_str(&resolve(&whole[2..len]).unwrap_or_else(|| whole.to_owned()));
                rest = &rest[start + len + 1..];
            }
            out.push_str(rest);
            Value::String(out)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| resolve_host_variables(item, env, folder))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, item)| (key.clone(), resolve_host_variables(item, env, folder)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Runs `devcontainer read-configuration` on the case's directory and compares the
/// configuration it read with the file we wrote.
///
/// The CLI reports the file's content with host variables resolved, plus `configFilePath`
/// (where it found the file: checked to be ours, then left out of the comparison). It must
/// read everything else exactly as written.
async fn check_devcontainer_cli(peers: &Peers, case: &Case) -> Vec<String> {
    let text = case.read(DEVCONTAINER);
    let ours: Value = match jsonc_parser::parse_to_serde_value(
        &text,
        &jsonc_parser::ParseOptions {
            // JSON with comments, as the devcontainer.json reference allows, and nothing looser.
            allow_comments: true,
            allow_loose_object_property_names: false,
            allow_trailing_commas: false,
            allow_missing_commas: false,
            allow_single_quoted_strings: false,
            allow_hexadecimal_numbers: false,
            allow_unary_plus_numbers: false,
            allow_bare_decimal_point_numbers: false,
            allow_non_finite_numbers: false,
            allow_extended_string_escapes: false,
        },
    ) {
        Ok(ours) => ours,
        Err(e) => return vec![format!("{DEVCONTAINER} is not JSON with comments: {e}")],
    };
    let env = planted_host_env(&text);
    let folder = case.dir.path();
    let mut args: Vec<OsString> = vec!["read-configuration".into(), "--workspace-folder".into()];
    args.push(folder.into());
    args.push("--docker-path".into());
    args.push(peers.docker_stub.clone().into());
    args.extend(["--log-format".into(), "json".into()]);
    let run = match run_node(peers, &peers.devcontainer_cli, args, folder, &env).await {
        Ok(run) => run,
        Err(e) => return vec![e],
    };
    if !run.success {
        return vec![format!(
            "devcontainer read-configuration failed:\n{}\n--- {DEVCONTAINER} ---\n{text}",
            run.describe()
        )];
    }
    let mut read: Value = match serde_json::from_str(&run.stdout) {
        Ok(read) => read,
        Err(e) => {
            return vec![format!(
                "read-configuration printed no JSON ({e}):\n{}",
                run.describe()
            )];
        }
    };
    let mut problems = Vec::new();
    let config = &mut read["configuration"];
    let read_from = config
        .as_object_mut()
        .and_then(|config| config.remove("configFilePath"))
        .unwrap_or_default();
    if read_from["fsPath"].as_str() != Some(&*case.path(DEVCONTAINER).to_string_lossy()) {
        problems.push(format!(
            "read-configuration read {read_from}, not our {DEVCONTAINER}"
        ));
    }
    let mut read_strings = Vec::new();
    strings(String::new(), config, &mut read_strings);
    for (path, text) in &read_strings {
        // A variable left over is one the CLI does not know (a misspelt `${localEnv:…}`
        // would reach the container as literal text).
        for (at, _) in text.match_indices("${") {
            let kind: String = text[at + 2..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            if !CONTAINER_VARIABLES.contains(&kind.as_str()) {
                problems.push(format!(
                    "{path}: the CLI left `${{{kind}…` unresolved in {text:?}"
                ));
            }
        }
        // What the host's environment supplies (secrets, in our files) belongs in
        // `remoteEnv`: anywhere else it is copied into what the tool prints and records.
        for (name, value) in &env {
            if text.contains(value.as_str()) && !path.starts_with(".remoteEnv.") {
                problems.push(format!(
                    "{path}: the value of the host's {name} reached it (read as {text:?}); only `remoteEnv` may take it"
                ));
            }
        }
    }
    let expected = resolve_host_variables(&ours, &env, folder);
    let mut found = Vec::new();
    differences("", &expected, config, &mut found);
    if let Some(workspace_folder) = expected.get("workspaceFolder") {
        differences(
            ".workspaceFolder (as the CLI resolved it)",
            workspace_folder,
            &read["workspace"]["workspaceFolder"],
            &mut found,
        );
    }
    if !found.is_empty() {
        problems.push(format!(
            "read-configuration read something other than we wrote (ours = {DEVCONTAINER} with host variables resolved):\n{}",
            found.join("\n")
        ));
    }
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn che_devworkspace_generator_accepts_every_generated_devfile_and_makes_our_devworkspace() {
    let peers = match Peers::find() {
        Ok(peers) => peers,
        Err(reason) => {
            eprintln!("skipped: {reason}");
            return;
        }
    };
    let cases = cases();
    check_all(&cases, |case| check_che_generator(&peers, case)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devcontainers_cli_reads_every_generated_devcontainer_json_as_written() {
    let peers = match Peers::find() {
        Ok(peers) => peers,
        Err(reason) => {
            eprintln!("skipped: {reason}");
            return;
        }
    };
    let cases = cases();
    check_all(&cases, |case| check_devcontainer_cli(&peers, case)).await;
}
