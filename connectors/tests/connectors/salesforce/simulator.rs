//! The Salesforce simulator over `fixtures/salesforce.json`, through the
//! connector: the same semantics the demo shows.
//!
//! Never stages answers per test: only the fixture data (sometimes with a
//! smaller page or quota) and fault switches.

use itsmid_connectors::sim::{AnySimulator, Fault};
use itsmid_connectors::{Connector, CredentialOwner, ExternalId, ItsmUserId, Reason, System};

use super::{
    BETH_ID, BOT_ID, DANA_ID, KIM_ID, PAT_ID, TOKEN, by_id, by_username, client, found,
    is_not_found, many_ids, oauth,
};
use crate::support::{bearer, fixture};

async fn simulator_with(data: &str) -> AnySimulator {
    AnySimulator::start(
        System::Salesforce,
        "fixtures/salesforce.json",
        data,
        None,
        true,
    )
    .await
    .expect("the data starts a simulator")
}

async fn simulator() -> AnySimulator {
    simulator_with(&fixture("salesforce.json")).await
}

/// The demo data with extra top-level keys (`batch_size`, `daily_api_limit`).
fn demo_data_with(key: &str, value: serde_json::Value) -> String {
    let mut data: serde_json::Value =
        serde_json::from_str(&fixture("salesforce.json")).expect("the demo data is JSON");
    if let Some(object) = data.as_object_mut() {
        object.insert(key.to_owned(), value);
    }
    data.to_string()
}

#[tokio::test]
async fn simulator_finds_users_by_eighteen_and_fifteen_character_ids() {
    let sim = simulator().await;
    let salesforce = client(&sim.server, bearer(TOKEN));
    let short = by_id("0055e000003PatL");

    let lookups = salesforce
        .lookup(&[by_id(BOT_ID), short.clone(), by_id("0055e000003ZzzZAAS")])
        .await
        .expect("lookup succeeds");

    let bot = found(&lookups, &by_id(BOT_ID));
    assert_eq!(
        bot.external_id,
        Some(ExternalId::new("moveworks.bot@acme.com.prod"))
    );
    assert_eq!(bot.full_name.as_deref(), Some("Moveworks Bot"));
    assert_eq!(
        found(&lookups, &short).itsm_user_id,
        ItsmUserId::new(PAT_ID)
    );
    assert!(is_not_found(&lookups, &by_id("0055e000003ZzzZAAS")));
    assert_eq!(salesforce.http().requests_sent(), 1);
    let notes = salesforce.http().notes();
    assert_eq!(notes.get("api_usage").map(String::as_str), Some("1/15000"));
}

#[tokio::test]
async fn simulator_matches_a_username_in_other_case_and_returns_its_spelling() {
    let sim = simulator().await;
    let salesforce = client(&sim.server, bearer(TOKEN));

    let lookups = salesforce
        .lookup(&[
            by_username("dana.ross@ACME.com.prod"),
            by_username("nobody@acme.com.prod"),
        ])
        .await
        .expect("lookup succeeds");

    let dana = found(&lookups, &by_username("dana.ross@ACME.com.prod"));
    assert_eq!(dana.itsm_user_id, ItsmUserId::new(DANA_ID));
    assert_eq!(
        dana.external_id,
        Some(ExternalId::new("Dana.Ross@acme.com.prod"))
    );
    assert!(is_not_found(&lookups, &by_username("nobody@acme.com.prod")));
}

#[tokio::test]
async fn simulator_reports_an_inactive_user() {
    let sim = simulator().await;
    let salesforce = client(&sim.server, bearer(TOKEN));

    let lookups = salesforce
        .lookup(&[by_username("beth.anglin@acme.com.prod"), by_id(BETH_ID)])
        .await
        .expect("lookup succeeds");

    assert!(!found(&lookups, &by_username("beth.anglin@acme.com.prod")).active);
    assert!(!found(&lookups, &by_id(BETH_ID)).active);
    assert_eq!(salesforce.http().requests_sent(), 2);
}

#[tokio::test]
async fn simulator_escapes_keep_an_injection_attempt_a_plain_value() {
    let sim = simulator().await;
    let salesforce = client(&sim.server, bearer(TOKEN));
    let injection = "x' OR Username != '";
    let backslash = r"kim@acme.com.prod\' OR IsActive = true OR Username = \'";

    let lookups = salesforce
        .lookup(&[by_username(injection), by_username(backslash)])
        .await
        .expect("the escaped query is valid SOQL");

    assert!(is_not_found(&lookups, &by_username(injection)));
    assert!(is_not_found(&lookups, &by_username(backslash)));
    assert_eq!(salesforce.http().requests_sent(), 1);
}

#[tokio::test]
async fn simulator_pages_with_next_records_url() {
    let sim = simulator_with(&demo_data_with("batch_size", serde_json::json!(2))).await;
    let salesforce = client(&sim.server, bearer(TOKEN));
    let keys = [
        by_id(BOT_ID),
        by_id(PAT_ID),
        by_id(BETH_ID),
        by_id(DANA_ID),
        by_id(KIM_ID),
    ];

    let lookups = salesforce.lookup(&keys).await.expect("lookup succeeds");

    for key in &keys {
        found(&lookups, key);
    }
    assert_eq!(
        salesforce.http().requests_sent(),
        3,
        "pages of 2, 2 and 1 records"
    );
}

#[tokio::test]
async fn simulator_answers_ten_thousand_ids_within_its_uri_limit() {
    let sim = simulator().await;
    let salesforce = client(&sim.server, bearer(TOKEN));
    let mut keys = many_ids(9_999);
    keys.push(by_id(KIM_ID));

    let lookups = salesforce
        .lookup(&keys)
        .await
        .expect("no request is too long");

    found(&lookups, &by_id(KIM_ID));
    let sent = salesforce.http().requests_sent();
    assert!(sent <= 300, "{sent} requests");
    assert_eq!(sent, 20);
}

#[tokio::test]
async fn simulator_accepts_both_auth_types_and_userinfo_names_each_client() {
    let sim = simulator().await;
    let cases = [
        (bearer(TOKEN), BOT_ID),
        (
            oauth(&sim.server, "demo-client", "demo-client-secret"),
            BOT_ID,
        ),
        (oauth(&sim.server, "other-client", "other-secret"), KIM_ID),
    ];
    for (credentials, expected) in cases {
        let salesforce = client(&sim.server, credentials);
        let owner = salesforce.whoami().await.expect("userinfo answers");
        let CredentialOwner::Known(user) = owner else {
            panic!("expected {expected}, got {owner:?}");
        };
        assert_eq!(user.itsm_user_id.as_str(), expected);
        let lookups = salesforce
            .lookup(&[by_username("pat@acme.com.prod")])
            .await
            .expect("lookup succeeds");
        found(&lookups, &by_username("pat@acme.com.prod"));
    }
}

#[tokio::test]
async fn simulator_refuses_a_wrong_secret_and_an_unknown_token() {
    let sim = simulator().await;
    let wrong = client(&sim.server, oauth(&sim.server, "demo-client", "wrong"));
    let err = wrong.lookup(&[by_id(BOT_ID)]).await.expect_err("refused");
    assert_eq!(err.reason(), Reason::AuthFailed, "{err}");
    assert_eq!(wrong.http().requests_sent(), 1, "the token request only");

    let unknown = client(&sim.server, bearer("not-a-token"));
    let err = unknown.lookup(&[by_id(BOT_ID)]).await.expect_err("refused");
    assert_eq!(err.reason(), Reason::AuthFailed, "{err}");
}

#[tokio::test]
async fn simulator_daily_quota_is_rate_limited_without_retry() {
    let sim = simulator_with(&demo_data_with("daily_api_limit", serde_json::json!(1))).await;
    let salesforce = client(&sim.server, bearer(TOKEN));

    salesforce
        .lookup(&[by_id(BOT_ID)])
        .await
        .expect("the first request fits the quota");
    let err = salesforce
        .lookup(&[by_id(KIM_ID)])
        .await
        .expect_err("quota used up");

    assert_eq!(err.reason(), Reason::RateLimited, "{err}");
    assert_eq!(salesforce.http().requests_sent(), 2);
}

#[tokio::test]
async fn simulator_faults_reach_the_connector() {
    let sim = simulator().await;
    sim.faults.set(Fault::Hibernating);
    let salesforce = client(&sim.server, bearer(TOKEN));

    let err = salesforce
        .lookup(&[by_id(BOT_ID)])
        .await
        .expect_err("an HTML page");

    assert_eq!(err.reason(), Reason::BadResponse, "{err}");
}

#[tokio::test]
async fn simulator_speaks_salesforce_to_a_plain_http_client() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = simulator_with(&demo_data_with("batch_size", serde_json::json!(2))).await;
    let http = reqwest::Client::new();
    let query = format!("{}/services/data/v60.0/query", sim.uri());
    let read = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        let limit = response
            .headers()
            .get("sforce-limit-info")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let json: serde_json::Value = response.json().await.expect("JSON");
        (status, limit, json)
    };

    // A refused client, then a token whose instance is the simulator.
    let refused = http
        .post(format!("{}/services/oauth2/token", sim.uri()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "demo-client"),
            ("client_secret", "nope"),
        ])
        .send()
        .await
        .expect("sent");
    let (status, _, body) = read(refused).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_client");
    let granted = http
        .post(format!("{}/services/oauth2/token", sim.uri()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "demo-client"),
            ("client_secret", "demo-client-secret"),
        ])
        .send()
        .await
        .expect("sent");
    let (status, _, token) = read(granted).await;
    assert_eq!(status, 200);
    assert_eq!(token["instance_url"], sim.uri());
    assert_eq!(token["token_type"], "Bearer");
    let access = token["access_token"].as_str().expect("a token").to_owned();

    // No session, then a malformed query, then a page of the real shape.
    let (status, limit, body) = read(
        http.get(&query)
            .query(&[("q", "SELECT Id FROM User WHERE Username = 'x'")])
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!(
        (status, body[0]["errorCode"].as_str()),
        (401, Some("INVALID_SESSION_ID"))
    );
    assert_eq!(limit.as_deref(), Some("api-usage=0/15000"));
    let (status, _, body) = read(
        http.get(&query)
            .bearer_auth(&access)
            .query(&[("q", "SELECT Id FROM User WHERE Username LIKE 'x%'")])
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!(
        (status, body[0]["errorCode"].as_str()),
        (400, Some("MALFORMED_QUERY"))
    );
    let (status, limit, page) = read(
        http.get(&query)
            .bearer_auth(&access)
            .query(&[(
                "q",
                "SELECT Id, Username, IsActive FROM User WHERE IsActive = 'true'",
            )])
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(limit.as_deref(), Some("api-usage=2/15000"));
    assert_eq!(page["totalSize"], 4);
    assert_eq!(page["done"], false);
    assert_eq!(page["records"][0]["attributes"]["type"], "User");
    assert!(
        page["records"][0].get("Email").is_none(),
        "only selected fields"
    );
    let next = page["nextRecordsUrl"]
        .as_str()
        .expect("a next page")
        .to_owned();
    assert!(next.starts_with("/services/data/v60.0/query/01g"), "{next}");
    let (status, _, last) = read(
        http.get(format!("{}{next}", sim.uri()))
            .bearer_auth(&access)
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!((status, last["done"].as_bool()), (200, Some(true)));
    assert_eq!(last["records"].as_array().map(Vec::len), Some(2));

    // A URI past 16,384 bytes never reaches the API.
    let long = format!(
        "SELECT Id FROM User WHERE Username = '{}'",
        "a".repeat(17_000)
    );
    let too_long = http
        .get(&query)
        .bearer_auth(&access)
        .query(&[("q", long)])
        .send()
        .await
        .expect("sent");
    assert_eq!(too_long.status().as_u16(), 414);
    assert!(
        too_long
            .text()
            .await
            .expect("a body")
            .contains("URI Too Long")
    );
}
