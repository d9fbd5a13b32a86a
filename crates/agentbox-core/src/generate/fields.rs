//! The fields a contract sets, by path: the rows of every target's report.

use crate::Contract;

/// One field the contract sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Field {
    /// Its path in the contract, e.g. `spec.resources.memory.limit`.
    pub(crate) path: String,
    /// True when it protects something: isolation, egress, secrets, limits, permissions.
    pub(crate) security: bool,
}

/// Every field `contract` sets, in document order. Egress is always listed: a contract
/// without `network` denies all egress.
pub(crate) fn enumerate(contract: &Contract) -> Vec<Field> {
    let spec = &contract.spec;
    let mut out = Vec::new();
    let mut push = |path: String, security: bool| out.push(Field { path, security });
    if contract.metadata.profile.is_some() {
        push("metadata.profile".into(), false);
    }
    if !contract.metadata.labels.is_empty() {
        push("metadata.labels".into(), false);
    }
    push("spec.image".into(), false);
    if spec.workdir.is_some() {
        push("spec.workdir".into(), false);
    }
    for (name, range) in [
        ("cpu", &spec.resources.cpu),
        ("memory", &spec.resources.memory),
    ] {
        if let Some(range) = range {
            if range.request.is_some() {
                push(format!("spec.resources.{name}.request"), false);
            }
            if range.limit.is_some() {
                push(format!("spec.resources.{name}.limit"), true);
            }
        }
    }
    if let Some(storage) = &spec.storage {
        push("spec.storage.type".into(), false);
        if storage.size.is_some() {
            push("spec.storage.size".into(), false);
        }
        if storage.mount_path.is_some() {
            push("spec.storage.mountPath".into(), false);
        }
    }
    for name in spec.env.keys() {
        push(format!("spec.env.{name}"), false);
    }
    for i in 0..spec.secrets.len() {
        push(format!("spec.secrets[{i}]"), true);
    }
    for i in 0..spec.features.len() {
        push(format!("spec.features[{i}]"), false);
    }
    for i in 0..spec.ports.len() {
        push(format!("spec.ports[{i}]"), false);
    }
    for name in spec.commands.keys() {
        push(format!("spec.commands.{name}"), false);
    }
    let lifecycle = &spec.lifecycle;
    for (name, list) in [
        ("postCreate", &lifecycle.post_create),
        ("postStart", &lifecycle.post_start),
        ("preStop", &lifecycle.pre_stop),
    ] {
        if !list.is_empty() {
            push(format!("spec.lifecycle.{name}"), false);
        }
    }
    if !spec.editor.extensions.is_empty() {
        push("spec.editor.extensions".into(), false);
    }
    if let Some(isolation) = &spec.isolation {
        if isolation.runtime_class.is_some() {
            push("spec.isolation.runtimeClass".into(), true);
        }
        if isolation.run_as_non_root {
            push("spec.isolation.runAsNonRoot".into(), true);
        }
        if isolation.read_only_root_filesystem {
            push("spec.isolation.readOnlyRootFilesystem".into(), true);
        }
        if !isolation.writable_paths.is_empty() {
            push("spec.isolation.writablePaths".into(), true);
        }
    }
    push("spec.network.egress.default".into(), true);
    let allow = spec.network.as_ref().map_or(0, |n| n.egress.allow.len());
    for i in 0..allow {
        push(format!("spec.network.egress.allow[{i}]"), true);
    }
    if spec.idle_timeout.is_some() {
        push("spec.idleTimeout".into(), false);
    }
    if let Some(agent) = &spec.agent {
        if agent.instructions.is_some() {
            push("spec.agent.instructions".into(), false);
        }
        push("spec.agent.permissions".into(), true);
    }
    out
}
