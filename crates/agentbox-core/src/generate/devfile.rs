//! `devfile.yaml`: Devfile 2.2.2, with the attributes the DevWorkspace Operator reads.
//!
//! One container component (`tools`) holds the workspace; a `projects` volume component sizes
//! the project sources' volume (the operator uses a volume of that name for them); each
//! writable path of a read-only root filesystem is an ephemeral volume. Commands are exec
//! commands with groups (the first of each kind is the default). Hardening is expressed as
//! the operator reads it: `controller.devfile.io/runtime-class`, `pod-overrides` for the pod's
//! security context, `container-overrides` for the container's.

use serde_json::{Value, json};

use super::Target;
use super::output::{self, Object};
use super::report::Notes;
use crate::Result;
use crate::contract::{CommandGroup, Contract, StorageKind};

/// The Devfile schema version written.
pub const SCHEMA_VERSION: &str = "2.2.2";
/// The name of the container component that is the workspace.
pub const COMPONENT: &str = "tools";
/// The volume component the DevWorkspace Operator uses for project sources.
pub const PROJECTS_VOLUME: &str = "projects";
/// Arguments that keep an image without a long-running entry point alive, as Dev Containers'
/// `overrideCommand` does; an image's `ENTRYPOINT` still runs first.
pub const KEEP_ALIVE_ARGS: [&str; 3] = ["tail", "-f", "/dev/null"];

/// The devfile text.
pub(super) fn render(contract: &Contract, notes: &mut Notes) -> Result<String> {
    let mut doc = Object::new();
    doc.put("schemaVersion", SCHEMA_VERSION);
    doc.put("metadata", json!({ "name": contract.name() }));
    if let Value::Object(body) = template(contract, notes) {
        for (key, value) in body {
            doc.put(&key, value);
        }
    }
    if !contract.metadata.labels.is_empty() {
        notes.delegated(
            "metadata.labels",
            Target::DevWorkspace,
            "a devfile has no labels; the DevWorkspace manifest carries them",
        );
    }
    output::yaml_documents(contract, &[doc.build()])
}

/// The devfile body without `schemaVersion` and `metadata`: what a DevWorkspace's
/// `spec.template` holds. Records how each field is carried in `notes`.
pub(super) fn template(contract: &Contract, notes: &mut Notes) -> Value {
    let mut body = Object::new();
    body.put("attributes", attributes(contract, notes));
    body.put("components", components(contract, notes));
    body.put("commands", commands(contract, notes));
    body.put("events", events(contract, notes));
    shared_notes(contract, notes);
    body.build()
}

fn attributes(contract: &Contract, notes: &mut Notes) -> Value {
    let spec = &contract.spec;
    let mut attributes = Object::new();
    if let Some(storage) = &spec.storage {
        let kind = serde_json::to_value(storage.kind).unwrap_or(Value::Null);
        attributes.put("controller.devfile.io/storage-type", kind);
        notes.represented(
            "spec.storage.type",
            "attribute `controller.devfile.io/storage-type`",
        );
    }
    let Some(isolation) = &spec.isolation else {
        return attributes.build();
    };
    if let Some(class) = &isolation.runtime_class {
        attributes.put("controller.devfile.io/runtime-class", class.as_str());
        notes.represented(
            "spec.isolation.runtimeClass",
            "attribute `controller.devfile.io/runtime-class` (the start fails if the RuntimeClass does not exist)",
        );
    }
    let mut security_context = Object::new();
    if isolation.run_as_non_root {
        security_context.put("runAsNonRoot", true);
        notes.represented(
            "spec.isolation.runAsNonRoot",
            "`pod-overrides` spec.securityContext.runAsNonRoot",
        );
    }
    security_context.put("seccompProfile", json!({ "type": "RuntimeDefault" }));
    attributes.put(
        "pod-overrides",
        json!({ "spec": { "securityContext": security_context.build() } }),
    );
    attributes.build()
}

fn components(contract: &Contract, notes: &mut Notes) -> Value {
    let spec = &contract.spec;
    let mut container = Object::new();
    container.put("image", spec.image.as_str());
    container.put("args", json!(KEEP_ALIVE_ARGS));
    notes.represented("spec.image", format!("component `{COMPONENT}` image"));

    let env: Vec<Value> = spec
        .env
        .iter()
        .map(|(name, value)| json!({ "name": name.as_str(), "value": value }))
        .collect();
    for name in spec.env.keys() {
        notes.represented(format!("spec.env.{name}"), "container env");
    }
    container.put("env", env);

    let mut endpoints = Vec::new();
    for (i, port) in spec.ports.iter().enumerate() {
        let mut endpoint = Object::new();
        endpoint.put("name", port.name.as_str());
        endpoint.put("targetPort", port.port);
        endpoint.put(
            "exposure",
            serde_json::to_value(port.exposure).unwrap_or(Value::Null),
        );
        endpoint.put(
            "protocol",
            serde_json::to_value(port.protocol).unwrap_or(Value::Null),
        );
        endpoint.put_opt("path", port.path.as_deref());
        endpoints.push(endpoint.build());
        notes.represented(format!("spec.ports[{i}]"), "container endpoint");
    }
    container.put("endpoints", endpoints);

    let writable = spec
        .isolation
        .as_ref()
        .map(|i| i.writable_paths.as_slice())
        .unwrap_or_default();
    let mounts: Vec<Value> = writable
        .iter()
        .enumerate()
        .map(|(i, path)| json!({ "name": writable_volume(i), "path": path }))
        .collect();
    container.put("volumeMounts", mounts);
    if !writable.is_empty() {
        notes.represented(
            "spec.isolation.writablePaths",
            "an ephemeral volume (emptyDir) mounted at each path; files there do not survive a stop",
        );
    }

    resources(contract, &mut container, notes);
    container.put("mountSources", true);
    container.put("sourceMapping", contract.mount_path());
    if spec
        .storage
        .as_ref()
        .is_some_and(|s| s.mount_path.is_some())
    {
        notes.represented("spec.storage.mountPath", "container `sourceMapping`");
    }

    let mut tools = Object::new();
    tools.put("name", COMPONENT);
    if let Some(overrides) = container_overrides(contract, notes) {
        tools.put("attributes", json!({ "container-overrides": overrides }));
    }
    tools.put("container", container.build());

    let mut components = vec![tools.build()];
    if let Some(storage) = &spec.storage {
        let ephemeral = storage.kind == StorageKind::Ephemeral;
        if let Some(size) = &storage.size {
            let mut volume = Object::new();
            if ephemeral {
                volume.put("ephemeral", true);
            }
            volume.put("size", size.as_str());
            components.push(json!({ "name": PROJECTS_VOLUME, "volume": volume.build() }));
            let how = format!(
                "size of volume component `{PROJECTS_VOLUME}`, which holds the project sources"
            );
            if matches!(
                storage.kind,
                StorageKind::PerWorkspace | StorageKind::Ephemeral
            ) {
                notes.represented("spec.storage.size", how);
            } else {
                notes.partial(
                    "spec.storage.size",
                    how,
                    "with per-user, common or async storage the workspace shares one PVC whose size is the operator's `config.workspace.defaultStorageSize.common`",
                );
            }
        }
    }
    for i in 0..writable.len() {
        components.push(json!({ "name": writable_volume(i), "volume": { "ephemeral": true } }));
    }
    Value::Array(components)
}

/// The name of the volume for the `i`-th writable path.
pub fn writable_volume(i: usize) -> String {
    format!("writable-{}", i + 1)
}

fn resources(contract: &Contract, container: &mut Object, notes: &mut Notes) {
    let r = &contract.spec.resources;
    let pairs = [
        (
            "memoryRequest",
            "spec.resources.memory.request",
            r.memory.as_ref().and_then(|m| m.request.as_ref()),
        ),
        (
            "memoryLimit",
            "spec.resources.memory.limit",
            r.memory.as_ref().and_then(|m| m.limit.as_ref()),
        ),
        (
            "cpuRequest",
            "spec.resources.cpu.request",
            r.cpu.as_ref().and_then(|c| c.request.as_ref()),
        ),
        (
            "cpuLimit",
            "spec.resources.cpu.limit",
            r.cpu.as_ref().and_then(|c| c.limit.as_ref()),
        ),
    ];
    for (key, field, quantity) in pairs {
        if let Some(quantity) = quantity {
            container.put(key, quantity.as_str());
            notes.represented(field, format!("container `{key}`"));
        }
    }
}

fn container_overrides(contract: &Contract, notes: &mut Notes) -> Option<Value> {
    let isolation = contract.spec.isolation.as_ref()?;
    let mut security_context = Object::new();
    if isolation.read_only_root_filesystem {
        security_context.put("readOnlyRootFilesystem", true);
        notes.represented(
            "spec.isolation.readOnlyRootFilesystem",
            "`container-overrides` securityContext.readOnlyRootFilesystem",
        );
    }
    security_context.put("allowPrivilegeEscalation", false);
    security_context.put("capabilities", json!({ "drop": ["ALL"] }));
    notes.note(
        "isolation hardens the container beyond the contract's fields: capabilities drop ALL, no privilege escalation, seccomp RuntimeDefault",
    );
    Some(json!({ "securityContext": security_context.build() }))
}

fn commands(contract: &Contract, notes: &mut Notes) -> Value {
    let mut defaults_taken: Vec<CommandGroup> = Vec::new();
    let mut commands = Vec::new();
    for (name, command) in &contract.spec.commands {
        let mut exec = Object::new();
        exec.put("component", COMPONENT);
        exec.put("commandLine", command.run.as_str());
        exec.put(
            "workingDir",
            command
                .workdir
                .clone()
                .unwrap_or_else(|| contract.workdir()),
        );
        if let Some(group) = command.group {
            let is_default = !defaults_taken.contains(&group);
            defaults_taken.push(group);
            let kind = serde_json::to_value(group).unwrap_or(Value::Null);
            exec.put("group", json!({ "kind": kind, "isDefault": is_default }));
        }
        commands.push(json!({ "id": name.as_str(), "exec": exec.build() }));
        notes.represented(format!("spec.commands.{name}"), "exec command");
    }
    if contract.spec.workdir.is_some() {
        notes.represented("spec.workdir", "`workingDir` of every command");
    }
    Value::Array(commands)
}

fn events(contract: &Contract, notes: &mut Notes) -> Value {
    let lifecycle = &contract.spec.lifecycle;
    let mut post_start: Vec<&str> = Vec::new();
    for name in lifecycle.post_create.iter().chain(&lifecycle.post_start) {
        if !post_start.contains(&name.as_str()) {
            post_start.push(name.as_str());
        }
    }
    if !lifecycle.post_create.is_empty() {
        notes.partial(
            "spec.lifecycle.postCreate",
            "event `postStart`",
            "a devfile has no post-create event, so the DevWorkspace Operator runs these commands at every start: keep them idempotent",
        );
    }
    if !lifecycle.post_start.is_empty() {
        notes.represented("spec.lifecycle.postStart", "event `postStart`");
    }
    if !lifecycle.pre_stop.is_empty() {
        notes.represented("spec.lifecycle.preStop", "event `preStop`");
    }
    let pre_stop: Vec<&str> = lifecycle.pre_stop.iter().map(|n| n.as_str()).collect();
    let mut events = Object::new();
    events.put("postStart", json!(post_start));
    events.put("preStop", json!(pre_stop));
    events.build()
}

/// Report entries shared by the devfile and the DevWorkspace: what neither can express.
fn shared_notes(contract: &Contract, notes: &mut Notes) {
    let spec = &contract.spec;
    for (i, secret) in spec.secrets.iter().enumerate() {
        notes.missing(
            format!("spec.secrets[{i}]"),
            format!(
                "a devfile cannot read ${} from a Secret (`env` holds literal values and `container-overrides` may not change `env`); use the DevWorkspace Operator's automount: label Secret `{}` with `controller.devfile.io/mount-to-devworkspace: \"true\"` and `controller.devfile.io/watch-secret: \"true\"`, annotate it `controller.devfile.io/mount-as: env`, and name its key `{}` (now `{}`), because each key becomes a variable of the same name",
                secret.env, secret.from.secret, secret.env, secret.from.key
            ),
        );
    }
    for i in 0..spec.features.len() {
        notes.missing(
            format!("spec.features[{i}]"),
            "a devfile has no Dev Container Features: install the feature into the image",
        );
    }
    if !spec.editor.extensions.is_empty() {
        notes.missing(
            "spec.editor.extensions",
            "Che reads recommended extensions from `.vscode/extensions.json` in the project, not from the devfile",
        );
    }
    if spec.idle_timeout.is_some() {
        notes.missing(
            "spec.idleTimeout",
            "a workspace cannot set its own idle timeout: it is `workspace.idleTimeout` of a DevWorkspaceOperatorConfig (referenced by the `controller.devfile.io/devworkspace-config` attribute) or Che's `spec.devEnvironments.secondsOfInactivityBeforeIdling`",
        );
    }
    network_delegated(contract, notes);
    agent_delegated(contract, notes);
}

/// Egress entries for a target that leaves the network to `.agentbox/networkpolicy.yaml`.
pub(super) fn network_delegated(contract: &Contract, notes: &mut Notes) {
    let why = "a workspace definition cannot express egress rules; the NetworkPolicy selects the workspace pod by its `controller.devfile.io/devworkspace_name` label";
    notes.delegated("spec.network.egress.default", Target::NetworkPolicy, why);
    let allow = contract
        .spec
        .network
        .as_ref()
        .map_or(0, |n| n.egress.allow.len());
    for i in 0..allow {
        notes.delegated(
            format!("spec.network.egress.allow[{i}]"),
            Target::NetworkPolicy,
            why,
        );
    }
}

/// Agent entries for a target that leaves the agent to `AGENTS.md`.
pub(super) fn agent_delegated(contract: &Contract, notes: &mut Notes) {
    let why = "what the agent is told and allowed is in AGENTS.md; agentbox's permission gate enforces the permissions at run time";
    if contract.metadata.profile.is_some() {
        notes.delegated("metadata.profile", Target::Agents, why);
    }
    if let Some(agent) = &contract.spec.agent {
        if agent.instructions.is_some() {
            notes.delegated("spec.agent.instructions", Target::Agents, why);
        }
        notes.delegated("spec.agent.permissions", Target::Agents, why);
    }
}
