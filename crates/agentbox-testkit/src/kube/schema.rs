//! A CRD version's structural `openAPIV3Schema`: pruning, defaulting and validation the way the
//! apiserver applies them to custom resources.
//!
//! Order, as in the apiserver: unknown fields are pruned (and reported, for `fieldValidation`),
//! `null`s of non-nullable fields are dropped, `default`s are filled in, then the object is
//! validated — with the `jsonschema` crate, its errors turned into the apiserver's field causes.

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::LocationSegment;
use serde_json::{Map, Value};

use super::status::Cause;

/// The `metadata` fields an `ObjectMeta` keeps; anything else under `metadata` is pruned.
const OBJECT_META_FIELDS: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// One version's schema, compiled once.
pub(crate) struct Schema {
    structural: Value,
    validator: jsonschema::Validator,
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schema").finish_non_exhaustive()
    }
}

impl Schema {
    /// Compile an `openAPIV3Schema`; the error says what the validator could not build.
    pub(crate) fn compile(open_api: &Value) -> Result<Self, String> {
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft4)
            .should_validate_formats(false)
            .build(&to_json_schema(open_api))
            .map_err(|e| e.to_string())?;
        Ok(Self {
            structural: open_api.clone(),
            validator,
        })
    }

    /// Prune unknown fields, drop non-nullable `null`s and apply defaults; returns the paths
    /// of the pruned fields (e.g. `spec.foo`), for `fieldValidation=Warn|Strict`.
    pub(crate) fn prune_and_default(&self, object: &mut Value) -> Vec<String> {
        let mut unknown = Vec::new();
        walk(object, &self.structural, "", true, &mut unknown);
        unknown
    }

    /// Validate a pruned, defaulted object; one cause per problem, as the apiserver reports them.
    pub(crate) fn validate(&self, object: &Value) -> Vec<Cause> {
        self.validator
            .iter_errors(object)
            .map(|e| cause(object, e.instance_path().segments(), e.kind(), e.instance()))
            .collect()
    }
}

/// OpenAPI v3.0 to JSON Schema draft 4: `nullable: true` becomes a `null` in `type`.
fn to_json_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out: Map<String, Value> = map
                .iter()
                .map(|(k, v)| {
                    let converted = match k.as_str() {
                        // Maps of schemas.
                        "properties" | "patternProperties" | "definitions" => match v {
                            Value::Object(props) => Value::Object(
                                props
                                    .iter()
                                    .map(|(name, s)| (name.clone(), to_json_schema(s)))
                                    .collect(),
                            ),
                            other => other.clone(),
                        },
                        // Values that are data, not schemas.
                        "enum" | "default" | "example" | "required" | "type" => v.clone(),
                        _ => to_json_schema(v),
                    };
                    (k.clone(), converted)
                })
                .collect();
            if out.get("nullable") == Some(&Value::Bool(true))
                && let Some(Value::String(kind)) = out.get("type").cloned()
            {
                out.insert(
                    "type".into(),
                    Value::Array(vec![Value::String(kind), "null".into()]),
                );
                if let Some(Value::Array(options)) = out.get_mut("enum") {
                    options.push(Value::Null);
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(to_json_schema).collect()),
        other => other.clone(),
    }
}

fn flag(schema: &Value, name: &str) -> bool {
    schema.get(name) == Some(&Value::Bool(true))
}

fn child_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// `metadata` of a resource (the root, or an embedded one): only `ObjectMeta` fields survive.
fn prune_object_meta(meta: &mut Value, path: &str, unknown: &mut Vec<String>) {
    if let Value::Object(map) = meta {
        map.retain(|k, _| {
            let keep = OBJECT_META_FIELDS.contains(&k.as_str());
            if !keep {
                unknown.push(child_path(path, k));
            }
            keep
        });
    }
}

fn walk(value: &mut Value, schema: &Value, path: &str, resource: bool, unknown: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties");
            let preserve = flag(schema, "x-kubernetes-preserve-unknown-fields")
                || additional == Some(&Value::Bool(true));
            let resource = resource || flag(schema, "x-kubernetes-embedded-resource");
            if let Some(properties) = properties {
                for (name, sub) in properties {
                    if !map.contains_key(name)
                        && let Some(default) = sub.get("default")
                    {
                        map.insert(name.clone(), default.clone());
                    }
                }
            }
            let names: Vec<String> = map.keys().cloned().collect();
            for name in names {
                let here = child_path(path, &name);
                if resource && (name == "apiVersion" || name == "kind") {
                    continue;
                }
                if resource && name == "metadata" {
                    if let Some(meta) = map.get_mut(&name) {
                        prune_object_meta(meta, &here, unknown);
                    }
                    continue;
                }
                let sub = properties
                    .and_then(|p| p.get(&name))
                    .or(additional.filter(|a| a.is_object()));
                let Some(sub) = sub else {
                    if !preserve {
                        map.remove(&name);
                        unknown.push(here);
                    }
                    continue;
                };
                if map.get(&name).is_some_and(Value::is_null) && !flag(sub, "nullable") {
                    map.remove(&name);
                    match sub.get("default") {
                        Some(default) => map.insert(name.clone(), default.clone()),
                        None => continue,
                    };
                }
                if let Some(child) = map.get_mut(&name) {
                    walk(child, sub, &here, false, unknown);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items").filter(|s| s.is_object()) {
                for (i, item) in items.iter_mut().enumerate() {
                    walk(item, item_schema, &format!("{path}[{i}]"), false, unknown);
                }
            }
        }
        _ => {}
    }
}

/// `spec.template.components[0].name` for the JSON pointer segments of an error.
fn field_path<'a>(root: &Value, segments: impl Iterator<Item = LocationSegment<'a>>) -> String {
    let mut path = String::new();
    let mut at = Some(root);
    for segment in segments {
        match segment {
            LocationSegment::Index(i) => {
                path.push_str(&format!("[{i}]"));
                at = at.and_then(|v| v.get(i));
            }
            LocationSegment::Property(name) => {
                if let (Some(Value::Array(_)), Ok(i)) = (at, name.parse::<usize>()) {
                    path.push_str(&format!("[{i}]"));
                    at = at.and_then(|v| v.get(i));
                } else {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(&name);
                    at = at.and_then(|v| v.get(name.as_ref()));
                }
            }
        }
    }
    path
}

/// The JSON type name the apiserver prints for a value.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A value as `field.Invalid` prints it: scalars as JSON, containers by their type name.
fn shown(value: &Value) -> String {
    match value {
        Value::Array(_) | Value::Object(_) => format!("\"{}\"", type_name(value)),
        other => other.to_string(),
    }
}

fn cause<'a>(
    root: &Value,
    segments: impl Iterator<Item = LocationSegment<'a>>,
    kind: &ValidationErrorKind,
    instance: &Value,
) -> Cause {
    let field = field_path(root, segments);
    let value = shown(instance);
    match kind {
        ValidationErrorKind::Required { property } => {
            let name = property
                .as_str()
                .map_or_else(|| property.to_string(), str::to_owned);
            Cause::new(
                "FieldValueRequired",
                child_path(&field, &name),
                "Required value",
            )
        }
        ValidationErrorKind::Enum { options } => {
            let supported: Vec<String> = options
                .as_array()
                .map(|o| o.iter().map(Value::to_string).collect())
                .unwrap_or_default();
            Cause::new(
                "FieldValueNotSupported",
                field,
                format!(
                    "Unsupported value: {value}: supported values: {}",
                    supported.join(", ")
                ),
            )
        }
        ValidationErrorKind::Type { kind } => {
            let expected = match kind {
                TypeKind::Single(t) => t.to_string(),
                TypeKind::Multiple(set) => set
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join("/"),
            };
            let message = format!(
                "Invalid value: \"{}\": {field} in body must be of type {expected}: \"{}\"",
                type_name(instance),
                type_name(instance)
            );
            Cause::new("FieldValueTypeInvalid", field, message)
        }
        ValidationErrorKind::MaxLength { limit } => Cause::new(
            "FieldValueTooLong",
            field,
            format!("Too long: may not be more than {limit} bytes"),
        ),
        ValidationErrorKind::MaxItems { limit } => Cause::new(
            "FieldValueTooMany",
            field,
            format!(
                "Too many: {}: must have at most {limit} items",
                instance.as_array().map_or(0, Vec::len)
            ),
        ),
        other => {
            let rule = match other {
                ValidationErrorKind::Pattern { pattern } => format!("should match '{pattern}'"),
                ValidationErrorKind::MinLength { limit } => {
                    format!("should be at least {limit} chars long")
                }
                ValidationErrorKind::MinItems { limit } => {
                    format!("should have at least {limit} items")
                }
                ValidationErrorKind::Maximum { limit } => {
                    format!("should be less than or equal to {limit}")
                }
                ValidationErrorKind::Minimum { limit } => {
                    format!("should be greater than or equal to {limit}")
                }
                ValidationErrorKind::ExclusiveMaximum { limit } => {
                    format!("should be less than {limit}")
                }
                ValidationErrorKind::ExclusiveMinimum { limit } => {
                    format!("should be greater than {limit}")
                }
                ValidationErrorKind::OneOfNotValid { .. }
                | ValidationErrorKind::OneOfMultipleValid { .. } => {
                    "must validate one and only one schema (oneOf)".to_owned()
                }
                ValidationErrorKind::AnyOf { .. } => {
                    "must validate at least one schema (anyOf)".to_owned()
                }
                ValidationErrorKind::Not { .. } => "must not validate the schema (not)".to_owned(),
                ValidationErrorKind::UniqueItems => "shouldn't contain duplicates".to_owned(),
                ValidationErrorKind::MaxProperties { limit } => {
                    format!("should have at most {limit} properties")
                }
                ValidationErrorKind::MinProperties { limit } => {
                    format!("should have at least {limit} properties")
                }
                _ => format!("fails '{}'", other.keyword()),
            };
            let location = if field.is_empty() {
                "body".to_owned()
            } else {
                format!("{field} in body")
            };
            Cause::new(
                "FieldValueInvalid",
                field,
                format!("Invalid value: {value}: {location} {rule}"),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Schema {
        Schema::compile(&json!({
            "type": "object",
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"type": "object"},
                "spec": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 5},
                        "mode": {"type": "string", "enum": ["a", "b"], "default": "a"},
                        "items": {"type": "array", "items": {"type": "object", "properties": {"x": {"type": "integer"}}}},
                        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "maybe": {"type": "string", "nullable": true},
                        "never": {"type": "string"}
                    }
                }
            }
        }))
        .unwrap()
    }

    #[test]
    fn prunes_unknown_fields_and_applies_defaults() {
        let mut object = json!({
            "apiVersion": "x/v1", "kind": "X",
            "metadata": {"name": "n", "bogus": 1},
            "spec": {"name": "ab", "extra": 1, "items": [{"x": 1, "y": 2}], "free": {"any": {"thing": 1}},
                     "labels": {"k": "v"}, "maybe": null, "never": null},
            "top": true
        });
        let unknown = schema().prune_and_default(&mut object);
        assert_eq!(
            unknown,
            ["metadata.bogus", "spec.extra", "spec.items[0].y", "top"]
        );
        assert_eq!(
            object,
            json!({
                "apiVersion": "x/v1", "kind": "X", "metadata": {"name": "n"},
                "spec": {"name": "ab", "mode": "a", "items": [{"x": 1}], "free": {"any": {"thing": 1}},
                         "labels": {"k": "v"}, "maybe": null}
            })
        );
    }

    #[test]
    fn validation_errors_read_like_the_apiserver() {
        let object = json!({"spec": {"name": "Bad_Name", "mode": "c", "items": [{"x": "1"}]}});
        let mut causes = schema().validate(&object);
        causes.sort_by(|a, b| a.field.cmp(&b.field));
        let fields: Vec<(&str, &str)> = causes
            .iter()
            .map(|c| (c.field.as_str(), c.reason))
            .collect();
        assert_eq!(
            fields,
            [
                ("spec.items[0].x", "FieldValueTypeInvalid"),
                ("spec.mode", "FieldValueNotSupported"),
                ("spec.name", "FieldValueTooLong"),
                ("spec.name", "FieldValueInvalid"),
            ]
        );
        let pattern = causes
            .iter()
            .find(|c| c.reason == "FieldValueInvalid")
            .unwrap();
        assert_eq!(
            pattern.message,
            "Invalid value: \"Bad_Name\": spec.name in body should match '^[a-z]+$'"
        );
        let missing = schema().validate(&json!({"spec": {}}));
        assert_eq!(
            missing,
            [Cause::new(
                "FieldValueRequired",
                "spec.name",
                "Required value"
            )]
        );
    }
}
