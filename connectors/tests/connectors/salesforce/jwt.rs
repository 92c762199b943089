//! Salesforce `jwt_bearer`: the exact token request (the grant type and
//! one RS256 assertion whose claims the public key verifies), the
//! instance the answer names, a refused assertion as `auth_failed` with
//! Salesforce's reason, and the credentials' owner through the simulator.
//!
//! The key pair under this folder is a test-only key.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use itsmid_connectors::sim::AnySimulator;
use itsmid_connectors::{
    ASSERTION_LIFETIME, Connector, ConnectorError, CredentialOwner, Credentials, ExternalId,
    GrantKind, ItsmUserId, OAuthGrant, Reason, System, TokenScheme,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{BOT_ID, QUERY, by_id, client, found, page, received, sf_json, user_json};
use crate::support::{fixture, mount_catch_all};

const PRIVATE_KEY: &str = include_str!("jwt-private-key.pem");
const PRIVATE_KEY_PKCS1: &str = include_str!("jwt-private-key-pkcs1.pem");
const PUBLIC_KEY: &str = include_str!("jwt-public-key.pem");
const CONSUMER_KEY: &str = "demo-consumer-key";
const USERNAME: &str = "moveworks.bot@acme.com.prod";
const GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

fn jwt(token_server: &MockServer, key: &str, audience: &str) -> Credentials {
    Credentials::OAuth(OAuthGrant {
        token_url: format!("{}/services/oauth2/token", token_server.uri())
            .parse()
            .expect("a valid URL"),
        client_id: CONSUMER_KEY.to_owned(),
        client_secret: None,
        kind: GrantKind::JwtBearer {
            username: USERNAME.to_owned(),
            private_key: SecretString::from(key.to_owned()),
            audience: audience.to_owned(),
        },
        scheme: TokenScheme::Bearer,
    })
}

#[derive(Debug, serde::Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: String,
    exp: u64,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// The form of a token request, and its assertion's claims verified with
/// the public key (RS256 only).
fn verified(body: &[u8]) -> (HashMap<String, String>, Claims) {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let assertion = form.get("assertion").expect("an assertion");
    let header = jsonwebtoken::decode_header(assertion).expect("a JWT header");
    assert_eq!(header.alg, Algorithm::RS256);
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&["https://login.salesforce.com"]);
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    let key = DecodingKey::from_rsa_pem(PUBLIC_KEY.as_bytes()).expect("the public key");
    let claims = jsonwebtoken::decode::<Claims>(assertion, &key, &validation)
        .expect("the public key verifies the assertion")
        .claims;
    (form, claims)
}

#[tokio::test]
async fn jwt_bearer_posts_one_signed_assertion_and_queries_the_instance_it_names() {
    for key in [PRIVATE_KEY, PRIVATE_KEY_PKCS1] {
        let login = MockServer::start().await;
        let instance = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/services/oauth2/token"))
            .and(header("content-type", "application/x-www-form-urlencoded"))
            .respond_with(sf_json(
                200,
                json!({"access_token": "00Dx!jwt", "instance_url": instance.uri(),
                       "scope": "api", "token_type": "Bearer"}),
            ))
            .expect(1)
            .mount(&login)
            .await;
        mount_catch_all(&login).await;
        Mock::given(method("GET"))
            .and(path(QUERY))
            .and(header("authorization", "Bearer 00Dx!jwt"))
            .respond_with(page(
                vec![user_json(BOT_ID, USERNAME, true, "Moveworks", "Bot")],
                None,
            ))
            .expect(1)
            .mount(&instance)
            .await;
        mount_catch_all(&instance).await;
        let salesforce = client(&login, jwt(&login, key, "https://login.salesforce.com"));

        let before = now();
        let lookups = salesforce.lookup(&[by_id(BOT_ID)]).await.expect("lookup");
        found(&lookups, &by_id(BOT_ID));

        let requests = received(&login).await;
        assert_eq!(requests.len(), 1);
        let (form, claims) = verified(&requests[0].body);
        let mut keys: Vec<&str> = form.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["assertion", "grant_type"], "nothing else is sent");
        assert_eq!(form["grant_type"], GRANT);
        assert_eq!(claims.iss, CONSUMER_KEY);
        assert_eq!(claims.sub, USERNAME);
        assert_eq!(claims.aud, "https://login.salesforce.com");
        let lifetime = ASSERTION_LIFETIME.as_secs();
        assert!(
            claims.exp >= before + lifetime && claims.exp <= now() + lifetime,
            "exp {} is 3 minutes from {before}",
            claims.exp
        );
    }
}

#[tokio::test]
async fn a_renewed_token_is_asked_with_a_new_assertion() {
    let login = MockServer::start().await;
    let instance = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .respond_with(sf_json(
            200,
            json!({"access_token": "00Dx!jwt", "instance_url": instance.uri()}),
        ))
        .expect(2)
        .mount(&login)
        .await;
    Mock::given(method("GET"))
        .and(path(QUERY))
        .respond_with(sf_json(
            401,
            json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]),
        ))
        .up_to_n_times(1)
        .mount(&instance)
        .await;
    Mock::given(method("GET"))
        .and(path(QUERY))
        .respond_with(page(vec![], None))
        .mount(&instance)
        .await;
    let salesforce = client(
        &login,
        jwt(&login, PRIVATE_KEY, "https://login.salesforce.com"),
    );

    salesforce
        .lookup(&[by_id(BOT_ID)])
        .await
        .expect("one renewal");

    let requests = received(&login).await;
    assert_eq!(requests.len(), 2);
    for request in &requests {
        let (form, claims) = verified(&request.body);
        assert_eq!(form["grant_type"], GRANT);
        assert_eq!(claims.sub, USERNAME);
    }
}

#[tokio::test]
async fn a_refused_assertion_is_auth_failed_with_salesforces_reason() {
    let login = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .respond_with(sf_json(
            400,
            json!({"error": "invalid_grant", "error_description": "user hasn't approved this consumer"}),
        ))
        .expect(1)
        .mount(&login)
        .await;
    mount_catch_all(&login).await;
    let salesforce = client(
        &login,
        jwt(&login, PRIVATE_KEY, "https://login.salesforce.com"),
    );

    let error = salesforce
        .lookup(&[by_id(BOT_ID)])
        .await
        .expect_err("refused");
    assert_eq!(error.reason(), Reason::AuthFailed);
    assert!(
        matches!(error, ConnectorError::GrantRefused { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("invalid_grant: user hasn't approved this consumer"),
        "{message}"
    );
    let again = salesforce.whoami().await.expect_err("blocked");
    assert_eq!(again.reason(), Reason::AuthFailed);
    assert_eq!(
        received(&login).await.len(),
        1,
        "a refused grant is not retried"
    );
    assert!(!message.contains("BEGIN"), "{message}");
}

async fn simulator() -> AnySimulator {
    AnySimulator::start(
        System::Salesforce,
        "fixtures/salesforce.json",
        &fixture("salesforce.json"),
        None,
        true,
    )
    .await
    .expect("the data starts a simulator")
}

#[tokio::test]
async fn the_simulator_issues_a_token_as_the_user_the_assertion_names() {
    let sim = simulator().await;
    let salesforce = client(
        &sim.server,
        jwt(&sim.server, PRIVATE_KEY, &sim.server.uri()),
    );

    let owner = salesforce.whoami().await.expect("whoami");
    let CredentialOwner::Known(user) = owner else {
        panic!("expected the bot, got {owner:?}");
    };
    assert_eq!(user.itsm_user_id, ItsmUserId::new(BOT_ID));
    assert_eq!(user.external_id, Some(ExternalId::new(USERNAME)));
}

#[tokio::test]
async fn the_simulator_refuses_an_unknown_audience_or_consumer_key() {
    let sim = simulator().await;
    let wrong_audience = client(
        &sim.server,
        jwt(&sim.server, PRIVATE_KEY, "https://elsewhere.example.com"),
    );
    let error = wrong_audience.whoami().await.expect_err("refused");
    assert_eq!(error.reason(), Reason::AuthFailed);
    assert!(error.to_string().contains("audience is invalid"), "{error}");

    let mut credentials = jwt(&sim.server, PRIVATE_KEY, &sim.server.uri());
    if let Credentials::OAuth(grant) = &mut credentials {
        grant.client_id = "another-consumer-key".into();
    }
    let error = client(&sim.server, credentials)
        .whoami()
        .await
        .expect_err("refused");
    assert_eq!(error.reason(), Reason::AuthFailed);
    assert!(error.to_string().contains("invalid_client_id"), "{error}");
}

#[tokio::test]
async fn when_userinfo_cannot_say_the_owner_is_the_user_the_assertion_was_signed_for() {
    let login = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .respond_with(sf_json(
            200,
            json!({"access_token": "00Dx!jwt", "instance_url": login.uri()}),
        ))
        .mount(&login)
        .await;
    Mock::given(method("GET"))
        .and(path("/services/oauth2/userinfo"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&login)
        .await;
    Mock::given(method("GET"))
        .and(path(QUERY))
        .and(wiremock::matchers::query_param(
            "q",
            format!("{} Username IN ('{USERNAME}')", super::SELECT).as_str(),
        ))
        .respond_with(page(
            vec![user_json(BOT_ID, USERNAME, true, "Moveworks", "Bot")],
            None,
        ))
        .expect(1)
        .mount(&login)
        .await;
    mount_catch_all(&login).await;
    let salesforce = client(
        &login,
        jwt(&login, PRIVATE_KEY, "https://login.salesforce.com"),
    );

    let CredentialOwner::Known(user) = salesforce.whoami().await.expect("whoami") else {
        panic!("expected the signed user");
    };
    assert_eq!(user.itsm_user_id, ItsmUserId::new(BOT_ID));
}
