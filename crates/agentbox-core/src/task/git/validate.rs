//! Checks on what callers pass to git: URLs, branch names, remote names and authors.

use super::GitAuthor;
use crate::{Error, Result};

/// Check a clone or push URL: no credentials (`https://user:pass@…`, `https://token@…`), no
/// remote-helper syntax (`ext::…`), no option look-alikes or control characters. Returns the
/// protocol and host a token may be given to, for `http` and `https` URLs.
pub fn validate_url(url: &str) -> Result<Option<(String, String)>> {
    // Credentials first, so no later message repeats them.
    let parts = url.split_once("://").map(|(scheme, rest)| {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let (userinfo, host) = match authority.rsplit_once('@') {
            Some((userinfo, host)) => (Some(userinfo), host),
            None => (None, authority),
        };
        (scheme.to_ascii_lowercase(), userinfo, host)
    });
    if let Some((scheme, Some(userinfo), host)) = &parts {
        if matches!(scheme.as_str(), "http" | "https" | "ftp" | "ftps") {
            return Err(refused(format!(
                "the repository URL for host `{host}` embeds credentials; remove the `user@` part and pass the token separately"
            )));
        }
        if userinfo.contains(':') {
            return Err(refused(format!(
                "the repository URL for host `{host}` embeds a password; remove it and use a key or a token"
            )));
        }
    }
    let bad = |why: &str| {
        Err(refused(format!(
            "repository URL `{}` {why}; use an https, ssh or file URL or a path",
            url.escape_debug()
        )))
    };
    if url.is_empty() || url.starts_with('-') || url.chars().any(unsafe_char) {
        return bad("is empty, starts with `-` or holds spaces or control characters");
    }
    let transport = match &parts {
        Some((scheme, _, _)) => scheme.as_str(),
        None => url.split('/').next().unwrap_or_default(),
    };
    if transport.contains("::") {
        return bad("uses a remote helper (`<transport>::<address>`)");
    }
    match parts {
        Some((scheme, _, host)) if matches!(scheme.as_str(), "http" | "https") => {
            if host.is_empty() {
                return bad("has no host");
            }
            Ok(Some((scheme, host.to_owned())))
        }
        _ => Ok(None),
    }
}

/// Check a branch name by git's rules (`git check-ref-format --branch`), and refuse names
/// that start with `-` or are `HEAD`.
pub fn validate_branch_name(name: &str) -> Result<()> {
    let why = if name.is_empty() {
        Some("is empty")
    } else if name.starts_with('-') {
        Some("starts with `-`")
    } else if name == "HEAD" || name == "@" {
        Some("is reserved")
    } else if name
        .chars()
        .any(|c| c.is_control() || " ~^:?*[\\".contains(c))
    {
        Some("holds a space, a control character or one of `~^:?*[\\`")
    } else if name.contains("..") || name.contains("@{") || name.contains("//") {
        Some("holds `..`, `@{` or `//`")
    } else if name.starts_with('/') || name.ends_with('/') || name.ends_with('.') {
        Some("starts or ends with `/`, or ends with `.`")
    } else if name
        .split('/')
        .any(|part| part.starts_with('.') || part.ends_with(".lock"))
    {
        Some("has a part that starts with `.` or ends with `.lock`")
    } else {
        None
    };
    match why {
        Some(why) => Err(refused(format!(
            "branch name `{}` {why}; use letters, digits and `-`, `_`, `.`, `/`",
            name.escape_debug()
        ))),
        None => Ok(()),
    }
}

/// A plain remote name such as `origin` (anything else is taken as a URL or path).
pub(super) fn is_remote_name(remote: &str) -> bool {
    let mut chars = remote.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

pub(super) fn validate_author(author: &GitAuthor) -> Result<()> {
    for (field, value) in [("name", &author.name), ("email", &author.email)] {
        if value.trim().is_empty()
            || value
                .chars()
                .any(|c| c.is_control() || c == '<' || c == '>')
        {
            return Err(refused(format!(
                "commit author {field} `{}` is empty or holds `<`, `>` or control characters",
                value.escape_debug()
            )));
        }
    }
    Ok(())
}

/// Characters no URL or revision passed to git may hold.
pub(super) fn unsafe_char(c: char) -> bool {
    c.is_control() || c.is_whitespace()
}

/// [`Error::Refused`] for input the helpers will not pass to git.
pub(super) fn refused(message: String) -> Error {
    Error::Refused {
        backend: super::BACKEND,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_with_credentials_are_refused() {
        for url in [
            "https://user:pass@github.com/o/r.git",
            "https://ghp_token@github.com/o/r.git",
            "HTTP://x-access-token:t@example.com/r",
            "ssh://git:secret@example.com/r.git",
            "ftp://u@example.com/r",
        ] {
            let err = validate_url(url).unwrap_err();
            assert!(matches!(err, Error::Refused { .. }), "{url}: {err}");
            assert!(!err.to_string().contains("pass@"), "{err}");
        }
    }

    #[test]
    fn hostile_urls_are_refused() {
        for url in [
            "",
            "--upload-pack=touch /tmp/x",
            "ext::sh -c touch% /tmp/x",
            "https://example.com/r\n.git",
            "https://example.com/a b",
            "https:///no-host",
        ] {
            assert!(validate_url(url).is_err(), "{url:?}");
        }
    }

    #[test]
    fn tokens_are_pinned_to_the_http_host_and_port() {
        assert_eq!(
            validate_url("https://github.com/o/r.git").unwrap(),
            Some(("https".to_owned(), "github.com".to_owned()))
        );
        assert_eq!(
            validate_url("http://127.0.0.1:8080/o/r?x@y").unwrap(),
            Some(("http".to_owned(), "127.0.0.1:8080".to_owned()))
        );
        for url in [
            "git@github.com:o/r.git",
            "ssh://git@github.com/o/r.git",
            "/remotes/origin.git",
            "file:///remotes/origin.git",
        ] {
            assert_eq!(validate_url(url).unwrap(), None, "{url}");
        }
    }

    #[test]
    fn branch_names_follow_gits_rules() {
        for good in ["main", "agentbox/fix-1", "feature/x.y", "v1_2", "ünïcode"] {
            validate_branch_name(good).unwrap();
        }
        for bad in [
            "",
            "-f",
            "--force",
            "HEAD",
            "@",
            "a b",
            "a..b",
            "a~1",
            "a^",
            "a:b",
            "a?",
            "a*",
            "a[b",
            "a\\b",
            "a@{1}",
            "a//b",
            "/a",
            "a/",
            "a.",
            ".a",
            "a/.b",
            "a.lock",
            "a/b.lock/c",
            "a\nb",
            "a\u{7f}",
        ] {
            let err = validate_branch_name(bad).unwrap_err();
            assert!(matches!(err, Error::Refused { .. }), "{bad:?}: {err}");
        }
    }

    #[test]
    fn only_plain_words_are_remote_names() {
        assert!(is_remote_name("origin"));
        assert!(is_remote_name("up-stream_2.x"));
        for url in [
            "",
            "-o",
            "/remotes/o.git",
            "../o",
            "git@h:o/r",
            "https://h/r",
        ] {
            assert!(!is_remote_name(url), "{url}");
        }
    }

    #[test]
    fn authors_cannot_smuggle_angle_brackets() {
        let author = |name: &str, email: &str| GitAuthor {
            name: name.to_owned(),
            email: email.to_owned(),
        };
        validate_author(&author("Agent Box", "bot@example.com")).unwrap();
        assert!(validate_author(&author("A <x@y>", "bot@example.com")).is_err());
        assert!(validate_author(&author("A", "")).is_err());
        assert!(validate_author(&author("A\nB", "b@e")).is_err());
    }
}
