//! Jira Cloud connector tests: the exact lookup requests sent (repeated
//! `accountId`s, encoded e-mails, auth headers) and how their answers are
//! read. The credentials' owner and the bot's settings are in `auth`,
//! Atlassian's sample answers in `samples`, every failure mapped to its
//! reason in `errors`, the simulator's Jira semantics seen through the
//! connector in `simulator`, and a recorded check replayed in `recording`.
//!
//! No test sleeps: retries use the millisecond backoff of
//! `support::settings` and `Retry-After: 0`.

use itsmid_connectors::jira::Client;
use itsmid_connectors::sim::AnySimulator;
use itsmid_connectors::{
    Connector, Credentials, ExternalId, ItsmUser, ItsmUserId, Lookup, LookupKey, Lookups, System,
};
use serde_json::json;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::support::{basic, bearer, mount_catch_all, settings};

mod auth;
mod errors;
mod limits;
mod readiness;
pub(crate) mod recording;
mod samples;
mod simulator;

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
