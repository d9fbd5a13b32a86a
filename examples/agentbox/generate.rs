//! The `generate`, `check` and `import` subcommands.

use agentbox::Contract;
use agentbox::contract::LoadOptions;
use agentbox::core::generate::{self as generator, GenerateOptions, Target, import};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `generate`.
#[derive(clap::Args)]
pub struct GenerateArgs {
    /// The contract file.
    contract: PathBuf,
    /// The directory to write into (usually the repository's root).
    #[arg(long)]
    out: PathBuf,
    /// Which files to write: all, devcontainer, devfile, devworkspace, networkpolicy, agents
    /// (repeat the flag for several).
    #[arg(long = "target", default_value = "all")]
    targets: Vec<Target>,
    /// The cluster runs Cilium: host egress rules become a CiliumNetworkPolicy.
    #[arg(long)]
    cilium: bool,
    /// Refuse when a security field would not be enforced by the chosen targets.
    #[arg(long)]
    strict: bool,
}

/// Arguments of `check`.
#[derive(clap::Args)]
pub struct CheckArgs {
    /// The contract file.
    contract: PathBuf,
    /// The directory the files were generated into.
    #[arg(long)]
    out: PathBuf,
    /// The targets that were generated.
    #[arg(long = "target", default_value = "all")]
    targets: Vec<Target>,
    /// As given to `generate`.
    #[arg(long)]
    cilium: bool,
}

fn load(path: &Path) -> Option<Contract> {
    super::load(path, false)
}

/// `generate`: exit 0 with the files written and the report printed, 2 with nothing written.
pub fn generate(args: &GenerateArgs) -> ExitCode {
    let Some(contract) = load(&args.contract) else {
        return ExitCode::from(2);
    };
    let options = GenerateOptions {
        cilium: args.cilium,
        strict: args.strict,
    };
    let generated = match generator::generate(&contract, &args.targets, &options) {
        Ok(generated) => generated,
        Err(e) => {
            eprintln!("error: {e}\nnothing was written");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = generated.write_to(&args.out) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    for path in generated.files.keys() {
        println!("wrote {}", args.out.join(path).display());
    }
    println!("\nenforceability report:\n{}", generated.report);
    ExitCode::SUCCESS
}

/// `check`: exit 0 when nothing drifted, 1 with a diff per drifted file, 2 on bad input.
pub fn check(args: &CheckArgs) -> ExitCode {
    let Some(contract) = load(&args.contract) else {
        return ExitCode::from(2);
    };
    let options = GenerateOptions {
        cilium: args.cilium,
        strict: false,
    };
    match generator::check(&contract, &args.targets, &options, &args.out) {
        Ok(drift) if drift.is_clean() => {
            println!(
                "{} generated file(s) under {} match {}",
                drift.generated.files.len(),
                args.out.display(),
                args.contract.display()
            );
            ExitCode::SUCCESS
        }
        Ok(drift) => {
            for file in &drift.files {
                print!("{}", file.diff);
            }
            eprintln!(
                "{} file(s) drifted from {}; run `agentbox generate` and commit the result",
                drift.files.len(),
                args.contract.display()
            );
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// `import`: print the contract as YAML on stdout and what could not be mapped on stderr.
pub fn import(file: &Path) -> ExitCode {
    let imported = match import::import_file(file) {
        Ok(imported) => imported,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    for item in &imported.unmapped {
        eprintln!(
            "{}: not mapped: {}: {}",
            file.display(),
            item.path,
            item.why
        );
    }
    match Contract::from_document(imported.document, &LoadOptions::default()) {
        Ok(contract) => {
            for w in contract.warnings() {
                eprintln!("{}: {w}", file.display());
            }
            print!("{}", contract.to_yaml());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: the imported contract is invalid: {e}");
            ExitCode::from(2)
        }
    }
}
