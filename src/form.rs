//! The rules of the New / Edit Manual User form (the seed's "Add users
//! manually"): Unique Record ID required and unique; the User Attribute
//! Reference's enums; registered custom attributes only; one ITSM entry per
//! integration; integration names checked against the config.
//!
//! Pure: works on a user as the identities file's JSON structure, and says
//! every problem at once. Never reads or writes a file (`edit/users.rs`
//! writes).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::config::Config;
use crate::identities::{Identities, Identity, STRING_ATTRIBUTES, USER_TAGS, WORK_STATUSES};

/// Why the form refused a user.
#[derive(Debug, thiserror::Error)]
pub enum FormError {
    /// Every problem of the user at once, each naming the flag.
    #[error(
        "{}: the user was not saved ({} problem{}):\n  {}",
        file.display(),
        problems.len(),
        if problems.len() == 1 { "" } else { "s" },
        problems.join("\n  ")
    )]
    Refused {
        file: PathBuf,
        problems: Vec<String>,
    },
    #[error("--remove-itsm {integration}: the user has no entry for that integration")]
    NoItsmEntry { integration: String },
}

/// A manual user as the identities file's JSON structure.
pub fn user_json(user: &Identity) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert(
        "unique_record_id".into(),
        Value::from(user.unique_record_id.as_str().to_owned()),
    );
    for name in STRING_ATTRIBUTES {
        if let Some(value) = user.attribute(name) {
            out.insert((*name).into(), Value::from(value));
        }
    }
    if !user.user_emails.is_empty() {
        out.insert("user_emails".into(), Value::from(user.user_emails.clone()));
    }
    if !user.user_tags.is_empty() {
        out.insert("user_tags".into(), Value::from(user.user_tags.clone()));
    }
    if let Some(status) = &user.work_status {
        out.insert("work_status".into(), Value::from(status.clone()));
    }
    if !user.custom_attributes.is_empty() {
        let custom: Map<String, Value> = user
            .custom_attributes
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        out.insert("custom_attributes".into(), Value::Object(custom));
    }
    let itsm: Vec<Value> = user
        .itsm
        .iter()
        .map(|e| {
            let mut entry = Map::new();
            entry.insert("integration".into(), Value::from(e.integration.as_str()));
            for (key, value) in [
                (
                    "external_id",
                    e.external_id.as_ref().map(|x| x.as_str().to_owned()),
                ),
                ("itsm_user_id", e.itsm_user_id.clone()),
                ("first_name", e.first_name.clone()),
                ("last_name", e.last_name.clone()),
                ("full_name", e.full_name.clone()),
            ] {
                if let Some(value) = value {
                    entry.insert(key.into(), Value::from(value));
                }
            }
            Value::Object(entry)
        })
        .collect();
    if !itsm.is_empty() {
        out.insert("itsm".into(), Value::Array(itsm));
    }
    for (key, list) in [("channels", &user.channels), ("idm", &user.idm)] {
        if !list.is_empty() {
            let values: Vec<Value> = list
                .iter()
                .map(|m| {
                    Value::Object(
                        m.iter()
                            .map(|(k, v)| (k.clone(), Value::from(v.clone())))
                            .collect(),
                    )
                })
                .collect();
            out.insert(key.into(), Value::Array(values));
        }
    }
    out
}

/// The edited user: changed fields replace, ITSM entries replace the entry
/// of the same integration or are added.
pub fn merge_edit(
    mut current: Map<String, Value>,
    changes: &Map<String, Value>,
    remove_itsm: &[String],
) -> Result<Map<String, Value>, FormError> {
    for (key, value) in changes {
        if key == "itsm" {
            let mut entries = match current.remove("itsm") {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            };
            for new in value.as_array().into_iter().flatten() {
                let integration = new.get("integration").cloned();
                match entries
                    .iter_mut()
                    .find(|e| e.get("integration") == integration.as_ref())
                {
                    Some(existing) => {
                        if let (Some(existing), Some(new)) =
                            (existing.as_object_mut(), new.as_object())
                        {
                            for (k, v) in new {
                                existing.insert(k.clone(), v.clone());
                            }
                        }
                    }
                    None => entries.push(new.clone()),
                }
            }
            current.insert("itsm".into(), Value::Array(entries));
        } else {
            current.insert(key.clone(), value.clone());
        }
    }
    if !remove_itsm.is_empty() {
        let mut none = Vec::new();
        let entries = match current.get_mut("itsm") {
            Some(Value::Array(entries)) => entries,
            _ => &mut none,
        };
        for integration in remove_itsm {
            let before = entries.len();
            entries.retain(|e| {
                e.get("integration").and_then(Value::as_str) != Some(integration.as_str())
            });
            if entries.len() == before {
                return Err(FormError::NoItsmEntry {
                    integration: integration.clone(),
                });
            }
        }
    }
    Ok(current)
}

pub fn text(fields: &Map<String, Value>, key: &str) -> Option<String> {
    fields
        .get(key)
        .and_then(Value::as_str)
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// The form's rules; every problem at once, each naming the flag.
pub fn validate(
    config: &Config,
    identities: &Identities,
    user: &Map<String, Value>,
    editing: Option<usize>,
) -> Result<(), FormError> {
    let mut problems: Vec<String> = Vec::new();
    let known_keys: Vec<&str> = STRING_ATTRIBUTES
        .iter()
        .copied()
        .chain([
            "unique_record_id",
            "user_emails",
            "user_tags",
            "work_status",
            "custom_attributes",
            "itsm",
            "channels",
            "idm",
        ])
        .collect();
    for key in user.keys() {
        if !known_keys.contains(&key.as_str()) {
            problems.push(match crate::doc::closest(key, &known_keys) {
                Some(s) => format!("unknown field `{key}`: did you mean `{s}`?"),
                None => format!("unknown field `{key}`"),
            });
        }
    }
    for key in STRING_ATTRIBUTES
        .iter()
        .chain(["unique_record_id", "work_status"].iter())
    {
        if let Some(value) = user.get(*key)
            && !value.is_string()
        {
            problems.push(format!("`{key}` must be a string"));
        }
    }
    match text(user, "unique_record_id") {
        None => problems.push("--unique-record-id is required: the value of the organization's joining key, usually the e-mail".into()),
        Some(urid) => {
            let taken = identities
                .bot
                .iter()
                .filter(|b| b.unique_record_id.as_str() == urid)
                .map(|_| "the bot".to_owned())
                .chain(
                    identities
                        .users
                        .iter()
                        .enumerate()
                        .filter(|(i, u)| Some(*i) != editing && u.unique_record_id.as_str() == urid)
                        .map(|(_, u)| format!("manual user \"{}\"", u.unique_record_id)),
                )
                .next();
            if let Some(owner) = taken {
                problems.push(format!("unique_record_id \"{urid}\" is already used by {owner}; Unique Record IDs must be unique"));
            }
        }
    }
    if editing.is_none() {
        for (key, flag) in [("email_addr", "--email-addr"), ("full_name", "--full-name")] {
            if text(user, key).is_none() {
                problems.push(format!("{flag} is required for a new user"));
            }
        }
    }
    if let Some(status) = user.get("work_status").and_then(Value::as_str)
        && !WORK_STATUSES.contains(&status)
    {
        problems.push(format!(
            "--work-status \"{status}\" is not one of {}",
            WORK_STATUSES.join(", ")
        ));
    }
    for (key, allowed) in [("user_tags", Some(USER_TAGS)), ("user_emails", None)] {
        match user.get(key) {
            None => {}
            Some(Value::Array(items)) => {
                for item in items {
                    match (item.as_str(), allowed) {
                        (None, _) => problems.push(format!("`{key}` must be a list of strings")),
                        (Some(tag), Some(allowed)) if !allowed.contains(&tag) => problems.push(
                            format!("--user-tag \"{tag}\" is not one of {}", allowed.join(", ")),
                        ),
                        _ => {}
                    }
                }
            }
            Some(_) => problems.push(format!("`{key}` must be a list of strings")),
        }
    }
    if let Some(custom) = user.get("custom_attributes") {
        match custom.as_object() {
            Some(map) => {
                for name in map.keys() {
                    if !config.pipeline.custom_attributes.iter().any(|r| r == name) {
                        problems.push(format!(
                            "custom attribute `{name}` is not registered; add it to pipeline.custom_attributes in {}",
                            config.path.display()
                        ));
                    }
                }
            }
            None => problems.push("`custom_attributes` must be an object".into()),
        }
    }
    let known: Vec<&str> = config
        .connectors
        .iter()
        .map(|c| c.integration.as_str())
        .collect();
    let mut seen: BTreeMap<String, ()> = BTreeMap::new();
    for entry in user
        .get("itsm")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(entry) = entry.as_object() else {
            problems.push("each ITSM ID Info entry must be an object".into());
            continue;
        };
        for key in entry.keys() {
            if ![
                "integration",
                "external_id",
                "itsm_user_id",
                "first_name",
                "last_name",
                "full_name",
            ]
            .contains(&key.as_str())
            {
                problems.push(format!("--itsm: unknown key `{key}`"));
            }
        }
        let integration = entry
            .get("integration")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim();
        if integration.is_empty() {
            problems.push("--itsm: every entry needs integration=...".into());
            continue;
        }
        if !known.contains(&integration) {
            problems.push(match known.iter().find(|k| k.eq_ignore_ascii_case(integration)) {
                Some(s) => format!("--itsm: integration \"{integration}\" matches no connector; integrations are case-sensitive: did you mean \"{s}\"?"),
                None => format!("--itsm: integration \"{integration}\" matches no connector (configured: {})", known.join(", ")),
            });
        }
        if seen.insert(integration.to_owned(), ()).is_some() {
            problems.push(format!("--itsm: two entries for integration \"{integration}\"; one entry per ticketing system"));
        }
        if entry
            .get("external_id")
            .and_then(Value::as_str)
            .is_none_or(|v| v.trim().is_empty())
            && entry
                .get("itsm_user_id")
                .and_then(Value::as_str)
                .is_none_or(|v| v.trim().is_empty())
        {
            problems.push(format!("--itsm: the {integration} entry needs external_id=... (the user's identifier in that system)"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(FormError::Refused {
            file: identities.path.clone(),
            problems,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::*;

    const CONFIG: &str = r#"
identities = "identities.toml"

[pipeline]
custom_attributes = ["office"]

[[connectors]]
integration = "snow"
system = "servicenow"
base_url = "https://acme.service-now.com"
[connectors.auth]
type = "basic"
username = "moveworks.bot"
password = "env:SNOW_PASSWORD"

[[connectors]]
integration = "jira_service_desk"
system = "jira"
base_url = "https://acme.atlassian.net"
[connectors.auth]
type = "basic"
username = "moveworks-bot@acme.com"
password = "env:JIRA_TOKEN"
"#;

    const IDENTITIES: &str = r#"
[bot]
unique_record_id = "moveworks-bot@acme.com"

[[users]]
unique_record_id = "pat@acme.com"
email_addr = "pat@acme.com"
full_name = "Pat Lee"
user_tags = ["BASIC_USER"]
[users.custom_attributes]
office = "Building 4"
[[users.itsm]]
integration = "snow"
external_id = "pat.lee"

[[users]]
unique_record_id = "sam@acme.com"
"#;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().expect("an object").clone()
    }

    /// The form's problems for `user`; empty when it is accepted.
    fn problems(user: Value, editing: Option<usize>) -> Vec<String> {
        let config = Config::parse(Path::new("itsmid.toml"), CONFIG).unwrap();
        let identities =
            Identities::parse(Path::new("identities.toml"), IDENTITIES, &["office".into()])
                .unwrap();
        match validate(&config, &identities, &object(user), editing) {
            Ok(()) => Vec::new(),
            Err(FormError::Refused { problems, .. }) => problems,
            Err(other) => panic!("{other}"),
        }
    }

    /// A new user with the required fields, and `extra` on top.
    fn new_user(extra: Value) -> Vec<String> {
        let mut user = object(json!({"unique_record_id": "lee@acme.com",
            "email_addr": "lee@acme.com", "full_name": "Lee Kim"}));
        user.extend(object(extra));
        problems(Value::Object(user), None)
    }

    fn one(problems: Vec<String>, wanted: &str) {
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(problems[0].contains(wanted), "{problems:#?}");
    }

    #[test]
    fn a_new_user_with_the_required_fields_is_accepted() {
        let extra = json!({"work_status": "CONTINGENT", "user_tags": ["VIP"],
            "user_emails": ["lee@partner.example"], "custom_attributes": {"office": "B4"},
            "itsm": [{"integration": "snow", "external_id": "lee.kim"}]});
        assert_eq!(new_user(extra), Vec::<String>::new());
    }

    #[test]
    fn a_missing_or_blank_unique_record_id_is_refused() {
        one(
            new_user(json!({"unique_record_id": "  "})),
            "--unique-record-id is required",
        );
        let user = json!({"email_addr": "lee@acme.com", "full_name": "Lee Kim"});
        one(problems(user, None), "--unique-record-id is required");
    }

    #[test]
    fn the_bots_unique_record_id_is_refused() {
        let taken = json!({"unique_record_id": "moveworks-bot@acme.com"});
        one(new_user(taken), "already used by the bot");
    }

    #[test]
    fn another_manual_users_unique_record_id_is_refused() {
        let taken = json!({"unique_record_id": " pat@acme.com "});
        one(
            new_user(taken),
            "already used by manual user \"pat@acme.com\"",
        );
    }

    #[test]
    fn an_edited_user_keeps_its_own_unique_record_id_but_not_anothers() {
        let pat = json!({"unique_record_id": "pat@acme.com"});
        assert_eq!(problems(pat.clone(), Some(0)), Vec::<String>::new());
        one(problems(pat, Some(1)), "already used by manual user");
    }

    #[test]
    fn email_addr_and_full_name_are_required_for_a_new_user_only() {
        let bare = json!({"unique_record_id": "lee@acme.com"});
        let shown = problems(bare.clone(), None);
        assert_eq!(
            shown,
            [
                "--email-addr is required for a new user",
                "--full-name is required for a new user"
            ]
        );
        assert_eq!(problems(bare, Some(1)), Vec::<String>::new());
    }

    #[test]
    fn a_work_status_outside_the_enum_is_refused() {
        one(
            new_user(json!({"work_status": "CONTRACTOR"})),
            "--work-status \"CONTRACTOR\"",
        );
    }

    #[test]
    fn a_user_tag_outside_the_enum_is_refused() {
        one(
            new_user(json!({"user_tags": ["VIP", "BOSS"]})),
            "--user-tag \"BOSS\" is not one of",
        );
    }

    #[test]
    fn user_emails_must_be_a_list_of_strings() {
        let wanted = "`user_emails` must be a list of strings";
        one(
            new_user(json!({"user_emails": ["lee@acme.com", 7]})),
            wanted,
        );
        one(new_user(json!({"user_emails": "lee@acme.com"})), wanted);
    }

    #[test]
    fn a_string_attribute_of_another_type_is_refused() {
        one(
            new_user(json!({"department": 42})),
            "`department` must be a string",
        );
    }

    #[test]
    fn an_unregistered_custom_attribute_is_refused() {
        let custom = json!({"custom_attributes": {"office": "B4", "desk": "12"}});
        one(
            new_user(custom),
            "custom attribute `desk` is not registered",
        );
        one(
            new_user(json!({"custom_attributes": "B4"})),
            "must be an object",
        );
    }

    #[test]
    fn an_unknown_field_is_refused_with_a_suggestion() {
        one(
            new_user(json!({"departmnt": "IT"})),
            "unknown field `departmnt`: did you mean `department`?",
        );
    }

    #[test]
    fn an_unknown_itsm_key_is_refused() {
        let itsm = json!({"itsm": [{"integration": "snow", "external_id": "lee", "sys_id": "x"}]});
        one(new_user(itsm), "--itsm: unknown key `sys_id`");
    }

    #[test]
    fn an_integration_must_match_a_connector_and_another_case_is_suggested() {
        let upper = json!({"itsm": [{"integration": "SNOW", "external_id": "lee"}]});
        one(new_user(upper), "case-sensitive: did you mean \"snow\"?");
        let other = json!({"itsm": [{"integration": "okta", "external_id": "lee"}]});
        one(new_user(other), "(configured: snow, jira_service_desk)");
    }

    #[test]
    fn two_entries_for_one_integration_are_refused() {
        let entry = json!({"integration": "snow", "external_id": "lee"});
        let twice = json!({"itsm": [entry.clone(), entry]});
        one(new_user(twice), "two entries for integration \"snow\"");
    }

    #[test]
    fn an_itsm_entry_needs_an_external_id() {
        let bare = json!({"itsm": [{"integration": "snow", "external_id": " "}]});
        one(new_user(bare), "the snow entry needs external_id=");
        let nameless = json!({"itsm": [{"external_id": "lee"}]});
        one(new_user(nameless), "every entry needs integration=");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let user = json!({"unique_record_id": "pat@acme.com", "work_status": "BOSS",
            "itsm": [{"integration": "Snow"}]});
        let shown = problems(user, None);
        assert_eq!(shown.len(), 6, "{shown:#?}");
        let config = Config::parse(Path::new("itsmid.toml"), CONFIG).unwrap();
        let ids = Identities::parse(Path::new("identities.toml"), IDENTITIES, &["office".into()])
            .unwrap();
        let error = validate(&config, &ids, &object(json!({})), None)
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("identities.toml: the user was not saved (3 problems)"),
            "{error}"
        );
    }

    #[test]
    fn merge_edit_replaces_changed_fields_and_keeps_the_others() {
        let current = object(json!({"unique_record_id": "pat@acme.com", "full_name": "Pat Lee"}));
        let merged = merge_edit(current, &object(json!({"full_name": "Pat Kim"})), &[]).unwrap();
        assert_eq!(
            Value::Object(merged),
            json!({"unique_record_id": "pat@acme.com", "full_name": "Pat Kim"})
        );
    }

    #[test]
    fn merge_edit_replaces_the_entry_of_the_same_integration_and_adds_others() {
        let current = object(json!({"itsm": [
            {"integration": "snow", "external_id": "pat.lee", "first_name": "Pat"}]}));
        let changes = object(json!({"itsm": [
            {"integration": "snow", "external_id": "pat.kim"},
            {"integration": "jira_service_desk", "external_id": "pat@acme.com"}]}));
        let merged = merge_edit(current, &changes, &[]).unwrap();
        assert_eq!(
            merged["itsm"],
            json!([
            {"integration": "snow", "external_id": "pat.kim", "first_name": "Pat"},
            {"integration": "jira_service_desk", "external_id": "pat@acme.com"}])
        );
    }

    #[test]
    fn remove_itsm_drops_the_entry_of_that_integration() {
        let current = object(json!({"itsm": [{"integration": "snow"}, {"integration": "jira"}]}));
        let merged = merge_edit(current, &Map::new(), &["snow".into()]).unwrap();
        assert_eq!(merged["itsm"], json!([{"integration": "jira"}]));
    }

    #[test]
    fn remove_itsm_of_an_integration_the_user_has_no_entry_for_is_refused() {
        let current = object(json!({"itsm": [{"integration": "snow"}]}));
        let refused = merge_edit(current, &Map::new(), &["SNOW".into()]);
        let Err(FormError::NoItsmEntry { integration }) = refused else {
            panic!("{refused:?}")
        };
        assert_eq!(integration, "SNOW");
    }

    #[test]
    fn remove_itsm_for_a_user_without_any_entry_is_refused() {
        let refused = merge_edit(object(json!({})), &Map::new(), &["snow".into()]);
        assert!(
            matches!(&refused, Err(FormError::NoItsmEntry { integration }) if integration == "snow"),
            "{refused:?}"
        );
    }

    #[test]
    fn user_json_gives_the_files_structure_and_passes_the_form_when_edited() {
        let ids = Identities::parse(Path::new("identities.toml"), IDENTITIES, &["office".into()])
            .unwrap();
        let pat = user_json(&ids.users[0]);
        let expected = json!({"unique_record_id": "pat@acme.com", "email_addr": "pat@acme.com",
            "full_name": "Pat Lee", "user_tags": ["BASIC_USER"],
            "custom_attributes": {"office": "Building 4"},
            "itsm": [{"integration": "snow", "external_id": "pat.lee"}]});
        assert_eq!(Value::Object(pat.clone()), expected);
        assert_eq!(problems(Value::Object(pat), Some(0)), Vec::<String>::new());
    }

    #[test]
    fn text_is_the_trimmed_string_and_blank_or_other_types_are_none() {
        let fields = object(json!({"a": "  Pat Lee ", "b": "   ", "c": 5}));
        assert_eq!(text(&fields, "a").as_deref(), Some("Pat Lee"));
        assert_eq!(
            (text(&fields, "b"), text(&fields, "c"), text(&fields, "d")),
            (None, None, None)
        );
    }
}
