//! Freshservice failures mapped to SPEC's reasons: 429 with `Retry-After`,
//! 500, an HTML page with 200 and a 400 validation failure.
//!
//! Never reads a failure as an answer: an outage or a login page must not
//! look like "no such user". Retries use `Retry-After: 0` and the
//! millisecond backoff of `support::settings`.

use itsmid_connectors::{Connector, Reason};
use serde_json::json;
use wiremock::{MockServer, ResponseTemplate};

use super::{REQUESTERS, client, ext, failure, filter_get, found, requester, requesters};
use crate::support::mount_catch_all;

#[tokio::test]
async fn a_429_with_retry_after_is_retried_and_then_answers() {
    let server = MockServer::start().await;
    let query = "\"primary_email:'pat@acme.com'\"";
    filter_get(REQUESTERS, query)
        .respond_with(
            failure(429, json!({"message": "rate limited"})).insert_header("retry-after", "0"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    filter_get(REQUESTERS, query)
        .respond_with(requesters(vec![requester(1, "pat@acme.com")]))
        .with_priority(2)
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let client = client(&server);

    let lookups = client
        .lookup(&[ext("pat@acme.com")])
        .await
        .expect("an answer");

    assert_eq!(
        found(&lookups, &ext("pat@acme.com")).itsm_user_id.as_str(),
        "1"
    );
    assert_eq!(client.http().requests_sent(), 2, "the retry is counted");
}

#[tokio::test]
async fn a_500_that_persists_is_unreachable() {
    let server = MockServer::start().await;
    filter_get(REQUESTERS, "\"primary_email:'pat@acme.com'\"")
        .respond_with(failure(500, json!({"message": "internal error"})))
        .expect(4)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let err = client(&server)
        .lookup(&[ext("pat@acme.com")])
        .await
        .expect_err("down");

    assert_eq!(err.reason(), Reason::Unreachable, "{err}");
}

#[tokio::test]
async fn an_html_page_with_200_is_a_bad_response_not_an_empty_answer() {
    let server = MockServer::start().await;
    filter_get(REQUESTERS, "\"primary_email:'pat@acme.com'\"")
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            "<html><body><h1>Helpdesk is under maintenance</h1></body></html>",
            "text/html; charset=utf-8",
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let err = client(&server)
        .lookup(&[ext("pat@acme.com")])
        .await
        .expect_err("not JSON");

    assert_eq!(err.reason(), Reason::BadResponse, "{err}");
}

#[tokio::test]
async fn a_400_validation_failure_is_a_bad_response() {
    let server = MockServer::start().await;
    filter_get(REQUESTERS, "\"primary_email:'pat@acme.com'\"")
        .respond_with(failure(
            400,
            json!({"description": "Validation failed",
                   "errors": [{"field": "query", "message": "lexical error", "code": "invalid_value"}]}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let err = client(&server)
        .lookup(&[ext("pat@acme.com")])
        .await
        .expect_err("refused query");

    assert_eq!(err.reason(), Reason::BadResponse, "{err}");
}
