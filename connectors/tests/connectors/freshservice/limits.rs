//! Freshservice and the request limit (SPEC section 5, Limits): an e-mail
//! whose request would pass 8,192 bytes of request line is refused unsent
//! (among requesters and agents alike) while the others are found, a filter
//! answered 414 is asked again in halves, and a one-entry filter answered
//! 431 refuses that entry without asking the agents. None of it makes the
//! system unavailable.

use itsmid_connectors::{Connector, Lookup};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{
    REQUESTERS, body, client, ext, filter_get, found, id, received, requester, requesters,
};
use crate::support::mount_catch_all;

fn refusal(lookup: Option<&Lookup>) -> String {
    match lookup {
        Some(Lookup::Refused(refused)) => refused.reason.clone(),
        other => panic!("expected Refused, got {other:?}"),
    }
}

/// The quoted filter for these requesters' e-mails.
fn emails(values: &[&str]) -> String {
    let conditions: Vec<String> = values
        .iter()
        .map(|value| format!("primary_email:'{value}'"))
        .collect();
    format!("\"{}\"", conditions.join(" OR "))
}

#[tokio::test]
async fn an_email_too_long_for_the_request_limit_is_refused_unsent_and_the_others_are_found() {
    let server = MockServer::start().await;
    filter_get(REQUESTERS, &emails(&["a@x.com", "b@x.com"]))
        .respond_with(requesters(vec![
            requester(1, "a@x.com"),
            requester(2, "b@x.com"),
        ]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let freshservice = client(&server);
    // Too long for a filter, so it would go alone as `email=`: too long
    // for that too.
    let long = format!("{}@x.com", "x".repeat(9_000));

    let lookups = freshservice
        .lookup(&[ext("b@x.com"), ext(&long), ext("a@x.com")])
        .await
        .expect("one long value never fails the lookup");

    assert_eq!(found(&lookups, &ext("a@x.com")).itsm_user_id.as_str(), "1");
    assert_eq!(found(&lookups, &ext("b@x.com")).itsm_user_id.as_str(), "2");
    let reason = refusal(lookups.get(&ext(&long)));
    assert!(
        reason.contains("too long for freshservice's request limit") && reason.contains("not sent"),
        "{reason}"
    );
    let sent = received(&server).await;
    assert_eq!(
        sent.len(),
        1,
        "no request for the long value, nor among agents"
    );
    assert_eq!(freshservice.http().requests_sent(), 1);
}

#[tokio::test]
async fn a_filter_answered_414_is_asked_again_in_halves() {
    let server = MockServer::start().await;
    filter_get(
        REQUESTERS,
        &emails(&["a@x.com", "b@x.com", "c@x.com", "d@x.com"]),
    )
    .respond_with(ResponseTemplate::new(414))
    .expect(1)
    .mount(&server)
    .await;
    filter_get(REQUESTERS, &emails(&["a@x.com", "b@x.com"]))
        .respond_with(requesters(vec![
            requester(1, "a@x.com"),
            requester(2, "b@x.com"),
        ]))
        .expect(1)
        .mount(&server)
        .await;
    filter_get(REQUESTERS, &emails(&["c@x.com", "d@x.com"]))
        .respond_with(requesters(vec![
            requester(3, "c@x.com"),
            requester(4, "d@x.com"),
        ]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let freshservice = client(&server);
    let keys = [
        ext("d@x.com"),
        ext("c@x.com"),
        ext("b@x.com"),
        ext("a@x.com"),
    ];

    let lookups = freshservice.lookup(&keys).await.expect("the halves answer");

    for (key, expected) in keys.iter().zip(["4", "3", "2", "1"]) {
        assert_eq!(found(&lookups, key).itsm_user_id.as_str(), expected);
    }
    assert_eq!(freshservice.http().requests_sent(), 3);
}

#[tokio::test]
async fn a_431_to_a_one_entry_filter_refuses_that_entry_without_asking_the_agents() {
    let server = MockServer::start().await;
    filter_get(REQUESTERS, &emails(&["pat@acme.com"]))
        .respond_with(ResponseTemplate::new(431))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{REQUESTERS}/12")))
        .respond_with(body(json!({"requester": requester(12, "sam@x.com")})))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let freshservice = client(&server);

    let lookups = freshservice
        .lookup(&[ext("pat@acme.com"), id("12")])
        .await
        .expect("one entry never fails the lookup");

    let reason = refusal(lookups.get(&ext("pat@acme.com")));
    assert!(reason.contains("HTTP 431"), "{reason}");
    assert_eq!(found(&lookups, &id("12")).itsm_user_id.as_str(), "12");
    assert_eq!(freshservice.http().requests_sent(), 2, "never retried");
}
