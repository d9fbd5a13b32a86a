//! The least-privilege RBAC an orchestrator needs to drive [`crate::CheProvider`] in one
//! namespace: DevWorkspaces (everything the provider does to them), pods (to find a
//! workspace's pod) and `pods/exec` (to run commands) — nothing else. No Secrets: secrets reach
//! workspaces through the DevWorkspace Operator's automount, never through agentbox.
//!
//! ```
//! let (role, binding) = agentbox_che::rbac::role("team-a", "agentbox");
//! assert_eq!(role.rules.as_ref().unwrap().len(), 3);
//! let yaml = agentbox_che::rbac::to_yaml(&role, &binding).unwrap();
//! assert!(yaml.contains("pods/exec"));
//! ```

use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::error::CheError;

/// What the provider does to DevWorkspaces: read, watch, create, start/stop (patch), delete.
pub const DEVWORKSPACE_VERBS: [&str; 6] = ["create", "delete", "get", "list", "patch", "watch"];
/// What it does to pods: find the workspace's pod.
pub const POD_VERBS: [&str; 3] = ["get", "list", "watch"];
/// What it does to `pods/exec`: a WebSocket exec is a GET that API servers before 1.35
/// authorize as `get` and later ones as `create`; both are granted so either works.
pub const POD_EXEC_VERBS: [&str; 2] = ["create", "get"];

/// A Role named `name` in `namespace` with exactly the rules the provider needs, and a
/// RoleBinding granting it to the ServiceAccount `name` of that namespace.
pub fn role(namespace: &str, name: &str) -> (Role, RoleBinding) {
    role_for(
        namespace,
        name,
        Subject {
            kind: "ServiceAccount".to_owned(),
            name: name.to_owned(),
            namespace: Some(namespace.to_owned()),
            api_group: None,
        },
    )
}

/// Like [`role`], bound to `subject` (a user, a group, another service account).
pub fn role_for(namespace: &str, name: &str, subject: Subject) -> (Role, RoleBinding) {
    let metadata = ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(namespace.to_owned()),
        labels: Some(
            [(
                "app.kubernetes.io/managed-by".to_owned(),
                "agentbox".to_owned(),
            )]
            .into_iter()
            .collect(),
        ),
        ..ObjectMeta::default()
    };
    let rule = |group: &str, resource: &str, verbs: &[&str]| PolicyRule {
        api_groups: Some(vec![group.to_owned()]),
        resources: Some(vec![resource.to_owned()]),
        verbs: verbs.iter().map(|v| (*v).to_owned()).collect(),
        ..PolicyRule::default()
    };
    let role = Role {
        metadata: metadata.clone(),
        rules: Some(vec![
            rule("workspace.devfile.io", "devworkspaces", &DEVWORKSPACE_VERBS),
            rule("", "pods", &POD_VERBS),
            rule("", "pods/exec", &POD_EXEC_VERBS),
        ]),
    };
    let binding = RoleBinding {
        metadata,
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_owned(),
            kind: "Role".to_owned(),
            name: name.to_owned(),
        },
        subjects: Some(vec![subject]),
    };
    (role, binding)
}

/// The Role and RoleBinding as one YAML stream (two documents), ready for `kubectl apply -f -`.
pub fn to_yaml(role: &Role, binding: &RoleBinding) -> Result<String, CheError> {
    let render = |what: &str, value: Result<String, serde_saphyr::ser::Error>| {
        value.map_err(|e| CheError::Manifest {
            contract: String::new(),
            message: format!("the {what} does not render as YAML: {e}"),
        })
    };
    let role = render("Role", serde_saphyr::to_string(role))?;
    let binding = render("RoleBinding", serde_saphyr::to_string(binding))?;
    Ok(format!("---\n{role}---\n{binding}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_role_grants_exactly_what_the_provider_uses() {
        let (role, binding) = role("team-a", "orchestrator");
        let rules = role.rules.unwrap();
        let flat: Vec<(String, String, Vec<String>)> = rules
            .iter()
            .map(|r| {
                (
                    r.api_groups.clone().unwrap().join(","),
                    r.resources.clone().unwrap().join(","),
                    r.verbs.clone(),
                )
            })
            .collect();
        assert_eq!(
            flat,
            vec![
                (
                    "workspace.devfile.io".into(),
                    "devworkspaces".into(),
                    vec![
                        "create".into(),
                        "delete".into(),
                        "get".into(),
                        "list".into(),
                        "patch".into(),
                        "watch".into()
                    ]
                ),
                (
                    "".into(),
                    "pods".into(),
                    vec!["get".into(), "list".into(), "watch".into()]
                ),
                (
                    "".into(),
                    "pods/exec".into(),
                    vec!["create".into(), "get".into()]
                ),
            ]
        );
        assert!(
            rules
                .iter()
                .all(|r| r.resource_names.is_none() && r.non_resource_urls.is_none())
        );
        assert_eq!(binding.role_ref.name, "orchestrator");
        let subject = &binding.subjects.unwrap()[0];
        assert_eq!(
            (subject.kind.as_str(), subject.namespace.as_deref()),
            ("ServiceAccount", Some("team-a"))
        );
    }

    #[test]
    fn the_yaml_reads_back_as_the_same_objects() {
        let (role, binding) = role("team-a", "orchestrator");
        let yaml = to_yaml(&role, &binding).unwrap();
        let docs: Vec<&str> = yaml
            .split("---\n")
            .filter(|d| !d.trim().is_empty())
            .collect();
        assert_eq!(docs.len(), 2);
        let back: Role = serde_saphyr::from_str(docs[0]).unwrap();
        let back_binding: RoleBinding = serde_saphyr::from_str(docs[1]).unwrap();
        assert_eq!(back, role);
        assert_eq!(back_binding, binding);
        assert!(docs[0].contains("kind: Role"), "{}", docs[0]);
    }
}
