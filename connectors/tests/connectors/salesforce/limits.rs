//! Salesforce and its request limit (SPEC section 5, Limits: 16,384 bytes,
//! twice the others'): a value whose request would pass it is refused
//! unsent while the others are found, one under it still goes, a batch
//! answered 414 is asked again in halves, and a one-entry request answered
//! 431 refuses that entry. None of it makes the system unavailable.

use itsmid_connectors::{Connector, Lookup};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{
    BETH_ID, BOT_ID, DANA_ID, KIM_ID, QUERY, SELECT, TOKEN, by_id, by_username, client, found,
    page, received, soql_ids, user_json,
};
use crate::support::{bearer, mount_catch_all};

fn refusal(lookup: Option<&Lookup>) -> String {
    match lookup {
        Some(Lookup::Refused(refused)) => refused.reason.clone(),
        other => panic!("expected Refused, got {other:?}"),
    }
}

fn soql_usernames(usernames: &[&str]) -> String {
    let list: Vec<String> = usernames.iter().map(|name| format!("'{name}'")).collect();
    format!("{SELECT} Username IN ({})", list.join(","))
}

fn user(id: &str, username: &str) -> serde_json::Value {
    user_json(id, username, true, "First", "Last")
}

#[tokio::test]
async fn a_value_too_long_for_salesforce_s_limit_is_refused_unsent_and_the_others_are_found() {
    let server = MockServer::start().await;
    // 1,500 `é` take 9,000 bytes encoded: over the 8,192 of other systems,
    // under Salesforce's 16,384, so it still goes.
    let long_but_sendable = format!("{}@acme.com.prod", "é".repeat(1_500));
    Mock::given(method("GET"))
        .and(path(QUERY))
        .and(query_param(
            "q",
            soql_usernames(&["dana.ross@acme.com.prod", &long_but_sendable]),
        ))
        .respond_with(page(vec![user(DANA_ID, "dana.ross@acme.com.prod")], None))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(QUERY))
        .and(query_param("q", soql_ids(&[BOT_ID])))
        .respond_with(page(
            vec![user(BOT_ID, "moveworks.bot@acme.com.prod")],
            None,
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let salesforce = client(&server, bearer(TOKEN));
    // 3,000 `ü` (SOQL takes up to 4,000 characters) take 18,000 bytes.
    let too_long = format!("{}@acme.com.prod", "ü".repeat(3_000));

    let lookups = salesforce
        .lookup(&[
            by_username(&too_long),
            by_username("dana.ross@acme.com.prod"),
            by_username(&long_but_sendable),
            by_id(BOT_ID),
        ])
        .await
        .expect("one long value never fails the lookup");

    assert_eq!(
        found(&lookups, &by_username("dana.ross@acme.com.prod"))
            .itsm_user_id
            .as_str(),
        DANA_ID
    );
    assert!(matches!(
        lookups.get(&by_username(&long_but_sendable)),
        Some(Lookup::NotFound { .. })
    ));
    assert_eq!(
        found(&lookups, &by_id(BOT_ID)).itsm_user_id.as_str(),
        BOT_ID
    );
    let reason = refusal(lookups.get(&by_username(&too_long)));
    assert!(
        reason.contains("too long for salesforce's request limit")
            && reason.contains("16384")
            && reason.contains("not sent"),
        "{reason}"
    );
    let sent = received(&server).await;
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|r| !r.url.as_str().contains("%C3%BC")));
    assert_eq!(salesforce.http().requests_sent(), 2);
}

#[tokio::test]
async fn a_batch_answered_414_is_asked_again_in_halves() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(QUERY))
        .and(query_param(
            "q",
            soql_ids(&[BETH_ID, DANA_ID, KIM_ID, BOT_ID]),
        ))
        .respond_with(ResponseTemplate::new(414).set_body_raw(
            "<html><body><h1>Bad Message 414</h1><pre>reason: URI Too Long</pre></body></html>",
            "text/html;charset=iso-8859-1",
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(QUERY))
        .and(query_param("q", soql_ids(&[BETH_ID, DANA_ID])))
        .respond_with(page(
            vec![
                user(BETH_ID, "beth.anglin@acme.com.prod"),
                user(DANA_ID, "dana.ross@acme.com.prod"),
            ],
            None,
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(QUERY))
        .and(query_param("q", soql_ids(&[KIM_ID, BOT_ID])))
        .respond_with(page(
            vec![
                user(KIM_ID, "kim@acme.com.prod"),
                user(BOT_ID, "moveworks.bot@acme.com.prod"),
            ],
            None,
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let salesforce = client(&server, bearer(TOKEN));
    let ids = [BOT_ID, KIM_ID, DANA_ID, BETH_ID];

    let lookups = salesforce
        .lookup(&ids.map(by_id))
        .await
        .expect("the halves answer");

    for id in ids {
        assert_eq!(found(&lookups, &by_id(id)).itsm_user_id.as_str(), id);
    }
    assert_eq!(salesforce.http().requests_sent(), 3);
}

#[tokio::test]
async fn a_431_to_a_one_entry_request_refuses_that_entry_only() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(QUERY))
        .and(query_param("q", soql_usernames(&["pat@acme.com.prod"])))
        .respond_with(ResponseTemplate::new(431))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(QUERY))
        .and(query_param("q", soql_ids(&[BOT_ID])))
        .respond_with(page(
            vec![user(BOT_ID, "moveworks.bot@acme.com.prod")],
            None,
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let salesforce = client(&server, bearer(TOKEN));

    let lookups = salesforce
        .lookup(&[by_username("pat@acme.com.prod"), by_id(BOT_ID)])
        .await
        .expect("one entry never fails the lookup");

    let reason = refusal(lookups.get(&by_username("pat@acme.com.prod")));
    assert!(reason.contains("HTTP 431"), "{reason}");
    assert_eq!(
        found(&lookups, &by_id(BOT_ID)).itsm_user_id.as_str(),
        BOT_ID
    );
    assert_eq!(salesforce.http().requests_sent(), 2, "never retried");
}
