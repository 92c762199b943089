//! Past a hundred keys, Jira Data Center's directory is listed instead of
//! asked key by key, when `/serverInfo` says Jira 8 or 9: `username=.`, a
//! thousand users a page by `startAt`, until a page short of a thousand
//! and not the hundred Jira 10 caps pages at. Jira 10, an unknown version
//! and a listing that repeats itself fall back to one request per key.
//!
//! Never reports "not found" from a listing that is not known to be
//! complete: such keys are asked for alone.

use std::collections::BTreeSet;

use itsmid_connectors::jira_dc::Client;
use itsmid_connectors::{Connector, ExternalId, Lookup, LookupKey, Reason};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use super::{
    BOT_BASIC, SEARCH_PATH, SERVER_INFO_PATH, USER_PATH, bot_credentials, by_external, by_key,
    client, email_search, error_collection, found, json_answer, listing_page, not_found_note,
    queries_at, raw_query, requests, under_context_path, user_json,
};
use crate::support::mount_catch_all;

/// The key of the `n`th user of a generated directory.
fn key_of(n: usize) -> String {
    format!("JIRAUSER{}", 20_000 + n)
}

/// A generated directory of `size` users; every seventh is inactive.
fn directory(size: usize) -> Vec<Value> {
    (0..size)
        .map(|n| {
            user_json(
                &key_of(n),
                &format!("user{n}"),
                Some(&format!("user{n}@acme.com")),
                n % 7 != 0,
            )
        })
        .collect()
}

fn server_info(version: &[u32]) -> ResponseTemplate {
    let text: Vec<String> = version.iter().map(u32::to_string).collect();
    json_answer(json!({
        "baseUrl": "https://jira.acme.com",
        "version": text.join("."),
        "versionNumbers": version,
        "deploymentType": "DataCenter",
        "buildNumber": 912_000,
        "serverTitle": "Jira",
    }))
}

async fn mount_server_info(server: &MockServer, answer: ResponseTemplate, times: u64) {
    Mock::given(method("GET"))
        .and(path(SERVER_INFO_PATH))
        .and(|r: &Request| r.url.query().is_none())
        .respond_with(answer)
        .expect(times)
        .mount(server)
        .await;
}

/// Mounts one page of `users` per `startAt`, each expected once and with
/// the bot's credentials.
async fn mount_pages(server: &MockServer, users: &[Value], starts: &[usize]) {
    for &start in starts {
        let page: Vec<Value> = users.iter().skip(start).take(1_000).cloned().collect();
        Mock::given(method("GET"))
            .and(path(SEARCH_PATH))
            .and(raw_query(listing_page(start)))
            .and(header("authorization", BOT_BASIC))
            .respond_with(json_answer(Value::Array(page)))
            .expect(1)
            .mount(server)
            .await;
    }
}

/// Answers `/user?key=` from `users`, 404 for a key it does not hold.
fn users_by_key(users: Vec<Value>) -> impl Fn(&Request) -> ResponseTemplate + Send + Sync {
    move |request: &Request| {
        let key = request
            .url
            .query_pairs()
            .find(|(name, _)| name == "key")
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default();
        match users.iter().find(|u| u["key"] == key.as_str()) {
            Some(user) => json_answer(user.clone()),
            None => error_collection(
                404,
                &format!("The user with the key '{key}' does not exist"),
            ),
        }
    }
}

/// The `key` values of the `/user` requests `server` received.
async fn keys_asked_alone(server: &MockServer) -> BTreeSet<String> {
    queries_at(server, USER_PATH)
        .await
        .iter()
        .map(|query| {
            query
                .strip_prefix("key=")
                .unwrap_or_else(|| panic!("not a key lookup: {query}"))
                .to_owned()
        })
        .collect()
}

fn start_ats(queries: &[String]) -> Vec<String> {
    queries
        .iter()
        .map(|q| {
            q.split('&')
                .find_map(|pair| pair.strip_prefix("startAt="))
                .unwrap_or("none")
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn jira_9_is_listed_in_pages_of_a_thousand_until_a_short_one() {
    let server = MockServer::start().await;
    let users = directory(2_345);
    mount_server_info(&server, server_info(&[9, 12, 0]), 1).await;
    mount_pages(&server, &users, &[0, 1_000, 2_000]).await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());
    // Keys from every page, five that no user has, and e-mails.
    let mut keys: Vec<LookupKey> = (0..140).map(|n| by_key(&key_of(n * 16))).collect();
    keys.extend((0..5).map(|n| by_key(&format!("JIRAUSER9{n:04}"))));
    keys.extend([
        by_external("USER2344@acme.com"),
        by_external("user7@acme.com"),
        by_external("nobody@acme.com"),
    ]);

    let lookups = jira.lookup(&keys).await.expect("lookup succeeds");

    assert_eq!(lookups.outcomes.len(), keys.len());
    assert_eq!(jira.http().requests_sent(), 4, "serverInfo and 3 pages");
    assert_eq!(
        start_ats(&queries_at(&server, SEARCH_PATH).await),
        ["0", "1000", "2000"]
    );
    let last = found(&lookups, &by_key(&key_of(139 * 16)));
    assert_eq!(last.external_id, Some(ExternalId::new("user2224@acme.com")));
    assert!(
        !found(&lookups, &by_key(&key_of(0))).active,
        "inactive users are listed"
    );
    assert!(found(&lookups, &by_key(&key_of(16))).active);
    for n in 0..5 {
        assert_eq!(
            not_found_note(&lookups, &by_key(&format!("JIRAUSER9{n:04}"))),
            None
        );
    }
    assert_eq!(
        found(&lookups, &by_external("USER2344@acme.com"))
            .itsm_user_id
            .as_str(),
        key_of(2_344)
    );
    assert!(!found(&lookups, &by_external("user7@acme.com")).active);
    assert_eq!(
        not_found_note(&lookups, &by_external("nobody@acme.com")),
        None
    );
}

#[tokio::test]
async fn a_last_page_of_exactly_one_hundred_is_followed_to_an_empty_one() {
    let server = MockServer::start().await;
    let users = directory(1_100);
    mount_server_info(&server, server_info(&[8, 20, 10]), 1).await;
    mount_pages(&server, &users, &[0, 1_000, 1_100]).await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());
    let mut keys: Vec<LookupKey> = (1_000..1_100).map(|n| by_key(&key_of(n))).collect();
    keys.push(by_key("JIRAUSER99999"));

    let lookups = jira.lookup(&keys).await.expect("lookup succeeds");

    assert_eq!(jira.http().requests_sent(), 4, "serverInfo and 3 pages");
    found(&lookups, &by_key(&key_of(1_099)));
    assert_eq!(
        not_found_note(&lookups, &by_key("JIRAUSER99999")),
        None,
        "the empty page proved the listing complete"
    );
}

#[tokio::test]
async fn exactly_one_hundred_keys_are_asked_one_by_one() {
    let server = MockServer::start().await;
    let users = directory(50);
    mount_server_info(&server, server_info(&[9, 12, 0]), 0).await;
    Mock::given(method("GET"))
        .and(path(USER_PATH))
        .respond_with(users_by_key(users))
        .expect(100)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());
    // A hundred distinct keys; the repeats do not count.
    let mut keys: Vec<LookupKey> = (0..100).map(|n| by_key(&key_of(n))).collect();
    keys.extend((0..10).map(|n| by_key(&key_of(n))));

    let lookups = jira.lookup(&keys).await.expect("lookup succeeds");

    assert_eq!(lookups.outcomes.len(), 100);
    found(&lookups, &by_key(&key_of(49)));
    assert_eq!(not_found_note(&lookups, &by_key(&key_of(50))), None);
    assert_eq!(jira.http().requests_sent(), 100);
}

#[tokio::test]
async fn jira_10_or_an_unknown_version_is_not_listed_each_key_is_asked_alone() {
    let cases: [(&str, ResponseTemplate); 5] = [
        ("10.3", server_info(&[10, 3, 0])),
        ("11.0", server_info(&[11, 0])),
        ("7.13", server_info(&[7, 13, 8])),
        (
            "no versionNumbers",
            json_answer(json!({"version": "9.12.0"})),
        ),
        (
            "404",
            error_collection(
                404,
                "null for uri: https://jira.acme.com/rest/api/2/serverInfo",
            ),
        ),
    ];
    for (case, answer) in cases {
        let server = MockServer::start().await;
        let users = directory(60);
        mount_server_info(&server, answer, 1).await;
        Mock::given(method("GET"))
            .and(path(USER_PATH))
            .and(header("authorization", BOT_BASIC))
            .respond_with(users_by_key(users))
            .expect(101)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(SEARCH_PATH))
            .and(query_param("username", "."))
            .respond_with(json_answer(json!([])))
            .expect(0)
            .mount(&server)
            .await;
        mount_catch_all(&server).await;
        let jira = client(&server, bot_credentials());
        let keys: Vec<LookupKey> = (0..101).map(|n| by_key(&key_of(n))).collect();

        let lookups = jira.lookup(&keys).await.expect("lookup succeeds");

        assert_eq!(jira.http().requests_sent(), 102, "{case}");
        assert!(!found(&lookups, &by_key(&key_of(0))).active, "{case}");
        found(&lookups, &by_key(&key_of(59)));
        assert_eq!(
            not_found_note(&lookups, &by_key(&key_of(60))),
            None,
            "{case}"
        );
        server.verify().await;
    }
}

#[tokio::test]
async fn a_listing_that_repeats_itself_is_incomplete_and_what_it_lacks_is_asked_alone() {
    // Keys it holds are found there; what it lacks, and every address, is
    // asked alone.
    let server = MockServer::start().await;
    let users = directory(300);
    let first_hundred: Vec<Value> = users.iter().take(100).cloned().collect();
    mount_server_info(&server, server_info(&[9, 4, 0]), 1).await;
    // A server that ignores startAt: the same hundred users every page.
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .and(query_param("username", "."))
        .respond_with(json_answer(Value::Array(first_hundred)))
        .expect(2)
        .mount(&server)
        .await;
    // An address the listing holds is still searched alone: a second user
    // with it may be outside the listing.
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .and(raw_query(email_search("user5%40acme.com")))
        .respond_with(json_answer(json!([users[5].clone()])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .and(raw_query(email_search("user250%40acme.com")))
        .respond_with(json_answer(json!([users[250].clone()])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .and(raw_query(email_search("ghost%40acme.com")))
        .respond_with(json_answer(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(USER_PATH))
        .respond_with(users_by_key(users))
        .expect(41)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());
    // 60 listed keys, 41 that are not: 31 real users, 10 nobody has.
    let listed: Vec<String> = (0..60).map(key_of).collect();
    let unlisted: Vec<String> = (200..231)
        .map(key_of)
        .chain((0..10).map(|n| format!("JIRAUSER9{n:04}")))
        .collect();
    let mut keys: Vec<LookupKey> = listed.iter().chain(&unlisted).map(|k| by_key(k)).collect();
    keys.extend([
        by_external("user5@acme.com"),
        by_external("user250@acme.com"),
        by_external("ghost@acme.com"),
    ]);

    let lookups = jira.lookup(&keys).await.expect("lookup succeeds");

    assert_eq!(
        start_ats(
            &queries_at(&server, SEARCH_PATH)
                .await
                .into_iter()
                .filter(|q| q.starts_with("username=.&"))
                .collect::<Vec<_>>()
        ),
        ["0", "100"]
    );
    assert_eq!(
        keys_asked_alone(&server).await,
        unlisted.iter().cloned().collect::<BTreeSet<_>>(),
        "only the keys the listing lacks are asked alone"
    );
    assert_eq!(jira.http().requests_sent(), 1 + 2 + 41 + 3);
    for key in &listed {
        found(&lookups, &by_key(key));
    }
    found(&lookups, &by_key(&key_of(230)));
    assert_eq!(not_found_note(&lookups, &by_key("JIRAUSER90000")), None);
    found(&lookups, &by_external("user5@acme.com"));
    assert_eq!(
        found(&lookups, &by_external("user250@acme.com"))
            .itsm_user_id
            .as_str(),
        key_of(250)
    );
    assert_eq!(
        not_found_note(&lookups, &by_external("ghost@acme.com")),
        None
    );
}

#[tokio::test]
async fn emails_in_a_listing_are_matched_exactly_and_hidden_ones_are_noted() {
    let server = MockServer::start().await;
    let mut users = directory(200);
    users.push(user_json(
        "JIRAUSER30001",
        "twin1",
        Some("twin@acme.com"),
        true,
    ));
    users.push(user_json(
        "JIRAUSER30002",
        "twin2",
        Some("TWIN@acme.com"),
        true,
    ));
    users.push(user_json(
        "JIRAUSER30003",
        "masked",
        Some("mia at acme dot com"),
        true,
    ));
    users.push(user_json("JIRAUSER30004", "hidden", None, true));
    mount_server_info(&server, server_info(&[9, 12, 0]), 1).await;
    mount_pages(&server, &users, &[0]).await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());
    let mut keys: Vec<LookupKey> = (0..100).map(|n| by_key(&key_of(n))).collect();
    keys.extend([
        by_external("twin@acme.com"),
        by_external("Mia@Acme.com"),
        by_external("user1@acme.co"),
        by_external("hana@acme.com"),
    ]);

    let lookups = jira.lookup(&keys).await.expect("lookup succeeds");

    assert_eq!(jira.http().requests_sent(), 2, "serverInfo and one page");
    match lookups.get(&by_external("twin@acme.com")) {
        Some(Lookup::Ambiguous(twins)) => assert_eq!(twins.len(), 2),
        other => panic!("expected Ambiguous, got {other:?}"),
    }
    assert_eq!(
        found(&lookups, &by_external("Mia@Acme.com"))
            .itsm_user_id
            .as_str(),
        "JIRAUSER30003"
    );
    for key in [by_external("user1@acme.co"), by_external("hana@acme.com")] {
        let note = not_found_note(&lookups, &key).expect("a note on the hidden address");
        assert!(note.contains("hides"), "{note}");
    }
    assert_eq!(lookups.outcomes.len(), 104);
}

#[tokio::test]
async fn a_listing_under_a_context_path_keeps_it() {
    let server = MockServer::start().await;
    let users = directory(150);
    Mock::given(method("GET"))
        .and(path(format!("/jira{SERVER_INFO_PATH}")))
        .respond_with(server_info(&[9, 12, 0]))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/jira{SEARCH_PATH}")))
        .and(raw_query(listing_page(0)))
        .respond_with(json_answer(Value::Array(users)))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = Client::new(under_context_path(&server, bot_credentials())).expect("valid settings");
    let keys: Vec<LookupKey> = (0..101).map(|n| by_key(&key_of(n))).collect();

    let lookups = jira.lookup(&keys).await.expect("lookup succeeds");

    assert!(
        lookups
            .outcomes
            .values()
            .all(|lookup| matches!(lookup, Lookup::Found(_)))
    );
    assert_eq!(requests(&server).await, 2);
}

#[tokio::test]
async fn a_refused_listing_fails_the_batch_and_nothing_more_is_sent() {
    let server = MockServer::start().await;
    mount_server_info(&server, server_info(&[9, 12, 0]), 1).await;
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .respond_with(error_collection(
            403,
            "You do not have the permission to see the specified user.",
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());
    let keys: Vec<LookupKey> = (0..101).map(|n| by_key(&key_of(n))).collect();

    let err = jira.lookup(&keys).await.expect_err("403 fails the batch");

    assert_eq!(err.reason(), Reason::AuthFailed);
    assert_eq!(requests(&server).await, 2);
}

#[tokio::test]
async fn an_address_search_whose_pages_repeat_is_refused_and_never_not_found() {
    let server = MockServer::start().await;
    // Jira 10's cap: a hundred prefix matches, the same hundred every page.
    let hundred: Vec<Value> = directory(100).into_iter().collect();
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .and(query_param("username", "user@acme.com"))
        .respond_with(json_answer(Value::Array(hundred)))
        .expect(2)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());
    let key = by_external("user@acme.com");

    let lookups = jira
        .lookup(std::slice::from_ref(&key))
        .await
        .expect("lookup succeeds");

    let reason = super::refusal(&lookups, &key);
    assert!(reason.contains("did not reach its end"), "{reason}");
    server.verify().await;
}
