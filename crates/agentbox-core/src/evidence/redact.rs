//! [`Redactor`]: replaces every registered secret value with [`REDACTED`] in text, bytes, JSON
//! and streams of chunks.

use aho_corasick::{AhoCorasick, MatchKind};
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

/// What every secret value is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Replaces registered secret values with [`REDACTED`].
///
/// Cheap to clone: clones share one set of values, so a value registered through any clone is
/// redacted by all of them from then on. Overlapping values are redacted as a whole (the longest
/// match wins). `Debug` shows how many values are registered, never the values.
///
/// ```
/// use agentbox_core::evidence::{Redactor, REDACTED};
/// use secrecy::SecretString;
///
/// let redactor = Redactor::new();
/// redactor.register(&SecretString::from("hunter2"));
/// assert_eq!(redactor.redact("password=hunter2"), format!("password={REDACTED}"));
/// ```
#[derive(Clone, Default)]
pub struct Redactor {
    patterns: Arc<RwLock<Arc<Patterns>>>,
}

/// The registered values and the automaton built from them. Replaced as a whole when a value is
/// registered, so a reader works on one consistent snapshot without holding the lock.
#[derive(Default)]
struct Patterns {
    secrets: Vec<SecretString>,
    matcher: Matcher,
}

#[derive(Default)]
enum Matcher {
    /// No values registered.
    #[default]
    Nothing,
    /// Leftmost-longest automaton over every value.
    Automaton(AhoCorasick),
    /// The automaton could not be built (only for absurdly large sets): fail closed and redact
    /// every non-empty input as a whole rather than leak.
    Everything,
}

impl Patterns {
    fn build(secrets: Vec<SecretString>) -> Self {
        let built = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(secrets.iter().map(|s| s.expose_secret().as_bytes()));
        let matcher = match built {
            Ok(automaton) => Matcher::Automaton(automaton),
            Err(error) => {
                tracing::error!(%error, secrets = secrets.len(), "could not build the redaction automaton; redacting all output");
                Matcher::Everything
            }
        };
        Self { secrets, matcher }
    }

    fn max_len(&self) -> usize {
        self.secrets
            .iter()
            .map(|s| s.expose_secret().len())
            .max()
            .unwrap_or(0)
    }

    /// Whether `tail` could be the start of a registered value (or holds one entirely).
    fn could_start_secret(&self, tail: &[u8]) -> bool {
        self.secrets.iter().any(|s| {
            let s = s.expose_secret().as_bytes();
            s.starts_with(tail) || tail.starts_with(s)
        })
    }

    fn redact_str(&self, text: &str) -> String {
        match &self.matcher {
            Matcher::Nothing => text.to_owned(),
            Matcher::Everything if text.is_empty() => String::new(),
            Matcher::Everything => REDACTED.to_owned(),
            Matcher::Automaton(automaton) => {
                let mut out = String::with_capacity(text.len());
                automaton.replace_all_with(text, &mut out, |_, _, dst| {
                    dst.push_str(REDACTED);
                    true
                });
                out
            }
        }
    }

    fn is_match(&self, text: &str) -> bool {
        match &self.matcher {
            Matcher::Nothing => false,
            Matcher::Everything => !text.is_empty(),
            Matcher::Automaton(automaton) => automaton.is_match(text),
        }
    }

    /// Redact string values and object keys of `value`, at any depth.
    fn redact_json(&self, value: &mut serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::String(s) => *s = self.redact_str(s),
            Value::Array(items) => items.iter_mut().for_each(|item| self.redact_json(item)),
            Value::Object(map) => {
                if !map.keys().any(|k| self.is_match(k)) {
                    map.values_mut().for_each(|item| self.redact_json(item));
                } else {
                    *map = std::mem::take(map)
                        .into_iter()
                        .map(|(k, mut v)| {
                            self.redact_json(&mut v);
                            (self.redact_str(&k), v)
                        })
                        .collect();
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    fn redact_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        match &self.matcher {
            Matcher::Nothing => bytes.to_vec(),
            Matcher::Everything if bytes.is_empty() => Vec::new(),
            Matcher::Everything => REDACTED.as_bytes().to_vec(),
            Matcher::Automaton(automaton) => {
                let mut out = Vec::with_capacity(bytes.len());
                automaton.replace_all_with_bytes(bytes, &mut out, |_, _, dst| {
                    dst.extend_from_slice(REDACTED.as_bytes());
                    true
                });
                out
            }
        }
    }
}

impl Redactor {
    /// A redactor with no values registered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Redact `secret`'s value from everything handled after this call. Empty values and values
    /// already registered are ignored.
    pub fn register(&self, secret: &SecretString) {
        let value = secret.expose_secret();
        if value.is_empty() {
            return;
        }
        let mut guard = self
            .patterns
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if guard.secrets.iter().any(|s| s.expose_secret() == value) {
            return;
        }
        let mut secrets = guard.secrets.clone();
        secrets.push(secret.clone());
        *guard = Arc::new(Patterns::build(secrets));
    }

    /// How many distinct values are registered.
    pub fn len(&self) -> usize {
        self.snapshot().secrets.len()
    }

    /// True when no value is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `text` with every registered value replaced by [`REDACTED`].
    pub fn redact(&self, text: &str) -> String {
        self.snapshot().redact_str(text)
    }

    /// `bytes` with every registered value replaced by [`REDACTED`].
    pub fn redact_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        self.snapshot().redact_bytes(bytes)
    }

    /// Redact every string in `value` in place: string values and object keys, at any depth.
    ///
    /// Working on the parsed value (rather than on serialised text) means JSON escaping cannot
    /// hide a value containing `"`, `\` or control characters.
    pub fn redact_json(&self, value: &mut serde_json::Value) {
        let patterns = self.snapshot();
        if !matches!(patterns.matcher, Matcher::Nothing) {
            patterns.redact_json(value);
        }
    }

    /// A redactor for output arriving in chunks, which redacts values split across chunks.
    pub fn stream(&self) -> StreamRedactor {
        StreamRedactor {
            redactor: self.clone(),
            pending: Vec::new(),
        }
    }

    fn snapshot(&self) -> Arc<Patterns> {
        Arc::clone(&self.patterns.read().unwrap_or_else(PoisonError::into_inner))
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("secrets", &self.len())
            .finish()
    }
}

/// Redacts a stream of chunks (command output, logs) as it arrives.
///
/// A value split across chunks is still redacted: the end of a chunk that could be the start of
/// a registered value (at most the longest value's length less one byte) is held back until the
/// next chunk shows whether it is. Made by [`Redactor::stream`]; it sees values registered later.
///
/// ```
/// use agentbox_core::evidence::{Redactor, REDACTED};
/// use secrecy::SecretString;
///
/// let redactor = Redactor::new();
/// redactor.register(&SecretString::from("hunter2"));
/// let mut stream = redactor.stream();
/// let mut out = stream.push(b"password=hun");
/// out.extend(stream.push(b"ter2\n"));
/// out.extend(stream.finish());
/// assert_eq!(out, format!("password={REDACTED}\n").into_bytes());
/// ```
pub struct StreamRedactor {
    redactor: Redactor,
    pending: Vec<u8>,
}

impl StreamRedactor {
    /// Redact the next chunk, returning what can be released now.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        let patterns = self.redactor.snapshot();
        let mut buf = std::mem::take(&mut self.pending);
        buf.extend_from_slice(chunk);
        let automaton = match &patterns.matcher {
            Matcher::Automaton(automaton) => automaton,
            Matcher::Nothing | Matcher::Everything => return patterns.redact_bytes(&buf),
        };
        // A value starting before `cut` lies wholly inside `buf`, so matches there are final.
        let cut = buf
            .len()
            .saturating_sub(patterns.max_len().saturating_sub(1));
        let mut out = Vec::with_capacity(buf.len());
        let mut done = 0;
        for found in automaton.find_iter(&buf) {
            if found.start() >= cut {
                break;
            }
            out.extend_from_slice(&buf[done..found.start()]);
            out.extend_from_slice(REDACTED.as_bytes());
            done = found.end();
        }
        // In the tail, release bytes up to the first place a value may start.
        let keep = (done.max(cut)..buf.len())
            .find(|&at| patterns.could_start_secret(&buf[at..]))
            .unwrap_or(buf.len());
        out.extend_from_slice(&buf[done..keep]);
        self.pending = buf.split_off(keep);
        out
    }

    /// End the stream, returning the rest, redacted.
    pub fn finish(mut self) -> Vec<u8> {
        let rest = std::mem::take(&mut self.pending);
        self.redactor.redact_bytes(&rest)
    }
}

impl fmt::Debug for StreamRedactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamRedactor")
            .field("secrets", &self.redactor.len())
            .field("held_back", &self.pending.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn redactor(values: &[&str]) -> Redactor {
        let redactor = Redactor::new();
        for value in values {
            redactor.register(&SecretString::from(*value));
        }
        redactor
    }

    fn streamed(redactor: &Redactor, chunks: &[&[u8]]) -> Vec<u8> {
        let mut stream = redactor.stream();
        let mut out = Vec::new();
        for chunk in chunks {
            out.extend(stream.push(chunk));
        }
        out.extend(stream.finish());
        out
    }

    #[test]
    fn redacts_every_occurrence() {
        let r = redactor(&["s3cret"]);
        assert_eq!(
            r.redact("a s3cret and s3cret"),
            "a [REDACTED] and [REDACTED]"
        );
    }

    #[test]
    fn empty_and_duplicate_values_are_ignored() {
        let r = redactor(&["", "tok", "tok"]);
        assert_eq!(r.len(), 1);
        assert_eq!(r.redact("x tok"), "x [REDACTED]");
    }

    #[test]
    fn overlapping_values_are_redacted_whole() {
        let r = redactor(&["abc", "abcdef", "cdefgh"]);
        assert_eq!(r.redact("xabcdefghy"), "x[REDACTED]ghy");
        assert!(!r.redact("abcdefgh").contains("abc"));
    }

    #[test]
    fn clones_share_later_registrations() {
        let r = Redactor::new();
        let clone = r.clone();
        assert_eq!(clone.redact("late"), "late");
        r.register(&SecretString::from("late"));
        assert_eq!(clone.redact("late"), REDACTED);
    }

    #[test]
    fn debug_shows_count_not_values() {
        let r = redactor(&["visible-if-leaked"]);
        let debug = format!("{r:?} {:?}", r.stream());
        assert!(!debug.contains("visible-if-leaked"), "{debug}");
        assert!(debug.contains("secrets: 1"), "{debug}");
    }

    #[test]
    fn redact_json_walks_values_and_keys() {
        let r = redactor(&["pw\"\\\n"]);
        let mut value = json!({"a": ["x pw\"\\\n y", {"pw\"\\\n": 1}], "n": 3});
        r.redact_json(&mut value);
        assert_eq!(
            value,
            json!({"a": ["x [REDACTED] y", {"[REDACTED]": 1}], "n": 3})
        );
    }

    #[test]
    fn redact_bytes_handles_non_utf8() {
        let r = redactor(&["key"]);
        assert_eq!(
            r.redact_bytes(b"\xffkey\xfe"),
            b"\xff[REDACTED]\xfe".to_vec()
        );
    }

    #[test]
    fn stream_redacts_a_value_split_at_every_offset_into_two_chunks() {
        let r = redactor(&["sup3r-secret"]);
        let text = b"before sup3r-secret after";
        for split in 0..=text.len() {
            let (a, b) = text.split_at(split);
            assert_eq!(
                streamed(&r, &[a, b]),
                b"before [REDACTED] after",
                "split at {split}"
            );
        }
    }

    #[test]
    fn stream_redacts_a_value_split_across_three_chunks() {
        let r = redactor(&["sup3r-secret"]);
        let text = b"xsup3r-secretsup3r-secret!";
        for first in 0..=text.len() {
            for second in first..=text.len() {
                let chunks: [&[u8]; 3] = [&text[..first], &text[first..second], &text[second..]];
                assert_eq!(
                    streamed(&r, &chunks),
                    b"x[REDACTED][REDACTED]!",
                    "splits at {first} and {second}"
                );
            }
        }
    }

    #[test]
    fn stream_prefers_the_longest_value_across_chunks() {
        let r = redactor(&["ab", "abcdef"]);
        assert_eq!(streamed(&r, &[b"xab", b"cdefy"]), b"x[REDACTED]y");
        assert_eq!(streamed(&r, &[b"xab", b"cdy"]), b"x[REDACTED]cdy");
    }

    #[test]
    fn stream_releases_text_that_cannot_start_a_value() {
        let r = redactor(&["secret"]);
        let mut stream = r.stream();
        assert_eq!(stream.push(b"hello\n"), b"hello\n");
        assert_eq!(stream.push(b"a sec"), b"a ");
        assert_eq!(stream.push(b"ond"), b"second");
        assert!(stream.finish().is_empty());
    }

    #[test]
    fn stream_finish_releases_a_partial_value_verbatim() {
        let r = redactor(&["secret"]);
        assert_eq!(streamed(&r, &[b"the sec"]), b"the sec");
    }
}
