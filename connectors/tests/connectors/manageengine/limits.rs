//! ServiceDesk Plus and the request limit (SPEC section 5, Limits): a value
//! whose request would pass 8,192 bytes of request line is refused unsent
//! while the others are found, a batch answered 414 is asked again in
//! halves, and a one-entry request answered 431 refuses that entry. None of
//! it makes the system unavailable.

use itsmid_connectors::{Connector, Lookup};
use wiremock::{MockServer, ResponseTemplate};

use super::{BETH_ID, BOT_ID, PAT_ID, answer, client, ext, found, id, user, users_get};
use crate::support::mount_catch_all;

const KIM_ID: &str = "123640000000142504";

fn refusal(lookup: Option<&Lookup>) -> String {
    match lookup {
        Some(Lookup::Refused(refused)) => refused.reason.clone(),
        other => panic!("expected Refused, got {other:?}"),
    }
}

#[tokio::test]
async fn a_value_too_long_for_the_request_limit_is_refused_unsent_and_the_others_are_found() {
    let server = MockServer::start().await;
    users_get("email_id", &["beth@acme.com", "pat@acme.com"], 1)
        .respond_with(answer(vec![
            user(PAT_ID, "pat@acme.com"),
            user(BETH_ID, "beth@acme.com"),
        ]))
        .expect(1)
        .mount(&server)
        .await;
    users_get("id", &[BOT_ID], 1)
        .respond_with(answer(vec![user(BOT_ID, "moveworks-bot@acme.com")]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let manageengine = client(&server);
    let long = format!("{}@acme.com", "x".repeat(9_000));

    let lookups = manageengine
        .lookup(&[
            ext("pat@acme.com"),
            ext(&long),
            id(BOT_ID),
            ext("beth@acme.com"),
        ])
        .await
        .expect("one long value never fails the lookup");

    assert_eq!(
        found(&lookups, &ext("pat@acme.com")).itsm_user_id.as_str(),
        PAT_ID
    );
    assert_eq!(
        found(&lookups, &ext("beth@acme.com")).itsm_user_id.as_str(),
        BETH_ID
    );
    assert_eq!(found(&lookups, &id(BOT_ID)).itsm_user_id.as_str(), BOT_ID);
    let reason = refusal(lookups.get(&ext(&long)));
    assert!(
        reason.contains("too long for manageengine's request limit") && reason.contains("not sent"),
        "{reason}"
    );
    let sent = server.received_requests().await.expect("recording");
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|r| !r.url.as_str().contains("xxxxxxxx")));
    assert_eq!(manageengine.http().requests_sent(), 2);
}

#[tokio::test]
async fn a_batch_answered_414_is_asked_again_in_halves() {
    let server = MockServer::start().await;
    let ids = [BOT_ID, PAT_ID, BETH_ID, KIM_ID];
    users_get("id", &ids, 1)
        .respond_with(ResponseTemplate::new(414))
        .expect(1)
        .mount(&server)
        .await;
    users_get("id", &[BOT_ID, PAT_ID], 1)
        .respond_with(answer(vec![
            user(BOT_ID, "moveworks-bot@acme.com"),
            user(PAT_ID, "pat@acme.com"),
        ]))
        .expect(1)
        .mount(&server)
        .await;
    users_get("id", &[BETH_ID, KIM_ID], 1)
        .respond_with(answer(vec![
            user(BETH_ID, "beth@acme.com"),
            user(KIM_ID, "kim@acme.com"),
        ]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let manageengine = client(&server);

    let lookups = manageengine
        .lookup(&ids.map(id))
        .await
        .expect("the halves answer");

    for value in ids {
        assert_eq!(found(&lookups, &id(value)).itsm_user_id.as_str(), value);
    }
    assert_eq!(manageengine.http().requests_sent(), 3);
}

#[tokio::test]
async fn a_431_to_a_one_entry_request_refuses_that_entry_only() {
    let server = MockServer::start().await;
    users_get("email_id", &["pat@acme.com"], 1)
        .respond_with(ResponseTemplate::new(431))
        .expect(1)
        .mount(&server)
        .await;
    users_get("id", &[BOT_ID], 1)
        .respond_with(answer(vec![user(BOT_ID, "moveworks-bot@acme.com")]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let manageengine = client(&server);

    let lookups = manageengine
        .lookup(&[ext("pat@acme.com"), id(BOT_ID)])
        .await
        .expect("one entry never fails the lookup");

    let reason = refusal(lookups.get(&ext("pat@acme.com")));
    assert!(reason.contains("HTTP 431"), "{reason}");
    assert_eq!(found(&lookups, &id(BOT_ID)).itsm_user_id.as_str(), BOT_ID);
    assert_eq!(manageengine.http().requests_sent(), 2, "never retried");
}
