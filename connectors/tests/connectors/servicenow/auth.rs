//! ServiceNow credentials: the bearer header, a refused login (401, 403)
//! that stops every further request, and `whoami` by the configured
//! username.
//!
//! Never lets a refused credential be tried again in the same run: each
//! test counts the requests that reached the server.

use itsmid_connectors::servicenow::Client;
use itsmid_connectors::{Connector, CredentialOwner, Reason, System};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer};

use super::{
    BOT_BASIC, BOT_ID, PAT_ID, TABLE, answer, client, error_body, ext, found, id, row, table_get,
};
use crate::support::{basic, bearer, mount_catch_all, settings};

#[tokio::test]
async fn a_bearer_token_is_sent_in_the_authorization_header() {
    let server = MockServer::start().await;
    table_get(&format!("sys_idIN{BOT_ID}"), "10")
        .and(header("authorization", "Bearer snow-token"))
        .respond_with(answer(vec![row(BOT_ID, "moveworks.bot")]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let client = Client::new(settings(System::ServiceNow, &server, bearer("snow-token")))
        .expect("valid settings");

    let lookups = client.lookup(&[id(BOT_ID)]).await.expect("an answer");

    assert_eq!(found(&lookups, &id(BOT_ID)).itsm_user_id.as_str(), BOT_ID);
}

async fn assert_auth_failure_stops_requests(status: u16, message: &str, detail: &str) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(TABLE))
        .respond_with(error_body(status, message, detail))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let client = client(&server);

    let err = client
        .lookup(&[id(BOT_ID), ext("pat.lee")])
        .await
        .expect_err("refused credentials");
    assert_eq!(err.reason(), Reason::AuthFailed, "{err}");
    let again = client.whoami().await.expect_err("still refused");
    assert_eq!(again.reason(), Reason::AuthFailed);
    assert_eq!(client.http().requests_sent(), 1);
}

#[tokio::test]
async fn http_401_is_auth_failed_and_nothing_more_is_sent() {
    assert_auth_failure_stops_requests(
        401,
        "User Not Authenticated",
        "Required to provide Auth information",
    )
    .await;
}

#[tokio::test]
async fn http_403_is_auth_failed_and_nothing_more_is_sent() {
    assert_auth_failure_stops_requests(
        403,
        "User Not Authorized",
        "Failed API level ACL Validation",
    )
    .await;
}

#[tokio::test]
async fn whoami_with_basic_credentials_looks_up_the_username() {
    let server = MockServer::start().await;
    table_get("user_name=bot", "10")
        .and(header("authorization", BOT_BASIC))
        .respond_with(answer(vec![row(BOT_ID, "bot")]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let owner = client(&server).whoami().await.expect("an answer");

    match owner {
        CredentialOwner::Known(user) => assert_eq!(user.itsm_user_id.as_str(), BOT_ID),
        other => panic!("expected Known, got {other:?}"),
    }
}

#[tokio::test]
async fn whoami_is_unknown_when_the_username_is_not_found() {
    let server = MockServer::start().await;
    // A widened answer names someone else: still unknown.
    table_get("user_name=bot", "10")
        .respond_with(answer(vec![row(PAT_ID, "pat.lee")]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let owner = client(&server).whoami().await.expect("an answer");

    assert_eq!(owner, CredentialOwner::Unknown);
}

#[tokio::test]
async fn whoami_with_a_bearer_token_sends_no_request() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(answer(vec![]))
        .expect(0)
        .mount(&server)
        .await;
    let client = Client::new(settings(System::ServiceNow, &server, bearer("snow-token")))
        .expect("valid settings");

    assert_eq!(
        client.whoami().await.expect("an answer"),
        CredentialOwner::Unknown
    );
    assert_eq!(client.http().requests_sent(), 0);
}

#[tokio::test]
async fn whoami_with_an_unsafe_username_sends_no_request() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(answer(vec![]))
        .expect(0)
        .mount(&server)
        .await;
    let client = Client::new(settings(
        System::ServiceNow,
        &server,
        basic("bot^NQactive=true", "secret"),
    ))
    .expect("valid settings");

    assert_eq!(
        client.whoami().await.expect("an answer"),
        CredentialOwner::Unknown
    );
}
