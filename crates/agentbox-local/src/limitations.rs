//! What a contract asks that the local backend cannot enforce; each becomes a warning.

use agentbox_core::contract::{ContractDocument, Exposure, StorageKind, Verdict};

/// Every part of `contract` the local backend cannot enforce, in words for a person.
pub(crate) fn limitations(contract: &ContractDocument, sandboxed: bool) -> Vec<String> {
    let spec = &contract.spec;
    let mut found = vec![format!(
        "image `{}` is not used: commands run on the host's own system files (read-only)",
        spec.image
    )];
    if !spec.features.is_empty() {
        found.push(format!(
            "{} Dev Container feature(s) are not installed: the host's tools are used",
            spec.features.len()
        ));
    }
    if spec.resources.cpu.is_some() {
        found.push("CPU requests and limits are not enforced locally".to_owned());
    }
    if spec
        .resources
        .memory
        .as_ref()
        .is_some_and(|m| m.limit.is_some())
    {
        found.push(
            "the memory limit is enforced per command as an address-space limit (RLIMIT_AS), which counts reserved as well as used memory".to_owned(),
        );
    }
    if let Some(storage) = &spec.storage {
        if storage.size.is_some() {
            found.push(
                "the storage size is not enforced: files live in a host directory".to_owned(),
            );
        }
        if storage.kind == StorageKind::Ephemeral {
            found.push(
                "ephemeral storage is kept when the workspace stops, until it is deleted"
                    .to_owned(),
            );
        }
    }
    if let Some(egress) = spec.network.as_ref().map(|n| &n.egress)
        && egress.default == Verdict::Deny
        && !egress.allow.is_empty()
    {
        found.push(format!(
            "egress is all-or-nothing locally: because {} allow rule(s) are given, ALL outbound traffic is allowed",
            egress.allow.len()
        ));
    }
    if let Some(class) = spec
        .isolation
        .as_ref()
        .and_then(|i| i.runtime_class.as_ref())
    {
        found.push(format!("runtime class `{class}` is not available locally"));
    }
    for port in spec.ports.iter().filter(|p| p.exposure != Exposure::None) {
        found.push(format!(
            "port `{}` ({}) is not exposed: the local backend publishes no endpoints",
            port.name, port.port
        ));
    }
    if spec.idle_timeout.is_some() {
        found.push("the idle timeout is not enforced locally".to_owned());
    }
    if !sandboxed {
        found.push(
            "commands run WITHOUT isolation (Isolation::None): they can read and change everything the host user can, and reach the network".to_owned(),
        );
        found.push(format!(
            "without isolation, paths under {} are not mapped: commands see the host's paths, starting in the workspace's directory",
            spec.storage
                .as_ref()
                .and_then(|s| s.mount_path.as_deref())
                .unwrap_or(agentbox_core::contract::DEFAULT_MOUNT_PATH)
        ));
        if spec
            .isolation
            .as_ref()
            .is_some_and(|i| !i.writable_paths.is_empty())
        {
            found.push("without isolation, writable paths are not provided".to_owned());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentbox_core::Contract;
    use agentbox_core::contract::LoadOptions;

    fn contract(spec_extra: &str) -> Contract {
        let yaml = format!(
            "apiVersion: agentbox.dev/v1alpha1\nkind: Environment\nmetadata: {{ name: demo }}\nspec:\n  image: alpine:3.20\n{spec_extra}"
        );
        Contract::from_yaml(&yaml, &LoadOptions::default()).unwrap()
    }

    #[test]
    fn unenforceable_requests_are_named() {
        let c = contract(
            "  resources: { cpu: { limit: '2' } }\n  network: { egress: { default: deny, allow: [ { host: example.com } ] } }\n  isolation: { runtimeClass: kata }\n  ports: [ { name: web, port: 8080 } ]\n",
        );
        let all = limitations(c.document(), true).join("\n");
        for needle in [
            "image `alpine:3.20`",
            "CPU",
            "ALL outbound traffic",
            "runtime class `kata`",
            "port `web`",
        ] {
            assert!(all.contains(needle), "{needle} missing from {all}");
        }
        assert!(!all.contains("WITHOUT isolation"));
    }

    #[test]
    fn running_unisolated_is_a_limitation() {
        let plain = contract("");
        let sandboxed = limitations(plain.document(), true);
        assert_eq!(sandboxed.len(), 1, "{sandboxed:?}");
        let unisolated = limitations(plain.document(), false).join("\n");
        assert!(unisolated.contains("WITHOUT isolation"), "{unisolated}");
    }
}
