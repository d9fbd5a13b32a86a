//! devfile.yaml (Devfile 2.x) to a contract document.

use serde_json::{Map, Value};

use super::{Imported, Log};
use crate::contract::{
    Command, CommandGroup, ContractDocument, DnsLabel, EnvName, Exposure, ImageRef, Isolation,
    Port, PortProtocol, Quantity, ResourceRange, StorageKind,
};
use crate::generate::devfile::{KEEP_ALIVE_ARGS, PROJECTS_VOLUME};
use crate::{Error, Result};

/// Import devfile `text`; `origin` names it in errors.
pub fn import(text: &str, origin: &str) -> Result<Imported> {
    let bad = |message: String| Error::Import {
        origin: origin.to_owned(),
        message,
    };
    let value: Value = serde_saphyr::from_str(text).map_err(|e| bad(format!("not YAML: {e}")))?;
    let Value::Object(mut root) = value else {
        return Err(bad("a devfile is a YAML mapping".into()));
    };
    match root.remove("schemaVersion") {
        Some(Value::String(v)) if v.starts_with("2.") => {}
        other => {
            return Err(bad(format!(
                "only Devfile 2.x can be imported; `schemaVersion` is {}",
                other.map_or_else(|| "missing".to_owned(), |v| v.to_string())
            )));
        }
    }
    let mut log = Log::default();
    let metadata = root.remove("metadata").unwrap_or(Value::Null);
    let name = metadata.get("name").and_then(Value::as_str);
    let name = super::contract_name(name, "metadata.name", origin, &mut log)?;
    if let Value::Object(metadata) = &metadata {
        for key in metadata.keys().filter(|k| *k != "name") {
            log.unmapped(
                format!("metadata.{key}"),
                "the contract keeps only the name",
            );
        }
    }
    let components = match root.remove("components") {
        Some(Value::Array(c)) => c,
        _ => Vec::new(),
    };
    let Some((index, component, container)) = components.iter().enumerate().find_map(|(i, c)| {
        let container = c.get("container")?.as_object()?;
        Some((i, c, container))
    }) else {
        return Err(bad(
            "no container component: the contract needs one image".into()
        ));
    };
    let image = container
        .get("image")
        .and_then(Value::as_str)
        .ok_or_else(|| bad(format!("components[{index}].container.image is missing")))?
        .parse::<ImageRef>()
        .map_err(|e| bad(format!("components[{index}].container.image: {e}")))?;
    let component_name = component
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut doc = super::document(name, image);

    attributes(&mut doc, root.remove("attributes"), &mut log);
    let volumes = volumes(&components);
    container_fields(&mut doc, index, container, &volumes, &mut log);
    component_attributes(&mut doc, index, component, &mut log);
    for (i, c) in components.iter().enumerate() {
        let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
        if i == index {
            continue;
        }
        if name == PROJECTS_VOLUME {
            if let Some(size) = c.pointer("/volume/size").and_then(Value::as_str) {
                match size.parse::<Quantity>() {
                    Ok(q) => {
                        super::storage(&mut doc, &format!("components[{i}]"), &mut log).size =
                            Some(q)
                    }
                    Err(e) => log.unmapped(format!("components[{i}].volume.size"), e.to_string()),
                }
            }
        } else if !volumes.iter().any(|(v, ephemeral)| v == name && *ephemeral) {
            log.unmapped(
                format!("components[{i}]"),
                "the contract has one container; other components have no place",
            );
        }
    }
    commands(&mut doc, root.remove("commands"), &component_name, &mut log);
    events(&mut doc, root.remove("events"), &mut log);
    for (key, _) in root {
        log.unmapped(key, "the contract has no such field");
    }
    Ok(Imported {
        document: doc,
        unmapped: log.0,
    })
}

/// Volume components: name and whether they are ephemeral.
fn volumes(components: &[Value]) -> Vec<(String, bool)> {
    components
        .iter()
        .filter_map(|c| {
            let volume = c.get("volume")?;
            let name = c.get("name")?.as_str()?.to_owned();
            let ephemeral = volume
                .get("ephemeral")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            Some((name, ephemeral))
        })
        .collect()
}

fn attributes(doc: &mut ContractDocument, value: Option<Value>, log: &mut Log) {
    let Some(Value::Object(attributes)) = value else {
        return;
    };
    for (key, value) in attributes {
        match key.as_str() {
            "controller.devfile.io/storage-type" => {
                match serde_json::from_value::<StorageKind>(value.clone()) {
                    Ok(kind) => super::storage(doc, "", &mut Log::default()).kind = kind,
                    Err(_) => log.unmapped(
                        format!("attributes.{key}"),
                        format!("unknown storage type {value}"),
                    ),
                }
            }
            "controller.devfile.io/runtime-class" => {
                match value.as_str().and_then(|v| v.parse::<DnsLabel>().ok()) {
                    Some(class) => {
                        doc.spec
                            .isolation
                            .get_or_insert_with(Isolation::default)
                            .runtime_class = Some(class)
                    }
                    None => log.unmapped(format!("attributes.{key}"), "not a RuntimeClass name"),
                }
            }
            "pod-overrides" => pod_overrides(doc, &value, log),
            _ => log.unmapped(
                format!("attributes.{key}"),
                "the contract has no such attribute",
            ),
        }
    }
}

fn pod_overrides(doc: &mut ContractDocument, value: &Value, log: &mut Log) {
    let Some(context) = value
        .pointer("/spec/securityContext")
        .and_then(Value::as_object)
    else {
        return log.unmapped(
            "attributes.pod-overrides",
            "only spec.securityContext can be mapped",
        );
    };
    let isolation = doc.spec.isolation.get_or_insert_with(Isolation::default);
    for (key, value) in context {
        match (key.as_str(), value) {
            ("runAsNonRoot", Value::Bool(b)) => isolation.run_as_non_root = *b,
            ("seccompProfile", v)
                if v.get("type").and_then(Value::as_str) == Some("RuntimeDefault") => {}
            _ => log.unmapped(
                format!("attributes.pod-overrides.spec.securityContext.{key}"),
                "no contract field",
            ),
        }
    }
    let only_security_context = value.as_object().is_some_and(|o| o.len() == 1)
        && value
            .get("spec")
            .and_then(Value::as_object)
            .is_some_and(|o| o.len() == 1);
    if !only_security_context {
        log.unmapped(
            "attributes.pod-overrides",
            "only spec.securityContext was mapped",
        );
    }
}

fn component_attributes(
    doc: &mut ContractDocument,
    index: usize,
    component: &Value,
    log: &mut Log,
) {
    let Some(attributes) = component.get("attributes").and_then(Value::as_object) else {
        return;
    };
    for (key, value) in attributes {
        let path = format!("components[{index}].attributes.{key}");
        if key != "container-overrides" {
            log.unmapped(path, "the contract has no such attribute");
            continue;
        }
        let Some(context) = value.get("securityContext").and_then(Value::as_object) else {
            log.unmapped(path, "only securityContext can be mapped");
            continue;
        };
        let isolation = doc.spec.isolation.get_or_insert_with(Isolation::default);
        for (k, v) in context {
            match (k.as_str(), v) {
                ("readOnlyRootFilesystem", Value::Bool(b)) => {
                    isolation.read_only_root_filesystem = *b
                }
                ("allowPrivilegeEscalation", Value::Bool(false)) => {}
                ("capabilities", c) if *c == serde_json::json!({ "drop": ["ALL"] }) => {}
                _ => log.unmapped(format!("{path}.securityContext.{k}"), "no contract field"),
            }
        }
    }
}

fn container_fields(
    doc: &mut ContractDocument,
    index: usize,
    container: &Map<String, Value>,
    volumes: &[(String, bool)],
    log: &mut Log,
) {
    let at = |key: &str| format!("components[{index}].container.{key}");
    for (key, value) in container {
        match key.as_str() {
            "image" => {}
            "args" if *value == serde_json::json!(KEEP_ALIVE_ARGS) => {}
            "env" => {
                for (i, var) in value.as_array().into_iter().flatten().enumerate() {
                    let name = var
                        .get("name")
                        .and_then(Value::as_str)
                        .and_then(|n| n.parse::<EnvName>().ok());
                    match (name, var.get("value").and_then(Value::as_str)) {
                        (Some(name), Some(v)) => {
                            doc.spec.env.insert(name, v.to_owned());
                        }
                        _ => log.unmapped(
                            format!("{}[{i}]", at("env")),
                            "not a name and a string value",
                        ),
                    }
                }
            }
            "endpoints" => {
                for (i, endpoint) in value.as_array().into_iter().flatten().enumerate() {
                    match port(endpoint) {
                        Some(port) => doc.spec.ports.push(port),
                        None => log.unmapped(format!("{}[{i}]", at("endpoints")), "needs a name (at most 15 characters) and a targetPort; annotations, attributes and `secure` have no place"),
                    }
                }
            }
            "memoryRequest" | "memoryLimit" | "cpuRequest" | "cpuLimit" => {
                let Some(q) = value.as_str().and_then(|v| v.parse::<Quantity>().ok()) else {
                    log.unmapped(at(key), "not a quantity");
                    continue;
                };
                let resources = &mut doc.spec.resources;
                let range = if key.starts_with("memory") {
                    &mut resources.memory
                } else {
                    &mut resources.cpu
                };
                let range = range.get_or_insert_with(ResourceRange::default);
                if key.ends_with("Request") {
                    range.request = Some(q)
                } else {
                    range.limit = Some(q)
                }
            }
            "volumeMounts" => {
                for (i, mount) in value.as_array().into_iter().flatten().enumerate() {
                    let name = mount
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    let path = mount.get("path").and_then(Value::as_str);
                    let ephemeral = volumes.iter().any(|(v, e)| v == name && *e);
                    match path {
                        Some(path) if ephemeral => doc
                            .spec
                            .isolation
                            .get_or_insert_with(Isolation::default)
                            .writable_paths
                            .push(path.to_owned()),
                        _ => log.unmapped(format!("{}[{i}]", at("volumeMounts")), "only ephemeral volumes mounted at a path (writable paths) can be mapped"),
                    }
                }
            }
            "mountSources" if *value == Value::Bool(true) => {}
            "sourceMapping" => {
                if let Some(path) = value
                    .as_str()
                    .filter(|p| *p != crate::contract::DEFAULT_MOUNT_PATH)
                {
                    super::storage(doc, &at(key), log).mount_path = Some(path.to_owned());
                }
            }
            _ => log.unmapped(at(key), "the contract has no such container field"),
        }
    }
}

fn port(endpoint: &Value) -> Option<Port> {
    let known = ["name", "targetPort", "exposure", "protocol", "path"];
    if endpoint
        .as_object()?
        .keys()
        .any(|k| !known.contains(&k.as_str()))
    {
        return None;
    }
    let name = endpoint.get("name")?.as_str()?.parse::<DnsLabel>().ok()?;
    let port = u16::try_from(endpoint.get("targetPort")?.as_u64()?).ok()?;
    let exposure = match endpoint.get("exposure") {
        Some(v) => serde_json::from_value::<Exposure>(v.clone()).ok()?,
        None => Exposure::Public,
    };
    let protocol = match endpoint.get("protocol") {
        Some(v) => serde_json::from_value::<PortProtocol>(v.clone()).ok()?,
        None => PortProtocol::Http,
    };
    let path = endpoint
        .get("path")
        .and_then(Value::as_str)
        .map(str::to_owned);
    (name.as_str().len() <= 15).then_some(Port {
        name,
        port,
        exposure,
        protocol,
        path,
    })
}

fn commands(doc: &mut ContractDocument, value: Option<Value>, component: &str, log: &mut Log) {
    let Some(Value::Array(commands)) = value else {
        return;
    };
    let mut workdir: Option<String> = None;
    for (i, command) in commands.iter().enumerate() {
        let path = format!("commands[{i}]");
        let id = command
            .get("id")
            .and_then(Value::as_str)
            .and_then(|id| id.parse::<DnsLabel>().ok());
        let (Some(id), Some(exec)) = (id, command.get("exec")) else {
            log.unmapped(path, "only exec commands with a valid id can be mapped");
            continue;
        };
        let Some(run) = exec.get("commandLine").and_then(Value::as_str) else {
            log.unmapped(path, "an exec command without commandLine");
            continue;
        };
        if exec.get("component").and_then(Value::as_str) != Some(component) {
            log.unmapped(
                format!("{path}.exec.component"),
                format!("the command runs in the contract's one container (`{component}`)"),
            );
        }
        let group = exec
            .pointer("/group/kind")
            .and_then(|k| serde_json::from_value::<CommandGroup>(k.clone()).ok());
        let dir = exec
            .get("workingDir")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let dir = match (dir, &workdir) {
            (Some(dir), None) if dir.starts_with('/') => {
                super::set_workdir(doc, &dir, &format!("{path}.exec.workingDir"), log);
                workdir = Some(dir);
                None
            }
            (Some(dir), Some(w)) if dir == *w => None,
            (Some(dir), _) if dir.starts_with('/') => Some(dir),
            (Some(dir), _) => {
                log.unmapped(
                    format!("{path}.exec.workingDir"),
                    format!("`{dir}` is not an absolute path; the command runs in the workdir"),
                );
                None
            }
            (None, _) => None,
        };
        for key in exec.as_object().into_iter().flatten().map(|(k, _)| k) {
            if !["component", "commandLine", "workingDir", "group"].contains(&key.as_str()) {
                log.unmapped(format!("{path}.exec.{key}"), "no contract field");
            }
        }
        doc.spec.commands.insert(
            id,
            Command {
                run: run.to_owned(),
                group,
                workdir: dir,
            },
        );
    }
}

fn events(doc: &mut ContractDocument, value: Option<Value>, log: &mut Log) {
    let Some(Value::Object(events)) = value else {
        return;
    };
    for (key, ids) in events {
        let ids: Vec<DnsLabel> = ids
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|id| id.as_str()?.parse().ok())
            .collect();
        match key.as_str() {
            "postStart" => doc.spec.lifecycle.post_start = ids,
            "preStop" => doc.spec.lifecycle.pre_stop = ids,
            _ => log.unmapped(
                format!("events.{key}"),
                "the contract has postCreate, postStart and preStop only",
            ),
        }
    }
}
