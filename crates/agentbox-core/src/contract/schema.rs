//! The contract's JSON Schema, generated from the typed model so the two cannot disagree.

use schemars::generate::SchemaSettings;

use super::model::ContractDocument;

/// The JSON Schema (draft 2020-12) of a contract document.
pub fn contract_schema() -> serde_json::Value {
    let generator = SchemaSettings::draft2020_12().into_generator();
    let schema = generator.into_root_schema_for::<ContractDocument>();
    schema.to_value()
}
