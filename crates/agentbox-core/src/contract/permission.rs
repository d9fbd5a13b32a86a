//! Permission patterns (`shell(git:*)`, `write(/projects/app/**)`, `read(/etc/hosts)`) and the
//! decision a contract's rules make for one action. Deny rules win over allow rules; an action
//! no rule matches gets the default, which is `deny` unless the contract says otherwise.

use globset::{Glob, GlobMatcher};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use super::model::{Permissions, Verdict};
use super::types::ValueError;

/// Something an agent wants to do, as the permission gate sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action<'a> {
    /// Run a program with these arguments (`argv[0]` first).
    Shell(&'a [String]),
    /// Read a file or list a directory at this absolute, normalised path.
    Read(&'a str),
    /// Create, change or delete a file at this absolute, normalised path.
    Write(&'a str),
}

/// One parsed permission pattern; it keeps the text it was written as.
#[derive(Clone)]
pub struct PermissionPattern {
    text: String,
    matcher: Matcher,
}

#[derive(Clone)]
enum Matcher {
    /// Any command.
    AnyShell,
    /// Commands whose argv equals these words, or starts with them when `prefix`.
    Shell { words: Vec<String>, prefix: bool },
    /// Paths matching a glob, for reading.
    Read(GlobMatcher),
    /// Paths matching a glob, for writing.
    Write(GlobMatcher),
}

impl PermissionPattern {
    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether this pattern covers `action`.
    pub fn matches(&self, action: &Action<'_>) -> bool {
        match (&self.matcher, action) {
            (Matcher::AnyShell, Action::Shell(_)) => true,
            (Matcher::Shell { words, prefix }, Action::Shell(argv)) => {
                if *prefix {
                    argv.len() >= words.len() && argv[..words.len()] == words[..]
                } else {
                    argv[..] == words[..]
                }
            }
            (Matcher::Read(glob), Action::Read(path)) => glob.is_match(path),
            (Matcher::Write(glob), Action::Write(path)) => glob.is_match(path),
            _ => false,
        }
    }

    fn parse(s: &str) -> Result<Self, ValueError> {
        let bad = |why: &str| {
            Err(ValueError(format!(
                "`{s}` is not a permission pattern: {why} (e.g. `shell(git:*)`, `write(/projects/app/**)`, `read(/projects/**)`)"
            )))
        };
        let Some((kind, rest)) = s.split_once('(') else {
            return bad("write `kind(argument)`");
        };
        let Some(arg) = rest.strip_suffix(')') else {
            return bad("it must end with `)`");
        };
        let arg = arg.trim();
        if arg.is_empty() {
            return bad("the argument is empty");
        }
        let matcher = match kind {
            "shell" => {
                if arg == "*" {
                    Matcher::AnyShell
                } else {
                    let (command, prefix) = match arg.strip_suffix(":*") {
                        Some(c) => (c, true),
                        None => (arg, false),
                    };
                    let Some(words) = shlex::split(command) else {
                        return bad("the command has unbalanced quotes");
                    };
                    if words.is_empty() || words.iter().any(|w| w.contains('*')) {
                        return bad("name a command; `*` is allowed only as `:*` at the end");
                    }
                    Matcher::Shell { words, prefix }
                }
            }
            "read" | "write" => {
                if !arg.starts_with('/') {
                    return bad("paths must be absolute");
                }
                if arg.split('/').any(|c| c == "..") {
                    return bad("paths must not contain `..`");
                }
                let glob = match Glob::new(arg) {
                    Ok(g) => g.compile_matcher(),
                    Err(e) => return bad(&format!("the glob is malformed ({e})")),
                };
                if kind == "read" {
                    Matcher::Read(glob)
                } else {
                    Matcher::Write(glob)
                }
            }
            other => return bad(&format!("unknown kind `{other}`; use shell, read or write")),
        };
        Ok(Self {
            text: s.to_owned(),
            matcher,
        })
    }
}

impl fmt::Debug for PermissionPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PermissionPattern({:?})", self.text)
    }
}

impl fmt::Display for PermissionPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl PartialEq for PermissionPattern {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for PermissionPattern {}

impl FromStr for PermissionPattern {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        Self::parse(s)
    }
}

impl Serialize for PermissionPattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for PermissionPattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for PermissionPattern {
    fn schema_name() -> Cow<'static, str> {
        "PermissionPattern".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "format": "permission-pattern",
            "pattern": r"^(shell|read|write)\(.+\)$",
        })
    }
}

/// The outcome of checking one action against a contract's permissions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Allowed or denied.
    pub verdict: Verdict,
    /// The pattern that decided, or `None` when the default did.
    pub rule: Option<String>,
}

impl Decision {
    /// True when the action may proceed.
    pub fn is_allowed(&self) -> bool {
        self.verdict == Verdict::Allow
    }
}

impl Permissions {
    /// Decide `action`: the first matching deny rule wins, then the first matching allow rule,
    /// then the default.
    pub fn decide(&self, action: &Action<'_>) -> Decision {
        let first = |rules: &[PermissionPattern]| {
            rules
                .iter()
                .find(|p| p.matches(action))
                .map(|p| p.text.clone())
        };
        if let Some(rule) = first(&self.deny) {
            return Decision {
                verdict: Verdict::Deny,
                rule: Some(rule),
            };
        }
        if let Some(rule) = first(&self.allow) {
            return Decision {
                verdict: Verdict::Allow,
                rule: Some(rule),
            };
        }
        Decision {
            verdict: self.default,
            rule: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perms(allow: &[&str], deny: &[&str]) -> Permissions {
        Permissions {
            default: Verdict::Deny,
            allow: allow.iter().map(|p| p.parse().unwrap()).collect(),
            deny: deny.iter().map(|p| p.parse().unwrap()).collect(),
        }
    }

    fn argv(s: &str) -> Vec<String> {
        shlex::split(s).unwrap()
    }

    #[test]
    fn deny_rules_win_over_allow_rules() {
        let p = perms(&["shell(git:*)"], &["shell(git push --force:*)"]);
        assert!(p.decide(&Action::Shell(&argv("git status"))).is_allowed());
        let d = p.decide(&Action::Shell(&argv("git push --force origin main")));
        assert_eq!(d.verdict, Verdict::Deny);
        assert_eq!(d.rule.as_deref(), Some("shell(git push --force:*)"));
    }

    #[test]
    fn unmatched_actions_get_the_default() {
        let p = perms(&["shell(git:*)"], &[]);
        let d = p.decide(&Action::Shell(&argv("rm -rf /")));
        assert_eq!(
            d,
            Decision {
                verdict: Verdict::Deny,
                rule: None
            }
        );
        // A prefix is a whole word: `gitx` is not `git`.
        assert!(!p.decide(&Action::Shell(&argv("gitx status"))).is_allowed());
    }

    #[test]
    fn exact_shell_patterns_match_only_that_argv() {
        let p = perms(&["shell(make test)"], &[]);
        assert!(p.decide(&Action::Shell(&argv("make test"))).is_allowed());
        assert!(
            !p.decide(&Action::Shell(&argv("make test all")))
                .is_allowed()
        );
    }

    #[test]
    fn path_globs_do_not_cross_kinds() {
        let p = perms(&["write(/projects/app/**)"], &[]);
        assert!(
            p.decide(&Action::Write("/projects/app/lib/a.rb"))
                .is_allowed()
        );
        assert!(
            !p.decide(&Action::Write("/projects/other/a.rb"))
                .is_allowed()
        );
        assert!(
            !p.decide(&Action::Read("/projects/app/lib/a.rb"))
                .is_allowed()
        );
    }

    #[test]
    fn malformed_patterns_are_rejected() {
        for bad in [
            "shell",
            "shell()",
            "shell(git",
            "exec(git)",
            "write(relative/**)",
            "write(/a/../b)",
            "shell(g*t)",
            "read(/a/[)",
        ] {
            assert!(
                bad.parse::<PermissionPattern>().is_err(),
                "{bad} should not parse"
            );
        }
    }
}
