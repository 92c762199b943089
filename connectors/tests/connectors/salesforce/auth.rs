//! Salesforce auth and failures: the configured or token-named instance,
//! client-credentials tokens with one refresh, the daily quota, every
//! failure mapped to its reason, and `userinfo` for the credentials' owner.
//!
//! No test sleeps: retries use the millisecond backoff of
//! `support::settings` and `Retry-After: 0`.

use itsmid_connectors::{
    Connector, ConnectorError, CredentialOwner, ExternalId, ItsmUserId, Reason, System,
};
use serde_json::json;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{
    BOT_ID, KIM_ID, QUERY, TOKEN, by_id, by_username, client, client_with, found, oauth, page,
    received, sf_error, sf_json, user_json,
};
use crate::support::{bearer, mount_catch_all, settings};

#[tokio::test]
async fn a_configured_instance_url_receives_the_queries() {
    let login = MockServer::start().await;
    mount_catch_all(&login).await;
    let instance = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(QUERY))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(page(vec![], None))
        .expect(1)
        .mount(&instance)
        .await;
    mount_catch_all(&instance).await;
    let mut settings = settings(System::Salesforce, &login, bearer(TOKEN));
    settings.instance_url = Some(instance.uri().parse().expect("a valid URL"));
    let salesforce = client_with(settings);

    salesforce
        .lookup(&[by_id(BOT_ID)])
        .await
        .expect("lookup succeeds");

    assert!(received(&login).await.is_empty());
}

fn token_answer(token: &str, instance: &MockServer) -> ResponseTemplate {
    sf_json(
        200,
        json!({
            "access_token": token,
            "signature": "c2lnbmF0dXJl",
            "scope": "api",
            "instance_url": instance.uri(),
            "id": "https://login.salesforce.com/id/00D000000000001AAA/0055e000003MwBtAAK",
            "token_type": "Bearer",
            "issued_at": "1764151200000",
        }),
    )
}

async fn mount_token(login: &MockServer, token: &str, instance: &MockServer, times: u64) {
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .and(body_string_contains("grant_type=client_credentials"))
        .and(body_string_contains("client_id=demo-client"))
        .and(body_string_contains("client_secret=demo-client-secret"))
        .respond_with(token_answer(token, instance))
        .up_to_n_times(times)
        .expect(times)
        .mount(login)
        .await;
}

#[tokio::test]
async fn client_credentials_fetch_one_token_and_query_the_instance_it_names() {
    let login = MockServer::start().await;
    let instance = MockServer::start().await;
    mount_token(&login, "00Dx!first", &instance, 1).await;
    mount_catch_all(&login).await;
    Mock::given(method("GET"))
        .and(path(QUERY))
        .and(header("authorization", "Bearer 00Dx!first"))
        .respond_with(page(
            vec![user_json(
                BOT_ID,
                "moveworks.bot@acme.com.prod",
                true,
                "Moveworks",
                "Bot",
            )],
            None,
        ))
        .expect(2)
        .mount(&instance)
        .await;
    mount_catch_all(&instance).await;
    let salesforce = client(&login, oauth(&login, "demo-client", "demo-client-secret"));

    found(
        &salesforce
            .lookup(&[by_id(BOT_ID)])
            .await
            .expect("first lookup"),
        &by_id(BOT_ID),
    );
    found(
        &salesforce
            .lookup(&[by_username("moveworks.bot@acme.com.prod")])
            .await
            .expect("second lookup"),
        &by_username("moveworks.bot@acme.com.prod"),
    );

    assert_eq!(
        salesforce.http().requests_sent(),
        3,
        "one token request, two queries"
    );
}

#[tokio::test]
async fn a_configured_instance_url_beats_the_one_the_token_names() {
    let login = MockServer::start().await;
    let named = MockServer::start().await;
    mount_catch_all(&named).await;
    let configured = MockServer::start().await;
    mount_token(&login, "00Dx!first", &named, 1).await;
    mount_catch_all(&login).await;
    Mock::given(method("GET"))
        .and(path(QUERY))
        .and(header("authorization", "Bearer 00Dx!first"))
        .respond_with(page(vec![], None))
        .expect(1)
        .mount(&configured)
        .await;
    mount_catch_all(&configured).await;
    let mut settings = settings(
        System::Salesforce,
        &login,
        oauth(&login, "demo-client", "demo-client-secret"),
    );
    settings.instance_url = Some(configured.uri().parse().expect("a valid URL"));
    let salesforce = client_with(settings);

    salesforce
        .lookup(&[by_id(BOT_ID)])
        .await
        .expect("lookup succeeds");

    assert!(received(&named).await.is_empty());
    assert_eq!(salesforce.http().requests_sent(), 2);
}

#[tokio::test]
async fn a_token_naming_a_plain_http_instance_elsewhere_is_a_bad_response() {
    let login = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .respond_with(sf_json(
            200,
            json!({"access_token": "00Dx!first", "instance_url": "http://acme.my.salesforce.com",
                   "token_type": "Bearer"}),
        ))
        .expect(1)
        .mount(&login)
        .await;
    mount_catch_all(&login).await;
    let salesforce = client(&login, oauth(&login, "demo-client", "demo-client-secret"));

    let err = salesforce
        .lookup(&[by_id(BOT_ID)])
        .await
        .expect_err("refused");

    assert_eq!(err.reason(), Reason::BadResponse, "{err}");
    assert_eq!(
        salesforce.http().requests_sent(),
        1,
        "the token went nowhere"
    );
}

#[tokio::test]
async fn an_invalid_session_fetches_one_new_token_and_retries() {
    let login = MockServer::start().await;
    let instance = MockServer::start().await;
    mount_token(&login, "00Dx!expired", &instance, 1).await;
    mount_token(&login, "00Dx!fresh", &instance, 1).await;
    mount_catch_all(&login).await;
    Mock::given(method("GET"))
        .and(path(QUERY))
        .and(header("authorization", "Bearer 00Dx!expired"))
        .respond_with(sf_error(
            401,
            "INVALID_SESSION_ID",
            "Session expired or invalid",
        ))
        .expect(1)
        .mount(&instance)
        .await;
    Mock::given(method("GET"))
        .and(path(QUERY))
        .and(header("authorization", "Bearer 00Dx!fresh"))
        .respond_with(page(
            vec![user_json(
                BOT_ID,
                "moveworks.bot@acme.com.prod",
                true,
                "Moveworks",
                "Bot",
            )],
            None,
        ))
        .expect(1)
        .mount(&instance)
        .await;
    mount_catch_all(&instance).await;
    let salesforce = client(&login, oauth(&login, "demo-client", "demo-client-secret"));

    let lookups = salesforce
        .lookup(&[by_id(BOT_ID)])
        .await
        .expect("the retry succeeds");

    found(&lookups, &by_id(BOT_ID));
    assert_eq!(salesforce.http().requests_sent(), 4);
}

#[tokio::test]
async fn a_second_invalid_session_is_auth_failed_and_nothing_more_is_sent() {
    let login = MockServer::start().await;
    let instance = MockServer::start().await;
    mount_token(&login, "00Dx!expired", &instance, 2).await;
    mount_catch_all(&login).await;
    Mock::given(method("GET"))
        .and(path(QUERY))
        .respond_with(sf_error(
            401,
            "INVALID_SESSION_ID",
            "Session expired or invalid",
        ))
        .expect(2)
        .mount(&instance)
        .await;
    mount_catch_all(&instance).await;
    let salesforce = client(&login, oauth(&login, "demo-client", "demo-client-secret"));

    let err = salesforce
        .lookup(&[by_id(BOT_ID)])
        .await
        .expect_err("refused twice");
    assert_eq!(err.reason(), Reason::AuthFailed, "{err}");
    let again = salesforce
        .lookup(&[by_id(KIM_ID)])
        .await
        .expect_err("blocked");
    assert_eq!(again.reason(), Reason::AuthFailed);

    assert_eq!(salesforce.http().requests_sent(), 4);
}

#[tokio::test]
async fn a_refused_client_is_auth_failed_without_a_query() {
    let login = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .respond_with(sf_json(
            400,
            json!({"error": "invalid_client", "error_description": "invalid client credentials"}),
        ))
        .expect(1)
        .mount(&login)
        .await;
    mount_catch_all(&login).await;
    let salesforce = client(&login, oauth(&login, "demo-client", "wrong"));

    let err = salesforce
        .lookup(&[by_id(BOT_ID)])
        .await
        .expect_err("refused");

    assert_eq!(err.reason(), Reason::AuthFailed, "{err}");
    assert_eq!(salesforce.http().requests_sent(), 1);
}

#[tokio::test]
async fn the_daily_quota_is_rate_limited_after_exactly_one_request() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(QUERY))
        .respond_with(
            sf_error(
                403,
                "REQUEST_LIMIT_EXCEEDED",
                "TotalRequests Limit exceeded.",
            )
            .insert_header("retry-after", "0"),
        )
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let salesforce = client(&server, bearer(TOKEN));

    let err = salesforce
        .lookup(&[by_id(BOT_ID)])
        .await
        .expect_err("quota used up");

    assert_eq!(err.reason(), Reason::RateLimited, "{err}");
    assert!(matches!(err, ConnectorError::RateLimited { .. }));
    assert_eq!(salesforce.http().requests_sent(), 1, "never retried");
}

#[tokio::test]
async fn a_403_for_anything_but_the_quota_is_auth_failed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(QUERY))
        .respond_with(sf_error(
            403,
            "INSUFFICIENT_ACCESS",
            "insufficient access rights",
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let salesforce = client(&server, bearer(TOKEN));

    let err = salesforce
        .lookup(&[by_id(BOT_ID)])
        .await
        .expect_err("refused");

    assert_eq!(err.reason(), Reason::AuthFailed, "{err}");
}

#[tokio::test]
async fn a_malformed_query_is_a_bad_response_that_quotes_no_login() {
    // A 414 is no bad response: it splits the batch (see `limits`).
    let cases = [sf_error(
        400,
        "MALFORMED_QUERY",
        "\nWHERE Username IN ('pat@acme.com.prod' OR\n ^\nERROR at Row:1:Column:80\nunexpected token: OR",
    )];
    for answer in cases {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(QUERY))
            .respond_with(answer)
            .expect(1)
            .mount(&server)
            .await;
        mount_catch_all(&server).await;
        let salesforce = client(&server, bearer(TOKEN));

        let err = salesforce
            .lookup(&[by_id(BOT_ID)])
            .await
            .expect_err("refused");

        assert_eq!(err.reason(), Reason::BadResponse, "{err}");
        assert!(
            !err.to_string().contains("pat@acme"),
            "no login in errors: {err}"
        );
        assert_eq!(salesforce.http().requests_sent(), 1);
    }
}

#[tokio::test]
async fn a_500_is_unreachable_after_four_attempts() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(QUERY))
        .respond_with(sf_error(
            500,
            "UNKNOWN_EXCEPTION",
            "An unexpected error occurred",
        ))
        .expect(4)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let salesforce = client(&server, bearer(TOKEN));

    let err = salesforce.lookup(&[by_id(BOT_ID)]).await.expect_err("down");

    assert_eq!(err.reason(), Reason::Unreachable, "{err}");
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_and_a_persistent_one_is_rate_limited() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(QUERY))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(QUERY))
        .respond_with(page(
            vec![user_json(
                BOT_ID,
                "moveworks.bot@acme.com.prod",
                true,
                "Moveworks",
                "Bot",
            )],
            None,
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let salesforce = client(&server, bearer(TOKEN));
    found(
        &salesforce.lookup(&[by_id(BOT_ID)]).await.expect("retried"),
        &by_id(BOT_ID),
    );
    assert_eq!(salesforce.http().requests_sent(), 2);

    let busy = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(QUERY))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .expect(4)
        .mount(&busy)
        .await;
    let salesforce = client(&busy, bearer(TOKEN));
    let err = salesforce
        .lookup(&[by_id(BOT_ID)])
        .await
        .expect_err("still limited");
    assert_eq!(err.reason(), Reason::RateLimited, "{err}");
}

#[tokio::test]
async fn an_html_page_with_200_is_a_bad_response() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(QUERY))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            "<html><body>Salesforce is down for maintenance</body></html>",
            "text/html; charset=utf-8",
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let salesforce = client(&server, bearer(TOKEN));

    let err = salesforce
        .lookup(&[by_id(BOT_ID)])
        .await
        .expect_err("not JSON");

    assert_eq!(err.reason(), Reason::BadResponse, "{err}");
}

// --- the credentials' owner ---------------------------------------------

#[tokio::test]
async fn userinfo_names_the_tokens_user() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/services/oauth2/userinfo"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(sf_json(
            200,
            json!({
                "sub": "https://login.salesforce.com/id/00D000000000001AAA/0055e000003MwBtAAK",
                "user_id": "0055e000003MwBt",
                "organization_id": "00D000000000001AAA",
                "preferred_username": "moveworks.bot@acme.com.prod",
                "name": "Moveworks Bot",
                "given_name": "Moveworks",
                "family_name": "Bot",
                "email": "bot@acme.com",
                "active": true,
                "user_type": "STANDARD",
            }),
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let salesforce = client(&server, bearer(TOKEN));

    let owner = salesforce.whoami().await.expect("userinfo answers");

    let CredentialOwner::Known(user) = owner else {
        panic!("expected the bot, got {owner:?}");
    };
    assert_eq!(
        user.itsm_user_id,
        ItsmUserId::new(BOT_ID),
        "in its 18-character form"
    );
    assert_eq!(
        user.external_id,
        Some(ExternalId::new("moveworks.bot@acme.com.prod"))
    );
    assert_eq!(user.first_name.as_deref(), Some("Moveworks"));
    assert_eq!(user.last_name.as_deref(), Some("Bot"));
    assert!(user.active);
}

#[tokio::test]
async fn userinfo_answering_404_means_the_owner_is_unknown() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/services/oauth2/userinfo"))
        .respond_with(sf_error(
            404,
            "NOT_FOUND",
            "The requested resource does not exist",
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let salesforce = client(&server, bearer(TOKEN));

    assert_eq!(
        salesforce.whoami().await.expect("a 404 is an answer"),
        CredentialOwner::Unknown
    );
    assert_eq!(salesforce.http().requests_sent(), 1);
}

#[tokio::test]
async fn userinfo_refused_for_its_scope_is_unknown_but_the_quota_is_rate_limited() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/services/oauth2/userinfo"))
        .respond_with(ResponseTemplate::new(403).set_body_raw("Bad_OAuth_Token", "text/plain"))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let salesforce = client(&server, bearer(TOKEN));
    assert_eq!(
        salesforce.whoami().await.expect("a 403 here is an answer"),
        CredentialOwner::Unknown
    );

    let quota = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/services/oauth2/userinfo"))
        .respond_with(sf_error(
            403,
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
        ))
        .expect(1)
        .mount(&quota)
        .await;
    mount_catch_all(&quota).await;
    let salesforce = client(&quota, bearer(TOKEN));
    let err = salesforce.whoami().await.expect_err("quota used up");
    assert_eq!(err.reason(), Reason::RateLimited, "{err}");
}
