//! The Salesforce simulator's sObject describe (`GET
//! /services/data/vXX.X/sobjects/<object>/describe`), for the readiness
//! probe: the standard objects, and the fixture's `sobjects` in the shape
//! of Describe Global's entries (`name`, `label`, `keyPrefix`, `queryable`,
//! `createable`, `updateable`, ...), each overriding or adding an object.
//!
//! A fixture without `sobjects` answers as a ready bot: every standard
//! object is queryable, createable and updateable. An object that is
//! neither standard nor in the fixture does not exist (404 `NOT_FOUND`, as
//! for an object the caller may not see). The describe is the same for
//! every caller; the fixture describes what the bot sees.
//!
//! For a recording, an entry may also say what a describe did not: a flag
//! that is `null` is sent as `null` (the describe does not say), and
//! `refused` (`{"status", "body"}`) answers the describe with the error the
//! org gave, as it came, since its error codes reach the report. The
//! entry of `User` may list `fields` (`[{"name": ...}]`): User fields the
//! org has though no record carries them, so that queries naming them are
//! not refused.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value, json};
use wiremock::ResponseTemplate;

use crate::sim::{InvalidSimData, json_response};

/// Standard objects and their key prefixes.
const STANDARD_OBJECTS: [(&str, &str); 7] = [
    ("Account", "001"),
    ("Case", "500"),
    ("Contact", "003"),
    ("Lead", "00Q"),
    ("Opportunity", "006"),
    ("Task", "00T"),
    ("User", "005"),
];

/// The object-level flags of a describe; each must be a boolean.
const FLAGS: [&str; 6] = [
    "queryable",
    "createable",
    "updateable",
    "deletable",
    "retrieveable",
    "searchable",
];

/// Every object the simulated org has, by lower-cased name: REST paths
/// name objects without regard to case.
#[derive(Debug, Clone)]
pub(super) struct Objects {
    described: BTreeMap<String, Map<String, Value>>,
    /// Objects whose describe answers an error, by lower-cased name.
    refused: BTreeMap<String, Refusal>,
}

/// An error answer as the org gave it: a 4xx or 5xx status and its body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Refusal {
    status: u16,
    body: Value,
}

impl Objects {
    /// The standard objects with the fixture's entries over them; refuses
    /// an entry without a usable `name`, with a flag that is neither a
    /// boolean nor `null`, or with a refusal that is no error.
    pub fn build(entries: Vec<Map<String, Value>>) -> Result<Objects, InvalidSimData> {
        let mut objects: BTreeMap<String, Map<String, Value>> = STANDARD_OBJECTS
            .iter()
            .map(|(name, prefix)| (name.to_ascii_lowercase(), standard(name, prefix)))
            .collect();
        let mut refused = BTreeMap::new();
        for (index, mut entry) in entries.into_iter().enumerate() {
            let name = match entry.get("name") {
                Some(Value::String(name)) if is_object_name(name) => name.clone(),
                _ => {
                    return Err(InvalidSimData(format!(
                        "sobjects[{index}] has no usable name: give the object's API name, e.g. \
                         \"Case\" or \"Incident__c\""
                    )));
                }
            };
            if let Some(flag) = FLAGS.iter().find(|flag| {
                entry
                    .get(**flag)
                    .is_some_and(|value| !value.is_boolean() && !value.is_null())
            }) {
                return Err(InvalidSimData(format!(
                    "sobjects[{index}].{flag} is neither a boolean nor null"
                )));
            }
            if let Some(refusal) = entry.remove("refused") {
                refused.insert(name.to_ascii_lowercase(), refusal_of(index, refusal)?);
            }
            let object = objects
                .entry(name.to_ascii_lowercase())
                .or_insert_with(|| standard(&name, ""));
            object.extend(entry);
        }
        Ok(Objects {
            described: objects,
            refused,
        })
    }

    /// The names of the `fields` the entry of `object` lists.
    pub fn field_names(&self, object: &str) -> Vec<String> {
        self.described
            .get(&object.to_ascii_lowercase())
            .and_then(|entry| entry.get("fields"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|field| field.get("name").and_then(Value::as_str))
            .map(str::to_owned)
            .collect()
    }

    /// The answer to `sobjects/<rest>` of API version `version`.
    pub fn answer(&self, version: &str, rest: &str) -> ResponseTemplate {
        let Some((object, "describe")) = rest.split_once('/') else {
            return not_found();
        };
        if let Some(refusal) = self.refused.get(&object.to_ascii_lowercase()) {
            return json_response(refusal.status, &refusal.body);
        }
        let Some(entry) = self.described.get(&object.to_ascii_lowercase()) else {
            return not_found();
        };
        let name = entry
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(object)
            .to_owned();
        let base = format!("/services/data/v{version}/sobjects/{name}");
        let mut describe = Map::new();
        describe.insert("fields".into(), json!([]));
        describe.insert("childRelationships".into(), json!([]));
        describe.insert("recordTypeInfos".into(), json!([]));
        describe.insert(
            "urls".into(),
            json!({
                "sobject": base,
                "describe": format!("{base}/describe"),
                "rowTemplate": format!("{base}/{{ID}}"),
            }),
        );
        describe.extend(entry.clone());
        json_response(200, &Value::Object(describe))
    }
}

/// Reads an entry's `refused`: an error status and the body to send.
fn refusal_of(index: usize, value: Value) -> Result<Refusal, InvalidSimData> {
    let refusal: Refusal = serde_json::from_value(value)
        .map_err(|err| InvalidSimData(format!("sobjects[{index}].refused: {err}")))?;
    if !(400..=599).contains(&refusal.status) {
        return Err(InvalidSimData(format!(
            "sobjects[{index}].refused.status is {}; a refusal is a 4xx or 5xx status",
            refusal.status
        )));
    }
    Ok(refusal)
}

/// A standard object the caller may query, create, update and delete.
fn standard(name: &str, prefix: &str) -> Map<String, Value> {
    let mut object = Map::new();
    object.insert("name".into(), json!(name));
    object.insert("label".into(), json!(name));
    object.insert(
        "keyPrefix".into(),
        if prefix.is_empty() {
            Value::Null
        } else {
            json!(prefix)
        },
    );
    object.insert("custom".into(), json!(name.ends_with("__c")));
    for flag in FLAGS {
        object.insert(flag.into(), json!(true));
    }
    object
}

fn not_found() -> ResponseTemplate {
    json_response(
        404,
        &json!([{ "errorCode": "NOT_FOUND", "message": "The requested resource does not exist" }]),
    )
}

fn is_object_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(json: &str) -> Vec<Map<String, Value>> {
        serde_json::from_str(json).expect("a list of objects")
    }

    #[test]
    fn entries_override_standard_objects_and_add_others() {
        let objects = Objects::build(entries(
            r#"[{"name": "Case", "createable": false},
                {"name": "Incident__c", "label": "Incident", "custom": true}]"#,
        ))
        .expect("valid entries");
        let case = objects.described.get("case").expect("Case");
        assert_eq!(case["createable"], false);
        assert_eq!(case["updateable"], true);
        assert_eq!(case["keyPrefix"], "500");
        let incident = objects.described.get("incident__c").expect("Incident__c");
        assert_eq!(incident["queryable"], true);
        assert_eq!(incident["label"], "Incident");
    }

    #[test]
    fn entries_without_a_name_or_with_a_flag_that_is_no_boolean_are_refused() {
        let nameless = Objects::build(entries(r#"[{"label": "Case"}]"#)).expect_err("no name");
        assert!(nameless.to_string().contains("sobjects[0]"), "{nameless}");
        let text = Objects::build(entries(r#"[{"name": "Case", "updateable": "false"}]"#))
            .expect_err("a text flag");
        assert!(
            text.to_string().contains("sobjects[0].updateable"),
            "{text}"
        );
        let success = Objects::build(entries(
            r#"[{"name": "Case", "refused": {"status": 200, "body": {}}}]"#,
        ))
        .expect_err("a refusal that is no error");
        assert!(
            success.to_string().contains("sobjects[0].refused.status"),
            "{success}"
        );
    }

    #[test]
    fn a_refused_entry_answers_its_error_and_user_fields_are_listed() {
        let objects = Objects::build(entries(
            r#"[{"name": "Case", "refused": {"status": 403, "body": [{"errorCode": "X"}]}},
                {"name": "User", "fields": [{"name": "FederationIdentifier"}]}]"#,
        ))
        .expect("valid entries");
        assert!(objects.refused.contains_key("case"));
        assert!(!objects.described["case"].contains_key("refused"));
        assert_eq!(objects.field_names("user"), ["FederationIdentifier"]);
        assert!(objects.field_names("Case").is_empty());
    }
}
