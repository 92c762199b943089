//! Jira credentials: `/myself` names the account the credentials log in as
//! (bearer auth here), a 404 from it means the owner is unknown, and the
//! bot's documented time zone is checked.
//!
//! Never guesses an owner: where Jira cannot say, the answer is "unknown".

use itsmid_connectors::{Connector, CredentialOwner, ExternalId, ItsmUser, ItsmUserId};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{BOT_BASIC, BOT_ID, bot_credentials, client};
use crate::support::{bearer, fixture, mount_catch_all};

#[tokio::test]
async fn myself_names_the_credentials_owner_with_bearer_auth() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/myself"))
        .and(header("authorization", "Bearer demo-jira-bearer"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("jira/myself-200.json"), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let jira = client(&server, bearer("demo-jira-bearer"));

    let owner = jira.whoami().await.expect("myself answers");

    let CredentialOwner::Known(user) = owner else {
        panic!("expected a known owner, got {owner:?}");
    };
    assert_eq!(user.itsm_user_id.as_str(), "5b10a2844c20165700ede21g");
    assert_eq!(user.external_id, Some(ExternalId::new("mia@example.com")));
    assert_eq!(user.full_name.as_deref(), Some("Mia Krystof"));
    assert_eq!(user.time_zone.as_deref(), Some("Australia/Sydney"));
}

#[tokio::test]
async fn myself_answering_404_means_the_owner_is_unknown() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/myself"))
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
async fn the_bot_must_be_in_the_danmarkshavn_time_zone() {
    let server = MockServer::start().await;
    let jira = client(&server, bot_credentials());
    let mut bot = ItsmUser {
        itsm_user_id: ItsmUserId::new(BOT_ID),
        external_id: Some(ExternalId::new("moveworks-bot@acme.com")),
        active: true,
        first_name: None,
        last_name: None,
        full_name: Some("Moveworks Bot".into()),
        account_type: Some("atlassian".into()),
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

    bot.time_zone = None;
    assert_eq!(jira.bot_setting_problems(&bot)[0].actual, None);
}
