//! `labelSelector` and `fieldSelector` query parameters.

use serde_json::Value;
use std::collections::BTreeSet;

use super::meta;
use super::status::{ApiError, ApiResult};

#[derive(Debug, Clone, PartialEq)]
enum Op {
    Equals(String),
    NotEquals(String),
    In(BTreeSet<String>),
    NotIn(BTreeSet<String>),
    Exists,
    DoesNotExist,
    GreaterThan(i64),
    LessThan(i64),
}

#[derive(Debug, Clone, PartialEq)]
struct Requirement {
    key: String,
    op: Op,
}

impl Requirement {
    fn matches(&self, value: Option<&str>) -> bool {
        match (&self.op, value) {
            (Op::Equals(want), Some(v)) => v == want,
            (Op::NotEquals(want), v) => v != Some(want.as_str()),
            (Op::In(set), Some(v)) => set.contains(v),
            (Op::NotIn(set), v) => v.is_none_or(|v| !set.contains(v)),
            (Op::Exists, v) => v.is_some(),
            (Op::DoesNotExist, v) => v.is_none(),
            (Op::GreaterThan(n), Some(v)) => v.parse::<i64>().is_ok_and(|v| v > *n),
            (Op::LessThan(n), Some(v)) => v.parse::<i64>().is_ok_and(|v| v < *n),
            _ => false,
        }
    }
}

/// Split on commas that are not inside `( … )`.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn bad(selector: &str, why: &str) -> ApiError {
    ApiError::bad_request(format!(
        "unable to parse requirement: {why} (in selector \"{selector}\")"
    ))
}

fn set_of(selector: &str, values: &str) -> ApiResult<BTreeSet<String>> {
    let inner = values
        .trim()
        .strip_prefix('(')
        .and_then(|v| v.strip_suffix(')'))
        .ok_or_else(|| bad(selector, "found a set without parentheses"))?;
    Ok(inner.split(',').map(|v| v.trim().to_owned()).collect())
}

fn parse_requirement(selector: &str, text: &str) -> ApiResult<Requirement> {
    let text = text.trim();
    if let Some(key) = text.strip_prefix('!') {
        return Ok(Requirement {
            key: key.trim().to_owned(),
            op: Op::DoesNotExist,
        });
    }
    for (token, make) in [
        (" notin ", Op::NotIn as fn(BTreeSet<String>) -> Op),
        (" in ", Op::In as fn(BTreeSet<String>) -> Op),
    ] {
        if let Some((key, values)) = text.split_once(token) {
            return Ok(Requirement {
                key: key.trim().to_owned(),
                op: make(set_of(selector, values)?),
            });
        }
    }
    let value = |v: &str| v.trim().to_owned();
    let number = |v: &str| {
        v.trim().parse::<i64>().map_err(|_| {
            bad(
                selector,
                "for 'gt', 'lt' operators, the value must be an integer",
            )
        })
    };
    let op_and_key = if let Some((k, v)) = text.split_once("!=") {
        (k, Op::NotEquals(value(v)))
    } else if let Some((k, v)) = text.split_once("==") {
        (k, Op::Equals(value(v)))
    } else if let Some((k, v)) = text.split_once('=') {
        (k, Op::Equals(value(v)))
    } else if let Some((k, v)) = text.split_once('>') {
        (k, Op::GreaterThan(number(v)?))
    } else if let Some((k, v)) = text.split_once('<') {
        (k, Op::LessThan(number(v)?))
    } else {
        (text, Op::Exists)
    };
    let key = op_and_key.0.trim();
    if key.is_empty() || key.contains(char::is_whitespace) {
        return Err(bad(selector, &format!("invalid key \"{key}\"")));
    }
    Ok(Requirement {
        key: key.to_owned(),
        op: op_and_key.1,
    })
}

fn parse(selector: &str) -> ApiResult<Vec<Requirement>> {
    if selector.trim().is_empty() {
        return Ok(Vec::new());
    }
    split_top_level(selector)
        .into_iter()
        .map(|part| parse_requirement(selector, part))
        .collect()
}

/// A parsed `labelSelector` plus `fieldSelector`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Selector {
    labels: Vec<Requirement>,
    fields: Vec<Requirement>,
}

impl Selector {
    /// Parse both selectors; `fields` lists the field paths the kind supports besides
    /// `metadata.name` and `metadata.namespace`.
    pub(crate) fn parse(
        label: Option<&str>,
        field: Option<&str>,
        fields: &[&str],
    ) -> ApiResult<Self> {
        let labels = parse(label.unwrap_or_default())?;
        let field_requirements = parse(field.unwrap_or_default())?;
        for r in &field_requirements {
            let supported = r.key == "metadata.name"
                || r.key == "metadata.namespace"
                || fields.contains(&r.key.as_str());
            if !supported {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {}",
                    r.key
                )));
            }
            if !matches!(r.op, Op::Equals(_) | Op::NotEquals(_)) {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{}'; can't understand '{}'",
                    field.unwrap_or_default(),
                    r.key
                )));
            }
        }
        Ok(Self {
            labels,
            fields: field_requirements,
        })
    }

    /// Whether any requirement is set (lists with selectors don't report `remainingItemCount`).
    pub(crate) fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    /// Whether an object matches every requirement.
    pub(crate) fn matches(&self, object: &Value) -> bool {
        let labels = meta::labels(object);
        let label_ok = self
            .labels
            .iter()
            .all(|r| r.matches(labels.and_then(|l| l.get(&r.key)).and_then(Value::as_str)));
        label_ok
            && self.fields.iter().all(|r| {
                let pointer = format!("/{}", r.key.replace('.', "/"));
                let value = object.pointer(&pointer).map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                });
                // Absent fields compare as empty strings, as the apiserver's field sets do.
                r.matches(Some(value.as_deref().unwrap_or_default()))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(labels: Value) -> Value {
        json!({"metadata": {"name": "a", "namespace": "ns", "labels": labels}, "spec": {"nodeName": "n1"}})
    }

    #[test]
    fn label_selectors_cover_every_operator() {
        let o = object(json!({"app": "ws", "tier": "2"}));
        let cases = [
            ("app=ws", true),
            ("app==ws", true),
            ("app!=ws", false),
            ("app in (ws, other)", true),
            ("app notin (ws)", false),
            ("app", true),
            ("!app", false),
            ("!missing", true),
            ("missing!=x", true),
            ("tier>1", true),
            ("tier<2", false),
            ("app=ws,tier in (1,2)", true),
            ("", true),
        ];
        for (selector, expected) in cases {
            let s = Selector::parse(Some(selector), None, &[]).unwrap();
            assert_eq!(s.matches(&o), expected, "{selector}");
        }
        assert_eq!(
            Selector::parse(Some("app in ws"), None, &[])
                .unwrap_err()
                .code,
            400
        );
    }

    #[test]
    fn field_selectors_support_name_namespace_and_kind_fields() {
        let o = object(json!({}));
        let s = Selector::parse(None, Some("metadata.name=a,metadata.namespace!=x"), &[]).unwrap();
        assert!(s.matches(&o));
        let pods = Selector::parse(None, Some("spec.nodeName=n1"), &["spec.nodeName"]).unwrap();
        assert!(pods.matches(&o));
        let err = Selector::parse(None, Some("spec.nodeName=n1"), &[]).unwrap_err();
        assert_eq!(err.message, "field label not supported: spec.nodeName");
    }
}
