//! The shared client's access tokens: fetched once, refreshed once on an
//! expired session (401) and never on a refusal (403), and a refused grant
//! stops every further request.

use std::num::NonZeroU32;
use std::time::Duration;

use itsmid_connectors::http::RequestSpec;
use itsmid_connectors::{
    ConnectorError, Credentials, GrantKind, HttpClient, HttpSettings, Integration, OAuthGrant,
    Reason, TokenScheme,
};
use secrecy::SecretString;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::mount_catch_all;

fn client(server: &MockServer) -> HttpClient {
    let base: url::Url = server.uri().parse().expect("a URL");
    let grant = OAuthGrant {
        token_url: base.join("/token").expect("a URL"),
        client_id: "client".into(),
        client_secret: Some(SecretString::from("secret")),
        kind: GrantKind::ClientCredentials,
        scheme: TokenScheme::Bearer,
    };
    HttpClient::new(
        Integration::new("salesforce"),
        base,
        Credentials::OAuth(grant),
        HttpSettings {
            requests_per_minute: NonZeroU32::new(60_000).expect("not zero"),
            timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(1),
            max_in_flight: 2,
            max_attempts: 4,
            retry_budget: Duration::from_secs(2),
            base_backoff: Duration::from_millis(5),
            record: false,
        },
    )
    .expect("a client")
}

fn token(value: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(
        format!(r#"{{"access_token":"{value}","token_type":"Bearer"}}"#),
        "application/json",
    )
}

fn api(client: &HttpClient) -> RequestSpec {
    RequestSpec::get(client.endpoint("/api"))
}

/// A token endpoint that hands out `t1`, then `t2`, and an `/api` that
/// refuses `t1` as expired and answers `t2`: each expected once.
async fn mount_expiring_session(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(token("t1"))
        .up_to_n_times(1)
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(token("t2"))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api"))
        .and(header("authorization", "Bearer t1"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api"))
        .and(header("authorization", "Bearer t2"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("{}", "application/json"))
        .expect(1)
        .mount(server)
        .await;
    mount_catch_all(server).await;
}

#[tokio::test]
async fn a_403_is_a_refusal_and_never_fetches_a_second_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=client_credentials"))
        .respond_with(token("t1"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api"))
        .and(header("authorization", "Bearer t1"))
        .respond_with(ResponseTemplate::new(403))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let client = client(&server);
    let err = client.send(&api(&client)).await.expect_err("refused");
    assert_eq!(err.reason(), Reason::AuthFailed);
    assert_eq!(client.requests_sent(), 2, "the token and the refused call");
}

#[tokio::test]
async fn an_expired_session_fetches_one_new_token_and_resends() {
    let server = MockServer::start().await;
    mount_expiring_session(&server).await;
    let client = client(&server);
    client
        .send(&api(&client))
        .await
        .expect("answered after one refresh");
    assert_eq!(client.requests_sent(), 4);
}

#[tokio::test]
async fn a_probe_whose_token_expired_gets_the_same_one_refresh() {
    let server = MockServer::start().await;
    mount_expiring_session(&server).await;
    let client = client(&server);
    let probe = RequestSpec::probe(client.endpoint("/api"));
    let reply = client.send(&probe).await.expect("answered");
    assert_eq!(reply.status.as_u16(), 200, "read after one refresh");
    assert_eq!(client.requests_sent(), 4);
}

#[tokio::test]
async fn a_probe_refused_after_its_refresh_is_the_probes_to_judge() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(token("t1"))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api"))
        .respond_with(ResponseTemplate::new(401))
        .expect(3)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let client = client(&server);
    let probe = RequestSpec::probe(client.endpoint("/api"));
    let reply = client.send(&probe).await.expect("the probe reads the 401");
    assert_eq!(reply.status.as_u16(), 401);
    // The one refresh of the run is spent: the next 401 is read as it is.
    let reply = client.send(&probe).await.expect("read again");
    assert_eq!(reply.status.as_u16(), 401);
    assert_eq!(client.requests_sent(), 5, "two tokens, three probes");
}

#[tokio::test]
async fn a_refused_grant_stops_every_further_request() {
    for refusal in [
        ResponseTemplate::new(400)
            .set_body_raw(r#"{"error":"invalid_client"}"#, "application/json"),
        // Zoho refuses with 200.
        ResponseTemplate::new(200).set_body_raw(r#"{"error":"invalid_code"}"#, "application/json"),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(refusal)
            .expect(1)
            .mount(&server)
            .await;
        mount_catch_all(&server).await;
        let client = client(&server);
        let first = client.send(&api(&client)).await.expect_err("refused");
        assert_eq!(first.reason(), Reason::AuthFailed, "{first}");
        let second = client.send(&api(&client)).await.expect_err("blocked");
        assert!(
            matches!(second, ConnectorError::AuthBlocked { .. }),
            "{second}"
        );
        assert_eq!(client.requests_sent(), 1, "no second login");
    }
}
