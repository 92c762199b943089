//! `itsmid check` end to end: one test per finding code of ServiceNow and
//! Jira, the exit statuses, and systems that cannot be checked.

use itsmid_connectors::System;
use itsmid_connectors::sim::Fault;
use serde_json::Value;

use crate::support::{
    BOT, World, codes, entry, entry_of, findings, fixture, system_row, with_user, write_secret,
};

#[tokio::test(flavor = "multi_thread")]
async fn check_exits_0_and_verifies_everything_when_all_is_in_order() {
    let world = World::start().await;
    world.write_identities(&with_user(
        "pat@acme.com",
        &(entry(
            "snow",
            &[
                ("external_id", "pat.lee"),
                ("itsm_user_id", "a8f98bb0eb32010045e1a5115206fe3a"),
            ],
        ) + &entry(
            "jira_service_desk",
            &[
                ("external_id", "pat@acme.com"),
                (
                    "itsm_user_id",
                    "712020:6b1f7b04-6e9e-4276-b4d8-4d7b1678e327",
                ),
            ],
        )),
    ));
    let (code, report) = world.check().await;
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["schema"], "itsmid.report.v1");
    assert_eq!(report["complete"], true);
    assert_eq!(report["summary"]["identities"], 2);
    assert_eq!(report["summary"]["entries"], 4);
    assert_eq!(report["summary"]["verified"], 4);
    assert_eq!(report["summary"]["errors"], 0);
    let pat = entry_of(&report, "pat@acme.com", "snow");
    assert_eq!(pat["status"], "verified");
    assert_eq!(
        pat["found"]["itsm_user_id"],
        "a8f98bb0eb32010045e1a5115206fe3a"
    );
    assert_eq!(pat["found"]["active"], true);
    assert_eq!(pat["found"]["first_name"], "Pat");
    let snow = system_row(&report, "snow");
    assert_eq!(snow["status"], "ok");
    assert_eq!(snow["reason"], Value::Null);
    assert_eq!(snow["credential_check"], "ok");
    let requests: u64 = report["systems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["api_requests"].as_u64().unwrap())
        .sum();
    assert_eq!(report["summary"]["api_requests"].as_u64(), Some(requests));
    let sent = world.snow.server.received_requests().await.unwrap().len() as u64;
    assert_eq!(
        snow["api_requests"].as_u64(),
        Some(sent),
        "every request is counted"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_integration_in_the_wrong_case_is_unknown_with_the_fix_offered() {
    let world = World::start().await;
    world.write_identities(&with_user(
        "abel@acme.com",
        &entry("SNOW", &[("external_id", "abel.tuter")]),
    ));
    let (code, report) = world.check().await;
    assert_eq!(code, 1);
    let found = findings(&report, "UNKNOWN_INTEGRATION");
    assert_eq!(found.len(), 1, "{report:#}");
    assert_eq!(found[0]["expected"], "snow");
    assert_eq!(found[0]["unique_record_id"], "abel@acme.com");
    assert_eq!(found[0]["severity"], "error");
    assert_eq!(
        entry_of(&report, "abel@acme.com", "SNOW")["status"],
        "unknown_integration"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connector_without_a_bot_entry_is_reported() {
    let world = World::start().await;
    let bot_without_jira = BOT
        .split("[[bot.itsm]]\nintegration = \"jira_service_desk\"")
        .next()
        .unwrap()
        .to_owned();
    world.write_identities(&bot_without_jira);
    let (code, report) = world.check().await;
    assert_eq!(code, 1);
    let found = findings(&report, "BOT_ENTRY_MISSING");
    assert_eq!(found.len(), 1, "{report:#}");
    assert_eq!(found[0]["integration"], "jira_service_desk");
    assert_eq!(found[0]["unique_record_id"], "moveworks-bot@acme.com");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_entry_for_one_integration_is_a_duplicate() {
    let world = World::start().await;
    world.write_identities(&with_user(
        "pat@acme.com",
        &(entry("snow", &[("external_id", "pat.lee")])
            + &entry("snow", &[("external_id", "abel.tuter")])),
    ));
    let (code, report) = world.check().await;
    assert_eq!(code, 1);
    assert_eq!(findings(&report, "DUPLICATE_ENTRY").len(), 1, "{report:#}");
    let entries = report["identities"][1]["entries"].as_array().unwrap();
    assert_eq!(entries[0]["status"], "verified");
    assert_eq!(entries[1]["status"], "duplicate");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_users_are_not_found_in_both_systems() {
    let world = World::start().await;
    world.write_identities(&with_user(
        "ghost@acme.com",
        &(entry("snow", &[("external_id", "gus.ghost")])
            + &entry("jira_service_desk", &[("external_id", "ghost@acme.com")])),
    ));
    let (code, report) = world.check().await;
    assert_eq!(code, 1);
    assert_eq!(findings(&report, "NOT_FOUND").len(), 2, "{report:#}");
    assert_eq!(
        entry_of(&report, "ghost@acme.com", "snow")["status"],
        "not_found"
    );
    assert_eq!(
        entry_of(&report, "ghost@acme.com", "jira_service_desk")["status"],
        "not_found"
    );
    assert_eq!(
        entry_of(&report, "ghost@acme.com", "snow")["found"],
        Value::Null
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hidden_jira_email_is_not_found_with_the_reason_and_the_fix() {
    let world = World::start().await;
    world.write_identities(&with_user(
        "hana@acme.com",
        &entry("jira_service_desk", &[("external_id", "hana@acme.com")]),
    ));
    let (code, report) = world.check().await;
    assert_eq!(code, 1);
    let found = findings(&report, "NOT_FOUND");
    assert_eq!(found.len(), 1, "{report:#}");
    let message = found[0]["message"].as_str().unwrap().to_lowercase();
    assert!(message.contains("hidden"), "{message}");
    assert!(message.contains("accountid"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_users_with_one_external_id_are_ambiguous() {
    let snow: Value = serde_json::from_str(&fixture("servicenow.json")).unwrap();
    let mut snow = snow;
    let rows = snow["result"].as_array_mut().unwrap();
    let mut twin = rows
        .iter()
        .find(|r| r["user_name"] == "sam.shared")
        .unwrap()
        .clone();
    twin["sys_id"] = Value::from("0b826bf03710200044e0bfc8bcbe5d7b");
    twin["user_name"] = Value::from("sam.shared2");
    rows.push(twin);
    let world = World::with_data(&snow.to_string(), &fixture("jira.json")).await;
    // Look users up by e-mail, which two accounts share.
    let config = std::fs::read_to_string(world.path().join("itsmid.toml")).unwrap();
    let config = config.replacen(
        "requests_per_minute = 60000\n",
        "requests_per_minute = 60000\nlookup_by = \"email\"\n",
        1,
    );
    std::fs::write(world.path().join("itsmid.toml"), config).unwrap();
    let identities = with_user(
        "sam@acme.com",
        &entry("snow", &[("external_id", "shared-desk@acme.com")]),
    )
    .replace(
        "external_id = \"moveworks.bot\"",
        "external_id = \"moveworks-bot@acme.com\"",
    );
    world.write_identities(&identities);
    let (code, report) = world.check().await;
    assert_eq!(code, 1);
    let found = findings(&report, "AMBIGUOUS");
    assert_eq!(found.len(), 1, "{report:#}");
    let message = found[0]["message"].as_str().unwrap();
    assert!(
        message.contains("0a826bf03710200044e0bfc8bcbe5d7a")
            && message.contains("0b826bf03710200044e0bfc8bcbe5d7b")
    );
    assert_eq!(
        entry_of(&report, "sam@acme.com", "snow")["status"],
        "ambiguous"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn inactive_and_locked_out_accounts_are_inactive() {
    let world = World::start().await;
    world.write_identities(&format!(
        "{}\n[[users]]\nunique_record_id = \"carol@acme.com\"\n{}\n[[users]]\nunique_record_id = \"fred@acme.com\"\n{}",
        with_user("beth@acme.com", &entry("snow", &[("external_id", "beth.anglin")])),
        entry("snow", &[("external_id", "carol.locked")]),
        entry("jira_service_desk", &[("external_id", "former@acme.com"), ("itsm_user_id", "606b8fb83a516300764cb19d")]),
    ));
    let (code, report) = world.check().await;
    assert_eq!(code, 1);
    assert_eq!(findings(&report, "INACTIVE").len(), 3, "{report:#}");
    for (urid, integration) in [
        ("beth@acme.com", "snow"),
        ("carol@acme.com", "snow"),
        ("fred@acme.com", "jira_service_desk"),
    ] {
        let e = entry_of(&report, urid, integration);
        assert_eq!(e["status"], "inactive", "{urid}");
        assert_eq!(e["found"]["active"], false, "{urid}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_itsm_user_id_is_a_mismatch_with_the_right_id() {
    let world = World::start().await;
    world.write_identities(&with_user(
        "dana@acme.com",
        &entry(
            "snow",
            &[
                ("external_id", "dana.ross"),
                ("itsm_user_id", "0123456789abcdef0123456789abcdef"),
            ],
        ),
    ));
    let (code, report) = world.check().await;
    assert_eq!(code, 1);
    let found = findings(&report, "ITSM_USER_ID_MISMATCH");
    assert_eq!(found.len(), 1, "{report:#}");
    assert_eq!(found[0]["expected"], "f298d2d2c611227b0106c6be7f154bc8");
    assert_eq!(found[0]["actual"], "0123456789abcdef0123456789abcdef");
    let e = entry_of(&report, "dana@acme.com", "snow");
    assert_eq!(e["status"], "mismatch");
    assert_eq!(
        e["found"]["itsm_user_id"],
        "f298d2d2c611227b0106c6be7f154bc8"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_id_of_another_user_is_a_mismatch() {
    let world = World::start().await;
    world.write_identities(&with_user(
        "dana@acme.com",
        &entry(
            "snow",
            &[
                ("external_id", "dana.ross"),
                ("itsm_user_id", "a8f98bb0eb32010045e1a5115206fe3a"),
            ],
        ),
    ));
    let (_, report) = world.check().await;
    let found = findings(&report, "ITSM_USER_ID_MISMATCH");
    assert_eq!(found.len(), 1, "{report:#}");
    assert!(found[0]["message"].as_str().unwrap().contains("pat.lee"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_itsm_user_id_is_reported_without_sending_it() {
    let world = World::start().await;
    world.write_identities(&with_user(
        "pat@acme.com",
        &entry(
            "snow",
            &[("external_id", "pat.lee"), ("itsm_user_id", "not-a-sys-id")],
        ),
    ));
    let (code, report) = world.check().await;
    assert_eq!(code, 1);
    assert_eq!(
        findings(&report, "MALFORMED_ITSM_USER_ID").len(),
        1,
        "{report:#}"
    );
    assert_eq!(
        entry_of(&report, "pat@acme.com", "snow")["status"],
        "mismatch"
    );
    for request in world.snow.server.received_requests().await.unwrap() {
        assert!(
            !request.url.as_str().contains("not-a-sys-id"),
            "{}",
            request.url
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_identities_on_one_account_share_it() {
    let world = World::start().await;
    world.write_identities(&format!(
        "{}\n[[users]]\nunique_record_id = \"pat2@acme.com\"\n{}",
        with_user(
            "pat@acme.com",
            &entry("snow", &[("external_id", "pat.lee")])
        ),
        entry("snow", &[("external_id", "PAT.LEE")]),
    ));
    let (code, report) = world.check().await;
    assert_eq!(code, 1);
    assert_eq!(
        findings(&report, "SHARED_ITSM_ACCOUNT").len(),
        2,
        "{report:#}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_of_another_user_are_a_bot_credential_mismatch() {
    let world = World::start().await;
    world.write_config("kim@acme.com");
    write_secret(world.path().join("jira-token"), "kim-token");
    world.write_identities(BOT);
    let (code, report) = world.check().await;
    assert_eq!(code, 1);
    let found = findings(&report, "BOT_CREDENTIAL_MISMATCH");
    assert_eq!(found.len(), 1, "{report:#}");
    assert_eq!(found[0]["integration"], "jira_service_desk");
    assert_eq!(found[0]["unique_record_id"], "moveworks-bot@acme.com");
    assert_eq!(
        system_row(&report, "jira_service_desk")["credential_check"],
        "mismatch"
    );
    assert_eq!(system_row(&report, "snow")["credential_check"], "ok");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_system_that_is_down_leaves_its_entries_unchecked_and_the_others_checked() {
    let world = World::start().await;
    world.write_identities(&with_user(
        "pat@acme.com",
        &entry("snow", &[("external_id", "pat.lee")]),
    ));
    world.fault(System::Jira, Fault::Down);
    let (code, report) = world.check().await;
    assert_eq!(code, 1);
    assert_eq!(report["complete"], false);
    let found = findings(&report, "SYSTEM_UNAVAILABLE");
    assert_eq!(found.len(), 1, "{report:#}");
    assert_eq!(found[0]["unique_record_id"], Value::Null);
    assert_eq!(found[0]["actual"], "unreachable");
    let row = system_row(&report, "jira_service_desk");
    assert_eq!(row["status"], "unavailable");
    assert_eq!(row["reason"], "unreachable");
    assert_eq!(
        entry_of(&report, "moveworks-bot@acme.com", "jira_service_desk")["status"],
        "unchecked"
    );
    assert_eq!(
        entry_of(&report, "pat@acme.com", "snow")["status"],
        "verified"
    );
    assert_eq!(
        codes(&report),
        vec!["ITSM_USER_ID_MISSING", "SYSTEM_UNAVAILABLE"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_credentials_are_auth_failed_and_not_retried() {
    let world = World::start().await;
    write_secret(world.path().join("snow-password"), "wrong-password");
    world.write_identities(BOT);
    let (code, report) = world.check().await;
    assert_eq!(code, 1);
    let row = system_row(&report, "snow");
    assert_eq!(row["reason"], "auth_failed");
    assert_eq!(row["api_requests"], 1, "a refused login is never retried");
    assert_eq!(
        world.snow.server.received_requests().await.unwrap().len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hibernating_instance_is_a_bad_response_not_not_found() {
    let world = World::start().await;
    world.write_identities(BOT);
    world.fault(System::ServiceNow, Fault::Hibernating);
    let (_, report) = world.check().await;
    assert_eq!(system_row(&report, "snow")["reason"], "bad_response");
    assert!(findings(&report, "NOT_FOUND").is_empty(), "{report:#}");
    assert_eq!(
        entry_of(&report, "moveworks-bot@acme.com", "snow")["status"],
        "unchecked"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_itsm_user_id_is_a_warning_and_exits_0() {
    let world = World::start().await;
    world.write_identities(&with_user(
        "pat@acme.com",
        &entry("jira_service_desk", &[("external_id", "pat@acme.com")]),
    ));
    let (code, report) = world.check().await;
    assert_eq!(code, 0, "{report:#}");
    let found = findings(&report, "ITSM_USER_ID_MISSING");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["severity"], "warning");
    assert_eq!(
        found[0]["expected"],
        "712020:6b1f7b04-6e9e-4276-b4d8-4d7b1678e327"
    );
    assert_eq!(
        entry_of(&report, "pat@acme.com", "jira_service_desk")["status"],
        "verified"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn names_that_differ_from_the_system_are_warnings() {
    let world = World::start().await;
    world.write_identities(&with_user(
        "pat@acme.com",
        &(entry(
            "snow",
            &[
                ("external_id", "pat.lee"),
                ("first_name", "Patricia"),
                ("last_name", "Lee"),
            ],
        ) + &entry(
            "jira_service_desk",
            &[("external_id", "pat@acme.com"), ("full_name", "Pat C.")],
        )),
    ));
    let (code, report) = world.check().await;
    assert_eq!(code, 0);
    let found = findings(&report, "NAME_MISMATCH");
    assert_eq!(found.len(), 2, "{report:#}");
    assert!(
        found
            .iter()
            .any(|f| f["expected"] == "Pat" && f["actual"] == "Patricia")
    );
    assert!(found.iter().any(|f| f["expected"] == "Pat Contractor"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_external_id_in_another_case_is_not_canonical() {
    let world = World::start().await;
    world.write_identities(&with_user(
        "pat@acme.com",
        &entry(
            "snow",
            &[
                ("external_id", "Pat.Lee"),
                ("itsm_user_id", "a8f98bb0eb32010045e1a5115206fe3a"),
            ],
        ),
    ));
    let (code, report) = world.check().await;
    assert_eq!(code, 0);
    let found = findings(&report, "EXTERNAL_ID_NOT_CANONICAL");
    assert_eq!(found.len(), 1, "{report:#}");
    assert_eq!(found[0]["expected"], "pat.lee");
    assert_eq!(
        entry_of(&report, "pat@acme.com", "snow")["found"]["external_id"],
        "pat.lee"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_jira_bot_outside_america_danmarkshavn_is_a_bot_setting() {
    let mut jira: Value = serde_json::from_str(&fixture("jira.json")).unwrap();
    for user in jira["values"].as_array_mut().unwrap() {
        if user["accountId"] == "5b10ac8d82e05b22cc7d4ef5" {
            user["timeZone"] = Value::from("Europe/London");
        }
    }
    let world = World::with_data(&fixture("servicenow.json"), &jira.to_string()).await;
    world.write_identities(BOT);
    let (code, report) = world.check().await;
    assert_eq!(code, 0, "a setting is a warning");
    let found = findings(&report, "BOT_SETTING");
    assert_eq!(found.len(), 1, "{report:#}");
    assert_eq!(found[0]["expected"], "America/Danmarkshavn");
    assert_eq!(found[0]["actual"], "Europe/London");
    assert_eq!(found[0]["integration"], "jira_service_desk");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_manual_user_on_a_jira_app_account_is_an_account_type_warning() {
    let world = World::start().await;
    world.write_identities(&with_user(
        "automation@acme.com",
        &entry(
            "jira_service_desk",
            &[(
                "itsm_user_id",
                "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077",
            )],
        ),
    ));
    let (_, report) = world.check().await;
    let found = findings(&report, "ACCOUNT_TYPE");
    assert_eq!(found.len(), 1, "{report:#}");
    assert_eq!(found[0]["severity"], "warning");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_account_is_fine_for_a_manual_user() {
    let world = World::start().await;
    world.write_identities(&with_user(
        "customer@partner.example",
        &entry(
            "jira_service_desk",
            &[
                ("external_id", "customer@partner.example"),
                (
                    "itsm_user_id",
                    "qm:a6e2b3c4-1d2e-4f5a-8b9c-0d1e2f3a4b5c:5e5f5a5b5c5d5e5f",
                ),
            ],
        ),
    ));
    let (code, report) = world.check().await;
    assert_eq!(code, 0, "{report:#}");
    assert!(findings(&report, "ACCOUNT_TYPE").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_injection_attempt_is_not_found_and_never_sent() {
    let world = World::start().await;
    world.write_identities(&with_user(
        "eve@acme.com",
        &entry("snow", &[("external_id", "x^NQactive=true")]),
    ));
    let (code, report) = world.check().await;
    assert_eq!(code, 1);
    assert_eq!(
        entry_of(&report, "eve@acme.com", "snow")["status"],
        "not_found"
    );
    for request in world.snow.server.received_requests().await.unwrap() {
        let query = request.url.query().unwrap_or("").to_lowercase();
        assert!(!query.contains("nqactive"), "{query}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_table_shows_problems_first_with_their_fix() {
    let world = World::start().await;
    world.write_identities(&with_user(
        "ghost@acme.com",
        &entry("snow", &[("external_id", "gus.ghost")]),
    ));
    let output = world.run(&["check", "--format", "table"]).await;
    assert_eq!(output.status.code(), Some(1));
    let table = String::from_utf8(output.stdout).unwrap();
    assert!(table.contains("NOT_FOUND"), "{table}");
    assert!(table.contains("fix:"), "{table}");
    let entries = &table[table.find("Entries:").expect("an entries section")..];
    let first_not_found = entries.find("not_found").expect("the problem entry");
    let first_verified = entries
        .find("verified")
        .expect("the bot's verified entries");
    assert!(first_not_found < first_verified, "problems first:\n{table}");
}

#[tokio::test(flavor = "multi_thread")]
async fn output_goes_to_the_file_and_secrets_never_appear_even_at_trace_level() {
    let world = World::start().await;
    world.write_identities(BOT);
    let output = world
        .run(&["check", "-vvv", "--output", "report.json"])
        .await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.stdout.is_empty());
    let report = std::fs::read_to_string(world.path().join("report.json")).unwrap();
    let parsed: Value = serde_json::from_str(&report).expect("the file holds the JSON report");
    crate::support::assert_matches_schema(&parsed);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("request"), "trace logging is on: {stderr}");
    for secret in [crate::support::SNOW_PASSWORD, crate::support::JIRA_TOKEN] {
        assert!(!stderr.contains(secret), "a secret reached the logs");
        assert!(!report.contains(secret), "a secret reached the report");
    }
    // Basic auth travels base64-encoded: look for that form too.
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD
        .encode(format!("moveworks.bot:{}", crate::support::SNOW_PASSWORD));
    assert!(!stderr.contains(&encoded));
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_reaches_any_crate_logging_at_trace_level() {
    let world = World::start().await;
    world.write_identities(BOT);
    world.fault(System::Jira, Fault::AuthRejected);
    let output = crate::support::run_with_env(
        world.path(),
        &["check", "--format", "json"],
        &[("RUST_LOG", "trace")],
    )
    .await;
    assert_eq!(output.status.code(), Some(1));
    let everything = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(everything.contains("TRACE"), "trace logging is on");
    use base64::Engine;
    for (user, secret) in [
        ("moveworks.bot", crate::support::SNOW_PASSWORD),
        ("moveworks-bot@acme.com", crate::support::JIRA_TOKEN),
    ] {
        assert!(!everything.contains(secret), "a secret reached the output");
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"));
        assert!(
            !everything.contains(&encoded),
            "an encoded secret reached the output"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_system_whose_lookups_fail_judges_no_credentials() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    // /myself answers (as Kim), every lookup fails: the system is
    // unavailable, and nothing is judged, its credentials included.
    let jira = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/myself"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"accountId":"5c9a7e2f1b3d4a0012345678","accountType":"atlassian","active":true,"displayName":"Kim Lee","emailAddress":"kim@acme.com"}"#,
            "application/json",
        ))
        .mount(&jira)
        .await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(503))
        .mount(&jira)
        .await;
    let world = World::start().await;
    let config = std::fs::read_to_string(world.path().join("itsmid.toml")).unwrap();
    std::fs::write(
        world.path().join("itsmid.toml"),
        config.replace(&world.jira.uri(), &jira.uri()),
    )
    .unwrap();
    world.write_identities(BOT);
    let (code, report) = world.check().await;
    assert_eq!(code, 1);
    assert_eq!(
        system_row(&report, "jira_service_desk")["reason"],
        "unreachable",
        "{report:#}"
    );
    assert!(
        findings(&report, "BOT_CREDENTIAL_MISMATCH").is_empty(),
        "{report:#}"
    );
    assert_eq!(
        system_row(&report, "jira_service_desk")["credential_check"],
        "unavailable"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bots_time_zone_is_checked_even_when_the_credentials_are_someone_elses() {
    let mut jira: Value = serde_json::from_str(&fixture("jira.json")).unwrap();
    for user in jira["values"].as_array_mut().unwrap() {
        if user["accountId"] == "5b10ac8d82e05b22cc7d4ef5" {
            user["timeZone"] = Value::from("Europe/London");
        }
    }
    let world = World::with_data(&fixture("servicenow.json"), &jira.to_string()).await;
    world.write_config("kim@acme.com");
    write_secret(world.path().join("jira-token"), "kim-token");
    world.write_identities(BOT);
    let (_, report) = world.check().await;
    assert_eq!(
        findings(&report, "BOT_CREDENTIAL_MISMATCH").len(),
        1,
        "{report:#}"
    );
    let setting = findings(&report, "BOT_SETTING");
    assert_eq!(setting.len(), 1, "from the bot's own record: {report:#}");
    assert_eq!(setting[0]["actual"], "Europe/London");
}
