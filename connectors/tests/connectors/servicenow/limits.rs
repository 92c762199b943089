//! ServiceNow and the request limit (SPEC section 5, Limits): a value whose
//! request would pass 8,192 bytes is refused unsent while the others are
//! found, a batch answered 414 is asked again in halves, and a one-entry
//! request answered 431 refuses that entry. None of it makes the system
//! unavailable.

use itsmid_connectors::{Connector, Lookup};
use wiremock::{MockServer, ResponseTemplate};

use super::{
    ABEL_ID, BETH_ID, BOT_ID, CAROL_ID, PAT_ID, answer, client, ext, found, id, requests, row,
    sysparm_query, table_get,
};
use crate::support::mount_catch_all;

fn refusal(lookup: Option<&Lookup>) -> String {
    match lookup {
        Some(Lookup::Refused(refused)) => refused.reason.clone(),
        other => panic!("expected Refused, got {other:?}"),
    }
}

#[tokio::test]
async fn a_value_too_long_for_the_request_limit_is_refused_unsent_and_the_others_are_found() {
    let server = MockServer::start().await;
    table_get("user_nameINmoveworks.bot,pat.lee", "10")
        .respond_with(answer(vec![
            row(BOT_ID, "moveworks.bot"),
            row(PAT_ID, "pat.lee"),
        ]))
        .expect(1)
        .mount(&server)
        .await;
    table_get(&format!("sys_idIN{ABEL_ID}"), "10")
        .respond_with(answer(vec![row(ABEL_ID, "abel.tuter")]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let long = format!("{}.lee", "x".repeat(9_000));
    let snow = client(&server);

    let lookups = snow
        .lookup(&[
            ext("pat.lee"),
            ext(&long),
            id(ABEL_ID),
            ext("moveworks.bot"),
        ])
        .await
        .expect("one long value never fails the lookup");

    assert_eq!(
        found(&lookups, &ext("pat.lee")).itsm_user_id.as_str(),
        PAT_ID
    );
    assert_eq!(
        found(&lookups, &ext("moveworks.bot")).itsm_user_id.as_str(),
        BOT_ID
    );
    assert_eq!(found(&lookups, &id(ABEL_ID)).itsm_user_id.as_str(), ABEL_ID);
    let reason = refusal(lookups.get(&ext(&long)));
    assert!(
        reason.contains("too long for servicenow's request limit"),
        "{reason}"
    );
    assert!(
        reason.contains("8192") && reason.contains("not sent"),
        "{reason}"
    );
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|r| !sysparm_query(r).contains("xxxxxxxx")));
    assert_eq!(snow.http().requests_sent(), 2);
}

#[tokio::test]
async fn a_batch_answered_414_is_asked_again_in_halves() {
    let server = MockServer::start().await;
    table_get("user_nameINabel.tuter,beth.anglin,carol.lee,pat.lee", "10")
        .respond_with(ResponseTemplate::new(414).set_body_raw(
            "<html><body><h1>414 Request-URI Too Long</h1></body></html>",
            "text/html",
        ))
        .expect(1)
        .mount(&server)
        .await;
    table_get("user_nameINabel.tuter,beth.anglin", "10")
        .respond_with(answer(vec![
            row(ABEL_ID, "abel.tuter"),
            row(BETH_ID, "beth.anglin"),
        ]))
        .expect(1)
        .mount(&server)
        .await;
    table_get("user_nameINcarol.lee,pat.lee", "10")
        .respond_with(answer(vec![
            row(CAROL_ID, "carol.lee"),
            row(PAT_ID, "pat.lee"),
        ]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let snow = client(&server);
    let keys = [
        ext("pat.lee"),
        ext("abel.tuter"),
        ext("carol.lee"),
        ext("beth.anglin"),
    ];

    let lookups = snow.lookup(&keys).await.expect("the halves answer");

    for (key, expected) in keys.iter().zip([PAT_ID, ABEL_ID, CAROL_ID, BETH_ID]) {
        assert_eq!(found(&lookups, key).itsm_user_id.as_str(), expected);
    }
    assert_eq!(snow.http().requests_sent(), 3);
}

#[tokio::test]
async fn a_431_to_a_one_entry_request_refuses_that_entry_only() {
    let server = MockServer::start().await;
    table_get("user_nameINpat.lee", "10")
        .respond_with(ResponseTemplate::new(431))
        .expect(1)
        .mount(&server)
        .await;
    // A value with a comma goes alone, by `=`: a 431 refuses it too.
    table_get("user_name=lee, pat", "10")
        .respond_with(ResponseTemplate::new(431))
        .expect(1)
        .mount(&server)
        .await;
    table_get(&format!("sys_idIN{BOT_ID}"), "10")
        .respond_with(answer(vec![row(BOT_ID, "moveworks.bot")]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let snow = client(&server);

    let lookups = snow
        .lookup(&[ext("pat.lee"), ext("lee, pat"), id(BOT_ID)])
        .await
        .expect("one entry never fails the lookup");

    for key in [ext("pat.lee"), ext("lee, pat")] {
        let reason = refusal(lookups.get(&key));
        assert!(reason.contains("HTTP 431"), "{reason}");
    }
    assert_eq!(found(&lookups, &id(BOT_ID)).itsm_user_id.as_str(), BOT_ID);
    assert_eq!(snow.http().requests_sent(), 3, "never retried");
}
