//! The user records of a Jira recording, shared by Jira Cloud and Data
//! Center: every record the check saw, one per id, holding only the
//! fields the connector reads. Fields such as `self` and `avatarUrls` name
//! the live host and are left out: the simulator renders its own.
//!
//! A user seen several times (a lookup, the credential check, a service
//! desk's customer list) is merged field by field in an order that does
//! not depend on the order of the answers, so that recording an unchanged
//! system twice writes the same bytes.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::jira::sim::HIDDEN_EMAIL_KEY;

/// How one deployment's user record looks.
pub(crate) struct Shape {
    /// The field holding the ITSM User ID: `accountId` or `key`.
    pub(crate) id_field: &'static str,
    /// The fields kept, in the order they are written.
    pub(crate) fields: &'static [&'static str],
    /// The e-mail address as the simulator must hold it, or `None` for a
    /// value that shows no address (hidden).
    pub(crate) email: fn(&str) -> Option<String>,
    /// Whether the simulator accepts the merged record (its id, its login).
    pub(crate) accepts: fn(&Map<String, Value>) -> bool,
}

/// Where a record came from. A field is taken from the first source that
/// shows it: the user API's own records, then a service desk's customer
/// list (which leaves fields out), then the owner as the connector read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Source {
    UserApi,
    Customer,
    Owner,
}

/// One record as seen: its source and its text, which orders records of
/// the same source independently of the order they arrived in.
type Seen = (Source, String, Map<String, Value>);

/// The users a recording holds, collected answer by answer.
pub(crate) struct Users {
    shape: &'static Shape,
    seen: BTreeMap<String, Vec<Seen>>,
    /// The e-mail searches that returned each user.
    searched: BTreeMap<String, BTreeSet<String>>,
}

impl Users {
    pub(crate) fn new(shape: &'static Shape) -> Users {
        Users {
            shape,
            seen: BTreeMap::new(),
            searched: BTreeMap::new(),
        }
    }

    /// Keeps `record` if it is a user object with an id; returns the id.
    pub(crate) fn add(&mut self, source: Source, record: &Value) -> Option<String> {
        let object = record.as_object()?;
        let id = object
            .get(self.shape.id_field)?
            .as_str()
            .filter(|id| !id.is_empty())?
            .to_owned();
        let text = record.to_string();
        let records = self.seen.entry(id.clone()).or_default();
        if !records.iter().any(|(s, t, _)| *s == source && *t == text) {
            records.push((source, text, object.clone()));
        }
        Some(id)
    }

    /// Keeps a record that the user search for the e-mail address `term`
    /// returned. Should it show no address, the search still matched its
    /// hidden one: the simulator is told so, or the replayed search would
    /// not return the user and "not found" would lose its reason.
    pub(crate) fn add_search_result(&mut self, term: &str, record: &Value) {
        if let Some(id) = self.add(Source::UserApi, record) {
            self.searched
                .entry(id)
                .or_default()
                .insert(term.trim().to_owned());
        }
    }

    pub(crate) fn contains(&self, id: &str) -> bool {
        self.seen.contains_key(id)
    }

    /// The merged records the simulator accepts, sorted by id.
    pub(crate) fn into_records(self) -> Vec<Map<String, Value>> {
        self.seen
            .iter()
            .map(|(id, records)| self.merge(id, records))
            .filter(|record| (self.shape.accepts)(record))
            .collect()
    }

    fn merge(&self, id: &str, records: &[Seen]) -> Map<String, Value> {
        let mut records: Vec<&Seen> = records.iter().collect();
        records.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        let mut merged = Map::new();
        for &field in self.shape.fields {
            let value = if field == self.shape.id_field {
                Some(Value::String(id.to_owned()))
            } else {
                records
                    .iter()
                    .find_map(|(_, _, record)| self.usable(field, record.get(field)?))
            };
            match value {
                Some(value) => {
                    merged.insert(field.to_owned(), value);
                }
                // The simulator wants the flag; the connector reads a
                // record without one as active.
                None if field == "active" => {
                    merged.insert(field.to_owned(), Value::Bool(true));
                }
                None => {}
            }
        }
        if !merged.contains_key("emailAddress")
            && let Some(term) = self.searched.get(id).and_then(|terms| longest(terms))
        {
            merged.insert(HIDDEN_EMAIL_KEY.to_owned(), Value::String(term.to_owned()));
        }
        merged
    }

    /// `value` as the simulator must hold `field`, if it says anything.
    fn usable(&self, field: &str, value: &Value) -> Option<Value> {
        match (field, value) {
            ("active", Value::Bool(_)) => Some(value.clone()),
            ("emailAddress", Value::String(text)) => (self.shape.email)(text).map(Value::String),
            (_, Value::String(text)) if !text.trim().is_empty() => Some(value.clone()),
            _ => None,
        }
    }
}

/// The longest of the search terms (the first by text among equals): the
/// user search is a prefix match, so a hidden address equal to it also
/// matches every shorter term that is a prefix of it.
fn longest(terms: &BTreeSet<String>) -> Option<&str> {
    terms
        .iter()
        .filter(|term| !term.is_empty())
        .max_by(|a, b| a.len().cmp(&b.len()).then_with(|| b.cmp(a)))
        .map(String::as_str)
}

/// The owner as the connector read it, for data whose `/myself` answer
/// was not recorded (the simulator answers `/myself` from the users):
/// `ids`, the deployment's id fields, then what every Jira user record
/// carries.
pub(crate) fn owner_record(ids: &[(&str, &str)], owner: &crate::ItsmUser) -> Value {
    let mut record: Map<String, Value> = ids
        .iter()
        .map(|(field, value)| ((*field).to_owned(), Value::from(*value)))
        .collect();
    let optional = [
        ("accountType", owner.account_type.as_deref()),
        ("displayName", owner.full_name.as_deref()),
        (
            "emailAddress",
            owner.external_id.as_ref().map(|e| e.as_str()),
        ),
        ("timeZone", owner.time_zone.as_deref()),
    ];
    for (field, value) in optional {
        if let Some(value) = value {
            record.insert(field.into(), value.into());
        }
    }
    record.insert("active".into(), owner.active.into());
    Value::Object(record)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SHAPE: Shape = Shape {
        id_field: "accountId",
        fields: &["accountId", "active", "displayName", "emailAddress"],
        email: |text| Some(text.to_owned()).filter(|t| !t.trim().is_empty()),
        accepts: |record| record.get("accountId").is_some(),
    };

    #[test]
    fn records_of_one_user_merge_the_same_way_in_any_order() {
        let customer =
            json!({"accountId": "a1", "displayName": "Pat", "emailAddress": null, "active": true});
        let user = json!({"accountId": "a1", "displayName": "Pat Lee", "emailAddress": "pat@acme.com",
                          "self": "https://acme.atlassian.net/rest/api/3/user?accountId=a1"});
        let merged = |first: &Value, second: &Value, source: [Source; 2]| {
            let mut users = Users::new(&SHAPE);
            users.add(source[0], first);
            users.add(source[1], second);
            users.into_records()
        };
        let one = merged(&customer, &user, [Source::Customer, Source::UserApi]);
        let two = merged(&user, &customer, [Source::UserApi, Source::Customer]);
        assert_eq!(one, two);
        assert_eq!(
            Value::Object(one[0].clone()),
            json!({"accountId": "a1", "active": true, "displayName": "Pat Lee", "emailAddress": "pat@acme.com"})
        );
    }

    #[test]
    fn a_searched_user_without_an_address_keeps_the_longest_term_as_its_hidden_one() {
        let hidden = json!({"accountId": "h1", "displayName": "Hana", "emailAddress": null});
        let mut users = Users::new(&SHAPE);
        users.add_search_result("hana@acme.co", &hidden);
        users.add_search_result("hana@acme.com", &hidden);
        users.add_search_result(
            "pat@acme.com",
            &json!({"accountId": "p1", "emailAddress": "pat@acme.com"}),
        );
        let records = users.into_records();
        assert_eq!(records[0][HIDDEN_EMAIL_KEY], "hana@acme.com");
        assert_eq!(records[0]["active"], true);
        assert!(records[1].get(HIDDEN_EMAIL_KEY).is_none());
    }
}
