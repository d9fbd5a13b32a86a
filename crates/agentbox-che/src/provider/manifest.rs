//! The DevWorkspace a contract becomes: the generator's manifest, named, labelled, not started,
//! with the request's project.

use std::collections::BTreeMap;

use agentbox_core::Contract;
use agentbox_core::exec::path::relative_to;
use agentbox_core::generate::{self, GenerateOptions, Target, devfile};
use agentbox_core::provider::{CreateRequest, workspace_labels};
use kube::ResourceExt;

use crate::crd::{CheckoutFrom, DevWorkspace, GitSource, Project};
use crate::error::CheError;

/// Annotation holding the workspace's working directory.
pub const WORKDIR_ANNOTATION: &str = "agentbox.dev/workdir";
/// Annotation holding a random id of the create request, so a retried create recognises the
/// object an earlier attempt made.
pub const CREATE_ID_ANNOTATION: &str = "agentbox.dev/create-id";

/// The DevWorkspace for `contract` and `request`, named `name`: the generator's
/// `.agentbox/devworkspace.yaml` with `spec.started: false`, agentbox's labels
/// ([`workspace_labels`]), the working directory as an annotation, and the request's project
/// (cloned by the operator into the contract's `workdir`).
///
/// ```
/// use agentbox_core::contract::{Contract, LoadOptions};
/// use agentbox_core::provider::{CreateRequest, Project};
///
/// let contract = Contract::from_yaml(
///     "apiVersion: agentbox.dev/v1alpha1\nkind: Environment\nmetadata: { name: demo }\nspec: { image: alpine:3.20 }\n",
///     &LoadOptions::default(),
/// )?;
/// let request = CreateRequest::named("demo-1").project(Project {
///     url: "https://example.com/demo.git".into(),
///     revision: Some("main".into()),
/// });
/// let dw = agentbox_che::devworkspace_for(&contract, &request, "demo-1").unwrap();
/// assert!(!dw.spec.started);
/// assert_eq!(dw.metadata.labels.as_ref().unwrap()["app.kubernetes.io/managed-by"], "agentbox");
/// let project = &dw.spec.template.as_ref().unwrap().projects[0];
/// assert_eq!(project.clone_path.as_deref(), Some("demo"));
/// # Ok::<(), agentbox_core::Error>(())
/// ```
pub fn devworkspace_for(
    contract: &Contract,
    request: &CreateRequest,
    name: &str,
) -> Result<DevWorkspace, CheError> {
    let manifest = |message: String| CheError::Manifest {
        contract: contract.name().to_owned(),
        message,
    };
    let generated = generate::generate(
        contract,
        &[Target::DevWorkspace],
        &GenerateOptions::default(),
    )
    .map_err(|e| manifest(format!("the generator failed: {e}")))?;
    let path = Target::DevWorkspace
        .path()
        .unwrap_or(".agentbox/devworkspace.yaml");
    let text = generated
        .files
        .get(path)
        .ok_or_else(|| manifest(format!("the generator wrote no {path}")))?;
    let value: serde_json::Value = serde_saphyr::from_str(text)
        .map_err(|e| manifest(format!("the generated YAML does not parse: {e}")))?;
    let mut dw: DevWorkspace = serde_json::from_value(value)
        .map_err(|e| manifest(format!("the generated YAML is not a DevWorkspace: {e}")))?;

    dw.metadata.name = Some(name.to_owned());
    dw.metadata.labels = Some(workspace_labels(contract, request));
    let annotations = dw.annotations_mut();
    annotations.insert(WORKDIR_ANNOTATION.to_owned(), contract.workdir());
    dw.spec.started = false;
    if let Some(project) = &request.project {
        let template = dw.spec.template.get_or_insert_with(Default::default);
        template.projects = vec![project_for(contract, project).map_err(manifest)?];
    }
    Ok(dw)
}

/// The devfile project cloning `project` into the contract's workdir.
fn project_for(
    contract: &Contract,
    project: &agentbox_core::provider::Project,
) -> Result<Project, String> {
    let workdir = contract.workdir();
    let clone_path = relative_to(contract.mount_path(), &workdir)
        .filter(|rel| !rel.is_empty())
        .ok_or_else(|| {
            format!(
                "the project must be cloned into a directory below the storage mount {}, but the workdir is {workdir}; set `spec.workdir` to a subdirectory",
                contract.mount_path()
            )
        })?;
    let name: String = clone_path
        .rsplit('/')
        .next()
        .unwrap_or(clone_path)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_matches('-');
    let name = if name.is_empty() { "project" } else { name };
    Ok(Project {
        name: name.chars().take(63).collect(),
        clone_path: Some(clone_path.to_owned()),
        git: Some(GitSource {
            remotes: BTreeMap::from([("origin".to_owned(), project.url.clone())]),
            checkout_from: project.revision.as_ref().map(|revision| CheckoutFrom {
                remote: Some("origin".to_owned()),
                revision: Some(revision.clone()),
            }),
        }),
        ..Project::default()
    })
}

/// The container commands run in: the generator's workspace component, or else the first
/// container component.
pub(crate) fn container_component(dw: &DevWorkspace) -> Option<&crate::crd::Component> {
    let template = dw.spec.template.as_ref()?;
    template
        .component(devfile::COMPONENT)
        .filter(|c| c.container.is_some())
        .or_else(|| template.components.iter().find(|c| c.container.is_some()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentbox_core::contract::LoadOptions;
    use agentbox_core::generate::devworkspace::HASH_ANNOTATION;

    const CONTRACT: &str = "apiVersion: agentbox.dev/v1alpha1\nkind: Environment\nmetadata:\n  name: demo\n  labels: { team: platform }\nspec:\n  image: alpine:3.20\n  workdir: /work/app\n  storage: { type: per-workspace, size: 1Gi, mountPath: /work }\n  env: { A: \"1\" }\n  commands:\n    test: { run: \"true\", group: test }\n";

    fn contract() -> Contract {
        Contract::from_yaml(CONTRACT, &LoadOptions::default()).unwrap()
    }

    #[test]
    fn the_generated_manifest_is_kept_and_completed() {
        let contract = contract();
        let request = CreateRequest::named("demo-7").label("agentbox.dev/task-id", "t-1");
        let dw = devworkspace_for(&contract, &request, "demo-7").unwrap();
        assert_eq!(dw.metadata.name.as_deref(), Some("demo-7"));
        assert!(!dw.spec.started, "created stopped; start patches it");
        assert_eq!(dw.spec.routing_class.as_deref(), Some("che"));
        let labels = dw.labels();
        assert_eq!(labels["agentbox.dev/task-id"], "t-1");
        assert_eq!(labels["team"], "platform");
        assert_eq!(labels["agentbox.dev/contract-hash"], &contract.hash()[..32]);
        assert_eq!(dw.annotations()[HASH_ANNOTATION], contract.hash());
        assert_eq!(dw.annotations()[WORKDIR_ANNOTATION], "/work/app");
        let tools = container_component(&dw).unwrap();
        let container = tools.container.as_ref().unwrap();
        assert_eq!(container.source_mapping.as_deref(), Some("/work"));
        assert_eq!(container.env[0].name, "A");
        // Fields agentbox does not model survive the round trip.
        let template = dw.spec.template.as_ref().unwrap();
        assert_eq!(template.extra["commands"][0]["id"], "test");
        assert_eq!(
            template.attributes["controller.devfile.io/storage-type"],
            "per-workspace"
        );
    }

    #[test]
    fn a_project_is_cloned_into_the_workdir() {
        let request = CreateRequest::named("demo-8").project(agentbox_core::provider::Project {
            url: "https://git.example/app.git".into(),
            revision: None,
        });
        let dw = devworkspace_for(&contract(), &request, "demo-8").unwrap();
        let project = &dw.spec.template.unwrap().projects[0];
        assert_eq!(project.clone_path.as_deref(), Some("app"));
        assert_eq!(project.name, "app");
        let git = project.git.as_ref().unwrap();
        assert_eq!(git.remotes["origin"], "https://git.example/app.git");
        assert_eq!(git.checkout_from, None);
    }

    #[test]
    fn a_project_cannot_be_cloned_into_the_mount_itself() {
        let text = CONTRACT.replace("workdir: /work/app", "workdir: /work");
        let contract = Contract::from_yaml(&text, &LoadOptions::default()).unwrap();
        let request = CreateRequest::named("x").project(agentbox_core::provider::Project {
            url: "https://git.example/app.git".into(),
            revision: None,
        });
        let err = devworkspace_for(&contract, &request, "x").unwrap_err();
        assert!(err.to_string().contains("set `spec.workdir`"), "{err}");
    }
}
