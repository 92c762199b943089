//! The simulator data that replays a recording of this system (SPEC
//! section 8): built from the answers the check and the readiness probe
//! read, in the simulator's own data format.
//!
//! `records` holds every `User` record the queries returned, once per Id
//! and sorted by it, so that recording an unchanged org twice writes the
//! same bytes; the `userinfo` answer fills the owner's record (or makes
//! it, when no query read it), since the simulator's `userinfo` answers
//! from that record. `sobjects` holds each describe the probe read: its
//! object-level flags (`null` for one it did not say), or the error it got
//! as it came. `simulator.any` names the owner's Id: every request is
//! answered as that user, since a replay sends placeholder secrets.
//!
//! `attributes.url` and the `userinfo` links name the live org; they are
//! left out, and the simulator builds its own relative ones.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::{USERINFO_PATH, parse_id, query};
use crate::ItsmUser;
use crate::recording::{Exchange, any_credential};

/// Fields holding a person's name, pseudonymized word by word.
pub const NAME_FIELDS: &[&str] = &["FirstName", "LastName", "Name"];

/// Fields holding an e-mail address, a user name or an External ID,
/// pseudonymized whole. `FederationIdentifier` is the usual `lookup_by`
/// besides the first two.
pub const LOGIN_FIELDS: &[&str] = &[
    "Username",
    "Email",
    "FederationIdentifier",
    "Alias",
    "CommunityNickname",
];

/// The describe flags the probe reads: recorded even when absent, as
/// `null`, because an absent flag is a reason of its own.
const READ_FLAGS: [&str; 3] = ["queryable", "createable", "updateable"];

/// The other describe flags the simulator knows, kept when present.
const OTHER_FLAGS: [&str; 3] = ["deletable", "retrieveable", "searchable"];

/// What names a described object, kept when it is plain text or a flag.
const OBJECT_NAMES: [&str; 4] = ["label", "labelPlural", "keyPrefix", "custom"];

/// The `userinfo` field and the User field the simulator answers it from.
const USERINFO_FIELDS: [(&str, &str); 7] = [
    ("preferred_username", "Username"),
    ("email", "Email"),
    ("given_name", "FirstName"),
    ("family_name", "LastName"),
    ("name", "Name"),
    ("active", "IsActive"),
    ("user_type", "UserType"),
];

/// The data file that answers as the recorded system did.
pub fn sim_data(exchanges: &[Exchange], owner: Option<&ItsmUser>) -> Value {
    let mut recorded = Recorded::default();
    for exchange in exchanges.iter().filter(|e| e.method == "GET") {
        recorded.add(exchange);
    }
    recorded.into_data(owner)
}

/// A record or an entry with its keys in order, so that the output does
/// not depend on the order answers came in.
type Row = BTreeMap<String, Value>;

#[derive(Debug, Default)]
struct Recorded {
    /// Canonical Id -> the union of the fields read for it.
    records: BTreeMap<String, Row>,
    /// Lower-cased name -> the spelling of every field an answered query
    /// selected: the org has them, whether or not a record came back.
    selected: BTreeMap<String, String>,
    /// The last `userinfo` answer, when it answered.
    userinfo: Option<Map<String, Value>>,
    /// Lower-cased object name -> its `sobjects` entry.
    objects: BTreeMap<String, Row>,
}

impl Recorded {
    fn add(&mut self, exchange: &Exchange) {
        if exchange.path == USERINFO_PATH {
            if let (true, Value::Object(info)) = (succeeded(exchange), &exchange.body) {
                self.userinfo = Some(info.clone());
            }
            return;
        }
        let Some(rest) = data_path(&exchange.path) else {
            return;
        };
        if rest == "query" || rest.starts_with("query/") {
            self.add_page(exchange);
        } else if let Some(object) = rest
            .strip_prefix("sobjects/")
            .and_then(|rest| rest.strip_suffix("/describe"))
        {
            self.add_describe(object, exchange);
        }
    }

    /// A page of a query (its first page names the fields in `q`; a next
    /// page only carries records). A record without a valid Id is left
    /// out, as the connector leaves it out.
    fn add_page(&mut self, exchange: &Exchange) {
        if !succeeded(exchange) {
            return;
        }
        for field in exchange.param("q").map(selected_fields).unwrap_or_default() {
            self.selected
                .insert(field.to_ascii_lowercase(), field.to_owned());
        }
        let records = exchange.body.get("records").and_then(Value::as_array);
        for record in records.into_iter().flatten() {
            let Value::Object(record) = without_urls(record, false) else {
                continue;
            };
            let Some(id) = record
                .get("Id")
                .and_then(Value::as_str)
                .and_then(|id| parse_id(id).ok())
            else {
                continue;
            };
            let merged = self.records.entry(id.as_str().to_owned()).or_default();
            merged.extend(record);
            merged.insert("Id".into(), Value::String(id.into_string()));
        }
    }

    fn add_describe(&mut self, object: &str, exchange: &Exchange) {
        let entry = if succeeded(exchange) {
            described(object, &exchange.body)
        } else {
            Row::from([
                ("name".to_owned(), Value::String(object.to_owned())),
                (
                    "refused".to_owned(),
                    json!({ "status": exchange.status, "body": exchange.body }),
                ),
            ])
        };
        self.objects.insert(object.to_ascii_lowercase(), entry);
    }

    fn into_data(mut self, owner: Option<&ItsmUser>) -> Value {
        self.fill_from_userinfo();
        self.list_unseen_fields();
        let records: Vec<Value> = self.records.into_values().map(object).collect();
        let sobjects: Vec<Value> = self.objects.into_values().map(object).collect();
        json!({
            "records": records,
            "sobjects": sobjects,
            "simulator": any_credential(owner.map(|o| o.itsm_user_id.as_str())),
        })
    }

    /// Gives the `userinfo` user's record every field `userinfo` answered
    /// that no query read; what a query read stays as read, since the
    /// lookups answer from it.
    fn fill_from_userinfo(&mut self) {
        let Some(info) = self.userinfo.take() else {
            return;
        };
        let Some(id) = info
            .get("user_id")
            .and_then(Value::as_str)
            .and_then(|id| parse_id(id).ok())
        else {
            return;
        };
        let record = self
            .records
            .entry(id.as_str().to_owned())
            .or_insert_with(|| {
                Row::from([
                    ("Id".to_owned(), Value::String(id.as_str().to_owned())),
                    ("attributes".to_owned(), json!({ "type": "User" })),
                ])
            });
        for (claim, field) in USERINFO_FIELDS {
            match info.get(claim) {
                Some(Value::Null) | None => {}
                Some(value) => {
                    record
                        .entry(field.to_owned())
                        .or_insert_with(|| value.clone());
                }
            }
        }
    }

    /// Lists in the `User` entry the selected fields no record carries and
    /// the simulator does not know by itself (a custom `lookup_by` that
    /// matched nobody), or the replay would refuse the query they are in.
    fn list_unseen_fields(&mut self) {
        let carried: Vec<String> = self
            .records
            .values()
            .flat_map(|record| record.keys())
            .map(|field| field.to_ascii_lowercase())
            .collect();
        let unseen: Vec<Value> = self
            .selected
            .iter()
            .filter(|(folded, _)| {
                !carried.contains(folded)
                    && !query::FIELDS
                        .iter()
                        .any(|field| field.eq_ignore_ascii_case(folded))
            })
            .map(|(_, field)| json!({ "name": field }))
            .collect();
        if unseen.is_empty() {
            return;
        }
        self.objects
            .entry("user".into())
            .or_insert_with(|| Row::from([("name".to_owned(), json!("User"))]))
            .insert("fields".into(), Value::Array(unseen));
    }
}

/// A describe's object-level facts, as a `sobjects` entry. The name comes
/// from the path unless the describe spells the same name otherwise.
fn described(object: &str, describe: &Value) -> Row {
    let name = describe
        .get("name")
        .and_then(Value::as_str)
        .filter(|name| name.eq_ignore_ascii_case(object))
        .unwrap_or(object);
    let mut entry = Row::from([("name".to_owned(), Value::String(name.to_owned()))]);
    for key in OBJECT_NAMES {
        if let Some(value) = describe
            .get(key)
            .filter(|v| !v.is_object() && !v.is_array())
        {
            entry.insert(key.to_owned(), value.clone());
        }
    }
    for flag in READ_FLAGS {
        let value = describe.get(flag).filter(|v| v.is_boolean()).cloned();
        entry.insert(flag.to_owned(), value.unwrap_or(Value::Null));
    }
    for flag in OTHER_FLAGS {
        if let Some(value) = describe.get(flag).filter(|v| v.is_boolean()) {
            entry.insert(flag.to_owned(), value.clone());
        }
    }
    entry
}

/// The part of a REST path after `/services/data/vXX.X/`.
fn data_path(path: &str) -> Option<&str> {
    let (_, rest) = path
        .trim_end_matches('/')
        .strip_prefix("/services/data/v")?
        .split_once('/')?;
    Some(rest)
}

/// The fields of `SELECT a, b FROM ...`.
fn selected_fields(soql: &str) -> Vec<&str> {
    // ASCII upper-casing keeps every byte offset.
    let upper = soql.to_ascii_uppercase();
    let (Some(start), Some(end)) = (upper.find("SELECT "), upper.find(" FROM ")) else {
        return Vec::new();
    };
    soql.get(start + "SELECT ".len()..end)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|field| !field.is_empty())
        .collect()
}

/// The value without the `url` of any `attributes`: Salesforce's record
/// links name the live org.
fn without_urls(value: &Value, in_attributes: bool) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(key, _)| !(in_attributes && *key == "url"))
                .map(|(key, inner)| (key.clone(), without_urls(inner, key == "attributes")))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| without_urls(v, false)).collect()),
        other => other.clone(),
    }
}

fn succeeded(exchange: &Exchange) -> bool {
    (200..300).contains(&exchange.status)
}

fn object(row: Row) -> Value {
    Value::Object(row.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOT: &str = "0055e000003MwBtAAK";

    fn get(path: &str, query: &[(&str, &str)], status: u16, body: Value) -> Exchange {
        Exchange::get(path, query, status, body)
    }

    #[test]
    fn record_links_are_dropped_and_fifteen_character_ids_made_whole() {
        let page = get(
            "/services/data/v60.0/query",
            &[(
                "q",
                "SELECT Id, Username FROM User WHERE Id IN ('0055e000003MwBt')",
            )],
            200,
            json!({"totalSize": 1, "done": true, "records": [{
                "attributes": {"type": "User", "url": "https://acme.my.salesforce.com/x"},
                "Id": "0055e000003MwBt", "Username": "bot@acme.com"}]}),
        );
        let data = sim_data(&[page], None);
        assert_eq!(
            data["records"],
            json!([{"Id": BOT, "Username": "bot@acme.com", "attributes": {"type": "User"}}])
        );
        assert!(!data.to_string().contains("salesforce.com"));
    }

    #[test]
    fn userinfo_fills_only_what_no_query_read_and_makes_a_missing_owner() {
        let page = get(
            "/services/data/v60.0/query",
            &[],
            200,
            json!({"done": true, "records": [{"Id": BOT, "Name": "Bot", "Email": null}]}),
        );
        let info = get(
            USERINFO_PATH,
            &[],
            200,
            json!({"user_id": BOT, "name": "Other", "email": "bot@acme.com", "active": true,
                   "profile": "https://acme.my.salesforce.com/005"}),
        );
        let data = sim_data(&[page.clone(), info.clone()], None);
        assert_eq!(
            data["records"],
            json!([{"Email": null, "Id": BOT, "IsActive": true, "Name": "Bot"}])
        );
        let alone = sim_data(&[info], None);
        assert_eq!(alone["records"][0]["Email"], "bot@acme.com");
        assert_eq!(alone["records"][0]["Name"], "Other");
        assert!(!alone.to_string().contains("salesforce.com"));
    }

    #[test]
    fn describes_keep_their_flags_or_their_refusal() {
        let exchanges = [
            get(
                "/services/data/v60.0/sobjects/solution/describe",
                &[],
                200,
                json!({"name": "Solution", "queryable": true, "createable": false,
                       "deletable": "no", "urls": {"describe": "/x"}, "fields": [{"name": "Id"}]}),
            ),
            get(
                "/services/data/v60.0/sobjects/Case/describe",
                &[],
                403,
                json!([{"errorCode": "INSUFFICIENT_ACCESS", "message": "no"}]),
            ),
        ];
        let data = sim_data(&exchanges, None);
        assert_eq!(
            data["sobjects"],
            json!([
                {"name": "Case", "refused": {"status": 403,
                    "body": [{"errorCode": "INSUFFICIENT_ACCESS", "message": "no"}]}},
                {"createable": false, "name": "Solution", "queryable": true, "updateable": null},
            ])
        );
    }

    #[test]
    fn a_selected_field_no_record_carries_is_listed_for_user() {
        let page = get(
            "/services/data/v60.0/query",
            &[(
                "q",
                "SELECT Id, Username, FederationIdentifier FROM User WHERE FederationIdentifier IN ('x')",
            )],
            200,
            json!({"totalSize": 0, "done": true, "records": []}),
        );
        let data = sim_data(&[page], None);
        assert_eq!(
            data["sobjects"],
            json!([{"fields": [{"name": "FederationIdentifier"}], "name": "User"}])
        );
    }
}
