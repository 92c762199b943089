//! The Jira Data Center simulator through the connector: lookups by key,
//! e-mail and user name (inactive users included, prefix matches not
//! counted), the listing of a Jira 9 directory in pages of a thousand, a
//! Jira 10 one asked key by key, an instance with basic authentication
//! switched off, faults, and readiness over `fixtures/jira_dc.json`.
//!
//! Never stages answers per test: only the data and the fault switches.

use itsmid_connectors::sim::{AnySimulator, Fault};
use itsmid_connectors::{
    Connector, CredentialOwner, ExternalId, ItsmUser, ItsmUserId, LookupKey, Readiness,
    ReadinessInput, ReadinessKind, Reason, System,
};
use serde_json::{Value, json};

use super::{
    BOT_KEY, BOT_TOKEN, KIM_KEY, PAT_KEY, SEARCH_PATH, SERVER_INFO_PATH, USER_PATH,
    bot_credentials, by_external, by_key, client, found, name_client, not_found_note, queries_at,
};
use crate::support::{basic, bearer, fixture, settings};

/// A few users in Data Center's shape: an inactive one, a legacy key, and
/// an address that `pat@acme.com` is a prefix of.
fn small_directory() -> Vec<Value> {
    vec![
        json!({"key": BOT_KEY, "name": "moveworks-bot", "emailAddress": "moveworks-bot@acme.com",
               "displayName": "Moveworks Bot", "active": true, "timeZone": "America/Danmarkshavn"}),
        json!({"key": PAT_KEY, "name": "pat.lee", "emailAddress": "pat@acme.com",
               "displayName": "Pat Lee", "active": true, "timeZone": "Europe/Berlin"}),
        json!({"key": "JIRAUSER10101", "name": "pat.leeds", "emailAddress": "pat@acme.com.au",
               "displayName": "Pat Leeds", "active": true}),
        json!({"key": KIM_KEY, "name": "kim.lee", "emailAddress": "kim.lee@acme.com",
               "displayName": "Kim Lee", "active": false}),
        json!({"key": "dana.ross", "name": "dana.ross", "emailAddress": "dana@acme.com",
               "displayName": "Dana Ross", "active": true}),
    ]
}

/// The bot and `size` generated users; every seventh is inactive.
fn generated(size: usize) -> Vec<Value> {
    let users = (0..size).map(|n| {
        json!({"key": format!("JIRAUSER{}", 20_000 + n), "name": format!("user{n}"),
               "emailAddress": format!("user{n}@acme.com"), "displayName": format!("User {n}"),
               "active": n % 7 != 0})
    });
    small_directory().into_iter().take(1).chain(users).collect()
}

/// Simulator data: `users`, the bot's credentials, and `extra` settings.
fn data(users: Vec<Value>, extra: Value) -> String {
    let mut simulator = json!({
        "basic": [{"username": "moveworks-bot", "password": "demo-jira-dc-password", "user": BOT_KEY}],
        "bearer": [{"token": BOT_TOKEN, "user": BOT_KEY}],
    });
    if let (Some(into), Some(from)) = (simulator.as_object_mut(), extra.as_object()) {
        into.extend(from.clone());
    }
    json!({"users": users, "simulator": simulator}).to_string()
}

async fn simulator(data: &str) -> AnySimulator {
    AnySimulator::start(System::JiraDc, "jira_dc.json", data, None, true)
        .await
        .expect("the data starts a simulator")
}

fn generated_key(n: usize) -> LookupKey {
    by_key(&format!("JIRAUSER{}", 20_000 + n))
}

#[tokio::test]
async fn simulator_finds_users_by_key_and_email_inactive_ones_included() {
    let sim = simulator(&data(small_directory(), json!({}))).await;
    let jira = client(&sim.server, bot_credentials());

    let lookups = jira
        .lookup(&[
            by_key(PAT_KEY),
            by_key(KIM_KEY),
            by_key("dana.ross"),
            by_key("JIRAUSER99999"),
            by_external("Pat@Acme.com"),
            by_external("kim.lee@acme.com"),
            by_external("pat@acme.co"),
            by_external("nobody@acme.com"),
        ])
        .await
        .expect("lookup succeeds");

    let pat = found(&lookups, &by_key(PAT_KEY));
    assert_eq!(pat.external_id, Some(ExternalId::new("pat@acme.com")));
    assert_eq!(pat.full_name.as_deref(), Some("Pat Lee"));
    assert_eq!(pat.time_zone.as_deref(), Some("Europe/Berlin"));
    assert!(!found(&lookups, &by_key(KIM_KEY)).active);
    found(&lookups, &by_key("dana.ross"));
    assert_eq!(not_found_note(&lookups, &by_key("JIRAUSER99999")), None);
    assert_eq!(
        found(&lookups, &by_external("Pat@Acme.com")).itsm_user_id,
        ItsmUserId::new(PAT_KEY),
        "pat@acme.com.au matched the search too and is not counted"
    );
    let kim = found(&lookups, &by_external("kim.lee@acme.com"));
    assert_eq!(kim.itsm_user_id, ItsmUserId::new(KIM_KEY));
    assert!(!kim.active, "the search was asked for inactive users too");
    assert_eq!(not_found_note(&lookups, &by_external("pat@acme.co")), None);
    assert_eq!(
        not_found_note(&lookups, &by_external("nobody@acme.com")),
        None
    );
    assert_eq!(jira.http().requests_sent(), 8, "one request per key");
}

#[tokio::test]
async fn simulator_finds_users_by_user_name() {
    let sim = simulator(&data(small_directory(), json!({}))).await;
    let jira = name_client(&sim.server);

    let lookups = jira
        .lookup(&[
            by_external("PAT.LEE"),
            by_external("kim.lee"),
            by_external("pat"),
        ])
        .await
        .expect("lookup succeeds");

    let pat = found(&lookups, &by_external("PAT.LEE"));
    assert_eq!(pat.itsm_user_id, ItsmUserId::new(PAT_KEY));
    assert_eq!(pat.external_id, Some(ExternalId::new("pat.lee")));
    assert!(!found(&lookups, &by_external("kim.lee")).active);
    assert_eq!(not_found_note(&lookups, &by_external("pat")), None);
    assert_eq!(queries_at(&sim.server, SEARCH_PATH).await.len(), 0);
    assert_eq!(queries_at(&sim.server, USER_PATH).await.len(), 3);
}

#[tokio::test]
async fn simulator_lists_a_jira_9_directory_in_pages_of_a_thousand() {
    let sim = simulator(&data(generated(2_345), json!({}))).await;
    let jira = client(&sim.server, bot_credentials());
    let mut keys: Vec<LookupKey> = (0..140).map(|n| generated_key(n * 16)).collect();
    keys.extend([
        by_key("JIRAUSER99999"),
        by_external("user2344@acme.com"),
        by_external("user1@acme.co"),
    ]);

    let lookups = jira.lookup(&keys).await.expect("lookup succeeds");

    assert_eq!(jira.http().requests_sent(), 4, "serverInfo and 3 pages");
    let starts: Vec<String> = queries_at(&sim.server, SEARCH_PATH)
        .await
        .iter()
        .map(|q| {
            q.rsplit_once("startAt=")
                .map(|(_, s)| s.to_owned())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(starts, ["0", "1000", "2000"]);
    assert!(!found(&lookups, &generated_key(0)).active);
    found(&lookups, &generated_key(139 * 16));
    assert_eq!(not_found_note(&lookups, &by_key("JIRAUSER99999")), None);
    assert_eq!(
        found(&lookups, &by_external("user2344@acme.com"))
            .itsm_user_id
            .as_str(),
        "JIRAUSER22344"
    );
    assert_eq!(
        not_found_note(&lookups, &by_external("user1@acme.co")),
        None
    );
}

#[tokio::test]
async fn simulator_as_jira_10_is_asked_key_by_key() {
    let sim = simulator(&data(generated(300), json!({"version": "10.3"}))).await;
    let jira = client(&sim.server, bot_credentials());
    let mut keys: Vec<LookupKey> = (0..120).map(generated_key).collect();
    keys.push(by_key("JIRAUSER99999"));

    let lookups = jira.lookup(&keys).await.expect("lookup succeeds");

    assert_eq!(queries_at(&sim.server, SERVER_INFO_PATH).await.len(), 1);
    assert_eq!(queries_at(&sim.server, USER_PATH).await.len(), 121);
    assert!(queries_at(&sim.server, SEARCH_PATH).await.is_empty());
    assert_eq!(jira.http().requests_sent(), 122);
    assert!(!found(&lookups, &generated_key(7)).active);
    found(&lookups, &generated_key(119));
    assert_eq!(not_found_note(&lookups, &by_key("JIRAUSER99999")), None);
}

#[tokio::test]
async fn simulator_with_basic_auth_switched_off_wants_the_personal_access_token() {
    let sim = simulator(&data(
        small_directory(),
        json!({"basic_auth_disabled": true}),
    ))
    .await;

    let refused = client(&sim.server, bot_credentials());
    let err = refused.whoami().await.expect_err("basic is switched off");
    assert_eq!(err.reason(), Reason::AuthFailed);
    let text = err.to_string();
    assert!(
        text.contains("personal access token") && text.contains("bearer"),
        "{text}"
    );
    let err = refused
        .lookup(&[by_key(PAT_KEY)])
        .await
        .expect_err("blocked after the refusal");
    assert_eq!(err.reason(), Reason::AuthFailed);
    assert_eq!(refused.http().requests_sent(), 1);

    let token = client(&sim.server, bearer(BOT_TOKEN));
    let owner = token.whoami().await.expect("the token is accepted");
    let CredentialOwner::Known(bot) = owner else {
        panic!("expected the bot, got {owner:?}");
    };
    assert_eq!(bot.itsm_user_id.as_str(), BOT_KEY);
    assert!(token.bot_setting_problems(&bot).is_empty());
    let lookups = token
        .lookup(&[by_key(PAT_KEY), by_external("dana@acme.com")])
        .await
        .expect("lookup succeeds");
    found(&lookups, &by_key(PAT_KEY));
    found(&lookups, &by_external("dana@acme.com"));
}

#[tokio::test]
async fn simulator_faults_map_to_their_reasons() {
    let sim = simulator(&data(small_directory(), json!({}))).await;
    let cases = [
        (Fault::Down, Reason::Unreachable),
        (Fault::Hibernating, Reason::BadResponse),
        (Fault::AuthRejected, Reason::AuthFailed),
        (
            Fault::RateLimited {
                retry_after_seconds: 0,
                times: None,
            },
            Reason::RateLimited,
        ),
    ];
    for (fault, reason) in cases {
        sim.faults.set(fault.clone());
        let jira = client(&sim.server, bot_credentials());
        let err = jira
            .lookup(&[by_key(PAT_KEY)])
            .await
            .expect_err("the fault fails the lookup");
        assert_eq!(err.reason(), reason, "{fault:?}");
        assert!(!err.to_string().contains("personal access token"), "{err}");
    }
    sim.faults.set(Fault::None);
    let wrong = client(&sim.server, basic("moveworks-bot", "wrong"));
    let err = wrong.whoami().await.expect_err("a wrong password");
    assert_eq!(err.reason(), Reason::AuthFailed);
    assert!(!err.to_string().contains("personal access token"), "{err}");
}

// --- the repository's fixture ---------------------------------------------

async fn fixture_simulator() -> AnySimulator {
    AnySimulator::start(
        System::JiraDc,
        "fixtures/jira_dc.json",
        &fixture("jira_dc.json"),
        None,
        true,
    )
    .await
    .expect("the demo data starts a simulator")
}

fn account(key: &str, email: &str, name: &str) -> ItsmUser {
    ItsmUser {
        itsm_user_id: ItsmUserId::new(key),
        external_id: Some(ExternalId::new(email)),
        active: true,
        first_name: None,
        last_name: None,
        full_name: Some(name.to_owned()),
        account_type: None,
        time_zone: None,
        inactive_reason: None,
        record_kind: None,
    }
}

fn readiness_client(
    sim: &AnySimulator,
    project: Option<&str>,
) -> itsmid_connectors::jira_dc::Client {
    let mut settings = settings(System::JiraDc, &sim.server, bot_credentials());
    settings.readiness.project = project.map(str::to_owned);
    itsmid_connectors::jira_dc::Client::new(settings).expect("valid settings")
}

fn manual_users() -> Vec<ItsmUser> {
    vec![
        account(PAT_KEY, "pat@acme.com", "Pat Lee"),
        account("dana.ross", "dana@acme.com", "Dana Ross"),
        account(KIM_KEY, "kim.lee@acme.com", "Kim Lee"),
    ]
}

#[tokio::test]
async fn the_fixtures_bot_is_found_and_its_time_zone_is_off() {
    let sim = fixture_simulator().await;
    for credentials in [bot_credentials(), bearer(BOT_TOKEN)] {
        let jira = client(&sim.server, credentials);
        let owner = jira.whoami().await.expect("myself answers");
        let CredentialOwner::Known(bot) = owner else {
            panic!("expected the bot, got {owner:?}");
        };
        assert_eq!(bot.itsm_user_id.as_str(), BOT_KEY);
        assert_eq!(
            bot.external_id,
            Some(ExternalId::new("moveworks-bot@acme.com"))
        );
        let problems = jira.bot_setting_problems(&bot);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].setting, "timeZone");
        assert_eq!(problems[0].actual.as_deref(), Some("Europe/Berlin"));
    }
}

#[tokio::test]
async fn the_fixture_finds_the_bot_ready_in_itsd_but_kim_no_customer() {
    let sim = fixture_simulator().await;
    let jira = readiness_client(&sim, Some("ITSD"));
    let input = ReadinessInput {
        bot: account(BOT_KEY, "moveworks-bot@acme.com", "Moveworks Bot"),
        users: manual_users(),
    };

    let found = jira.readiness(&input).await;

    assert!(found.cannot_tell.is_empty(), "{:?}", found.cannot_tell);
    let kinds: Vec<ReadinessKind> = found.problems.iter().map(|p| p.kind).collect();
    assert_eq!(
        kinds,
        [ReadinessKind::NotCustomer { user: 2 }],
        "{found:#?}"
    );
    assert!(
        found.problems[0]
            .message
            .starts_with("kim.lee@acme.com (Jira account JIRAUSER10250) is not a customer"),
        "{}",
        found.problems[0].message
    );
    assert_eq!(
        jira.http().requests_sent(),
        4 + 3,
        "4 + one per manual user"
    );

    // Pat and Dana are the desk's customers: nothing else is found.
    let jira = readiness_client(&sim, Some("ITSD"));
    let ready = ReadinessInput {
        bot: input.bot.clone(),
        users: manual_users().into_iter().take(2).collect(),
    };
    assert_eq!(jira.readiness(&ready).await, Readiness::default());
    assert_eq!(jira.http().requests_sent(), 4 + 2);
}

#[tokio::test]
async fn the_fixture_without_a_project_is_ready_and_an_unknown_project_is_hidden() {
    let sim = fixture_simulator().await;
    let input = ReadinessInput {
        bot: account(BOT_KEY, "moveworks-bot@acme.com", "Moveworks Bot"),
        users: manual_users(),
    };

    let jira = readiness_client(&sim, None);
    assert_eq!(jira.readiness(&input).await, Readiness::default());
    assert_eq!(jira.http().requests_sent(), 1);

    let found = readiness_client(&sim, Some("HELP")).readiness(&input).await;
    let kinds: Vec<ReadinessKind> = found.problems.iter().map(|p| p.kind).collect();
    assert_eq!(kinds, [ReadinessKind::PermissionMissing]);
    assert_eq!(found.problems[0].actual.as_deref(), Some("BROWSE_PROJECTS"));
}

#[tokio::test]
async fn the_fixtures_users_are_found_by_key_and_email() {
    let sim = fixture_simulator().await;
    let jira = client(&sim.server, bot_credentials());

    let lookups = jira
        .lookup(&[
            by_key(PAT_KEY),
            by_key("dana.ross"),
            by_external("kim.lee@acme.com"),
            by_external("jira-admin@acme.com"),
        ])
        .await
        .expect("lookup succeeds");

    assert_eq!(
        found(&lookups, &by_key(PAT_KEY)).external_id,
        Some(ExternalId::new("pat@acme.com"))
    );
    assert_eq!(
        found(&lookups, &by_key("dana.ross")).time_zone.as_deref(),
        Some("America/New_York")
    );
    assert!(!found(&lookups, &by_external("kim.lee@acme.com")).active);
    assert_eq!(
        found(&lookups, &by_external("jira-admin@acme.com"))
            .itsm_user_id
            .as_str(),
        "JIRAUSER10300"
    );
}
