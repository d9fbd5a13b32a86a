//! `.devcontainer/devcontainer.json`, for the Dev Containers CLI and Coder's envbuilder.
//!
//! Secrets are never values: each is a `remoteEnv` entry `${localEnv:NAME}` (filled from the
//! environment of whatever starts the container) plus a `secrets` recommendation saying which
//! secret and key it should come from. Docker-only hardening (`runArgs`) is marked partial in
//! the report, because envbuilder ignores `runArgs`.

use serde_json::{Value, json};

use super::output::{self, Object};
use super::report::Notes;
use super::{Target, devfile};
use crate::Result;
use crate::contract::{Contract, Exposure, PortProtocol, SecretEnv};

/// Why Docker run arguments are only partial: the envbuilder consumer ignores them.
const ENVBUILDER_IGNORES_RUN_ARGS: &str =
    "envbuilder (Coder) ignores `runArgs`: the Coder template's pod spec must set it";

/// The devcontainer.json text (JSON with a `//` header comment).
pub(super) fn render(contract: &Contract, notes: &mut Notes) -> Result<String> {
    let spec = &contract.spec;
    let workdir = contract.workdir();
    let mut doc = Object::new();
    doc.put("name", contract.name());
    doc.put("image", spec.image.as_str());
    notes.represented("spec.image", "`image`");
    doc.put("workspaceFolder", workdir.as_str());
    doc.put(
        "workspaceMount",
        format!("source=${{localWorkspaceFolder}},target={workdir},type=bind"),
    );
    if spec.workdir.is_some() {
        notes.represented(
            "spec.workdir",
            "`workspaceFolder`, where the sources are mounted",
        );
    }
    doc.put("features", features(contract, notes));
    doc.put("containerEnv", container_env(contract, notes));
    let (remote_env, secrets) = secrets(&spec.secrets, notes);
    doc.put("remoteEnv", remote_env);
    doc.put("secrets", secrets);
    let (forward, attributes) = ports(contract, notes);
    doc.put("forwardPorts", forward);
    doc.put("portsAttributes", attributes);
    lifecycle(contract, &mut doc, notes);
    doc.put("hostRequirements", host_requirements(contract, notes));
    doc.put("runArgs", run_args(contract, notes));
    if !spec.editor.extensions.is_empty() {
        doc.put(
            "customizations",
            json!({ "vscode": { "extensions": spec.editor.extensions } }),
        );
        notes.represented(
            "spec.editor.extensions",
            "`customizations.vscode.extensions`",
        );
    }
    unrepresented(contract, notes);
    output::jsonc(contract, &doc.build())
}

fn features(contract: &Contract, notes: &mut Notes) -> Value {
    let mut features = serde_json::Map::new();
    for (i, feature) in contract.spec.features.iter().enumerate() {
        let options: serde_json::Map<String, Value> = feature
            .options
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        features.insert(feature.id.clone(), Value::Object(options));
        notes.represented(format!("spec.features[{i}]"), "`features`");
    }
    Value::Object(features)
}

fn container_env(contract: &Contract, notes: &mut Notes) -> Value {
    let mut env = serde_json::Map::new();
    for (name, value) in &contract.spec.env {
        env.insert(name.to_string(), Value::String(value.clone()));
        notes.represented(format!("spec.env.{name}"), "`containerEnv`");
    }
    Value::Object(env)
}

/// The `secrets` recommendation's description for one secret; [`parse_secret_description`]
/// reads it back.
pub fn secret_description(secret: &SecretEnv) -> String {
    format!(
        // No `${localEnv:…}` here: tools substitute variables in every string of the file, which
        // would put the value into this description.
        "From key `{}` of secret `{}`; the launcher supplies it in the environment variable {} (see remoteEnv). The value is never written here.",
        secret.from.key, secret.from.secret, secret.env
    )
}

/// The secret name and key a [`secret_description`] names.
pub fn parse_secret_description(text: &str) -> Option<(String, String)> {
    let rest = text.strip_prefix("From key `")?;
    let (key, rest) = rest.split_once("` of secret `")?;
    let (secret, _) = rest.split_once("`;")?;
    Some((secret.to_owned(), key.to_owned()))
}

/// The `${localEnv:…}` reference for a secret's variable.
pub fn local_env(name: &str) -> String {
    format!("${{localEnv:{name}}}")
}

fn secrets(secrets: &[SecretEnv], notes: &mut Notes) -> (Value, Value) {
    let mut remote_env = serde_json::Map::new();
    let mut recommended = serde_json::Map::new();
    for (i, secret) in secrets.iter().enumerate() {
        let name = secret.env.to_string();
        remote_env.insert(name.clone(), Value::String(local_env(&name)));
        recommended.insert(
            name.clone(),
            json!({ "description": secret_description(secret) }),
        );
        notes.represented(
            format!("spec.secrets[{i}]"),
            format!(
                "`remoteEnv` {name} = ${{localEnv:{name}}} and a `secrets` recommendation naming secret `{}` key `{}`: whoever starts the container (the Dev Containers CLI's caller, or the Coder template for envbuilder) must set {name} from that secret",
                secret.from.secret, secret.from.key
            ),
        );
    }
    (Value::Object(remote_env), Value::Object(recommended))
}

fn ports(contract: &Contract, notes: &mut Notes) -> (Value, Value) {
    let mut forward = Vec::new();
    let mut attributes = serde_json::Map::new();
    for (i, port) in contract.spec.ports.iter().enumerate() {
        let mut attrs = Object::new();
        attrs.put("label", port.name.as_str());
        let protocol = match port.protocol {
            PortProtocol::Http => Some("http"),
            PortProtocol::Https => Some("https"),
            _ => None,
        };
        attrs.put_opt("protocol", protocol);
        let mut lost = Vec::new();
        if port.exposure == Exposure::Public {
            forward.push(json!(port.port));
        } else {
            attrs.put("onAutoForward", "ignore");
            if port.exposure == Exposure::Internal {
                lost.push("`internal` exposure becomes not forwarded (devcontainer.json has no cluster-internal exposure)");
            }
        }
        if protocol.is_none() {
            lost.push("`portsAttributes.protocol` is only http or https");
        }
        if port.path.is_some() {
            lost.push("devcontainer.json has no endpoint path");
        }
        attributes.insert(port.port.to_string(), attrs.build());
        let field = format!("spec.ports[{i}]");
        let how = "`forwardPorts` (public) and `portsAttributes` (label; `onAutoForward: ignore` when not public)";
        if lost.is_empty() {
            notes.represented(field, how);
        } else {
            notes.partial(field, how, lost.join("; "));
        }
    }
    (Value::Array(forward), Value::Object(attributes))
}

/// The shell line a list of lifecycle commands becomes: one command as written, several
/// joined with `&&`, each in a subshell, with a `cd` when a command has its own workdir.
pub fn lifecycle_line(contract: &Contract, names: &[crate::contract::DnsLabel]) -> Option<String> {
    let workdir = contract.workdir();
    let lines: Vec<String> = names
        .iter()
        .filter_map(|name| contract.spec.commands.get(name))
        .map(|command| match &command.workdir {
            Some(dir) if *dir != workdir => {
                let quoted = shlex::try_quote(dir).map_or_else(|_| dir.clone(), |q| q.into_owned());
                format!("cd {quoted} && {}", command.run)
            }
            _ => command.run.clone(),
        })
        .collect();
    match lines.as_slice() {
        [] => None,
        [one] => Some(one.clone()),
        many => Some(
            many.iter()
                .map(|l| format!("({l})"))
                .collect::<Vec<_>>()
                .join(" && "),
        ),
    }
}

fn lifecycle(contract: &Contract, doc: &mut Object, notes: &mut Notes) {
    let lifecycle = &contract.spec.lifecycle;
    for (key, field, names) in [
        (
            "postCreateCommand",
            "spec.lifecycle.postCreate",
            &lifecycle.post_create,
        ),
        (
            "postStartCommand",
            "spec.lifecycle.postStart",
            &lifecycle.post_start,
        ),
    ] {
        if let Some(line) = lifecycle_line(contract, names) {
            doc.put(key, line);
            notes.represented(field, format!("`{key}`"));
            for name in names {
                notes.represented(
                    format!("spec.commands.{name}"),
                    format!("inlined in `{key}`"),
                );
            }
        }
    }
    if !lifecycle.pre_stop.is_empty() {
        notes.missing(
            "spec.lifecycle.preStop",
            "devcontainer.json has no pre-stop hook",
        );
    }
    for name in contract.spec.commands.keys() {
        let used = lifecycle.post_create.contains(name) || lifecycle.post_start.contains(name);
        if !used {
            notes.delegated(
                format!("spec.commands.{name}"),
                Target::Agents,
                "devcontainer.json has no named commands; AGENTS.md lists them",
            );
        }
    }
}

/// `n` bytes as devcontainer.json writes sizes: the largest of tb, gb, mb, kb that divides
/// it exactly (1024-based), else plain bytes.
fn size(bytes: f64) -> String {
    let bytes = bytes.ceil() as u64;
    for (unit, factor) in [
        ("tb", 1u64 << 40),
        ("gb", 1 << 30),
        ("mb", 1 << 20),
        ("kb", 1 << 10),
    ] {
        if bytes >= factor && bytes.is_multiple_of(factor) {
            return format!("{}{unit}", bytes / factor);
        }
    }
    bytes.to_string()
}

fn host_requirements(contract: &Contract, notes: &mut Notes) -> Value {
    let spec = &contract.spec;
    let mut host = Object::new();
    if let Some(cpu) = spec.resources.cpu.as_ref().and_then(|c| c.request.as_ref()) {
        let cpus = (cpu.value().ceil() as u64).max(1);
        host.put("cpus", cpus);
        let how = "`hostRequirements.cpus`, a minimum for the host";
        if cpu.value().fract() == 0.0 && cpu.value() >= 1.0 {
            notes.represented("spec.resources.cpu.request", how);
        } else {
            notes.partial(
                "spec.resources.cpu.request",
                how,
                format!("rounded up to {cpus} whole CPU(s)"),
            );
        }
    }
    if let Some(memory) = spec
        .resources
        .memory
        .as_ref()
        .and_then(|m| m.request.as_ref())
    {
        host.put("memory", size(memory.value()));
        notes.represented(
            "spec.resources.memory.request",
            "`hostRequirements.memory`, a minimum for the host",
        );
    }
    if let Some(storage) = spec.storage.as_ref().and_then(|s| s.size.as_ref()) {
        host.put("storage", size(storage.value()));
        notes.partial(
            "spec.storage.size",
            "`hostRequirements.storage`",
            "it is a minimum free disk on the host, not the size of a volume",
        );
    }
    host.build()
}

fn run_args(contract: &Contract, notes: &mut Notes) -> Vec<Value> {
    let spec = &contract.spec;
    let mut args = Vec::new();
    if let Some(limit) = spec.resources.cpu.as_ref().and_then(|c| c.limit.as_ref()) {
        args.push(format!("--cpus={}", limit.value()));
        notes.partial(
            "spec.resources.cpu.limit",
            "`runArgs` --cpus",
            ENVBUILDER_IGNORES_RUN_ARGS,
        );
    }
    if let Some(limit) = spec
        .resources
        .memory
        .as_ref()
        .and_then(|m| m.limit.as_ref())
    {
        args.push(format!("--memory={}", limit.value().ceil() as u64));
        notes.partial(
            "spec.resources.memory.limit",
            "`runArgs` --memory",
            ENVBUILDER_IGNORES_RUN_ARGS,
        );
    }
    if let Some(isolation) = &spec.isolation {
        if isolation.read_only_root_filesystem {
            args.push("--read-only".to_owned());
            notes.partial(
                "spec.isolation.readOnlyRootFilesystem",
                "`runArgs` --read-only (the workspace mount stays writable)",
                ENVBUILDER_IGNORES_RUN_ARGS,
            );
        }
        for path in &isolation.writable_paths {
            args.push(format!("--tmpfs={path}"));
        }
        if !isolation.writable_paths.is_empty() {
            notes.partial(
                "spec.isolation.writablePaths",
                "`runArgs` --tmpfs for each path (files there do not survive a restart)",
                ENVBUILDER_IGNORES_RUN_ARGS,
            );
        }
        args.push("--cap-drop=ALL".to_owned());
        args.push("--security-opt=no-new-privileges".to_owned());
        notes.note("isolation adds Docker hardening beyond the contract's fields: --cap-drop=ALL and no-new-privileges (sudo in the container stops working)");
        if let Some(class) = &isolation.runtime_class {
            notes.missing(
                "spec.isolation.runtimeClass",
                format!("a Kubernetes RuntimeClass (`{class}`) has no devcontainer.json form (Docker's --runtime names a Docker runtime); the Coder template's pod spec must set runtimeClassName"),
            );
        }
        if isolation.run_as_non_root {
            notes.missing(
                "spec.isolation.runAsNonRoot",
                "devcontainer.json can pick a user but cannot refuse to run as root; the Coder template's pod securityContext must set runAsNonRoot",
            );
        }
    }
    args.into_iter().map(Value::String).collect()
}

fn unrepresented(contract: &Contract, notes: &mut Notes) {
    let spec = &contract.spec;
    if let Some(storage) = &spec.storage {
        notes.missing(
            "spec.storage.type",
            "devcontainer.json has no storage types: the sources are a bind mount of the local folder (in Coder, the template decides the volume)",
        );
        if storage.mount_path.is_some() {
            notes.missing(
                "spec.storage.mountPath",
                "devcontainer.json mounts the sources at `workspaceFolder` itself; there is no separate storage mount",
            );
        }
    }
    if spec.idle_timeout.is_some() {
        notes.missing(
            "spec.idleTimeout",
            "devcontainer.json has no idle timeout; in Coder set the template's autostop (default TTL and activity bump)",
        );
    }
    if !contract.metadata.labels.is_empty() {
        notes.missing("metadata.labels", "devcontainer.json has no labels");
    }
    let why = "devcontainer.json cannot express egress rules; Coder needs a NetworkPolicy in the template (.agentbox/networkpolicy.yaml, with the template's pod labels)";
    notes.delegated("spec.network.egress.default", Target::NetworkPolicy, why);
    let allow = spec.network.as_ref().map_or(0, |n| n.egress.allow.len());
    for i in 0..allow {
        notes.delegated(
            format!("spec.network.egress.allow[{i}]"),
            Target::NetworkPolicy,
            why,
        );
    }
    devfile::agent_delegated(contract, notes);
}
