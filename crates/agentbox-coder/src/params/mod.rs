//! Rich parameters: typed values ([`ParameterValue`]), the contract's values
//! ([`ContractParameters`]), agentbox's record ([`WorkspaceMetadata`]) and the check of all of
//! them against a template version before anything is created ([`validate`]).

mod contract;
mod metadata;
mod validate;
mod value;

pub use contract::ContractParameters;
pub use metadata::WorkspaceMetadata;
pub use validate::{ParameterProblem, Rule, validate};
pub use value::ParameterValue;

use crate::models::TemplateVersionParameter;

/// Problems with how a template declares the metadata parameter `name`.
pub(crate) fn metadata_declaration(
    declared: &[TemplateVersionParameter],
    name: &str,
) -> Result<(), String> {
    let Some(p) = declared.iter().find(|p| p.name == name) else {
        return Err(format!(
            "it declares no `{name}` parameter, where agentbox keeps labels and the contract hash (a `string` coder_parameter with `mutable = false`)"
        ));
    };
    if !(p.kind == "string" || p.kind.is_empty()) {
        return Err(format!(
            "`{name}` is a `{}` parameter; it must be a `string`",
            p.kind
        ));
    }
    if p.ephemeral {
        return Err(format!(
            "`{name}` is ephemeral, so it would be gone after the first build; declare it with `ephemeral = false`"
        ));
    }
    if !p.options.is_empty() || p.validation_regex.as_deref().is_some_and(|r| !r.is_empty()) {
        return Err(format!(
            "`{name}` has options or a regex; it must take free text (JSON)"
        ));
    }
    Ok(())
}
