//! Jira and the request limit (SPEC section 5, Limits): an e-mail whose
//! search would pass 8,192 bytes of request line is refused unsent while
//! the others are found, a `/user/bulk` batch answered 414 is asked again
//! in halves, and a one-entry search answered 431 refuses that entry. None
//! of it makes the system unavailable.

use itsmid_connectors::{Connector, Lookup};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{
    BOT_ID, FRED_ID, KIM_ID, PAT_ID, bot_credentials, by_email, by_id, client, found, json_answer,
    raw_query, user_json,
};
use crate::support::mount_catch_all;

const BULK: &str = "/rest/api/3/user/bulk";
const SEARCH: &str = "/rest/api/3/user/search";
const PAT_ENCODED: &str = "712020%3A6b1f7b04-6e9e-4276-b4d8-4d7b1678e327";

fn refusal(lookup: Option<&Lookup>) -> String {
    match lookup {
        Some(Lookup::Refused(refused)) => refused.reason.clone(),
        other => panic!("expected Refused, got {other:?}"),
    }
}

fn bulk_page(users: Vec<serde_json::Value>) -> ResponseTemplate {
    json_answer(json!({ "isLast": true, "startAt": 0, "total": users.len(), "values": users }))
}

fn bot() -> serde_json::Value {
    user_json(
        BOT_ID,
        Some("moveworks-bot@acme.com"),
        "Moveworks Bot",
        true,
    )
}

fn pat() -> serde_json::Value {
    user_json(PAT_ID, Some("pat@acme.com"), "Pat Lee", true)
}

#[tokio::test]
async fn an_email_too_long_for_the_request_limit_is_refused_unsent_and_the_others_are_found() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .and(raw_query("query=pat%40acme.com"))
        .respond_with(json_answer(json!([pat()])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(BULK))
        .and(raw_query(format!(
            "accountId={BOT_ID}&startAt=0&maxResults=1"
        )))
        .respond_with(bulk_page(vec![bot()]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());
    let long = format!("{}@acme.com", "x".repeat(9_000));

    let lookups = jira
        .lookup(&[by_email(&long), by_email("pat@acme.com"), by_id(BOT_ID)])
        .await
        .expect("one long value never fails the lookup");

    assert_eq!(
        found(&lookups, &by_email("pat@acme.com"))
            .itsm_user_id
            .as_str(),
        PAT_ID
    );
    assert_eq!(
        found(&lookups, &by_id(BOT_ID)).itsm_user_id.as_str(),
        BOT_ID
    );
    let reason = refusal(lookups.get(&by_email(&long)));
    assert!(
        reason.contains("too long for jira's request limit") && reason.contains("not sent"),
        "{reason}"
    );
    let sent = server.received_requests().await.expect("recording");
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|r| !r.url.as_str().contains("xxxxxxxx")));
    assert_eq!(jira.http().requests_sent(), 2);
}

#[tokio::test]
async fn a_bulk_batch_answered_414_is_asked_again_in_halves() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(BULK))
        .and(raw_query(format!(
            "accountId={BOT_ID}&accountId={KIM_ID}&accountId={FRED_ID}&accountId={PAT_ENCODED}\
             &startAt=0&maxResults=4"
        )))
        .respond_with(ResponseTemplate::new(414))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(BULK))
        .and(raw_query(format!(
            "accountId={BOT_ID}&accountId={KIM_ID}&startAt=0&maxResults=2"
        )))
        .respond_with(bulk_page(vec![
            bot(),
            user_json(KIM_ID, Some("kim@acme.com"), "Kim Park", true),
        ]))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(BULK))
        .and(raw_query(format!(
            "accountId={FRED_ID}&accountId={PAT_ENCODED}&startAt=0&maxResults=2"
        )))
        .respond_with(bulk_page(vec![
            user_json(FRED_ID, Some("former@acme.com"), "Fred Former", false),
            pat(),
        ]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());
    let ids = [PAT_ID, FRED_ID, KIM_ID, BOT_ID];

    let lookups = jira
        .lookup(&ids.map(by_id))
        .await
        .expect("the halves answer");

    for id in ids {
        assert_eq!(found(&lookups, &by_id(id)).itsm_user_id.as_str(), id);
    }
    assert_eq!(jira.http().requests_sent(), 3);
}

#[tokio::test]
async fn a_431_to_a_one_entry_search_refuses_that_entry_only() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .and(raw_query("query=pat%40acme.com"))
        .respond_with(ResponseTemplate::new(431))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(BULK))
        .and(raw_query(format!(
            "accountId={BOT_ID}&startAt=0&maxResults=1"
        )))
        .respond_with(bulk_page(vec![bot()]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    let lookups = jira
        .lookup(&[by_email("pat@acme.com"), by_id(BOT_ID)])
        .await
        .expect("one entry never fails the lookup");

    let reason = refusal(lookups.get(&by_email("pat@acme.com")));
    assert!(reason.contains("HTTP 431"), "{reason}");
    assert_eq!(
        found(&lookups, &by_id(BOT_ID)).itsm_user_id.as_str(),
        BOT_ID
    );
    assert_eq!(jira.http().requests_sent(), 2, "never retried");
}
