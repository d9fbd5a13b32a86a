//! The permission gate: every action an agent asks for is decided by the contract's
//! `agent.permissions` ([`Permissions::decide`]: deny rules win, then allow rules, then the
//! default, which is deny) and recorded as [`EvidenceEvent::Permission`], allowed or not.
//!
//! Paths are resolved against the workspace (relative ones from the workdir, `..` folded,
//! escapes refused) *before* they are matched, so `write(/projects/app/**)` cannot be dodged
//! with `../other/x`.

use crate::contract::{Action, Contract, Decision, Permissions, Verdict};
use crate::evidence::{EvidenceEvent, EvidenceSink};
use crate::exec::path;
use crate::{Error, Result};

/// The permission gate of one task in one workspace.
#[derive(Debug, Clone)]
pub struct PermissionGate {
    permissions: Permissions,
    workspace: String,
    root: String,
    workdir: String,
}

/// A denied action: what was asked, and the rule (or default) that said no. Its `Display` is
/// the message the model gets back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The action, e.g. `shell(curl https://example.com)`.
    pub action: String,
    /// The deny rule that matched, or `None` when nothing allowed it.
    pub rule: Option<String>,
}

impl std::fmt::Display for Denial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.rule {
            Some(rule) => write!(
                f,
                "permission denied: `{}` is denied by rule `{rule}`",
                self.action
            ),
            None => write!(
                f,
                "permission denied: `{}` is denied by default (no rule in the contract allows it)",
                self.action
            ),
        }
    }
}

impl PermissionGate {
    /// The gate for `contract`'s rules in workspace `workspace` (no `spec.agent` means no rule,
    /// so everything is denied).
    pub fn new(contract: &Contract, workspace: &str) -> Self {
        Self {
            permissions: contract
                .spec
                .agent
                .as_ref()
                .map(|a| a.permissions.clone())
                .unwrap_or_default(),
            workspace: workspace.to_owned(),
            root: contract.mount_path().to_owned(),
            workdir: contract.workdir(),
        }
    }

    /// The workdir relative paths start from.
    pub fn workdir(&self) -> &str {
        &self.workdir
    }

    /// `input` as an absolute, normalised path in the workspace; [`Error::PathEscapes`] when it
    /// would leave the workspace's root.
    pub fn resolve(&self, input: &str) -> Result<String> {
        path::resolve(&self.workspace, &self.root, &self.workdir, input)
    }

    /// Decide `action` without recording it.
    pub fn decide(&self, action: &Action<'_>) -> Decision {
        self.permissions.decide(action)
    }

    /// Decide `action` and record the decision in `evidence`; `Ok(Err(denial))` when denied.
    /// The outer error is a failure to record.
    pub async fn check<E: EvidenceSink + ?Sized>(
        &self,
        action: &Action<'_>,
        evidence: &E,
    ) -> Result<std::result::Result<(), Denial>> {
        let decision = self.decide(action);
        let text = describe(action);
        tracing::debug!(action = %text, verdict = ?decision.verdict, rule = ?decision.rule, "permission gate");
        evidence
            .record(EvidenceEvent::Permission {
                action: text.clone(),
                verdict: decision.verdict,
                rule: decision.rule.clone(),
            })
            .await?;
        Ok(match decision.verdict {
            Verdict::Allow => Ok(()),
            Verdict::Deny => Err(Denial {
                action: text,
                rule: decision.rule,
            }),
        })
    }

    /// [`resolve`](Self::resolve), with an escape worded for the model.
    pub fn resolve_for_agent(&self, input: &str) -> std::result::Result<String, String> {
        self.resolve(input).map_err(|e| match e {
            Error::PathEscapes { root, .. } => format!(
                "path `{input}` is outside the workspace; use a path under {root} (relative paths start at {})",
                self.workdir
            ),
            other => other.to_string(),
        })
    }
}

/// An action in the permission patterns' own syntax: `shell(git push --force)`, `read(/a)`.
pub fn describe(action: &Action<'_>) -> String {
    match action {
        Action::Shell(argv) => {
            let words: Vec<String> = argv
                .iter()
                .map(|w| match shlex::try_quote(w) {
                    Ok(q) => q.into_owned(),
                    Err(_) => format!("{w:?}"),
                })
                .collect();
            format!("shell({})", words.join(" "))
        }
        Action::Read(path) => format!("read({path})"),
        Action::Write(path) => format!("write({path})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::LoadOptions;
    use crate::evidence::{MemoryEvidenceSink, RunInfo};

    fn gate() -> PermissionGate {
        let contract = Contract::from_yaml(
            r#"
apiVersion: agentbox.dev/v1alpha1
kind: Environment
metadata: { name: app }
spec:
  image: alpine:3.20
  agent:
    permissions:
      allow: ["shell(git:*)", "write(/projects/app/**)", "read(/projects/**)"]
      deny: ["shell(git push --force:*)", "write(/projects/app/.git/**)"]
"#,
            &LoadOptions::default(),
        )
        .unwrap();
        PermissionGate::new(&contract, "ws-1")
    }

    fn argv(s: &str) -> Vec<String> {
        shlex::split(s).unwrap()
    }

    #[tokio::test]
    async fn denials_name_the_rule_and_are_recorded() {
        let gate = gate();
        let sink = MemoryEvidenceSink::new(RunInfo::with_id("r")).unwrap();
        let push = argv("git push --force origin main");
        let denial = gate
            .check(&Action::Shell(&push), &sink)
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(denial.rule.as_deref(), Some("shell(git push --force:*)"));
        assert!(
            denial
                .to_string()
                .contains("denied by rule `shell(git push --force:*)`"),
            "{denial}"
        );
        let curl = argv("curl https://example.com");
        let denial = gate
            .check(&Action::Shell(&curl), &sink)
            .await
            .unwrap()
            .unwrap_err();
        assert!(denial.to_string().contains("denied by default"), "{denial}");
        gate.check(&Action::Shell(&argv("git status")), &sink)
            .await
            .unwrap()
            .unwrap();

        let recorded: Vec<(String, Verdict)> = sink
            .events()
            .into_iter()
            .filter_map(|e| match e.event {
                EvidenceEvent::Permission {
                    action, verdict, ..
                } => Some((action, verdict)),
                _ => None,
            })
            .collect();
        assert_eq!(
            recorded,
            [
                ("shell(git push --force origin main)".into(), Verdict::Deny),
                ("shell(curl https://example.com)".into(), Verdict::Deny),
                ("shell(git status)".into(), Verdict::Allow),
            ]
        );
    }

    #[test]
    fn relative_paths_are_resolved_before_matching() {
        let gate = gate();
        let inside = gate.resolve("src/../lib/a.rb").unwrap();
        assert_eq!(inside, "/projects/app/lib/a.rb");
        assert!(gate.decide(&Action::Write(&inside)).is_allowed());
        // Climbing out of the workdir lands outside the writable glob.
        let sibling = gate.resolve("../other/a.rb").unwrap();
        assert!(!gate.decide(&Action::Write(&sibling)).is_allowed());
        assert!(gate.decide(&Action::Read(&sibling)).is_allowed());
        // And the deny rule still wins inside it.
        let hook = gate.resolve(".git/hooks/pre-commit").unwrap();
        assert!(!gate.decide(&Action::Write(&hook)).is_allowed());
    }

    #[test]
    fn paths_leaving_the_workspace_are_refused_with_a_hint() {
        let message = gate().resolve_for_agent("../../etc/passwd").unwrap_err();
        assert!(message.contains("outside the workspace"), "{message}");
        assert!(message.contains("/projects/app"), "{message}");
    }

    #[test]
    fn a_contract_without_agent_rules_denies_everything() {
        let contract = Contract::from_yaml(
            "apiVersion: agentbox.dev/v1alpha1\nkind: Environment\nmetadata: { name: app }\nspec: { image: alpine:3.20 }\n",
            &LoadOptions::default(),
        )
        .unwrap();
        let gate = PermissionGate::new(&contract, "ws");
        assert!(!gate.decide(&Action::Shell(&argv("ls"))).is_allowed());
        assert!(!gate.decide(&Action::Read("/projects/app/a")).is_allowed());
    }

    #[test]
    fn described_actions_quote_arguments() {
        let v = argv("echo 'a b'");
        assert_eq!(describe(&Action::Shell(&v)), "shell(echo 'a b')");
    }
}
