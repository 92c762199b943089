//! Freshservice credentials: `whoami` through `/agents/me`, which names an
//! agent or cannot say, and a refused key (401, 403) that stops every
//! further request.
//!
//! Never lets a refused key be tried again in the same run: each test
//! counts the requests that reached the server.

use itsmid_connectors::{Connector, CredentialOwner, Reason};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{KEY_BASIC, REQUESTERS, agent, body, client, ext, failure};
use crate::support::mount_catch_all;

#[tokio::test]
async fn whoami_names_the_agent_the_key_belongs_to() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/agents/me"))
        .and(header("authorization", KEY_BASIC))
        .respond_with(body(
            json!({"agent": agent(19_000_000_001, "moveworks-bot@acme.com")}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    match client(&server).whoami().await.expect("an answer") {
        CredentialOwner::Known(user) => {
            assert_eq!(user.itsm_user_id.as_str(), "19000000001");
            assert_eq!(user.record_kind.as_deref(), Some("agent"));
            assert_eq!(
                user.external_id.map(|e| e.into_string()).as_deref(),
                Some("moveworks-bot@acme.com")
            );
        }
        CredentialOwner::Unknown => panic!("expected the agent"),
    }
}

#[tokio::test]
async fn whoami_reads_a_bare_agent_and_cannot_say_for_anything_else() {
    // `agents/me` is not in Freshservice's published reference: a bare agent
    // (Freshdesk's shape) is read too, and an answer that is neither leaves
    // the owner unknown instead of failing the system.
    for (answer, expected) in [
        (
            agent(19_000_000_001, "moveworks-bot@acme.com"),
            Some("19000000001"),
        ),
        (json!({"message": "not an agent"}), None),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/api/v2/agents/me"))
            .respond_with(body(answer))
            .expect(1)
            .mount(&server)
            .await;
        mount_catch_all(&server).await;
        match (client(&server).whoami().await.expect("an answer"), expected) {
            (CredentialOwner::Known(user), Some(id)) => assert_eq!(user.itsm_user_id.as_str(), id),
            (CredentialOwner::Unknown, None) => {}
            (other, _) => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn whoami_is_unknown_when_agents_me_answers_404() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/agents/me"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let owner = client(&server).whoami().await.expect("not an error");

    assert_eq!(owner, CredentialOwner::Unknown);
}

async fn assert_auth_failure_stops_requests(status: u16) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(REQUESTERS))
        .respond_with(failure(
            status,
            json!({"code": "invalid_credentials",
                   "message": "You have to be logged in to perform this action."}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let client = client(&server);

    let err = client
        .lookup(&[ext("pat@acme.com")])
        .await
        .expect_err("refused");
    assert_eq!(err.reason(), Reason::AuthFailed, "{err}");
    let again = client.whoami().await.expect_err("still refused");
    assert_eq!(again.reason(), Reason::AuthFailed);
    assert_eq!(client.http().requests_sent(), 1);
}

#[tokio::test]
async fn http_401_is_auth_failed_and_nothing_more_is_sent() {
    assert_auth_failure_stops_requests(401).await;
}

#[tokio::test]
async fn http_403_is_auth_failed_and_nothing_more_is_sent() {
    assert_auth_failure_stops_requests(403).await;
}
