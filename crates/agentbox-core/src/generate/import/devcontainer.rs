//! devcontainer.json (JSON with comments) to a contract document.

use serde_json::{Map, Value};

use super::{Imported, Log};
use crate::contract::{
    Command, ContractDocument, DnsLabel, EnvName, Exposure, Feature, ImageRef, Isolation, Port,
    PortProtocol, Quantity, ResourceRange, SecretEnv, SecretRef,
};
use crate::generate::devcontainer::{local_env, parse_secret_description};
use crate::{Error, Result};

/// Import devcontainer.json `text`; `origin` names it in errors.
pub fn import(text: &str, origin: &str) -> Result<Imported> {
    let bad = |message: String| Error::Import {
        origin: origin.to_owned(),
        message,
    };
    let options = jsonc_parser::ParseOptions::default();
    let value: Value = jsonc_parser::parse_to_serde_value(text, &options)
        .map_err(|e| bad(format!("not JSON with comments: {e}")))?;
    let Value::Object(mut root) = value else {
        return Err(bad("a devcontainer.json is a JSON object".into()));
    };
    let mut log = Log::default();
    let name = root.remove("name");
    let name = super::contract_name(
        name.as_ref().and_then(Value::as_str),
        "name",
        origin,
        &mut log,
    )?;
    let image = match root.remove("image") {
        Some(Value::String(image)) => image
            .parse::<ImageRef>()
            .map_err(|e| bad(format!("`image`: {e}")))?,
        _ => {
            return Err(bad(
                "only image-based dev containers can be imported (no `image` string found): build the image, push it, and reference it with `image`".into(),
            ));
        }
    };
    let mut doc = super::document(name, image);
    if let Some(folder) = root.remove("workspaceFolder") {
        match folder.as_str() {
            Some(folder) => super::set_workdir(&mut doc, folder, "workspaceFolder", &mut log),
            None => log.unmapped("workspaceFolder", "not a string"),
        }
    }
    if let Some(mount) = root.remove("workspaceMount") {
        let expected = doc
            .spec
            .workdir
            .as_ref()
            .map(|w| format!("source=${{localWorkspaceFolder}},target={w},type=bind"));
        if mount.as_str() != expected.as_deref() {
            log.unmapped(
                "workspaceMount",
                "the contract mounts the sources at the workdir; other mounts have no place",
            );
        }
    }
    features(&mut doc, root.remove("features"), &mut log);
    let recommended = root.remove("secrets");
    env(
        &mut doc,
        "containerEnv",
        root.remove("containerEnv"),
        recommended.as_ref(),
        &mut log,
    );
    env(
        &mut doc,
        "remoteEnv",
        root.remove("remoteEnv"),
        recommended.as_ref(),
        &mut log,
    );
    recommended_secrets(&mut doc, recommended.as_ref(), &mut log);
    ports(
        &mut doc,
        root.remove("forwardPorts"),
        root.remove("portsAttributes"),
        &mut log,
    );
    lifecycle(&mut doc, &mut root, &mut log);
    host_requirements(&mut doc, root.remove("hostRequirements"), &mut log);
    run_args(&mut doc, root.remove("runArgs"), &mut log);
    customizations(&mut doc, root.remove("customizations"), &mut log);
    for (key, _) in root {
        log.unmapped(key, "the contract has no such field");
    }
    Ok(Imported {
        document: doc,
        unmapped: log.0,
    })
}

fn features(doc: &mut ContractDocument, value: Option<Value>, log: &mut Log) {
    let Some(value) = value else { return };
    let Value::Object(features) = value else {
        return log.unmapped("features", "not an object");
    };
    for (id, options) in features {
        let options = match options {
            Value::Object(map) => map.into_iter().collect(),
            Value::String(version) => [("version".to_owned(), Value::String(version))]
                .into_iter()
                .collect(),
            _ => {
                log.unmapped(
                    format!("features.{id}"),
                    "options are neither an object nor a version string",
                );
                continue;
            }
        };
        doc.spec.features.push(Feature { id, options });
    }
}

/// The secret a `${localEnv:NAME}` variable comes from: the one its `secrets` recommendation
/// names, or a secret named after the variable.
fn secret_for(env: &EnvName, recommended: Option<&Value>, log: &mut Log) -> Option<SecretRef> {
    let described = recommended
        .and_then(|r| r.get(env.as_str()))
        .and_then(|r| r.get("description"))
        .and_then(Value::as_str)
        .and_then(parse_secret_description);
    let (secret, key) = match described {
        Some(found) => found,
        None => {
            let guess = super::label(env.as_str(), 63)?;
            log.unmapped(
                format!("secrets.{env}"),
                format!("the secret holding ${env} is not named; the contract says secret `{guess}` key `{env}`: correct it"),
            );
            (guess.to_string(), env.to_string())
        }
    };
    Some(SecretRef {
        secret: secret.parse::<DnsLabel>().ok()?,
        key,
    })
}

fn env(
    doc: &mut ContractDocument,
    field: &str,
    value: Option<Value>,
    recommended: Option<&Value>,
    log: &mut Log,
) {
    let Some(value) = value else { return };
    let Value::Object(vars) = value else {
        return log.unmapped(field, "not an object");
    };
    for (name, value) in vars {
        let path = format!("{field}.{name}");
        let Ok(env) = name.parse::<EnvName>() else {
            log.unmapped(path, "not an environment variable name");
            continue;
        };
        let Some(text) = value.as_str() else {
            log.unmapped(path, "not a string");
            continue;
        };
        if text.contains("${localEnv:") {
            if text != local_env(env.as_str()) {
                log.unmapped(&path, format!("`{text}` reads another host variable; the contract reads ${env} from a secret of that name"));
            }
            match secret_for(&env, recommended, log) {
                Some(from) if !doc.spec.secrets.iter().any(|s| s.env == env) => {
                    doc.spec.secrets.push(SecretEnv { env, from });
                }
                Some(_) => {}
                None => log.unmapped(path, "no secret name can be derived"),
            }
        } else {
            if field == "remoteEnv" {
                log.unmapped(
                    &path,
                    "a remote variable becomes a plain container variable",
                );
            }
            doc.spec.env.insert(env, text.to_owned());
        }
    }
}

fn recommended_secrets(doc: &mut ContractDocument, recommended: Option<&Value>, log: &mut Log) {
    let Some(Value::Object(map)) = recommended else {
        return;
    };
    for name in map.keys() {
        let Ok(env) = name.parse::<EnvName>() else {
            log.unmapped(
                format!("secrets.{name}"),
                "not an environment variable name",
            );
            continue;
        };
        if doc.spec.secrets.iter().any(|s| s.env == env) {
            continue;
        }
        if let Some(from) = secret_for(&env, recommended, log) {
            doc.spec.secrets.push(SecretEnv { env, from });
        }
    }
}

fn ports(
    doc: &mut ContractDocument,
    forward: Option<Value>,
    attributes: Option<Value>,
    log: &mut Log,
) {
    let attributes = match attributes {
        Some(Value::Object(map)) => map,
        Some(_) => {
            log.unmapped("portsAttributes", "not an object");
            Map::new()
        }
        None => Map::new(),
    };
    let add = |doc: &mut ContractDocument,
               number: u16,
               attrs: Option<Value>,
               exposure: Exposure,
               log: &mut Log| {
        let label = attrs
            .as_ref()
            .and_then(|a| a.get("label"))
            .and_then(Value::as_str);
        let name = label
            .and_then(|l| super::label(l, 15))
            .filter(|n| !doc.spec.ports.iter().any(|p| p.name == *n))
            .or_else(|| super::label(&format!("port-{number}"), 15));
        let Some(name) = name else { return };
        let protocol = match attrs
            .as_ref()
            .and_then(|a| a.get("protocol"))
            .and_then(Value::as_str)
        {
            Some("https") => PortProtocol::Https,
            Some("http") => PortProtocol::Http,
            // No application protocol given: plain TCP.
            _ => PortProtocol::Tcp,
        };
        if let Some(Value::Object(attrs)) = &attrs {
            for key in attrs
                .keys()
                .filter(|k| !["label", "protocol", "onAutoForward"].contains(&k.as_str()))
            {
                log.unmapped(
                    format!("portsAttributes.{number}.{key}"),
                    "the contract has no such port setting",
                );
            }
        }
        doc.spec.ports.push(Port {
            name,
            port: number,
            exposure,
            protocol,
            path: None,
        });
    };
    let mut forwarded = Vec::new();
    for (i, port) in forward
        .and_then(|f| f.as_array().cloned())
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        match port
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .filter(|&p| p > 0)
        {
            Some(number) => forwarded.push(number),
            None => log.unmapped(
                format!("forwardPorts[{i}]"),
                "only port numbers of this container can be mapped",
            ),
        }
    }
    // Ports with attributes first, in their order (the generator writes every port there).
    for (key, attrs) in attributes {
        let ignored = attrs.get("onAutoForward").and_then(Value::as_str) == Some("ignore");
        match key.parse::<u16>().ok().filter(|&p| p > 0) {
            Some(number) if forwarded.contains(&number) => {
                forwarded.retain(|&p| p != number);
                add(doc, number, Some(attrs), Exposure::Public, log);
            }
            Some(number) if ignored => add(doc, number, Some(attrs), Exposure::None, log),
            _ => log.unmapped(format!("portsAttributes.{key}"), "attributes of a port that is not forwarded, a range or a pattern have no place in the contract"),
        }
    }
    for number in forwarded {
        add(doc, number, None, Exposure::Public, log);
    }
}

fn lifecycle(doc: &mut ContractDocument, root: &mut Map<String, Value>, log: &mut Log) {
    for (key, name) in [
        ("postCreateCommand", "post-create"),
        ("postStartCommand", "post-start"),
    ] {
        let Some(value) = root.remove(key) else {
            continue;
        };
        let mut lines: Vec<(String, String)> = Vec::new();
        match value {
            Value::String(line) => lines.push((name.to_owned(), line)),
            Value::Array(argv) => {
                let words: Vec<&str> = argv.iter().filter_map(Value::as_str).collect();
                match shlex::try_join(words) {
                    Ok(line) => lines.push((name.to_owned(), line)),
                    Err(_) => log.unmapped(key, "the command's words cannot be quoted for a shell"),
                }
            }
            Value::Object(map) => {
                log.unmapped(key, "the parallel commands of the object form run one after another in the contract");
                for (sub, line) in map {
                    match (line.as_str(), super::label(&format!("{name}-{sub}"), 63)) {
                        (Some(line), Some(_)) => {
                            lines.push((format!("{name}-{sub}"), line.to_owned()))
                        }
                        _ => log.unmapped(format!("{key}.{sub}"), "not a command string"),
                    }
                }
            }
            _ => log.unmapped(key, "not a command"),
        }
        for (command, line) in lines {
            let Some(id) = super::label(&command, 63) else {
                continue;
            };
            doc.spec.commands.insert(
                id.clone(),
                Command {
                    run: line,
                    group: None,
                    workdir: None,
                },
            );
            match key {
                "postCreateCommand" => doc.spec.lifecycle.post_create.push(id),
                _ => doc.spec.lifecycle.post_start.push(id),
            }
        }
    }
}

/// A devcontainer.json size (`4gb`, `512mb`, `1073741824`) as a quantity.
fn size_quantity(text: &str) -> Option<Quantity> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let factor: u64 = match unit {
        "" => 1,
        "kb" => 1 << 10,
        "mb" => 1 << 20,
        "gb" => 1 << 30,
        "tb" => 1 << 40,
        _ => return None,
    };
    super::bytes_quantity(n.checked_mul(factor)?)
}

fn host_requirements(doc: &mut ContractDocument, value: Option<Value>, log: &mut Log) {
    let Some(Value::Object(host)) = value else {
        return;
    };
    for (key, value) in host {
        let path = format!("hostRequirements.{key}");
        let text = value
            .as_str()
            .map(str::to_owned)
            .or_else(|| value.as_u64().map(|n| n.to_string()));
        match (key.as_str(), text) {
            ("cpus", Some(n)) => match n.parse::<Quantity>() {
                Ok(q) => {
                    doc.spec
                        .resources
                        .cpu
                        .get_or_insert_with(ResourceRange::default)
                        .request = Some(q)
                }
                Err(_) => log.unmapped(path, "not a CPU count"),
            },
            ("memory", Some(size)) => match size_quantity(&size) {
                Some(q) => {
                    doc.spec
                        .resources
                        .memory
                        .get_or_insert_with(ResourceRange::default)
                        .request = Some(q)
                }
                None => log.unmapped(path, "not a size"),
            },
            ("storage", Some(size)) => match size_quantity(&size) {
                Some(q) => super::storage(doc, &path, log).size = Some(q),
                None => log.unmapped(path, "not a size"),
            },
            _ => log.unmapped(path, "the contract has no such host requirement"),
        }
    }
}

fn run_args(doc: &mut ContractDocument, value: Option<Value>, log: &mut Log) {
    let Some(Value::Array(args)) = value else {
        return;
    };
    for (i, arg) in args.iter().enumerate() {
        let path = format!("runArgs[{i}]");
        let Some(arg) = arg.as_str() else {
            log.unmapped(path, "not a string");
            continue;
        };
        if let Some(cpus) = arg.strip_prefix("--cpus=") {
            match cpus.parse::<Quantity>() {
                Ok(q) => {
                    doc.spec
                        .resources
                        .cpu
                        .get_or_insert_with(ResourceRange::default)
                        .limit = Some(q)
                }
                Err(_) => log.unmapped(path, "not a CPU count"),
            }
        } else if let Some(memory) = arg.strip_prefix("--memory=") {
            match memory.parse::<u64>().ok().and_then(super::bytes_quantity) {
                Some(q) => {
                    doc.spec
                        .resources
                        .memory
                        .get_or_insert_with(ResourceRange::default)
                        .limit = Some(q)
                }
                None => log.unmapped(path, "only a byte count can be mapped"),
            }
        } else if arg == "--read-only" {
            isolation(&mut doc.spec.isolation).read_only_root_filesystem = true;
        } else if let Some(dir) = arg.strip_prefix("--tmpfs=") {
            isolation(&mut doc.spec.isolation)
                .writable_paths
                .push(dir.to_owned());
        } else if arg == "--cap-drop=ALL" || arg == "--security-opt=no-new-privileges" {
            isolation(&mut doc.spec.isolation);
        } else {
            log.unmapped(path, format!("`{arg}` has no contract field"));
        }
    }
}

/// The document's isolation section, created empty when missing.
fn isolation(isolation: &mut Option<Isolation>) -> &mut Isolation {
    isolation.get_or_insert_with(Isolation::default)
}

fn customizations(doc: &mut ContractDocument, value: Option<Value>, log: &mut Log) {
    let Some(Value::Object(tools)) = value else {
        return;
    };
    for (tool, settings) in tools {
        if tool != "vscode" {
            log.unmapped(
                format!("customizations.{tool}"),
                "the contract keeps only VS Code extensions",
            );
            continue;
        }
        let Value::Object(settings) = settings else {
            continue;
        };
        for (key, value) in settings {
            if key == "extensions" {
                doc.spec.editor.extensions = value
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
            } else {
                log.unmapped(
                    format!("customizations.vscode.{key}"),
                    "the contract keeps only VS Code extensions",
                );
            }
        }
    }
}
