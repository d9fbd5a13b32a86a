//! The built-in kinds: core/v1 `pods` and `namespaces`, apiextensions.k8s.io/v1
//! `customresourcedefinitions`, and what their apiserver strategies do on create and update.

use serde_json::{Value, json};

use super::meta;
use super::resource::{ResourceType, Strategy, Version};
use super::status::Cause;

fn builtin(
    group: &str,
    version: &str,
    (plural, singular, kind): (&str, &str, &str),
    short_names: &[&str],
    namespaced: bool,
    strategy: Strategy,
) -> ResourceType {
    ResourceType {
        group: group.to_owned(),
        plural: plural.to_owned(),
        singular: singular.to_owned(),
        kind: kind.to_owned(),
        list_kind: format!("{kind}List"),
        short_names: short_names.iter().map(|s| (*s).to_owned()).collect(),
        namespaced,
        versions: vec![Version {
            name: version.to_owned(),
            status: true,
            schema: None,
        }],
        strategy,
    }
}

/// Every built-in kind.
pub(crate) fn kinds() -> Vec<ResourceType> {
    vec![
        builtin(
            "",
            "v1",
            ("pods", "pod", "Pod"),
            &["po"],
            true,
            Strategy::Pod,
        ),
        builtin(
            "",
            "v1",
            ("namespaces", "namespace", "Namespace"),
            &["ns"],
            false,
            Strategy::Namespace,
        ),
        builtin(
            "apiextensions.k8s.io",
            "v1",
            (
                "customresourcedefinitions",
                "customresourcedefinition",
                "CustomResourceDefinition",
            ),
            &["crd", "crds"],
            false,
            Strategy::Definition,
        ),
    ]
}

/// Field selectors a kind supports besides `metadata.name` and `metadata.namespace`.
pub(crate) fn selectable_fields(strategy: Strategy) -> &'static [&'static str] {
    match strategy {
        Strategy::Pod => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        Strategy::Namespace => &["status.phase"],
        Strategy::Custom | Strategy::Definition => &[],
    }
}

/// What the kind's strategy does to a new object (`PrepareForCreate` plus defaulting).
pub(crate) fn prepare_create(strategy: Strategy, object: &mut Value) {
    match strategy {
        Strategy::Pod => {
            default_pod_spec(object);
            let qos = qos_class(object);
            object["status"] = json!({"phase": "Pending", "qosClass": qos});
        }
        Strategy::Namespace => {
            object["spec"] = json!({"finalizers": ["kubernetes"]});
            object["status"] = json!({"phase": "Active"});
        }
        Strategy::Definition => {
            let names = object
                .pointer("/spec/names")
                .cloned()
                .unwrap_or(Value::Null);
            let storage: Vec<Value> = object
                .pointer("/spec/versions")
                .and_then(Value::as_array)
                .map(|v| {
                    v.iter()
                        .filter(|v| v.get("storage") == Some(&Value::Bool(true)))
                        .filter_map(|v| v.get("name").cloned())
                        .collect()
                })
                .unwrap_or_default();
            let now = meta::now();
            let condition = |kind: &str, reason: &str, message: &str| json!({"type": kind, "status": "True", "lastTransitionTime": now, "reason": reason, "message": message});
            object["status"] = json!({
                "acceptedNames": names,
                "conditions": [
                    condition("NamesAccepted", "NoConflicts", "no conflicts found"),
                    condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
                ],
                "storedVersions": storage,
            });
        }
        Strategy::Custom => {}
    }
}

fn default_pod_spec(pod: &mut Value) {
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    for (field, value) in [
        ("restartPolicy", json!("Always")),
        ("terminationGracePeriodSeconds", json!(30)),
        ("dnsPolicy", json!("ClusterFirst")),
        ("schedulerName", json!("default-scheduler")),
        ("securityContext", json!({})),
        ("enableServiceLinks", json!(true)),
    ] {
        spec.entry(field).or_insert(value);
    }
    for list in ["initContainers", "containers"] {
        let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for container in containers.iter_mut().filter_map(Value::as_object_mut) {
            let image = container
                .get("image")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let tag = image
                .rsplit('/')
                .next()
                .and_then(|last| last.split_once(':'))
                .map(|(_, tag)| tag);
            let pull = if image.contains('@') || tag.is_some_and(|t| t != "latest") {
                "IfNotPresent"
            } else {
                "Always"
            };
            container.entry("imagePullPolicy").or_insert(json!(pull));
            container
                .entry("terminationMessagePath")
                .or_insert(json!("/dev/termination-log"));
            container
                .entry("terminationMessagePolicy")
                .or_insert(json!("File"));
        }
    }
}

/// `Guaranteed` when every container limits cpu and memory to its requests, `BestEffort`
/// when none asks for anything, else `Burstable`.
fn qos_class(pod: &Value) -> &'static str {
    let containers: Vec<&Value> = ["initContainers", "containers"]
        .iter()
        .filter_map(|list| {
            pod.pointer(&format!("/spec/{list}"))
                .and_then(Value::as_array)
        })
        .flatten()
        .collect();
    let resources = |c: &Value, kind: &str| {
        c.pointer(&format!("/resources/{kind}"))
            .and_then(Value::as_object)
            .cloned()
    };
    let any = containers.iter().any(|c| {
        resources(c, "requests").is_some_and(|r| !r.is_empty())
            || resources(c, "limits").is_some_and(|l| !l.is_empty())
    });
    if !any {
        return "BestEffort";
    }
    let guaranteed = containers.iter().all(|c| {
        let limits = resources(c, "limits").unwrap_or_default();
        let requests = resources(c, "requests").unwrap_or_default();
        ["cpu", "memory"].iter().all(|r| {
            limits
                .get(*r)
                .is_some_and(|limit| requests.get(*r).is_none_or(|request| request == limit))
        })
    });
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// Pod checks that matter to callers: containers named, unique and with an image.
pub(crate) fn validate_pod(pod: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let containers = pod.pointer("/spec/containers").and_then(Value::as_array);
    if containers.is_none_or(Vec::is_empty) {
        causes.push(Cause::new(
            "FieldValueRequired",
            "spec.containers",
            "Required value",
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for list in ["initContainers", "containers"] {
        let Some(entries) = pod
            .pointer(&format!("/spec/{list}"))
            .and_then(Value::as_array)
        else {
            continue;
        };
        for (i, container) in entries.iter().enumerate() {
            let name = container
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let field = format!("spec.{list}[{i}]");
            if name.is_empty() {
                causes.push(Cause::new(
                    "FieldValueRequired",
                    format!("{field}.name"),
                    "Required value",
                ));
            } else if !meta::is_dns_label(name) {
                causes.push(Cause::new(
                    "FieldValueInvalid",
                    format!("{field}.name"),
                    format!("Invalid value: \"{name}\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'"),
                ));
            } else if !seen.insert(name.to_owned()) {
                causes.push(Cause::new(
                    "FieldValueDuplicate",
                    format!("{field}.name"),
                    format!("Duplicate value: \"{name}\""),
                ));
            }
            if container
                .get("image")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                causes.push(Cause::new(
                    "FieldValueRequired",
                    format!("{field}.image"),
                    "Required value",
                ));
            }
        }
    }
    causes
}

/// The pod spec with the fields an update may change blanked out.
fn immutable_part(spec: &Value) -> Value {
    let mut spec = spec.clone();
    for list in ["initContainers", "containers"] {
        if let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) {
            for container in containers.iter_mut().filter_map(Value::as_object_mut) {
                container.remove("image");
            }
        }
    }
    if let Some(spec) = spec.as_object_mut() {
        for field in [
            "activeDeadlineSeconds",
            "tolerations",
            "terminationGracePeriodSeconds",
        ] {
            spec.remove(field);
        }
    }
    spec
}

/// A pod update may only change images, `activeDeadlineSeconds`, tolerations and the grace period.
pub(crate) fn validate_pod_update(old: &Value, new: &Value) -> Vec<Cause> {
    let (Some(old_spec), Some(new_spec)) = (old.get("spec"), new.get("spec")) else {
        return Vec::new();
    };
    if immutable_part(old_spec) == immutable_part(new_spec) {
        return Vec::new();
    }
    vec![Cause::new(
        "FieldValueForbidden",
        "spec",
        "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,\
         `spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to \
         existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_get_defaults_and_a_pending_status() {
        let mut pod = json!({"spec": {"containers": [{"name": "c", "image": "busybox:1.36",
            "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}, "status": {"phase": "Running"}});
        prepare_create(Strategy::Pod, &mut pod);
        assert_eq!(
            pod["status"],
            json!({"phase": "Pending", "qosClass": "Guaranteed"})
        );
        assert_eq!(
            pod["spec"]["containers"][0]["imagePullPolicy"],
            "IfNotPresent"
        );
        assert_eq!(pod["spec"]["restartPolicy"], "Always");
    }

    #[test]
    fn pod_spec_is_immutable_but_images() {
        let old = json!({"spec": {"containers": [{"name": "c", "image": "a"}]}});
        let image = json!({"spec": {"containers": [{"name": "c", "image": "b"}]}});
        let command =
            json!({"spec": {"containers": [{"name": "c", "image": "a", "command": ["sh"]}]}});
        assert!(validate_pod_update(&old, &image).is_empty());
        assert_eq!(validate_pod_update(&old, &command)[0].field, "spec");
        let missing = validate_pod(&json!({"spec": {"containers": [{"name": "c"}]}}));
        assert_eq!(missing[0].field, "spec.containers[0].image");
    }
}
