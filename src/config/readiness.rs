//! `[connectors.readiness]` (SPEC sections 3 and 5.1): the probe's settings,
//! their shapes checked offline so `lint` catches a typo before a run.
//!
//! Only reads the table; which keys a system's probe uses is documented in
//! `config.example.toml`, and a key another system uses is refused with
//! that system's name.

use itsmid_connectors::{ReadinessSettings, System};

use crate::doc::TableReader;

/// Which system's probe reads each key.
const SYSTEM_KEYS: &[(&str, &[System])] = &[
    ("project", &[System::Jira, System::JiraDc]),
    ("groups", &[System::Jira, System::JiraDc]),
    ("roles", &[System::ServiceNow]),
    ("table", &[System::ServiceNow]),
    ("object", &[System::Salesforce]),
];

/// Reads the table; every problem is added to the file's problems.
pub(super) fn read_readiness(t: &TableReader<'_>, system: Option<System>) -> ReadinessSettings {
    let mut settings = ReadinessSettings::default();
    let problems = t.problems();
    let line = |key: &'static str| t.node(key).and_then(|n| n.line);
    let path = |key: &str| format!("{}.{key}", t.path);
    if let Some(enabled) = t.boolean("enabled") {
        settings.enabled = enabled;
    }
    if let Some(system) = system {
        for (key, systems) in SYSTEM_KEYS {
            if t.has(key) && !systems.contains(&system) {
                let users: Vec<&str> = systems.iter().map(|s| s.as_str()).collect();
                problems.add(
                    t.node(key).and_then(|n| n.line),
                    &path(key),
                    format!("`{key}` is read by the {} probe only", users.join(", ")),
                    format!("remove it from this {system} connector"),
                );
            }
        }
    }
    if let Some(project) = t.string("project") {
        if is_project_key(&project) {
            settings.project = Some(project);
        } else {
            problems.add(
                line("project"),
                &path("project"),
                format!("`project` = \"{project}\" is not a Jira project key"),
                "write the service desk project's key: capital letters and digits, starting with a letter, e.g. \"ITH\"",
            );
        }
    }
    for (key, list) in [
        ("groups", &mut settings.groups),
        ("roles", &mut settings.roles),
    ] {
        if !t.has(key) {
            continue;
        }
        let values = t.string_list(key);
        let bad: Vec<&String> = values
            .iter()
            .filter(|v| v.trim().is_empty() || v.trim() != v.as_str())
            .collect();
        if values.is_empty() || !bad.is_empty() {
            problems.add(
                line(key),
                &path(key),
                format!("`{key}` needs at least one name, each without surrounding spaces"),
                format!(
                    "write e.g. {key} = [\"{}\"]",
                    list.first().map(String::as_str).unwrap_or("name")
                ),
            );
        } else {
            *list = values;
        }
    }
    if let Some(table) = t.string("table") {
        if !table.is_empty()
            && table
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            settings.table = table;
        } else {
            problems.add(
                line("table"),
                &path("table"),
                format!("`table` = \"{table}\" is not a ServiceNow table name"),
                "write the table's name in lower case, e.g. \"incident\"",
            );
        }
    }
    if let Some(object) = t.string("object") {
        let mut chars = object.chars();
        if chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            settings.object = object;
        } else {
            problems.add(
                line("object"),
                &path("object"),
                format!("`object` = \"{object}\" is not a Salesforce object name"),
                "write the object's API name, e.g. \"Case\" or \"Incident__c\"",
            );
        }
    }
    t.finish();
    settings
}

/// A Jira project key: a capital letter, then capital letters, digits or `_`.
fn is_project_key(value: &str) -> bool {
    let mut chars = value.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && value.len() >= 2
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::is_project_key;
    use crate::config::Config;

    fn connector(system: &str, readiness: &str) -> Result<Config, String> {
        let text = format!(
            "identities = \"i.toml\"\n[[connectors]]\nintegration = \"x\"\nsystem = \"{system}\"\n\
             base_url = \"https://x.example.com\"\n[connectors.auth]\ntype = \"bearer\"\n\
             token = \"env:X\"\n[connectors.readiness]\n{readiness}"
        );
        Config::parse(Path::new("itsmid.toml"), &text).map_err(|e| e.to_string())
    }

    #[test]
    fn readiness_defaults_hold_without_the_table_and_keys_override_them() {
        let config =
            connector("servicenow", "roles = [\"itil\", \"sn_request_write\"]\n").expect("valid");
        let readiness = &config.connectors[0].readiness;
        assert!(readiness.enabled);
        assert_eq!(readiness.roles, ["itil", "sn_request_write"]);
        assert_eq!(readiness.table, "incident");
        let config = connector("jira", "enabled = false\nproject = \"ITH\"\n").expect("valid");
        let readiness = &config.connectors[0].readiness;
        assert!(!readiness.enabled);
        assert_eq!(readiness.project.as_deref(), Some("ITH"));
        assert_eq!(
            readiness.groups,
            ["jira-servicedesk-users", "jira-servicemanagement-users"]
        );
    }

    #[test]
    fn a_key_another_systems_probe_reads_is_refused_with_its_line() {
        let err = connector("jira", "roles = [\"itil\"]\n").expect_err("refused");
        assert!(err.contains("line 10"), "{err}");
        assert!(err.contains("read by the servicenow probe only"), "{err}");
    }

    #[test]
    fn malformed_readiness_values_are_refused_each_with_a_fix() {
        let err = connector("jira", "project = \"it h\"\ngroups = []\n").expect_err("refused");
        assert!(err.contains("is not a Jira project key"), "{err}");
        assert!(err.contains("`groups` needs at least one name"), "{err}");
        let err = connector("servicenow", "table = \"Incident;drop\"\n").expect_err("refused");
        assert!(err.contains("is not a ServiceNow table name"), "{err}");
        let err = connector("salesforce", "object = \"Case Object\"\n").expect_err("refused");
        assert!(err.contains("is not a Salesforce object name"), "{err}");
        let err = connector("servicenow", "enabled = \"no\"\n").expect_err("refused");
        assert!(err.contains("not true or false"), "{err}");
        let err = connector("servicenow", "tabel = \"incident\"\n").expect_err("refused");
        assert!(err.contains("did you mean `table`?"), "{err}");
    }

    #[test]
    fn project_keys_are_capital_letters_and_digits() {
        assert!(is_project_key("ITH"));
        assert!(is_project_key("IT2_DESK"));
        assert!(!is_project_key("ith"));
        assert!(!is_project_key("2IT"));
        assert!(!is_project_key("I"));
        assert!(!is_project_key("IT H"));
    }
}
