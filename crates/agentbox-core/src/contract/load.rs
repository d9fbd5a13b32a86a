//! PROVISIONAL loader (first error only) — replaced by the span-aware validator.

use super::{Contract, ContractDocument, LoadOptions, Problem};
use crate::Error;

pub(super) fn load(text: &str, origin: &str, options: &LoadOptions) -> Result<Contract, Error> {
    let doc: ContractDocument = serde_saphyr::from_str(text).map_err(|e| Error::InvalidContract {
        origin: origin.to_owned(),
        problems: vec![Problem::error("", 0, 0, e.to_string())],
    })?;
    let _ = options;
    Ok(Contract::new(doc, Vec::new()))
}

pub(super) fn validate_value(value: serde_json::Value, _spans: Option<()>, origin: &str, options: &LoadOptions) -> Result<Contract, Error> {
    let doc: ContractDocument = serde_json::from_value(value).map_err(|e| Error::InvalidContract {
        origin: origin.to_owned(),
        problems: vec![Problem::error("", 0, 0, e.to_string())],
    })?;
    let _ = options;
    Ok(Contract::new(doc, Vec::new()))
}

pub(super) fn to_yaml(doc: &ContractDocument) -> String {
    serde_saphyr::to_string(doc).unwrap_or_default()
}
