//! Workspace paths: every path an executor is given is resolved lexically against the
//! workspace's root and workdir, and refused when it would leave the root.
//!
//! Lexical checks stop `../../etc/passwd`; backends must still refuse symlinks that lead out
//! (the local backend opens files with `RESOLVE_BENEATH`).

use crate::{Error, Result};

/// Resolve `input` (absolute, or relative to `workdir`) to an absolute, normalised path under
/// `root`. `root` and `workdir` are absolute; `workdir` lies under `root`.
///
/// ```
/// use agentbox_core::exec::path::resolve;
/// assert_eq!(resolve("ws", "/projects", "/projects/app", "lib/../a.rb").unwrap(), "/projects/app/a.rb");
/// assert!(resolve("ws", "/projects", "/projects/app", "../../etc/passwd").is_err());
/// ```
pub fn resolve(workspace: &str, root: &str, workdir: &str, input: &str) -> Result<String> {
    let escapes = || Error::PathEscapes {
        workspace: workspace.to_owned(),
        path: input.to_owned(),
        root: root.to_owned(),
    };
    if input.is_empty() || input.contains('\0') {
        return Err(escapes());
    }
    let joined = if input.starts_with('/') {
        input.to_owned()
    } else {
        format!("{}/{input}", workdir.trim_end_matches('/'))
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(escapes());
                }
            }
            p => parts.push(p),
        }
    }
    let normalised = format!("/{}", parts.join("/"));
    if within(root, &normalised) {
        Ok(normalised)
    } else {
        Err(escapes())
    }
}

/// The part of `path` below `root` (`""` for the root itself); `None` when it is not below.
pub fn relative_to<'a>(root: &str, path: &'a str) -> Option<&'a str> {
    let root = root.trim_end_matches('/');
    let rest = path.strip_prefix(root)?;
    if rest.is_empty() {
        Some("")
    } else {
        rest.strip_prefix('/')
    }
}

fn within(root: &str, path: &str) -> bool {
    relative_to(root, path).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_start_at_the_workdir() {
        assert_eq!(
            resolve("w", "/p", "/p/app", "a/b.txt").unwrap(),
            "/p/app/a/b.txt"
        );
        assert_eq!(
            resolve("w", "/p", "/p/app", "./a//b.txt").unwrap(),
            "/p/app/a/b.txt"
        );
        assert_eq!(resolve("w", "/p", "/p/app", "..").unwrap(), "/p");
    }

    #[test]
    fn escapes_are_refused() {
        for bad in [
            "../..",
            "/etc/passwd",
            "/p/../etc",
            "/pp/x",
            "a/../../../x",
            "",
            "a\0b",
        ] {
            let err = resolve("w", "/p", "/p/app", bad).unwrap_err();
            assert!(matches!(err, Error::PathEscapes { .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn relative_to_respects_component_boundaries() {
        assert_eq!(relative_to("/p", "/p/a"), Some("a"));
        assert_eq!(relative_to("/p/", "/p"), Some(""));
        assert_eq!(relative_to("/p", "/pp/a"), None);
    }
}
