//! Edits the identities file in place: TOML with `toml_edit`, so comments,
//! order and formatting of everything untouched stay byte-identical; JSON
//! with its key order kept.
//!
//! Writes atomically (a temporary file beside it, fsync, rename) and never
//! over a file that changed since it was read. Knows nothing of connectors:
//! callers say what to change.

use std::io::Write;
use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, TableLike};

pub mod users;

/// Why the file could not be edited or written.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("{file}: cannot read it: {source}")]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Parse { file: PathBuf, message: String },
    #[error("{file}: {what} is not where the file was read; nothing was written")]
    Missing { file: PathBuf, what: String },
    #[error(
        "{file} changed since it was read (another edit?); nothing was written: run the command again"
    )]
    Changed { file: PathBuf },
    #[error("the edited file would not be valid; nothing was written:\n{errors}")]
    Invalid { errors: String },
    #[error("{0}")]
    Layout(String),
    #[error("{file}: cannot write it: {source}; the file is unchanged")]
    Write {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One string field of an ITSM ID Info entry or of an identity.
pub type Fields<'a> = &'a [(&'a str, &'a str)];

enum Document {
    Toml(Box<DocumentMut>),
    Json(serde_json::Value),
}

/// The identities file, open for editing.
pub struct IdentitiesFile {
    path: PathBuf,
    /// The bytes as read, to refuse a write over someone else's change.
    original: Vec<u8>,
    doc: Document,
    /// Set by every edit: an untouched file is never rewritten.
    dirty: bool,
    /// The file's line ending and byte order mark, written back as found.
    crlf: bool,
    bom: bool,
}

/// Which identity: the bot, or the manual user at this index of `users`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    Bot,
    User(usize),
}

impl IdentitiesFile {
    pub fn open(path: &Path) -> Result<IdentitiesFile, EditError> {
        let original = std::fs::read(path).map_err(|source| EditError::Read {
            file: path.to_path_buf(),
            source,
        })?;
        IdentitiesFile::from_text(path, &String::from_utf8_lossy(&original))
    }

    /// Edits `text`, the file's content when it was read earlier; saving
    /// refuses if the file holds anything else by then.
    pub fn from_text(path: &Path, text: &str) -> Result<IdentitiesFile, EditError> {
        let original = text.as_bytes().to_vec();
        let bom = text.starts_with('\u{feff}');
        let text = text.trim_start_matches('\u{feff}');
        let crlf = text.contains("\r\n");
        let parse_error = |message: String| EditError::Parse {
            file: path.to_path_buf(),
            message,
        };
        let doc = if path.extension().and_then(|e| e.to_str()) == Some("json") {
            Document::Json(serde_json::from_str(text).map_err(|e| parse_error(e.to_string()))?)
        } else {
            Document::Toml(Box::new(
                text.parse::<DocumentMut>()
                    .map_err(|e| parse_error(e.to_string()))?,
            ))
        };
        Ok(IdentitiesFile {
            path: path.to_path_buf(),
            original,
            doc,
            dirty: false,
            crlf,
            bom,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sets string fields of one ITSM ID Info entry, keeping each replaced
    /// value's comments.
    pub fn set_entry_fields(
        &mut self,
        who: Who,
        entry: usize,
        fields: Fields<'_>,
    ) -> Result<(), EditError> {
        self.dirty = true;
        let missing = || EditError::Missing {
            file: self.path.clone(),
            what: format!("entry {} of {}", entry + 1, describe(who)),
        };
        match &mut self.doc {
            Document::Toml(doc) => {
                let table = toml_identity(doc, who)
                    .and_then(|t| t.get_mut("itsm"))
                    .and_then(|item| toml_nth_table(item, entry))
                    .ok_or_else(missing)?;
                for (key, value) in fields {
                    set_toml_string(table, key, value);
                }
            }
            Document::Json(root) => {
                let table = json_identity(root, who)
                    .and_then(|i| i.get_mut("itsm"))
                    .and_then(|list| list.get_mut(entry))
                    .and_then(|e| e.as_object_mut())
                    .ok_or_else(missing)?;
                for (key, value) in fields {
                    table.insert((*key).to_owned(), serde_json::Value::from(*value));
                }
            }
        }
        Ok(())
    }

    /// Appends an ITSM ID Info entry to an identity (after its last one).
    pub fn append_entry(&mut self, who: Who, fields: Fields<'_>) -> Result<(), EditError> {
        self.dirty = true;
        let missing = || EditError::Missing {
            file: self.path.clone(),
            what: describe(who),
        };
        match &mut self.doc {
            Document::Toml(doc) => {
                let identity = toml_identity(doc, who).ok_or_else(missing)?;
                let mut table = toml_edit::Table::new();
                for (key, value) in fields {
                    table.insert(key, toml_edit::value(*value));
                }
                match identity.get_mut("itsm") {
                    Some(Item::ArrayOfTables(list)) => list.push(table),
                    Some(Item::Value(toml_edit::Value::Array(list))) => {
                        list.push(table.into_inline_table());
                    }
                    Some(_) => return Err(missing()),
                    None => {
                        let mut list = toml_edit::ArrayOfTables::new();
                        list.push(table);
                        identity.insert("itsm", Item::ArrayOfTables(list));
                    }
                }
            }
            Document::Json(root) => {
                let identity = json_identity(root, who)
                    .and_then(|i| i.as_object_mut())
                    .ok_or_else(missing)?;
                let entry: serde_json::Map<String, serde_json::Value> = fields
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
                    .collect();
                match identity
                    .entry("itsm")
                    .or_insert_with(|| serde_json::Value::Array(Vec::new()))
                {
                    serde_json::Value::Array(list) => list.push(serde_json::Value::Object(entry)),
                    _ => return Err(missing()),
                }
            }
        }
        Ok(())
    }

    /// The new text, or `None` if nothing changed.
    pub fn render(&self) -> Option<String> {
        if !self.dirty {
            return None;
        }
        let text = match &self.doc {
            Document::Toml(doc) => doc.to_string(),
            Document::Json(root) => {
                let mut text = serde_json::to_string_pretty(root).ok()?;
                text.push('\n');
                text
            }
        };
        // Line endings and the byte order mark as the file had them.
        let mut text = if self.crlf {
            text.replace("\r\n", "\n").replace('\n', "\r\n")
        } else {
            text
        };
        if self.bom {
            text.insert(0, '\u{feff}');
        }
        (text.as_bytes() != self.original.as_slice()).then_some(text)
    }

    /// Writes the edits atomically; `Ok(false)` when there was nothing to
    /// write. Refuses if the file changed since it was read.
    pub fn save(&self) -> Result<bool, EditError> {
        let Some(text) = self.render() else {
            return Ok(false);
        };
        write_atomically(&self.path, &self.original, text.as_bytes())?;
        Ok(true)
    }

    /// Mutable TOML document, for whole-identity edits (`users`).
    pub fn toml_mut(&mut self) -> Option<&mut DocumentMut> {
        self.dirty = true;
        match &mut self.doc {
            Document::Toml(doc) => Some(doc),
            Document::Json(_) => None,
        }
    }

    /// Mutable JSON document, for whole-identity edits (`users`).
    pub fn json_mut(&mut self) -> Option<&mut serde_json::Value> {
        self.dirty = true;
        match &mut self.doc {
            Document::Json(root) => Some(root),
            Document::Toml(_) => None,
        }
    }
}

fn describe(who: Who) -> String {
    match who {
        Who::Bot => "the [bot] table".to_owned(),
        Who::User(i) => format!("manual user {}", i + 1),
    }
}

/// The identity's table, whether written as a table or inline.
fn toml_identity(doc: &mut DocumentMut, who: Who) -> Option<&mut dyn TableLike> {
    match who {
        Who::Bot => doc.get_mut("bot").and_then(Item::as_table_like_mut),
        Who::User(i) => doc
            .get_mut("users")
            .and_then(|item| toml_nth_table(item, i)),
    }
}

/// The `n`th table of an array of tables or of an inline array.
fn toml_nth_table(item: &mut Item, n: usize) -> Option<&mut dyn TableLike> {
    match item {
        Item::ArrayOfTables(list) => list.get_mut(n).map(|t| t as &mut dyn TableLike),
        Item::Value(toml_edit::Value::Array(list)) => list
            .get_mut(n)
            .and_then(|v| v.as_inline_table_mut())
            .map(|t| t as &mut dyn TableLike),
        _ => None,
    }
}

/// Replaces or adds a string, keeping a replaced value's own comments.
fn set_toml_string(table: &mut dyn TableLike, key: &str, value: &str) {
    if let Some(existing) = table.get_mut(key).and_then(Item::as_value_mut) {
        let decor = existing.decor().clone();
        *existing = toml_edit::Value::from(value);
        *existing.decor_mut() = decor;
        return;
    }
    // A new key takes the indentation of the table's keys, so a table
    // indented by hand stays aligned.
    let indent = table
        .iter()
        .filter_map(|(name, _)| table.key(name))
        .filter_map(|k| k.leaf_decor().prefix().and_then(|p| p.as_str()))
        .map(|prefix| prefix.rsplit('\n').next().unwrap_or("").to_owned())
        .last();
    table.insert(key, toml_edit::value(value));
    if let (Some(indent), Some((mut new_key, _))) = (indent, table.get_key_value_mut(key)) {
        new_key.leaf_decor_mut().set_prefix(indent);
    }
}

fn json_identity(root: &mut serde_json::Value, who: Who) -> Option<&mut serde_json::Value> {
    match who {
        Who::Bot => root.get_mut("bot"),
        Who::User(i) => root.get_mut("users").and_then(|u| u.get_mut(i)),
    }
}

/// Temporary file beside the target, fsync, a last check that nobody else
/// wrote the file, rename. A crash leaves either the old or the new file.
/// The new file keeps the old one's mode: the temporary file is created
/// readable by its owner only and given the original's permissions before
/// the rename, so the identities are never open to others in between.
pub fn write_atomically(path: &Path, original: &[u8], text: &[u8]) -> Result<(), EditError> {
    let write_error = |source| EditError::Write {
        file: path.to_path_buf(),
        source,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "identities".to_owned());
    let temp = path.with_file_name(format!(".{name}.itsmid-{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = crate::private_file::create(&temp).map_err(write_error)?;
        let metadata = std::fs::metadata(path).map_err(write_error)?;
        file.set_permissions(metadata.permissions())
            .map_err(write_error)?;
        file.write_all(text).map_err(write_error)?;
        file.sync_all().map_err(write_error)?;
        drop(file);
        let current = std::fs::read(path).map_err(write_error)?;
        if current != original {
            return Err(EditError::Changed {
                file: path.to_path_buf(),
            });
        }
        std::fs::rename(&temp, path).map_err(write_error)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(dir) = std::fs::File::open(dir)
        {
            let _ = dir.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"# The bot and our contractors.
[bot]
unique_record_id = "bot@acme.com"   # joins on e-mail

[[bot.itsm]]
integration = "snow"
external_id  =  "moveworks.bot"   # aligned by hand
itsm_user_id = ""  # resolve fills it

[[users]]
unique_record_id = "pat@acme.com"
itsm = [ { integration = "jira", external_id = "pat@acme.com" } ]
"#;

    fn open(text: &str) -> (tempfile::TempDir, IdentitiesFile) {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("identities.toml");
        std::fs::write(&path, text).expect("write");
        let file = IdentitiesFile::open(&path).expect("opens");
        (dir, file)
    }

    #[cfg(unix)]
    #[test]
    fn a_rewritten_file_keeps_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        for mode in [0o600, 0o640, 0o644] {
            let (_dir, mut file) = open(FILE);
            std::fs::set_permissions(&file.path, std::fs::Permissions::from_mode(mode))
                .expect("chmod");
            file.set_entry_fields(
                Who::Bot,
                0,
                &[("itsm_user_id", "6816f79cc0a8016401c5a33be04be441")],
            )
            .expect("set");
            file.save().expect("saved");
            let written = std::fs::metadata(&file.path).expect("metadata");
            assert_eq!(written.permissions().mode() & 0o777, mode);
        }
    }

    #[test]
    fn a_replaced_value_keeps_its_comment_and_the_rest_is_untouched() {
        let (_dir, mut file) = open(FILE);
        file.set_entry_fields(
            Who::Bot,
            0,
            &[("itsm_user_id", "6816f79cc0a8016401c5a33be04be441")],
        )
        .expect("set");
        let text = file.render().expect("changed");
        let expected = FILE.replace(
            "itsm_user_id = \"\"  # resolve fills it",
            "itsm_user_id = \"6816f79cc0a8016401c5a33be04be441\"  # resolve fills it",
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn inline_entries_are_edited_in_place() {
        let (_dir, mut file) = open(FILE);
        file.set_entry_fields(
            Who::User(0),
            0,
            &[("itsm_user_id", "5b10ac8d82e05b22cc7d4ef5")],
        )
        .expect("set");
        let text = file.render().expect("changed");
        assert!(
            text.contains("itsm_user_id = \"5b10ac8d82e05b22cc7d4ef5\""),
            "{text}"
        );
        assert!(text.starts_with("# The bot and our contractors.\n[bot]\n"));
    }

    #[test]
    fn a_new_bot_entry_follows_the_last_one() {
        let (_dir, mut file) = open(FILE);
        file.append_entry(
            Who::Bot,
            &[("integration", "jira"), ("external_id", "bot@acme.com")],
        )
        .expect("append");
        let text = file.render().expect("changed");
        let bot_entry = text
            .find("integration = \"jira\"\nexternal_id = \"bot@acme.com\"")
            .expect("added");
        let users = text.find("[[users]]").expect("users");
        assert!(bot_entry < users, "{text}");
        assert!(
            text.starts_with(&FILE[..FILE.find("[[users]]").expect("users")]),
            "{text}"
        );
    }

    #[test]
    fn a_write_over_a_changed_file_is_refused() {
        let (_dir, mut file) = open(FILE);
        file.set_entry_fields(Who::Bot, 0, &[("itsm_user_id", "x")])
            .expect("set");
        std::fs::write(file.path(), "# someone else\n").expect("write");
        assert!(matches!(file.save(), Err(EditError::Changed { .. })));
        assert_eq!(
            std::fs::read_to_string(file.path()).expect("read"),
            "# someone else\n"
        );
    }

    #[test]
    fn crlf_line_endings_and_a_byte_order_mark_are_kept() {
        let text = format!("\u{feff}{}", FILE.replace('\n', "\r\n"));
        let (_dir, mut file) = open(&text);
        file.set_entry_fields(Who::Bot, 0, &[("itsm_user_id", "x")])
            .expect("set");
        let written = file.render().expect("changed");
        assert!(written.starts_with('\u{feff}'));
        assert!(
            !written.replace("\r\n", "").contains('\n'),
            "only CRLF: {written:?}"
        );
        let expected = text.replace(
            "itsm_user_id = \"\"  # resolve fills it",
            "itsm_user_id = \"x\"  # resolve fills it",
        );
        assert_eq!(written, expected);
    }

    #[test]
    fn nothing_to_change_writes_nothing() {
        let (_dir, file) = open(FILE);
        assert!(!file.save().expect("no error"));
    }
}
