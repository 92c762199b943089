//! Manual users in the identities file: adds, replaces and removes a
//! `[[users]]` table (or a JSON `users` item) for `itsmid users`.
//!
//! Edits in place through [`IdentitiesFile`], so the rest of the file keeps
//! its comments and layout, and writes only a file that still passes the
//! loader's rules. The form's rules are in `form.rs`; this only edits.

use serde_json::{Map, Value};
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table};

use super::{EditError, IdentitiesFile, write_atomically};
use crate::config::Config;
use crate::identities::Identities;

/// Writes the edited file after the whole file passes the loader's rules.
pub fn save(
    file: &IdentitiesFile,
    config: &Config,
    identities: &Identities,
) -> Result<(), EditError> {
    let Some(text) = file.render() else {
        return Ok(());
    };
    Identities::parse(&identities.path, &text, &config.pipeline.custom_attributes).map_err(
        |errors| EditError::Invalid {
            errors: errors.to_string(),
        },
    )?;
    write_atomically(
        &identities.path,
        identities.text.as_bytes(),
        text.as_bytes(),
    )
}

pub fn append_user(file: &mut IdentitiesFile, user: &Map<String, Value>) -> Result<(), EditError> {
    if let Some(doc) = file.toml_mut() {
        let table = toml_table(user);
        match doc.get_mut("users") {
            Some(Item::ArrayOfTables(list)) => list.push(table),
            Some(Item::Value(toml_edit::Value::Array(list))) => {
                list.push(table.into_inline_table())
            }
            Some(_) => {
                return Err(EditError::Layout(
                    "`users` in the identities file is not a list of tables".to_owned(),
                ));
            }
            None => {
                let mut list = ArrayOfTables::new();
                list.push(table);
                doc.insert("users", Item::ArrayOfTables(list));
            }
        }
    } else if let Some(root) = file.json_mut() {
        let root = root.as_object_mut().ok_or_else(|| {
            EditError::Layout("the identities file is not a JSON object".to_owned())
        })?;
        match root
            .entry("users")
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            Value::Array(list) => list.push(Value::Object(user.clone())),
            _ => {
                return Err(EditError::Layout(
                    "`users` in the identities file is not a list".to_owned(),
                ));
            }
        }
    }
    Ok(())
}

pub fn replace_user(
    file: &mut IdentitiesFile,
    index: usize,
    user: &Map<String, Value>,
) -> Result<(), EditError> {
    if let Some(doc) = file.toml_mut() {
        let table = users_table_mut(doc, index)?;
        update_toml_table(table, user);
    } else if let Some(root) = file.json_mut() {
        let slot = root
            .get_mut("users")
            .and_then(|u| u.get_mut(index))
            .ok_or_else(|| {
                EditError::Layout(format!("manual user {} is not in the file", index + 1))
            })?;
        *slot = Value::Object(user.clone());
    }
    Ok(())
}

pub fn remove_user(file: &mut IdentitiesFile, index: usize) -> Result<(), EditError> {
    if let Some(doc) = file.toml_mut() {
        match doc.get_mut("users") {
            Some(Item::ArrayOfTables(list)) if index < list.len() => {
                list.remove(index);
            }
            Some(Item::Value(toml_edit::Value::Array(list))) if index < list.len() => {
                list.remove(index);
            }
            _ => {
                return Err(EditError::Layout(format!(
                    "manual user {} is not in the file",
                    index + 1
                )));
            }
        }
    } else if let Some(root) = file.json_mut() {
        match root.get_mut("users") {
            Some(Value::Array(list)) if index < list.len() => {
                list.remove(index);
            }
            _ => {
                return Err(EditError::Layout(format!(
                    "manual user {} is not in the file",
                    index + 1
                )));
            }
        }
    }
    Ok(())
}

fn users_table_mut(doc: &mut DocumentMut, index: usize) -> Result<&mut Table, EditError> {
    match doc.get_mut("users") {
        Some(Item::ArrayOfTables(list)) => list.get_mut(index).ok_or_else(|| {
            EditError::Layout(format!("manual user {} is not in the file", index + 1))
        }),
        _ => Err(EditError::Layout(
            "`users` is written inline; edit it by hand or write it as [[users]] tables".to_owned(),
        )),
    }
}

/// Sets every field of `user` on an existing table, keeping the comments of
/// values that stay and removing fields the user no longer has.
fn update_toml_table(table: &mut Table, user: &Map<String, Value>) {
    let stale: Vec<String> = table
        .iter()
        .map(|(k, _)| k.to_owned())
        .filter(|k| !user.contains_key(k))
        .collect();
    for key in stale {
        table.remove(&key);
    }
    for (key, value) in user {
        // A value that reads the same is left as written, layout included.
        if table.get(key).and_then(item_json).as_ref() == Some(value) {
            continue;
        }
        match (table.get_mut(key), value) {
            // ITSM ID Info and the other lists of tables: each entry is
            // edited in place, so the comments of the ones kept stay.
            (Some(Item::ArrayOfTables(list)), Value::Array(items))
                if items.iter().all(Value::is_object) =>
            {
                while list.len() > items.len() {
                    list.remove(list.len() - 1);
                }
                for (i, item) in items.iter().enumerate() {
                    let Value::Object(fields) = item else {
                        continue;
                    };
                    match list.get_mut(i) {
                        Some(existing) => update_toml_table(existing, fields),
                        None => list.push(toml_table(fields)),
                    }
                }
            }
            (Some(Item::Table(sub)), Value::Object(fields)) => update_toml_table(sub, fields),
            (Some(Item::Value(old)), _) => {
                if let Some(new) = toml_value(value) {
                    let decor = old.decor().clone();
                    *old = new;
                    *old.decor_mut() = decor;
                }
            }
            _ => {
                let mut single = Map::new();
                single.insert(key.clone(), value.clone());
                if let Some((_, item)) = toml_table(&single).iter().next() {
                    table.insert(key, item.clone());
                }
            }
        }
    }
}

/// A TOML item as the JSON value it stands for, to compare with an edit.
fn item_json(item: &Item) -> Option<Value> {
    match item {
        Item::Value(value) => value_json(value),
        Item::Table(table) => Some(Value::Object(
            table
                .iter()
                .filter_map(|(k, v)| Some((k.to_owned(), item_json(v)?)))
                .collect(),
        )),
        Item::ArrayOfTables(list) => Some(Value::Array(
            list.iter()
                .filter_map(|t| item_json(&Item::Table(t.clone())))
                .collect(),
        )),
        Item::None => None,
    }
}

fn value_json(value: &toml_edit::Value) -> Option<Value> {
    Some(match value {
        toml_edit::Value::String(s) => Value::from(s.value().as_str()),
        toml_edit::Value::Integer(i) => Value::from(*i.value()),
        toml_edit::Value::Float(f) => Value::from(*f.value()),
        toml_edit::Value::Boolean(b) => Value::from(*b.value()),
        toml_edit::Value::Array(items) => {
            Value::Array(items.iter().filter_map(value_json).collect())
        }
        toml_edit::Value::InlineTable(table) => Value::Object(
            table
                .iter()
                .filter_map(|(k, v)| Some((k.to_owned(), value_json(v)?)))
                .collect(),
        ),
        toml_edit::Value::Datetime(_) => return None,
    })
}

/// A user's JSON fields as a `[[users]]` table, sub-tables as `[users.x]`.
fn toml_table(user: &Map<String, Value>) -> Table {
    let mut table = Table::new();
    for (key, value) in user {
        match value {
            Value::Object(map) => {
                let mut sub = Table::new();
                for (k, v) in map {
                    if let Some(v) = toml_value(v) {
                        sub.insert(k, Item::Value(v));
                    }
                }
                table.insert(key, Item::Table(sub));
            }
            Value::Array(items) if items.iter().all(Value::is_object) && !items.is_empty() => {
                let mut list = ArrayOfTables::new();
                for item in items {
                    if let Value::Object(map) = item {
                        list.push(toml_table(map));
                    }
                }
                table.insert(key, Item::ArrayOfTables(list));
            }
            other => {
                if let Some(v) = toml_value(other) {
                    table.insert(key, Item::Value(v));
                }
            }
        }
    }
    table
}

fn toml_value(value: &Value) -> Option<toml_edit::Value> {
    Some(match value {
        Value::String(s) => toml_edit::Value::from(s.as_str()),
        Value::Bool(b) => toml_edit::Value::from(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => toml_edit::Value::from(i),
            None => toml_edit::Value::from(n.as_f64()?),
        },
        Value::Array(items) => {
            let mut array = toml_edit::Array::new();
            for item in items {
                array.push(toml_value(item)?);
            }
            toml_edit::Value::Array(array)
        }
        Value::Object(map) => {
            let mut inline = toml_edit::InlineTable::new();
            for (k, v) in map {
                inline.insert(k, toml_value(v)?);
            }
            toml_edit::Value::InlineTable(inline)
        }
        Value::Null => return None,
    })
}
