//! `metadata` checks and helpers: names, labels, annotations, finalizers, timestamps.

use serde_json::{Map, Value};

use super::status::Cause;

const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric \
characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for \
validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or \
'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for \
validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const QUALIFIED_NAME_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start \
and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is \
'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' \
or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex \
used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

/// The current time as the apiserver writes timestamps (RFC 3339, seconds, `Z`).
pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `now` plus `seconds`.
pub(crate) fn now_plus(seconds: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(seconds))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A fresh `metadata.uid`.
pub(crate) fn uid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The 5 random characters `generateName` gets, from the apiserver's alphabet (no vowels).
pub(crate) fn name_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    uuid::Uuid::new_v4().as_bytes()[..5]
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// `metadata` as a map, created if absent.
pub(crate) fn meta_mut(object: &mut Value) -> &mut Map<String, Value> {
    if !object.get("metadata").is_some_and(Value::is_object) {
        object["metadata"] = Value::Object(Map::new());
    }
    match object.get_mut("metadata") {
        Some(Value::Object(meta)) => meta,
        _ => unreachable!("metadata was just made an object"),
    }
}

/// A string field of `metadata`.
pub(crate) fn meta_str<'v>(object: &'v Value, field: &str) -> Option<&'v str> {
    object.get("metadata")?.get(field)?.as_str()
}

/// `metadata.labels` (empty if absent).
pub(crate) fn labels(object: &Value) -> Option<&Map<String, Value>> {
    object.get("metadata")?.get("labels")?.as_object()
}

/// `metadata.finalizers`.
pub(crate) fn finalizers(object: &Value) -> Vec<String> {
    object
        .get("metadata")
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .map(|f| {
            f.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `metadata.deletionTimestamp` is set.
pub(crate) fn is_deleting(object: &Value) -> bool {
    meta_str(object, "deletionTimestamp").is_some()
}

fn is_alnum_lower(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// RFC 1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters.
pub(crate) fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.starts_with(is_alnum_lower)
        && s.ends_with(is_alnum_lower)
        && s.chars().all(|c| is_alnum_lower(c) || c == '-')
}

/// RFC 1123 subdomain: dot-separated labels, at most 253 characters.
pub(crate) fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

fn is_qualified_part(s: &str) -> bool {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    !s.is_empty()
        && s.len() <= 63
        && s.starts_with(alnum)
        && s.ends_with(alnum)
        && s.chars().all(|c| alnum(c) || matches!(c, '-' | '_' | '.'))
}

/// Problems with a label or annotation key (`prefix/name`), as field messages.
fn key_problems(key: &str) -> Vec<String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let mut problems = Vec::new();
    if !is_qualified_part(name) {
        problems.push(if name.len() > 63 {
            "name part must be no more than 63 characters".to_owned()
        } else {
            QUALIFIED_NAME_MSG.to_owned()
        });
    }
    if let Some(prefix) = prefix
        && !is_dns_subdomain(prefix)
    {
        problems.push(format!("prefix part {DNS1123_SUBDOMAIN_MSG}"));
    }
    problems
}

/// How a kind's names are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameRule {
    /// RFC 1123 subdomain (most kinds, custom resources).
    Subdomain,
    /// RFC 1123 label (namespaces).
    Label,
}

/// Check `metadata` of an object about to be stored.
pub(crate) fn validate(object: &Value, rule: NameRule) -> Vec<Cause> {
    let mut causes = Vec::new();
    let name = meta_str(object, "name").unwrap_or_default();
    if name.is_empty() {
        causes.push(Cause::new(
            "FieldValueRequired",
            "metadata.name",
            "Required value: name or generateName is required",
        ));
    } else {
        let (ok, message) = match rule {
            NameRule::Subdomain => (is_dns_subdomain(name), DNS1123_SUBDOMAIN_MSG),
            NameRule::Label => (is_dns_label(name), DNS1123_LABEL_MSG),
        };
        if !ok {
            causes.push(Cause::new(
                "FieldValueInvalid",
                "metadata.name",
                format!("Invalid value: \"{name}\": {message}"),
            ));
        }
    }
    if let Some(labels) = labels(object) {
        for (key, value) in labels {
            for problem in key_problems(key) {
                causes.push(Cause::new(
                    "FieldValueInvalid",
                    "metadata.labels",
                    format!("Invalid value: \"{key}\": {problem}"),
                ));
            }
            let text = value.as_str().unwrap_or_default();
            if !value.is_string() || !(text.is_empty() || is_qualified_part(text)) {
                causes.push(Cause::new(
                    "FieldValueInvalid",
                    "metadata.labels",
                    format!("Invalid value: {value}: {LABEL_VALUE_MSG}"),
                ));
            }
        }
    }
    if let Some(annotations) = object
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(Value::as_object)
    {
        for (key, value) in annotations {
            for problem in key_problems(key) {
                causes.push(Cause::new(
                    "FieldValueInvalid",
                    "metadata.annotations",
                    format!("Invalid value: \"{key}\": {problem}"),
                ));
            }
            if !value.is_string() {
                causes.push(Cause::new(
                    "FieldValueTypeInvalid",
                    format!("metadata.annotations.{key}"),
                    "Invalid value: must be a string",
                ));
            }
        }
    }
    for (i, finalizer) in finalizers(object).iter().enumerate() {
        if !key_problems(finalizer).is_empty() {
            causes.push(Cause::new(
                "FieldValueInvalid",
                format!("metadata.finalizers[{i}]"),
                format!("Invalid value: \"{finalizer}\": {QUALIFIED_NAME_MSG}"),
            ));
        }
    }
    causes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_follow_rfc_1123() {
        assert!(is_dns_subdomain("my-ws.example"));
        assert!(!is_dns_subdomain("My_WS"));
        assert!(is_dns_label("che-user"));
        assert!(!is_dns_label("a.b"));
        assert!(!is_dns_label(&"a".repeat(64)));
    }

    #[test]
    fn labels_and_names_are_checked() {
        let ok = json!({"metadata": {"name": "x", "labels": {"app.kubernetes.io/name": "ws", "empty": ""},
                                     "finalizers": ["example.com/cleanup"]}});
        assert!(validate(&ok, NameRule::Subdomain).is_empty());
        let bad = json!({"metadata": {"name": "Bad", "labels": {"-x": "y", "k": "bad value"}}});
        let fields: Vec<String> = validate(&bad, NameRule::Subdomain)
            .into_iter()
            .map(|c| c.field)
            .collect();
        assert_eq!(
            fields,
            ["metadata.name", "metadata.labels", "metadata.labels"]
        );
        assert_eq!(name_suffix().len(), 5);
    }
}
