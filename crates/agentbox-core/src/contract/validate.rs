//! Checks that span several fields, which a JSON Schema cannot express.
//!
//! They run on the JSON value, not the typed model, so they still run when other parts of the
//! document are broken; a check whose inputs have the wrong type is skipped (the schema check
//! reports those).

use serde_json::{Map, Value};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::Hash;

use super::load::Locator;
use super::problem::{Problem, Severity};
use super::types::{ImageRef, Quantity};
use super::yaml::{index_path, key_path};
use super::{DEFAULT_MOUNT_PATH, LoadOptions};

/// Every cross-field problem in `document`, warnings included.
pub(super) fn check(document: &Value, at: &Locator<'_>, options: &LoadOptions) -> Vec<Problem> {
    let mut out = Vec::new();
    let Some(spec) = document.get("spec").and_then(Value::as_object) else {
        return out;
    };
    requests_within_limits(spec, at, &mut out);
    unique_ports(spec, at, &mut out);
    lifecycle_commands_exist(spec, at, &mut out);
    egress_rules_have_one_target(spec, at, &mut out);
    variables_set_once(spec, at, &mut out);
    paths_are_absolute(spec, at, &mut out);
    image_is_pinned(spec, at, options, &mut out);
    out
}

fn object<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Map<String, Value>> {
    map.get(key).and_then(Value::as_object)
}

fn array<'a>(map: &'a Map<String, Value>, key: &str) -> &'a [Value] {
    map.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn string<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Value::as_str)
}

/// The index `key` was first seen at, or `None` (recording `index`) when it is new.
fn first_seen<K: Hash + Eq>(seen: &mut HashMap<K, usize>, key: K, index: usize) -> Option<usize> {
    match seen.entry(key) {
        Entry::Occupied(first) => Some(*first.get()),
        Entry::Vacant(slot) => {
            slot.insert(index);
            None
        }
    }
}

fn quantity(value: &Value) -> Option<Quantity> {
    match value {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.to_string().parse().ok(),
        _ => None,
    }
}

fn requests_within_limits(spec: &Map<String, Value>, at: &Locator<'_>, out: &mut Vec<Problem>) {
    let Some(resources) = object(spec, "resources") else {
        return;
    };
    for resource in ["cpu", "memory"] {
        let Some(range) = object(resources, resource) else {
            continue;
        };
        let request = range.get("request").and_then(quantity);
        let limit = range.get("limit").and_then(quantity);
        if let (Some(request), Some(limit)) = (request, limit)
            && request.value() > limit.value()
        {
            out.push(at.node_error(
                &format!("spec.resources.{resource}.request"),
                format!(
                    "the {resource} request `{request}` is more than its limit `{limit}`; lower the request or raise the limit"
                ),
            ));
        }
    }
}

fn unique_ports(spec: &Map<String, Value>, at: &Locator<'_>, out: &mut Vec<Problem>) {
    let mut names = HashMap::new();
    let mut numbers = HashMap::new();
    for (i, port) in array(spec, "ports").iter().enumerate() {
        let Some(port) = port.as_object() else {
            continue;
        };
        let item = index_path("spec.ports", i);
        if let Some(name) = string(port, "name")
            && let Some(first) = first_seen(&mut names, name, i)
        {
            out.push(at.node_error(
                &key_path(&item, "name"),
                format!("port name `{name}` is already used by spec.ports[{first}]; port names are unique"),
            ));
        }
        if let Some(number) = port.get("port").and_then(Value::as_u64)
            && let Some(first) = first_seen(&mut numbers, number, i)
        {
            out.push(at.node_error(
                &key_path(&item, "port"),
                format!("port {number} is already declared by spec.ports[{first}]; declare each port once"),
            ));
        }
    }
}

fn lifecycle_commands_exist(spec: &Map<String, Value>, at: &Locator<'_>, out: &mut Vec<Problem>) {
    let Some(lifecycle) = object(spec, "lifecycle") else {
        return;
    };
    let commands: Vec<&str> = match spec.get("commands") {
        None => Vec::new(),
        Some(Value::Object(commands)) => commands.keys().map(String::as_str).collect(),
        Some(_) => return,
    };
    let defined = if commands.is_empty() {
        "spec.commands defines none".to_owned()
    } else {
        format!("defined: {}", commands.join(", "))
    };
    for hook in ["postCreate", "postStart", "preStop"] {
        let hook_path = format!("spec.lifecycle.{hook}");
        for (i, name) in array(lifecycle, hook).iter().enumerate() {
            let Some(name) = name.as_str() else {
                continue;
            };
            if !commands.contains(&name) {
                out.push(at.node_error(
                    &index_path(&hook_path, i),
                    format!("`{name}` is not a command in spec.commands ({defined})"),
                ));
            }
        }
    }
}

fn egress_rules_have_one_target(
    spec: &Map<String, Value>,
    at: &Locator<'_>,
    out: &mut Vec<Problem>,
) {
    let Some(egress) = object(spec, "network").and_then(|n| object(n, "egress")) else {
        return;
    };
    for (i, rule) in array(egress, "allow").iter().enumerate() {
        let Some(rule) = rule.as_object() else {
            continue;
        };
        let path = index_path("spec.network.egress.allow", i);
        let targets: Vec<&str> = [
            ("dns", rule.get("dns") == Some(&Value::Bool(true))),
            ("host", rule.contains_key("host")),
            ("cidr", rule.contains_key("cidr")),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect();
        match targets.as_slice() {
            [] => out.push(at.node_error(
                &path,
                "an egress rule needs a target: one of `dns: true`, `host` or `cidr`",
            )),
            [_] => {}
            many => out.push(at.node_error(
                &path,
                format!(
                    "an egress rule has one target, this one has {}; write one rule per target",
                    many.join(" and ")
                ),
            )),
        }
        if let Some(host) = string(rule, "host")
            && !is_host_name(host)
        {
            out.push(at.node_error(
                &key_path(&path, "host"),
                format!(
                    "`{host}` is not a host name: write the name alone, e.g. `api.github.com` or `*.github.com`, and put ports in `ports`"
                ),
            ));
        }
    }
}

/// A DNS name, optionally starting with a `*.` wildcard.
fn is_host_name(host: &str) -> bool {
    let name = host.strip_prefix("*.").unwrap_or(host);
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    name.len() <= 253 && name.split('.').all(label_ok)
}

fn variables_set_once(spec: &Map<String, Value>, at: &Locator<'_>, out: &mut Vec<Problem>) {
    let plain = object(spec, "env");
    let mut seen = HashMap::new();
    for (i, secret) in array(spec, "secrets").iter().enumerate() {
        let Some(name) = secret.get("env").and_then(Value::as_str) else {
            continue;
        };
        let path = key_path(&index_path("spec.secrets", i), "env");
        if let Some(first) = first_seen(&mut seen, name, i) {
            out.push(at.node_error(
                &path,
                format!("`{name}` is already set by spec.secrets[{first}]; set each variable once"),
            ));
        } else if plain.is_some_and(|env| env.contains_key(name)) {
            out.push(at.node_error(
                &path,
                format!("`{name}` is also set in spec.env; a variable comes either from `env` or from `secrets`"),
            ));
        }
    }
}

fn paths_are_absolute(spec: &Map<String, Value>, at: &Locator<'_>, out: &mut Vec<Problem>) {
    let mut absolute = |path: &str, value: &str| {
        let why = if !value.starts_with('/') {
            "must be an absolute path (starting with `/`)"
        } else if value.split('/').any(|c| c == "..") {
            "must not contain `..`"
        } else {
            return true;
        };
        out.push(at.node_error(path, format!("`{value}` {why}")));
        false
    };
    let storage = object(spec, "storage");
    let mount = match storage.and_then(|s| string(s, "mountPath")) {
        Some(mount) if !absolute("spec.storage.mountPath", mount) => None,
        Some(mount) => Some(mount),
        None => Some(DEFAULT_MOUNT_PATH),
    };
    let workdir = string(spec, "workdir").filter(|w| absolute("spec.workdir", w));
    for (i, item) in array(
        object(spec, "isolation").unwrap_or(&Map::new()),
        "writablePaths",
    )
    .iter()
    .enumerate()
    {
        if let Some(item) = item.as_str() {
            absolute(&index_path("spec.isolation.writablePaths", i), item);
        }
    }
    for (name, command) in object(spec, "commands").into_iter().flatten() {
        if let Some(dir) = command.as_object().and_then(|c| string(c, "workdir")) {
            absolute(&key_path(&key_path("spec.commands", name), "workdir"), dir);
        }
    }
    if let (Some(workdir), Some(mount)) = (workdir, mount) {
        let base = mount.trim_end_matches('/');
        let under = workdir == mount || base.is_empty() || workdir.starts_with(&format!("{base}/"));
        if !under {
            out.push(at.node_error(
                "spec.workdir",
                format!(
                    "`{workdir}` is not under the storage mount path `{mount}`; put the workdir inside the workspace's storage so its files persist"
                ),
            ));
        }
    }
}

fn image_is_pinned(
    spec: &Map<String, Value>,
    at: &Locator<'_>,
    options: &LoadOptions,
    out: &mut Vec<Problem>,
) {
    let Some(image) = string(spec, "image").and_then(|i| i.parse::<ImageRef>().ok()) else {
        return;
    };
    if image.digest().is_some() {
        return;
    }
    let severity = if options.strict {
        Severity::Error
    } else {
        Severity::Warning
    };
    out.push(Problem {
        severity,
        ..at.node_error(
            "spec.image",
            format!(
                "image `{image}` is not pinned by digest; append `@sha256:<digest>` so every workspace runs the same image"
            ),
        )
    });
}
