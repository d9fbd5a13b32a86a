//! BRING-UP placeholder; the evidence work replaces this file.
use secrecy::SecretString;
/// Replacement text.
pub const REDACTED: &str = "[REDACTED]";
/// Redactor.
#[derive(Debug, Clone, Default)]
pub struct Redactor;
impl Redactor {
    /// Register.
    pub fn register(&self, _s: &SecretString) {}
}
/// Stream redactor.
#[derive(Debug)]
pub struct StreamRedactor;
