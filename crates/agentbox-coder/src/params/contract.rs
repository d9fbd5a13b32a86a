//! [`ContractParameters`]: which template parameters receive which parts of the contract.

use std::collections::BTreeMap;

use agentbox_core::Contract;
use agentbox_core::contract::Quantity;
use agentbox_core::generate::{self, GenerateOptions, Target};
use agentbox_core::provider::CreateRequest;

use super::ParameterProblem;
use super::validate::Rule;
use crate::models::TemplateVersionParameter;

/// The names of the template parameters that receive values derived from the contract and the
/// create request. A value is given only when the template declares a parameter of that name;
/// what the contract asks that no declared parameter can carry is reported (a warning, or an
/// error for a repository that could not be cloned). `None` turns a mapping off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractParameters {
    /// The container image (`spec.image`). Default `image`.
    pub image: Option<String>,
    /// The repository to clone (`CreateRequest::project` URL). Default `repo`.
    pub repo: Option<String>,
    /// The revision to check out (`CreateRequest::project` revision). Default `repo_revision`.
    pub repo_revision: Option<String>,
    /// The generated `devcontainer.json` text (for envbuilder). Default `devcontainer_json`.
    pub devcontainer_json: Option<String>,
    /// The CPU limit (else request) in cores: the Kubernetes quantity for a `string`
    /// parameter, whole cores rounded up for a `number`. Default `cpu`.
    pub cpu: Option<String>,
    /// The memory limit (else request): the Kubernetes quantity for a `string` parameter,
    /// whole GiB rounded up for a `number`. Default `memory`.
    pub memory: Option<String>,
    /// The working directory. Default `workdir`.
    pub workdir: Option<String>,
}

impl Default for ContractParameters {
    fn default() -> Self {
        Self {
            image: Some("image".into()),
            repo: Some("repo".into()),
            repo_revision: Some("repo_revision".into()),
            devcontainer_json: Some("devcontainer_json".into()),
            cpu: Some("cpu".into()),
            memory: Some("memory".into()),
            workdir: Some("workdir".into()),
        }
    }
}

/// Values for the declared parameters, and warnings about what could not be passed on.
#[derive(Debug, Default)]
pub(crate) struct Derived {
    pub values: BTreeMap<String, String>,
    pub warnings: Vec<String>,
    pub problems: Vec<ParameterProblem>,
}

impl ContractParameters {
    /// The values the contract and request give to the parameters `declared` has.
    pub(crate) fn derive(
        &self,
        contract: &Contract,
        request: &CreateRequest,
        declared: &[TemplateVersionParameter],
    ) -> Derived {
        let find = |name: &Option<String>| {
            name.as_deref()
                .and_then(|n| declared.iter().find(|p| p.name == n))
        };
        let mut out = Derived::default();
        let spec = &contract.spec;

        match find(&self.image) {
            Some(p) => {
                out.values.insert(p.name.clone(), spec.image.as_str().to_owned());
            }
            None => out.warnings.push(format!(
                "the template declares no `{}` parameter, so the contract's image {} is not applied",
                self.image.as_deref().unwrap_or("image"),
                spec.image.as_str()
            )),
        }
        if let Some(p) = find(&self.workdir) {
            out.values.insert(p.name.clone(), contract.workdir());
        }
        if let Some(project) = &request.project {
            match find(&self.repo) {
                Some(p) => {
                    out.values.insert(p.name.clone(), project.url.clone());
                }
                None => out.problems.push(ParameterProblem {
                    parameter: self.repo.clone().unwrap_or_else(|| "repo".into()),
                    rule: Rule::Declaration,
                    detail: format!(
                        "the request asks to clone {} but the template declares no parameter for the repository",
                        project.url
                    ),
                }),
            }
            if let Some(revision) = &project.revision {
                match find(&self.repo_revision) {
                    Some(p) => {
                        out.values.insert(p.name.clone(), revision.clone());
                    }
                    None => out.problems.push(ParameterProblem {
                        parameter: self
                            .repo_revision
                            .clone()
                            .unwrap_or_else(|| "repo_revision".into()),
                        rule: Rule::Declaration,
                        detail: format!(
                            "the request asks for revision {revision} but the template declares no parameter for it"
                        ),
                    }),
                }
            }
        }
        if let Some(p) = find(&self.devcontainer_json) {
            match generate::generate(
                contract,
                &[Target::Devcontainer],
                &GenerateOptions::default(),
            ) {
                Ok(generated) => {
                    if let Some(text) = Target::Devcontainer
                        .path()
                        .and_then(|path| generated.files.get(path))
                    {
                        out.values.insert(p.name.clone(), text.clone());
                    }
                }
                Err(e) => out.warnings.push(format!(
                    "devcontainer.json could not be generated, so `{}` keeps its default: {e}",
                    p.name
                )),
            }
        }
        let resources = &spec.resources;
        let cpu = resources
            .cpu
            .as_ref()
            .and_then(|r| r.limit.as_ref().or(r.request.as_ref()));
        let memory = resources
            .memory
            .as_ref()
            .and_then(|r| r.limit.as_ref().or(r.request.as_ref()));
        for (mapping, quantity, unit, what) in [
            (&self.cpu, cpu, 1.0, "CPU"),
            (&self.memory, memory, 1024.0 * 1024.0 * 1024.0, "memory"),
        ] {
            let Some(quantity) = quantity else { continue };
            match find(mapping) {
                Some(p) => {
                    out.values.insert(p.name.clone(), quantity_value(p, quantity, unit));
                }
                None => out.warnings.push(format!(
                    "the template declares no `{}` parameter, so the contract's {what} {} is not applied",
                    mapping.as_deref().unwrap_or("-"),
                    quantity.as_str()
                )),
            }
        }
        out
    }
}

/// The quantity as a `number` parameter wants it (whole units, rounded up) or as written.
fn quantity_value(parameter: &TemplateVersionParameter, quantity: &Quantity, unit: f64) -> String {
    if parameter.kind == "number" {
        let units = (quantity.value() / unit).ceil().max(1.0);
        format!("{units:.0}")
    } else {
        quantity.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentbox_core::contract::LoadOptions;
    use agentbox_core::provider::Project;

    fn param(name: &str, kind: &str) -> TemplateVersionParameter {
        serde_json::from_value(serde_json::json!({ "name": name, "type": kind })).unwrap()
    }

    fn contract() -> Contract {
        Contract::from_yaml(
            "apiVersion: agentbox.dev/v1alpha1\nkind: Environment\nmetadata: { name: demo }\nspec:\n  image: alpine:3.20\n  resources: { cpu: { limit: 1500m }, memory: { request: 3Gi } }\n",
            &LoadOptions::default(),
        )
        .unwrap()
    }

    #[test]
    fn only_declared_parameters_get_values_converted_to_their_type() {
        let declared = [
            param("image", "string"),
            param("cpu", "number"),
            param("memory", "string"),
            param("devcontainer_json", "string"),
        ];
        let derived =
            ContractParameters::default().derive(&contract(), &CreateRequest::default(), &declared);
        assert_eq!(derived.values["image"], "alpine:3.20");
        assert_eq!(derived.values["cpu"], "2");
        assert_eq!(derived.values["memory"], "3Gi");
        assert!(derived.values["devcontainer_json"].contains("\"image\": \"alpine:3.20\""));
        assert!(!derived.values.contains_key("workdir"));
        assert!(derived.problems.is_empty() && derived.warnings.is_empty());
    }

    #[test]
    fn a_project_the_template_cannot_clone_is_a_problem_and_an_unused_image_a_warning() {
        let request = CreateRequest::default().project(Project {
            url: "https://example.com/r.git".into(),
            revision: Some("main".into()),
        });
        let derived = ContractParameters::default().derive(&contract(), &request, &[]);
        let names: Vec<_> = derived
            .problems
            .iter()
            .map(|p| p.parameter.as_str())
            .collect();
        assert_eq!(names, ["repo", "repo_revision"]);
        assert_eq!(derived.warnings.len(), 3, "{:?}", derived.warnings);
    }

    #[test]
    fn mappings_can_be_renamed_or_turned_off() {
        let mapping = ContractParameters {
            image: Some("container_image".into()),
            cpu: None,
            ..ContractParameters::default()
        };
        let declared = [param("container_image", "string"), param("cpu", "number")];
        let derived = mapping.derive(&contract(), &CreateRequest::default(), &declared);
        assert_eq!(derived.values["container_image"], "alpine:3.20");
        assert!(!derived.values.contains_key("cpu"));
    }
}
