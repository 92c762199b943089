//! Jira Cloud connector tests: the exact requests sent (repeated
//! `accountId`s, encoded e-mails, auth headers), Atlassian's sample
//! answers, every failure mapped to its reason, and the simulator's Jira
//! semantics seen through the connector.
//!
//! No test sleeps: retries use the millisecond backoff of
//! `support::settings` and `Retry-After: 0`.

use std::time::Duration;

use itsmid_connectors::jira::Client;
use itsmid_connectors::sim::{AnySimulator, Fault};
use itsmid_connectors::{
    Connector, ConnectorError, CredentialOwner, Credentials, ExternalId, ItsmUser, ItsmUserId,
    Lookup, LookupKey, Lookups, Reason, System,
};
use serde_json::json;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::support::{basic, bearer, fixture, mount_catch_all, settings};

const BOT_BASIC: &str = "Basic bW92ZXdvcmtzLWJvdEBhY21lLmNvbTpkZW1vLWppcmEtdG9rZW4=";
const BOT_ID: &str = "5b10ac8d82e05b22cc7d4ef5";
const PAT_ID: &str = "712020:6b1f7b04-6e9e-4276-b4d8-4d7b1678e327";
const FRED_ID: &str = "606b8fb83a516300764cb19d";
const KIM_ID: &str = "5c9a7e2f1b3d4a0012345678";

fn bot_credentials() -> Credentials {
    basic("moveworks-bot@acme.com", "demo-jira-token")
}

fn client(server: &MockServer, credentials: Credentials) -> Client {
    Client::new(settings(System::Jira, server, credentials)).expect("test settings are valid")
}

fn by_id(id: &str) -> LookupKey {
    LookupKey::ItsmUserId(ItsmUserId::new(id))
}

fn by_email(email: &str) -> LookupKey {
    LookupKey::ExternalId(ExternalId::new(email))
}

/// Matches the raw query string, so repeated parameters, their order and
/// their encoding are checked exactly as sent.
fn raw_query(expected: impl Into<String>) -> impl Fn(&Request) -> bool + Send + Sync + 'static {
    let expected = expected.into();
    move |request: &Request| request.url.query() == Some(expected.as_str())
}

fn json_answer(body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.to_string(), "application/json;charset=UTF-8")
}

fn user_json(id: &str, email: Option<&str>, name: &str, active: bool) -> serde_json::Value {
    let mut user = json!({
        "self": format!("https://acme.atlassian.net/rest/api/3/user?accountId={id}"),
        "accountId": id,
        "accountType": "atlassian",
        "active": active,
        "displayName": name,
        "timeZone": "Europe/Berlin",
    });
    if let (Some(email), Some(object)) = (email, user.as_object_mut()) {
        object.insert("emailAddress".into(), json!(email));
    }
    user
}

fn found<'a>(lookups: &'a Lookups, key: &LookupKey) -> &'a ItsmUser {
    match lookups.get(key) {
        Some(Lookup::Found(user)) => user,
        other => panic!("{key:?}: expected Found, got {other:?}"),
    }
}

fn not_found_note(lookups: &Lookups, key: &LookupKey) -> Option<String> {
    match lookups.get(key) {
        Some(Lookup::NotFound { note }) => note.clone(),
        other => panic!("{key:?}: expected NotFound, got {other:?}"),
    }
}

async fn requests(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .expect("request recording is on")
        .len()
}

// --- accountIds through /user/bulk -------------------------------------

#[tokio::test]
async fn account_ids_are_verified_in_one_bulk_request_with_each_id_repeated() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/user/bulk"))
        .and(raw_query(format!(
            "accountId={BOT_ID}&accountId={FRED_ID}&accountId=712020%3A6b1f7b04-6e9e-4276-b4d8-4d7b1678e327&startAt=0&maxResults=3"
        )))
        .and(header("authorization", BOT_BASIC))
        .respond_with(json_answer(json!({
            "isLast": true, "maxResults": 3, "startAt": 0, "total": 2,
            "values": [
                user_json(BOT_ID, Some("moveworks-bot@acme.com"), "Moveworks Bot", true),
                user_json(FRED_ID, Some("former@acme.com"), "Fred Former", false),
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    let keys = [by_id(PAT_ID), by_id(BOT_ID), by_id(FRED_ID), by_id(BOT_ID)];
    let lookups = jira.lookup(&keys).await.expect("lookup succeeds");

    assert_eq!(lookups.outcomes.len(), 3, "one outcome per distinct key");
    let bot = found(&lookups, &by_id(BOT_ID));
    assert!(bot.active);
    assert_eq!(bot.full_name.as_deref(), Some("Moveworks Bot"));
    let fred = found(&lookups, &by_id(FRED_ID));
    assert!(!fred.active, "bulk returns inactive users");
    assert_eq!(not_found_note(&lookups, &by_id(PAT_ID)), None);
    assert_eq!(jira.http().requests_sent(), 1);
}

#[tokio::test]
async fn bulk_pages_are_followed_until_is_last() {
    let server = MockServer::start().await;
    let ids = format!("accountId={BOT_ID}&accountId={KIM_ID}&accountId={FRED_ID}");
    Mock::given(method("GET"))
        .and(path("/rest/api/3/user/bulk"))
        .and(raw_query(format!("{ids}&startAt=0&maxResults=3")))
        .respond_with(json_answer(json!({
            "isLast": false, "maxResults": 2, "startAt": 0, "total": 3,
            "nextPage": "https://acme.atlassian.net/rest/api/3/user/bulk?startAt=2",
            "values": [
                user_json(BOT_ID, Some("moveworks-bot@acme.com"), "Moveworks Bot", true),
                user_json(FRED_ID, Some("former@acme.com"), "Fred Former", false),
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/user/bulk"))
        .and(raw_query(format!("{ids}&startAt=2&maxResults=3")))
        .respond_with(json_answer(json!({
            "isLast": true, "maxResults": 2, "startAt": 2, "total": 3,
            "values": [user_json(KIM_ID, Some("kim@acme.com"), "Kim Lee", true)]
        })))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    let lookups = jira
        .lookup(&[by_id(BOT_ID), by_id(FRED_ID), by_id(KIM_ID)])
        .await
        .expect("lookup succeeds");

    assert_eq!(
        found(&lookups, &by_id(KIM_ID)).external_id,
        Some(ExternalId::new("kim@acme.com"))
    );
    found(&lookups, &by_id(BOT_ID));
    found(&lookups, &by_id(FRED_ID));
}

#[tokio::test]
async fn one_hundred_fifty_account_ids_take_two_bulk_requests() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/user/bulk"))
        .and(query_param("startAt", "0"))
        .respond_with(|request: &Request| {
            let asked = request
                .url
                .query_pairs()
                .filter(|(key, _)| key == "accountId")
                .count();
            json_answer(json!({
                "isLast": true, "maxResults": asked, "startAt": 0, "total": 0, "values": []
            }))
        })
        .expect(2)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());
    let keys: Vec<LookupKey> = (0..150).map(|n| by_id(&format!("{n:024x}"))).collect();

    let lookups = jira.lookup(&keys).await.expect("lookup succeeds");

    assert_eq!(lookups.outcomes.len(), 150);
    assert_eq!(jira.http().requests_sent(), 2);
    let sizes: Vec<String> = server
        .received_requests()
        .await
        .expect("request recording is on")
        .iter()
        .map(|r| {
            r.url
                .query_pairs()
                .find(|(key, _)| key == "maxResults")
                .map(|(_, value)| value.into_owned())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(sizes, ["100", "50"]);
}

#[tokio::test]
async fn ten_thousand_account_ids_take_one_hundred_requests_against_the_simulator() {
    let values: Vec<serde_json::Value> = (0..10_000)
        .map(|n| {
            json!({"accountId": format!("557058:{n:08x}-b67d-43c7-b30d-6b58d40bd077"),
                   "accountType": "atlassian", "active": n % 7 != 0,
                   "displayName": format!("User {n}"), "emailAddress": format!("user{n}@acme.com")})
        })
        .collect();
    let data = json!({
        "values": values,
        "simulator": {"bearer": [{"token": "load-test"}]}
    });
    let sim = AnySimulator::start(System::Jira, "generated", &data.to_string(), None, false)
        .await
        .expect("the simulator starts");
    let jira = client(&sim.server, bearer("load-test"));
    let keys: Vec<LookupKey> = (0..10_000)
        .map(|n| by_id(&format!("557058:{n:08x}-b67d-43c7-b30d-6b58d40bd077")))
        .collect();

    let lookups = jira.lookup(&keys).await.expect("lookup succeeds");

    assert_eq!(jira.http().requests_sent(), 100);
    assert!(
        lookups
            .outcomes
            .values()
            .all(|lookup| matches!(lookup, Lookup::Found(_)))
    );
    assert!(!found(&lookups, &keys[0]).active);
}

// --- e-mails through /user/search --------------------------------------

#[tokio::test]
async fn each_email_is_searched_once_with_plus_and_at_encoded() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/user/search"))
        .and(raw_query("query=pat%2Bjira%40acme.com"))
        .and(header("authorization", BOT_BASIC))
        .respond_with(json_answer(json!([user_json(
            PAT_ID,
            Some("Pat+Jira@acme.com"),
            "Pat Contractor",
            true
        )])))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    let keys = [
        by_email("pat+jira@acme.com"),
        by_email("PAT+JIRA@acme.com"),
        by_email("pat+jira@acme.com"),
    ];
    let lookups = jira.lookup(&keys).await.expect("lookup succeeds");

    assert_eq!(lookups.outcomes.len(), 2);
    for key in &keys {
        let pat = found(&lookups, key);
        assert_eq!(pat.itsm_user_id, ItsmUserId::new(PAT_ID));
        assert_eq!(pat.external_id, Some(ExternalId::new("Pat+Jira@acme.com")));
    }
}

#[tokio::test]
async fn prefix_matches_are_filtered_to_the_exact_email() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/user/search"))
        .and(query_param("query", "bob@x.co"))
        .respond_with(json_answer(json!([
            user_json(
                "5b10ac8d82e05b22cc7d4e01",
                Some("bob@x.com"),
                "Bob Com",
                true
            ),
            user_json("5b10ac8d82e05b22cc7d4e02", Some("Bob@X.co"), "Bob Co", true),
            user_json(
                "5b10ac8d82e05b22cc7d4e03",
                Some("bob@x.co.uk"),
                "Bob Uk",
                true
            ),
        ])))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    let lookups = jira
        .lookup(&[by_email("bob@x.co")])
        .await
        .expect("lookup succeeds");

    let bob = found(&lookups, &by_email("bob@x.co"));
    assert_eq!(bob.itsm_user_id.as_str(), "5b10ac8d82e05b22cc7d4e02");
}

#[tokio::test]
async fn two_users_with_the_same_email_are_ambiguous() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/user/search"))
        .and(query_param("query", "shared@acme.com"))
        .respond_with(json_answer(json!([
            user_json(
                "5b10ac8d82e05b22cc7d4e01",
                Some("shared@acme.com"),
                "One",
                true
            ),
            user_json(
                "5b10ac8d82e05b22cc7d4e02",
                Some("SHARED@acme.com"),
                "Two",
                true
            ),
        ])))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    let lookups = jira
        .lookup(&[by_email("shared@acme.com")])
        .await
        .expect("lookup succeeds");

    match lookups.get(&by_email("shared@acme.com")) {
        Some(Lookup::Ambiguous(users)) => assert_eq!(users.len(), 2),
        other => panic!("expected Ambiguous, got {other:?}"),
    }
}

#[tokio::test]
async fn a_hidden_email_is_not_found_with_a_note_to_store_the_account_id() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/user/search"))
        .and(query_param("query", "hana@acme.com"))
        .respond_with(json_answer(json!([{
            "accountId": "5d53f3cbc6b9320d9ea5bdc2", "accountType": "atlassian",
            "active": true, "displayName": "Hana Hidden", "emailAddress": null
        }])))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    let lookups = jira
        .lookup(&[by_email("hana@acme.com")])
        .await
        .expect("lookup succeeds");

    let note = not_found_note(&lookups, &by_email("hana@acme.com")).expect("a note");
    assert!(note.contains("hidden"), "{note}");
    assert!(note.contains("accountId"), "{note}");
    assert!(note.contains("ITSM User ID"), "{note}");
}

#[tokio::test]
async fn an_email_with_no_match_is_not_found_with_a_note_that_search_shows_only_active_users() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/user/search"))
        .and(query_param("query", "former@acme.com"))
        .respond_with(json_answer(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    let lookups = jira
        .lookup(&[by_email("former@acme.com")])
        .await
        .expect("lookup succeeds");

    let note = not_found_note(&lookups, &by_email("former@acme.com")).expect("a note");
    assert!(note.contains("only active users"), "{note}");
    assert!(note.contains("stored accountId"), "{note}");
}

#[tokio::test]
async fn a_full_search_page_is_followed_to_the_next_one() {
    let server = MockServer::start().await;
    let crowd: Vec<serde_json::Value> = (0..50)
        .map(|n| {
            user_json(
                &format!("{n:024x}"),
                Some(&format!("ann@acme.com{n}")),
                "Ann",
                true,
            )
        })
        .collect();
    Mock::given(method("GET"))
        .and(path("/rest/api/3/user/search"))
        .and(raw_query("query=ann%40acme.com"))
        .respond_with(json_answer(json!(crowd)))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/user/search"))
        .and(raw_query("query=ann%40acme.com&startAt=50"))
        .respond_with(json_answer(json!([user_json(
            "5b10ac8d82e05b22cc7d4ea1",
            Some("ann@acme.com"),
            "Ann",
            true
        )])))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    let lookups = jira
        .lookup(&[by_email("ann@acme.com")])
        .await
        .expect("lookup succeeds");

    assert_eq!(
        found(&lookups, &by_email("ann@acme.com"))
            .itsm_user_id
            .as_str(),
        "5b10ac8d82e05b22cc7d4ea1"
    );
}

#[tokio::test]
async fn an_empty_email_and_a_malformed_account_id_are_refused_without_a_request() {
    let server = MockServer::start().await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());
    let keys = [
        by_email("  "),
        by_id("pat@acme.com"),
        by_id("abc&accountId=def"),
    ];

    let lookups = jira.lookup(&keys).await.expect("nothing to send");

    for key in &keys {
        assert!(
            matches!(lookups.get(key), Some(Lookup::Refused(_))),
            "{key:?}"
        );
    }
    assert_eq!(requests(&server).await, 0);
}

// --- credentials and auth headers --------------------------------------

#[tokio::test]
async fn myself_names_the_credentials_owner_with_bearer_auth() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/myself"))
        .and(header("authorization", "Bearer demo-jira-bearer"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("jira/myself-200.json"), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bearer("demo-jira-bearer"));

    let owner = jira.whoami().await.expect("myself answers");

    let CredentialOwner::Known(user) = owner else {
        panic!("expected a known owner, got {owner:?}");
    };
    assert_eq!(user.itsm_user_id.as_str(), "5b10a2844c20165700ede21g");
    assert_eq!(user.external_id, Some(ExternalId::new("mia@example.com")));
    assert_eq!(user.full_name.as_deref(), Some("Mia Krystof"));
    assert_eq!(user.time_zone.as_deref(), Some("Australia/Sydney"));
}

#[tokio::test]
async fn myself_answering_404_means_the_owner_is_unknown() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/myself"))
        .and(header("authorization", BOT_BASIC))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    assert_eq!(
        jira.whoami().await.expect("404 is an answer"),
        CredentialOwner::Unknown
    );
}

#[tokio::test]
async fn the_bot_must_be_in_the_danmarkshavn_time_zone() {
    let server = MockServer::start().await;
    let jira = client(&server, bot_credentials());
    let mut bot = ItsmUser {
        itsm_user_id: ItsmUserId::new(BOT_ID),
        external_id: Some(ExternalId::new("moveworks-bot@acme.com")),
        active: true,
        first_name: None,
        last_name: None,
        full_name: Some("Moveworks Bot".into()),
        account_type: Some("atlassian".into()),
        time_zone: Some("America/Danmarkshavn".into()),
        inactive_reason: None,
        record_kind: None,
    };
    assert!(jira.bot_setting_problems(&bot).is_empty());

    bot.time_zone = Some("Europe/Berlin".into());
    let problems = jira.bot_setting_problems(&bot);
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].setting, "timeZone");
    assert_eq!(problems[0].expected, "America/Danmarkshavn");
    assert_eq!(problems[0].actual.as_deref(), Some("Europe/Berlin"));

    bot.time_zone = None;
    assert_eq!(jira.bot_setting_problems(&bot)[0].actual, None);
}

// --- Atlassian's sample answers ----------------------------------------

#[tokio::test]
async fn the_bulk_sample_parses_into_a_user_with_only_a_full_name() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/user/bulk"))
        .and(raw_query(
            "accountId=5b10a2844c20165700ede21g&startAt=0&maxResults=1",
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("jira/user-bulk-200.json"), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());
    let key = by_id("5b10a2844c20165700ede21g");

    let lookups = jira
        .lookup(std::slice::from_ref(&key))
        .await
        .expect("lookup succeeds");

    assert_eq!(
        found(&lookups, &key),
        &ItsmUser {
            itsm_user_id: ItsmUserId::new("5b10a2844c20165700ede21g"),
            external_id: Some(ExternalId::new("mia@example.com")),
            active: true,
            first_name: None,
            last_name: None,
            full_name: Some("Mia Krystof".into()),
            account_type: Some("atlassian".into()),
            time_zone: Some("Australia/Sydney".into()),
            inactive_reason: None,
            record_kind: None,
        }
    );
}

#[tokio::test]
async fn the_search_sample_without_emails_explains_the_hidden_email() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/user/search"))
        .and(query_param("query", "mia@example.com"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("jira/user-search-200.json"), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    let lookups = jira
        .lookup(&[by_email("mia@example.com")])
        .await
        .expect("lookup succeeds");

    let note = not_found_note(&lookups, &by_email("mia@example.com")).expect("a note");
    assert!(note.contains("hidden"), "{note}");
}

#[tokio::test]
async fn a_user_without_an_active_flag_is_a_bad_response() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/user/search"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            fixture("jira/airbyte-users-fixture.json"),
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    let err = jira
        .lookup(&[by_email("integration-test@airbyte.io")])
        .await
        .expect_err("a user that does not say whether it is active cannot be judged");

    assert_eq!(err.reason(), Reason::BadResponse);
    assert!(err.to_string().contains("active"), "{err}");
}

// --- failures ------------------------------------------------------------

#[tokio::test]
async fn a_401_is_auth_failed_whatever_its_body_and_nothing_more_is_sent() {
    let bodies = [
        ("application/json", fixture("jira/error-401-not-authenticated.json")),
        (
            "application/xml",
            "<status><status-code>401</status-code><message>Client must be authenticated to access this resource.</message></status>".to_owned(),
        ),
        (
            "text/html",
            "<html><head><title>Unauthorized (401)</title></head><body>Log in</body></html>"
                .to_owned(),
        ),
        (
            "text/plain",
            "Basic authentication with passwords is deprecated.".to_owned(),
        ),
    ];
    for (content_type, body) in bodies {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(401).set_body_raw(body, content_type))
            .expect(1)
            .mount(&server)
            .await;
        mount_catch_all(&server).await;
        let jira = client(&server, bot_credentials());
        let keys = [
            by_id(BOT_ID),
            by_email("pat@acme.com"),
            by_email("kim@acme.com"),
        ];

        let err = jira.lookup(&keys).await.expect_err("401 fails the lookup");
        assert_eq!(err.reason(), Reason::AuthFailed, "{content_type}");
        let again = jira.whoami().await.expect_err("blocked after a 401");
        assert!(
            matches!(again, ConnectorError::AuthBlocked { .. }),
            "{again}"
        );

        assert_eq!(requests(&server).await, 1, "{content_type}");
    }
}

#[tokio::test]
async fn a_403_is_auth_failed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/user/search"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_raw(r#"{"errorMessages":["You do not have the permission to see the specified user."],"errors":{}}"#, "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    let err = jira
        .lookup(&[by_email("pat@acme.com")])
        .await
        .expect_err("403 fails");

    assert_eq!(err.reason(), Reason::AuthFailed);
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_and_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/myself"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "0")
                .insert_header("ratelimit-reason", "jira-burst-based"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/myself"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("jira/myself-200.json"), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    let owner = jira.whoami().await.expect("the retry succeeds");

    assert!(matches!(owner, CredentialOwner::Known(_)));
    assert_eq!(jira.http().requests_sent(), 2);
    assert_eq!(jira.http().rate_limit_waits(), 1);
}

#[tokio::test]
async fn a_persistent_429_is_rate_limited() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/user/search"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .expect(4)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    let err = jira
        .lookup(&[by_email("pat@acme.com")])
        .await
        .expect_err("still limited");

    assert_eq!(err.reason(), Reason::RateLimited);
}

#[tokio::test]
async fn a_500_is_unreachable_after_retries() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/user/bulk"))
        .respond_with(ResponseTemplate::new(500))
        .expect(4)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    let err = jira.lookup(&[by_id(BOT_ID)]).await.expect_err("down");

    assert_eq!(err.reason(), Reason::Unreachable);
}

#[tokio::test]
async fn an_html_page_with_200_is_a_bad_response() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/user/bulk"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            "<html><body>Your site is being upgraded</body></html>",
            "text/html; charset=utf-8",
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    let err = jira.lookup(&[by_id(BOT_ID)]).await.expect_err("not JSON");

    assert_eq!(err.reason(), Reason::BadResponse);
}

#[tokio::test]
async fn a_400_from_search_is_a_bad_response() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/user/search"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_raw(r#"{"errorMessages":["The query parameter 'username' is not supported in GDPR strict mode."],"errors":{}}"#, "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    let err = jira
        .lookup(&[by_email("pat@acme.com")])
        .await
        .expect_err("400");

    assert_eq!(err.reason(), Reason::BadResponse);
}

/// A listener that accepts each connection and closes it at once: a
/// dropped connection, which wiremock cannot stage.
async fn closing_listener() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            drop(stream);
        }
    });
    addr
}

#[tokio::test]
async fn a_dropped_connection_is_unreachable() {
    let server = MockServer::start().await;
    let addr = closing_listener().await;
    let mut settings = settings(System::Jira, &server, bot_credentials());
    settings.base_url = format!("http://{addr}").parse().expect("a valid URL");
    let jira = Client::new(settings).expect("test settings are valid");

    let err = jira.lookup(&[by_id(BOT_ID)]).await.expect_err("no answer");

    assert_eq!(err.reason(), Reason::Unreachable, "{err}");
    assert_eq!(
        jira.http().requests_sent(),
        4,
        "retried like any transport error"
    );
}

// --- the simulator through the connector ---------------------------------

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
