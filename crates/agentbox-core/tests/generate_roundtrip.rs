//! Round trip: importing our own devcontainer.json or devfile gives a contract that generates
//! the same file again; what an import cannot map is listed, never dropped.

mod generate_support;

use agentbox_core::Contract;
use agentbox_core::contract::LoadOptions;
use agentbox_core::generate::import::{devcontainer, devfile};
use agentbox_core::generate::{Target, generate};
use generate_support::{FIXTURES, body, contract, options};

fn regenerate(document: agentbox_core::contract::ContractDocument, target: Target) -> String {
    let contract = Contract::from_document(document, &LoadOptions::default()).unwrap();
    let generated = generate(&contract, &[target], &options(false)).unwrap();
    generated.files[target.path().unwrap()].clone()
}

#[test]
fn an_imported_devcontainer_json_generates_the_same_file() {
    for (name, _) in FIXTURES {
        let original = generate(&contract(name), &[Target::Devcontainer], &options(false)).unwrap();
        let text = &original.files[".devcontainer/devcontainer.json"];
        let imported = devcontainer::import(text, name).unwrap();
        // devcontainer.json has no storage type: the one thing an import must assume, and say.
        for item in &imported.unmapped {
            assert!(
                item.why.contains("storage of an unknown type"),
                "{name}: {item:?}"
            );
        }
        let again = regenerate(imported.document, Target::Devcontainer);
        // The header quotes the contract's hash, which covers fields the file cannot carry.
        assert_eq!(body(&again), body(text), "{name}");
    }
}

#[test]
fn an_imported_devfile_generates_the_same_file() {
    for (name, _) in FIXTURES {
        let original = generate(&contract(name), &[Target::Devfile], &options(false)).unwrap();
        let text = &original.files["devfile.yaml"];
        let imported = devfile::import(text, name).unwrap();
        assert!(
            imported.unmapped.is_empty(),
            "{name}: {:?}",
            imported.unmapped
        );
        let again = regenerate(imported.document, Target::Devfile);
        assert_eq!(body(&again), body(text), "{name}");
    }
}

#[test]
fn fields_a_devfile_cannot_carry_are_named_in_the_report_and_lost_on_import() {
    let original = contract("ruby-agent");
    let generated = generate(&original, &[Target::Devfile], &options(false)).unwrap();
    let imported = devfile::import(&generated.files["devfile.yaml"], "devfile.yaml").unwrap();
    let report = generated.report.target(Target::Devfile).unwrap();
    // Secrets, features and editor extensions are not in the devfile; the report says why.
    assert!(imported.document.spec.secrets.is_empty());
    assert!(imported.document.spec.features.is_empty());
    for field in [
        "spec.secrets[0]",
        "spec.features[0]",
        "spec.editor.extensions",
    ] {
        assert!(
            !report.entry(field).unwrap().coverage.is_represented(),
            "{field}"
        );
    }
    // postCreate comes back as postStart: the report marks it partial.
    assert_eq!(
        imported.document.spec.lifecycle.post_start[0].as_str(),
        "install"
    );
    assert!(
        !report
            .entry("spec.lifecycle.postCreate")
            .unwrap()
            .coverage
            .is_represented()
    );
}

#[test]
fn what_a_foreign_devcontainer_json_cannot_map_is_listed() {
    let text = r#"{
        // A typical hand-written file.
        "name": "My App",
        "image": "mcr.microsoft.com/devcontainers/typescript-node:22",
        "forwardPorts": [3000, "db:5432"],
        "portsAttributes": { "40000-55000": { "onAutoForward": "ignore" } },
        "containerEnv": { "NODE_ENV": "development" },
        "remoteEnv": { "GH_TOKEN": "${localEnv:GH_TOKEN}" },
        "onCreateCommand": "npm ci",
        "postCreateCommand": ["npm", "run", "build"],
        "runArgs": ["--network=host"],
        "customizations": { "vscode": { "settings": {} }, "codespaces": {} },
    }"#;
    let imported = devcontainer::import(text, "devcontainer.json").unwrap();
    let doc = &imported.document;
    assert_eq!(doc.metadata.name.as_str(), "my-app");
    assert_eq!(doc.spec.ports.len(), 1);
    assert_eq!(doc.spec.secrets[0].from.secret.as_str(), "gh-token");
    assert_eq!(
        doc.spec.commands[&"post-create"
            .parse::<agentbox_core::contract::DnsLabel>()
            .unwrap()]
            .run,
        "npm run build"
    );
    let paths: Vec<&str> = imported.unmapped.iter().map(|u| u.path.as_str()).collect();
    for expected in [
        "name",
        "forwardPorts[1]",
        "portsAttributes.40000-55000",
        "secrets.GH_TOKEN",
        "runArgs[0]",
        "customizations.vscode.settings",
        "customizations.codespaces",
        "onCreateCommand",
    ] {
        assert!(paths.contains(&expected), "{expected} not in {paths:?}");
    }
    Contract::from_document(imported.document, &LoadOptions::default()).unwrap();
}

#[test]
fn import_refuses_what_is_not_an_image_based_dev_container_or_a_devfile_2() {
    let err = devcontainer::import(r#"{ "build": { "dockerfile": "Dockerfile" } }"#, "a.json")
        .unwrap_err()
        .to_string();
    assert!(err.contains("only image-based dev containers"), "{err}");
    let err = devfile::import("schemaVersion: 1.0.0\n", "devfile.yaml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("only Devfile 2.x"), "{err}");
    assert!(devcontainer::import("{ not json", "b.json").is_err());
}
