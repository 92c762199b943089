//! ServiceNow failures mapped to SPEC's reasons: the two kinds of 404, 429
//! with `Retry-After`, 500, an HTML page with 200, JSON of the wrong shape
//! and a dropped connection.
//!
//! Never reads a failure as an answer: an outage or a login page must not
//! look like "no such user". No test sleeps: retries use the millisecond
//! backoff of `support::settings` and `Retry-After: 0`.

use std::sync::atomic::Ordering;

use itsmid_connectors::servicenow::Client;
use itsmid_connectors::{Connector, Reason, System};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{PAT_ID, TABLE, answer, client, error_body, ext, found, is_not_found, row, table_get};
use crate::support::{basic, dropping_server, mount_catch_all, settings};

#[tokio::test]
async fn a_v1_style_404_no_record_found_is_not_found() {
    let server = MockServer::start().await;
    table_get("user_nameINnobody", "10")
        .respond_with(error_body(
            404,
            "No Record found",
            "Record doesn't exist or ACL restricts the record retrieval",
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let lookups = client(&server)
        .lookup(&[ext("nobody")])
        .await
        .expect("an answer");

    assert!(is_not_found(&lookups, &ext("nobody")));
}

#[tokio::test]
async fn a_404_that_is_not_servicenow_is_a_bad_response() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(TABLE))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_raw("<html><body>Not Found</body></html>", "text/html"),
        )
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let err = client(&server)
        .lookup(&[ext("pat.lee")])
        .await
        .expect_err("not an instance");

    assert_eq!(err.reason(), Reason::BadResponse, "{err}");
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_and_then_answers() {
    let server = MockServer::start().await;
    table_get("user_nameINpat.lee", "10")
        .respond_with(
            error_body(
                429,
                "Rate limit exceeded",
                "Rate limit of 100 requests per hour for Table API exceeded",
            )
            .insert_header("retry-after", "0"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    table_get("user_nameINpat.lee", "10")
        .respond_with(answer(vec![row(PAT_ID, "pat.lee")]))
        .with_priority(2)
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let client = client(&server);

    let lookups = client.lookup(&[ext("pat.lee")]).await.expect("an answer");

    assert_eq!(
        found(&lookups, &ext("pat.lee")).itsm_user_id.as_str(),
        PAT_ID
    );
    assert_eq!(client.http().requests_sent(), 2, "the retry is counted");
}

#[tokio::test]
async fn a_429_that_persists_is_rate_limited() {
    let server = MockServer::start().await;
    table_get("user_nameINpat.lee", "10")
        .respond_with(
            error_body(429, "Rate limit exceeded", "Rate limit exceeded")
                .insert_header("retry-after", "0"),
        )
        .expect(4)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let err = client(&server)
        .lookup(&[ext("pat.lee")])
        .await
        .expect_err("rate limited");

    assert_eq!(err.reason(), Reason::RateLimited, "{err}");
}

#[tokio::test]
async fn a_500_that_persists_is_unreachable() {
    let server = MockServer::start().await;
    table_get("user_nameINpat.lee", "10")
        .respond_with(error_body(
            500,
            "Internal server error",
            "additional information",
        ))
        .expect(4)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let err = client(&server)
        .lookup(&[ext("pat.lee")])
        .await
        .expect_err("down");

    assert_eq!(err.reason(), Reason::Unreachable, "{err}");
}

#[tokio::test]
async fn an_html_page_with_200_is_a_bad_response_not_an_empty_answer() {
    let server = MockServer::start().await;
    table_get("user_nameINpat.lee", "10")
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            "<html><head><title>Hibernating Instance</title></head>\
                 <body><h1>Your instance is hibernating</h1></body></html>",
            "text/html; charset=utf-8",
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let err = client(&server)
        .lookup(&[ext("pat.lee")])
        .await
        .expect_err("asleep");

    assert_eq!(err.reason(), Reason::BadResponse, "{err}");
}

#[tokio::test]
async fn json_without_a_result_list_is_a_bad_response() {
    let server = MockServer::start().await;
    table_get("user_nameINpat.lee", "10")
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(r#"{"result":{"sys_id":"x"}}"#, "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let err = client(&server)
        .lookup(&[ext("pat.lee")])
        .await
        .expect_err("not a list");

    assert_eq!(err.reason(), Reason::BadResponse, "{err}");
}

#[tokio::test]
async fn a_dropped_connection_is_unreachable_after_retries() {
    let (url, accepted) = dropping_server().await;
    let unused = MockServer::start().await;
    let mut settings = settings(System::ServiceNow, &unused, basic("bot", "secret"));
    settings.base_url = url;
    let client = Client::new(settings).expect("valid settings");

    let err = client.lookup(&[ext("pat.lee")]).await.expect_err("dropped");

    assert_eq!(err.reason(), Reason::Unreachable, "{err}");
    assert_eq!(client.http().requests_sent(), 4);
    assert!(accepted.load(Ordering::SeqCst) >= 4);
}
