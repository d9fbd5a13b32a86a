//! Small HTML helpers for the report: escaping, link targets, durations and cutting long text.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::fmt;

/// Text made safe to put in HTML, inside elements and inside quoted attribute values: `&`, `<`,
/// `>`, `"` and `'` become character references.
pub(super) struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

/// Everything but unreserved URL characters and `/` is percent-encoded in a relative link.
const PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// A relative link to a file in the run directory (`/`-separated), percent-encoded so that no
/// name can become a scheme (`javascript:`), a query or a fragment.
pub(super) fn href(path: &str) -> String {
    // `./` keeps the link relative to the report even if `path` starts with `/` or `//`.
    format!("./{}", utf8_percent_encode(path, PATH))
}

/// A duration for people: `850 ms`, `12.345 s`, `3 min 04 s`, `2 h 05 min`.
pub(super) fn duration(ms: u64) -> String {
    let secs = ms / 1000;
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{secs}.{:03} s", ms % 1000),
        60_000..3_600_000 => format!("{} min {:02} s", secs / 60, secs % 60),
        _ => format!("{} h {:02} min", secs / 3600, secs % 3600 / 60),
    }
}

/// At most `max` bytes of `text`, cut at a character boundary, and how many bytes were left out.
pub(super) fn cut(text: &str, max: usize) -> (&str, usize) {
    if text.len() <= max {
        return (text, 0);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], text.len() - end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escape(s: &str) -> String {
        Escaped(s).to_string()
    }

    #[test]
    fn markup_and_quotes_are_escaped() {
        assert_eq!(
            escape("<script>alert(1)</script>"),
            "&lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(escape("a & b && c"), "a &amp; b &amp;&amp; c");
        assert_eq!(escape(r#"" onclick='x'"#), "&quot; onclick=&#39;x&#39;");
        assert_eq!(escape("&amp;"), "&amp;amp;");
    }

    #[test]
    fn plain_and_non_ascii_text_is_unchanged() {
        assert_eq!(escape(""), "");
        assert_eq!(escape("grüße — 日本 ✓"), "grüße — 日本 ✓");
        assert_eq!(escape("ends with <"), "ends with &lt;");
    }

    #[test]
    fn links_cannot_leave_the_run_directory_or_become_scripts() {
        assert_eq!(href("run.json"), "./run.json");
        assert_eq!(
            href("artifacts/logs/a b#1?.txt"),
            "./artifacts/logs/a%20b%231%3F.txt"
        );
        assert_eq!(href("javascript:alert(1)"), "./javascript%3Aalert%281%29");
        assert_eq!(href("\"><script>"), "./%22%3E%3Cscript%3E");
        assert_eq!(href("ü.diff"), "./%C3%BC.diff");
        assert_eq!(href("//example.com/x"), ".///example.com/x");
    }

    #[test]
    fn durations_use_the_largest_fitting_unit() {
        assert_eq!(duration(0), "0 ms");
        assert_eq!(duration(999), "999 ms");
        assert_eq!(duration(1_000), "1.000 s");
        assert_eq!(duration(12_345), "12.345 s");
        assert_eq!(duration(184_000), "3 min 04 s");
        assert_eq!(duration(7_500_000), "2 h 05 min");
    }

    #[test]
    fn cutting_keeps_whole_characters() {
        assert_eq!(cut("short", 10), ("short", 0));
        assert_eq!(cut("abcdef", 4), ("abcd", 2));
        // `ü` is two bytes; a cut through it keeps none of it.
        assert_eq!(cut("aü", 2), ("a", 2));
    }
}
