//! Real answer shapes, read as the connector reads them: Atlassian's bulk
//! and search samples from `fixtures/jira/`, a user without an `active`
//! flag, and a bulk page without `isLast`.
//!
//! Never edits a sample to suit the connector: the connector is fixed to
//! read what Jira sends.

use itsmid_connectors::{Connector, ExternalId, ItsmUser, ItsmUserId, Lookup, LookupKey};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{bot_credentials, by_email, by_id, client, found, not_found_note, raw_query};
use crate::support::{fixture, mount_catch_all};

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
async fn a_user_without_an_active_flag_is_read_as_active() {
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

    let key = by_email("integration-test@airbyte.io");
    let lookups = jira
        .lookup(std::slice::from_ref(&key))
        .await
        .expect("answers");

    // Atlassian's schema makes `active` optional: its absence is no
    // evidence of a deactivated account.
    // (The sample holds two users with that address.)
    match lookups.get(&key) {
        Some(Lookup::Ambiguous(users)) => {
            assert_eq!(users.len(), 2);
            assert!(users.iter().all(|u| u.active));
        }
        other => panic!("expected both users, got {other:?}"),
    }
}

#[tokio::test]
async fn a_bulk_page_without_is_last_is_followed_until_total() {
    let server = MockServer::start().await;
    let ids = ["5b10ac8d82e05b22cc7d4ef1", "5b10ac8d82e05b22cc7d4ef2"];
    let user = |id: &str| {
        serde_json::json!({"accountId": id, "accountType": "atlassian", "active": true,
                           "displayName": id, "emailAddress": format!("{id}@acme.com")})
    };
    // The server caps the page at one user and leaves out isLast.
    for (start, id) in ids.iter().enumerate() {
        Mock::given(method("GET"))
            .and(path("/rest/api/3/user/bulk"))
            .and(query_param("startAt", start.to_string()))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!(
                {"maxResults": 1, "startAt": start, "total": 2, "values": [user(id)]}
            )))
            .expect(1)
            .mount(&server)
            .await;
    }
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());
    let keys: Vec<LookupKey> = ids
        .iter()
        .map(|id| LookupKey::ItsmUserId(ItsmUserId::new(*id)))
        .collect();
    let lookups = jira.lookup(&keys).await.expect("answers");
    for key in &keys {
        assert!(
            matches!(lookups.get(key), Some(Lookup::Found(_))),
            "{key:?}"
        );
    }
}
