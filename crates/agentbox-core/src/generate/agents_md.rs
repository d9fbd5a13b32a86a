//! `AGENTS.md`: what the agent is told, the commands it should run, what it may do, and where
//! its sandbox ends, in plain words, so an agent need not reverse-engineer the repository.

use std::fmt::Write;

use super::report::Notes;
use crate::contract::{
    Contract, EgressTarget, Exposure, PermissionPattern, ResourceRange, Verdict,
};

/// The AGENTS.md text.
pub(super) fn render(contract: &Contract, notes: &mut Notes) -> String {
    let mut md = format!("<!-- {} -->\n\n", super::header(contract));
    let _ = writeln!(
        md,
        "# {} (profile `{}`)",
        contract.name(),
        contract.profile()
    );
    if contract.metadata.profile.is_some() {
        notes.represented("metadata.profile", "the title names the profile");
    }
    md.push('\n');
    instructions(contract, &mut md, notes);
    commands(contract, &mut md, notes);
    permissions(contract, &mut md, notes);
    sandbox(contract, &mut md);
    md
}

/// `text` as inline code, with a fence longer than any run of backticks inside it.
fn code(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    if longest == 0 {
        format!("{fence}{text}{fence}")
    } else {
        format!("{fence} {text} {fence}")
    }
}

fn instructions(contract: &Contract, md: &mut String, notes: &mut Notes) {
    md.push_str("## Instructions\n\n");
    match contract
        .spec
        .agent
        .as_ref()
        .and_then(|a| a.instructions.as_deref())
    {
        Some(text) => {
            md.push_str(text.trim_end());
            md.push_str("\n\n");
            notes.represented(
                "spec.agent.instructions",
                "the Instructions section, verbatim",
            );
        }
        None => md.push_str("The contract gives no instructions beyond this file.\n\n"),
    }
}

fn commands(contract: &Contract, md: &mut String, notes: &mut Notes) {
    let spec = &contract.spec;
    md.push_str("## Commands\n\n");
    if spec.commands.is_empty() {
        md.push_str("The contract names no commands.\n\n");
    } else {
        let _ = writeln!(
            md,
            "Use these commands; each runs with `sh -c` in {} unless it names another directory.\n",
            code(&contract.workdir())
        );
        for (name, command) in &spec.commands {
            let group = command
                .group
                .and_then(|g| serde_json::to_value(g).ok())
                .and_then(|v| v.as_str().map(str::to_owned))
                .map(|g| format!(" ({g})"))
                .unwrap_or_default();
            let _ = write!(
                md,
                "- {}{group}: {}",
                code(name.as_str()),
                code(&command.run)
            );
            if let Some(dir) = &command.workdir {
                let _ = write!(md, " in {}", code(dir));
            }
            md.push('\n');
            notes.represented(format!("spec.commands.{name}"), "listed under Commands");
        }
        md.push('\n');
    }
    let lifecycle = &spec.lifecycle;
    for (when, field, names) in [
        (
            "Once, after the workspace is created",
            "spec.lifecycle.postCreate",
            &lifecycle.post_create,
        ),
        (
            "Every time the workspace starts",
            "spec.lifecycle.postStart",
            &lifecycle.post_start,
        ),
        (
            "Before the workspace stops",
            "spec.lifecycle.preStop",
            &lifecycle.pre_stop,
        ),
    ] {
        if !names.is_empty() {
            let list: Vec<String> = names.iter().map(|n| code(n.as_str())).collect();
            let _ = writeln!(
                md,
                "{when}, the workspace runs {} for you.\n",
                list.join(", ")
            );
            notes.represented(field, "stated under Commands");
        }
    }
}

fn pattern_words(pattern: &PermissionPattern) -> String {
    let text = pattern.as_str();
    let (kind, arg) = text
        .split_once('(')
        .map(|(k, rest)| (k, rest.strip_suffix(')').unwrap_or(rest).trim()))
        .unwrap_or((text, ""));
    match kind {
        "shell" if arg == "*" => "any shell command".to_owned(),
        "shell" => match arg.strip_suffix(":*") {
            Some(prefix) => format!("shell commands starting with {}", code(prefix)),
            None => format!("exactly the shell command {}", code(arg)),
        },
        "read" => format!("reading files matching {}", code(arg)),
        "write" => format!("writing files matching {}", code(arg)),
        _ => code(text),
    }
}

fn permissions(contract: &Contract, md: &mut String, notes: &mut Notes) {
    md.push_str("## Permissions\n\n");
    let Some(agent) = &contract.spec.agent else {
        md.push_str("The contract sets no permissions: under agentbox every tool call is denied unless a rule allows it, and there are none.\n\n");
        return;
    };
    let p = &agent.permissions;
    md.push_str("agentbox's permission gate checks every tool call: a deny rule wins, then an allow rule, then the default.\n\n");
    let default = match p.default {
        Verdict::Allow => "allowed",
        Verdict::Deny => "denied",
    };
    for (heading, patterns) in [("You may:", &p.allow), ("You may never:", &p.deny)] {
        if patterns.is_empty() {
            continue;
        }
        let _ = writeln!(md, "{heading}");
        for pattern in patterns {
            let _ = writeln!(
                md,
                "- {} ({})",
                pattern_words(pattern),
                code(pattern.as_str())
            );
        }
        md.push('\n');
    }
    let _ = writeln!(md, "Anything else is {default}.\n");
    notes.represented(
        "spec.agent.permissions",
        "the Permissions section states every rule; agentbox's permission gate enforces them at run time",
    );
}

fn range_words(range: &ResourceRange) -> String {
    let mut parts = Vec::new();
    if let Some(r) = &range.request {
        parts.push(format!("{r} requested"));
    }
    if let Some(l) = &range.limit {
        parts.push(format!("limit {l}"));
    }
    parts.join(", ")
}

fn sandbox(contract: &Contract, md: &mut String) {
    let spec = &contract.spec;
    md.push_str("## Sandbox limits\n\n");
    let egress = spec
        .network
        .as_ref()
        .map(|n| n.egress.clone())
        .unwrap_or_default();
    if egress.default == Verdict::Allow {
        md.push_str("- Network: outbound traffic is allowed.\n");
    } else if egress.allow.is_empty() {
        md.push_str(
            "- Network: all outbound traffic is blocked; do not try to download anything.\n",
        );
    } else {
        let allowed: Vec<String> = egress
            .allow
            .iter()
            .filter_map(|rule| {
                let ports = if rule.ports.is_empty() {
                    String::new()
                } else {
                    let list: Vec<String> = rule.ports.iter().map(u16::to_string).collect();
                    format!(" on TCP port(s) {}", list.join(", "))
                };
                Some(match rule.target()? {
                    EgressTarget::Dns => "DNS lookups".to_owned(),
                    EgressTarget::Host(h) => format!("{}{ports}", code(h)),
                    EgressTarget::Cidr(c) => format!("{}{ports}", code(c.as_str())),
                })
            })
            .collect();
        let _ = writeln!(
            md,
            "- Network: outbound traffic is blocked except {}.",
            allowed.join("; ")
        );
    }
    let mut writable = vec![code(&contract.workdir())];
    match &spec.isolation {
        Some(i) if i.read_only_root_filesystem => {
            writable.extend(i.writable_paths.iter().map(|p| code(p)));
            let _ = writeln!(
                md,
                "- Files: the root filesystem is read-only; you can write only under {}.",
                writable.join(", ")
            );
        }
        _ => {
            let _ = writeln!(md, "- Files: work under {}.", writable[0]);
        }
    }
    if let Some(i) = &spec.isolation {
        if i.run_as_non_root {
            md.push_str("- User: you run as a non-root user; `sudo` is not available.\n");
        }
        if let Some(class) = &i.runtime_class {
            let _ = writeln!(
                md,
                "- Runtime: the workspace runs in RuntimeClass {}.",
                code(class.as_str())
            );
        }
    }
    let r = &spec.resources;
    if let Some(cpu) = &r.cpu {
        let _ = writeln!(md, "- CPU: {}.", range_words(cpu));
    }
    if let Some(memory) = &r.memory {
        let _ = writeln!(md, "- Memory: {}.", range_words(memory));
    }
    if let Some(storage) = &spec.storage {
        let kind = serde_json::to_value(storage.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let size = storage
            .size
            .as_ref()
            .map(|s| format!(", {s}"))
            .unwrap_or_default();
        let _ = writeln!(
            md,
            "- Storage: {kind}{size} at {}.",
            code(contract.mount_path())
        );
    }
    if let Some(idle) = &spec.idle_timeout {
        let _ = writeln!(
            md,
            "- Idle timeout: the workspace stops after {idle} without activity."
        );
    }
    for secret in &spec.secrets {
        let _ = writeln!(
            md,
            "- Secret: `${}` is set for you; never print it, log it or write it to a file.",
            secret.env
        );
    }
    for port in &spec.ports {
        let reach = match port.exposure {
            Exposure::Public => "reachable from outside through the platform's router",
            Exposure::Internal => "reachable inside the cluster only",
            Exposure::None => "reachable inside the workspace only",
        };
        let name = code(port.name.as_str());
        let _ = writeln!(md, "- Port: {} ({name}) is {reach}.", port.port);
    }
}
