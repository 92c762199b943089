//! After the load: what the store holds, read back for `export`, `export
//! --explain`, `history`, `diff` and the daemon's `/api/v1/users`.
//!
//! Only reads the store; never writes it. Streams the export record by
//! record, so memory does not grow with the number of users.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::printable::printable;

use super::load::{UserChange, changed_fields, explain};
use super::model::Schema;
use super::store::{Snapshot, Store, StoreError};

/// Why a read of the store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no user with joining key \"{0}\" in the last load; `itsmid export` lists them")]
    NoSuchUser(String),
}

/// Writes the last load's users as JSON Lines of `{"user": {...}}`, or as
/// one JSON array.
pub fn write_export(store: &Store, out: &mut dyn Write, array: bool) -> std::io::Result<()> {
    let mut first = true;
    if array {
        out.write_all(b"[")?;
    }
    let written = store
        .for_each_current(&mut |record| {
            if array && !first {
                out.write_all(b",\n")?;
            }
            first = false;
            out.write_all(b"{\"user\":")?;
            out.write_all(record.as_bytes())?;
            out.write_all(b"}")?;
            if !array {
                out.write_all(b"\n")?;
            }
            Ok(())
        })
        .map_err(std::io::Error::other)?;
    written?;
    if array {
        out.write_all(b"]\n")?;
    }
    Ok(())
}

/// `itsmid.explain.v1`: where each field of one user came from.
#[derive(Debug, Serialize)]
pub struct Explained {
    pub schema: &'static str,
    pub user: String,
    pub fields: Vec<ExplainedField>,
}

#[derive(Debug, Serialize)]
pub struct ExplainedField {
    pub field: String,
    pub value: serde_json::Value,
    pub from: String,
}

/// Finds the user by joining key (normalized as the load does, else as
/// written) and lists each field with its origin.
pub fn explain_user(store: &Store, schema: &Schema, id: &str) -> Result<Explained, ExportError> {
    let key = schema.joining_value(id);
    let user = match store.current_user(&key)? {
        Some(user) => user,
        None => store
            .current_user(id.trim())?
            .ok_or_else(|| ExportError::NoSuchUser(id.trim().to_owned()))?,
    };
    let fields = explain(&user.record, &user.provenance)
        .into_iter()
        .map(|(field, value, from)| ExplainedField { field, value, from })
        .collect();
    Ok(Explained {
        schema: "itsmid.explain.v1",
        user: user.key,
        fields,
    })
}

impl Explained {
    pub fn to_table(&self) -> String {
        let mut table = format!("user {}\n", printable(&self.user));
        for f in &self.fields {
            table.push_str(&format!(
                "  {:<48} {:<10} {}\n",
                printable(&f.field),
                printable(&f.from),
                printable(&f.value.to_string())
            ));
        }
        table
    }
}

/// `itsmid.history.v1`: the kept load snapshots.
#[derive(Debug, Serialize)]
pub struct History {
    pub schema: &'static str,
    pub snapshots: Vec<Snapshot>,
}

/// Reads the kept snapshots, oldest first.
pub fn history(path: &Path) -> Result<History, ExportError> {
    Ok(History {
        schema: "itsmid.history.v1",
        snapshots: Store::open_existing(path)?.history()?,
    })
}

impl History {
    pub fn to_table(&self) -> String {
        let mut table = format!(
            "{:>8}  {:<20}  {:>9}  {:>8}  {:>8}  {:>8}  {:>9}\n",
            "snapshot", "loaded at", "users", "added", "removed", "changed", "unchanged"
        );
        for s in &self.snapshots {
            table.push_str(&format!(
                "{:>8}  {:<20}  {:>9}  {:>8}  {:>8}  {:>8}  {:>9}\n",
                s.id, s.loaded_at, s.users, s.added, s.removed, s.changed, s.unchanged
            ));
        }
        table
    }
}

/// `itsmid.diff.v1`: the users added, removed and changed between two
/// snapshots.
#[derive(Debug, Serialize)]
pub struct Diff {
    pub schema: &'static str,
    pub from: i64,
    pub to: i64,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<UserChange>,
}

/// Compares two kept snapshots field by field.
pub fn snapshot_diff(path: &Path, from: i64, to: i64) -> Result<Diff, ExportError> {
    let store = Store::open_existing(path)?;
    let mut diff = Diff {
        schema: "itsmid.diff.v1",
        from,
        to,
        added: Vec::new(),
        removed: Vec::new(),
        changed: Vec::new(),
    };
    for (key, old, new) in store.diff(from, to)? {
        match (old, new) {
            (None, Some(_)) => diff.added.push(key),
            (Some(_), None) => diff.removed.push(key),
            (Some(old), Some(new)) => {
                let fields = changed_fields(&old, &new);
                if !fields.is_empty() {
                    diff.changed.push(UserChange { user: key, fields });
                }
            }
            (None, None) => {}
        }
    }
    Ok(diff)
}

impl Diff {
    pub fn to_table(&self) -> String {
        let mut table = format!("snapshot {} -> {}\n", self.from, self.to);
        for a in &self.added {
            table.push_str(&format!("+ {}\n", printable(a)));
        }
        for r in &self.removed {
            table.push_str(&format!("- {}\n", printable(r)));
        }
        for c in &self.changed {
            table.push_str(&format!(
                "~ {}: {}\n",
                printable(&c.user),
                printable(&c.fields.join(", "))
            ));
        }
        table
    }
}
