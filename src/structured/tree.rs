//! TOML and JSON text → one tree of values that remember their spans.
//!
//! Both parsers keep byte offsets (TOML's spanned values, jsonc-parser's
//! ranges), so the walk over the tree that reads tasks is written once and
//! points into either format alike. A string remembers whether its text is
//! written out literally between its quotes, so that a problem inside it
//! (one bad character of a name) can be pointed at exactly.

use std::borrow::Cow;

use toml::de::{DeTable, DeValue};

use crate::source::{SourceId, Span};

/// A value and the text it was read from.
#[derive(Clone, Debug)]
pub(crate) struct Node<'t> {
    pub(crate) value: Value<'t>,
    /// The whole value as written: a string with its quotes.
    pub(crate) span: Span,
}

/// A value of either format.
#[derive(Clone, Debug)]
pub(crate) enum Value<'t> {
    /// A string, and where its text starts in the file when it is written
    /// there literally (no escapes), for spans inside it.
    String {
        text: Cow<'t, str>,
        literal_at: Option<usize>,
    },
    Integer(i64),
    Float(f64),
    Bool(bool),
    /// JSON's `null`.
    Null,
    /// A value taskrun never reads (a TOML date, an integer too large for
    /// 64 bits), by its type's name.
    Other(&'static str),
    Array(Vec<Node<'t>>),
    /// Keys in file order, each with its span.
    Table(Vec<(Key<'t>, Node<'t>)>),
}

/// A table's key.
#[derive(Clone, Debug)]
pub(crate) struct Key<'t> {
    pub(crate) name: Cow<'t, str>,
    pub(crate) span: Span,
}

impl Value<'_> {
    /// What the value is, for "expected …, found …".
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Value::String { .. } => "a string",
            Value::Integer(_) => "an integer",
            Value::Float(number) if !number.is_finite() => "a number that is not finite",
            Value::Float(number) if number.fract() != 0.0 => "a number with a fraction",
            Value::Float(_) => "a number too large",
            Value::Bool(_) => "a boolean",
            Value::Null => "null",
            Value::Other(name) => name,
            Value::Array(_) => "an array",
            Value::Table(_) => "a table",
        }
    }
}

impl Node<'_> {
    /// The span of `len` bytes at byte `at` of the string's text, when the
    /// text is written literally; otherwise the whole string.
    pub(crate) fn inner_span(&self, at: usize, len: usize) -> Span {
        match &self.value {
            Value::String {
                literal_at: Some(start),
                ..
            } => Span::new(self.span.source, start + at, len),
            _ => self.span,
        }
    }

    /// The span of a string's whole text (without its quotes) when it is
    /// written literally; otherwise the whole value.
    pub(crate) fn text_span(&self) -> Span {
        match &self.value {
            Value::String { text, .. } => self.inner_span(0, text.len()),
            _ => self.span,
        }
    }
}

/// A syntax error: the parser's message, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) message: String,
    pub(crate) span: Span,
}

/// Where a string's text starts in `text`, when the token at `range` is
/// that text between quotes (for TOML's multi-line strings, after the
/// newline that follows the opening quotes).
fn literal_at(text: &str, range: std::ops::Range<usize>, value: &str) -> Option<usize> {
    let raw = text.get(range.clone())?;
    for quote in ["\"\"\"", "'''", "\"", "'"] {
        let Some(inner) = raw
            .strip_prefix(quote)
            .and_then(|rest| rest.strip_suffix(quote))
        else {
            continue;
        };
        let mut start = range.start + quote.len();
        let mut inner = inner;
        if quote.len() == 3 {
            for newline in ["\r\n", "\n"] {
                if let Some(rest) = inner.strip_prefix(newline) {
                    start += newline.len();
                    inner = rest;
                    break;
                }
            }
        }
        return (inner == value).then_some(start);
    }
    None
}

/// Parses TOML text and hands its tree to `read`. Syntax errors come back
/// all at once, as far as the parser can recover.
pub(crate) fn toml<R>(
    text: &str,
    id: SourceId,
    read: impl FnOnce(&Node<'_>) -> R,
) -> Result<R, Vec<SyntaxError>> {
    let (table, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        return Err(errors
            .into_iter()
            .map(|error| {
                let range = error.span().unwrap_or(0..0);
                SyntaxError {
                    message: error.message().trim().to_owned(),
                    span: Span::new(id, range.start, range.len()),
                }
            })
            .collect());
    }
    let span = table.span();
    let root = Node {
        value: toml_table(text, id, table.get_ref()),
        span: Span::new(id, span.start, span.len()),
    };
    Ok(read(&root))
}

fn toml_table<'t>(text: &str, id: SourceId, table: &'t DeTable<'_>) -> Value<'t> {
    Value::Table(
        table
            .iter()
            .map(|(key, value)| {
                let span = key.span();
                (
                    Key {
                        name: Cow::Borrowed(key.get_ref().as_ref()),
                        span: Span::new(id, span.start, span.len()),
                    },
                    toml_node(text, id, value),
                )
            })
            .collect(),
    )
}

fn toml_node<'t>(text: &str, id: SourceId, node: &'t toml::Spanned<DeValue<'_>>) -> Node<'t> {
    let range = node.span();
    let value = match node.get_ref() {
        DeValue::String(string) => Value::String {
            literal_at: literal_at(text, range.clone(), string),
            text: Cow::Borrowed(string.as_ref()),
        },
        DeValue::Integer(integer) => i64::from_str_radix(integer.as_str(), integer.radix())
            .map_or(Value::Other("an integer too large"), Value::Integer),
        DeValue::Float(float) => float
            .as_str()
            .parse()
            .map_or(Value::Other("a number"), Value::Float),
        DeValue::Boolean(value) => Value::Bool(*value),
        DeValue::Datetime(_) => Value::Other("a date"),
        DeValue::Array(array) => {
            Value::Array(array.iter().map(|item| toml_node(text, id, item)).collect())
        }
        DeValue::Table(table) => toml_table(text, id, table),
    };
    Node {
        value,
        span: Span::new(id, range.start, range.len()),
    }
}

/// Parses JSON text (RFC 8259: no comments, no trailing commas) and hands
/// its tree to `read`. The parser stops at the first syntax error.
pub(crate) fn json<R>(
    text: &str,
    id: SourceId,
    read: impl FnOnce(&Node<'_>) -> R,
) -> Result<R, SyntaxError> {
    let strict = jsonc_parser::ParseOptions {
        allow_comments: false,
        allow_loose_object_property_names: false,
        allow_trailing_commas: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    };
    let parsed =
        jsonc_parser::parse_to_ast(text, &jsonc_parser::CollectOptions::default(), &strict)
            .map_err(|error| {
                let range = error.range();
                SyntaxError {
                    message: error.kind().to_string(),
                    span: Span::new(id, range.start, range.end - range.start),
                }
            })?;
    let Some(value) = parsed.value else {
        return Err(SyntaxError {
            message: "the file holds no JSON value".to_owned(),
            span: Span::new(id, 0, 0),
        });
    };
    let mut error = None;
    let root = json_node(text, id, &value, &mut error);
    match error {
        Some(error) => Err(error),
        None => Ok(read(&root)),
    }
}

/// The syntax error of a raw control character in a JSON string at `at`.
fn control_character(id: SourceId, at: usize) -> SyntaxError {
    SyntaxError {
        message: "a string holds a control character; write it as an escape, e.g. `\\n` or `\\t`"
            .to_owned(),
        span: Span::new(id, at, 1),
    }
}

/// `node` as a tree node; `error` gets the first string that holds a raw
/// control character (a tab, a newline), which JSON does not allow and
/// jsonc-parser lets through.
fn json_node<'t>(
    text: &str,
    id: SourceId,
    node: &'t jsonc_parser::ast::Value<'_>,
    error: &mut Option<SyntaxError>,
) -> Node<'t> {
    use jsonc_parser::ast::Value as Json;
    use jsonc_parser::common::Ranged;

    let range = node.range();
    let value = match node {
        Json::StringLit(string) => {
            let raw = text.get(range.start..range.end).unwrap_or_default();
            if let Some(at) = raw.find(|c: char| c < ' ')
                && error.is_none()
            {
                *error = Some(control_character(id, range.start + at));
            }
            Value::String {
                literal_at: literal_at(text, range.start..range.end, &string.value),
                text: Cow::Borrowed(string.value.as_ref()),
            }
        }
        Json::NumberLit(number) => match number.value.parse::<i64>() {
            Ok(integer) => Value::Integer(integer),
            // As TOML says of it.
            Err(_) if !number.value.contains(['.', 'e', 'E']) => {
                Value::Other("an integer too large")
            }
            Err(_) => number
                .value
                .parse::<f64>()
                .map_or(Value::Other("a number"), Value::Float),
        },
        Json::BooleanLit(value) => Value::Bool(value.value),
        Json::NullKeyword(_) => Value::Null,
        Json::Array(array) => Value::Array(
            array
                .elements
                .iter()
                .map(|item| json_node(text, id, item, error))
                .collect(),
        ),
        Json::Object(object) => Value::Table(
            object
                .properties
                .iter()
                .map(|property| {
                    let name = property.name.range();
                    let raw = text.get(name.start..name.end).unwrap_or_default();
                    if let Some(at) = raw.find(|c: char| c < ' ')
                        && error.is_none()
                    {
                        *error = Some(control_character(id, name.start + at));
                    }
                    let span = match literal_at(text, name.start..name.end, property.name.as_str())
                    {
                        Some(start) => Span::new(id, start, property.name.as_str().len()),
                        None => Span::new(id, name.start, name.end - name.start),
                    };
                    (
                        Key {
                            name: Cow::Borrowed(property.name.as_str()),
                            span,
                        },
                        json_node(text, id, &property.value, error),
                    )
                })
                .collect(),
        ),
    };
    Node {
        value,
        span: Span::new(id, range.start, range.end - range.start),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_at(text: &str, span: Span) -> &str {
        &text[span.offset..span.end()]
    }

    #[test]
    fn toml_spans_point_at_the_text() {
        let text = "[[task]]\nname = \"build\"\ncommand = \"\"\"\nmake\nmake install\n\"\"\"\nenv = { A = 'x' }\n";
        toml(text, SourceId::default(), |root| spans(text, root)).unwrap();
    }

    fn spans(text: &str, root: &Node<'_>) {
        let Value::Table(top) = &root.value else {
            panic!()
        };
        assert_eq!(top[0].0.name, "task");
        let Value::Array(tasks) = &top[0].1.value else {
            panic!()
        };
        let Value::Table(task) = &tasks[0].value else {
            panic!()
        };
        let keys: Vec<_> = task.iter().map(|(key, _)| key.name.as_ref()).collect();
        assert_eq!(keys, ["name", "command", "env"]);
        assert_eq!(text_at(text, task[0].0.span), "name");
        assert_eq!(text_at(text, task[0].1.span), "\"build\"");
        assert_eq!(text_at(text, task[0].1.text_span()), "build");
        assert_eq!(
            text_at(text, task[1].1.text_span()),
            "make\nmake install\n",
            "a multi-line string's text starts after the first newline"
        );
        let Value::Table(env) = &task[2].1.value else {
            panic!()
        };
        assert_eq!(text_at(text, env[0].1.text_span()), "x");
    }

    #[test]
    fn escaped_strings_are_pointed_at_whole() {
        let text = r#"{"name": "a\u0062"}"#;
        json(text, SourceId::default(), |root| {
            let Value::Table(top) = &root.value else {
                panic!()
            };
            assert_eq!(text_at(text, top[0].0.span), "name");
            assert!(
                matches!(&top[0].1.value, Value::String { text, literal_at: None } if text == "ab")
            );
            assert_eq!(text_at(text, top[0].1.text_span()), r#""a\u0062""#);
        })
        .unwrap();
    }

    #[test]
    fn syntax_errors_carry_their_position() {
        let errors = toml("[[task]]\nname = \n", SourceId::default(), |_| ()).unwrap_err();
        assert!(!errors.is_empty());
        assert!(errors[0].span.offset >= 9, "{errors:?}");
        let error = json("{\"task\": [1,]}", SourceId::default(), |_| ()).unwrap_err();
        assert_eq!(error.span.offset, 11, "{error:?}");
        assert!(json("{} // no comments", SourceId::default(), |_| ()).is_err());
        assert!(json("", SourceId::default(), |_| ()).is_err());
        let error = json("{\"a\": \"x\ty\"}", SourceId::default(), |_| ()).unwrap_err();
        assert_eq!(error.span.offset, 8, "{error:?}");
        assert!(error.message.contains("control character"), "{error:?}");
        let error = json("{\"ta\nsk\": []}", SourceId::default(), |_| ()).unwrap_err();
        assert_eq!(error.span.offset, 4, "{error:?}");
    }

    #[test]
    fn numbers() {
        let names = json(
            "[1, -2, 1.5, 1e400, 99999999999999999999]",
            SourceId::default(),
            |root| {
                let Value::Array(items) = &root.value else {
                    panic!()
                };
                items
                    .iter()
                    .map(|item| item.value.type_name())
                    .collect::<Vec<_>>()
            },
        )
        .unwrap();
        assert_eq!(
            names,
            [
                "an integer",
                "an integer",
                "a number with a fraction",
                "a number that is not finite",
                "an integer too large"
            ]
        );
    }
}
