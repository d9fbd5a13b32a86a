//! Random tokens: command tags, session markers, create-request ids.

use crate::error::CheError;

/// A random 128-bit token in hex; `what` names its use in the error.
pub(crate) fn token(what: &'static str) -> Result<String, CheError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| CheError::Randomness {
        what,
        message: e.to_string(),
    })?;
    Ok(hex::encode(bytes))
}
