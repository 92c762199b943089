//! The resolve rules of SPEC section 2, from check runs built by hand. No
//! request is sent: the connectors are built without secrets, and the
//! config's secret references name a variable that is never set, so the
//! e-mail lookup for a `not_found` entry cannot be built either.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use itsmid_connectors::{AnyConnector, ConnectorSettings, Credentials, HttpSettings};
use serde_json::json;

use super::*;
use crate::check::{EntryRef, EntryResult};
use crate::report::Report;

const CONFIG: &str = r#"
identities = "identities.toml"

[[connectors]]
integration = "snow"
system = "servicenow"
base_url = "https://acme.service-now.com"
[connectors.auth]
type = "basic"
username = "moveworks.bot"
password = "env:ITSMID_RESOLVE_TESTS_UNSET"

[[connectors]]
integration = "sf"
system = "salesforce"
base_url = "https://acme.my.salesforce.com"
[connectors.auth]
type = "bearer"
token = "env:ITSMID_RESOLVE_TESTS_UNSET"

[[connectors]]
integration = "jira"
system = "jira"
base_url = "https://acme.atlassian.net"
[connectors.auth]
type = "basic"
username = "moveworks-bot@acme.com"
password = "env:ITSMID_RESOLVE_TESTS_UNSET"
"#;

/// The bot (identity 0) with one ServiceNow entry; Pat (identity 1) with a
/// ServiceNow (entry 0), a Salesforce (1) and a Jira (2) entry.
const IDENTITIES: &str = r#"
[bot]
unique_record_id = "moveworks-bot@acme.com"
email_addr = "moveworks-bot@acme.com"

[[bot.itsm]]
integration = "snow"
external_id = "moveworks.bot"
itsm_user_id = "0000000000000000000000000000000b"

[[users]]
unique_record_id = "pat@acme.com"
email_addr = "pat@acme.com"
full_name = "Pat Lee"

[[users.itsm]]
integration = "snow"
external_id = "Pat.Lee"   # as the help desk spelled it
first_name = "Pat"

[[users.itsm]]
integration = "sf"
external_id = "pat@acme.com"
itsm_user_id = "005000000000001"

[[users.itsm]]
integration = "jira"
external_id = "pat@acme.com"
"#;

const BOT: usize = 0;
const PAT: usize = 1;
const SNOW_ID: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90";

fn user(id: &str, ext: &str, names: [Option<&str>; 3]) -> ItsmUser {
    let [first, last, full] = names;
    serde_json::from_value(
        json!({"itsm_user_id": id, "external_id": ext, "active": true,
        "first_name": first, "last_name": last, "full_name": full}),
    )
    .unwrap()
}

fn pat(id: &str, ext: &str) -> ItsmUser {
    user(id, ext, [Some("Pat"), Some("Lee"), Some("Pat Lee")])
}

fn config() -> Config {
    Config::parse(Path::new("itsmid.toml"), CONFIG).unwrap()
}

/// Every configured connector, built without secrets: these tests never
/// send a request.
fn connected(config: &Config) -> Vec<Connected> {
    let build = |c: &crate::config::ConnectorConfig| ConnectorSettings {
        integration: c.integration.clone(),
        system: c.system,
        base_url: c.base_url.clone(),
        credentials: Credentials::Bearer { token: "t".into() },
        instance_url: None,
        lookup_field: c.system.default_lookup_field().to_owned(),
        http: HttpSettings::default(),
        readiness: c.readiness.clone(),
    };
    let connector = |c: &crate::config::ConnectorConfig| AnyConnector::new(build(c)).unwrap();
    let connected = config.connectors.iter();
    connected
        .map(|c| Connected {
            config: c.clone(),
            connector: connector(c),
        })
        .collect()
}

/// A finished check: `(identity, entry, status, found)` per judged entry.
fn check_run(entries: Vec<(usize, usize, EntryStatus, Option<ItsmUser>)>) -> CheckRun {
    let report = Report {
        schema: crate::report::SCHEMA,
        generated_at: "2026-11-24T10:00:00Z".into(),
        complete: true,
        summary: crate::report::Summary::default(),
        systems: Vec::new(),
        findings: Vec::new(),
        identities: Vec::new(),
    };
    let entries = entries.into_iter().map(|(identity, entry, status, found)| {
        let result = EntryResult {
            status,
            found,
            findings: Vec::new(),
        };
        (EntryRef { identity, entry }, result)
    });
    let (owners, unavailable) = (BTreeMap::new(), BTreeSet::new());
    CheckRun {
        report,
        entries: entries.collect(),
        owners,
        unavailable,
    }
}

async fn planned(identities: &Identities, run: &CheckRun) -> Plan {
    let config = config();
    plan(&config, identities, &connected(&config), run).await
}

fn identities() -> Identities {
    Identities::parse(Path::new("identities.toml"), IDENTITIES, &[]).unwrap()
}

/// `(field, old, new)` of the changes proposed for one identity's entries
/// of one integration.
fn changes<'a>(
    plan: &'a Plan,
    who: usize,
    integration: &str,
) -> Vec<(&'a str, Option<&'a str>, &'a str)> {
    let urid = ["moveworks-bot@acme.com", "pat@acme.com"][who];
    let identity = plan
        .identities
        .iter()
        .filter(|p| p.unique_record_id == urid);
    let all = identity
        .flat_map(|p| &p.changes)
        .filter(|c| c.integration == integration);
    all.map(|c| (c.field, c.old.as_deref(), c.new.as_str()))
        .collect()
}

fn reason<'a>(plan: &'a Plan, field: &str) -> &'a str {
    let all = plan.identities.iter().flat_map(|p| &p.changes);
    all.filter(|c| c.field == field)
        .map(|c| c.reason.as_str())
        .next()
        .unwrap()
}

#[tokio::test]
async fn a_missing_itsm_user_id_is_filled_from_the_record_found() {
    let jira = user(
        "5b10ac8d82e05b22cc7d4ef5",
        "pat@acme.com",
        [None, None, Some("Pat Lee")],
    );
    let run = check_run(vec![(PAT, 2, EntryStatus::Verified, Some(jira))]);
    let plan = planned(&identities(), &run).await;
    let id = Some(("itsm_user_id", None, "5b10ac8d82e05b22cc7d4ef5"));
    assert_eq!(changes(&plan, PAT, "jira").first().copied(), id);
    assert!(reason(&plan, "itsm_user_id").starts_with("missing"));
}

#[tokio::test]
async fn a_stale_itsm_user_id_is_replaced_by_the_id_the_external_id_has() {
    let bot = user(SNOW_ID, "moveworks.bot", [None, None, None]);
    let run = check_run(vec![(BOT, 0, EntryStatus::Mismatch, Some(bot))]);
    let plan = planned(&identities(), &run).await;
    let stale = (
        "itsm_user_id",
        Some("0000000000000000000000000000000b"),
        SNOW_ID,
    );
    assert_eq!(changes(&plan, BOT, "snow"), vec![stale]);
    assert!(reason(&plan, "itsm_user_id").starts_with("stale"));
}

#[tokio::test]
async fn a_15_character_salesforce_id_is_written_in_its_18_character_form() {
    let sf = pat("005000000000001AAA", "pat@acme.com");
    let run = check_run(vec![(PAT, 1, EntryStatus::Verified, Some(sf))]);
    let plan = planned(&identities(), &run).await;
    let long = (
        "itsm_user_id",
        Some("005000000000001"),
        "005000000000001AAA",
    );
    assert_eq!(changes(&plan, PAT, "sf").first().copied(), Some(long));
    let why = reason(&plan, "itsm_user_id");
    assert_eq!(why, "the 18-character form of the stored 15-character Id");
}

#[tokio::test]
async fn a_15_character_salesforce_id_of_another_record_is_stale() {
    let other = pat("005000000000002AAA", "pat@acme.com");
    let run = check_run(vec![(PAT, 1, EntryStatus::Mismatch, Some(other))]);
    let plan = planned(&identities(), &run).await;
    assert!(
        reason(&plan, "itsm_user_id").starts_with("stale"),
        "{plan:#?}"
    );
}

#[tokio::test]
async fn the_systems_spelling_of_the_external_id_replaces_another_case() {
    let run = check_run(vec![(
        PAT,
        0,
        EntryStatus::Verified,
        Some(pat(SNOW_ID, "pat.lee")),
    )]);
    let plan = planned(&identities(), &run).await;
    let spelled = ("external_id", Some("Pat.Lee"), "pat.lee");
    assert!(changes(&plan, PAT, "snow").contains(&spelled), "{plan:#?}");
}

#[tokio::test]
async fn an_external_id_that_differs_by_more_than_case_is_never_replaced() {
    let other = pat(SNOW_ID, "lee.kim");
    let run = check_run(vec![(PAT, 0, EntryStatus::Mismatch, Some(other))]);
    let plan = planned(&identities(), &run).await;
    let fields: Vec<&str> = changes(&plan, PAT, "snow").iter().map(|c| c.0).collect();
    assert!(
        fields.contains(&"itsm_user_id") && !fields.contains(&"external_id"),
        "{fields:?}"
    );
}

#[tokio::test]
async fn names_are_written_where_the_system_has_them_and_they_differ() {
    let run = check_run(vec![(
        PAT,
        0,
        EntryStatus::Verified,
        Some(pat(SNOW_ID, "Pat.Lee")),
    )]);
    let plan = planned(&identities(), &run).await;
    let names = [("last_name", None, "Lee"), ("full_name", None, "Pat Lee")];
    assert_eq!(
        changes(&plan, PAT, "snow")[1..],
        names,
        "first_name is already Pat"
    );
}

#[tokio::test]
async fn a_jira_account_gives_only_the_full_name() {
    let jira = user(
        "5b10ac8d82e05b22cc7d4ef5",
        "pat@acme.com",
        [None, None, Some("Pat Lee")],
    );
    let run = check_run(vec![(PAT, 2, EntryStatus::Verified, Some(jira))]);
    let plan = planned(&identities(), &run).await;
    let fields: Vec<&str> = changes(&plan, PAT, "jira").iter().map(|c| c.0).collect();
    assert_eq!(fields, ["itsm_user_id", "full_name"]);
}

#[tokio::test]
async fn an_empty_value_is_never_written_over_a_non_empty_one() {
    let blank = user(SNOW_ID, "", [Some(" "), None, Some("")]);
    let run = check_run(vec![(PAT, 0, EntryStatus::Verified, Some(blank))]);
    let plan = planned(&identities(), &run).await;
    assert_eq!(
        changes(&plan, PAT, "snow"),
        vec![("itsm_user_id", None, SNOW_ID)]
    );
}

#[tokio::test]
async fn nothing_is_written_for_an_entry_that_is_not_found_ambiguous_or_inactive() {
    for status in [
        EntryStatus::NotFound,
        EntryStatus::Ambiguous,
        EntryStatus::Inactive,
    ] {
        let found = pat(SNOW_ID, "pat.lee");
        let run = check_run(vec![(PAT, 0, status, Some(found))]);
        let plan = planned(&identities(), &run).await;
        assert_eq!(changes(&plan, PAT, "snow"), vec![], "{status:?}");
    }
}

#[tokio::test]
async fn nothing_is_proposed_for_a_system_that_could_not_be_checked() {
    let found = pat(SNOW_ID, "pat.lee");
    let mut run = check_run(vec![(PAT, 0, EntryStatus::Unchecked, Some(found.clone()))]);
    run.unavailable.insert("jira".into());
    run.owners.insert("jira".into(), found);
    run.report.complete = false;
    let plan = planned(&identities(), &run).await;
    assert_eq!(changes(&plan, PAT, "snow"), vec![]);
    assert_eq!(
        changes(&plan, BOT, "jira"),
        vec![],
        "no bot entry for an unavailable system"
    );
    assert!(!plan.complete);
}

#[tokio::test]
async fn a_missing_bot_entry_is_proposed_from_the_account_the_credentials_log_in_as() {
    let mut run = check_run(Vec::new());
    let owner = user(
        "5b10ac8d82e05b22cc7d4ef5",
        "moveworks-bot@acme.com",
        [None, None, Some("Bot")],
    );
    run.owners.insert("jira".into(), owner);
    let plan = planned(&identities(), &run).await;
    let entry = vec![
        ("integration", None, "jira"),
        ("external_id", None, "moveworks-bot@acme.com"),
        ("itsm_user_id", None, "5b10ac8d82e05b22cc7d4ef5"),
        ("full_name", None, "Bot"),
    ];
    assert_eq!(changes(&plan, BOT, "jira"), entry);
    let bot = &plan.identities[0];
    assert!(
        bot.changes.iter().all(|c| c.entry.is_none()),
        "appended, not set"
    );
    assert!(
        bot.notes.iter().any(|n| n.starts_with("sf: no bot entry")),
        "{:?}",
        bot.notes
    );
}

#[tokio::test]
async fn no_bot_entry_is_proposed_for_an_inactive_credentials_owner() {
    let mut run = check_run(Vec::new());
    let mut owner = user(
        "5b10ac8d82e05b22cc7d4ef5",
        "moveworks-bot@acme.com",
        [None; 3],
    );
    owner.active = false;
    run.owners.insert("jira".into(), owner);
    let plan = planned(&identities(), &run).await;
    assert_eq!(changes(&plan, BOT, "jira"), vec![]);
    assert!(
        plan.identities[0]
            .notes
            .iter()
            .any(|n| n.contains("inactive"))
    );
}

#[tokio::test]
async fn keep_only_keeps_one_identitys_proposals_and_recounts_the_changes() {
    let bot = user(SNOW_ID, "moveworks.bot", [None, None, None]);
    let found = pat("005000000000001AAA", "pat@acme.com");
    let entries = vec![
        (BOT, 0, EntryStatus::Mismatch, Some(bot)),
        (PAT, 1, EntryStatus::Verified, Some(found)),
    ];
    let mut plan = planned(&identities(), &check_run(entries)).await;
    assert_eq!(plan.summary.changes, 5, "{plan:#?}");
    plan.keep_only("pat@acme.com");
    let kept: Vec<&str> = plan
        .identities
        .iter()
        .map(|p| p.unique_record_id.as_str())
        .collect();
    assert_eq!((kept, plan.summary.changes), (vec!["pat@acme.com"], 4));
    assert_eq!(plan.summary.identities_changed, 1);
}

#[tokio::test]
async fn the_verdict_is_problems_only_when_a_system_could_not_be_checked() {
    let mut run = check_run(Vec::new());
    assert_eq!(
        planned(&identities(), &run).await.verdict(),
        Verdict::InOrder
    );
    run.report.complete = false;
    assert_eq!(
        planned(&identities(), &run).await.verdict(),
        Verdict::Problems
    );
}

#[tokio::test]
async fn write_sets_the_values_keeps_comments_and_a_second_write_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("identities.toml");
    std::fs::write(&path, IDENTITIES).unwrap();
    let first = Identities::load(&path, &[]).unwrap();
    let found = pat(SNOW_ID, "pat.lee");
    let run = check_run(vec![(PAT, 0, EntryStatus::Verified, Some(found.clone()))]);
    assert!(write(&first, &planned(&first, &run).await).unwrap());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains(&format!("itsm_user_id = \"{SNOW_ID}\"")),
        "{text}"
    );
    assert!(text.contains("# as the help desk spelled it"), "{text}");
    let second = Identities::load(&path, &[]).unwrap();
    assert_eq!(
        second.users[0].itsm[0]
            .external_id
            .as_ref()
            .unwrap()
            .as_str(),
        "pat.lee"
    );
    let again = planned(&second, &run).await;
    assert_eq!(
        (again.summary.changes, write(&second, &again).unwrap()),
        (0, false)
    );
}

const BOT_WITH_SNOW_IN_CAPITALS: &str = r#"
[bot]
unique_record_id = "moveworks-bot@acme.com"

[[bot.itsm]]
integration = "SNOW"   # the connector says "snow"
external_id = "moveworks.bot"
"#;

#[tokio::test]
async fn an_integration_that_matches_one_connector_in_another_case_gets_its_spelling() {
    let ids = Identities::parse(Path::new("i.toml"), BOT_WITH_SNOW_IN_CAPITALS, &[]).unwrap();
    let run = check_run(vec![(BOT, 0, EntryStatus::UnknownIntegration, None)]);
    let plan = planned(&ids, &run).await;
    assert_eq!(
        changes(&plan, BOT, "snow"),
        [("integration", Some("SNOW"), "snow")],
        "the rename only, and no second bot entry for snow: {plan:#?}"
    );
}

#[tokio::test]
async fn the_spelling_is_written_and_a_second_write_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("identities.toml");
    std::fs::write(&path, BOT_WITH_SNOW_IN_CAPITALS).unwrap();
    let first = Identities::load(&path, &[]).unwrap();
    let run = check_run(vec![(BOT, 0, EntryStatus::UnknownIntegration, None)]);
    assert!(write(&first, &planned(&first, &run).await).unwrap());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("integration = \"snow\"   # the connector says \"snow\""),
        "{text}"
    );
    let second = Identities::load(&path, &[]).unwrap();
    let run = check_run(Vec::new());
    assert!(!write(&second, &planned(&second, &run).await).unwrap());
}

#[tokio::test]
async fn no_spelling_is_proposed_when_the_identity_has_the_connectors_spelling_too() {
    let text = format!(
        "{BOT_WITH_SNOW_IN_CAPITALS}\n[[bot.itsm]]\nintegration = \"snow\"\nexternal_id = \"moveworks.bot\"\n"
    );
    let ids = Identities::parse(Path::new("i.toml"), &text, &[]).unwrap();
    let run = check_run(vec![(BOT, 0, EntryStatus::UnknownIntegration, None)]);
    let plan = planned(&ids, &run).await;
    assert!(changes(&plan, BOT, "snow").is_empty(), "{plan:#?}");
    let notes: Vec<&String> = plan.identities.iter().flat_map(|p| &p.notes).collect();
    assert!(notes.iter().any(|n| n.contains("remove one")), "{notes:?}");
}

#[tokio::test]
async fn an_integration_matching_no_connector_in_any_case_is_left_alone() {
    let text = BOT_WITH_SNOW_IN_CAPITALS.replace("\"SNOW\"", "\"snow_old\"");
    let ids = Identities::parse(Path::new("i.toml"), &text, &[]).unwrap();
    let run = check_run(vec![(BOT, 0, EntryStatus::UnknownIntegration, None)]);
    let plan = planned(&ids, &run).await;
    let renames = plan
        .identities
        .iter()
        .flat_map(|p| &p.changes)
        .filter(|c| c.field == "integration")
        .count();
    assert_eq!(renames, 0, "{plan:#?}");
}

#[tokio::test]
async fn readiness_findings_are_listed_with_their_fixes_and_nothing_else() {
    let mut run = check_run(Vec::new());
    run.report.findings = vec![
        Finding::new(
            FindingCode::BotPermissionMissing,
            "lacks itil",
            "grant itil",
        ),
        Finding::new(FindingCode::NotFound, "no such user", "correct it"),
        Finding::new(FindingCode::WorkflowGap, "no resolve", "add it"),
    ];
    let plan = planned(&identities(), &run).await;
    let listed: Vec<&str> = plan.readiness.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(listed, ["BOT_PERMISSION_MISSING", "WORKFLOW_GAP"]);
    let table = plan.to_table();
    assert!(table.contains("fix: grant itil"), "{table}");
}

#[tokio::test]
async fn two_spellings_of_one_integration_are_left_for_a_person() {
    let text = BOT_WITH_SNOW_IN_CAPITALS.to_owned()
        + "\n[[bot.itsm]]\nintegration = \"Snow\"\nexternal_id = \"moveworks.bot\"\n";
    let ids = Identities::parse(Path::new("i.toml"), &text, &[]).unwrap();
    let run = check_run(vec![
        (BOT, 0, EntryStatus::UnknownIntegration, None),
        (BOT, 1, EntryStatus::UnknownIntegration, None),
    ]);
    let plan = planned(&ids, &run).await;
    assert!(changes(&plan, BOT, "snow").is_empty(), "{plan:#?}");
}
