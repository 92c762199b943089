//! The Jira simulator over `fixtures/jira.json`, through the connector and
//! through a plain HTTP client: the same semantics the demo shows.
//!
//! Never stages answers per test: only the fixture data and fault switches.

use std::time::Duration;

use itsmid_connectors::jira::Client;
use itsmid_connectors::sim::{AnySimulator, Fault};
use itsmid_connectors::{Connector, CredentialOwner, ExternalId, ItsmUserId, Reason, System};
use serde_json::json;

use super::{
    BOT_ID, FRED_ID, KIM_ID, PAT_ID, bot_credentials, by_email, by_id, client, found,
    not_found_note,
};
use crate::support::{basic, bearer, fixture, settings};

async fn simulator() -> AnySimulator {
    AnySimulator::start(
        System::Jira,
        "fixtures/jira.json",
        &fixture("jira.json"),
        None,
        true,
    )
    .await
    .expect("the demo data starts a simulator")
}

#[tokio::test]
async fn simulator_finds_an_inactive_user_by_account_id_but_not_by_email() {
    let sim = simulator().await;
    let jira = client(&sim.server, bot_credentials());

    let lookups = jira
        .lookup(&[by_id(FRED_ID), by_email("former@acme.com")])
        .await
        .expect("lookup succeeds");

    let fred = found(&lookups, &by_id(FRED_ID));
    assert!(!fred.active);
    assert_eq!(fred.external_id, Some(ExternalId::new("former@acme.com")));
    let note = not_found_note(&lookups, &by_email("former@acme.com")).expect("a note");
    assert!(note.contains("only active users"), "{note}");
    assert_eq!(jira.http().requests_sent(), 2);
}

#[tokio::test]
async fn simulator_returns_app_and_customer_accounts_with_their_types() {
    let sim = simulator().await;
    let jira = client(&sim.server, bot_credentials());
    let app = "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077";
    let customer = "qm:a6e2b3c4-1d2e-4f5a-8b9c-0d1e2f3a4b5c:5e5f5a5b5c5d5e5f";

    let lookups = jira
        .lookup(&[
            by_id(app),
            by_id(customer),
            by_email("customer@partner.example"),
            by_email("Pat@Acme.com"),
        ])
        .await
        .expect("lookup succeeds");

    let automation = found(&lookups, &by_id(app));
    assert_eq!(automation.account_type.as_deref(), Some("app"));
    assert_eq!(automation.external_id, None);
    assert_eq!(automation.full_name.as_deref(), Some("Automation for Jira"));
    assert_eq!(
        found(&lookups, &by_id(customer)).account_type.as_deref(),
        Some("customer")
    );
    assert_eq!(
        found(&lookups, &by_email("customer@partner.example")).itsm_user_id,
        ItsmUserId::new(customer)
    );
    let pat = found(&lookups, &by_email("Pat@Acme.com"));
    assert_eq!(pat.itsm_user_id, ItsmUserId::new(PAT_ID));
    assert_eq!(pat.external_id, Some(ExternalId::new("pat@acme.com")));
    assert_eq!(pat.time_zone.as_deref(), Some("Europe/Berlin"));
}

#[tokio::test]
async fn simulator_matches_a_hidden_email_in_search_but_never_returns_it() {
    let sim = simulator().await;
    let jira = client(&sim.server, bot_credentials());
    let hana = "5d53f3cbc6b9320d9ea5bdc2";

    let lookups = jira
        .lookup(&[by_email("hana@acme.com"), by_id(hana)])
        .await
        .expect("lookup succeeds");

    let note = not_found_note(&lookups, &by_email("hana@acme.com")).expect("a note");
    assert!(note.contains("hidden"), "{note}");
    let user = found(&lookups, &by_id(hana));
    assert_eq!(user.external_id, None);
    assert!(user.active);
}

#[tokio::test]
async fn simulator_myself_answers_for_each_credential() {
    let sim = simulator().await;
    let cases = [
        (bot_credentials(), BOT_ID),
        (bearer("demo-jira-bearer"), BOT_ID),
        (basic("kim@acme.com", "kim-token"), KIM_ID),
    ];
    for (credentials, expected) in cases {
        let jira = client(&sim.server, credentials);
        let owner = jira.whoami().await.expect("myself answers");
        let CredentialOwner::Known(user) = owner else {
            panic!("expected {expected}, got {owner:?}");
        };
        assert_eq!(user.itsm_user_id.as_str(), expected);
    }
    let bot = match client(&sim.server, bot_credentials()).whoami().await {
        Ok(CredentialOwner::Known(user)) => user,
        other => panic!("expected the bot, got {other:?}"),
    };
    let jira = client(&sim.server, bot_credentials());
    assert!(jira.bot_setting_problems(&bot).is_empty());

    let wrong = client(&sim.server, basic("moveworks-bot@acme.com", "wrong"));
    let err = wrong.whoami().await.expect_err("a wrong token is refused");
    assert_eq!(err.reason(), Reason::AuthFailed);
}

#[tokio::test]
async fn simulator_faults_map_to_their_reasons() {
    let sim = simulator().await;
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
            .lookup(&[by_id(BOT_ID)])
            .await
            .expect_err("the fault fails the lookup");
        assert_eq!(err.reason(), reason, "{fault:?}");
    }

    sim.faults.set(Fault::RateLimited {
        retry_after_seconds: 0,
        times: Some(2),
    });
    let jira = client(&sim.server, bot_credentials());
    let lookups = jira
        .lookup(&[by_id(BOT_ID)])
        .await
        .expect("two 429s are retried");
    found(&lookups, &by_id(BOT_ID));
    assert_eq!(jira.http().requests_sent(), 3);

    sim.faults.set(Fault::Slow(Duration::from_secs(2)));
    let mut slow = settings(System::Jira, &sim.server, bot_credentials());
    slow.http.timeout = Duration::from_millis(200);
    slow.http.max_attempts = 1;
    let jira = Client::new(slow).expect("test settings are valid");
    let err = jira.whoami().await.expect_err("too slow");
    assert_eq!(err.reason(), Reason::Timeout);
}

#[tokio::test]
async fn simulator_speaks_jira_to_a_plain_http_client() {
    let sim = simulator().await;
    let http = reqwest::Client::new();
    let get = |path: &str| {
        http.get(format!("{}{path}", sim.uri()))
            .basic_auth("moveworks-bot@acme.com", Some("demo-jira-token"))
    };
    let body = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        let json: serde_json::Value = response.json().await.expect("JSON");
        (status, json)
    };

    // Prefix match over displayName and e-mail, active users only.
    let (status, users) = body(
        get("/rest/api/3/user/search?query=a")
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!(status, 200);
    let names: Vec<&str> = users
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|u| u["displayName"].as_str())
        .collect();
    assert_eq!(names, ["Automation for Jira"]);
    let (_, users) = body(
        get("/rest/api/3/user/search?query=f")
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!(users, json!([]), "Fred Former is inactive");
    let (_, users) = body(
        get("/rest/api/3/user/search?query=HANA@")
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!(users[0]["accountId"], "5d53f3cbc6b9320d9ea5bdc2");
    assert!(users[0].get("emailAddress").is_none());
    assert!(users[0].get("itsmid_sim_hidden_email").is_none());
    assert_eq!(users[0]["key"], "");
    assert!(
        users[0]["self"]
            .as_str()
            .is_some_and(|s| s.starts_with(&sim.uri()))
    );

    let (status, error) = body(get("/rest/api/3/user/search").send().await.expect("sent")).await;
    assert_eq!(status, 400);
    assert!(error["errorMessages"].is_array());

    // Bulk: in the order asked, inactive included, paged.
    let (status, page) = body(
        get(&format!(
            "/rest/api/3/user/bulk?accountId={FRED_ID}&accountId=nobody&accountId={BOT_ID}&accountId={KIM_ID}&maxResults=2"
        ))
        .send()
        .await
        .expect("sent"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(page["total"], 3);
    assert_eq!(page["isLast"], false);
    assert_eq!(page["values"][0]["accountId"], FRED_ID);
    assert_eq!(page["values"][0]["active"], false);
    assert_eq!(page["values"][1]["accountId"], BOT_ID);
    let next = page["nextPage"].as_str().expect("a next page").to_owned();
    let (_, last) = body(
        http.get(next)
            .basic_auth("moveworks-bot@acme.com", Some("demo-jira-token"))
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!(last["isLast"], true);
    assert_eq!(last["values"][0]["accountId"], KIM_ID);
    let (status, _) = body(get("/rest/api/3/user/bulk").send().await.expect("sent")).await;
    assert_eq!(status, 400);

    // One user by id, 404 when absent.
    let (status, user) = body(
        get(&format!("/rest/api/3/user?accountId={FRED_ID}"))
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!(
        (status, user["displayName"].as_str()),
        (200, Some("Fred Former"))
    );
    let (status, error) = body(
        get("/rest/api/3/user?accountId=5b10ac8d82e05b22cc7d0000")
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(
        error["errorMessages"][0],
        "Specified user does not exist or you do not have required permissions"
    );

    // No credential, no answer.
    let (status, error) = body(
        http.get(format!("{}/rest/api/3/myself", sim.uri()))
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(
        error["message"],
        "Client must be authenticated to access this resource."
    );
}
