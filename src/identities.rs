//! The identities file (SPEC section 4): the bot account and the manual
//! users with their ITSM ID Info, from TOML or the same structure as JSON.
//!
//! Only what SPEC refuses is an input error (a missing, empty or repeated
//! Unique Record ID, an enum value outside the User Attribute Reference, an
//! unregistered custom attribute, a value of the wrong type, and keys that
//! exist nowhere, so that a typo never loses a value silently). Everything
//! else is left for the check to report as a finding, so one bad entry never
//! stops the others being checked. Never writes the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use itsmid_connectors::{ExternalId, Integration};
use serde::Serialize;

use crate::doc::{self, InputError, InputErrors, Problems, TableReader, Value};

/// `work_status` values of the User Attribute Reference.
pub const WORK_STATUSES: &[&str] = &["UNKNOWN_WORK_STATUS", "CONTINGENT", "INTERN", "FULL_TIME"];

/// `user_tags` values of the User Attribute Reference.
pub const USER_TAGS: &[&str] = &[
    "UNKNOWN_USER_TAG",
    "BASIC_USER",
    "VIP",
    "FIELD_AGENT",
    "KNOWLEDGE_WORKER",
    "IT_AGENT",
    "TESTER",
    "SUPPORTED_LANGUAGE_USER",
    "SERVICE_ACCOUNT",
    "CALL_CENTER",
    "HAS_ACCESS_TO_BOT",
    "DIRECTOR",
    "EXECUTIVE",
    "SOCIAL_AUTH_USER",
];

/// Plain string attributes of an identity: the User Attribute Reference's
/// and the form's (`user_name`, `location`, `manager`, `division`).
pub const STRING_ATTRIBUTES: &[&str] = &[
    "email_addr",
    "full_name",
    "first_name",
    "last_name",
    "role",
    "department",
    "user_name",
    "location",
    "manager",
    "manager_email",
    "employee_id",
    "timezone",
    "cost_center_id",
    "cost_center_name",
    "country_code",
    "division",
    "region",
    "city",
    "state",
];

/// An identity's joining value: non-empty, unique across the bot and all
/// manual users.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct UniqueRecordId(String);

impl UniqueRecordId {
    /// The trimmed value; `None` for an empty one, which SPEC section 4
    /// refuses as an input error.
    pub fn new(value: &str) -> Option<UniqueRecordId> {
        let value = value.trim();
        (!value.is_empty()).then(|| UniqueRecordId(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for UniqueRecordId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentityKind {
    Bot,
    Manual,
}

impl IdentityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::Bot => "bot",
            IdentityKind::Manual => "manual",
        }
    }
}

/// One ITSM ID Info entry as the administrator wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct ItsmIdInfo {
    /// As written; an unknown one is a finding, not an input error.
    pub integration: Integration,
    pub external_id: Option<ExternalId>,
    /// As written; checked against the system's id format by the check.
    pub itsm_user_id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub full_name: Option<String>,
    pub line: Option<usize>,
}

/// The bot or one manual user.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    pub kind: IdentityKind,
    pub unique_record_id: UniqueRecordId,
    /// `email_addr`, `full_name`, ... as written (non-empty only).
    pub attributes: BTreeMap<String, String>,
    pub user_emails: Vec<String>,
    pub user_tags: Vec<String>,
    pub work_status: Option<String>,
    pub custom_attributes: BTreeMap<String, serde_json::Value>,
    pub itsm: Vec<ItsmIdInfo>,
    /// Channel ID Info and IDM ID Info, kept as written.
    pub channels: Vec<BTreeMap<String, String>>,
    pub idm: Vec<BTreeMap<String, String>>,
    pub line: Option<usize>,
    /// Where in the document (`users[2]`), for formats without lines.
    pub path: String,
}

impl Identity {
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).map(String::as_str)
    }

    /// Every e-mail address the identity is known by, primary first.
    pub fn emails(&self) -> Vec<&str> {
        self.attribute("email_addr")
            .into_iter()
            .chain(self.user_emails.iter().map(String::as_str))
            .collect()
    }
}

/// The whole file.
#[derive(Debug, Clone)]
pub struct Identities {
    pub path: PathBuf,
    /// The text as read: an edit is made to this text, and refused if the
    /// file no longer holds it.
    pub text: String,
    pub bot: Option<Identity>,
    pub users: Vec<Identity>,
}

impl Identities {
    /// Reads and validates the identities file; `custom_attributes` are the
    /// registered names from the config.
    pub fn load(path: &Path, custom_attributes: &[String]) -> Result<Identities, InputErrors> {
        let text = std::fs::read_to_string(path).map_err(|err| {
            InputErrors(vec![InputError {
                file: path.to_path_buf(),
                line: None,
                path: String::new(),
                message: format!("cannot read the identities file: {err}"),
                fix: "check `identities` in the config; it is relative to the config file".into(),
            }])
        })?;
        Identities::parse(path, &text, custom_attributes)
    }

    pub fn parse(
        path: &Path,
        text: &str,
        custom_attributes: &[String],
    ) -> Result<Identities, InputErrors> {
        let is_json = path.extension().and_then(|e| e.to_str()) == Some("json");
        let root = if is_json {
            doc::parse_json(path, text)
        } else {
            doc::parse_toml(path, text)
        }
        .map_err(|e| InputErrors(vec![e]))?;
        let problems = Problems::new(path);
        let mut bot = None;
        let mut users = Vec::new();
        if let Some(reader) = TableReader::new(&problems, &root, "") {
            bot = reader
                .table("bot")
                .and_then(|t| read_identity(&t, IdentityKind::Bot, custom_attributes));
            users = reader
                .tables("users")
                .iter()
                .filter_map(|t| read_identity(t, IdentityKind::Manual, custom_attributes))
                .collect();
            reader.finish();
        }
        check_unique_record_ids(&problems, bot.iter().chain(users.iter()));
        let errors = problems.into_errors();
        if errors.is_empty() {
            Ok(Identities {
                path: path.to_path_buf(),
                text: text.to_owned(),
                bot,
                users,
            })
        } else {
            Err(InputErrors(errors))
        }
    }

    /// The bot first, then the manual users in file order.
    pub fn all(&self) -> impl Iterator<Item = &Identity> {
        self.bot.iter().chain(self.users.iter())
    }
}

fn check_unique_record_ids<'a>(
    problems: &Problems,
    identities: impl Iterator<Item = &'a Identity>,
) {
    let mut seen: BTreeMap<&str, &Identity> = BTreeMap::new();
    for identity in identities {
        let id = identity.unique_record_id.as_str();
        match seen.get(id) {
            Some(first) => problems.add(
                identity.line,
                &format!("{}.unique_record_id", identity.path),
                format!(
                    "unique_record_id \"{id}\" is also used {}",
                    match first.line {
                        Some(line) => format!("at line {line}"),
                        None => format!("at {}", first.path),
                    }
                ),
                "give each identity its own Unique Record ID (the joining key value)",
            ),
            None => {
                seen.insert(id, identity);
            }
        }
    }
}

fn read_identity(t: &TableReader<'_>, kind: IdentityKind, custom: &[String]) -> Option<Identity> {
    let problems = t.problems();
    let urid = t.required_string(
        "unique_record_id",
        "set it to the value of the organization's joining key for this identity, usually the e-mail address",
    );
    let mut attributes = BTreeMap::new();
    for name in STRING_ATTRIBUTES {
        if let Some(value) = t.string(name) {
            attributes.insert((*name).to_owned(), value);
        }
    }
    let user_emails = t.string_list("user_emails");
    let user_tags = t.string_list("user_tags");
    for tag in &user_tags {
        if !USER_TAGS.contains(&tag.as_str()) {
            problems.add(
                t.node("user_tags").and_then(|n| n.line),
                &format!("{}.user_tags", t.path),
                format!("user tag \"{tag}\" is not a User Attribute Reference tag"),
                enum_fix(tag, USER_TAGS),
            );
        }
    }
    let work_status = t.string("work_status");
    if let Some(status) = &work_status
        && !WORK_STATUSES.contains(&status.as_str())
    {
        problems.add(
            t.node("work_status").and_then(|n| n.line),
            &format!("{}.work_status", t.path),
            format!("work_status \"{status}\" is not one of the User Attribute Reference's"),
            enum_fix(status, WORK_STATUSES),
        );
    }
    let mut custom_attributes = BTreeMap::new();
    if let Some(c) = t.table("custom_attributes") {
        for (name, node) in c.entries() {
            if !custom.iter().any(|registered| registered == name) {
                problems.add(
                    node.line,
                    &format!("{}.custom_attributes.{name}", t.path),
                    format!("custom attribute `{name}` is not registered"),
                    format!(
                        "register it in the config's pipeline.custom_attributes{}",
                        if custom.is_empty() {
                            String::new()
                        } else {
                            format!(" (registered: {})", custom.join(", "))
                        }
                    ),
                );
                continue;
            }
            let value = match &node.value {
                Value::String(s) => serde_json::Value::String(s.clone()),
                Value::Integer(i) => serde_json::Value::from(*i),
                Value::Float(f) => serde_json::Value::from(*f),
                Value::Boolean(b) => serde_json::Value::Bool(*b),
                other => {
                    problems.add(
                        node.line,
                        &format!("{}.custom_attributes.{name}", t.path),
                        format!("custom attribute `{name}` is {}", other.kind()),
                        "write it as a string, a number or true/false",
                    );
                    continue;
                }
            };
            custom_attributes.insert(name.clone(), value);
        }
    }
    let itsm = t.tables("itsm").iter().map(read_itsm_entry).collect();
    let channels = t
        .tables("channels")
        .iter()
        .map(|c| read_id_info(c, &["platform", "external_id"]))
        .collect();
    let idm = t
        .tables("idm")
        .iter()
        .map(|c| read_id_info(c, &["integration", "external_id"]))
        .collect();
    let line = t.line;
    let path = t.path.clone();
    t.finish();
    Some(Identity {
        kind,
        unique_record_id: UniqueRecordId::new(&urid?)?,
        attributes,
        user_emails,
        user_tags,
        work_status,
        custom_attributes,
        itsm,
        channels,
        idm,
        line,
        path,
    })
}

fn read_itsm_entry(t: &TableReader<'_>) -> ItsmIdInfo {
    let entry = ItsmIdInfo {
        integration: Integration::new(t.string("integration").unwrap_or_default()),
        external_id: t.string("external_id").map(|v| ExternalId::new(v.trim())),
        itsm_user_id: t.string("itsm_user_id").map(|v| v.trim().to_owned()),
        first_name: t.string("first_name"),
        last_name: t.string("last_name"),
        full_name: t.string("full_name"),
        line: t.line,
    };
    t.finish();
    entry
}

fn read_id_info(t: &TableReader<'_>, keys: &[&'static str]) -> BTreeMap<String, String> {
    let mut info = BTreeMap::new();
    for key in keys {
        if let Some(value) = t.string(key) {
            info.insert((*key).to_owned(), value);
        }
    }
    t.finish();
    info
}

fn enum_fix(value: &str, allowed: &[&str]) -> String {
    match doc::closest(value, allowed) {
        Some(s) => format!("did you mean \"{s}\"?"),
        None => format!("use one of {}", allowed.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[bot]
email_addr = "moveworks-bot@acme.com"
unique_record_id = "moveworks-bot@acme.com"

[[bot.itsm]]
integration = "snow"
external_id = "moveworks.bot"

[[users]]
email_addr = "pat@acme.com"
unique_record_id = "pat@acme.com"
user_tags = ["BASIC_USER"]
work_status = "CONTINGENT"
[users.custom_attributes]
office = "Building 4"
[[users.itsm]]
integration = "jira_service_desk"
external_id = "pat@acme.com"
"#;

    #[test]
    fn the_spec_example_reads() {
        let ids = Identities::parse(Path::new("i.toml"), FILE, &["office".into()]).expect("valid");
        let bot = ids.bot.as_ref().expect("a bot");
        assert_eq!(bot.itsm[0].integration.as_str(), "snow");
        assert_eq!(ids.users[0].custom_attributes["office"], "Building 4");
        assert_eq!(ids.all().count(), 2);
    }

    #[test]
    fn refused_values_are_all_listed_with_lines() {
        let text = FILE.replace("\"CONTINGENT\"", "\"CONTRACTOR\"").replace(
            "unique_record_id = \"pat@acme.com\"",
            "unique_record_id = \"moveworks-bot@acme.com\"",
        );
        let errors = Identities::parse(Path::new("i.toml"), &text, &[])
            .expect_err("refused")
            .0;
        let shown: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(errors.len(), 3, "{shown:#?}");
        assert!(
            shown
                .iter()
                .any(|e| e.contains("line 14") && e.contains("CONTRACTOR"))
        );
        assert!(shown.iter().any(|e| e.contains("not registered")));
        assert!(shown.iter().any(|e| e.contains("also used at line 2")));
    }

    #[test]
    fn an_empty_unique_record_id_is_refused() {
        let text = FILE.replace(
            "unique_record_id = \"pat@acme.com\"",
            "unique_record_id = \"  \"",
        );
        let errors = Identities::parse(Path::new("i.toml"), &text, &["office".into()])
            .expect_err("refused")
            .0;
        assert_eq!(errors.len(), 1);
        assert!(errors[0].message.contains("empty"));
    }

    #[test]
    fn a_repeated_unique_record_id_in_json_names_both_places() {
        let text = "\u{feff}{\"bot\": {\"unique_record_id\": \"b\"}, \"users\": [{\"unique_record_id\": \"b\"}]}";
        let errors = Identities::parse(Path::new("i.json"), text, &[])
            .expect_err("refused")
            .0;
        assert_eq!(errors.len(), 1);
        let shown = errors[0].to_string();
        assert!(
            shown.contains("users[0].unique_record_id") && shown.contains("at bot"),
            "{shown}"
        );
    }

    #[test]
    fn json_has_the_same_structure() {
        let text = r#"{"bot": {"unique_record_id": "b", "itsm": [{"integration": "snow", "external_id": "x"}]},
                       "users": [{"unique_record_id": "u", "work_status": 3}]}"#;
        let errors = Identities::parse(Path::new("i.json"), text, &[])
            .expect_err("refused")
            .0;
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].to_string().contains("users[0].work_status"),
            "{}",
            errors[0]
        );
    }
}
