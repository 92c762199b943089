//! The Table API's JSON, as it comes over the wire: `{"result": [...]}` of
//! records (`sys_user`, `sys_user_has_role`, ...) whose values are strings
//! (`"true"`, `""`; a dot-walked field such as `role.name` under its dotted
//! name), and the `{"error": {...}}` body of a failed request.
//!
//! Private to the connector and never trusted: a record may lack any field
//! (fields the account may not read are left out), so every accessor returns
//! an `Option` and nothing here panics on what a server sent.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// A list answer. A `result` that is not a list fails to decode, which the
/// caller reports as a bad response rather than "no users".
#[derive(Debug, Deserialize)]
pub(super) struct TableList {
    pub result: Vec<Record>,
}

/// One record, kept as a map: the lookup field is chosen in the config, and
/// hidden fields are simply absent.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub(super) struct Record(BTreeMap<String, Value>);

impl Record {
    /// The field's value as text, or `None` when it is absent or empty. With
    /// `sysparm_display_value=all` or reference links a value is an object
    /// holding `value`; that form is read too, in case a proxy or an older
    /// instance ignores our parameters.
    pub fn text(&self, field: &str) -> Option<&str> {
        let value = match self.0.get(field)? {
            Value::Object(inner) => inner.get("value")?,
            other => other,
        };
        match value {
            Value::String(text) if !text.is_empty() => Some(text),
            _ => None,
        }
    }

    /// A field sent as a JSON boolean (or `{"value": true}`).
    fn raw_bool(&self, field: &str) -> Option<bool> {
        match self.0.get(field)? {
            Value::Bool(value) => Some(*value),
            Value::Object(inner) => inner.get("value").and_then(Value::as_bool),
            _ => None,
        }
    }

    /// A `"true"`/`"false"` field. `None` when absent or unreadable, so the
    /// caller decides what "cannot tell" means for that field.
    pub fn flag(&self, field: &str) -> Option<bool> {
        // The documented form is a string; a JSON boolean means the same.
        if let Some(value) = self.raw_bool(field) {
            return Some(value);
        }
        let text = self.text(field)?.trim();
        if text.eq_ignore_ascii_case("true") || text == "1" {
            Some(true)
        } else if text.eq_ignore_ascii_case("false") || text == "0" {
            Some(false)
        } else {
            None
        }
    }

    /// Whether the record carries the field at all (even empty): tells an
    /// unknown or unreadable lookup field from an empty value.
    pub fn has(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }
}

/// ServiceNow's error body: `{"error":{"message","detail"},"status":"failure"}`.
#[derive(Debug, Deserialize)]
pub(super) struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
pub(super) struct ErrorDetail {
    #[serde(default)]
    pub message: Option<String>,
    /// What the instance adds (`Failed API level ACL Validation`).
    #[serde(default)]
    pub detail: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_as_strings_objects_or_nothing() {
        let record: Record = serde_json::from_str(
            r#"{"sys_id":"abc","name":"","active":"false","manager":{"link":"x","value":"def"},"n":3}"#,
        )
        .expect("a record");
        assert_eq!(record.text("sys_id"), Some("abc"));
        assert_eq!(record.text("name"), None);
        assert!(record.has("name"));
        assert_eq!(record.text("manager"), Some("def"));
        assert_eq!(record.text("n"), None);
        assert_eq!(record.text("missing"), None);
        assert_eq!(record.flag("active"), Some(false));
        assert_eq!(record.flag("missing"), None);
    }
}
