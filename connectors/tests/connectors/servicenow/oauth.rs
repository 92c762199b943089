//! ServiceNow `oauth_password`: the exact token requests (the password
//! grant, then the refresh grant), the access token as `Bearer`, renewal
//! once the token expires or a request gets 401 (refresh before password),
//! and a refused password grant as the only `auth_failed`.
//!
//! Never lets a secret out: a canary client secret, password and refresh
//! token are looked for in every `Debug` and error text.

use itsmid_connectors::servicenow::Client;
use itsmid_connectors::{
    Connector, CredentialOwner, Credentials, GrantKind, OAuthGrant, Reason, System, TokenScheme,
};
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{body_string, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{BOT_ID, answer, error_body, found, id, row, table_get};
use crate::support::{mount_catch_all, settings};

const TOKEN: &str = "/oauth_token.do";
const CLIENT_SECRET: &str = "canary-client-secret-7Qx";
const PASSWORD: &str = "canary-password-9Zk";
const REFRESH: &str = "canary-refresh-token-4Wm";
const FORM: &str = "application/x-www-form-urlencoded";

fn password_form() -> String {
    format!(
        "grant_type=password&client_id=snow-client&client_secret={CLIENT_SECRET}\
         &username=moveworks.bot&password={PASSWORD}"
    )
}

fn refresh_form(refresh: &str) -> String {
    format!(
        "grant_type=refresh_token&client_id=snow-client&client_secret={CLIENT_SECRET}\
         &refresh_token={refresh}"
    )
}

fn credentials(server: &MockServer) -> Credentials {
    let base: url::Url = server.uri().parse().expect("a URL");
    Credentials::OAuth(OAuthGrant {
        token_url: base.join(TOKEN).expect("a URL"),
        client_id: "snow-client".into(),
        client_secret: Some(SecretString::from(CLIENT_SECRET)),
        kind: GrantKind::Password {
            username: "moveworks.bot".into(),
            password: SecretString::from(PASSWORD),
        },
        scheme: TokenScheme::Bearer,
    })
}

fn client(server: &MockServer) -> Client {
    Client::new(settings(System::ServiceNow, server, credentials(server))).expect("valid settings")
}

/// The instance's token answer.
fn issued(access: &str, refresh: &str, expires_in: u64) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(
        json!({
            "access_token": access, "refresh_token": refresh, "scope": "useraccount",
            "token_type": "Bearer", "expires_in": expires_in
        })
        .to_string(),
        "application/json;charset=UTF-8",
    )
}

/// The instance's refusal of a grant.
fn denied() -> ResponseTemplate {
    ResponseTemplate::new(401).set_body_raw(
        r#"{"error_description":"access_denied","error":"server_error"}"#,
        "application/json;charset=UTF-8",
    )
}

fn grant(form: String) -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path(TOKEN))
        .and(header("content-type", FORM))
        .and(body_string(form))
}

fn lookup_bot(bearer: &str) -> wiremock::MockBuilder {
    table_get(&format!("sys_idIN{BOT_ID}"), "10")
        .and(header("authorization", format!("Bearer {bearer}").as_str()))
}

fn bot_found() -> ResponseTemplate {
    answer(vec![row(BOT_ID, "moveworks.bot")])
}

fn unauthenticated() -> ResponseTemplate {
    error_body(
        401,
        "User Not Authenticated",
        "Required to provide Auth information",
    )
}

#[tokio::test]
async fn the_password_grant_is_a_form_post_and_its_access_token_the_bearer() {
    let server = MockServer::start().await;
    grant(password_form())
        .and(header("accept", "application/json"))
        .respond_with(issued("access-1", REFRESH, 1799))
        .expect(1)
        .mount(&server)
        .await;
    lookup_bot("access-1")
        .respond_with(bot_found())
        .expect(2)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let client = client(&server);

    for _ in 0..2 {
        let lookups = client.lookup(&[id(BOT_ID)]).await.expect("an answer");
        assert_eq!(found(&lookups, &id(BOT_ID)).itsm_user_id.as_str(), BOT_ID);
    }
    assert_eq!(
        client.http().requests_sent(),
        3,
        "one token request, kept for its lifetime, and two lookups"
    );
}

#[tokio::test]
async fn an_expired_access_token_is_renewed_with_the_refresh_grant() {
    let server = MockServer::start().await;
    // `expires_in` 0: expired as soon as it is used once.
    grant(password_form())
        .respond_with(issued("access-1", REFRESH, 0))
        .expect(1)
        .mount(&server)
        .await;
    grant(refresh_form(REFRESH))
        .respond_with(issued("access-2", REFRESH, 1799))
        .expect(1)
        .mount(&server)
        .await;
    lookup_bot("access-1")
        .respond_with(bot_found())
        .expect(1)
        .mount(&server)
        .await;
    lookup_bot("access-2")
        .respond_with(bot_found())
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let client = client(&server);

    client.lookup(&[id(BOT_ID)]).await.expect("an answer");
    client.lookup(&[id(BOT_ID)]).await.expect("an answer");
    assert_eq!(client.http().requests_sent(), 4);
}

#[tokio::test]
async fn a_401_is_renewed_with_the_refresh_grant_and_the_request_sent_once_more() {
    let server = MockServer::start().await;
    grant(password_form())
        .respond_with(issued("access-1", REFRESH, 1799))
        .expect(1)
        .mount(&server)
        .await;
    grant(refresh_form(REFRESH))
        .respond_with(issued("access-2", "refresh-2", 1799))
        .expect(1)
        .mount(&server)
        .await;
    lookup_bot("access-1")
        .respond_with(unauthenticated())
        .expect(1)
        .mount(&server)
        .await;
    lookup_bot("access-2")
        .respond_with(bot_found())
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let client = client(&server);

    let lookups = client.lookup(&[id(BOT_ID)]).await.expect("an answer");
    assert_eq!(found(&lookups, &id(BOT_ID)).itsm_user_id.as_str(), BOT_ID);
    assert_eq!(client.http().requests_sent(), 4);
}

#[tokio::test]
async fn a_refused_refresh_token_falls_back_to_the_password_grant_once() {
    let server = MockServer::start().await;
    grant(password_form())
        .respond_with(issued("access-1", REFRESH, 1799))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    grant(password_form())
        .respond_with(issued("access-2", "refresh-2", 1799))
        .expect(1)
        .mount(&server)
        .await;
    grant(refresh_form(REFRESH))
        .respond_with(denied())
        .expect(1)
        .mount(&server)
        .await;
    lookup_bot("access-1")
        .respond_with(unauthenticated())
        .expect(1)
        .mount(&server)
        .await;
    lookup_bot("access-2")
        .respond_with(bot_found())
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let client = client(&server);

    let lookups = client.lookup(&[id(BOT_ID)]).await.expect("an answer");
    assert_eq!(found(&lookups, &id(BOT_ID)).itsm_user_id.as_str(), BOT_ID);
    assert_eq!(
        client.http().requests_sent(),
        5,
        "password, refused lookup, refused refresh, password, lookup"
    );
}

#[tokio::test]
async fn a_password_grant_refused_after_a_refused_refresh_is_auth_failed() {
    let server = MockServer::start().await;
    grant(password_form())
        .respond_with(issued("access-1", REFRESH, 1799))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    grant(password_form())
        .respond_with(denied())
        .expect(1)
        .mount(&server)
        .await;
    grant(refresh_form(REFRESH))
        .respond_with(denied())
        .expect(1)
        .mount(&server)
        .await;
    lookup_bot("access-1")
        .respond_with(unauthenticated())
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let client = client(&server);

    let err = client.lookup(&[id(BOT_ID)]).await.expect_err("refused");
    assert_eq!(err.reason(), Reason::AuthFailed, "{err}");
    let again = client.whoami().await.expect_err("nothing more is sent");
    assert_eq!(again.reason(), Reason::AuthFailed);
    assert_eq!(client.http().requests_sent(), 4);
}

#[tokio::test]
async fn a_second_401_after_the_renewal_is_auth_failed_without_another_renewal() {
    let server = MockServer::start().await;
    grant(password_form())
        .respond_with(issued("access-1", REFRESH, 1799))
        .expect(1)
        .mount(&server)
        .await;
    grant(refresh_form(REFRESH))
        .respond_with(issued("access-2", REFRESH, 1799))
        .expect(1)
        .mount(&server)
        .await;
    lookup_bot("access-1")
        .respond_with(unauthenticated())
        .expect(1)
        .mount(&server)
        .await;
    lookup_bot("access-2")
        .respond_with(unauthenticated())
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let client = client(&server);

    let err = client.lookup(&[id(BOT_ID)]).await.expect_err("refused");
    assert_eq!(err.reason(), Reason::AuthFailed, "{err}");
    client.lookup(&[id(BOT_ID)]).await.expect_err("blocked");
    assert_eq!(client.http().requests_sent(), 4);
}

#[tokio::test]
async fn a_refused_first_password_grant_is_auth_failed_without_an_api_request() {
    let server = MockServer::start().await;
    grant(password_form())
        .respond_with(denied())
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let client = client(&server);

    let err = client.lookup(&[id(BOT_ID)]).await.expect_err("refused");
    assert_eq!(err.reason(), Reason::AuthFailed, "{err}");
    client.whoami().await.expect_err("nothing more is sent");
    assert_eq!(client.http().requests_sent(), 1);
}

#[tokio::test]
async fn the_credentials_owner_is_the_password_grants_username() {
    let server = MockServer::start().await;
    grant(password_form())
        .respond_with(issued("access-1", REFRESH, 1799))
        .expect(1)
        .mount(&server)
        .await;
    table_get("user_name=moveworks.bot", "10")
        .and(header("authorization", "Bearer access-1"))
        .respond_with(bot_found())
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let client = client(&server);

    match client.whoami().await.expect("an answer") {
        CredentialOwner::Known(user) => assert_eq!(user.itsm_user_id.as_str(), BOT_ID),
        other => panic!("expected the bot, got {other:?}"),
    }
}

#[tokio::test]
async fn no_secret_of_the_password_grant_appears_in_debug_or_error_text() {
    let server = MockServer::start().await;
    grant(password_form())
        .respond_with(issued("access-1", REFRESH, 1799))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    grant(password_form())
        .respond_with(denied())
        .mount(&server)
        .await;
    grant(refresh_form(REFRESH))
        .respond_with(denied())
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(unauthenticated())
        .mount(&server)
        .await;
    let credentials = credentials(&server);
    let client = client(&server);

    let err = client.lookup(&[id(BOT_ID)]).await.expect_err("refused");
    let texts = [
        format!("{credentials:?}"),
        format!("{:?}", client.http()),
        format!("{err}"),
        format!("{err:?}"),
        format!("{:?}", client.whoami().await),
    ];
    for text in texts {
        for canary in [CLIENT_SECRET, PASSWORD, REFRESH, "access-1"] {
            assert!(!text.contains(canary), "{canary} in {text}");
        }
    }
}

/// The demo fixture's OAuth client and service account.
fn demo_grant(sim: &itsmid_connectors::sim::AnySimulator, password: &str) -> Client {
    let base: url::Url = sim.uri().parse().expect("a URL");
    let credentials = Credentials::OAuth(OAuthGrant {
        token_url: base.join(TOKEN).expect("a URL"),
        client_id: "demo-snow-client".into(),
        client_secret: Some(SecretString::from("demo-snow-client-secret")),
        kind: GrantKind::Password {
            username: "moveworks.bot".into(),
            password: SecretString::from(password),
        },
        scheme: TokenScheme::Bearer,
    });
    Client::new(settings(System::ServiceNow, &sim.server, credentials)).expect("valid settings")
}

async fn demo_simulator() -> itsmid_connectors::sim::AnySimulator {
    itsmid_connectors::sim::AnySimulator::start(
        System::ServiceNow,
        "fixtures/servicenow.json",
        &crate::support::fixture("servicenow.json"),
        None,
        true,
    )
    .await
    .expect("the demo fixture starts")
}

#[tokio::test]
async fn the_simulator_issues_tokens_for_the_password_grant_and_accepts_them() {
    let sim = demo_simulator().await;
    let client = demo_grant(&sim, "demo-snow-password");

    let lookups = client.lookup(&[id(BOT_ID)]).await.expect("an answer");
    assert_eq!(found(&lookups, &id(BOT_ID)).itsm_user_id.as_str(), BOT_ID);
    match client.whoami().await.expect("an answer") {
        CredentialOwner::Known(user) => assert_eq!(user.itsm_user_id.as_str(), BOT_ID),
        other => panic!("expected the bot, got {other:?}"),
    }
    assert_eq!(client.http().requests_sent(), 3, "one token, two lookups");
}

#[tokio::test]
async fn the_simulator_refuses_a_wrong_password_and_an_unknown_bearer() {
    let sim = demo_simulator().await;
    let client = demo_grant(&sim, "wrong-password");
    let err = client.lookup(&[id(BOT_ID)]).await.expect_err("refused");
    assert_eq!(err.reason(), Reason::AuthFailed, "{err}");
    assert_eq!(client.http().requests_sent(), 1);

    let forged = Client::new(settings(
        System::ServiceNow,
        &sim.server,
        crate::support::bearer("sim-access-0000-0000000000000000"),
    ))
    .expect("valid settings");
    let err = forged.lookup(&[id(BOT_ID)]).await.expect_err("refused");
    assert_eq!(err.reason(), Reason::AuthFailed, "{err}");
}

#[tokio::test]
async fn the_simulator_answers_the_refresh_grant_with_its_own_refresh_tokens_only() {
    let sim = demo_simulator().await;
    let http = reqwest::Client::new();
    let token = |form: Vec<(&'static str, String)>| {
        let http = http.clone();
        let url = format!("{}{TOKEN}", sim.uri());
        async move {
            let reply = http.post(url).form(&form).send().await.expect("an answer");
            let status = reply.status().as_u16();
            let body: serde_json::Value = reply.json().await.expect("JSON");
            (status, body)
        }
    };
    let client = |id: &str| {
        vec![
            ("client_id", id.to_owned()),
            ("client_secret", "demo-snow-client-secret".to_owned()),
        ]
    };
    let mut password = client("demo-snow-client");
    password.push(("grant_type", "password".into()));
    password.push(("username", "moveworks.bot".into()));
    password.push(("password", "demo-snow-password".into()));
    let (status, first) = token(password).await;
    assert_eq!(status, 200, "{first}");
    let refresh = first["refresh_token"].as_str().expect("a refresh token");

    let mut renew = client("demo-snow-client");
    renew.push(("grant_type", "refresh_token".into()));
    renew.push(("refresh_token", refresh.into()));
    let (status, second) = token(renew.clone()).await;
    assert_eq!(status, 200, "{second}");
    assert_ne!(second["access_token"], first["access_token"]);

    let mut unknown = client("demo-snow-client");
    unknown.push(("grant_type", "refresh_token".into()));
    unknown.push(("refresh_token", "made-up".into()));
    let (status, body) = token(unknown).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("server_error"))
    );
}
