//! Derives the vendored `specs/openai-chat-completions.schema.json` from OpenAI's OpenAPI
//! document, and checks the vendored file is still what the document gives.
//!
//! What is kept: every schema under `components/schemas` reachable by `$ref` from the three
//! chat-completions roots, unchanged except for one translation. OpenAPI's `nullable: true`
//! (an OpenAPI 3.0 keyword the 3.1 document still uses) means nothing to a JSON Schema
//! validator, so it becomes:
//! - with a string `type`: `type: [T, "null"]`, and `null` is added to an `enum` beside it;
//! - otherwise (`$ref`, `oneOf`, …): `anyOf: [<the schema without nullable>, {type: "null"}]`.
//!
//! Other OpenAPI keywords (`discriminator`, `example`, `x-…`) are annotations a JSON Schema
//! 2020-12 validator ignores, so they are left as they are.

use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::{CHAT_COMPLETIONS_SCHEMA, ChatCompletionsSchema};

const ROOTS: [&str; 3] = [
    "CreateChatCompletionRequest",
    "CreateChatCompletionResponse",
    "CreateChatCompletionStreamResponse",
];
const PREFIX: &str = "#/components/schemas/";

/// The `$ref` closure of `roots` in `openapi`, with `nullable` translated.
fn extract(openapi: &Value, roots: &[&str]) -> Result<Value, String> {
    let all = openapi
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .ok_or("no components/schemas in the OpenAPI document")?;
    let mut wanted: Vec<String> = roots.iter().map(|r| r.to_string()).collect();
    let mut kept = BTreeMap::new();
    while let Some(name) = wanted.pop() {
        if kept.contains_key(&name) {
            continue;
        }
        let schema = all
            .get(&name)
            .ok_or_else(|| format!("schema `{name}` is referenced but not defined"))?;
        let mut refs = BTreeSet::new();
        collect_refs(schema, &mut refs)?;
        wanted.extend(refs);
        kept.insert(name, translate_nullable(schema.clone()));
    }
    Ok(json!({
        "$comment": "Derived from openai/openai-openapi (main @ f85dbe223d40e1a31cba812ab2d755c7e98a92a3, MIT): the $ref closure of the chat-completions schemas, with `nullable` translated. See README.md.",
        "components": { "schemas": kept.into_iter().collect::<Map<_, _>>() },
    }))
}

fn collect_refs(value: &Value, refs: &mut BTreeSet<String>) -> Result<(), String> {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("$ref", Value::String(r)) => {
                        let name = r
                            .strip_prefix(PREFIX)
                            .ok_or_else(|| format!("unsupported $ref `{r}`"))?;
                        refs.insert(name.to_owned());
                    }
                    _ => collect_refs(v, refs)?,
                }
            }
        }
        Value::Array(items) => {
            for v in items {
                collect_refs(v, refs)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Translates `nullable` in a schema and in every subschema it holds.
fn translate_nullable(schema: Value) -> Value {
    let Value::Object(mut map) = schema else {
        return schema;
    };
    for key in ["properties", "patternProperties", "$defs"] {
        if let Some(Value::Object(children)) = map.get_mut(key) {
            for child in children.values_mut() {
                *child = translate_nullable(child.take());
            }
        }
    }
    for key in [
        "items",
        "additionalProperties",
        "not",
        "if",
        "then",
        "else",
        "contains",
    ] {
        if let Some(child) = map.get_mut(key) {
            *child = translate_nullable(child.take());
        }
    }
    for key in ["allOf", "anyOf", "oneOf", "prefixItems"] {
        if let Some(Value::Array(children)) = map.get_mut(key) {
            for child in children {
                *child = translate_nullable(child.take());
            }
        }
    }
    if map.remove("nullable") != Some(Value::Bool(true)) {
        return Value::Object(map);
    }
    match map.get("type").cloned() {
        Some(Value::String(ty)) => {
            map.insert("type".into(), json!([ty, "null"]));
            if let Some(Value::Array(values)) = map.get_mut("enum")
                && !values.contains(&Value::Null)
            {
                values.push(Value::Null);
            }
            Value::Object(map)
        }
        _ => json!({ "anyOf": [Value::Object(map), { "type": "null" }] }),
    }
}

fn openapi_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/specs/openai-openapi/openapi.yaml")
}

fn vendored_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("specs/openai-chat-completions.schema.json")
}

fn render(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("JSON values always serialise");
    text.push('\n');
    text
}

/// Re-derives the schemas from the OpenAPI document when it is beside the repository, and
/// checks the vendored file is identical. `AGENTBOX_BLESS=1` rewrites the vendored file instead.
#[test]
fn vendored_schema_matches_the_openapi_document() {
    let path = openapi_path();
    if !path.exists() {
        println!(
            "skipped: {} is not present (it lives beside the repository, not in it)",
            path.display()
        );
        return;
    }
    let yaml = std::fs::read_to_string(&path).expect("read openapi.yaml");
    let openapi: Value = serde_saphyr::from_str(&yaml).expect("parse openapi.yaml");
    let derived = render(&extract(&openapi, &ROOTS).expect("extract schemas"));
    if std::env::var_os("AGENTBOX_BLESS").is_some() {
        std::fs::write(vendored_path(), &derived).expect("write vendored schema");
        return;
    }
    assert!(
        derived == CHAT_COMPLETIONS_SCHEMA,
        "{} is stale; regenerate it with AGENTBOX_BLESS=1 cargo test -p agentbox-testkit vendored_schema",
        vendored_path().display()
    );
}

#[test]
fn vendored_schema_builds_validators() {
    ChatCompletionsSchema::from_document(CHAT_COMPLETIONS_SCHEMA).expect("vendored schema builds");
}

#[test]
fn extraction_follows_refs_transitively_and_only_those() {
    let openapi = json!({"components": {"schemas": {
        "A": {"type": "object", "properties": {"b": {"$ref": "#/components/schemas/B"}}},
        "B": {"items": {"$ref": "#/components/schemas/C"}},
        "C": {"type": "string"},
        "Unused": {"type": "integer"}
    }}});
    let out = extract(&openapi, &["A"]).unwrap();
    let names: Vec<&String> = out["components"]["schemas"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(names, ["A", "B", "C"]);
}

#[test]
fn extraction_reports_a_dangling_ref() {
    let openapi = json!({"components": {"schemas": {"A": {"$ref": "#/components/schemas/Gone"}}}});
    let err = extract(&openapi, &["A"]).unwrap_err();
    assert!(err.contains("Gone"), "{err}");
}

#[test]
fn nullable_with_a_type_becomes_a_type_union_and_extends_the_enum() {
    let out = translate_nullable(json!({"type": "string", "enum": ["stop"], "nullable": true}));
    assert_eq!(
        out,
        json!({"type": ["string", "null"], "enum": ["stop", null]})
    );
}

#[test]
fn nullable_without_a_type_becomes_any_of_null() {
    let out = translate_nullable(json!({"properties": {"u": {"$ref": "#/x", "nullable": true}}}));
    assert_eq!(
        out,
        json!({"properties": {"u": {"anyOf": [{"$ref": "#/x"}, {"type": "null"}]}}})
    );
}

#[test]
fn a_property_named_nullable_is_not_a_keyword() {
    let schema = json!({"properties": {"nullable": {"type": "boolean"}}});
    assert_eq!(translate_nullable(schema.clone()), schema);
}
