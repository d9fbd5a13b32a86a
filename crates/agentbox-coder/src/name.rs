//! Workspace names within Coder's rules: at most 32 characters, letters, digits and single
//! hyphens between them, not `new` or `create`.

use sha2::{Digest, Sha256};

/// The longest workspace name coderd accepts.
pub const MAX_NAME: usize = 32;

/// A Coder workspace name for `wanted` (any text). A valid name is kept as it is; anything
/// else is lowercased, every run of other characters becomes one hyphen, and when the result is
/// too long (or was changed at all) it is cut and given 8 hex digits of the SHA-256 of
/// `wanted`, so different inputs stay different and the same input always gives the same
/// name.
///
/// ```
/// use agentbox_coder::workspace_name;
/// assert_eq!(workspace_name("demo-1a2b3c4d"), "demo-1a2b3c4d");
/// let long = workspace_name("executor-refused-when-stopped-0123abcd");
/// assert!(long.len() <= 32 && long.starts_with("executor-refused-when-"));
/// assert_ne!(workspace_name("a_b"), workspace_name("a.b"));
/// ```
pub fn workspace_name(wanted: &str) -> String {
    if is_valid(wanted) {
        return wanted.to_owned();
    }
    let mut clean = String::with_capacity(wanted.len());
    for c in wanted.chars() {
        if c.is_ascii_alphanumeric() {
            clean.push(c.to_ascii_lowercase());
        } else if !clean.is_empty() && !clean.ends_with('-') {
            clean.push('-');
        }
    }
    let suffix = &hex::encode(Sha256::digest(wanted.as_bytes()))[..8];
    let room = MAX_NAME - suffix.len() - 1;
    let base: String = clean.chars().take(room).collect();
    let base = base.trim_end_matches('-');
    if base.is_empty() {
        format!("agentbox-{suffix}")
    } else {
        format!("{base}-{suffix}")
    }
}

/// Whether coderd accepts `name` as it is.
pub fn is_valid(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name != "new"
        && name != "create"
        && name
            .split('-')
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_always_valid() {
        for wanted in [
            "",
            "-",
            "new",
            "create",
            "Über Projekt!!",
            "a--b",
            "trailing-",
            &"x".repeat(100),
            "snake_case_name_that_is_quite_long_indeed",
        ] {
            let name = workspace_name(wanted);
            assert!(is_valid(&name), "{wanted:?} gave {name:?}");
        }
    }

    #[test]
    fn valid_names_are_kept_and_derivation_is_stable() {
        assert_eq!(workspace_name("Demo-2"), "Demo-2");
        assert_eq!(workspace_name("a b"), workspace_name("a b"));
        assert_ne!(workspace_name("a b"), workspace_name("a  b"));
        assert!(workspace_name("new").starts_with("new-"));
    }
}
