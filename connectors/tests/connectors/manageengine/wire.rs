//! How the connector reads ServiceDesk Plus's JSON: an 18-digit id as a
//! JSON string and as a JSON number, `response_status` as an object or an
//! array, and inactive users with their `org_user_status`.
//!
//! Never reads a long id through a double: 123640000000142582 must stay
//! exactly that.

use itsmid_connectors::{Connector, ExternalId};
use serde_json::json;
use wiremock::{MockServer, ResponseTemplate};

use super::{
    BETH_ID, BOT_ID, LONG_ID, PAT_ID, answer, client, ext, found, id, json_answer, user, users_get,
};
use crate::support::mount_catch_all;

#[tokio::test]
async fn an_18_digit_id_is_read_exactly_as_a_json_string_and_as_a_json_number() {
    let server = MockServer::start().await;
    // Raw text: a number above 2^53 must not pass through a double.
    let body = format!(
        r#"{{"response_status":[{{"status_code":2000,"status":"success"}}],"list_info":{{"has_more_rows":false,"start_index":1,"row_count":2}},"users":[{{"id":{LONG_ID},"email_id":"number@acme.com","status":"ACTIVE"}},{{"id":"123640000000142583","email_id":"string@acme.com","status":"ACTIVE"}}]}}"#
    );
    users_get("id", &[LONG_ID, "123640000000142583"], 1)
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let lookups = client(&server)
        .lookup(&[id(LONG_ID), id("123640000000142583")])
        .await
        .expect("an answer");

    let number = found(&lookups, &id(LONG_ID));
    assert_eq!(number.itsm_user_id.as_str(), "123640000000142582");
    assert_eq!(number.external_id, Some(ExternalId::new("number@acme.com")));
    let string = found(&lookups, &id("123640000000142583"));
    assert_eq!(string.itsm_user_id.as_str(), "123640000000142583");
}

#[tokio::test]
async fn response_status_as_an_object_reads_like_the_array() {
    let server = MockServer::start().await;
    users_get("email_id", &["pat@acme.com"], 1)
        .respond_with(json_answer(
            200,
            &json!({
                "response_status": { "status_code": 2000, "status": "success" },
                "list_info": { "has_more_rows": false, "start_index": 1, "row_count": 1 },
                "users": [user(PAT_ID, "pat@acme.com")]
            }),
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let lookups = client(&server)
        .lookup(&[ext("pat@acme.com")])
        .await
        .expect("an answer");

    assert_eq!(
        found(&lookups, &ext("pat@acme.com")).itsm_user_id.as_str(),
        PAT_ID
    );
}

#[tokio::test]
async fn inactive_users_and_org_user_status_are_read() {
    let server = MockServer::start().await;
    let mut beth = user(BETH_ID, "beth.anglin@acme.com");
    beth["status"] = json!("INACTIVE");
    let mut only_org = user(PAT_ID, "pat@acme.com");
    if let Some(fields) = only_org.as_object_mut() {
        fields.remove("status");
        fields.insert("org_user_status".into(), json!("INACTIVE"));
    }
    let mut unknown = user(BOT_ID, "moveworks-bot@acme.com");
    if let Some(fields) = unknown.as_object_mut() {
        fields.remove("status");
        fields.remove("org_user_status");
    }
    users_get(
        "email_id",
        &[
            "beth.anglin@acme.com",
            "moveworks-bot@acme.com",
            "pat@acme.com",
        ],
        1,
    )
    .respond_with(answer(vec![beth, only_org, unknown]))
    .expect(1)
    .mount(&server)
    .await;
    mount_catch_all(&server).await;

    let lookups = client(&server)
        .lookup(&[
            ext("beth.anglin@acme.com"),
            ext("pat@acme.com"),
            ext("moveworks-bot@acme.com"),
        ])
        .await
        .expect("an answer");

    assert!(!found(&lookups, &ext("beth.anglin@acme.com")).active);
    assert!(!found(&lookups, &ext("pat@acme.com")).active);
    assert!(
        found(&lookups, &ext("moveworks-bot@acme.com")).active,
        "no status is not evidence of an inactive account"
    );
}
