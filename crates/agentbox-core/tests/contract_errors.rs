//! Every kind of mistake in a contract is reported with its YAML path, line and a message that
//! says what is wrong. Each case is one small mutation of a valid base document.

use agentbox_core::contract::{Contract, LoadOptions, Problem};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// A valid contract; the line numbers in the table below refer to it.
const BASE: &str = r#"apiVersion: agentbox.dev/v1alpha1
kind: Environment
metadata:
  name: demo
  profile: code
spec:
  image: quay.io/org/app:1@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
  workdir: /projects/app
  resources:
    cpu: { request: 500m, limit: "2" }
    memory: { request: 512Mi, limit: 2Gi }
  storage: { type: per-workspace, size: 16Gi, mountPath: /projects }
  env:
    BUNDLE_PATH: /home/user/.bundle
  secrets:
    - env: GITHUB_TOKEN
      from: { secret: copilot-token, key: token }
  ports:
    - { name: http-app, port: 3000, exposure: public }
    - { name: bridge, port: 9001, exposure: none }
  commands:
    install: { run: bundle install, group: build }
    test: { run: bundle exec rake test, group: test }
  lifecycle:
    postCreate: [install]
  isolation:
    runAsNonRoot: true
    writablePaths: [/tmp]
  network:
    egress:
      allow:
        - dns: true
        - host: api.githubcopilot.com
          ports: [443]
        - cidr: 10.20.0.0/16
  idleTimeout: 15m
  agent:
    permissions:
      allow: ["shell(git:*)"]
"#;

/// `BASE` with its only occurrence of `from` replaced by `to`.
fn mutate(from: &str, to: &str) -> String {
    assert_eq!(
        BASE.matches(from).count(),
        1,
        "`{from}` must occur exactly once in BASE"
    );
    BASE.replacen(from, to, 1)
}

struct Case {
    name: &'static str,
    yaml: String,
    strict: bool,
    path: &'static str,
    line: usize,
    message: &'static str,
}

fn case(
    name: &'static str,
    yaml: String,
    path: &'static str,
    line: usize,
    message: &'static str,
) -> Case {
    Case {
        name,
        yaml,
        strict: false,
        path,
        line,
        message,
    }
}

/// Load `yaml`, which must fail without panicking, and return its problems.
fn problems_of(name: &str, yaml: &str, options: &LoadOptions) -> Result<Vec<Problem>, String> {
    let result = catch_unwind(AssertUnwindSafe(|| Contract::from_yaml(yaml, options)));
    match result {
        Err(_) => Err(format!("case `{name}`: loading panicked")),
        Ok(Ok(_)) => Err(format!("case `{name}`: loaded, but should have failed")),
        Ok(Err(err)) => match err.problems() {
            Some(problems) if !problems.is_empty() => Ok(problems.to_vec()),
            _ => Err(format!(
                "case `{name}`: not a contract error with problems: {err}"
            )),
        },
    }
}

fn cases() -> Vec<Case> {
    let egress_host = "        - host: api.githubcopilot.com\n          ports: [443]\n";
    vec![
        // Unknown fields, at several depths; the key itself is pointed at.
        case(
            "unknown top-level field",
            mutate("kind: Environment\n", "kind: Environment\nextra: 1\n"),
            "extra",
            3,
            "unknown field `extra`; expected one of: apiVersion, kind, metadata, spec",
        ),
        case(
            "unknown metadata field",
            mutate("  profile: code\n", "  profile: code\n  owner: me\n"),
            "metadata.owner",
            6,
            "unknown field `owner`; expected one of: name, profile, labels",
        ),
        case(
            "unknown field in a flow map in a list",
            mutate("exposure: none }", "exposure: none, proto: tcp }"),
            "spec.ports[1].proto",
            20,
            "unknown field `proto`",
        ),
        case(
            "unknown field in an egress rule",
            mutate(
                "        - cidr: 10.20.0.0/16\n",
                "        - cidr: 10.20.0.0/16\n          port: 5432\n",
            ),
            "spec.network.egress.allow[2].port",
            36,
            "expected one of: dns, host, cidr, ports",
        ),
        // Kubernetes quantities.
        case(
            "quantity with a made-up suffix",
            mutate("limit: 2Gi", "limit: 2Gb"),
            "spec.resources.memory.limit",
            11,
            "did you mean `Gi` or `G`?",
        ),
        case(
            "negative quantity",
            mutate("request: 500m", "request: -1"),
            "spec.resources.cpu.request",
            10,
            "must not be negative",
        ),
        case(
            "quantity like a version",
            mutate("size: 16Gi", "size: 1.5.0"),
            "spec.storage.size",
            12,
            "`1.5.0` is not a Kubernetes quantity",
        ),
        case(
            "request above limit",
            mutate("request: 512Mi", "request: 4Gi"),
            "spec.resources.memory.request",
            11,
            "request `4Gi` is more than its limit `2Gi`",
        ),
        // Names.
        case(
            "name that is not DNS-1123",
            mutate("name: demo", "name: Demo_App"),
            "metadata.name",
            4,
            "is not a DNS-1123 label",
        ),
        case(
            "command name that is not DNS-1123",
            mutate("    test: {", "    Test_1: {"),
            "spec.commands.Test_1",
            23,
            "`Test_1` is not a DNS-1123 label",
        ),
        case(
            "port name longer than 15",
            mutate("name: bridge", "name: bridge-to-the-agent"),
            "spec.ports[1].name",
            20,
            "too long: at most 15 characters",
        ),
        // Ports.
        case(
            "duplicate port number",
            mutate("port: 9001", "port: 3000"),
            "spec.ports[1].port",
            20,
            "already declared by spec.ports[0]",
        ),
        case(
            "duplicate port name",
            mutate("name: bridge", "name: http-app"),
            "spec.ports[1].name",
            20,
            "port name `http-app` is already used by spec.ports[0]",
        ),
        case(
            "port zero",
            mutate("port: 3000", "port: 0"),
            "spec.ports[0].port",
            19,
            "`0` is out of range: use 1–65535",
        ),
        case(
            "port above 65535",
            mutate("port: 9001", "port: 70000"),
            "spec.ports[1].port",
            20,
            "`70000` is out of range",
        ),
        case(
            "port written as a word",
            mutate("port: 3000", "port: http"),
            "spec.ports[0].port",
            19,
            "expected an integer, found a string (`http`)",
        ),
        case(
            "bad exposure",
            mutate("exposure: none", "exposure: private"),
            "spec.ports[1].exposure",
            20,
            "`private` is not one of: public, internal, none",
        ),
        // Commands and lifecycle.
        case(
            "lifecycle names a missing command",
            mutate("postCreate: [install]", "postCreate: [instal]"),
            "spec.lifecycle.postCreate[0]",
            25,
            "`instal` is not a command in spec.commands (defined: install, test)",
        ),
        case(
            "bad command group",
            mutate("group: test", "group: testing"),
            "spec.commands.test.group",
            23,
            "`testing` is not one of: build, run, test, debug, deploy",
        ),
        case(
            "map where a list belongs",
            mutate("postCreate: [install]", "postCreate: { first: install }"),
            "spec.lifecycle.postCreate",
            25,
            "expected a list, found a map",
        ),
        // Secrets and environment.
        case(
            "secret without a key",
            mutate(
                "from: { secret: copilot-token, key: token }",
                "from: { secret: copilot-token }",
            ),
            "spec.secrets[0].from.key",
            17,
            "missing required field `key`",
        ),
        case(
            "secret with an empty key",
            mutate("key: token", "key: \"\""),
            "spec.secrets[0].from.key",
            17,
            "must not be empty",
        ),
        case(
            "bad secret variable name",
            mutate("env: GITHUB_TOKEN", "env: GITHUB-TOKEN"),
            "spec.secrets[0].env",
            16,
            "is not an environment variable name",
        ),
        case(
            "secret variable also in env",
            mutate("env: GITHUB_TOKEN", "env: BUNDLE_PATH"),
            "spec.secrets[0].env",
            16,
            "`BUNDLE_PATH` is also set in spec.env",
        ),
        case(
            "bad env variable name",
            mutate("    BUNDLE_PATH:", "    1BUNDLE-PATH:"),
            "spec.env.1BUNDLE-PATH",
            14,
            "`1BUNDLE-PATH` is not an environment variable name",
        ),
        case(
            "env variable with no value",
            mutate("BUNDLE_PATH: /home/user/.bundle", "BUNDLE_PATH:"),
            "spec.env.BUNDLE_PATH",
            14,
            "expected a string, found an empty value",
        ),
        case(
            "list where a map belongs",
            mutate(
                "    BUNDLE_PATH: /home/user/.bundle\n",
                "    - BUNDLE_PATH=/home/user/.bundle\n",
            ),
            "spec.env",
            14,
            "expected a map, found a list",
        ),
        // Network.
        case(
            "egress rule without a target",
            mutate(egress_host, "        - ports: [443]\n"),
            "spec.network.egress.allow[1]",
            33,
            "needs a target: one of `dns: true`, `host` or `cidr`",
        ),
        case(
            "egress rule with two targets",
            mutate(
                "        - dns: true\n",
                "        - dns: true\n          host: example.com\n",
            ),
            "spec.network.egress.allow[0]",
            32,
            "this one has dns and host",
        ),
        case(
            "egress host with a scheme",
            mutate(
                "host: api.githubcopilot.com",
                "host: https://api.githubcopilot.com",
            ),
            "spec.network.egress.allow[1].host",
            33,
            "is not a host name",
        ),
        case(
            "egress port zero",
            mutate("ports: [443]", "ports: [0]"),
            "spec.network.egress.allow[1].ports[0]",
            34,
            "out of range: use 1–65535",
        ),
        case(
            "bad CIDR",
            mutate("10.20.0.0/16", "10.20.0.0/33"),
            "spec.network.egress.allow[2].cidr",
            35,
            "is not a CIDR network",
        ),
        case(
            "CIDR with host bits",
            mutate("10.20.0.0/16", "10.20.0.1/16"),
            "spec.network.egress.allow[2].cidr",
            35,
            "has host bits set: the network is `10.20.0.0/16`",
        ),
        // Durations, permissions, images.
        case(
            "duration in words",
            mutate("idleTimeout: 15m", "idleTimeout: 15 minutes"),
            "spec.idleTimeout",
            36,
            "`15 minutes` is not a duration",
        ),
        case(
            "permission pattern that does not parse",
            mutate("shell(git:*)", "exec(git)"),
            "spec.agent.permissions.allow[0]",
            39,
            "unknown kind `exec`; use shell, read or write",
        ),
        case(
            "image digest too short",
            mutate(
                "@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                "@sha256:abc",
            ),
            "spec.image",
            7,
            "a sha256 digest has exactly 64 hex digits",
        ),
        Case {
            strict: true,
            ..case(
                "image without digest under strict",
                mutate(
                    "@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                    "",
                ),
                "spec.image",
                7,
                "is not pinned by digest",
            )
        },
        // Paths.
        case(
            "relative workdir",
            mutate("workdir: /projects/app", "workdir: projects/app"),
            "spec.workdir",
            8,
            "must be an absolute path",
        ),
        case(
            "workdir outside storage",
            mutate("workdir: /projects/app", "workdir: /home/user/app"),
            "spec.workdir",
            8,
            "is not under the storage mount path `/projects`",
        ),
        case(
            "relative writable path",
            mutate("writablePaths: [/tmp]", "writablePaths: [tmp]"),
            "spec.isolation.writablePaths[0]",
            28,
            "`tmp` must be an absolute path",
        ),
        // Types, enums, versions.
        case(
            "boolean written as yes",
            mutate("runAsNonRoot: true", "runAsNonRoot: yes"),
            "spec.isolation.runAsNonRoot",
            27,
            "expected `true` or `false`, found a string (`yes`)",
        ),
        case(
            "number where a string belongs",
            mutate("profile: code", "profile: 42"),
            "metadata.profile",
            5,
            "expected a string, found a number (`42`); put it in quotes",
        ),
        case(
            "bad storage type",
            mutate("type: per-workspace", "type: pvc"),
            "spec.storage.type",
            12,
            "`pvc` is not one of: per-workspace, per-user, common, async, ephemeral",
        ),
        case(
            "unsupported apiVersion",
            mutate("agentbox.dev/v1alpha1", "agentbox.dev/v1"),
            "apiVersion",
            1,
            "`agentbox.dev/v1` is not a supported apiVersion; this version of agentbox reads `agentbox.dev/v1alpha1`",
        ),
        case(
            "unsupported kind",
            mutate("kind: Environment", "kind: Workspace"),
            "kind",
            2,
            "this version of agentbox reads `Environment`",
        ),
        case(
            "missing required field",
            mutate("  name: demo\n", ""),
            "metadata.name",
            3,
            "missing required field `name`",
        ),
        // YAML itself.
        case(
            "duplicate key",
            mutate("  profile: code\n", "  profile: code\n  name: other\n"),
            "metadata.name",
            6,
            "duplicate key `name` (first written on line 4)",
        ),
        case(
            "non-string key",
            mutate(
                "    BUNDLE_PATH: /home/user/.bundle\n",
                "    BUNDLE_PATH: /home/user/.bundle\n    42: answer\n",
            ),
            "spec.env",
            15,
            "mapping keys must be strings, found `42`",
        ),
        case(
            "unsupported tag",
            mutate("name: demo", "name: !custom demo"),
            "metadata.name",
            4,
            "unsupported tag `!custom`",
        ),
        case(
            "empty document",
            String::new(),
            "",
            1,
            "the document is empty",
        ),
        case(
            "document of only a null",
            "~\n".to_owned(),
            "",
            1,
            "the document is empty",
        ),
        case(
            "second document",
            format!("{BASE}---\nfoo: 1\n"),
            "",
            40,
            "a second YAML document starts here",
        ),
        case(
            "unclosed flow map",
            mutate(
                "cpu: { request: 500m, limit: \"2\" }",
                "cpu: { request: 500m, limit: \"2\"",
            ),
            "",
            11,
            "malformed YAML",
        ),
        case(
            "bad indentation",
            mutate("  profile: code", "   profile: code"),
            "",
            5,
            "malformed YAML",
        ),
    ]
}

#[test]
fn the_base_document_is_valid() {
    let contract = Contract::from_yaml(BASE, &LoadOptions::strict()).unwrap();
    assert_eq!(contract.name(), "demo");
}

#[test]
fn every_malformed_contract_is_reported_at_its_path_and_line() {
    let cases = cases();
    assert!(cases.len() >= 30);
    let mut failures = Vec::new();
    for c in &cases {
        let options = LoadOptions { strict: c.strict };
        let problems = match problems_of(c.name, &c.yaml, &options) {
            Ok(problems) => problems,
            Err(failure) => {
                failures.push(failure);
                continue;
            }
        };
        let found = problems.iter().any(|p| {
            p.path == c.path && p.line == c.line && p.column > 0 && p.message.contains(c.message)
        });
        // Each mutation introduces one mistake, so it must be reported once, not echoed.
        if !found || problems.len() != 1 {
            let listed: Vec<String> = problems
                .iter()
                .map(|p| format!("    {p} [path `{}`]", p.path))
                .collect();
            failures.push(format!(
                "case `{}`: expected one problem at `{}` line {} containing {:?}; got:\n{}",
                c.name,
                c.path,
                c.line,
                c.message,
                listed.join("\n")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn truncated_and_damaged_contracts_never_panic() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/contracts/ruby-agent.yaml"
    ))
    .unwrap();
    let boundaries: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    let mut variants: Vec<String> = boundaries.iter().map(|&i| text[..i].to_owned()).collect();
    variants.extend(boundaries.iter().map(|&i| {
        let mut damaged = text.clone();
        damaged.remove(i);
        damaged
    }));
    for (n, yaml) in variants.iter().enumerate() {
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            Contract::from_yaml(yaml, &LoadOptions::default())
        }));
        let Ok(result) = outcome else {
            panic!("variant {n} panicked:\n{yaml}");
        };
        if let Err(err) = result {
            let problems = err
                .problems()
                .unwrap_or_else(|| panic!("variant {n}: {err}"));
            assert!(
                !problems.is_empty(),
                "variant {n}: an error without problems"
            );
        }
    }
}
