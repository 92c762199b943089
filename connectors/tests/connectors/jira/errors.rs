//! Jira failures mapped to SPEC's reasons: 401 and 403 (after which nothing
//! more is sent), 429 with `Retry-After`, 500, an HTML page with 200, a 400
//! from search and a dropped connection.
//!
//! Never reads a failure as an answer. No test sleeps: retries use the
//! millisecond backoff of `support::settings` and `Retry-After: 0`.

use itsmid_connectors::jira::Client;
use itsmid_connectors::{Connector, ConnectorError, CredentialOwner, Reason, System};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{BOT_ID, bot_credentials, by_email, by_id, client, requests};
use crate::support::{dropping_server, fixture, mount_catch_all, settings};

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

#[tokio::test]
async fn a_dropped_connection_is_unreachable() {
    let server = MockServer::start().await;
    let (url, _) = dropping_server().await;
    let mut settings = settings(System::Jira, &server, bot_credentials());
    settings.base_url = url;
    let jira = Client::new(settings).expect("test settings are valid");

    let err = jira.lookup(&[by_id(BOT_ID)]).await.expect_err("no answer");

    assert_eq!(err.reason(), Reason::Unreachable, "{err}");
    assert_eq!(
        jira.http().requests_sent(),
        4,
        "retried like any transport error"
    );
}
