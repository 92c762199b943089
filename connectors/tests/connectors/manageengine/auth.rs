//! ManageEngine credentials: `whoami`, which cannot say, and Zoho OAuth on
//! the Cloud: the refresh grant, the token sent as `Zoho-oauthtoken`, one
//! refresh after a refused token, and a revoked refresh token.
//!
//! Never refreshes a token twice in a run, and never sends an API request
//! without a token.

use itsmid_connectors::manageengine::Client;
use itsmid_connectors::{Connector, CredentialOwner, Reason, System};
use serde_json::json;
use wiremock::matchers::{body_string, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{
    AUTHTOKEN, BOT_ID, PAT_ID, TOKEN, answer, authtoken, ext, failed, found, id, json_answer,
    requests, user, users_get, zoho,
};
use crate::support::{mount_catch_all, settings};

#[tokio::test]
async fn whoami_sends_nothing_and_names_nobody() {
    let server = MockServer::start().await;
    mount_catch_all(&server).await;
    for credentials in [
        authtoken(AUTHTOKEN),
        zoho(&server, "client", "secret", "refresh"),
    ] {
        let client = Client::new(settings(System::ManageEngine, &server, credentials))
            .expect("valid settings");

        assert_eq!(
            client.whoami().await.expect("an answer"),
            CredentialOwner::Unknown
        );
        assert_eq!(client.http().requests_sent(), 0);
    }
    assert!(requests(&server).await.is_empty());
}

const ZOHO_FORM: &str = "client_id=1000.CLIENT&client_secret=zoho-secret&grant_type=refresh_token&refresh_token=1000.refresh";

fn zoho_client(server: &MockServer) -> Client {
    Client::new(settings(
        System::ManageEngine,
        server,
        zoho(server, "1000.CLIENT", "zoho-secret", "1000.refresh"),
    ))
    .expect("valid settings")
}

fn token_answer(token: &str) -> ResponseTemplate {
    json_answer(
        200,
        &json!({ "access_token": token, "api_domain": "https://www.zohoapis.com",
                 "token_type": "Bearer", "expires_in": 3600 }),
    )
}

fn token_post() -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path(TOKEN))
        .and(body_string(ZOHO_FORM))
}

#[tokio::test]
async fn a_zoho_token_is_fetched_once_with_the_refresh_grant_and_sent_as_zoho_oauthtoken() {
    let server = MockServer::start().await;
    token_post()
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(token_answer("1000.first"))
        .expect(1)
        .mount(&server)
        .await;
    users_get("id", &[BOT_ID], 1)
        .and(header("authorization", "Zoho-oauthtoken 1000.first"))
        .respond_with(answer(vec![user(BOT_ID, "moveworks-bot@acme.com")]))
        .expect(1)
        .mount(&server)
        .await;
    users_get("email_id", &["pat@acme.com"], 1)
        .and(header("authorization", "Zoho-oauthtoken 1000.first"))
        .respond_with(answer(vec![user(PAT_ID, "pat@acme.com")]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let client = zoho_client(&server);

    let lookups = client
        .lookup(&[id(BOT_ID), ext("pat@acme.com")])
        .await
        .expect("an answer");

    assert_eq!(found(&lookups, &id(BOT_ID)).itsm_user_id.as_str(), BOT_ID);
    assert_eq!(
        found(&lookups, &ext("pat@acme.com")).itsm_user_id.as_str(),
        PAT_ID
    );
    assert_eq!(client.http().requests_sent(), 3, "the token request counts");
    let sent = requests(&server).await;
    assert!(
        sent.iter()
            .all(|request| request.headers.get("authtoken").is_none())
    );
}

#[tokio::test]
async fn a_refused_zoho_token_is_refreshed_once_and_the_request_sent_again() {
    let server = MockServer::start().await;
    token_post()
        .respond_with(token_answer("1000.expired"))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    token_post()
        .respond_with(token_answer("1000.fresh"))
        .with_priority(2)
        .expect(1)
        .mount(&server)
        .await;
    users_get("email_id", &["pat@acme.com"], 1)
        .and(header("authorization", "Zoho-oauthtoken 1000.expired"))
        .respond_with(failed(401, 4022, "Invalid OAuth token"))
        .expect(1)
        .mount(&server)
        .await;
    users_get("email_id", &["pat@acme.com"], 1)
        .and(header("authorization", "Zoho-oauthtoken 1000.fresh"))
        .respond_with(answer(vec![user(PAT_ID, "pat@acme.com")]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let client = zoho_client(&server);

    let lookups = client
        .lookup(&[ext("pat@acme.com")])
        .await
        .expect("an answer");

    assert_eq!(
        found(&lookups, &ext("pat@acme.com")).itsm_user_id.as_str(),
        PAT_ID
    );
    assert_eq!(client.http().requests_sent(), 4);
}

#[tokio::test]
async fn a_zoho_token_refused_again_after_the_refresh_is_auth_failed() {
    let server = MockServer::start().await;
    token_post()
        .respond_with(token_answer("1000.useless"))
        .expect(2)
        .mount(&server)
        .await;
    users_get("email_id", &["pat@acme.com"], 1)
        .respond_with(failed(401, 4022, "Invalid OAuth token"))
        .expect(2)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let client = zoho_client(&server);

    let err = client
        .lookup(&[ext("pat@acme.com")])
        .await
        .expect_err("refused twice");
    assert_eq!(err.reason(), Reason::AuthFailed, "{err}");
    let again = client.lookup(&[id(BOT_ID)]).await.expect_err("no more");
    assert_eq!(again.reason(), Reason::AuthFailed);
    assert_eq!(client.http().requests_sent(), 4);
}

#[tokio::test]
async fn a_revoked_refresh_token_is_auth_failed_without_an_api_request() {
    for status in [400, 200] {
        let server = MockServer::start().await;
        token_post()
            .respond_with(json_answer(status, &json!({ "error": "invalid_code" })))
            .expect(1)
            .mount(&server)
            .await;
        mount_catch_all(&server).await;
        let client = zoho_client(&server);

        let err = client
            .lookup(&[ext("pat@acme.com")])
            .await
            .expect_err("no token");

        assert_eq!(err.reason(), Reason::AuthFailed, "HTTP {status}: {err}");
        assert_eq!(client.http().requests_sent(), 1);
    }
}
