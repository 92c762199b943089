//! Jira Data Center credentials: basic auth as user name and password, a
//! personal access token as bearer, `/myself` naming the account they log
//! in as (by key, with its e-mail or, for `lookup_by = "name"`, its user
//! name), a 404 from it meaning the owner is unknown, and the bot's
//! documented time zone.
//!
//! Never guesses an owner: where Jira cannot say, the answer is "unknown".

use itsmid_connectors::{Connector, CredentialOwner, ExternalId, ItsmUser, ItsmUserId, Reason};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{
    BOT_BASIC, BOT_KEY, BOT_TOKEN, MYSELF_PATH, bot_credentials, client, error_collection,
    json_answer, name_client, no_query, user_json,
};
use crate::support::{basic, bearer, mount_catch_all};

fn bot_record() -> serde_json::Value {
    let mut bot = user_json(
        BOT_KEY,
        "moveworks-bot",
        Some("moveworks-bot@acme.com"),
        true,
    );
    bot["displayName"] = json!("Moveworks Bot");
    bot["timeZone"] = json!("America/Danmarkshavn");
    bot
}

fn owner(found: CredentialOwner) -> ItsmUser {
    match found {
        CredentialOwner::Known(user) => user,
        CredentialOwner::Unknown => panic!("expected a known owner"),
    }
}

#[tokio::test]
async fn basic_credentials_are_the_user_name_and_password() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(MYSELF_PATH))
        .and(no_query)
        .and(header("authorization", BOT_BASIC))
        .respond_with(json_answer(bot_record()))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    let bot = owner(jira.whoami().await.expect("myself answers"));

    assert_eq!(bot.itsm_user_id, ItsmUserId::new(BOT_KEY));
    assert_eq!(
        bot.external_id,
        Some(ExternalId::new("moveworks-bot@acme.com"))
    );
    assert_eq!(bot.full_name.as_deref(), Some("Moveworks Bot"));
    assert_eq!(bot.time_zone.as_deref(), Some("America/Danmarkshavn"));
    assert!(bot.active);
    assert_eq!(jira.http().requests_sent(), 1);
}

#[tokio::test]
async fn a_personal_access_token_is_sent_as_bearer() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(MYSELF_PATH))
        .and(no_query)
        .and(header(
            "authorization",
            format!("Bearer {BOT_TOKEN}").as_str(),
        ))
        .respond_with(json_answer(bot_record()))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bearer(BOT_TOKEN));

    let bot = owner(jira.whoami().await.expect("myself answers"));

    assert_eq!(bot.itsm_user_id.as_str(), BOT_KEY);
}

#[tokio::test]
async fn other_basic_credentials_are_encoded_as_given() {
    let server = MockServer::start().await;
    // base64("pat.lee:p@ss:w0rd"): the password may hold a colon.
    Mock::given(method("GET"))
        .and(path(MYSELF_PATH))
        .and(header("authorization", "Basic cGF0LmxlZTpwQHNzOncwcmQ="))
        .respond_with(json_answer(user_json(
            "JIRAUSER10100",
            "pat.lee",
            Some("pat@acme.com"),
            true,
        )))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, basic("pat.lee", "p@ss:w0rd"));

    let pat = owner(jira.whoami().await.expect("myself answers"));

    assert_eq!(pat.itsm_user_id.as_str(), "JIRAUSER10100");
}

#[tokio::test]
async fn myself_answering_404_means_the_owner_is_unknown() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(MYSELF_PATH))
        .and(header("authorization", BOT_BASIC))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    assert_eq!(
        jira.whoami().await.expect("404 is an answer"),
        CredentialOwner::Unknown
    );
}

#[tokio::test]
async fn with_lookup_by_name_the_owner_is_named_by_user_name() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(MYSELF_PATH))
        .and(header("authorization", BOT_BASIC))
        .respond_with(json_answer(bot_record()))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = name_client(&server);

    let bot = owner(jira.whoami().await.expect("myself answers"));

    assert_eq!(bot.itsm_user_id.as_str(), BOT_KEY);
    assert_eq!(bot.external_id, Some(ExternalId::new("moveworks-bot")));
}

#[tokio::test]
async fn a_masked_email_of_the_owner_is_read_back() {
    let server = MockServer::start().await;
    let mut bot = bot_record();
    bot["emailAddress"] = json!("moveworks-bot at acme dot com");
    Mock::given(method("GET"))
        .and(path(MYSELF_PATH))
        .respond_with(json_answer(bot))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    let bot = owner(jira.whoami().await.expect("myself answers"));

    assert_eq!(
        bot.external_id,
        Some(ExternalId::new("moveworks-bot@acme.com"))
    );
}

#[tokio::test]
async fn an_owner_record_without_a_key_is_a_bad_response() {
    let server = MockServer::start().await;
    let mut bot = bot_record();
    if let Some(object) = bot.as_object_mut() {
        object.remove("key");
    }
    Mock::given(method("GET"))
        .and(path(MYSELF_PATH))
        .respond_with(json_answer(bot))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    let err = jira.whoami().await.expect_err("no key, no owner");

    assert_eq!(err.reason(), Reason::BadResponse);
    assert!(err.to_string().contains("no key"), "{err}");
}

#[tokio::test]
async fn myself_refusing_with_an_error_collection_is_auth_failed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(MYSELF_PATH))
        .respond_with(error_collection(
            401,
            "You are not authenticated. Authentication required to perform this operation.",
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bot_credentials());

    let err = jira.whoami().await.expect_err("401");

    assert_eq!(err.reason(), Reason::AuthFailed);
}

#[tokio::test]
async fn the_bot_must_be_in_the_danmarkshavn_time_zone() {
    let server = MockServer::start().await;
    let jira = client(&server, bot_credentials());
    let mut bot = ItsmUser {
        itsm_user_id: ItsmUserId::new(BOT_KEY),
        external_id: Some(ExternalId::new("moveworks-bot@acme.com")),
        active: true,
        first_name: None,
        last_name: None,
        full_name: Some("Moveworks Bot".into()),
        account_type: None,
        time_zone: Some("America/Danmarkshavn".into()),
        inactive_reason: None,
        record_kind: None,
    };
    assert!(jira.bot_setting_problems(&bot).is_empty());

    bot.time_zone = Some("Europe/Berlin".into());
    let problems = jira.bot_setting_problems(&bot);
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].setting, "timeZone");
    assert_eq!(problems[0].expected, "America/Danmarkshavn");
    assert_eq!(problems[0].actual.as_deref(), Some("Europe/Berlin"));
    assert!(
        problems[0].screen.contains("Time zone"),
        "{}",
        problems[0].screen
    );

    bot.time_zone = None;
    let problems = jira.bot_setting_problems(&bot);
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].actual, None);
    assert_eq!(server.received_requests().await.map(|r| r.len()), Some(0));
}
