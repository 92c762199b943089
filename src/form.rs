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
    if !remove_itsm.is_empty()
        && let Some(Value::Array(entries)) = current.get_mut("itsm")
    {
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
