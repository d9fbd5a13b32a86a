//! YAML text to a JSON value, remembering where every node and every mapping key was written.
//!
//! This module knows nothing about contracts. It reads exactly one YAML 1.2 document with
//! `saphyr-parser`, resolves plain scalars with the YAML 1.2 core schema, and returns a
//! [`serde_json::Value`] plus a [`Spans`] map from dotted paths (`spec.ports[1].name`) to
//! 1-based line and column. Duplicate keys, non-string keys and unsupported tags are reported
//! as problems; anchors and aliases are expanded within a node budget, and nesting depth is
//! capped, so hostile input cannot exhaust memory or the stack.

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span, Tag};
use serde_json::{Map, Value};
use std::collections::HashMap;

use super::problem::Problem;
use scalar::resolve_plain;

mod scalar;

/// Most nodes a document may expand to, aliases included.
const MAX_NODES: usize = 100_000;
/// Deepest nesting of sequences and mappings.
const MAX_DEPTH: usize = 64;

/// A 1-based line and column in the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mark {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl Mark {
    fn of(span: Span) -> Self {
        Self {
            line: span.start.line(),
            column: span.start.col() + 1,
        }
    }
}

/// Where each node and each mapping key of a document was written, by dotted path.
#[derive(Debug, Default)]
pub(crate) struct Spans {
    nodes: HashMap<String, Mark>,
    keys: HashMap<String, Mark>,
}

impl Spans {
    /// Where the value at `path` starts.
    pub fn node(&self, path: &str) -> Option<Mark> {
        self.nodes.get(path).copied()
    }

    /// Where the key of the mapping entry at `path` is written (`None` for list items and the
    /// document itself).
    pub fn key(&self, path: &str) -> Option<Mark> {
        self.keys.get(path).copied()
    }
}

/// One parsed document.
#[derive(Debug)]
pub(crate) struct Parsed {
    /// The document as JSON.
    pub value: Value,
    /// Where its parts were written.
    pub spans: Spans,
    /// Problems that did not stop parsing (duplicate keys, non-string keys, unknown tags);
    /// the offending entries are left out of `value`.
    pub problems: Vec<Problem>,
}

/// The dotted path of the entry `key` of the mapping at `parent`.
///
/// Keys made of letters, digits, `_` and `-` are written `parent.key`; any other key is
/// quoted, `parent["app.kubernetes.io/name"]`, so that paths stay unambiguous.
pub(crate) fn key_path(parent: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (plain, parent.is_empty()) {
        (true, true) => key.to_owned(),
        (true, false) => format!("{parent}.{key}"),
        (false, _) => format!("{parent}[{}]", Value::String(key.to_owned())),
    }
}

/// The dotted path of item `index` of the sequence at `parent`.
pub(crate) fn index_path(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// Parse `text`, which must hold exactly one YAML document.
///
/// `Err` is a problem that stopped parsing (malformed YAML, no document or more than one,
/// too deep, too large); nothing of the document is returned then.
pub(crate) fn parse(text: &str) -> Result<Parsed, Problem> {
    let mut builder = Builder::default();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(malformed)?;
        if builder.on_event(event, span)? {
            break;
        }
    }
    let Some(root) = builder.root else {
        return Err(Problem::error(
            "",
            1,
            1,
            "the document is empty: expected one YAML document",
        ));
    };
    let mut spans = Spans::default();
    let value = root.into_value(String::new(), &mut spans);
    Ok(Parsed {
        value,
        spans,
        problems: builder.problems,
    })
}

fn malformed(e: ScanError) -> Problem {
    Problem::error(
        "",
        e.marker().line(),
        e.marker().col() + 1,
        format!(
            "malformed YAML: {}; check the indentation and that every `{{`, `[` and quote is closed",
            e.info()
        ),
    )
}

#[derive(Debug, Clone)]
struct Node {
    mark: Mark,
    /// This node and every node under it.
    size: usize,
    kind: NodeKind,
}

#[derive(Debug, Clone)]
enum NodeKind {
    Scalar(Value),
    Seq(Vec<Node>),
    Map(Vec<(String, Mark, Node)>),
}

impl Node {
    fn into_value(self, path: String, spans: &mut Spans) -> Value {
        spans.nodes.insert(path.clone(), self.mark);
        match self.kind {
            NodeKind::Scalar(v) => v,
            NodeKind::Seq(items) => Value::Array(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| item.into_value(index_path(&path, i), spans))
                    .collect(),
            ),
            NodeKind::Map(entries) => {
                let mut map = Map::with_capacity(entries.len());
                for (key, key_mark, node) in entries {
                    let child = key_path(&path, &key);
                    spans.keys.insert(child.clone(), key_mark);
                    map.insert(key, node.into_value(child, spans));
                }
                Value::Object(map)
            }
        }
    }
}

/// A collection being read, waiting for its end event.
enum Frame {
    Seq {
        path: String,
        mark: Mark,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        path: String,
        mark: Mark,
        anchor: usize,
        entries: Vec<(String, Mark, Node)>,
        /// The key read, waiting for its value; `Err` when the key was rejected.
        key: Option<Result<(String, Mark), ()>>,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    nodes: usize,
    documents: usize,
    root: Option<Node>,
    problems: Vec<Problem>,
}

impl Builder {
    /// Take one event; `Ok(true)` once the document is complete.
    fn on_event(&mut self, event: Event<'_>, span: Span) -> Result<bool, Problem> {
        let mark = Mark::of(span);
        match event {
            Event::StreamStart | Event::Nothing | Event::DocumentEnd => {}
            Event::StreamEnd => return Ok(true),
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(Problem::error(
                        "",
                        mark.line,
                        mark.column,
                        "a second YAML document starts here; a contract file holds exactly one",
                    ));
                }
            }
            Event::Alias(id) => {
                let node = self.anchors.get(&id).cloned().ok_or_else(|| {
                    Problem::error("", mark.line, mark.column, "alias to an unknown anchor")
                })?;
                self.count(node.size, mark)?;
                self.complete(node)?;
            }
            Event::Scalar(text, style, anchor, tag) => {
                self.count(1, mark)?;
                let value = self.scalar(&text, style, tag.as_deref(), mark);
                let node = Node {
                    mark,
                    size: 1,
                    kind: NodeKind::Scalar(value),
                };
                self.anchor(anchor, &node);
                self.complete(node)?;
            }
            Event::SequenceStart(anchor, tag) => {
                let path = self.open(mark, tag.as_deref(), "seq")?;
                self.stack.push(Frame::Seq {
                    path,
                    mark,
                    anchor,
                    items: Vec::new(),
                });
            }
            Event::MappingStart(anchor, tag) => {
                let path = self.open(mark, tag.as_deref(), "map")?;
                self.stack.push(Frame::Map {
                    path,
                    mark,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Frame::Seq {
                        mark,
                        anchor,
                        items,
                        ..
                    }) => {
                        let size = 1 + items.iter().map(|n| n.size).sum::<usize>();
                        let kind = NodeKind::Seq(items);
                        (Node { mark, size, kind }, anchor)
                    }
                    Some(Frame::Map {
                        mark,
                        anchor,
                        entries,
                        ..
                    }) => {
                        let size = 1 + entries.iter().map(|(_, _, n)| n.size).sum::<usize>();
                        let kind = NodeKind::Map(entries);
                        (Node { mark, size, kind }, anchor)
                    }
                    None => {
                        return Err(Problem::error(
                            "",
                            mark.line,
                            mark.column,
                            "malformed YAML: a collection ends that never started",
                        ));
                    }
                };
                self.anchor(anchor, &node);
                self.complete(node)?;
            }
        }
        Ok(false)
    }

    /// Account for `n` more nodes, failing past the budget.
    fn count(&mut self, n: usize, mark: Mark) -> Result<(), Problem> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            return Err(Problem::error(
                "",
                mark.line,
                mark.column,
                format!(
                    "the document is too large: it expands (aliases included) to more than {MAX_NODES} nodes"
                ),
            ));
        }
        Ok(())
    }

    /// The path of the node about to be read (for a mapping key: of its mapping).
    fn next_path(&self) -> String {
        match self.stack.last() {
            None => String::new(),
            Some(Frame::Seq { path, items, .. }) => index_path(path, items.len()),
            Some(Frame::Map { path, key, .. }) => match key {
                Some(Ok((text, _))) => key_path(path, text),
                _ => path.clone(),
            },
        }
    }

    /// Start a collection: count it, check its depth and its tag; returns its path.
    fn open(&mut self, mark: Mark, tag: Option<&Tag>, expected: &str) -> Result<String, Problem> {
        self.count(1, mark)?;
        if self.stack.len() >= MAX_DEPTH {
            return Err(Problem::error(
                "",
                mark.line,
                mark.column,
                format!("the document nests more than {MAX_DEPTH} levels deep"),
            ));
        }
        if let Some(tag) = tag
            && !(tag.is_yaml_core_schema() && tag.suffix == expected)
        {
            self.unsupported_tag(tag, mark);
        }
        Ok(self.next_path())
    }

    fn anchor(&mut self, anchor: usize, node: &Node) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
    }

    /// Place a finished node in its parent (or make it the document).
    fn complete(&mut self, node: Node) -> Result<(), Problem> {
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                path, entries, key, ..
            }) => match key.take() {
                None => {
                    *key = Some(match node.kind {
                        NodeKind::Scalar(Value::String(text)) => Ok((text, node.mark)),
                        other => {
                            let found = match other {
                                NodeKind::Scalar(v) => format!("`{v}`"),
                                NodeKind::Seq(_) => "a list".to_owned(),
                                NodeKind::Map(_) => "a map".to_owned(),
                            };
                            self.problems.push(Problem::error(
                                path.clone(),
                                node.mark.line,
                                node.mark.column,
                                format!(
                                    "mapping keys must be strings, found {found}; quote the key"
                                ),
                            ));
                            Err(())
                        }
                    });
                }
                Some(Err(())) => {}
                Some(Ok((text, key_mark))) => {
                    if let Some((_, first, _)) = entries.iter().find(|(k, _, _)| *k == text) {
                        let first = first.line;
                        self.problems.push(Problem::error(
                            key_path(path, &text),
                            key_mark.line,
                            key_mark.column,
                            format!(
                                "duplicate key `{text}` (first written on line {first}); keep one"
                            ),
                        ));
                    } else {
                        entries.push((text, key_mark, node));
                    }
                }
            },
        }
        Ok(())
    }

    fn scalar(&mut self, text: &str, style: ScalarStyle, tag: Option<&Tag>, mark: Mark) -> Value {
        let Some(tag) = tag else {
            return match style {
                ScalarStyle::Plain => resolve_plain(text),
                _ => Value::String(text.to_owned()),
            };
        };
        // The non-specific tag `!` makes a scalar a string.
        if tag.handle == "!" && tag.suffix.is_empty() {
            return Value::String(text.to_owned());
        }
        if tag.is_yaml_core_schema() {
            let resolved = resolve_plain(text);
            let fits = match tag.suffix.as_str() {
                "str" => return Value::String(text.to_owned()),
                "null" => resolved.is_null(),
                "bool" => resolved.is_boolean(),
                "int" => resolved.is_i64() || resolved.is_u64(),
                "float" => resolved.is_number(),
                _ => {
                    self.unsupported_tag(tag, mark);
                    return resolved;
                }
            };
            if !fits {
                self.problems.push(Problem::error(
                    self.next_path(),
                    mark.line,
                    mark.column,
                    format!("`{text}` is not a valid `!!{}`", tag.suffix),
                ));
            }
            return resolved;
        }
        self.unsupported_tag(tag, mark);
        match style {
            ScalarStyle::Plain => resolve_plain(text),
            _ => Value::String(text.to_owned()),
        }
    }

    fn unsupported_tag(&mut self, tag: &Tag, mark: Mark) {
        let shown = if tag.is_yaml_core_schema() {
            format!("!!{}", tag.suffix)
        } else {
            tag.to_string()
        };
        self.problems.push(Problem::error(
            self.next_path(),
            mark.line,
            mark.column,
            format!("unsupported tag `{shown}`; remove it"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn value(text: &str) -> Value {
        parse(text).unwrap().value
    }

    #[test]
    fn plain_scalars_resolve_with_the_core_schema() {
        let v = value(
            "a: ~\nb: True\nc: 0x1F\nd: 0o17\ne: -12\nf: 1.5e3\ng: .inf\nh: 1.5.0\ni: yes\nj:\nk: '1'\nl: !!str 2\n",
        );
        assert_eq!(
            v,
            json!({"a": null, "b": true, "c": 31, "d": 15, "e": -12, "f": 1500.0,
                   "g": ".inf", "h": "1.5.0", "i": "yes", "j": null, "k": "1", "l": "2"})
        );
    }

    #[test]
    fn spans_point_at_nodes_and_keys() {
        let parsed = parse("spec:\n  ports:\n    - { name: a, port: 1 }\n    - name: b\n").unwrap();
        let s = &parsed.spans;
        assert_eq!(
            s.node("spec.ports[1].name"),
            Some(Mark {
                line: 4,
                column: 13
            })
        );
        assert_eq!(
            s.key("spec.ports[1].name"),
            Some(Mark { line: 4, column: 7 })
        );
        assert_eq!(
            s.key("spec.ports[0].port"),
            Some(Mark {
                line: 3,
                column: 18
            })
        );
        assert_eq!(s.key("spec"), Some(Mark { line: 1, column: 1 }));
    }

    #[test]
    fn duplicate_and_non_string_keys_are_problems() {
        let parsed = parse("a: 1\nb: 2\na: 3\n7: x\n").unwrap();
        assert_eq!(parsed.value, json!({"a": 1, "b": 2}));
        let lines: Vec<_> = parsed.problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, [3, 4]);
        assert!(parsed.problems[0].message.contains("duplicate key `a`"));
    }

    #[test]
    fn aliases_expand_within_a_budget() {
        assert_eq!(
            value("a: &x [1, 2]\nb: *x\n"),
            json!({"a": [1, 2], "b": [1, 2]})
        );
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..8 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            bomb.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let err = parse(&bomb).unwrap_err();
        assert!(err.message.contains("too large"), "{err}");
    }

    #[test]
    fn depth_and_document_count_are_capped() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(parse(&deep).unwrap_err().message.contains("levels deep"));
        assert!(parse("").unwrap_err().message.contains("empty"));
        assert!(
            parse("# only a comment\n")
                .unwrap_err()
                .message
                .contains("empty")
        );
        let two = parse("a: 1\n---\nb: 2\n").unwrap_err();
        assert_eq!((two.line, two.message.contains("second")), (2, true));
    }

    #[test]
    fn malformed_yaml_is_located() {
        let err = parse("a: {b: 1\n").unwrap_err();
        assert!(err.message.starts_with("malformed YAML"), "{err}");
        assert!(err.line >= 1 && err.column >= 1);
    }

    #[test]
    fn odd_keys_get_quoted_paths() {
        assert_eq!(
            key_path("metadata.labels", "app.io/name"),
            r#"metadata.labels["app.io/name"]"#
        );
        assert_eq!(key_path("", "spec"), "spec");
        assert_eq!(index_path("spec.ports", 2), "spec.ports[2]");
    }
}
