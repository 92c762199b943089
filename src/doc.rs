//! Input documents: the config and identities files as a tree that keeps
//! each key's line, and the collection of input problems, so that every
//! error of a file is reported at once with file, line and fix.
//!
//! Reads only; never writes a file.

use std::cell::RefCell;
use std::fmt;
use std::path::{Path, PathBuf};

/// One node of a parsed TOML or JSON document.
#[derive(Debug, Clone)]
pub struct Node {
    pub value: Value,
    /// 1-based line, where the format tells (TOML); JSON has none.
    pub line: Option<usize>,
}

impl Node {
    /// A node without a line (JSON).
    fn plain(value: Value) -> Node {
        Node { value, line: None }
    }
}

#[derive(Debug, Clone)]
pub enum Value {
    String(String),
    Integer(i64),
    Float(f64),
    Boolean(bool),
    Array(Vec<Node>),
    Table(Vec<(String, Node)>),
    /// A TOML date or time: no field of ours takes one.
    Datetime,
    Null,
}

impl Value {
    /// The type's name as an administrator reads it in a message.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::String(_) => "a string",
            Value::Integer(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Boolean(_) => "true or false",
            Value::Array(_) => "a list",
            Value::Table(_) => "a table",
            Value::Datetime => "a date",
            Value::Null => "null",
        }
    }
}

/// One problem of an input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub file: PathBuf,
    pub line: Option<usize>,
    /// Where in the document, for formats without lines (`users[2].itsm[0]`).
    pub path: String,
    pub message: String,
    pub fix: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        match self.line {
            Some(line) => write!(f, ", line {line}")?,
            None if !self.path.is_empty() => write!(f, ", at {}", self.path)?,
            None => {}
        }
        write!(f, ": {}", self.message)?;
        if !self.fix.is_empty() {
            write!(f, "; {}", self.fix)?;
        }
        Ok(())
    }
}

/// All problems found in the input files of one command.
#[derive(Debug, Default)]
pub struct InputErrors(pub Vec<InputError>);

impl fmt::Display for InputErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.len();
        writeln!(
            f,
            "{count} problem{} in the input files; nothing was done:",
            if count == 1 { "" } else { "s" }
        )?;
        for error in &self.0 {
            writeln!(f, "  {error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for InputErrors {}

/// Collects problems while a file is read; shared by the readers of its
/// tables.
#[derive(Debug)]
pub struct Problems {
    pub file: PathBuf,
    errors: RefCell<Vec<InputError>>,
}

impl Problems {
    pub fn new(file: &Path) -> Problems {
        Problems {
            file: file.to_path_buf(),
            errors: RefCell::new(Vec::new()),
        }
    }

    pub fn add(
        &self,
        line: Option<usize>,
        path: &str,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.errors.borrow_mut().push(InputError {
            file: self.file.clone(),
            line,
            path: path.to_owned(),
            message: message.into(),
            fix: fix.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.errors.borrow().is_empty()
    }

    pub fn into_errors(self) -> Vec<InputError> {
        self.errors.into_inner()
    }
}

/// Parses TOML into a [`Node`] tree with lines, or one problem naming the
/// line of the syntax error.
pub fn parse_toml(file: &Path, text: &str) -> Result<Node, InputError> {
    match toml::de::DeTable::parse(text) {
        Ok(table) => {
            let lines = LineIndex::new(text);
            let span = table.span();
            Ok(Node {
                line: Some(lines.line(span.start)),
                value: Value::Table(convert_table(table.get_ref(), &lines)),
            })
        }
        Err(err) => {
            let lines = LineIndex::new(text);
            let line = err.span().map(|span| lines.line(span.start));
            Err(InputError {
                file: file.to_path_buf(),
                line,
                path: String::new(),
                message: format!("not valid TOML: {}", err.message().trim()),
                fix: "correct the syntax at that line".into(),
            })
        }
    }
}

/// Parses JSON into a [`Node`] tree (no lines; errors name the JSON path).
pub fn parse_json(file: &Path, text: &str) -> Result<Node, InputError> {
    // A byte order mark is what some editors write first; it is no JSON.
    let text = text.trim_start_matches('\u{feff}');
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let parsed = serde::de::DeserializeSeed::deserialize(JsonNode, &mut deserializer)
        .and_then(|node| deserializer.end().map(|()| node));
    parsed.map_err(|err| InputError {
        file: file.to_path_buf(),
        line: Some(err.line()),
        path: String::new(),
        message: format!("not valid JSON: {err}"),
        fix: if err.to_string().contains(REPEATED_KEY) {
            "keep one of the two; a repeated key would silently hide the first value".into()
        } else {
            "correct the syntax at that line".into()
        },
    })
}

/// What a repeated key's error says, to give it its own fix.
const REPEATED_KEY: &str = "is repeated in one object";

/// Builds a [`Node`] straight from JSON, refusing an object with a repeated
/// key (serde_json would keep the last value without a word).
struct JsonNode;

impl<'de> serde::de::DeserializeSeed<'de> for JsonNode {
    type Value = Node;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for JsonNode {
    type Value = Node;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::plain(Value::Null))
    }

    fn visit_bool<E>(self, b: bool) -> Result<Node, E> {
        Ok(Node::plain(Value::Boolean(b)))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Node, E> {
        Ok(Node::plain(Value::Integer(n)))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Node, E> {
        Ok(Node::plain(match i64::try_from(n) {
            Ok(n) => Value::Integer(n),
            Err(_) => Value::Float(n as f64),
        }))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Node, E> {
        Ok(Node::plain(Value::Float(n)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Node, E> {
        Ok(Node::plain(Value::String(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Node, E> {
        Ok(Node::plain(Value::String(s)))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(JsonNode)? {
            items.push(item);
        }
        Ok(Node::plain(Value::Array(items)))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries: Vec<(String, Node)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if entries.iter().any(|(k, _)| *k == key) {
                return Err(serde::de::Error::custom(format!(
                    "the key \"{key}\" {REPEATED_KEY}"
                )));
            }
            let value = map.next_value_seed(JsonNode)?;
            entries.push((key, value));
        }
        Ok(Node::plain(Value::Table(entries)))
    }
}

fn convert_table(table: &toml::de::DeTable<'_>, lines: &LineIndex) -> Vec<(String, Node)> {
    table
        .iter()
        .map(|(key, value)| {
            let line = lines.line(key.span().start);
            let mut node = convert_value(value.get_ref(), lines, value.span().start);
            // A key's own line is where an administrator looks for it.
            node.line = Some(line);
            (key.get_ref().to_string(), node)
        })
        .collect()
}

fn convert_value(value: &toml::de::DeValue<'_>, lines: &LineIndex, start: usize) -> Node {
    use toml::de::DeValue;
    let value = match value {
        DeValue::String(s) => Value::String(s.to_string()),
        DeValue::Integer(i) => match i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()) {
            Ok(n) => Value::Integer(n),
            Err(_) => Value::Float(f64::NAN),
        },
        DeValue::Float(f) => Value::Float(f.as_str().replace('_', "").parse().unwrap_or(f64::NAN)),
        DeValue::Boolean(b) => Value::Boolean(*b),
        DeValue::Datetime(_) => Value::Datetime,
        DeValue::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| convert_value(item.get_ref(), lines, item.span().start))
                .collect(),
        ),
        DeValue::Table(table) => Value::Table(convert_table(table, lines)),
    };
    Node {
        value,
        line: Some(lines.line(start)),
    }
}

/// Byte offset to 1-based line.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    fn line(&self, offset: usize) -> usize {
        match self.starts.binary_search(&offset) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }
}

/// Reads one table, checking types and refusing keys it does not know.
pub struct TableReader<'a> {
    problems: &'a Problems,
    entries: &'a [(String, Node)],
    pub line: Option<usize>,
    pub path: String,
    known: RefCell<Vec<&'static str>>,
}

impl<'a> TableReader<'a> {
    /// `None` (with a problem) if `node` is not a table.
    pub fn new(problems: &'a Problems, node: &'a Node, path: &str) -> Option<TableReader<'a>> {
        match &node.value {
            Value::Table(entries) => Some(TableReader {
                problems,
                entries,
                line: node.line,
                path: path.to_owned(),
                known: RefCell::new(Vec::new()),
            }),
            other => {
                problems.add(
                    node.line,
                    path,
                    format!("`{}` is {}, not a table", display_path(path), other.kind()),
                    "write it as a table",
                );
                None
            }
        }
    }

    pub fn problems(&self) -> &'a Problems {
        self.problems
    }

    fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The node under `key`, marking the key as known.
    pub fn node(&self, key: &'static str) -> Option<&'a Node> {
        self.known.borrow_mut().push(key);
        self.entries
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, node)| node)
    }

    /// Marks keys as known without reading them.
    pub fn allow(&self, keys: &[&'static str]) {
        self.known.borrow_mut().extend_from_slice(keys);
    }

    pub fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|(name, _)| name == key)
    }

    fn wrong_type(&self, key: &str, node: &Node, wanted: &str) {
        self.problems.add(
            node.line,
            &self.child_path(key),
            format!("`{key}` is {}, not {wanted}", node.value.kind()),
            format!("write `{key}` as {wanted}"),
        );
    }

    /// An optional string; an empty string or `null` reads as absent.
    pub fn string(&self, key: &'static str) -> Option<String> {
        let node = self.node(key)?;
        match &node.value {
            Value::String(s) if s.trim().is_empty() => None,
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            _ => {
                self.wrong_type(key, node, "a string");
                None
            }
        }
    }

    /// A required non-empty string.
    pub fn required_string(&self, key: &'static str, fix: &str) -> Option<String> {
        let present = self.has(key);
        let value = self.string(key);
        if value.is_none() && (!present || self.is_empty_string(key)) {
            self.problems.add(
                self.node(key).and_then(|n| n.line).or(self.line),
                &self.child_path(key),
                if present {
                    format!("`{}` is empty", self.child_path(key))
                } else {
                    format!("`{}` is missing", self.child_path(key))
                },
                fix,
            );
        }
        value
    }

    fn is_empty_string(&self, key: &'static str) -> bool {
        matches!(self.node(key).map(|n| &n.value), Some(Value::String(s)) if s.trim().is_empty())
            || matches!(self.node(key).map(|n| &n.value), Some(Value::Null))
    }

    pub fn boolean(&self, key: &'static str) -> Option<bool> {
        let node = self.node(key)?;
        match &node.value {
            Value::Boolean(b) => Some(*b),
            _ => {
                self.wrong_type(key, node, "true or false");
                None
            }
        }
    }

    pub fn integer(&self, key: &'static str) -> Option<i64> {
        let node = self.node(key)?;
        match &node.value {
            Value::Integer(n) => Some(*n),
            _ => {
                self.wrong_type(key, node, "a whole number");
                None
            }
        }
    }

    pub fn float(&self, key: &'static str) -> Option<f64> {
        let node = self.node(key)?;
        match &node.value {
            Value::Float(n) if n.is_finite() => Some(*n),
            Value::Integer(n) => Some(*n as f64),
            _ => {
                self.wrong_type(key, node, "a number");
                None
            }
        }
    }

    /// A list of strings; a lone string is refused, not guessed into a list.
    pub fn string_list(&self, key: &'static str) -> Vec<String> {
        let Some(node) = self.node(key) else {
            return Vec::new();
        };
        match &node.value {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| match &item.value {
                    Value::String(s) => Some(s.clone()),
                    other => {
                        self.problems.add(
                            item.line,
                            &format!("{}[{i}]", self.child_path(key)),
                            format!("`{key}` item {} is {}, not a string", i + 1, other.kind()),
                            format!("write every item of `{key}` as a string"),
                        );
                        None
                    }
                })
                .collect(),
            Value::Null => Vec::new(),
            _ => {
                self.wrong_type(key, node, "a list of strings");
                Vec::new()
            }
        }
    }

    /// A sub-table.
    pub fn table(&self, key: &'static str) -> Option<TableReader<'a>> {
        let node = self.node(key)?;
        if matches!(node.value, Value::Null) {
            return None;
        }
        TableReader::new(self.problems, node, &self.child_path(key))
    }

    /// An array of tables (`[[users]]`, `"users": [...]`).
    pub fn tables(&self, key: &'static str) -> Vec<TableReader<'a>> {
        let Some(node) = self.node(key) else {
            return Vec::new();
        };
        match &node.value {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| {
                    TableReader::new(
                        self.problems,
                        item,
                        &format!("{}[{i}]", self.child_path(key)),
                    )
                })
                .collect(),
            Value::Null => Vec::new(),
            _ => {
                self.wrong_type(key, node, "a list of tables");
                Vec::new()
            }
        }
    }

    /// Every key and node, for free-form tables (`custom_attributes`).
    pub fn entries(&self) -> &'a [(String, Node)] {
        self.entries
    }

    /// Refuses every key nobody asked for, offering the closest known key.
    pub fn finish(&self) {
        let mut known = self.known.borrow().clone();
        // A key asked for twice (read, then allowed) is listed once.
        let mut seen = std::collections::BTreeSet::new();
        known.retain(|k| seen.insert(*k));
        for (key, node) in self.entries {
            if known.iter().any(|k| k == key) {
                continue;
            }
            let fix = match closest(key, &known) {
                Some(suggestion) => format!("did you mean `{suggestion}`?"),
                None => format!("remove it; known keys here: {}", known.join(", ")),
            };
            self.problems.add(
                node.line,
                &self.child_path(key),
                format!("unknown key `{}`", self.child_path(key)),
                fix,
            );
        }
    }
}

/// The known key closest to a typo, if one is close enough to be meant.
pub fn closest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    let lower = key.to_ascii_lowercase();
    known
        .iter()
        .map(|k| {
            (
                strsim::damerau_levenshtein(&lower, &k.to_ascii_lowercase()),
                *k,
            )
        })
        .filter(|(distance, k)| *distance <= (k.len() / 3).max(2))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, k)| k)
}

fn display_path(path: &str) -> &str {
    if path.is_empty() { "the file" } else { path }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_keys_keep_their_lines() {
        let text = "a = 1\n\n[t]\nb = \"x\"\n";
        let node = parse_toml(Path::new("f.toml"), text).expect("valid TOML");
        let problems = Problems::new(Path::new("f.toml"));
        let root = TableReader::new(&problems, &node, "").expect("a table");
        let t = root.table("t").expect("t");
        assert_eq!(t.node("b").and_then(|n| n.line), Some(4));
        assert_eq!(root.node("a").and_then(|n| n.line), Some(1));
    }

    #[test]
    fn unknown_keys_get_the_closest_known_key() {
        let text = "identites = \"x\"\n";
        let node = parse_toml(Path::new("f.toml"), text).expect("valid TOML");
        let problems = Problems::new(Path::new("f.toml"));
        let root = TableReader::new(&problems, &node, "").expect("a table");
        let _ = root.string("identities");
        root.finish();
        let errors = problems.into_errors();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, Some(1));
        assert!(errors[0].fix.contains("`identities`"), "{:?}", errors[0]);
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let err = parse_toml(Path::new("f.toml"), "a = 1\nb = \n").expect_err("invalid");
        assert_eq!(err.line, Some(2));
    }

    #[test]
    fn a_repeated_json_key_is_refused_with_its_line() {
        let text = "{\n  \"bot\": {\"unique_record_id\": \"a\"},\n  \"bot\": {\"unique_record_id\": \"b\"}\n}\n";
        let err = parse_json(Path::new("i.json"), text).expect_err("refused");
        assert_eq!(err.line, Some(3), "{err:?}");
        assert!(err.message.contains("\"bot\" is repeated"), "{err:?}");
        assert!(err.fix.contains("keep one"), "{err:?}");
    }

    #[test]
    fn json_after_a_byte_order_mark_reads_with_its_values() {
        let node = parse_json(
            Path::new("i.json"),
            "\u{feff}{\"a\": [1, 2.5, true, null, \"x\"]}",
        )
        .expect("valid JSON");
        let Value::Table(entries) = node.value else {
            panic!("a table")
        };
        let Value::Array(items) = &entries[0].1.value else {
            panic!("an array")
        };
        assert!(matches!(items[0].value, Value::Integer(1)));
        assert!(matches!(items[1].value, Value::Float(f) if f == 2.5));
        assert!(matches!(items[2].value, Value::Boolean(true)));
        assert!(matches!(items[3].value, Value::Null));
        assert!(matches!(&items[4].value, Value::String(s) if s == "x"));
    }

    #[test]
    fn a_key_read_and_allowed_is_listed_once_among_the_known_keys() {
        let node = parse_toml(Path::new("f.toml"), "type = \"x\"\nzzzzzzzz = 1\n").expect("valid");
        let problems = Problems::new(Path::new("f.toml"));
        let root = TableReader::new(&problems, &node, "").expect("a table");
        let _ = root.string("type");
        root.allow(&["type"]);
        root.finish();
        let errors = problems.into_errors();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].fix, "remove it; known keys here: type");
    }
}
