//! The generated Role and RoleBinding, applied from their YAML as `kubectl apply` would and
//! read back unchanged. The fake API server has no RBAC kinds of its own, so they are served
//! from CustomResourceDefinitions with the RBAC group, names and (structural) schemas.

use agentbox_che::rbac;
use agentbox_testkit::kube::FakeApiServer;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::{Value, json};

const NAMESPACE: &str = "team-a";

/// A CRD serving `kind` in `rbac.authorization.k8s.io/v1` with the given spec-level schema.
fn rbac_crd(kind: &str, plural: &str, properties: Value, required: &[&str]) -> Value {
    let mut schema = json!({ "type": "object", "properties": properties });
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": { "name": format!("{plural}.rbac.authorization.k8s.io") },
        "spec": {
            "group": "rbac.authorization.k8s.io",
            "scope": "Namespaced",
            "names": { "kind": kind, "plural": plural, "singular": kind.to_lowercase(), "listKind": format!("{kind}List") },
            "versions": [{
                "name": "v1",
                "served": true,
                "storage": true,
                "schema": { "openAPIV3Schema": schema },
            }],
        },
    })
}

fn string_list() -> Value {
    json!({ "type": "array", "items": { "type": "string" } })
}

fn role_crd() -> Value {
    rbac_crd(
        "Role",
        "roles",
        json!({
            "rules": { "type": "array", "items": {
                "type": "object",
                "required": ["verbs"],
                "properties": {
                    "apiGroups": string_list(),
                    "resources": string_list(),
                    "resourceNames": string_list(),
                    "nonResourceURLs": string_list(),
                    "verbs": string_list(),
                },
            }},
        }),
        &[],
    )
}

fn binding_crd() -> Value {
    let reference = |required: &[&str]| {
        json!({
            "type": "object",
            "required": required,
            "properties": {
                "apiGroup": { "type": "string" },
                "kind": { "type": "string" },
                "name": { "type": "string" },
                "namespace": { "type": "string" },
            },
        })
    };
    rbac_crd(
        "RoleBinding",
        "rolebindings",
        json!({
            "roleRef": reference(&["apiGroup", "kind", "name"]),
            "subjects": { "type": "array", "items": reference(&["kind", "name"]) },
        }),
        &["roleRef"],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generated_rbac_applies_and_reads_back() {
    let server = FakeApiServer::builder()
        .crd(role_crd())
        .crd(binding_crd())
        .namespace(NAMESPACE)
        .start()
        .await
        .expect("fake API server");
    let (role, binding) = rbac::role(NAMESPACE, "agentbox");
    let yaml = rbac::to_yaml(&role, &binding).expect("yaml");

    // `kubectl apply -f -`: each document server-side applied by its kind.
    let apply = PatchParams::apply("agentbox-test").force();
    for document in yaml.split("---\n").filter(|d| !d.trim().is_empty()) {
        let object: DynamicObject = serde_saphyr::from_str(document).expect("a YAML document");
        let types = object.types.clone().expect("apiVersion and kind");
        let (group, version) = types.api_version.split_once('/').expect("group/version");
        let gvk = GroupVersionKind::gvk(group, version, &types.kind);
        let plural = format!("{}s", types.kind.to_lowercase());
        let resource = ApiResource::from_gvk_with_plural(&gvk, &plural);
        let api: Api<DynamicObject> = Api::namespaced_with(server.client(), NAMESPACE, &resource);
        let name = object.metadata.name.clone().expect("a name");
        api.patch(&name, &apply, &Patch::Apply(&object))
            .await
            .unwrap_or_else(|e| panic!("apply {}: {e}", types.kind));
    }

    let roles: Api<Role> = Api::namespaced(server.client(), NAMESPACE);
    let stored = roles.get("agentbox").await.expect("the Role reads back");
    assert_eq!(
        stored.rules, role.rules,
        "the rules are exactly the generated ones"
    );
    assert_eq!(stored.metadata.labels, role.metadata.labels);
    let bindings: Api<RoleBinding> = Api::namespaced(server.client(), NAMESPACE);
    let stored = bindings
        .get("agentbox")
        .await
        .expect("the RoleBinding reads back");
    assert_eq!(stored.role_ref, binding.role_ref);
    assert_eq!(stored.subjects, binding.subjects);
}
