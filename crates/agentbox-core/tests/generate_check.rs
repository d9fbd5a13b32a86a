//! Drift check, strict mode and secrets: `check` is clean right after `generate` and catches
//! any changed byte; strict refuses unenforced security fields; no secret value reaches a file.

mod generate_support;

use agentbox_core::Error;
use agentbox_core::generate::{DriftKind, GenerateOptions, Target, check, generate};
use generate_support::{FIXTURES, contract, generate_all, options};

#[test]
fn check_is_clean_right_after_generate_and_catches_any_changed_byte() {
    let contract = contract("ruby-agent");
    let dir = tempfile::tempdir().unwrap();
    let generated = generate(&contract, &[Target::All], &options(false)).unwrap();
    generated.write_to(dir.path()).unwrap();
    assert!(
        check(&contract, &[Target::All], &options(false), dir.path())
            .unwrap()
            .is_clean()
    );

    for (relative, text) in &generated.files {
        let path = dir.path().join(relative);
        for at in [0, text.len() / 2, text.len() - 1] {
            let mut bytes = text.clone().into_bytes();
            bytes[at] = if bytes[at] == b'x' { b'y' } else { b'x' };
            std::fs::write(&path, &bytes).unwrap();
            let drift = check(&contract, &[Target::All], &options(false), dir.path()).unwrap();
            assert_eq!(drift.files.len(), 1, "{relative} byte {at}");
            assert_eq!(drift.files[0].kind, DriftKind::Changed);
            assert!(drift.files[0].diff.contains(&format!("+++ b/{relative}")));
        }
        std::fs::write(&path, text).unwrap();
    }
    assert!(
        check(&contract, &[Target::All], &options(false), dir.path())
            .unwrap()
            .is_clean()
    );
}

#[test]
fn check_reports_a_missing_file_with_a_diff_from_nothing() {
    let contract = contract("minimal");
    let dir = tempfile::tempdir().unwrap();
    generate(&contract, &[Target::All], &options(false))
        .unwrap()
        .write_to(dir.path())
        .unwrap();
    std::fs::remove_file(dir.path().join("devfile.yaml")).unwrap();
    let drift = check(&contract, &[Target::All], &options(false), dir.path()).unwrap();
    assert_eq!(drift.files.len(), 1);
    assert_eq!(drift.files[0].kind, DriftKind::Missing);
    assert!(
        drift.files[0].diff.contains("+schemaVersion: \"2.2.2\""),
        "{}",
        drift.files[0].diff
    );
}

#[test]
fn strict_refuses_a_host_rule_without_cilium_and_names_it() {
    let contract = contract("cilium-fqdn");
    let strict = GenerateOptions {
        cilium: false,
        strict: true,
    };
    let targets = [Target::NetworkPolicy, Target::Agents];
    let err = generate(&contract, &targets, &strict).unwrap_err();
    let Error::Unenforceable { fields } = &err else {
        panic!("{err}")
    };
    assert_eq!(fields.len(), 3, "{fields:?}");
    assert!(
        fields[0].starts_with("networkpolicy: spec.network.egress.allow[0]: "),
        "{fields:?}"
    );
    assert!(err.to_string().contains("registry.npmjs.org"));

    let cilium = GenerateOptions {
        cilium: true,
        strict: true,
    };
    let generated = generate(&contract, &targets, &cilium).unwrap();
    assert!(generated.files[".agentbox/networkpolicy.yaml"].contains("toFQDNs"));
}

#[test]
fn strict_counts_a_delegated_field_only_when_its_target_is_generated() {
    let contract = contract("minimal");
    let strict = GenerateOptions {
        cilium: false,
        strict: true,
    };
    // The devfile leaves egress to the NetworkPolicy, which is not generated here.
    let err = generate(&contract, &[Target::Devfile], &strict).unwrap_err();
    assert!(
        err.to_string()
            .contains("devfile: spec.network.egress.default"),
        "{err}"
    );
    generate(
        &contract,
        &[Target::Devfile, Target::NetworkPolicy],
        &strict,
    )
    .unwrap();
}

#[test]
fn strict_refuses_secrets_a_devfile_cannot_carry_and_isolation_envbuilder_ignores() {
    let contract = contract("ruby-agent");
    let strict = GenerateOptions {
        cilium: true,
        strict: true,
    };
    let Error::Unenforceable { fields } = generate(&contract, &[Target::All], &strict).unwrap_err()
    else {
        panic!("expected Unenforceable")
    };
    for expected in [
        "devfile: spec.secrets[0]: ",
        "devworkspace: spec.secrets[0]: ",
        "devcontainer: spec.isolation.runtimeClass: ",
        "devcontainer: spec.resources.memory.limit: ",
    ] {
        assert!(
            fields.iter().any(|f| f.starts_with(expected)),
            "{expected} not in {fields:#?}"
        );
    }
    // Without strict the same gaps are in the report and the files are written.
    let lenient = GenerateOptions {
        cilium: true,
        strict: false,
    };
    let generated = generate(&contract, &[Target::All], &lenient).unwrap();
    assert_eq!(generated.files.len(), 5);
    assert_eq!(
        generated.report.unenforced(&Target::EACH).len(),
        fields.len()
    );
}

#[test]
fn no_secret_value_reaches_any_output() {
    let planted = [
        ("GITHUB_TOKEN", "ghp_PLANTED0github0token0value"),
        ("NPM_TOKEN", "npm_PLANTED0npm0token0value"),
        (
            "DATABASE_URL",
            "postgres://agent:PLANTED0password@db/warehouse",
        ),
    ];
    // The generator takes no secret source; the one place it could find values is the
    // process environment, where `${localEnv:NAME}` would resolve them.
    for (env, value) in planted {
        // SAFETY: no other test in this binary reads or writes these variables.
        unsafe { std::env::set_var(env, value) };
    }
    for (name, cilium) in FIXTURES {
        for cilium in [cilium, !cilium] {
            let generated = generate_all(name, cilium);
            let report = generated.report.to_string();
            for (path, text) in generated
                .files
                .iter()
                .chain([(&"report".to_owned(), &report)])
            {
                for (_, value) in planted {
                    assert!(
                        !text.contains(value),
                        "{name}/{path} contains a secret value"
                    );
                    assert!(!text.contains("PLANTED"), "{name}/{path}");
                }
            }
        }
    }
    // The references themselves are there.
    let generated = generate_all("maximal", true);
    let devcontainer = &generated.files[".devcontainer/devcontainer.json"];
    assert!(devcontainer.contains("\"GITHUB_TOKEN\": \"${localEnv:GITHUB_TOKEN}\""));
    assert!(devcontainer.contains("secret `registry-creds`"));
}
