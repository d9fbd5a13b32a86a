//! The contract's JSON Schema, generated from the typed model so the two cannot disagree, and
//! the check of a document against it that turns every schema violation into a located
//! [`Problem`] with a message written for the contract's author.

use jsonschema::error::ValidationErrorKind;
use jsonschema::{ValidationError, Validator};
use schemars::Schema;
use schemars::generate::SchemaSettings;
use schemars::transform::RecursiveTransform;
use serde_json::{Map, Value};
use std::str::FromStr;
use std::sync::LazyLock;

use super::load::Locator;
use super::model::ContractDocument;
use super::problem::Problem;
use super::types::{
    Cidr, DnsLabel, EnvName, GoDuration, ImageRef, PermissionPattern, Quantity, ValueError,
};
use super::yaml::{index_path, key_path};

/// The schema's `$id`.
pub const SCHEMA_ID: &str = "https://agentbox.dev/schemas/v1alpha1/agentbox.schema.json";

const DESCRIPTION: &str = "An agentbox environment contract (`agentbox.yaml`): what an AI coding \
agent's workspace is — image, resources, storage, environment, secrets by reference, ports, \
commands, isolation, network egress and the agent's permissions — independent of the platform \
that runs it.";

/// Checks a string against one value type's grammar, returning the type's own error text.
type FormatCheck = fn(&str) -> Result<(), ValueError>;

/// The `format`s the value types declare, each checked by the type's own parser.
const FORMATS: &[(&str, FormatCheck)] = &[
    ("dns1123-label", parses::<DnsLabel>),
    ("env-name", parses::<EnvName>),
    ("image-ref", parses::<ImageRef>),
    ("cidr", parses::<Cidr>),
    ("go-duration", parses::<GoDuration>),
    ("k8s-quantity", parses::<Quantity>),
    ("permission-pattern", parses::<PermissionPattern>),
];

fn parses<T: FromStr<Err = ValueError>>(text: &str) -> Result<(), ValueError> {
    text.parse::<T>().map(drop)
}

/// The JSON Schema (draft 2020-12) of a contract document.
///
/// Optional fields do not accept `null`: a key written with no value is a mistake to report,
/// not a default to guess.
pub fn contract_schema() -> Value {
    let generator = SchemaSettings::draft2020_12()
        .with_transform(RecursiveTransform(drop_null))
        .into_generator();
    let generated = generator
        .into_root_schema_for::<ContractDocument>()
        .to_value();
    let mut root = Map::new();
    root.insert("$schema".into(), generated["$schema"].clone());
    root.insert("$id".into(), SCHEMA_ID.into());
    root.insert("title".into(), generated["title"].clone());
    root.insert("description".into(), DESCRIPTION.into());
    if let Value::Object(rest) = generated {
        for (key, value) in rest {
            root.entry(key).or_insert(value);
        }
    }
    Value::Object(root)
}

/// Remove `null` from `type` lists and `anyOf: [X, {type: null}]`, which schemars writes for
/// `Option<T>`.
fn drop_null(schema: &mut Schema) {
    let is_null = |s: &Value| s.get("type").and_then(Value::as_str) == Some("null");
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    if let Some(Value::Array(types)) = object.get_mut("type") {
        types.retain(|t| t != "null");
        if let [only] = types.as_slice() {
            let only = only.clone();
            object.insert("type".into(), only);
        }
    }
    let nullable = match object.get("anyOf") {
        Some(Value::Array(branches)) if branches.len() == 2 && branches.iter().any(is_null) => {
            branches.iter().find(|b| !is_null(b)).cloned()
        }
        _ => None,
    };
    if let Some(Value::Object(inner)) = nullable {
        object.remove("anyOf");
        for (key, value) in inner {
            object.entry(key).or_insert(value);
        }
    }
}

/// The compiled validator, with the schema it was compiled from; built once.
static VALIDATOR: LazyLock<Result<(Value, Validator), String>> = LazyLock::new(|| {
    let schema = contract_schema();
    let mut options = jsonschema::draft202012::options().should_validate_formats(true);
    for &(name, check) in FORMATS {
        options = options.with_format(name, move |text: &str| check(text).is_ok());
    }
    let validator = options.build(&schema).map_err(|e| e.to_string())?;
    Ok((schema, validator))
});

/// Every way `value` breaks the contract's schema.
pub(super) fn check(value: &Value, at: &Locator<'_>) -> Vec<Problem> {
    let (schema, validator) = match &*VALIDATOR {
        Ok(compiled) => compiled,
        Err(e) => {
            return vec![Problem::error(
                "",
                0,
                0,
                format!(
                    "internal error: the contract schema does not compile ({e}); please report this"
                ),
            )];
        }
    };
    let explainer = Explainer { value, schema, at };
    let mut problems = Vec::new();
    for error in validator.iter_errors(value) {
        explainer.explain(&error, &mut problems);
    }
    problems
}

struct Explainer<'a> {
    value: &'a Value,
    schema: &'a Value,
    at: &'a Locator<'a>,
}

impl Explainer<'_> {
    fn explain(&self, error: &ValidationError<'_>, out: &mut Vec<Problem>) {
        let path = dotted(self.value, error.instance_path().as_str());
        let instance: &Value = error.instance();
        let keyword = error.schema_path().as_str();
        let parent = keyword.rfind('/').map_or("", |i| &keyword[..i]);
        let subschema = self.schema.pointer(parent).unwrap_or(&Value::Null);
        let here = |message: String| self.at.node_error(&path, message);

        // A value type's own parser says best what is wrong with its text.
        if let Some(message) = format_message(subschema, instance) {
            out.push(here(message));
            return;
        }
        match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                let allowed = subschema
                    .get("properties")
                    .and_then(Value::as_object)
                    .map(|p| p.keys().map(String::as_str).collect::<Vec<_>>().join(", "))
                    .unwrap_or_default();
                for key in unexpected {
                    let child = key_path(&path, key);
                    let message = format!("unknown field `{key}`; expected one of: {allowed}");
                    out.push(self.at.key_error(&child, message));
                }
            }
            ValidationErrorKind::Required { property } => {
                let name = property.as_str().unwrap_or_default();
                let message = format!("missing required field `{name}`");
                out.push(
                    self.at
                        .missing_error(&path, &key_path(&path, name), message),
                );
            }
            ValidationErrorKind::Type { .. } => {
                out.push(here(type_message(subschema.get("type"), instance)));
            }
            ValidationErrorKind::Enum { options } => {
                let options = options.as_array().map(Vec::as_slice).unwrap_or_default();
                out.push(here(enum_message(&path, instance, options)));
            }
            ValidationErrorKind::Constant { expected_value } => {
                out.push(here(enum_message(
                    &path,
                    instance,
                    &[(**expected_value).clone()],
                )));
            }
            ValidationErrorKind::OneOfNotValid { context }
            | ValidationErrorKind::AnyOf { context } => {
                let branches = subschema
                    .get("oneOf")
                    .or_else(|| subschema.get("anyOf"))
                    .and_then(Value::as_array);
                let consts = branches
                    .and_then(|b| {
                        b.iter()
                            .map(|s| s.get("const").cloned())
                            .collect::<Option<Vec<_>>>()
                    })
                    .filter(|c| !c.is_empty());
                if let Some(consts) = consts {
                    out.push(here(enum_message(&path, instance, &consts)));
                    return;
                }
                // Explain the one branch whose type fits the value, if there is exactly one.
                let fitting: Vec<_> = context
                    .iter()
                    .filter(|branch| {
                        !branch.iter().any(|e| {
                            matches!(e.kind(), ValidationErrorKind::Type { .. })
                                && e.instance_path() == error.instance_path()
                        })
                    })
                    .collect();
                match fitting.as_slice() {
                    [branch] => branch.iter().for_each(|e| self.explain(e, out)),
                    _ => out.push(here(format!(
                        "{} does not fit any allowed form",
                        found(instance)
                    ))),
                }
            }
            ValidationErrorKind::Minimum { .. }
            | ValidationErrorKind::Maximum { .. }
            | ValidationErrorKind::ExclusiveMinimum { .. }
            | ValidationErrorKind::ExclusiveMaximum { .. } => {
                out.push(here(range_message(subschema, instance)));
            }
            ValidationErrorKind::MinLength { limit: 1 } => {
                out.push(here("must not be empty".to_owned()));
            }
            ValidationErrorKind::MaxLength { limit } => {
                out.push(here(format!(
                    "`{}` is too long: at most {limit} characters",
                    text(instance)
                )));
            }
            ValidationErrorKind::PropertyNames { error: inner } => {
                let key = text(inner.instance());
                let child = key_path(&path, &key);
                let message = match inner.kind() {
                    ValidationErrorKind::Format { format } => check_format(format, &key),
                    _ => None,
                }
                .unwrap_or_else(|| format!("key `{key}` is not allowed here: {inner}"));
                out.push(self.at.key_error(&child, message));
            }
            _ => out.push(here(error.to_string())),
        }
    }
}

/// The dotted path of a JSON pointer into `root`.
fn dotted(root: &Value, pointer: &str) -> String {
    let mut path = String::new();
    let mut current = Some(root);
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        let index = token.parse::<usize>();
        current = match (current, index) {
            (Some(Value::Array(items)), Ok(index)) => {
                path = index_path(&path, index);
                items.get(index)
            }
            (Some(Value::Object(map)), _) => {
                path = key_path(&path, &token);
                map.get(&token)
            }
            _ => {
                path = key_path(&path, &token);
                None
            }
        };
    }
    path
}

/// The error text of the value type whose `format` the subschema names, when the value breaks it.
fn format_message(subschema: &Value, instance: &Value) -> Option<String> {
    let format = subschema.get("format")?.as_str()?;
    let allows_numbers = match subschema.get("type") {
        Some(Value::Array(types)) => types.iter().any(|t| t == "number"),
        Some(t) => t == "number",
        None => false,
    };
    match instance {
        Value::String(s) => check_format(format, s),
        Value::Number(n) if allows_numbers => check_format(format, &n.to_string()),
        _ => None,
    }
}

fn check_format(format: &str, text: &str) -> Option<String> {
    let (_, check) = FORMATS.iter().find(|(name, _)| *name == format)?;
    check(text).err().map(|e| e.0)
}

/// A scalar's text, or its JSON for anything else.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// What a value is, for "found …".
fn found(value: &Value) -> String {
    let shown = |v: &Value| {
        let t = text(v);
        if t.chars().count() > 40 {
            format!("{}…", t.chars().take(40).collect::<String>())
        } else {
            t
        }
    };
    match value {
        Value::Null => "an empty value".to_owned(),
        Value::Bool(_) => format!("a boolean (`{}`)", shown(value)),
        Value::Number(_) => format!("a number (`{}`)", shown(value)),
        Value::String(_) => format!("a string (`{}`)", shown(value)),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "a map".to_owned(),
    }
}

fn type_message(expected: Option<&Value>, instance: &Value) -> String {
    let name = |t: &Value| match t.as_str() {
        Some("string") => "a string",
        Some("integer") => "an integer",
        Some("number") => "a number",
        Some("boolean") => "`true` or `false`",
        Some("object") => "a map",
        Some("array") => "a list",
        Some("null") => "nothing",
        _ => "another type",
    };
    let expected = match expected {
        Some(Value::Array(types)) => types.iter().map(name).collect::<Vec<_>>().join(" or "),
        Some(t) => name(t).to_owned(),
        None => "another type".to_owned(),
    };
    let hint = if expected.contains("a string") && (instance.is_number() || instance.is_boolean()) {
        "; put it in quotes to make it a string"
    } else {
        ""
    };
    format!("expected {expected}, found {}{hint}", found(instance))
}

fn enum_message(path: &str, instance: &Value, options: &[Value]) -> String {
    let list = options.iter().map(text).collect::<Vec<_>>().join(", ");
    match path {
        "apiVersion" | "kind" => format!(
            "`{}` is not a supported {path}; this version of agentbox reads `{list}`",
            text(instance)
        ),
        _ => format!("`{}` is not one of: {list}", text(instance)),
    }
}

fn range_message(subschema: &Value, instance: &Value) -> String {
    let bound = |k: &str| subschema.get(k).map(text);
    let value = text(instance);
    match (bound("minimum"), bound("maximum")) {
        (Some(min), Some(max)) => format!("`{value}` is out of range: use {min}–{max}"),
        (Some(min), None) => format!("`{value}` is too small: the minimum is {min}"),
        (None, Some(max)) => format!("`{value}` is too large: the maximum is {max}"),
        (None, None) => format!("`{value}` is out of range"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_fields_do_not_accept_null() {
        let schema = contract_schema();
        let profile = &schema["$defs"]["Metadata"]["properties"]["profile"];
        assert_eq!(profile["$ref"], "#/$defs/DnsLabel");
        assert!(profile.get("anyOf").is_none());
        assert_eq!(
            schema["$defs"]["Storage"]["properties"]["mountPath"]["type"],
            "string"
        );
    }

    #[test]
    fn the_validator_compiles() {
        assert!(VALIDATOR.is_ok(), "{:?}", VALIDATOR.as_ref().err());
    }

    #[test]
    fn pointers_become_dotted_paths() {
        let v = serde_json::json!({"spec": {"ports": [{}, {"name": 1}], "env": {"a/b": 1}}});
        assert_eq!(dotted(&v, "/spec/ports/1/name"), "spec.ports[1].name");
        assert_eq!(dotted(&v, "/spec/env/a~1b"), r#"spec.env["a/b"]"#);
        assert_eq!(dotted(&v, ""), "");
    }
}
