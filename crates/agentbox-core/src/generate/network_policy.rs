//! `.agentbox/networkpolicy.yaml`: the contract's egress policy for the workspace pod.
//!
//! A `NetworkPolicy` (`networking.k8s.io/v1`) selects the pod by the label the DevWorkspace
//! Operator puts on it, `controller.devfile.io/devworkspace_name`, and denies all egress but
//! the contract's `cidr` and `dns` rules. A plain NetworkPolicy matches IP blocks only, so host
//! (FQDN) rules become a `CiliumNetworkPolicy` (`cilium.io/v2`, `toFQDNs`) when the caller
//! targets Cilium, and an entry in the report otherwise; traffic to such a host is then
//! denied (the policy fails closed).

use serde_json::{Value, json};

use super::GenerateOptions;
use super::output::{self, Object};
use super::report::Notes;
use crate::Result;
use crate::contract::{Contract, EgressRule, EgressTarget, Verdict};

/// The pod label the DevWorkspace Operator sets to the DevWorkspace's name.
pub const POD_LABEL: &str = "controller.devfile.io/devworkspace_name";

/// The policy text: one or two YAML documents.
pub(super) fn render(
    contract: &Contract,
    options: &GenerateOptions,
    notes: &mut Notes,
) -> Result<String> {
    let egress = contract
        .spec
        .network
        .as_ref()
        .map(|n| n.egress.clone())
        .unwrap_or_default();
    let mut documents = Vec::new();
    let mut rules = Vec::new();
    let mut hosts: Vec<(usize, &EgressRule, &str)> = Vec::new();

    if egress.default == Verdict::Allow {
        rules.push(json!({}));
        notes.represented(
            "spec.network.egress.default",
            "NetworkPolicy egress rule `{}` allows all egress",
        );
        for i in 0..egress.allow.len() {
            notes.represented(
                format!("spec.network.egress.allow[{i}]"),
                "subsumed: the default already allows all egress",
            );
        }
    } else {
        notes.represented(
            "spec.network.egress.default",
            "NetworkPolicy with policyTypes [Egress]: whatever no rule allows is denied",
        );
        for (i, rule) in egress.allow.iter().enumerate() {
            let field = format!("spec.network.egress.allow[{i}]");
            match rule.target() {
                Some(EgressTarget::Dns) => {
                    rules.push(dns_rule());
                    notes.represented(field, "UDP and TCP port 53 to kube-dns in kube-system");
                }
                Some(EgressTarget::Cidr(cidr)) => {
                    let mut to = Object::new();
                    to.put("to", json!([{ "ipBlock": { "cidr": cidr.as_str() } }]));
                    to.put("ports", tcp_ports(&rule.ports, |p| json!(p)));
                    rules.push(to.build());
                    notes.represented(field, format!("ipBlock {cidr}"));
                }
                Some(EgressTarget::Host(host)) => hosts.push((i, rule, host)),
                None => notes.missing(
                    field,
                    "the rule has no single target (the contract validator should have refused it)",
                ),
            }
        }
    }
    documents.push(network_policy(contract, rules));

    if !hosts.is_empty() {
        if options.cilium {
            documents.push(cilium_policy(contract, &hosts));
            for (i, _, host) in &hosts {
                notes.represented(
                    format!("spec.network.egress.allow[{i}]"),
                    format!("CiliumNetworkPolicy toFQDNs {host}, with DNS lookups of the allowed names through kube-dns"),
                );
            }
        } else {
            for (i, _, host) in &hosts {
                notes.missing(
                    format!("spec.network.egress.allow[{i}]"),
                    format!("a plain NetworkPolicy cannot express host {host} (it matches IP blocks only), so traffic to it is denied: generate with --cilium for a CiliumNetworkPolicy with toFQDNs, or allow the host's addresses with a cidr rule"),
                );
            }
        }
    }
    notes.note(format!(
        "apply in the workspace's namespace; the pod is selected by label `{POD_LABEL}: {}`, which the DevWorkspace Operator sets (for Coder, use the labels of the template's workspace pod)",
        contract.name()
    ));
    output::yaml_documents(contract, &documents)
}

fn network_policy(contract: &Contract, rules: Vec<Value>) -> Value {
    let mut spec = Object::new();
    spec.put("podSelector", selector(contract));
    spec.put("policyTypes", json!(["Egress"]));
    let mut spec = spec.build();
    if let Value::Object(map) = &mut spec {
        // An empty list is meaningful here: no egress at all.
        map.insert("egress".to_owned(), Value::Array(rules));
    }
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(contract, "egress"),
        "spec": spec,
    })
}

fn cilium_policy(contract: &Contract, hosts: &[(usize, &EgressRule, &str)]) -> Value {
    let names: Vec<Value> = hosts
        .iter()
        .map(|(_, _, host)| fqdn_selector(host))
        .collect();
    let dns = json!({
        "toEndpoints": [{ "matchLabels": {
            "k8s:io.kubernetes.pod.namespace": "kube-system",
            "k8s:k8s-app": "kube-dns",
        } }],
        "toPorts": [{
            "ports": [{ "port": "53", "protocol": "ANY" }],
            "rules": { "dns": names },
        }],
    });
    let mut egress = vec![dns];
    for (_, rule, host) in hosts {
        let mut to = Object::new();
        to.put("toFQDNs", json!([fqdn_selector(host)]));
        let ports = tcp_ports(&rule.ports, |p| json!(p.to_string()));
        if !ports.is_empty() {
            to.put("toPorts", json!([{ "ports": ports }]));
        }
        egress.push(to.build());
    }
    json!({
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": metadata(contract, "egress-fqdn"),
        "spec": {
            "endpointSelector": selector(contract),
            "egress": egress,
        },
    })
}

/// `matchName` for a host, `matchPattern` for a `*.` wildcard.
fn fqdn_selector(host: &str) -> Value {
    if host.starts_with("*.") {
        json!({ "matchPattern": host })
    } else {
        json!({ "matchName": host })
    }
}

fn dns_rule() -> Value {
    json!({
        "to": [{
            "namespaceSelector": { "matchLabels": { "kubernetes.io/metadata.name": "kube-system" } },
            "podSelector": { "matchLabels": { "k8s-app": "kube-dns" } },
        }],
        "ports": [
            { "protocol": "UDP", "port": 53 },
            { "protocol": "TCP", "port": 53 },
        ],
    })
}

fn tcp_ports(ports: &[u16], port: impl Fn(u16) -> Value) -> Vec<Value> {
    ports
        .iter()
        .map(|&p| json!({ "protocol": "TCP", "port": port(p) }))
        .collect()
}

fn selector(contract: &Contract) -> Value {
    json!({ "matchLabels": { POD_LABEL: contract.name() } })
}

fn metadata(contract: &Contract, suffix: &str) -> Value {
    json!({
        "name": format!("{}-{suffix}", contract.name()),
        "labels": { "app.kubernetes.io/managed-by": "agentbox" },
    })
}
