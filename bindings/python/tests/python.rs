//! The Python package, tested from Python: a fresh virtual environment with the pinned tools of
//! `requirements-test.txt`, the wheel built by maturin (with the `testkit` feature, so the tests
//! can start the fake servers) and installed into it, then `pytest` on `tests/` and
//! `mypy --strict` on the package's Python sources and stubs, the tests and `examples/python/`.
//!
//! Needs Python ≥ 3.11 with `venv` and pip access to its package index (the machine's registry
//! mirror is enough); `AGENTBOX_PYTHON` chooses the interpreter (default `python3`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The virtual environment with the wheel installed, made once per test binary run.
struct Env {
    python: PathBuf,
}

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn repo_root() -> PathBuf {
    crate_dir().join("../..")
}

/// Runs a command to completion, returning its combined output, or a failure message that
/// quotes the command and everything it printed.
fn run(what: &str, command: &mut Command) -> Result<String, String> {
    let output = command
        .output()
        .map_err(|e| format!("{what}: could not start {command:?}: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() {
        Ok(text)
    } else {
        Err(format!(
            "{what} failed ({}): {command:?}\n{text}",
            output.status
        ))
    }
}

fn setup() -> Result<Env, String> {
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python");
    let venv = work.join("venv");
    let wheels = work.join("wheels");
    // Fresh every run: nothing left from an earlier wheel or tool version.
    for dir in [&venv, &wheels] {
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(|e| format!("remove {}: {e}", dir.display()))?;
        }
    }
    std::fs::create_dir_all(&wheels).map_err(|e| format!("create {}: {e}", wheels.display()))?;

    let interpreter = std::env::var("AGENTBOX_PYTHON").unwrap_or_else(|_| "python3".into());
    run(
        "the Python interpreter (3.11 or newer)",
        Command::new(&interpreter).args([
            "-c",
            "import sys; assert sys.version_info >= (3, 11), sys.version",
        ]),
    )?;
    run(
        "creating the virtual environment",
        Command::new(&interpreter).arg("-m").arg("venv").arg(&venv),
    )?;
    let python = venv.join("bin/python");
    run(
        "installing the pinned test tools",
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(crate_dir().join("requirements-test.txt")),
    )?;
    // maturin runs cargo; the outer `cargo test` holds no build lock while tests run, so the
    // wheel reuses the workspace's target directory and its already-built dependencies.
    run(
        "building the wheel with maturin",
        Command::new(venv.join("bin/maturin"))
            .args(["build", "--features", "testkit", "--interpreter"])
            .arg(&python)
            .arg("--manifest-path")
            .arg(crate_dir().join("Cargo.toml"))
            .arg("--out")
            .arg(&wheels)
            .env("CARGO", env!("CARGO")),
    )?;
    let wheel = std::fs::read_dir(&wheels)
        .map_err(|e| format!("read {}: {e}", wheels.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|ext| ext == "whl"))
        .ok_or_else(|| format!("maturin wrote no wheel into {}", wheels.display()))?;
    run(
        "installing the wheel",
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
            ])
            .arg(&wheel),
    )?;
    Ok(Env { python })
}

fn env() -> &'static Env {
    static ENV: OnceLock<Result<Env, String>> = OnceLock::new();
    match ENV.get_or_init(setup) {
        Ok(env) => env,
        Err(message) => panic!("{message}"),
    }
}

#[test]
fn pytest_passes() {
    let env = env();
    let result = run(
        "pytest",
        Command::new(&env.python)
            .args(["-m", "pytest", "-q", "-ra"])
            .current_dir(crate_dir()),
    );
    match result {
        Ok(output) => eprintln!("{output}"),
        Err(message) => panic!("{message}"),
    }
}

#[test]
fn mypy_strict_passes_on_the_package_the_tests_and_the_example() {
    let env = env();
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python/mypy-cache");
    let result = run(
        "mypy --strict",
        Command::new(&env.python)
            .args(["-m", "mypy", "--strict", "--cache-dir"])
            .arg(&cache)
            .arg(crate_dir().join("python/agentbox"))
            .arg(crate_dir().join("tests"))
            .arg(repo_root().join("examples/python")),
    );
    if let Err(message) = result {
        panic!("{message}");
    }
}
