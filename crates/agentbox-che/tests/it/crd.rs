//! The typed resources agree with the CRDs the DevWorkspace Operator installs (vendored from
//! devfile/api v2.3.0): group, version, kind, plural, scope and status subresource.

use agentbox_che::crd::{DevWorkspace, DevWorkspaceTemplate};
use kube::CustomResourceExt;
use serde_json::Value;

fn vendored(path: &str) -> Value {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// What a client relies on in a CRD.
#[derive(Debug, PartialEq)]
struct Facts {
    group: String,
    kind: String,
    plural: String,
    singular: String,
    short_names: Value,
    scope: String,
    /// Per served version: its name, whether it is stored, whether it has a status subresource.
    versions: Vec<(String, bool, bool)>,
}

fn facts(crd: &Value) -> Facts {
    let spec = &crd["spec"];
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    Facts {
        group: text(&spec["group"]),
        kind: text(&spec["names"]["kind"]),
        plural: text(&spec["names"]["plural"]),
        singular: text(&spec["names"]["singular"]),
        short_names: spec["names"]["shortNames"].clone(),
        scope: text(&spec["scope"]),
        versions: spec["versions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["served"] == true)
            .map(|v| {
                (
                    text(&v["name"]),
                    v["storage"] == true,
                    v["subresources"]["status"].is_object(),
                )
            })
            .collect(),
    }
}

/// Our CRD's facts must be the vendored CRD's, for the one version we model.
fn assert_matches(ours: Value, theirs: Value) {
    let ours = facts(&ours);
    let mut theirs = facts(&theirs);
    assert_eq!(ours.versions.len(), 1, "we model one version");
    theirs.versions.retain(|v| v.0 == ours.versions[0].0);
    assert_eq!(ours, theirs);
}

#[test]
fn devworkspace_matches_the_operators_crd() {
    let ours = serde_json::to_value(DevWorkspace::crd()).unwrap();
    assert_matches(
        ours,
        vendored("specs/devfile/crds/workspace.devfile.io_devworkspaces.yaml"),
    );
}

#[test]
fn devworkspace_template_matches_the_operators_crd() {
    let ours = serde_json::to_value(DevWorkspaceTemplate::crd()).unwrap();
    assert_matches(
        ours,
        vendored("crates/agentbox-testkit/specs/workspace.devfile.io_devworkspacetemplates.yaml"),
    );
}

#[test]
fn the_schema_requires_started_like_the_operators() {
    let ours = serde_json::to_value(DevWorkspace::crd()).unwrap();
    let schema = &ours["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
    assert_eq!(schema["required"], serde_json::json!(["started"]));
    assert_eq!(schema["properties"]["started"]["type"], "boolean");
}
