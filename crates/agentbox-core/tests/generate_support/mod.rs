//! Shared by the generator's tests: the fixture contracts and how each is generated.

#![allow(dead_code)]

use agentbox_core::Contract;
use agentbox_core::contract::LoadOptions;
use agentbox_core::generate::{GenerateOptions, Generated, Target, generate};
use std::path::PathBuf;

/// The fixture contracts with golden files, and whether each is generated for Cilium.
pub const FIXTURES: [(&str, bool); 8] = [
    ("ruby-agent", false),
    ("go-monorepo", false),
    ("python-data-job", false),
    ("minimal", false),
    ("maximal", true),
    ("cilium-fqdn", true),
    ("ephemeral", false),
    ("no-isolation", false),
];

/// The crate's directory.
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The repository's root.
pub fn repo_dir() -> PathBuf {
    crate_dir().join("../..")
}

/// Load a fixture contract by name.
pub fn contract(name: &str) -> Contract {
    let path = crate_dir().join(format!("tests/contracts/{name}.yaml"));
    Contract::load(&path, &LoadOptions::default()).unwrap()
}

/// The options a fixture is generated with.
pub fn options(cilium: bool) -> GenerateOptions {
    GenerateOptions {
        cilium,
        strict: false,
    }
}

/// Every target of a fixture.
pub fn generate_all(name: &str, cilium: bool) -> Generated {
    generate(&contract(name), &[Target::All], &options(cilium)).unwrap()
}

/// `text` without its first line (the generated-file header, which quotes the contract hash).
pub fn body(text: &str) -> &str {
    text.split_once('\n').map_or("", |(_, rest)| rest)
}
