//! ServiceDesk Plus API v3 JSON as it comes over the wire: the users list
//! (`{"response_status": [...], "list_info": {...}, "users": [...]}`), one
//! user (`{"response_status": {...}, "user": {...}}`), user records, and
//! `response_status`, which is an object in some answers and an array in
//! others.
//!
//! Private to the connector and never trusted: any field may be missing or
//! of another type than documented (an `id` is a string in the documented
//! builds and a number in others), so every accessor returns an `Option` and
//! nothing here panics on what a server sent. A number is never read through
//! a float: Cloud ids have 18 digits, more than a double holds exactly.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::ItsmUserId;

/// A list answer. Every part is optional here; the connector decides what a
/// missing part means.
#[derive(Debug, Deserialize)]
pub(super) struct UserList {
    #[serde(default)]
    pub response_status: Option<Value>,
    #[serde(default)]
    pub list_info: Option<ListInfo>,
    #[serde(default)]
    pub users: Option<Vec<Record>>,
}

/// A single-user answer (`GET /api/v3/users/{id}`): `{"response_status":
/// {...}, "user": {...}}`, either part possibly missing.
#[derive(Debug, Deserialize)]
pub(super) struct OneUser {
    #[serde(default)]
    pub user: Option<Record>,
}

/// The paging part of a list answer.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ListInfo {
    #[serde(default)]
    has_more_rows: Option<Value>,
}

impl ListInfo {
    /// `has_more_rows` as a boolean, also when a build sends `"true"`.
    pub fn has_more_rows(&self) -> Option<bool> {
        flag(self.has_more_rows.as_ref()?)
    }
}

/// One user record, kept as a map: the lookup field is chosen in the config.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub(super) struct Record(BTreeMap<String, Value>);

/// What a record says about whether the account may be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Status {
    Active,
    /// `INACTIVE`, or another word that is not `ACTIVE` (kept for the report).
    Inactive(String),
    /// Neither `status` nor `org_user_status` is readable.
    Unknown,
}

impl Record {
    /// The record's id in canonical form, from a JSON string or a JSON
    /// integer. `None` when absent, empty, negative, fractional or not
    /// digits: such a record cannot be matched by id or reported.
    pub fn id(&self) -> Option<ItsmUserId> {
        let text = match self.0.get("id")? {
            Value::String(text) => text.clone(),
            Value::Number(number) => number.as_u64()?.to_string(),
            _ => return None,
        };
        super::parse_id(&text).ok()
    }

    /// The field's value as text, or `None` when it is absent, null or
    /// empty. Numbers are read by their digits (an `employee_id` can be one).
    pub fn text(&self, field: &str) -> Option<String> {
        match self.0.get(field)? {
            Value::String(text) if !text.trim().is_empty() => Some(text.clone()),
            Value::Number(number) if number.is_u64() || number.is_i64() => Some(number.to_string()),
            _ => None,
        }
    }

    /// Whether the record carries the field at all (even null): tells an
    /// unknown lookup field from an empty value.
    pub fn has(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    /// `status` (`ACTIVE`/`INACTIVE`); where a build leaves it out,
    /// `org_user_status`.
    pub fn status(&self) -> Status {
        let word = ["status", "org_user_status"]
            .into_iter()
            .find_map(|field| status_word(self.0.get(field)?));
        match word {
            None => Status::Unknown,
            Some(word) if word.eq_ignore_ascii_case("ACTIVE") => Status::Active,
            Some(word) => Status::Inactive(word),
        }
    }

    /// `is_technician`, where readable.
    pub fn is_technician(&self) -> Option<bool> {
        flag(self.0.get("is_technician")?)
    }
}

/// A status as a word: a string, or an object's `name`/`internal_name`
/// (the form request statuses take, in case a build sends users' so).
fn status_word(value: &Value) -> Option<String> {
    let text = match value {
        Value::String(text) => text,
        Value::Object(inner) => ["internal_name", "name"]
            .into_iter()
            .find_map(|key| inner.get(key)?.as_str())?,
        _ => return None,
    };
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// A boolean, or its spelling as a string.
fn flag(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(flag) => Some(*flag),
        Value::String(text) if text.trim().eq_ignore_ascii_case("true") => Some(true),
        Value::String(text) if text.trim().eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// `response_status` read from an answer: every status code it carries (its
/// own and its messages'), whether any part says `failed`, and the first
/// message for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct ResponseStatus {
    pub codes: Vec<u64>,
    pub failed: bool,
    pub message: Option<String>,
}

impl ResponseStatus {
    /// `None` when the body has no readable `response_status`: then it is
    /// not ServiceDesk Plus speaking, and the HTTP status decides.
    pub fn read(body: &Value) -> Option<ResponseStatus> {
        let parts: Vec<&serde_json::Map<String, Value>> = match body.get("response_status")? {
            Value::Object(part) => vec![part],
            Value::Array(parts) => parts.iter().filter_map(Value::as_object).collect(),
            _ => return None,
        };
        if parts.is_empty() {
            return None;
        }
        let mut status = ResponseStatus::default();
        for part in parts {
            status.note(part);
            let messages = part.get("messages").and_then(Value::as_array);
            for message in messages.into_iter().flatten().filter_map(Value::as_object) {
                status.note(message);
                if status.message.is_none() {
                    status.message = message_text(message);
                }
            }
        }
        Some(status)
    }

    fn note(&mut self, part: &serde_json::Map<String, Value>) {
        if let Some(code) = part.get("status_code").and_then(code) {
            self.codes.push(code);
        }
        let failed = ["status", "type"].into_iter().any(|key| {
            part.get(key)
                .and_then(Value::as_str)
                .is_some_and(|word| word.trim().eq_ignore_ascii_case("failed"))
        });
        self.failed |= failed;
    }

    pub fn has(&self, code: u64) -> bool {
        self.codes.contains(&code)
    }
}

/// A status code as a number or a string of digits.
fn code(value: &Value) -> Option<u64> {
    match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// A message's words: its `message`, else the field(s) it names.
fn message_text(message: &serde_json::Map<String, Value>) -> Option<String> {
    if let Some(text) = message.get("message").and_then(Value::as_str) {
        return Some(text.to_owned());
    }
    if let Some(field) = message.get("field").and_then(Value::as_str) {
        return Some(format!("field {field}"));
    }
    let fields: Vec<&str> = message
        .get("fields")?
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    (!fields.is_empty()).then(|| format!("fields {}", fields.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(value: Value) -> Record {
        serde_json::from_value(value).expect("a record")
    }

    #[test]
    fn ids_are_read_from_strings_and_integers_without_a_float() {
        let long = "123640000000142582";
        assert_eq!(
            record(json!({ "id": long })).id(),
            Some(ItsmUserId::new(long))
        );
        let from_number: Record =
            serde_json::from_str(r#"{"id":123640000000142582}"#).expect("a record");
        assert_eq!(from_number.id(), Some(ItsmUserId::new(long)));
        for bad in [
            json!({}),
            json!({ "id": "" }),
            json!({ "id": "12a" }),
            json!({ "id": -3 }),
            json!({ "id": 3.5 }),
            json!({ "id": null }),
            json!({ "id": { "value": "3" } }),
        ] {
            assert_eq!(record(bad.clone()).id(), None, "{bad}");
        }
    }

    #[test]
    fn status_falls_back_to_org_user_status_and_then_to_unknown() {
        assert_eq!(
            record(json!({ "status": "ACTIVE" })).status(),
            Status::Active
        );
        assert_eq!(
            record(json!({ "status": "INACTIVE", "org_user_status": "ACTIVE" })).status(),
            Status::Inactive("INACTIVE".into())
        );
        assert_eq!(
            record(json!({ "org_user_status": "INACTIVE" })).status(),
            Status::Inactive("INACTIVE".into())
        );
        assert_eq!(
            record(json!({ "status": null, "org_user_status": "active" })).status(),
            Status::Active
        );
        assert_eq!(
            record(json!({ "status": { "name": "Disabled" } })).status(),
            Status::Inactive("Disabled".into())
        );
        assert_eq!(record(json!({})).status(), Status::Unknown);
    }

    #[test]
    fn response_status_is_read_as_an_object_or_an_array() {
        let list = json!({ "response_status": [{ "status_code": 2000, "status": "success" }] });
        assert_eq!(
            ResponseStatus::read(&list),
            Some(ResponseStatus {
                codes: vec![2000],
                failed: false,
                message: None
            })
        );
        let refused = json!({ "response_status": {
            "status_code": 4000, "status": "failed",
            "messages": [{ "status_code": 4022, "type": "failed", "message": "Invalid API key received" }]
        }});
        let status = ResponseStatus::read(&refused).expect("a status");
        assert!(status.has(4022) && status.has(4000) && status.failed);
        assert_eq!(status.message.as_deref(), Some("Invalid API key received"));
        let fields = json!({ "response_status": { "status_code": "4012", "status": "failed",
            "messages": [{ "type": "failed", "fields": ["subcategory", "requester"] }] } });
        let status = ResponseStatus::read(&fields).expect("a status");
        assert!(status.has(4012));
        assert_eq!(
            status.message.as_deref(),
            Some("fields subcategory, requester")
        );
        assert_eq!(ResponseStatus::read(&json!({ "result": [] })), None);
        assert_eq!(
            ResponseStatus::read(&json!({ "response_status": [] })),
            None
        );
    }

    #[test]
    fn text_skips_empty_and_null_values_and_reads_integers() {
        let user = record(
            json!({ "email_id": "a@x.com", "first_name": null, "last_name": " ", "employee_id": 888 }),
        );
        assert_eq!(user.text("email_id").as_deref(), Some("a@x.com"));
        assert_eq!(user.text("first_name"), None);
        assert!(user.has("first_name"));
        assert_eq!(user.text("last_name"), None);
        assert_eq!(user.text("employee_id").as_deref(), Some("888"));
        assert_eq!(user.text("missing"), None);
    }
}
