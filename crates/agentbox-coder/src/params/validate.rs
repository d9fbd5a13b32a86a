//! Checking parameter values against a template version's rich parameters, the way coderd
//! does (`codersdk/richparameters.go` with `terraform-provider-coder`'s `Validation.Valid`),
//! but listing every problem instead of stopping at the first.

use std::collections::BTreeMap;
use std::fmt;

use regex::Regex;

use crate::models::TemplateVersionParameter;

/// The rule a value broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// The template declares no parameter of this name.
    Unknown,
    /// The parameter has no default and no value was given.
    Required,
    /// The value is not of the parameter's type.
    Type,
    /// The value is not one of the parameter's options.
    Options,
    /// The number is below `validation_min`.
    Min,
    /// The number is above `validation_max`.
    Max,
    /// The string does not match `validation_regex` (or the regex is unusable).
    Regex,
    /// The parameter cannot carry what agentbox needs (e.g. it is ephemeral).
    Declaration,
}

impl Rule {
    /// A short name for the rule.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Unknown => "unknown parameter",
            Rule::Required => "required",
            Rule::Type => "type",
            Rule::Options => "options",
            Rule::Min => "validation_min",
            Rule::Max => "validation_max",
            Rule::Regex => "validation_regex",
            Rule::Declaration => "declaration",
        }
    }
}

/// One parameter value that the template would refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterProblem {
    /// The parameter's name.
    pub parameter: String,
    /// The rule broken.
    pub rule: Rule,
    /// What is wrong, with the value and the limit.
    pub detail: String,
}

impl fmt::Display for ParameterProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "parameter `{}` ({}): {}",
            self.parameter,
            self.rule.as_str(),
            self.detail
        )
    }
}

impl ParameterProblem {
    fn new(parameter: &str, rule: Rule, detail: String) -> Self {
        Self {
            parameter: parameter.to_owned(),
            rule,
            detail,
        }
    }
}

/// Every problem with `values` (name → string value) for a new workspace of a version with
/// `declared` parameters: unknown names, missing required values, then each value against its
/// parameter's type, options, range and regex. Empty when coderd would accept them.
pub fn validate(
    declared: &[TemplateVersionParameter],
    values: &BTreeMap<String, String>,
) -> Vec<ParameterProblem> {
    let mut problems = Vec::new();
    for name in values.keys() {
        if !declared.iter().any(|p| &p.name == name) {
            problems.push(ParameterProblem::new(
                name,
                Rule::Unknown,
                "the template version declares no such parameter".into(),
            ));
        }
    }
    for parameter in declared {
        let given = values.get(&parameter.name).filter(|v| !v.is_empty());
        let value = match given {
            Some(v) => v.as_str(),
            None if parameter.required => {
                problems.push(ParameterProblem::new(
                    &parameter.name,
                    Rule::Required,
                    "it has no default, so a value must be given".into(),
                ));
                continue;
            }
            // The default applies; the template's own default is the administrator's affair.
            None => continue,
        };
        check_value(parameter, value, &mut problems);
    }
    problems
}

fn check_value(p: &TemplateVersionParameter, value: &str, problems: &mut Vec<ParameterProblem>) {
    let problem = |rule, detail: String| ParameterProblem::new(&p.name, rule, detail);
    let list = match p.kind.as_str() {
        "number" => {
            if value.trim() != value || value.parse::<f64>().is_err() {
                problems.push(problem(Rule::Type, format!("{value:?} is not a number")));
                return;
            }
            None
        }
        "bool" => {
            if value != "true" && value != "false" {
                problems.push(problem(
                    Rule::Type,
                    format!("{value:?} is not `true` or `false`"),
                ));
                return;
            }
            None
        }
        "list(string)" => match serde_json::from_str::<Vec<String>>(value) {
            Ok(items) => Some(items),
            Err(_) => {
                problems.push(problem(
                    Rule::Type,
                    format!("{value:?} is not a JSON array of strings"),
                ));
                return;
            }
        },
        "string" | "" => None,
        other => {
            problems.push(problem(
                Rule::Declaration,
                format!("the template declares the unknown type `{other}`"),
            ));
            return;
        }
    };

    if !p.options.is_empty() {
        let allowed: Vec<&str> = p.options.iter().map(|o| o.value.as_str()).collect();
        let multi = p.form_type == "multi-select";
        let ok = match (&list, multi) {
            (Some(items), true) => items.iter().all(|i| allowed.contains(&i.as_str())),
            _ => allowed.contains(&value),
        };
        if !ok {
            problems.push(problem(
                Rule::Options,
                format!("{value:?} is not one of {allowed:?}"),
            ));
        }
        // coderd checks options instead of the other rules.
        return;
    }

    if p.kind == "number" && (p.validation_min.is_some() || p.validation_max.is_some()) {
        // The provider compares integers (`strconv.Atoi`).
        let Ok(n) = value.parse::<i64>() else {
            problems.push(problem(
                Rule::Type,
                format!("{value:?} is not a whole number, which a range needs"),
            ));
            return;
        };
        if let Some(min) = p.validation_min
            && n < min
        {
            problems.push(problem(
                Rule::Min,
                format!("{n} is less than the minimum {min}"),
            ));
        }
        if let Some(max) = p.validation_max
            && n > max
        {
            problems.push(problem(
                Rule::Max,
                format!("{n} is more than the maximum {max}"),
            ));
        }
    }

    if let Some(pattern) = p.validation_regex.as_deref().filter(|r| !r.is_empty())
        && (p.kind == "string" || p.kind.is_empty())
    {
        match Regex::new(pattern) {
            Ok(re) if re.is_match(value) => {}
            Ok(_) => {
                let why = p
                    .validation_error
                    .as_deref()
                    .filter(|e| !e.is_empty())
                    .unwrap_or("the value does not match");
                problems.push(problem(
                    Rule::Regex,
                    format!("{why} ({value:?} does not match {pattern:?})"),
                ));
            }
            Err(e) => problems.push(problem(
                Rule::Regex,
                format!("the template's regex {pattern:?} cannot be used: {e}"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::ParameterOption;

    fn param(name: &str, kind: &str) -> TemplateVersionParameter {
        TemplateVersionParameter {
            name: name.into(),
            display_name: String::new(),
            kind: kind.into(),
            default_value: String::new(),
            required: false,
            mutable: true,
            ephemeral: false,
            options: Vec::new(),
            form_type: String::new(),
            validation_regex: None,
            validation_error: None,
            validation_min: None,
            validation_max: None,
        }
    }

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn rules(problems: &[ParameterProblem]) -> Vec<(&str, Rule)> {
        problems
            .iter()
            .map(|p| (p.parameter.as_str(), p.rule))
            .collect()
    }

    #[test]
    fn good_values_pass() {
        let mut cpu = param("cpu", "number");
        cpu.validation_min = Some(1);
        cpu.validation_max = Some(16);
        let declared = [cpu, param("gpu", "bool"), param("repos", "list(string)")];
        let ok = values(&[("cpu", "4"), ("gpu", "true"), ("repos", r#"["a","b"]"#)]);
        assert!(validate(&declared, &ok).is_empty());
    }

    #[test]
    fn every_problem_is_listed_with_its_rule() {
        let mut cpu = param("cpu", "number");
        cpu.validation_min = Some(1);
        cpu.validation_max = Some(16);
        let mut region = param("region", "string");
        region.required = true;
        let mut size = param("size", "string");
        size.options = vec![
            ParameterOption {
                name: "S".into(),
                value: "s".into(),
            },
            ParameterOption {
                name: "L".into(),
                value: "l".into(),
            },
        ];
        let mut branch = param("branch", "string");
        branch.validation_regex = Some("^[a-z]+$".into());
        branch.validation_error = Some("lowercase only".into());
        let declared = [
            cpu,
            region,
            size,
            branch,
            param("gpu", "bool"),
            param("repos", "list(string)"),
            param("n", "number"),
        ];
        let bad = values(&[
            ("cpu", "64"),
            ("size", "xl"),
            ("branch", "Main"),
            ("gpu", "yes"),
            ("repos", "a,b"),
            ("n", "four"),
            ("nope", "1"),
        ]);
        let problems = validate(&declared, &bad);
        assert_eq!(
            rules(&problems),
            [
                ("nope", Rule::Unknown),
                ("cpu", Rule::Max),
                ("region", Rule::Required),
                ("size", Rule::Options),
                ("branch", Rule::Regex),
                ("gpu", Rule::Type),
                ("repos", Rule::Type),
                ("n", Rule::Type),
            ]
        );
        let branch = &problems[4].to_string();
        assert!(branch.contains("lowercase only"), "{branch}");
        assert!(
            problems[1]
                .to_string()
                .contains("64 is more than the maximum 16")
        );
    }

    #[test]
    fn a_range_needs_a_whole_number_and_min_is_checked() {
        let mut cpu = param("cpu", "number");
        cpu.validation_min = Some(2);
        let problems = validate(&[cpu.clone()], &values(&[("cpu", "1.5")]));
        assert_eq!(rules(&problems), [("cpu", Rule::Type)]);
        let problems = validate(&[cpu], &values(&[("cpu", "1")]));
        assert_eq!(rules(&problems), [("cpu", Rule::Min)]);
    }

    #[test]
    fn multi_select_lists_check_each_element() {
        let mut tags = param("tags", "list(string)");
        tags.form_type = "multi-select".into();
        tags.options = ["a", "b"]
            .iter()
            .map(|v| ParameterOption {
                name: v.to_string(),
                value: v.to_string(),
            })
            .collect();
        assert!(validate(&[tags.clone()], &values(&[("tags", r#"["a","b"]"#)])).is_empty());
        let problems = validate(&[tags], &values(&[("tags", r#"["a","c"]"#)]));
        assert_eq!(rules(&problems), [("tags", Rule::Options)]);
    }

    #[test]
    fn a_required_parameter_given_an_empty_value_is_missing() {
        let mut region = param("region", "string");
        region.required = true;
        let problems = validate(&[region], &values(&[("region", "")]));
        assert_eq!(rules(&problems), [("region", Rule::Required)]);
    }

    #[test]
    fn an_unusable_template_regex_is_reported_not_panicked_on() {
        let mut s = param("s", "string");
        s.validation_regex = Some("(".into());
        let problems = validate(&[s], &values(&[("s", "x")]));
        assert_eq!(rules(&problems), [("s", Rule::Regex)]);
    }
}
