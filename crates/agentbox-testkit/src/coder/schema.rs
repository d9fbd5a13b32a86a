//! coderd's response shapes as JSON Schema, from its generated Swagger 2.0 document, so the
//! fake (and anything else) can check a body is what the real server would send.
//!
//! The document is vendored byte for byte in `specs/coder/v2.34.3/swagger.json` (see the README
//! there). Swagger 2.0 schemas are close to JSON Schema; the translation ([`translate`]) is:
//! - `$ref: #/definitions/X` becomes `$ref: #/$defs/X`, and only the `$ref` closure of the schema
//!   being checked is kept under `$defs`;
//! - an object schema with `properties` and no `additionalProperties` gets
//!   `additionalProperties: false`, so a field the real server does not send is an error;
//! - a property is required only where the document says so (`required`);
//! - `format` is checked (`uuid`, `date-time`, `email`, `uri`); formats a JSON Schema
//!   validator does not know (`int64`, `url`, …) are annotations;
//! - two things Go writes that Swagger 2.0 cannot express are allowed: `null` for the pointer
//!   fields listed in [`NULLABLE`] (Go writes `null` for a nil pointer without `omitempty`),
//!   and an empty string where `format: uri` is declared (Go's zero value for an unset URL).
//!
//! Annotations (`description`, `example`, `x-…`) are dropped; any other keyword is an error,
//! so a future document using one is noticed rather than silently half-checked.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use serde_json::{Map, Value, json};

/// The vendored coderd v2.34.3 Swagger document.
pub const CODER_SWAGGER: &str = include_str!("../../specs/coder/v2.34.3/swagger.json");

/// Properties the real server writes as `null` when unset: Go pointers (or `uuid.NullUUID`,
/// `codersdk.NullTime`) serialised without `omitempty`. Each must exist in the document
/// (checked when a schema is loaded), so the list cannot name a field that is gone.
pub const NULLABLE: &[(&str, &str)] = &[
    ("codersdk.Workspace", "latest_app_status"),
    ("codersdk.Workspace", "deleting_at"),
    ("codersdk.Workspace", "dormant_at"),
    ("codersdk.Workspace", "next_start_at"),
    ("codersdk.Workspace", "task_id"),
    ("codersdk.WorkspaceBuild", "deadline"),
    ("codersdk.WorkspaceBuild", "max_deadline"),
    ("codersdk.WorkspaceBuild", "template_version_preset_id"),
    ("codersdk.WorkspaceAgent", "parent_id"),
    ("codersdk.ServerSentEvent", "data"),
    ("codersdk.TransitionStats", "p50"),
    ("codersdk.TransitionStats", "p95"),
];

/// Keywords kept from a Swagger schema object.
const KEPT: &[&str] = &[
    "type",
    "format",
    "enum",
    "items",
    "properties",
    "additionalProperties",
    "allOf",
    "required",
    "minimum",
    "maximum",
];
/// Keywords that only annotate.
const ANNOTATIONS: &[&str] = &["description", "example"];
const DEFINITIONS: &str = "#/definitions/";

static VENDORED: LazyLock<CoderApiSchema> = LazyLock::new(|| {
    // The vendored document is a constant of this crate, checked by its tests; not input.
    CoderApiSchema::from_swagger(CODER_SWAGGER)
        .unwrap_or_else(|e| panic!("the vendored coderd swagger.json is broken: {e}"))
});

/// Validators for coderd's response bodies, built on demand and cached.
pub struct CoderApiSchema {
    /// `/` (v2.34+) or `/api/v2` (earlier): what the path keys leave out.
    base_path: String,
    paths: Map<String, Value>,
    /// Every definition, translated.
    definitions: BTreeMap<String, Value>,
    cache: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

impl std::fmt::Debug for CoderApiSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoderApiSchema")
            .field("base_path", &self.base_path)
            .field("paths", &self.paths.len())
            .field("definitions", &self.definitions.len())
            .finish_non_exhaustive()
    }
}

impl CoderApiSchema {
    /// The schema of the vendored v2.34.3 document (parsed once, on first use).
    pub fn vendored() -> &'static CoderApiSchema {
        &VENDORED
    }

    /// A schema from the text of a coderd `swagger.json` (any version with the same layout).
    pub fn from_swagger(text: &str) -> Result<Self, String> {
        let doc: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let base_path = doc
            .get("basePath")
            .and_then(Value::as_str)
            .unwrap_or("/")
            .trim_end_matches('/')
            .to_owned();
        let paths = doc
            .get("paths")
            .and_then(Value::as_object)
            .cloned()
            .ok_or("no `paths` object")?;
        let raw = doc
            .get("definitions")
            .and_then(Value::as_object)
            .ok_or("no `definitions` object")?;
        for (definition, property) in NULLABLE {
            if raw
                .get(*definition)
                .and_then(|d| d.pointer(&format!("/properties/{property}")))
                .is_none()
            {
                return Err(format!(
                    "NULLABLE names {definition}.{property}, which the document does not define"
                ));
            }
        }
        let definitions = raw
            .iter()
            .map(|(name, schema)| {
                translate(schema, Some(name))
                    .map(|s| (name.clone(), s))
                    .map_err(|e| format!("definition {name}: {e}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            base_path,
            paths,
            definitions,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// Problems with `instance` as the definition `name` (e.g. `codersdk.Workspace`); empty
    /// when it is valid.
    pub fn definition_errors(&self, name: &str, instance: &Value) -> Vec<String> {
        let schema = json!({ "$ref": format!("#/$defs/{name}") });
        match self.validator(&format!("definition {name}"), &schema) {
            Ok(v) => errors(&v, instance),
            Err(e) => vec![e],
        }
    }

    /// Problems with a JSON body answered with `status` to `method` on `route`, a path template
    /// as the v2.34.3 document spells it (`/api/v2/workspaces/{workspace}`); empty when valid.
    /// An error status is checked against `codersdk.Response`. A success status the document
    /// does not list is checked against its one documented success body: coderd answers 201
    /// where the document says 200.
    pub fn response_errors(
        &self,
        method: &str,
        route: &str,
        status: u16,
        body: &Value,
    ) -> Vec<String> {
        if status >= 400 {
            return self.definition_errors("codersdk.Response", body);
        }
        let key = match route.strip_prefix(&self.base_path) {
            Some(rest) if !self.base_path.is_empty() => rest,
            _ => route,
        };
        let method = method.to_ascii_lowercase();
        let Some(responses) = self
            .paths
            .get(key)
            .and_then(|p| p.get(&method))
            .and_then(|op| op.get("responses"))
            .and_then(Value::as_object)
        else {
            return vec![format!(
                "{} {route} is not in the swagger document",
                method.to_uppercase()
            )];
        };
        let documented = responses.get(&status.to_string()).or_else(|| {
            let successes: Vec<_> = responses
                .iter()
                .filter(|(code, _)| code.starts_with('2'))
                .collect();
            match successes.as_slice() {
                [(_, only)] => Some(*only),
                _ => None,
            }
        });
        let Some(schema) = documented.and_then(|r| r.get("schema")) else {
            return vec![format!(
                "{} {route} documents no JSON body for status {status}",
                method.to_uppercase()
            )];
        };
        let translated = match translate(schema, None) {
            Ok(t) => t,
            Err(e) => return vec![format!("{} {route}: {e}", method.to_uppercase())],
        };
        match self.validator(&format!("{method} {key} {status}"), &translated) {
            Ok(v) => errors(&v, body),
            Err(e) => vec![e],
        }
    }

    /// The validator of `schema` (translated) with its `$ref` closure, cached under `key`.
    fn validator(&self, key: &str, schema: &Value) -> Result<Arc<jsonschema::Validator>, String> {
        if let Some(v) = self
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
        {
            return Ok(Arc::clone(v));
        }
        let mut wanted = BTreeSet::new();
        collect_refs(schema, &mut wanted);
        let mut kept = Map::new();
        while let Some(name) = wanted.pop_first() {
            if kept.contains_key(&name) {
                continue;
            }
            let definition = self
                .definitions
                .get(&name)
                .ok_or_else(|| format!("`{name}` is referenced but not defined"))?;
            let mut more = BTreeSet::new();
            collect_refs(definition, &mut more);
            wanted.extend(more.into_iter().filter(|n| !kept.contains_key(n)));
            kept.insert(name, definition.clone());
        }
        let mut root = schema.as_object().cloned().unwrap_or_default();
        root.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        root.insert("$defs".into(), Value::Object(kept));
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&Value::Object(root))
            .map_err(|e| format!("schema for {key} does not build: {e}"))?;
        let validator = Arc::new(validator);
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.to_owned(), Arc::clone(&validator));
        Ok(validator)
    }
}

fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("at `{}`: {e}", e.instance_path()))
        .collect()
}

fn collect_refs(value: &Value, refs: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("$ref", Value::String(r)) => {
                        if let Some(name) = r.strip_prefix("#/$defs/") {
                            refs.insert(name.to_owned());
                        }
                    }
                    _ => collect_refs(v, refs),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, refs)),
        _ => {}
    }
}

/// One Swagger 2.0 schema object as JSON Schema 2020-12; `definition` names the definition it
/// is, when it is one (for [`NULLABLE`]).
pub(crate) fn translate(schema: &Value, definition: Option<&str>) -> Result<Value, String> {
    let Value::Object(map) = schema else {
        return Err(format!("a schema must be an object, not {schema}"));
    };
    if let Some(reference) = map.get("$ref") {
        // Swagger 2.0 ignores everything beside a `$ref`.
        let name = reference
            .as_str()
            .and_then(|r| r.strip_prefix(DEFINITIONS))
            .ok_or_else(|| format!("unsupported $ref {reference}"))?;
        return Ok(json!({ "$ref": format!("#/$defs/{name}") }));
    }
    let mut out = Map::new();
    for (key, value) in map {
        let key = key.as_str();
        if ANNOTATIONS.contains(&key) || key.starts_with("x-") {
            continue;
        }
        if !KEPT.contains(&key) {
            return Err(format!("unsupported keyword `{key}`"));
        }
        let translated = match key {
            "items" => translate(value, None)?,
            "additionalProperties" if value.is_object() => translate(value, None)?,
            "allOf" => Value::Array(
                value
                    .as_array()
                    .ok_or("`allOf` must be an array")?
                    .iter()
                    .map(|s| translate(s, None))
                    .collect::<Result<_, _>>()?,
            ),
            "properties" => {
                let properties = value.as_object().ok_or("`properties` must be an object")?;
                let mut translated = Map::new();
                for (name, property) in properties {
                    let mut schema =
                        translate(property, None).map_err(|e| format!("property {name}: {e}"))?;
                    if definition.is_some_and(|d| NULLABLE.contains(&(d, name.as_str()))) {
                        schema = json!({ "anyOf": [schema, { "type": "null" }] });
                    }
                    translated.insert(name.clone(), schema);
                }
                Value::Object(translated)
            }
            _ => value.clone(),
        };
        out.insert(key.to_owned(), translated);
    }
    if out.contains_key("properties") && !out.contains_key("additionalProperties") {
        out.insert("additionalProperties".into(), Value::Bool(false));
    }
    if out.get("format").and_then(Value::as_str) == Some("uri") {
        out.remove("format");
        out.insert(
            "anyOf".into(),
            json!([{ "const": "" }, { "format": "uri" }]),
        );
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> Value {
        json!({
                "basePath": "/",
                "paths": {
                    "/api/v2/things/{thing}": {
                        "get": {"responses": {"200": {"schema": {"$ref": "#/definitions/codersdk.Thing"}}}},
                        "post": {"responses": {"200": {"schema": {"type": "array", "items": {"$ref": "#/definitions/codersdk.Thing"}}}}}
                    }
                },
                "definitions": {
                    "codersdk.Thing": {
                        "type": "object",
                        "required": ["id"],
                        "properties": {
                            "id": {"type": "string", "format": "uuid", "description": "x"},
                            "state": {"$ref": "#/definitions/codersdk.State"},
                            "home": {"type": "string", "format": "uri"},
                            "tags": {"type": "object", "additionalProperties": {"type": "string"}}
                        }
                    },
                    "codersdk.State": {"type": "string", "enum": ["on", "off"], "x-enum-varnames": ["On", "Off"]},
                    "codersdk.Response": {"type": "object", "properties": {"message": {"type": "string"}}},
                    "codersdk.Workspace": {"type": "object", "properties": {
                        "latest_app_status": {"type": "object"}, "deleting_at": {"type": "string"},
                        "dormant_at": {"type": "string"}, "next_start_at": {"type": "string"}, "task_id": {"type": "object"}}},
                    "codersdk.WorkspaceBuild": {"type": "object", "properties": {
                        "deadline": {"type": "string"}, "max_deadline": {"type": "string"},
                        "template_version_preset_id": {"type": "string"}}},
                    "codersdk.WorkspaceAgent": {"type": "object", "properties": {"parent_id": {"type": "object"}}},
                    "codersdk.ServerSentEvent": {"type": "object", "properties": {"data": {}}},
                    "codersdk.TransitionStats": {"type": "object", "properties": {"p50": {"type": "integer"}, "p95": {"type": "integer"}}}
                }
        })
    }

    fn schema() -> CoderApiSchema {
        CoderApiSchema::from_swagger(&document().to_string()).unwrap()
    }

    const ID: &str = "6a4c3f64-5717-4562-b3fc-2c963f66afa6";

    #[test]
    fn a_valid_body_has_no_errors_and_201_falls_back_to_the_documented_200() {
        let s = schema();
        let body = json!({"id": ID, "state": "on", "home": "", "tags": {"a": "b"}});
        assert_eq!(
            s.response_errors("GET", "/api/v2/things/{thing}", 200, &body),
            Vec::<String>::new()
        );
        assert_eq!(
            s.response_errors("POST", "/api/v2/things/{thing}", 201, &json!([body])),
            Vec::<String>::new()
        );
    }

    #[test]
    fn extra_fields_wrong_enums_formats_and_nulls_are_errors() {
        let s = schema();
        for bad in [
            json!({"id": ID, "surprise": 1}),
            json!({"id": ID, "state": "maybe"}),
            json!({"id": "not-a-uuid"}),
            json!({"id": ID, "home": "not a uri"}),
            json!({"id": ID, "state": null}),
            json!({"state": "on"}),
            json!({"id": ID, "tags": {"a": 1}}),
        ] {
            let errors = s.response_errors("GET", "/api/v2/things/{thing}", 200, &bad);
            assert!(!errors.is_empty(), "{bad} passed");
        }
    }

    #[test]
    fn listed_nullable_properties_accept_null() {
        let s = schema();
        let errors = s.definition_errors("codersdk.Workspace", &json!({"deleting_at": null}));
        assert!(errors.is_empty(), "{errors:?}");
    }

    #[test]
    fn error_statuses_are_checked_against_the_response_definition() {
        let s = schema();
        assert!(
            s.response_errors("GET", "/api/v2/nowhere", 404, &json!({"message": "x"}))
                .is_empty()
        );
        assert!(
            !s.response_errors("GET", "/api/v2/nowhere", 404, &json!({"msg": "x"}))
                .is_empty()
        );
    }

    #[test]
    fn an_undocumented_route_is_an_error() {
        let errors = schema().response_errors("GET", "/api/v2/other", 200, &json!({}));
        assert!(errors[0].contains("not in the swagger"), "{errors:?}");
    }

    #[test]
    fn a_base_path_is_stripped_from_routes() {
        let mut doc = document();
        doc["basePath"] = json!("/api/v2");
        doc["paths"] =
            json!({"/x": {"get": {"responses": {"200": {"schema": {"type": "string"}}}}}});
        let s = CoderApiSchema::from_swagger(&doc.to_string()).unwrap();
        assert!(
            s.response_errors("GET", "/api/v2/x", 200, &json!("ok"))
                .is_empty()
        );
        assert!(
            !s.response_errors("GET", "/api/v2/x", 200, &json!(1))
                .is_empty()
        );
    }

    #[test]
    fn a_nullable_entry_the_document_lacks_is_refused() {
        let mut doc = document();
        doc["definitions"]["codersdk.WorkspaceAgent"] = json!({"type": "object"});
        let err = CoderApiSchema::from_swagger(&doc.to_string()).unwrap_err();
        assert!(err.contains("parent_id"), "{err}");
    }

    #[test]
    fn unknown_keywords_are_refused() {
        let err = translate(&json!({"type": "string", "pattern": "x"}), None).unwrap_err();
        assert!(err.contains("pattern"), "{err}");
    }

    #[test]
    fn the_vendored_document_loads_and_checks_a_response() {
        let s = CoderApiSchema::vendored();
        let errors = s.response_errors(
            "GET",
            "/api/v2/buildinfo",
            200,
            &json!({"version": "v2.34.3", "surprise": true}),
        );
        assert_eq!(errors.len(), 1, "{errors:?}");
    }
}
