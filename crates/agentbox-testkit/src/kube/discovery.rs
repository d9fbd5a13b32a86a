//! Discovery: `/version`, `/api`, `/api/v1`, `/apis`, `/apis/{group}[/{version}]` (legacy and
//! aggregated `apidiscovery.k8s.io/v2` forms), and the health endpoints.

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

use super::resource::{ResourceType, Strategy};
use super::state::ApiState;
use super::status::ApiError;

/// The Kubernetes version the fake reports (the API it follows).
pub(crate) const KUBERNETES_MINOR: &str = "34";

const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// A discovery path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Discovery {
    Version,
    Health,
    CoreVersions,
    Groups,
    Group(String),
    GroupVersion(String, String),
}

fn wants_aggregated(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("as=APIGroupDiscoveryList"))
}

/// Answer a discovery request.
pub(crate) fn serve(state: &ApiState, path: &Discovery, headers: &HeaderMap) -> Response {
    let kinds: Vec<Arc<ResourceType>> = state.store().types().cloned().collect();
    let by_group = group_kinds(&kinds);
    let body = match path {
        Discovery::Health => return "ok".into_response(),
        Discovery::Version => json!({
            "major": "1",
            "minor": KUBERNETES_MINOR,
            "gitVersion": format!("v1.{KUBERNETES_MINOR}.0+agentbox-testkit"),
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "2025-08-27T00:00:00Z",
            "goVersion": "go1.24.6",
            "compiler": "gc",
            "platform": "linux/amd64",
        }),
        Discovery::CoreVersions if wants_aggregated(headers) => {
            return aggregated(by_group.iter().filter(|(g, _)| g.is_empty()));
        }
        Discovery::CoreVersions => json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": state.address}],
        }),
        Discovery::Groups if wants_aggregated(headers) => {
            return aggregated(by_group.iter().filter(|(g, _)| !g.is_empty()));
        }
        Discovery::Groups => json!({
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": by_group.iter().filter(|(g, _)| !g.is_empty()).map(|(g, k)| api_group(g, k)).collect::<Vec<_>>(),
        }),
        Discovery::Group(group) => match by_group.get(group.as_str()).filter(|_| !group.is_empty())
        {
            Some(kinds) => {
                let mut body = api_group(group, kinds);
                body["apiVersion"] = json!("v1");
                body
            }
            None => return ApiError::no_route().into_response(),
        },
        Discovery::GroupVersion(group, version) => {
            let served: Vec<&Arc<ResourceType>> = kinds
                .iter()
                .filter(|k| &k.group == group && k.version(version).is_some())
                .collect();
            if served.is_empty() {
                return ApiError::no_route().into_response();
            }
            let group_version = if group.is_empty() {
                version.clone()
            } else {
                format!("{group}/{version}")
            };
            json!({
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": group_version,
                "resources": served.iter().flat_map(|k| resources(k, version)).collect::<Vec<_>>(),
            })
        }
    };
    axum::Json(body).into_response()
}

fn group_kinds(kinds: &[Arc<ResourceType>]) -> BTreeMap<&str, Vec<&Arc<ResourceType>>> {
    let mut groups: BTreeMap<&str, Vec<&Arc<ResourceType>>> = BTreeMap::new();
    for kind in kinds {
        groups.entry(kind.group.as_str()).or_default().push(kind);
    }
    groups
}

/// The versions a group serves, preferred first.
fn group_versions(kinds: &[&Arc<ResourceType>]) -> Vec<String> {
    let mut versions: Vec<String> = Vec::new();
    for kind in kinds {
        for v in kind.versions_by_priority() {
            if !versions.iter().any(|known| known == v) {
                versions.push(v.to_owned());
            }
        }
    }
    versions.sort_by_key(|v| std::cmp::Reverse(super::resource::version_priority(v)));
    versions
}

fn api_group(group: &str, kinds: &[&Arc<ResourceType>]) -> Value {
    let versions: Vec<Value> = group_versions(kinds)
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    json!({
        "kind": "APIGroup",
        "name": group,
        "versions": versions,
        "preferredVersion": versions.first().cloned().unwrap_or(Value::Null),
    })
}

/// Subresources a kind serves at `version`: `(name, kind, verbs)`.
fn subresources<'a>(
    kind: &'a ResourceType,
    version: &str,
) -> Vec<(&'static str, &'a str, Vec<&'static str>)> {
    let mut subs = Vec::new();
    if kind.version(version).is_some_and(|v| v.status) {
        subs.push(("status", kind.kind.as_str(), vec!["get", "patch", "update"]));
    }
    if kind.strategy == Strategy::Pod {
        subs.push(("binding", "Binding", vec!["create"]));
    }
    subs
}

fn resources(kind: &ResourceType, version: &str) -> Vec<Value> {
    let mut list = vec![json!({
        "name": kind.plural,
        "singularName": kind.singular,
        "namespaced": kind.namespaced,
        "kind": kind.kind,
        "verbs": VERBS,
        "shortNames": kind.short_names,
    })];
    for (sub, sub_kind, verbs) in subresources(kind, version) {
        list.push(json!({
            "name": format!("{}/{sub}", kind.plural),
            "singularName": "",
            "namespaced": kind.namespaced,
            "kind": sub_kind,
            "verbs": verbs,
        }));
    }
    list
}

fn aggregated<'a>(
    groups: impl Iterator<Item = (&'a &'a str, &'a Vec<&'a Arc<ResourceType>>)>,
) -> Response {
    let items: Vec<Value> = groups
        .map(|(group, kinds)| {
            let versions: Vec<Value> = group_versions(kinds)
                .iter()
                .map(|v| {
                    let resources: Vec<Value> = kinds
                        .iter()
                        .filter(|k| k.version(v).is_some())
                        .map(|k| {
                            let response_kind = |kind: &str| json!({"group": group, "version": v, "kind": kind});
                            json!({
                                "resource": k.plural,
                                "responseKind": response_kind(&k.kind),
                                "scope": if k.namespaced { "Namespaced" } else { "Cluster" },
                                "singularResource": k.singular,
                                "verbs": VERBS,
                                "shortNames": k.short_names,
                                "subresources": subresources(k, v).into_iter().map(|(sub, sub_kind, verbs)| json!({
                                    "subresource": sub,
                                    "responseKind": response_kind(sub_kind),
                                    "verbs": verbs,
                                })).collect::<Vec<_>>(),
                            })
                        })
                        .collect();
                    json!({"version": v, "resources": resources, "freshness": "Current"})
                })
                .collect();
            json!({"metadata": {"name": group}, "versions": versions})
        })
        .collect();
    let body = json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    });
    let mut response = axum::Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(AGGREGATED));
    response
}
