//! [`FakeTemplate`] and its rich parameters ([`FakeParameter`]), and the checks coderd makes
//! on the values a workspace build is given.

use std::collections::BTreeMap;

/// A rich parameter's type (`codersdk.TemplateVersionParameter.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParameterType {
    /// `string`.
    String,
    /// `number`: the value is a decimal number.
    Number,
    /// `bool`: the value is `true` or `false`.
    Bool,
    /// `list(string)`: the value is a JSON-encoded array of strings.
    ListOfStrings,
}

impl ParameterType {
    /// The name coderd uses.
    pub fn as_str(self) -> &'static str {
        match self {
            ParameterType::String => "string",
            ParameterType::Number => "number",
            ParameterType::Bool => "bool",
            ParameterType::ListOfStrings => "list(string)",
        }
    }
}

/// One rich parameter a template declares (a `coder_parameter` in its Terraform), served as a
/// `codersdk.TemplateVersionParameter`.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeParameter {
    /// Its name, the key of `rich_parameter_values`.
    pub name: String,
    /// Shown to people.
    pub display_name: String,
    /// What it is for.
    pub description: String,
    /// Its type.
    pub kind: ParameterType,
    /// The value used when a build gives none (coderd sends `""` for none).
    pub default_value: String,
    /// Whether a build must give a value (only meaningful without a default).
    pub required: bool,
    /// Whether later builds may change the value.
    pub mutable: bool,
    /// Allowed values, as (name, value); empty for free input.
    pub options: Vec<(String, String)>,
    /// A regular expression (RE2 syntax, as Go's) a string value must match.
    pub validation_regex: Option<String>,
    /// The smallest allowed number.
    pub validation_min: Option<i64>,
    /// The largest allowed number.
    pub validation_max: Option<i64>,
    /// The message when the value fails validation.
    pub validation_error: String,
}

impl FakeParameter {
    /// A parameter of type `kind`, optional with an empty default, mutable.
    pub fn new(name: impl Into<String>, kind: ParameterType) -> Self {
        let name = name.into();
        Self {
            display_name: name.clone(),
            name,
            description: String::new(),
            kind,
            default_value: String::new(),
            required: false,
            mutable: true,
            options: Vec::new(),
            validation_regex: None,
            validation_min: None,
            validation_max: None,
            validation_error: String::new(),
        }
    }

    /// A `string` parameter.
    pub fn string(name: impl Into<String>) -> Self {
        Self::new(name, ParameterType::String)
    }

    /// A `number` parameter.
    pub fn number(name: impl Into<String>) -> Self {
        Self::new(name, ParameterType::Number)
    }

    /// A `bool` parameter.
    pub fn bool(name: impl Into<String>) -> Self {
        Self::new(name, ParameterType::Bool)
    }

    /// A `list(string)` parameter.
    pub fn list(name: impl Into<String>) -> Self {
        Self::new(name, ParameterType::ListOfStrings)
    }

    /// Set the description.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = text.into();
        self
    }

    /// Set the default value.
    pub fn default_value(mut self, value: impl Into<String>) -> Self {
        self.default_value = value.into();
        self
    }

    /// Builds must give a value (and there is no default).
    pub fn required(mut self) -> Self {
        self.required = true;
        self.default_value.clear();
        self
    }

    /// Later builds may not change the value.
    pub fn immutable(mut self) -> Self {
        self.mutable = false;
        self
    }

    /// Allow this value (the first call turns the parameter into a choice).
    pub fn option(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.push((name.into(), value.into()));
        self
    }

    /// String values must match `regex`; `error` is the message otherwise.
    pub fn regex(mut self, regex: impl Into<String>, error: impl Into<String>) -> Self {
        self.validation_regex = Some(regex.into());
        self.validation_error = error.into();
        self
    }

    /// Number values must lie in `min..=max`.
    pub fn range(mut self, min: i64, max: i64) -> Self {
        self.validation_min = Some(min);
        self.validation_max = Some(max);
        self
    }

    /// Why `value` is not acceptable for this parameter, if it is not.
    pub fn check(&self, value: &str) -> Result<(), String> {
        let fail = |why: String| {
            if self.validation_error.is_empty() {
                Err(why)
            } else {
                Err(format!("{} ({why})", self.validation_error))
            }
        };
        if !self.options.is_empty() && !self.options.iter().any(|(_, v)| v == value) {
            let allowed: Vec<&str> = self.options.iter().map(|(_, v)| v.as_str()).collect();
            return fail(format!(
                "parameter value {value:?} must be one of the options {allowed:?}"
            ));
        }
        match self.kind {
            ParameterType::String => {
                if let Some(pattern) = &self.validation_regex {
                    let regex = regex::Regex::new(pattern)
                        .map_err(|e| format!("the template's regex {pattern:?} is invalid: {e}"))?;
                    if !regex.is_match(value) {
                        return fail(format!("{value:?} does not match {pattern:?}"));
                    }
                }
            }
            ParameterType::Number => {
                let Ok(number) = value.parse::<f64>() else {
                    return fail(format!("{value:?} is not a number"));
                };
                if self.validation_min.is_some_and(|min| number < min as f64)
                    || self.validation_max.is_some_and(|max| number > max as f64)
                {
                    return fail(format!(
                        "{value} must be between {} and {}",
                        self.validation_min.map_or("-inf".into(), |m| m.to_string()),
                        self.validation_max.map_or("+inf".into(), |m| m.to_string()),
                    ));
                }
            }
            ParameterType::Bool => {
                if value != "true" && value != "false" {
                    return fail(format!("{value:?} is not \"true\" or \"false\""));
                }
            }
            ParameterType::ListOfStrings => {
                if serde_json::from_str::<Vec<String>>(value).is_err() {
                    return fail(format!("{value:?} is not a JSON-encoded array of strings"));
                }
            }
        }
        Ok(())
    }
}

/// A template with one active version, as an administrator would have pushed it.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeTemplate {
    /// Its name (unique in the organization).
    pub name: String,
    /// Shown to people.
    pub display_name: String,
    /// What it makes.
    pub description: String,
    /// The active version's rich parameters, in order.
    pub parameters: Vec<FakeParameter>,
}

impl FakeTemplate {
    /// A template without parameters.
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        Self {
            display_name: name.clone(),
            name,
            description: String::new(),
            parameters: Vec::new(),
        }
    }

    /// Add a parameter.
    pub fn parameter(mut self, parameter: FakeParameter) -> Self {
        self.parameters.push(parameter);
        self
    }

    /// The template a fake coderd has unless told otherwise: `agentbox`, with
    /// - `image` (string, default `codercom/enterprise-base:ubuntu`): the container image;
    /// - `repo` and `repo_revision` (strings, default empty, immutable): a repository to
    ///   clone into the working directory, and its revision;
    /// - `workdir` (string, default empty: the mount path; immutable): the agent's directory,
    ///   under the mount path;
    /// - `devcontainer_json` (string, default empty): a `devcontainer.json` to apply;
    /// - `agentbox_metadata` (string, default `{}`, immutable): agentbox's labels and contract
    ///   hash, a JSON object;
    /// - `cpu` (number 1–16, default 2) and `memory` (number of GiB 1–64, default 4).
    ///
    /// Every value is checked as coderd checks it and reported in each build's parameters.
    /// `workdir`, `repo` and `repo_revision` act as the template's Terraform would (see
    /// [`FakeCoderdBuilder::mount_path`](super::FakeCoderdBuilder::mount_path)); the others
    /// change nothing in the fake's sandboxes.
    pub fn agentbox() -> Self {
        Self::new("agentbox")
            .parameter(
                FakeParameter::string("image")
                    .description("Container image of the workspace")
                    .default_value("codercom/enterprise-base:ubuntu"),
            )
            .parameter(
                FakeParameter::string("repo")
                    .description("Git repository cloned into the working directory")
                    .immutable(),
            )
            .parameter(
                FakeParameter::string("repo_revision")
                    .description("Branch, tag or commit of the repository")
                    .immutable(),
            )
            .parameter(
                FakeParameter::string("workdir")
                    .description("The agent's directory (empty: the home volume)")
                    .immutable(),
            )
            .parameter(
                FakeParameter::string("devcontainer_json")
                    .description("devcontainer.json applied to the workspace"),
            )
            .parameter(
                FakeParameter::string("agentbox_metadata")
                    .description("agentbox labels and contract hash, a JSON object")
                    .default_value("{}")
                    .immutable(),
            )
            .parameter(
                FakeParameter::number("cpu")
                    .description("CPU cores")
                    .default_value("2")
                    .range(1, 16),
            )
            .parameter(
                FakeParameter::number("memory")
                    .description("Memory in GiB")
                    .default_value("4")
                    .range(1, 64),
            )
    }

    /// The values a build ends up with: `given` over `previous` over the defaults. Problems
    /// are (parameter, why) pairs, in the template's order, then unknown names.
    pub(crate) fn resolve(
        &self,
        previous: &BTreeMap<String, String>,
        given: &[(String, String)],
        first_build: bool,
    ) -> Result<BTreeMap<String, String>, Vec<(String, String)>> {
        let mut problems = Vec::new();
        let given_map: BTreeMap<&str, &str> = given
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut resolved = BTreeMap::new();
        for p in &self.parameters {
            let old = previous.get(&p.name);
            let value = match (given_map.get(p.name.as_str()), old) {
                (Some(v), Some(old)) if !p.mutable && !first_build && *v != old => {
                    problems.push((
                        p.name.clone(),
                        format!("Parameter {:?} is not mutable, so it can't be updated after creating a workspace.", p.name),
                    ));
                    continue;
                }
                (Some(v), _) => (*v).to_owned(),
                (None, Some(old)) => old.clone(),
                (None, None) if p.required => {
                    problems.push((
                        p.name.clone(),
                        format!("Parameter {:?} is required but was not provided.", p.name),
                    ));
                    continue;
                }
                (None, None) => p.default_value.clone(),
            };
            let defaulted_empty = value.is_empty() && !given_map.contains_key(p.name.as_str());
            if !defaulted_empty && let Err(why) = p.check(&value) {
                problems.push((p.name.clone(), why));
                continue;
            }
            resolved.insert(p.name.clone(), value);
        }
        for (name, _) in given {
            if !self.parameters.iter().any(|p| &p.name == name) {
                problems.push((
                    name.clone(),
                    format!(
                        "Parameter {name:?} is not defined by template {:?}.",
                        self.name
                    ),
                ));
            }
        }
        if problems.is_empty() {
            Ok(resolved)
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_fill_what_is_not_given() {
        let values = FakeTemplate::agentbox()
            .resolve(&BTreeMap::new(), &given(&[("cpu", "4")]), true)
            .unwrap();
        assert_eq!(values["cpu"], "4");
        assert_eq!(values["memory"], "4");
        assert_eq!(values["image"], "codercom/enterprise-base:ubuntu");
        assert_eq!(values["repo"], "");
    }

    #[test]
    fn out_of_range_numbers_unknown_names_and_bad_lists_are_problems() {
        let template = FakeTemplate::agentbox().parameter(FakeParameter::list("repos"));
        let problems = template
            .resolve(
                &BTreeMap::new(),
                &given(&[("cpu", "64"), ("nope", "1"), ("repos", "a,b")]),
                true,
            )
            .unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["cpu", "repos", "nope"]);
    }

    #[test]
    fn an_immutable_value_cannot_change_but_may_be_repeated() {
        let template = FakeTemplate::agentbox();
        let first = template
            .resolve(&BTreeMap::new(), &given(&[("repo", "a")]), true)
            .unwrap();
        assert!(
            template
                .resolve(&first, &given(&[("repo", "a")]), false)
                .is_ok()
        );
        let problems = template
            .resolve(&first, &given(&[("repo", "b")]), false)
            .unwrap_err();
        assert_eq!(problems[0].0, "repo");
    }

    #[test]
    fn required_options_regexes_and_bools_are_checked() {
        let template = FakeTemplate::new("t")
            .parameter(
                FakeParameter::string("region")
                    .required()
                    .option("EU", "eu")
                    .option("US", "us"),
            )
            .parameter(FakeParameter::string("branch").regex("^[a-z]+$", "lowercase only"))
            .parameter(FakeParameter::bool("gpu"));
        let missing = template.resolve(&BTreeMap::new(), &[], true).unwrap_err();
        assert_eq!(missing[0].0, "region");
        let bad = template
            .resolve(
                &BTreeMap::new(),
                &given(&[("region", "mars"), ("branch", "Main"), ("gpu", "yes")]),
                true,
            )
            .unwrap_err();
        assert_eq!(bad.len(), 3);
        assert!(bad[1].1.starts_with("lowercase only"), "{bad:?}");
        assert!(
            template
                .resolve(
                    &BTreeMap::new(),
                    &given(&[("region", "eu"), ("branch", "main"), ("gpu", "true")]),
                    true
                )
                .is_ok()
        );
    }
}
