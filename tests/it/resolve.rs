//! `itsmid resolve [--write]` end to end: proposals, the write that keeps
//! an administrator's file as it was around the changes, and its refusals.

use itsmid_connectors::System;
use itsmid_connectors::sim::Fault;
use serde_json::Value;

use crate::support::{World, entry, with_user};

fn golden(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/golden")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn identities(world: &World) -> String {
    std::fs::read_to_string(world.path().join("identities.toml")).expect("the identities file")
}

async fn resolve(world: &World, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["resolve", "--format", "json"];
    all.extend_from_slice(args);
    let output = world.run(&all).await;
    let plan = serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "not JSON ({err}): {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code().unwrap_or(-1), plan)
}

fn changes<'a>(plan: &'a Value, urid: &str) -> Vec<&'a Value> {
    plan["identities"]
        .as_array()
        .and_then(|ids| ids.iter().find(|i| i["unique_record_id"] == urid))
        .and_then(|i| i["changes"].as_array())
        .map(|c| c.iter().collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn resolve_proposes_and_writes_nothing_without_write() {
    let world = World::start().await;
    let before = golden("resolve-before.toml");
    world.write_identities(&before);
    let (code, plan) = resolve(&world, &[]).await;
    assert_eq!(code, 0, "{plan:#}");
    assert_eq!(plan["schema"], "itsmid.resolve.v1");
    assert_eq!(plan["written"], false);
    assert_eq!(
        identities(&world),
        before,
        "nothing is written without --write"
    );
    let pat = changes(&plan, "pat@acme.com");
    let stale = pat
        .iter()
        .find(|c| c["integration"] == "snow" && c["field"] == "itsm_user_id")
        .expect("the stale id");
    assert_eq!(stale["old"], "0123456789abcdef0123456789abcdef");
    assert_eq!(stale["new"], "a8f98bb0eb32010045e1a5115206fe3a");
    assert!(
        stale["reason"].as_str().unwrap().contains("External ID"),
        "says which lookup found it"
    );
    let jira = pat
        .iter()
        .find(|c| c["integration"] == "jira_service_desk" && c["field"] == "itsm_user_id")
        .unwrap();
    assert_eq!(jira["old"], Value::Null);
    assert!(
        !pat.iter()
            .any(|c| c["integration"] == "jira_service_desk" && c["field"] == "first_name"),
        "Jira has only full_name"
    );
    assert!(
        changes(&plan, "beth.anglin@acme.com").is_empty(),
        "an inactive entry gets nothing"
    );
    assert!(
        changes(&plan, "ghost@acme.com").is_empty(),
        "a not-found entry gets nothing"
    );
    let bot = changes(&plan, "moveworks-bot@acme.com");
    assert!(
        bot.iter()
            .any(|c| c["field"] == "external_id" && c["new"] == "moveworks.bot"),
        "{plan:#}"
    );
    assert!(bot.iter().any(|c| c["integration"] == "jira_service_desk"
        && c["field"] == "itsm_user_id"
        && c["new"] == "5b10ac8d82e05b22cc7d4ef5"));
}

#[tokio::test(flavor = "multi_thread")]
async fn write_changes_only_what_it_must_and_a_second_write_changes_nothing() {
    let world = World::start().await;
    world.write_identities(&golden("resolve-before.toml"));
    let (code, plan) = resolve(&world, &["--write"]).await;
    assert_eq!(code, 0, "{plan:#}");
    assert_eq!(plan["written"], true);
    assert_eq!(
        identities(&world),
        golden("resolve-after.toml"),
        "the golden file"
    );

    let (code, plan) = resolve(&world, &["--write"]).await;
    assert_eq!(code, 0);
    assert_eq!(plan["summary"]["changes"], 0, "{plan:#}");
    assert_eq!(plan["written"], false);
    assert_eq!(identities(&world), golden("resolve-after.toml"));

    // What is left are the problems resolve must not touch (an inactive
    // account gets nothing, not even its id).
    let (_, report) = world.check().await;
    let mut codes: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    codes.sort();
    assert_eq!(
        codes,
        vec!["INACTIVE", "ITSM_USER_ID_MISSING", "NOT_FOUND"],
        "{report:#}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_identities_file_with_only_external_ids_becomes_complete_and_checks_clean() {
    let world = World::start().await;
    world.write_identities(
        "[bot]\nunique_record_id = \"moveworks-bot@acme.com\"\n[[bot.itsm]]\nintegration = \"snow\"\nexternal_id = \"moveworks.bot\"\n\n[[users]]\nunique_record_id = \"pat@acme.com\"\n[[users.itsm]]\nintegration = \"snow\"\nexternal_id = \"pat.lee\"\n[[users.itsm]]\nintegration = \"jira_service_desk\"\nexternal_id = \"pat@acme.com\"\n",
    );
    let (code, _) = resolve(&world, &["--write"]).await;
    assert_eq!(code, 0);
    let (code, report) = world.check().await;
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        report["findings"].as_array().unwrap().len(),
        0,
        "{report:#}"
    );
    assert_eq!(report["summary"]["verified"], 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_system_that_is_down_gets_nothing_written_and_the_others_do() {
    let world = World::start().await;
    world.write_identities(&with_user(
        "pat@acme.com",
        &(entry("snow", &[("external_id", "pat.lee")])
            + &entry("jira_service_desk", &[("external_id", "pat@acme.com")])),
    ));
    world.fault(System::Jira, Fault::Down);
    let (code, plan) = resolve(&world, &["--write"]).await;
    assert_eq!(code, 1, "a system that could not be checked: {plan:#}");
    assert_eq!(plan["complete"], false);
    let text = identities(&world);
    assert!(
        text.contains("a8f98bb0eb32010045e1a5115206fe3a"),
        "ServiceNow's id is written:\n{text}"
    );
    assert!(!text.contains("712020:"), "nothing for Jira:\n{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_changed_during_the_run_is_not_overwritten() {
    let world = World::start().await;
    world.write_identities(&with_user(
        "pat@acme.com",
        &entry("snow", &[("external_id", "pat.lee")]),
    ));
    world.fault(
        System::ServiceNow,
        Fault::Slow(std::time::Duration::from_millis(800)),
    );
    let path = world.path().to_path_buf();
    let run =
        tokio::spawn(async move { crate::support::run_in(&path, &["resolve", "--write"]).await });
    // While resolve waits on the slow system, someone edits the file.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let edited = format!("{}\n# edited by hand meanwhile\n", identities(&world));
    std::fs::write(world.path().join("identities.toml"), &edited).unwrap();
    let output = run.await.unwrap();
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("changed since it was read"));
    assert_eq!(
        identities(&world),
        edited,
        "the administrator's edit survives"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_single_account_with_the_identitys_email_is_suggested_never_written() {
    let world = World::start().await;
    let before = "[bot]\nunique_record_id = \"moveworks-bot@acme.com\"\n[[bot.itsm]]\nintegration = \"snow\"\nexternal_id = \"moveworks.bot\"\nitsm_user_id = \"6816f79cc0a8016401c5a33be04be441\"\n\n[[users]]\nemail_addr = \"pat@acme.com\"\nunique_record_id = \"pat@acme.com\"\n[[users.itsm]]\nintegration = \"snow\"\nexternal_id = \"patricia.lee\"\n";
    world.write_identities(before);
    let (_, plan) = resolve(&world, &["--write"]).await;
    let pat = plan["identities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["unique_record_id"] == "pat@acme.com")
        .expect("pat");
    let suggestion = &pat["suggestions"][0];
    assert_eq!(suggestion["external_id"], "pat.lee", "{plan:#}");
    assert_eq!(
        suggestion["itsm_user_id"],
        "a8f98bb0eb32010045e1a5115206fe3a"
    );
    assert!(
        identities(&world).contains("patricia.lee"),
        "a suggestion is never written"
    );
    assert!(!identities(&world).contains("a8f98bb0eb32010045e1a5115206fe3a"));
}

#[tokio::test(flavor = "multi_thread")]
async fn several_accounts_with_the_identitys_emails_are_listed_not_chosen() {
    let world = World::start().await;
    let before = "[[users]]\nemail_addr = \"pat@acme.com\"\nuser_emails = [\"shared-desk@acme.com\"]\nunique_record_id = \"pat@acme.com\"\n[[users.itsm]]\nintegration = \"snow\"\nexternal_id = \"p.lee\"\n";
    world.write_identities(before);
    let (_, plan) = resolve(&world, &[]).await;
    let pat = plan["identities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["unique_record_id"] == "pat@acme.com")
        .expect("pat");
    assert_eq!(pat["suggestions"].as_array().unwrap().len(), 0, "{plan:#}");
    let note = pat["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .find(|n| n.contains("2 accounts"))
        .expect("listed");
    assert!(
        note.contains("pat.lee") && note.contains("sam.shared"),
        "{note}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_of_e_mails_and_integration_names_becomes_complete_and_checks_clean() {
    let world = World::start().await;
    let before = "[bot]\nemail_addr = \"moveworks-bot@acme.com\"\nunique_record_id = \"moveworks-bot@acme.com\"\n[[bot.itsm]]\nintegration = \"snow\"\n[[bot.itsm]]\nintegration = \"jira_service_desk\"\n\n[[users]]\nemail_addr = \"pat@acme.com\"\nunique_record_id = \"pat@acme.com\"\n[[users.itsm]]\nintegration = \"snow\"\n[[users.itsm]]\nintegration = \"jira_service_desk\"\n";
    world.write_identities(before);
    let (code, report) = world.check().await;
    assert_eq!(code, 1, "blank entries are not found until resolved");
    assert_eq!(
        crate::support::findings(&report, "NOT_FOUND").len(),
        4,
        "{report:#}"
    );
    let (code, plan) = resolve(&world, &["--write"]).await;
    assert_eq!(code, 0, "{plan:#}");
    let text = identities(&world);
    assert!(
        text.contains("external_id = \"pat.lee\""),
        "ServiceNow's login, found by e-mail:\n{text}"
    );
    assert!(
        text.contains("itsm_user_id = \"712020:6b1f7b04-6e9e-4276-b4d8-4d7b1678e327\""),
        "{text}"
    );
    let (code, report) = world.check().await;
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        report["findings"].as_array().unwrap().len(),
        0,
        "{report:#}"
    );
    assert_eq!(report["summary"]["verified"], 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_with_nothing_to_change_is_not_rewritten() {
    let world = World::start().await;
    // CRLF line endings and a byte order mark, and everything already right.
    let text = "\u{feff}[bot]\r\nunique_record_id = \"moveworks-bot@acme.com\"\r\n[[bot.itsm]]\r\nintegration = \"snow\"\r\nexternal_id = \"moveworks.bot\"\r\nitsm_user_id = \"6816f79cc0a8016401c5a33be04be441\"\r\nfirst_name = \"Moveworks\"\r\nlast_name = \"Bot\"\r\nfull_name = \"Moveworks Bot\"\r\n";
    let config = std::fs::read_to_string(world.path().join("itsmid.toml")).unwrap();
    let only_snow = config
        .split("\n[[connectors]]\nintegration = \"jira_service_desk\"")
        .next()
        .unwrap()
        .to_owned();
    std::fs::write(world.path().join("itsmid.toml"), only_snow).unwrap();
    world.write_identities(text);
    let (_, plan) = resolve(&world, &["--write"]).await;
    assert_eq!(plan["written"], false, "{plan:#}");
    assert_eq!(identities(&world), text);
}
