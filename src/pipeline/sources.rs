//! Sources (SPEC section 6, step 1): reads each `[[sources]]` export (CSV, a
//! JSON array or JSON Lines) as a stream of source records, mapping columns
//! onto User Attribute Reference attributes.
//!
//! The only step that reads files. Never holds a whole file in memory: each
//! row is handed to the caller as soon as it is read. A malformed row stops
//! the source with its file and physical line (the header is line 1).

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::rc::Rc;

use serde::Serialize;
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};

use crate::config::SourceConfig;
use crate::identities::{USER_TAGS, WORK_STATUSES};

use super::model::{AttrId, AttrKind, Field, Schema, Value, set_field};

/// One row of a source export, mapped onto attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRecord {
    /// Physical line of the row's start (the header is line 1).
    pub line: u64,
    /// Sorted by attribute; no empty values.
    pub fields: Vec<Field>,
}

/// A source that cannot be read, or a malformed row: the load stops.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceError {
    pub source: String,
    pub file: PathBuf,
    pub line: Option<u64>,
    pub message: String,
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(
                f,
                "{}, line {line}: {} (source `{}`)",
                self.file.display(),
                self.message,
                self.source
            ),
            None => write!(
                f,
                "{}: {} (source `{}`)",
                self.file.display(),
                self.message,
                self.source
            ),
        }
    }
}

/// Reads source number `index` and hands each record to `visit`, in file
/// order.
pub fn read(
    index: usize,
    source: &SourceConfig,
    schema: &Schema,
    visit: &mut dyn FnMut(SourceRecord),
) -> Result<(), SourceError> {
    let reader = Reader {
        index,
        source,
        schema,
    };
    let file = std::fs::File::open(&source.path)
        .map_err(|err| reader.error(None, format!("cannot read the source export: {err}")))?;
    let extension = source
        .path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("");
    match extension {
        "csv" => reader.csv(file, visit),
        "jsonl" => reader.json_lines(file, visit),
        _ => reader.json_array(file, visit),
    }
}

struct Reader<'a> {
    index: usize,
    source: &'a SourceConfig,
    schema: &'a Schema,
}

impl Reader<'_> {
    fn error(&self, line: Option<u64>, message: impl Into<String>) -> SourceError {
        SourceError {
            source: self.source.name.clone(),
            file: self.source.path.clone(),
            line,
            message: message.into(),
        }
    }

    /// Column or field name to the attributes it fills: the configured
    /// mapping, then columns named exactly like an attribute, then columns
    /// named like a registered custom attribute. Anything else is ignored.
    fn mapping(&self) -> Result<HashMap<String, Vec<AttrId>>, SourceError> {
        let mut map: HashMap<String, Vec<AttrId>> = HashMap::new();
        for (attribute, column) in &self.source.columns {
            let attr = self.schema.attr(attribute).ok_or_else(|| {
                self.error(
                    None,
                    format!(
                        "sources.columns maps `{attribute}`, which is no User Attribute Reference attribute nor a registered custom attribute; fix the name or register it in pipeline.custom_attributes"
                    ),
                )
            })?;
            if self.schema.kind(attr) == AttrKind::IdInfo {
                return Err(self.error(
                    None,
                    format!(
                        "sources.columns maps `{attribute}`, which comes only from the identities file"
                    ),
                ));
            }
            map.entry(column.clone()).or_default().push(attr);
        }
        for attr in 0..self.schema.attr_count() {
            let Ok(attr) = AttrId::try_from(attr) else {
                break;
            };
            if self.schema.kind(attr) == AttrKind::IdInfo {
                continue;
            }
            let name = self.schema.name(attr);
            let mapped = self.source.columns.iter().any(|(a, _)| a == name);
            if !mapped && !map.contains_key(name) {
                map.insert(name.to_owned(), vec![attr]);
            }
        }
        Ok(map)
    }

    fn csv(
        &self,
        file: std::fs::File,
        visit: &mut dyn FnMut(SourceRecord),
    ) -> Result<(), SourceError> {
        let mapping = self.mapping()?;
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(BufReader::with_capacity(1 << 16, file));
        let headers = csv
            .headers()
            .map_err(|err| self.csv_error(&err, Some(1)))?
            .clone();
        let columns: Vec<Vec<AttrId>> = headers
            .iter()
            .map(|h| mapping.get(header_name(h)).cloned().unwrap_or_default())
            .collect();
        for (attribute, column) in &self.source.columns {
            if !headers.iter().any(|h| header_name(h) == column) {
                return Err(self.error(
                    Some(1),
                    format!(
                        "column \"{column}\" (mapped to `{attribute}`) is not in the header; fix sources.columns or the export"
                    ),
                ));
            }
        }
        let width: usize = columns.iter().map(Vec::len).sum();
        let mut row = csv::StringRecord::new();
        loop {
            match csv.read_record(&mut row) {
                Ok(false) => return Ok(()),
                Ok(true) => {}
                Err(err) => return Err(self.csv_error(&err, None)),
            }
            let line = row.position().map(|p| p.line()).unwrap_or(0);
            let mut fields = Vec::with_capacity(width);
            for (cell, attrs) in row.iter().zip(&columns) {
                for attr in attrs {
                    if let Some(value) = self
                        .text_value(*attr, cell)
                        .map_err(|message| self.error(Some(line), message))?
                    {
                        set_field(&mut fields, self.field(*attr, value));
                    }
                }
            }
            visit(SourceRecord { line, fields });
        }
    }

    fn csv_error(&self, err: &csv::Error, line: Option<u64>) -> SourceError {
        let line = err.position().map(|p| p.line()).or(line);
        let message = match err.kind() {
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => format!(
                "the row has {len} fields where the header has {expected_len}; quote values that contain commas"
            ),
            csv::ErrorKind::Utf8 { .. } => "the row is not valid UTF-8; export as UTF-8".into(),
            csv::ErrorKind::Io(io) => format!("cannot read the source export: {io}"),
            _ => format!("malformed CSV: {err}"),
        };
        self.error(line, message)
    }

    fn json_lines(
        &self,
        file: std::fs::File,
        visit: &mut dyn FnMut(SourceRecord),
    ) -> Result<(), SourceError> {
        let mapping = self.mapping()?;
        let mut reader = BufReader::with_capacity(1 << 16, file);
        let mut text = String::new();
        let mut line = 0u64;
        loop {
            text.clear();
            line += 1;
            match reader.read_line(&mut text) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(err) => {
                    return Err(self.error(
                        Some(line),
                        format!("cannot read the line (is the export UTF-8?): {err}"),
                    ));
                }
            }
            // A byte order mark is what some exporters write first.
            let row = if line == 1 {
                text.trim_start_matches('\u{feff}')
            } else {
                text.as_str()
            };
            if row.trim().is_empty() {
                continue;
            }
            let mut deserializer = serde_json::Deserializer::from_str(row);
            let newlines = Rc::new(Cell::new(0u64));
            let (_, entries) = ObjectSeed {
                newlines: &newlines,
            }
            .deserialize(&mut deserializer)
            .and_then(|entries| deserializer.end().map(|()| entries))
            .map_err(|err| self.error(Some(line), format!("not a JSON object: {err}")))?;
            let record = self
                .json_record(&mapping, entries.into_iter(), line)
                .map_err(|message| self.error(Some(line), message))?;
            visit(record);
        }
    }

    fn json_array(
        &self,
        file: std::fs::File,
        visit: &mut dyn FnMut(SourceRecord),
    ) -> Result<(), SourceError> {
        let mapping = self.mapping()?;
        let newlines = Rc::new(Cell::new(0u64));
        let mut inner = BufReader::with_capacity(1 << 16, file);
        skip_byte_order_mark(&mut inner)
            .map_err(|err| self.error(None, format!("cannot read the source export: {err}")))?;
        let counted = CountingReader {
            inner,
            newlines: Rc::clone(&newlines),
        };
        let mut deserializer = serde_json::Deserializer::from_reader(counted);
        let mut failure = None;
        let seed = ArraySeed {
            reader: self,
            mapping: &mapping,
            newlines: &newlines,
            visit,
            failure: &mut failure,
        };
        let result = seed.deserialize(&mut deserializer);
        if let Some(err) = failure {
            return Err(err);
        }
        result.and_then(|()| deserializer.end()).map_err(|err| {
            let line = (err.line() > 0).then(|| err.line() as u64);
            self.error(line, format!("malformed JSON: {err}"))
        })
    }

    /// A record from one JSON object's fields.
    fn json_record(
        &self,
        mapping: &HashMap<String, Vec<AttrId>>,
        entries: impl Iterator<Item = (String, serde_json::Value)>,
        line: u64,
    ) -> Result<SourceRecord, String> {
        let mut fields = Vec::new();
        for (name, value) in entries {
            let Some(attrs) = mapping.get(name.trim()) else {
                continue;
            };
            for attr in attrs {
                if let Some(value) = self.json_value(*attr, &name, &value)? {
                    set_field(&mut fields, self.field(*attr, value));
                }
            }
        }
        Ok(SourceRecord { line, fields })
    }

    fn field(&self, attr: AttrId, value: Value) -> Field {
        Field {
            attr,
            origin: self.schema.source_origin(self.index),
            value,
        }
    }

    /// A cell's value for `attr`; `None` when empty.
    fn text_value(&self, attr: AttrId, cell: &str) -> Result<Option<Value>, String> {
        let cell = cell.trim();
        if cell.is_empty() {
            return Ok(None);
        }
        match self.schema.kind(attr) {
            AttrKind::Text | AttrKind::Custom | AttrKind::IdInfo => {
                Ok(Some(Value::Text(cell.into())))
            }
            AttrKind::WorkStatus => {
                if WORK_STATUSES.contains(&cell) {
                    Ok(Some(Value::Text(cell.into())))
                } else {
                    Err(format!(
                        "work_status \"{cell}\" is not one of {}",
                        WORK_STATUSES.join(", ")
                    ))
                }
            }
            kind @ (AttrKind::UserTags | AttrKind::Emails) => {
                let items: Vec<&str> = cell
                    .split([';', ',', '|'])
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect();
                self.list(kind, items)
            }
        }
    }

    fn list(&self, kind: AttrKind, items: Vec<&str>) -> Result<Option<Value>, String> {
        if kind == AttrKind::UserTags
            && let Some(bad) = items.iter().find(|t| !USER_TAGS.contains(t))
        {
            return Err(format!(
                "user tag \"{bad}\" is not a User Attribute Reference tag"
            ));
        }
        if items.is_empty() {
            return Ok(None);
        }
        Ok(Some(Value::List(
            items.into_iter().map(Box::from).collect(),
        )))
    }

    fn json_value(
        &self,
        attr: AttrId,
        name: &str,
        value: &serde_json::Value,
    ) -> Result<Option<Value>, String> {
        use serde_json::Value as J;
        let kind = self.schema.kind(attr);
        match value {
            J::Null => Ok(None),
            J::String(s) => self.text_value(attr, s),
            J::Number(_) | J::Bool(_) if kind == AttrKind::Custom => {
                Ok(Some(Value::Json(Box::new(value.clone()))))
            }
            J::Number(n) => self.text_value(attr, &n.to_string()),
            J::Bool(b) => self.text_value(attr, &b.to_string()),
            J::Array(items) if matches!(kind, AttrKind::UserTags | AttrKind::Emails) => {
                let mut texts = Vec::new();
                for item in items {
                    match item {
                        J::String(s) if !s.trim().is_empty() => texts.push(s.trim()),
                        J::String(_) | J::Null => {}
                        _ => return Err(format!("field \"{name}\" holds a list of non-strings")),
                    }
                }
                self.list(kind, texts)
            }
            J::Array(_) | J::Object(_) => Err(format!(
                "field \"{name}\" is {}, not a single value",
                if value.is_array() {
                    "a list"
                } else {
                    "an object"
                }
            )),
        }
    }
}

/// A header cell as compared with the mapping: spreadsheet exports often
/// start with a byte order mark and pad names with spaces.
fn header_name(cell: &str) -> &str {
    cell.trim_start_matches('\u{feff}').trim()
}

/// Counts the newlines read, so a JSON array's records know their line.
/// serde_json reads one byte at a time, so the count is exact.
/// Skips a UTF-8 byte order mark at the start, which some exporters write
/// and JSON does not allow.
fn skip_byte_order_mark(reader: &mut impl BufRead) -> std::io::Result<()> {
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    if reader.fill_buf()?.starts_with(BOM) {
        reader.consume(BOM.len());
    }
    Ok(())
}

struct CountingReader<R> {
    inner: R,
    newlines: Rc<Cell<u64>>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let count = buf.iter().take(n).filter(|b| **b == b'\n').count() as u64;
        self.newlines.set(self.newlines.get() + count);
        Ok(n)
    }
}

/// Streams a JSON array's elements one by one.
struct ArraySeed<'r, 'a> {
    reader: &'r Reader<'a>,
    mapping: &'r HashMap<String, Vec<AttrId>>,
    newlines: &'r Rc<Cell<u64>>,
    visit: &'r mut dyn FnMut(SourceRecord),
    failure: &'r mut Option<SourceError>,
}

impl<'de> DeserializeSeed<'de> for ArraySeed<'_, '_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ArraySeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array of user objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some((line, entries)) = seq.next_element_seed(ObjectSeed {
            newlines: self.newlines,
        })? {
            match self
                .reader
                .json_record(self.mapping, entries.into_iter(), line)
            {
                Ok(record) => (self.visit)(record),
                Err(message) => {
                    *self.failure = Some(self.reader.error(Some(line), message));
                    return Err(serde::de::Error::custom("stopped at a malformed record"));
                }
            }
        }
        Ok(())
    }
}

/// One array element: an object, with the line its `{` is on.
struct ObjectSeed<'r> {
    newlines: &'r Rc<Cell<u64>>,
}

impl<'de> DeserializeSeed<'de> for ObjectSeed<'_> {
    type Value = (u64, Vec<(String, serde_json::Value)>);

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ObjectSeed<'_> {
    type Value = (u64, Vec<(String, serde_json::Value)>);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a user object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let line = self.newlines.get() + 1;
        let mut entries: Vec<(String, serde_json::Value)> = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, serde_json::Value>()? {
            // serde_json would keep the last value without a word.
            if entries.iter().any(|(k, _)| *k == key) {
                return Err(serde::de::Error::custom(format!(
                    "the key \"{key}\" is repeated in one record; keep one of the two"
                )));
            }
            entries.push((key, value));
        }
        Ok((line, entries))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn schema() -> Schema {
        Schema::new(&["office".into()], &["hr".into()], "email_addr").expect("schema")
    }

    fn source(dir: &Path, name: &str, text: &str, columns: &[(&str, &str)]) -> SourceConfig {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        SourceConfig {
            name: "hr".into(),
            path,
            columns: columns
                .iter()
                .map(|(a, c)| ((*a).to_owned(), (*c).to_owned()))
                .collect(),
            line: None,
        }
    }

    fn read_all(source: &SourceConfig) -> Result<Vec<SourceRecord>, SourceError> {
        let mut records = Vec::new();
        read(0, source, &schema(), &mut |r| records.push(r))?;
        Ok(records)
    }

    fn text(schema: &Schema, record: &SourceRecord, name: &str) -> Option<String> {
        let attr = schema.attr(name)?;
        crate::pipeline::model::get_field(&record.fields, attr).map(|f| match &f.value {
            Value::Text(t) => t.to_string(),
            other => format!("{other:?}"),
        })
    }

    #[test]
    fn csv_columns_map_onto_attributes_and_registered_custom_attributes() {
        let dir = tempfile::tempdir().expect("dir");
        let src = source(
            dir.path(),
            "hr.csv",
            "Work Email,Name,office,Badge\npat@acme.com,Pat Lee,B4,123\n",
            &[("email_addr", "Work Email"), ("full_name", "Name")],
        );
        let records = read_all(&src).expect("reads");
        let schema = schema();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].line, 2);
        assert_eq!(
            text(&schema, &records[0], "email_addr").as_deref(),
            Some("pat@acme.com")
        );
        assert_eq!(text(&schema, &records[0], "office").as_deref(), Some("B4"));
        assert_eq!(
            records[0].fields.len(),
            3,
            "the unregistered Badge column is dropped"
        );
    }

    #[test]
    fn a_byte_order_mark_before_the_header_is_ignored() {
        let dir = tempfile::tempdir().expect("dir");
        let src = source(
            dir.path(),
            "hr.csv",
            "\u{feff}Work Email,Name\npat@acme.com,Pat\n",
            &[("email_addr", "Work Email")],
        );
        assert_eq!(read_all(&src).expect("reads").len(), 1);
    }

    #[test]
    fn a_byte_order_mark_before_a_json_array_or_json_lines_is_ignored() {
        let dir = tempfile::tempdir().expect("dir");
        let array = source(
            dir.path(),
            "hr.json",
            "\u{feff}[{\"email_addr\": \"pat@acme.com\"},\n {\"email_addr\": \"kim@acme.com\"}]\n",
            &[],
        );
        let records = read_all(&array).expect("the array reads");
        assert_eq!(records.iter().map(|r| r.line).collect::<Vec<_>>(), [1, 2]);
        let lines = source(
            dir.path(),
            "hr.jsonl",
            "\u{feff}{\"email_addr\": \"pat@acme.com\"}\n{\"email_addr\": \"kim@acme.com\"}\n",
            &[],
        );
        assert_eq!(read_all(&lines).expect("the lines read").len(), 2);
    }

    #[test]
    fn a_repeated_key_in_a_json_record_is_a_malformed_row_with_its_line() {
        let dir = tempfile::tempdir().expect("dir");
        let array = source(
            dir.path(),
            "hr.json",
            "[{\"email_addr\": \"pat@acme.com\"},\n {\"email_addr\": \"a@acme.com\", \"email_addr\": \"b@acme.com\"}]\n",
            &[],
        );
        let err = read_all(&array).expect_err("refused");
        assert_eq!(err.line, Some(2), "{err}");
        assert!(err.message.contains("\"email_addr\" is repeated"), "{err}");
        let lines = source(
            dir.path(),
            "hr.jsonl",
            "{\"email_addr\": \"pat@acme.com\"}\n{\"full_name\": \"A\", \"full_name\": \"B\"}\n",
            &[],
        );
        let err = read_all(&lines).expect_err("refused");
        assert_eq!(err.line, Some(2), "{err}");
        assert!(err.message.contains("\"full_name\" is repeated"), "{err}");
    }

    #[test]
    fn a_malformed_csv_row_names_its_physical_line() {
        let dir = tempfile::tempdir().expect("dir");
        let src = source(
            dir.path(),
            "hr.csv",
            "email_addr,full_name\na@x.com,\"A\nB\"\nb@x.com,B,extra\n",
            &[],
        );
        let err = read_all(&src).expect_err("malformed");
        assert_eq!(err.line, Some(4), "{err}");
    }

    #[test]
    fn a_work_status_outside_the_enum_is_a_malformed_row() {
        let dir = tempfile::tempdir().expect("dir");
        let src = source(
            dir.path(),
            "hr.csv",
            "email_addr,work_status\na@x.com,FULLTIME\n",
            &[],
        );
        let err = read_all(&src).expect_err("refused");
        assert_eq!(err.line, Some(2));
        assert!(err.message.contains("FULLTIME"));
    }

    #[test]
    fn a_json_array_is_streamed_with_each_records_line() {
        let dir = tempfile::tempdir().expect("dir");
        let src = source(
            dir.path(),
            "hr.json",
            "[\n  {\"mail\": \"a@x.com\", \"office\": 4},\n  {\n    \"mail\": \"b@x.com\",\n    \"user_tags\": [\"VIP\"]\n  }\n]\n",
            &[("email_addr", "mail")],
        );
        let records = read_all(&src).expect("reads");
        assert_eq!(
            records.iter().map(|r| r.line).collect::<Vec<_>>(),
            vec![2, 3]
        );
        let bad = source(
            dir.path(),
            "bad.json",
            "[\n  {\"mail\": \"a@x.com\"},\n  {\"mail\": {\"nested\": 1}}\n]\n",
            &[("email_addr", "mail")],
        );
        let err = read_all(&bad).expect_err("refused");
        assert_eq!(err.line, Some(3), "{err}");
        let broken = source(
            dir.path(),
            "broken.json",
            "[\n {\"mail\": \"a@x.com\"},\n {\"mail\" \"b\"}\n]",
            &[],
        );
        assert_eq!(read_all(&broken).expect_err("refused").line, Some(3));
    }

    #[test]
    fn json_lines_count_physical_lines_and_skip_blank_ones() {
        let dir = tempfile::tempdir().expect("dir");
        let src = source(
            dir.path(),
            "hr.jsonl",
            "{\"email_addr\": \"a@x.com\"}\n\n{\"email_addr\": \"b@x.com\"}\n{oops\n",
            &[],
        );
        let err = read_all(&src).expect_err("malformed");
        assert_eq!(err.line, Some(4));
    }

    #[test]
    fn a_missing_file_or_mapped_column_stops_the_source() {
        let dir = tempfile::tempdir().expect("dir");
        let mut src = source(
            dir.path(),
            "hr.csv",
            "Mail\na@x.com\n",
            &[("email_addr", "Email")],
        );
        let err = read_all(&src).expect_err("refused");
        assert_eq!(err.line, Some(1));
        src.path = dir.path().join("missing.csv");
        let err = read_all(&src).expect_err("refused");
        assert_eq!(err.line, None);
        assert!(err.message.contains("cannot read"));
    }
}
