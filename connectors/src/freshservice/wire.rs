//! Freshservice API v2 JSON as it comes over the wire: the list envelopes
//! `{"requesters":[...]}` / `{"agents":[...]}`, the single-record envelopes
//! `{"requester":{...}}` / `{"agent":{...}}`, the records inside, and an
//! agent's `roles`.
//!
//! Private to the connector and never trusted: a record may lack any field
//! or carry an unexpected type, so every accessor returns an `Option` and
//! nothing here panics on what a server sent.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
pub(super) struct RequesterList {
    pub requesters: Vec<Record>,
}

#[derive(Debug, Deserialize)]
pub(super) struct AgentList {
    pub agents: Vec<Record>,
}

#[derive(Debug, Deserialize)]
pub(super) struct OneRequester {
    pub requester: Record,
}

#[derive(Debug, Deserialize)]
pub(super) struct OneAgent {
    pub agent: Record,
}

/// One requester or agent, kept as a map: the two lists name the e-mail
/// differently (`primary_email`, `email`) and hidden fields are absent.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub(super) struct Record(BTreeMap<String, Value>);

impl Record {
    /// The numeric `id`: a JSON integer, or a string of digits should a
    /// proxy have turned it into one.
    pub fn id(&self) -> Option<u64> {
        match self.0.get("id")? {
            Value::Number(number) => number.as_u64(),
            Value::String(text) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
                text.parse().ok()
            }
            _ => None,
        }
    }

    /// The field's text, or `None` when absent, null, empty or not a string.
    pub fn text(&self, field: &str) -> Option<&str> {
        match self.0.get(field)? {
            Value::String(text) if !text.trim().is_empty() => Some(text),
            _ => None,
        }
    }

    /// A JSON boolean field; `None` when absent or of another type.
    pub fn flag(&self, field: &str) -> Option<bool> {
        self.0.get(field)?.as_bool()
    }

    /// An agent's `roles`, each with what of it could be read; `None` when
    /// the field is absent or not a list.
    pub fn roles(&self) -> Option<Vec<Role>> {
        let roles = self.0.get("roles")?.as_array()?;
        Some(
            roles
                .iter()
                .map(|role| Role {
                    role_id: role.get("role_id").and_then(Value::as_u64),
                    assignment_scope: role
                        .get("assignment_scope")
                        .and_then(Value::as_str)
                        .map(str::trim)
                        .filter(|scope| !scope.is_empty())
                        .map(str::to_owned),
                })
                .collect(),
        )
    }
}

/// One of an agent's `roles`: `{"role_id", "assignment_scope", "groups"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Role {
    pub role_id: Option<u64>,
    /// `entire_helpdesk`, `member_groups`, `specified_groups` or
    /// `assigned_items`.
    pub assignment_scope: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_leniently() {
        let record: Record = serde_json::from_str(
            r#"{"id":19000234501,"first_name":"Pat","last_name":null,"active":false,"x":3}"#,
        )
        .expect("a record");
        assert_eq!(record.id(), Some(19_000_234_501));
        assert_eq!(record.text("first_name"), Some("Pat"));
        assert_eq!(record.text("last_name"), None);
        assert_eq!(record.text("x"), None);
        assert_eq!(record.flag("active"), Some(false));
        let text_id: Record = serde_json::from_str(r#"{"id":"42"}"#).expect("a record");
        assert_eq!(text_id.id(), Some(42));
        let bad_id: Record = serde_json::from_str(r#"{"id":-4}"#).expect("a record");
        assert_eq!(bad_id.id(), None);
    }

    #[test]
    fn roles_are_read_with_whatever_each_one_says() {
        let agent: Record = serde_json::from_str(
            r#"{"roles":[{"role_id":7,"assignment_scope":"assigned_items","groups":[]},
                         {"role_id":"8","assignment_scope":" "},{}]}"#,
        )
        .expect("a record");
        assert_eq!(
            agent.roles(),
            Some(vec![
                Role {
                    role_id: Some(7),
                    assignment_scope: Some("assigned_items".into())
                },
                Role {
                    role_id: None,
                    assignment_scope: None
                },
                Role {
                    role_id: None,
                    assignment_scope: None
                },
            ])
        );
        let none: Record = serde_json::from_str(r#"{"roles":null}"#).expect("a record");
        assert_eq!(none.roles(), None);
        let absent: Record = serde_json::from_str("{}").expect("a record");
        assert_eq!(absent.roles(), None);
    }
}
