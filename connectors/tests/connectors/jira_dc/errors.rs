//! Jira Data Center failures mapped to SPEC's reasons: basic
//! authentication switched off for the instance (401 in text, 403 in
//! Jira's ErrorCollection) and the CAPTCHA Jira asks for after failed
//! logins, each with its own fix; a plain 401 or 403 with the generic one;
//! nothing sent after any of them; 429, 500, HTML with 200 and a dropped
//! connection.
//!
//! Never reads a failure as an answer. No test sleeps: retries use the
//! millisecond backoff of `support::settings` and `Retry-After: 0`.

use itsmid_connectors::jira_dc::Client;
use itsmid_connectors::{Connector, ConnectorError, CredentialOwner, Reason, System};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{
    MYSELF_PATH, PAT_KEY, SEARCH_PATH, USER_PATH, bot_credentials, by_external, by_key, client,
    json_answer, requests, user_json,
};
use crate::support::{dropping_server, mount_catch_all, settings};

const DISABLED: &str = "Basic Authentication has been disabled on this instance.";

/// The refusals of an instance with basic authentication switched off.
fn basic_auth_disabled() -> [(&'static str, ResponseTemplate); 3] {
    [
        (
            "401 text",
            ResponseTemplate::new(401).set_body_raw(DISABLED, "text/plain;charset=UTF-8"),
        ),
        (
            "403 ErrorCollection",
            ResponseTemplate::new(403).set_body_raw(
                format!(r#"{{"errorMessages":["{DISABLED}"],"errors":{{}}}}"#),
                "application/json;charset=UTF-8",
            ),
        ),
        (
            "401 HTML",
            ResponseTemplate::new(401).set_body_raw(
                format!("<html><body><h1>HTTP Status 401</h1><p>{DISABLED}</p></body></html>"),
                "text/html;charset=UTF-8",
            ),
        ),
    ]
}

fn assert_names_the_token(err: &ConnectorError, case: &str) {
    assert_eq!(err.reason(), Reason::AuthFailed, "{case}");
    assert!(
        matches!(err, ConnectorError::AuthRefused { .. }),
        "{case}: {err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("personal access token"), "{case}: {text}");
    assert!(text.contains("bearer"), "{case}: {text}");
}

#[tokio::test]
async fn disabled_basic_authentication_fails_a_lookup_with_the_personal_access_token_fix() {
    for (case, refusal) in basic_auth_disabled() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(USER_PATH))
            .respond_with(refusal)
            .expect(1)
            .mount(&server)
            .await;
        mount_catch_all(&server).await;
        let jira = client(&server, bot_credentials());

        let err = jira
            .lookup(&[by_key(PAT_KEY), by_key("JIRAUSER10101")])
            .await
            .expect_err("refused");

        assert_names_the_token(&err, case);
        assert!(
            err.to_string().contains(USER_PATH),
            "{case}: names the path: {err}"
        );
        let again = jira.whoami().await.expect_err("blocked after the refusal");
        assert!(
            matches!(again, ConnectorError::AuthBlocked { .. }),
            "{case}: {again}"
        );
        assert_eq!(requests(&server).await, 1, "{case}: no retry");
    }
}

#[tokio::test]
async fn disabled_basic_authentication_fails_whoami_with_the_personal_access_token_fix() {
    for (case, refusal) in basic_auth_disabled() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(MYSELF_PATH))
            .respond_with(refusal)
            .expect(1)
            .mount(&server)
            .await;
        mount_catch_all(&server).await;
        let jira = client(&server, bot_credentials());

        let err = jira.whoami().await.expect_err("refused");

        assert_names_the_token(&err, case);
        assert_eq!(requests(&server).await, 1, "{case}");
    }
}

#[tokio::test]
async fn a_plain_401_or_403_is_auth_rejected_without_the_token_fix() {
    let cases = [
        (
            401,
            r#"{"message":"Client must be authenticated to access this resource.","status-code":401}"#,
            "application/json",
        ),
        (
            401,
            "Basic authentication with passwords is deprecated.",
            "text/plain",
        ),
        (
            403,
            r#"{"errorMessages":["You do not have the permission to see the specified user."],"errors":{}}"#,
            "application/json",
        ),
        (401, "", "text/plain"),
    ];
    for (status, body, content_type) in cases {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(SEARCH_PATH))
            .respond_with(ResponseTemplate::new(status).set_body_raw(body, content_type))
            .expect(1)
            .mount(&server)
            .await;
        mount_catch_all(&server).await;
        let jira = client(&server, bot_credentials());

        let err = jira
            .lookup(&[by_external("pat@acme.com"), by_external("kim@acme.com")])
            .await
            .expect_err("refused");

        assert_eq!(err.reason(), Reason::AuthFailed, "{body}");
        assert!(
            matches!(err, ConnectorError::AuthRejected { .. }),
            "{body}: {err:?}"
        );
        let text = err.to_string();
        assert!(!text.contains("personal access token"), "{text}");
        assert!(!text.contains("CAPTCHA"), "{text}");
        assert!(text.contains("check the credentials"), "{text}");
        assert_eq!(requests(&server).await, 1, "{body}: no retry");
    }
}

#[tokio::test]
async fn a_captcha_challenge_names_the_captcha() {
    for target in [USER_PATH, MYSELF_PATH] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(target))
            .respond_with(
                ResponseTemplate::new(403)
                    .insert_header(
                        "X-Authentication-Denied-Reason",
                        "CAPTCHA_CHALLENGE; login-url=https://jira.acme.com/login.jsp",
                    )
                    .set_body_raw(
                        "<html><body>Forbidden</body></html>",
                        "text/html;charset=UTF-8",
                    ),
            )
            .expect(1)
            .mount(&server)
            .await;
        mount_catch_all(&server).await;
        let jira = client(&server, bot_credentials());

        let err = if target == USER_PATH {
            jira.lookup(&[by_key(PAT_KEY)]).await.expect_err("refused")
        } else {
            jira.whoami().await.expect_err("refused")
        };

        assert_eq!(err.reason(), Reason::AuthFailed, "{target}");
        assert!(
            matches!(err, ConnectorError::AuthRefused { .. }),
            "{target}: {err:?}"
        );
        let text = err.to_string();
        assert!(text.contains("CAPTCHA"), "{text}");
        assert!(text.contains("403"), "{text}");
        assert_eq!(requests(&server).await, 1, "{target}: no retry");
    }
}

#[tokio::test]
async fn the_disabled_text_on_a_404_is_not_a_refusal() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(USER_PATH))
        .respond_with(ResponseTemplate::new(404).set_body_raw(
            r#"{"errorMessages":["Basic authentication disabled for user lookups? No: the user does not exist"],"errors":{}}"#,
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    let lookups = jira
        .lookup(&[by_key(PAT_KEY)])
        .await
        .expect("a 404 is an answer");

    assert!(matches!(
        lookups.get(&by_key(PAT_KEY)),
        Some(itsmid_connectors::Lookup::NotFound { note: None })
    ));
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_and_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(MYSELF_PATH))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(MYSELF_PATH))
        .respond_with(json_answer(user_json(
            "JIRAUSER10000",
            "moveworks-bot",
            Some("moveworks-bot@acme.com"),
            true,
        )))
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
async fn a_500_is_unreachable_after_retries() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(USER_PATH))
        .respond_with(ResponseTemplate::new(500))
        .expect(4)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    let err = jira.lookup(&[by_key(PAT_KEY)]).await.expect_err("down");

    assert_eq!(err.reason(), Reason::Unreachable);
}

#[tokio::test]
async fn a_login_page_with_200_is_a_bad_response() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            "<html><head><title>Log in - Jira</title></head><body>login.jsp</body></html>",
            "text/html;charset=UTF-8",
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    let err = jira
        .lookup(&[by_external("pat@acme.com")])
        .await
        .expect_err("not JSON");

    assert_eq!(err.reason(), Reason::BadResponse);
}

#[tokio::test]
async fn a_user_record_without_a_key_is_a_bad_response() {
    let server = MockServer::start().await;
    let mut keyless = user_json(PAT_KEY, "pat.lee", Some("pat@acme.com"), true);
    keyless["key"] = serde_json::Value::Null;
    Mock::given(method("GET"))
        .and(path(SEARCH_PATH))
        .respond_with(json_answer(serde_json::json!([keyless])))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    let err = jira
        .lookup(&[by_external("pat@acme.com")])
        .await
        .expect_err("a record without a key cannot be an answer");

    assert_eq!(err.reason(), Reason::BadResponse);
    assert!(err.to_string().contains(SEARCH_PATH), "{err}");
}

#[tokio::test]
async fn a_dropped_connection_is_unreachable() {
    let server = MockServer::start().await;
    let (url, accepted) = dropping_server().await;
    let mut settings = settings(System::JiraDc, &server, bot_credentials());
    settings.base_url = url;
    let jira = Client::new(settings).expect("test settings are valid");

    let err = jira
        .lookup(&[by_key(PAT_KEY)])
        .await
        .expect_err("no answer");

    assert_eq!(err.reason(), Reason::Unreachable, "{err}");
    assert_eq!(
        jira.http().requests_sent(),
        4,
        "retried like any transport error"
    );
    assert!(accepted.load(std::sync::atomic::Ordering::SeqCst) >= 1);
}
