//! ServiceDesk Plus failures mapped to SPEC's reasons: a failed
//! `response_status` with HTTP 200, 4015 (rate limited), 4022 and 4002
//! (refused, after which nothing more is sent), 500, an HTML page with 200
//! and JSON that is not a users list.
//!
//! Never reads a failure as an answer: the status code alone does not
//! decide, `response_status` does.

use itsmid_connectors::{Connector, Reason};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{
    AUTHTOKEN, BOT_ID, PAT_ID, USERS, answer, client, ext, failed, found, id, json_answer, user,
    users_get,
};
use crate::support::mount_catch_all;

#[tokio::test]
async fn a_failed_status_with_http_200_is_a_bad_response_with_its_message() {
    let server = MockServer::start().await;
    users_get("email_id", &["pat@acme.com"], 1)
        .respond_with(json_answer(
            200,
            &json!({ "response_status": [{
                "status_code": 4000, "status": "failed",
                "messages": [{ "status_code": 4007, "type": "failed", "message": "Invalid URL" }]
            }]}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let err = client(&server)
        .lookup(&[ext("pat@acme.com")])
        .await
        .expect_err("a failed status");

    assert_eq!(err.reason(), Reason::BadResponse, "{err}");
    assert!(err.to_string().contains("Invalid URL"), "{err}");
}

#[tokio::test]
async fn a_4015_is_retried_and_then_answers() {
    let server = MockServer::start().await;
    users_get("email_id", &["pat@acme.com"], 1)
        .respond_with(failed(200, 4015, "API rate limit reached"))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    users_get("email_id", &["pat@acme.com"], 1)
        .respond_with(answer(vec![user(PAT_ID, "pat@acme.com")]))
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
        PAT_ID
    );
    assert_eq!(client.http().requests_sent(), 2, "the retry is counted");
}

#[tokio::test]
async fn a_4015_that_persists_is_rate_limited() {
    for status in [200, 429] {
        let server = MockServer::start().await;
        users_get("email_id", &["pat@acme.com"], 1)
            .respond_with(failed(status, 4015, "API rate limit reached"))
            .expect(4)
            .mount(&server)
            .await;
        mount_catch_all(&server).await;

        let err = client(&server)
            .lookup(&[ext("pat@acme.com")])
            .await
            .expect_err("rate limited");

        assert_eq!(err.reason(), Reason::RateLimited, "HTTP {status}: {err}");
    }
}

#[tokio::test]
async fn a_4022_is_auth_failed_and_nothing_more_is_sent() {
    for status in [401, 200] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(USERS))
            .and(header("authtoken", AUTHTOKEN))
            .respond_with(failed(status, 4022, "Invalid API key received"))
            .expect(1)
            .mount(&server)
            .await;
        mount_catch_all(&server).await;
        let client = client(&server);

        let err = client
            .lookup(&[id(BOT_ID), ext("pat@acme.com")])
            .await
            .expect_err("refused credentials");
        assert_eq!(err.reason(), Reason::AuthFailed, "HTTP {status}: {err}");
        let again = client
            .lookup(&[ext("pat@acme.com")])
            .await
            .expect_err("still refused");
        assert_eq!(again.reason(), Reason::AuthFailed);
        assert_eq!(client.http().requests_sent(), 1);
    }
}

#[tokio::test]
async fn a_4002_forbidden_is_auth_failed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(USERS))
        .respond_with(json_answer(
            403,
            &json!({"response_status": {"status_code": 4002, "status": "failed",
                "messages": [{"message": "UNAUTHORISED", "type": "failed"}]}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let err = client(&server)
        .lookup(&[ext("pat@acme.com")])
        .await
        .expect_err("forbidden");

    assert_eq!(err.reason(), Reason::AuthFailed, "{err}");
}

#[tokio::test]
async fn a_500_that_persists_is_unreachable() {
    let server = MockServer::start().await;
    users_get("email_id", &["pat@acme.com"], 1)
        .respond_with(failed(500, 4004, "Internal error"))
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
    users_get("email_id", &["pat@acme.com"], 1)
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            "<html><head><title>ServiceDesk Plus</title></head><body>Log in</body></html>",
            "text/html; charset=utf-8",
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let err = client(&server)
        .lookup(&[ext("pat@acme.com")])
        .await
        .expect_err("a login page");

    assert_eq!(err.reason(), Reason::BadResponse, "{err}");
}

#[tokio::test]
async fn json_that_is_not_a_users_list_is_a_bad_response() {
    let server = MockServer::start().await;
    users_get("email_id", &["pat@acme.com"], 1)
        .respond_with(json_answer(200, &json!({ "result": [] })))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let err = client(&server)
        .lookup(&[ext("pat@acme.com")])
        .await
        .expect_err("not ServiceDesk Plus");

    assert_eq!(err.reason(), Reason::BadResponse, "{err}");
}
