//! What a contract asks that a DevWorkspace cannot carry or this provider does not apply, from
//! the generator's enforceability report.

use agentbox_core::Contract;
use agentbox_core::generate::{self, Coverage, GenerateOptions, Target};

/// Every part of `contract` the Che provider does not enforce, in words for a person.
pub(crate) fn limitations(contract: &Contract, namespace: &str) -> Vec<String> {
    let generated = match generate::generate(
        contract,
        &[Target::DevWorkspace],
        &GenerateOptions::default(),
    ) {
        Ok(generated) => generated,
        Err(e) => {
            return vec![format!(
                "the contract's enforceability could not be reported: {e}"
            )];
        }
    };
    let Some(report) = generated.report.target(Target::DevWorkspace) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut egress = Vec::new();
    for entry in &report.entries {
        match &entry.coverage {
            Coverage::Represented { .. } => {}
            Coverage::Partial { how, missing } => {
                found.push(format!("{}: {how}, but {missing}", entry.field));
            }
            Coverage::NotRepresented { why } => found.push(format!("{}: {why}", entry.field)),
            Coverage::Delegated {
                to: Target::NetworkPolicy,
                ..
            } => egress.push(entry.field.clone()),
            // The permission gate enforces the agent's permissions at run time.
            Coverage::Delegated { .. } => {}
        }
    }
    if !egress.is_empty() {
        found.push(format!(
            "{}: this provider does not create NetworkPolicies (its Role does not allow it): apply `.agentbox/networkpolicy.yaml` from `agentbox generate` in namespace `{namespace}`; until then egress is whatever the namespace allows",
            egress.join(", ")
        ));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentbox_core::contract::LoadOptions;

    #[test]
    fn egress_and_secrets_are_reported() {
        let contract = Contract::from_yaml(
            "apiVersion: agentbox.dev/v1alpha1\nkind: Environment\nmetadata: { name: demo }\nspec:\n  image: alpine:3.20\n  secrets:\n    - env: TOKEN\n      from: { secret: api, key: token }\n  network:\n    egress: { default: deny }\n",
            &LoadOptions::default(),
        )
        .unwrap();
        let found = limitations(&contract, "team-a");
        assert!(
            found
                .iter()
                .any(|l| l.contains("networkpolicy.yaml") && l.contains("team-a")),
            "{found:?}"
        );
        assert!(
            found.iter().any(|l| l.starts_with("spec.secrets[0]")),
            "{found:?}"
        );
    }
}
