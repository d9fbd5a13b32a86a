//! Loading valid contracts: typed fields, warnings, the content hash, YAML round-trips, and the
//! committed JSON Schema.

use agentbox_core::contract::{
    Action, CommandGroup, Contract, ContractDocument, EgressTarget, Exposure, LoadOptions,
    Severity, StorageKind, Verdict,
};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/contracts")
        .join(name)
}

fn load(name: &str) -> Contract {
    Contract::load(fixture(name), &LoadOptions::default()).unwrap()
}

fn problems(yaml: &str, options: &LoadOptions) -> Vec<agentbox_core::contract::Problem> {
    let err = Contract::from_yaml(yaml, options).unwrap_err();
    err.problems().expect("a contract error").to_vec()
}

#[test]
fn the_ruby_agent_contract_loads_with_typed_fields() {
    let c = load("ruby-agent.yaml");
    assert_eq!(c.name(), "ruby-agent");
    assert_eq!(c.profile(), "code");
    assert_eq!(c.workdir(), "/projects/app");
    assert_eq!(c.mount_path(), "/projects");
    // The image is pinned by a 64-digit digest, so there is nothing to warn about.
    assert_eq!(c.warnings(), &[]);
    assert_eq!(
        c.spec.image.digest(),
        Some("sha256:7f0b1c1e5c7d4c4a8d3f0e6b2a9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c")
    );

    let cpu = c.spec.resources.cpu.as_ref().unwrap();
    assert_eq!(cpu.request.as_ref().unwrap().value(), 0.5);
    assert_eq!(cpu.limit.as_ref().unwrap().as_str(), "2");
    let memory = c.spec.resources.memory.as_ref().unwrap();
    assert_eq!(
        memory.limit.as_ref().unwrap().value(),
        2.0 * 1024f64.powi(3)
    );
    let storage = c.spec.storage.as_ref().unwrap();
    assert_eq!(storage.kind, StorageKind::PerWorkspace);

    assert_eq!(
        c.spec
            .env
            .get_index(0)
            .map(|(k, v)| (k.as_str(), v.as_str())),
        Some(("BUNDLE_PATH", "/home/user/.bundle"))
    );
    assert_eq!(c.spec.secrets[0].env.as_str(), "GITHUB_TOKEN");
    assert_eq!(c.spec.secrets[0].from.secret.as_str(), "copilot-token");
    assert_eq!(c.spec.secrets[0].from.key, "token");

    let ports: Vec<_> = c
        .spec
        .ports
        .iter()
        .map(|p| (p.name.as_str(), p.port, p.exposure))
        .collect();
    assert_eq!(
        ports,
        [
            ("http-app", 3000, Exposure::Public),
            ("bridge", 9001, Exposure::None)
        ]
    );

    let commands: Vec<_> = c.spec.commands.keys().map(|k| k.as_str()).collect();
    assert_eq!(
        commands,
        ["install", "test", "start"],
        "commands keep their written order"
    );
    assert_eq!(c.spec.commands[1].group, Some(CommandGroup::Test));
    assert_eq!(c.spec.lifecycle.post_create[0].as_str(), "install");

    let isolation = c.spec.isolation.as_ref().unwrap();
    assert_eq!(
        isolation.runtime_class.as_ref().unwrap().as_str(),
        "kata-vm-isolation"
    );
    assert!(isolation.read_only_root_filesystem);

    let egress = &c.spec.network.as_ref().unwrap().egress;
    assert_eq!(egress.default, Verdict::Deny);
    let targets: Vec<_> = egress.allow.iter().map(|r| r.target()).collect();
    assert_eq!(targets[0], Some(EgressTarget::Dns));
    assert_eq!(
        targets[1],
        Some(EgressTarget::Host("api.githubcopilot.com"))
    );
    assert!(matches!(targets[2], Some(EgressTarget::Cidr(n)) if n.as_str() == "10.20.0.0/16"));
    assert_eq!(egress.allow[2].ports, [5432]);

    assert_eq!(
        c.spec.idle_timeout.as_ref().unwrap().duration(),
        Duration::from_secs(900)
    );
    let agent = c.spec.agent.as_ref().unwrap();
    assert_eq!(
        agent.instructions.as_deref(),
        Some("Run `bundle exec rake test` before you finish. Never push to main.\n")
    );
    let argv = |s: &str| s.split(' ').map(str::to_owned).collect::<Vec<_>>();
    assert!(
        agent
            .permissions
            .decide(&Action::Shell(&argv("git status")))
            .is_allowed()
    );
    assert!(
        !agent
            .permissions
            .decide(&Action::Shell(&argv("git push --force origin")))
            .is_allowed()
    );
    assert!(
        agent
            .permissions
            .decide(&Action::Write("/projects/app/lib/a.rb"))
            .is_allowed()
    );
}

#[test]
fn the_minimal_contract_takes_defaults() {
    let c = load("minimal.yaml");
    assert_eq!(c.profile(), "default");
    assert_eq!(c.workdir(), "/projects/minimal");
    assert!(c.warnings().is_empty());
}

#[test]
fn the_hash_ignores_layout_comments_and_field_order() {
    let original = load("ruby-agent.yaml");
    let text = std::fs::read_to_string(fixture("ruby-agent.yaml")).unwrap();
    // Same meaning: comments dropped, flow maps as blocks, top-level and metadata keys reordered.
    let relaid = text
        .replace("  name: ruby-agent              # DNS-1123 label\n  profile: code                 # agent profile; scopes AGENTS.md\n",
                 "  profile: \"code\"\n  name: 'ruby-agent'\n")
        .replace("    cpu: { request: 500m, limit: \"2\" }\n", "    cpu:\n      limit: 2\n      request: 500m\n")
        .replacen("apiVersion: agentbox.dev/v1alpha1\nkind: Environment\n", "kind: Environment\napiVersion: agentbox.dev/v1alpha1\n", 1);
    assert_ne!(relaid, text, "the rewrite must change the text");
    let relaid = Contract::from_yaml(&relaid, &LoadOptions::default()).unwrap();
    assert_eq!(relaid.hash(), original.hash());
    assert_eq!(original.hash().len(), 64);

    let changed = text.replace("limit: 2Gi", "limit: 3Gi");
    let changed = Contract::from_yaml(&changed, &LoadOptions::default()).unwrap();
    assert_ne!(changed.hash(), original.hash());
}

#[test]
fn to_yaml_round_trips() {
    let original = load("ruby-agent.yaml");
    let yaml = original.to_yaml();
    let again = Contract::from_yaml(&yaml, &LoadOptions::strict()).unwrap();
    assert_eq!(again, original, "re-loaded from:\n{yaml}");
    assert!(
        yaml.contains("image: quay.io/devfile/ruby:3.3@sha256:"),
        "{yaml}"
    );
}

#[test]
fn to_yaml_keeps_strings_that_look_like_other_types() {
    let tricky = [
        "true",
        "no",
        "~",
        "null",
        "",
        "123",
        "0x1F",
        "0o17",
        "1.5",
        "1e3",
        ".inf",
        ".nan",
        "- dash",
        "a: b",
        "#hash",
        "trailing ",
        " leading",
        "line\nbreak\n",
        "'quote\"",
        "@at",
        "*star",
    ];
    let mut yaml = String::from(
        "apiVersion: agentbox.dev/v1alpha1\nkind: Environment\nmetadata: { name: tricky }\nspec:\n  image: alpine@sha256:",
    );
    yaml.push_str(&"b".repeat(64));
    yaml.push_str("\n  env:\n");
    for (i, value) in tricky.iter().enumerate() {
        yaml.push_str(&format!(
            "    V{i}: {}\n",
            serde_json::to_string(value).unwrap()
        ));
    }
    let original = Contract::from_yaml(&yaml, &LoadOptions::default()).unwrap();
    let values: Vec<_> = original.spec.env.values().map(String::as_str).collect();
    assert_eq!(values, tricky);
    let written = original.to_yaml();
    let again = Contract::from_yaml(&written, &LoadOptions::default()).unwrap();
    assert_eq!(again, original, "re-loaded from:\n{written}");
}

#[test]
fn an_unpinned_image_warns_and_fails_under_strict() {
    let text = std::fs::read_to_string(fixture("unpinned.yaml")).unwrap();
    let c = Contract::from_yaml(&text, &LoadOptions::default()).unwrap();
    let [warning] = c.warnings() else {
        panic!("expected one warning, got {:?}", c.warnings());
    };
    assert_eq!(
        (warning.path.as_str(), warning.line, warning.severity),
        ("spec.image", 6, Severity::Warning)
    );
    assert!(
        warning.message.contains("not pinned by digest"),
        "{warning}"
    );

    let strict = problems(&text, &LoadOptions::strict());
    assert_eq!(strict.len(), 1, "{strict:?}");
    assert_eq!(
        (strict[0].path.as_str(), strict[0].severity),
        ("spec.image", Severity::Error)
    );
}

#[test]
fn malformed_yaml_is_one_located_problem() {
    let bad_indent = "apiVersion: agentbox.dev/v1alpha1\nkind: Environment\nmetadata:\n  name: a\n   profile: b\n";
    let unclosed =
        "apiVersion: agentbox.dev/v1alpha1\nkind: Environment\nmetadata: { name: a\nspec: {}\n";
    for (yaml, line) in [(bad_indent, 5), (unclosed, 4)] {
        let found = problems(yaml, &LoadOptions::default());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].line, line, "{}", found[0]);
        assert!(found[0].column >= 1);
        assert!(
            found[0].message.starts_with("malformed YAML: "),
            "{}",
            found[0]
        );
    }
}

#[test]
fn every_problem_in_a_document_is_reported_at_once() {
    let text = std::fs::read_to_string(fixture("five-problems.yaml")).unwrap();
    let err = Contract::from_yaml(&text, &LoadOptions::default()).unwrap_err();
    let found: Vec<_> = err
        .problems()
        .unwrap()
        .iter()
        .map(|p| (p.path.as_str(), p.line))
        .collect();
    assert_eq!(
        found,
        [
            ("metadata.name", 4),
            ("spec.resources.memory.request", 8),
            ("spec.ports[1].name", 11),
            ("spec.lifecycle.postStart[0]", 13),
            ("spec.idleTimeout", 14),
        ]
    );
    // The error's text lists them all, each with its location.
    let rendered = err.to_string();
    assert!(rendered.contains("(5 problem(s))"), "{rendered}");
    assert!(
        rendered.contains("14:16: error: spec.idleTimeout: `15 minutes` is not a duration"),
        "{rendered}"
    );
}

#[test]
fn documents_built_in_code_are_validated_too() {
    let mut document: ContractDocument = load("ruby-agent.yaml").document().clone();
    document.spec.resources.cpu.as_mut().unwrap().request = Some("4".parse().unwrap());
    let err = Contract::from_document(document.clone(), &LoadOptions::default()).unwrap_err();
    let problems = err.problems().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(
        (problems[0].path.as_str(), problems[0].line),
        ("spec.resources.cpu.request", 0)
    );

    document.spec.resources.cpu = None;
    let ok = Contract::from_document(document, &LoadOptions::default()).unwrap();
    assert!(ok.spec.resources.cpu.is_none());
}

#[test]
fn the_committed_json_schema_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/agentbox.schema.json");
    let expected = serde_json::to_string_pretty(&Contract::json_schema()).unwrap() + "\n";
    if std::env::var_os("AGENTBOX_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &expected).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == expected,
        "{} is missing or out of date with the contract model; regenerate it with\n  \
         AGENTBOX_BLESS=1 cargo test -p agentbox-core --test contract_load\nand commit the result",
        path.display()
    );
}

#[test]
fn the_json_schema_helps_editors() {
    let schema = Contract::json_schema();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert!(
        schema["$id"]
            .as_str()
            .unwrap()
            .ends_with("agentbox.schema.json")
    );
    assert_eq!(schema["additionalProperties"], false);
    let port = &schema["$defs"]["Port"];
    assert_eq!(port["additionalProperties"], false);
    assert_eq!(
        port["properties"]["port"]["description"],
        "Port number, 1–65535."
    );
    assert_eq!(schema["$defs"]["Quantity"]["format"], "k8s-quantity");
}
