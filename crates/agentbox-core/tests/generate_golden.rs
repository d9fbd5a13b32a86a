//! Golden files: each fixture contract compiles to exactly the files under
//! `tests/golden/<contract>/`, plus `report.txt`. Run with `AGENTBOX_BLESS=1` to rewrite them
//! after an intended change, then review the diff.

mod generate_support;

use generate_support::{FIXTURES, crate_dir, generate_all};
use std::collections::BTreeMap;

fn bless() -> bool {
    std::env::var_os("AGENTBOX_BLESS").is_some_and(|v| v == "1")
}

#[test]
fn every_fixture_generates_its_golden_files() {
    let mut failures = Vec::new();
    for (name, cilium) in FIXTURES {
        let generated = generate_all(name, cilium);
        let mut files: BTreeMap<String, String> = generated.files.clone();
        files.insert("report.txt".into(), generated.report.to_string());
        let dir = crate_dir().join("tests/golden").join(name);
        for (relative, text) in &files {
            let path = dir.join(relative);
            if bless() {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, text).unwrap();
                continue;
            }
            match std::fs::read_to_string(&path) {
                Ok(expected) if expected == *text => {}
                Ok(_) => failures.push(format!("{name}/{relative} differs")),
                Err(e) => failures.push(format!("{name}/{relative}: {e}")),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "golden files out of date (review, then rerun with AGENTBOX_BLESS=1):\n{}",
        failures.join("\n")
    );
}

#[test]
fn generating_twice_gives_byte_identical_files() {
    for (name, cilium) in FIXTURES {
        let first = generate_all(name, cilium);
        let second = generate_all(name, cilium);
        assert_eq!(first, second, "{name}");
    }
}

#[test]
fn every_target_reports_every_field_the_contract_sets() {
    let generated = generate_all("maximal", true);
    let counts: Vec<usize> = generated
        .report
        .targets
        .iter()
        .map(|t| t.entries.len())
        .collect();
    assert_eq!(counts.len(), 5);
    assert!(counts.iter().all(|&c| c == counts[0]), "{counts:?}");
    // maximal sets every field kind; its egress rules alone are seven rows.
    assert!(counts[0] > 40, "{counts:?}");
}
