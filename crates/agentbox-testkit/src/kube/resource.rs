//! The kinds the server serves: built-in ones and those registered from CustomResourceDefinitions.

use serde_json::Value;
use std::sync::Arc;

use super::schema::Schema;
use super::status::{Cause, Subject};

/// `(group, plural)`: how stored objects of a kind are keyed, whatever version they are read at.
pub(crate) type ResourceId = (String, String);

/// How the server treats a kind beyond the generic REST semantics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strategy {
    /// A custom resource: schema validation, unconditional updates refused.
    Custom,
    /// core/v1 pods: status reset on create, spec mostly immutable, graceful deletion.
    Pod,
    /// core/v1 namespaces: deletion empties the namespace first.
    Namespace,
    /// apiextensions.k8s.io/v1 customresourcedefinitions: creating one serves a new kind.
    Definition,
}

/// One served version of a kind.
#[derive(Debug)]
pub(crate) struct Version {
    pub(crate) name: String,
    /// Whether the `status` subresource is enabled.
    pub(crate) status: bool,
    pub(crate) schema: Option<Arc<Schema>>,
}

/// A kind and everything needed to serve it.
#[derive(Debug)]
pub(crate) struct ResourceType {
    pub(crate) group: String,
    pub(crate) plural: String,
    pub(crate) singular: String,
    pub(crate) kind: String,
    pub(crate) list_kind: String,
    pub(crate) short_names: Vec<String>,
    pub(crate) namespaced: bool,
    pub(crate) versions: Vec<Version>,
    pub(crate) strategy: Strategy,
}

impl ResourceType {
    pub(crate) fn id(&self) -> ResourceId {
        (self.group.clone(), self.plural.clone())
    }

    pub(crate) fn version(&self, name: &str) -> Option<&Version> {
        self.versions.iter().find(|v| v.name == name)
    }

    /// `group/version`, or `version` in the core group.
    pub(crate) fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_owned()
        } else {
            format!("{}/{version}", self.group)
        }
    }

    /// The subject of NotFound / AlreadyExists / Conflict errors (by plural).
    pub(crate) fn subject<'a>(&'a self, name: &'a str) -> Subject<'a> {
        Subject {
            group: &self.group,
            resource: &self.plural,
            name,
        }
    }

    /// The subject of Invalid errors (by kind).
    pub(crate) fn kind_subject<'a>(&'a self, name: &'a str) -> Subject<'a> {
        Subject {
            group: &self.group,
            resource: &self.kind,
            name,
        }
    }

    /// Whether `PUT` without `metadata.resourceVersion` is allowed (not for custom resources).
    pub(crate) fn unconditional_update(&self) -> bool {
        self.strategy != Strategy::Custom
    }

    /// Versions sorted the way discovery prefers them (GA, then beta, then alpha; newest first).
    pub(crate) fn versions_by_priority(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.versions.iter().map(|v| v.name.as_str()).collect();
        names.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        names
    }

    /// A kind described by a CustomResourceDefinition object (apiextensions.k8s.io/v1).
    pub(crate) fn from_crd(crd: &Value) -> Result<Self, Vec<Cause>> {
        let mut causes = Vec::new();
        let text = |pointer: &str| {
            crd.pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let group = text("/spec/group");
        let plural = text("/spec/names/plural");
        let kind = text("/spec/names/kind");
        let name = text("/metadata/name");
        if group.is_empty() {
            causes.push(Cause::new(
                "FieldValueRequired",
                "spec.group",
                "Required value",
            ));
        }
        if plural.is_empty() {
            causes.push(Cause::new(
                "FieldValueRequired",
                "spec.names.plural",
                "Required value",
            ));
        }
        if kind.is_empty() {
            causes.push(Cause::new(
                "FieldValueRequired",
                "spec.names.kind",
                "Required value",
            ));
        }
        if name != format!("{plural}.{group}") {
            causes.push(Cause::new(
                "FieldValueInvalid",
                "metadata.name",
                format!("Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"),
            ));
        }
        let namespaced = match text("/spec/scope").as_str() {
            "Namespaced" => true,
            "Cluster" => false,
            other => {
                causes.push(Cause::new(
                    "FieldValueNotSupported",
                    "spec.scope",
                    format!("Unsupported value: \"{other}\": supported values: \"Cluster\", \"Namespaced\""),
                ));
                false
            }
        };
        let mut versions = Vec::new();
        let listed = crd
            .pointer("/spec/versions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for (i, v) in listed.iter().enumerate() {
            let version_name = v
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if v.get("served") != Some(&Value::Bool(true)) {
                continue;
            }
            let schema = match v.pointer("/schema/openAPIV3Schema") {
                Some(open_api) => match Schema::compile(open_api) {
                    Ok(schema) => Some(Arc::new(schema)),
                    Err(e) => {
                        causes.push(Cause::new(
                            "FieldValueInvalid",
                            format!("spec.versions[{i}].schema.openAPIV3Schema"),
                            format!("Invalid value: \"object\": {e}"),
                        ));
                        None
                    }
                },
                None => {
                    causes.push(Cause::new(
                        "FieldValueRequired",
                        format!("spec.versions[{i}].schema.openAPIV3Schema"),
                        "Required value: schemas are required",
                    ));
                    None
                }
            };
            versions.push(Version {
                name: version_name,
                status: v.pointer("/subresources/status").is_some(),
                schema,
            });
        }
        let storage = listed
            .iter()
            .filter(|v| v.get("storage") == Some(&Value::Bool(true)))
            .count();
        if storage != 1 {
            causes.push(Cause::new(
                "FieldValueInvalid",
                "spec.versions",
                format!("Invalid value: {storage}: must have exactly one version marked as storage version"),
            ));
        }
        if versions.is_empty() {
            causes.push(Cause::new(
                "FieldValueInvalid",
                "spec.versions",
                "Invalid value: must serve a version",
            ));
        }
        if !causes.is_empty() {
            return Err(causes);
        }
        let singular = match text("/spec/names/singular") {
            s if s.is_empty() => kind.to_lowercase(),
            s => s,
        };
        let list_kind = match text("/spec/names/listKind") {
            s if s.is_empty() => format!("{kind}List"),
            s => s,
        };
        let short_names = crd
            .pointer("/spec/names/shortNames")
            .and_then(Value::as_array)
            .map(|s| {
                s.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            group,
            plural,
            singular,
            kind,
            list_kind,
            short_names,
            namespaced,
            versions,
            strategy: Strategy::Custom,
        })
    }
}

/// Kubernetes version ordering: `v2` > `v1` > `v1beta2` > `v1beta1` > `v1alpha1` > anything else.
pub(crate) fn version_priority(version: &str) -> (u8, u32, u32) {
    let Some(rest) = version.strip_prefix('v') else {
        return (0, 0, 0);
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let Ok(major) = digits.parse::<u32>() else {
        return (0, 0, 0);
    };
    let tail = &rest[digits.len()..];
    let minor = |prefix: &str| {
        tail.strip_prefix(prefix)
            .and_then(|n| n.parse::<u32>().ok())
    };
    if tail.is_empty() {
        (3, major, 0)
    } else if let Some(n) = minor("beta") {
        (2, major, n)
    } else if let Some(n) = minor("alpha") {
        (1, major, n)
    } else {
        (0, 0, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_like_kubernetes() {
        let mut v = vec!["v1alpha1", "v1", "v1beta1", "v2", "v1alpha2", "foo"];
        v.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        assert_eq!(v, ["v2", "v1", "v1beta1", "v1alpha2", "v1alpha1", "foo"]);
    }
}
