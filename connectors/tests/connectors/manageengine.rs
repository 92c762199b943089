//! ManageEngine ServiceDesk Plus connector tests: the exact lookup requests
//! the connector sends (path, `input_data` as JSON text, the vendor's
//! Accept header, `authtoken`), `lookup_by` and the Cloud portal path.
//! Batches and pages are in `batches`, how `response_status` and long ids
//! are read in `wire`, failures mapped to their reasons in `errors`,
//! `whoami` and Zoho OAuth in `auth`, and the simulator answering through
//! the connector in `simulator`.
//!
//! Never relies on a server-side filter: answers here are often wider than
//! what was asked, as a real server's can be.

use itsmid_connectors::manageengine::{ACCEPT_V3, Client};
use itsmid_connectors::{
    Connector, Credentials, ExternalId, GrantKind, ItsmUser, ItsmUserId, Lookup, LookupKey,
    Lookups, OAuthGrant, System, TokenScheme,
};
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::support::{mount_catch_all, settings};

mod auth;
mod batches;
mod errors;
mod limits;
mod readiness;
mod recording;
mod simulator;
mod wire;

const USERS: &str = "/api/v3/users";
const TOKEN: &str = "/oauth/v2/token";
const AUTHTOKEN: &str = "6FB4E5D2-1A2B-4C3D-9E8F-0123456789AB";

const BOT_ID: &str = "123640000000142501";
const PAT_ID: &str = "123640000000142502";
const BETH_ID: &str = "123640000000142503";
const HELPDESK_IDS: [&str; 2] = ["123640000000142505", "123640000000142506"];
/// The technician id of the vendor's Cloud samples: above 2^53, so a double
/// would turn it into 123640000000142580.
const LONG_ID: &str = "123640000000142582";

fn authtoken(token: &str) -> Credentials {
    Credentials::AuthToken {
        token: SecretString::from(token.to_owned()),
    }
}

fn zoho(server: &MockServer, client_id: &str, secret: &str, refresh: &str) -> Credentials {
    Credentials::OAuth(OAuthGrant {
        token_url: format!("{}{TOKEN}", server.uri())
            .parse()
            .expect("a valid URL"),
        client_id: client_id.to_owned(),
        client_secret: Some(SecretString::from(secret.to_owned())),
        kind: GrantKind::RefreshToken(SecretString::from(refresh.to_owned())),
        scheme: TokenScheme::ZohoOauthtoken,
    })
}

fn client(server: &MockServer) -> Client {
    Client::new(settings(System::ManageEngine, server, authtoken(AUTHTOKEN)))
        .expect("valid settings")
}

fn id(value: &str) -> LookupKey {
    LookupKey::ItsmUserId(ItsmUserId::new(value))
}

fn ext(value: &str) -> LookupKey {
    LookupKey::ExternalId(ExternalId::new(value))
}

/// `input_data` exactly as the connector writes it.
fn input_data(field: &str, values: &[&str], start_index: usize) -> String {
    let quoted: Vec<String> = values
        .iter()
        .map(|value| serde_json::to_string(value).expect("a string serializes"))
        .collect();
    format!(
        r#"{{"list_info":{{"row_count":100,"start_index":{start_index},"get_total_count":true,"search_criteria":[{{"field":"{field}","condition":"is","values":[{}]}}]}}}}"#,
        quoted.join(",")
    )
}

fn user(id: &str, email: &str) -> Value {
    json!({
        "id": id, "email_id": email, "name": "First Last", "first_name": "First",
        "last_name": "Last", "status": "ACTIVE", "org_user_status": "ACTIVE",
        "is_technician": false, "login_name": email.split('@').next()
    })
}

fn list_body(users: Vec<Value>, has_more_rows: bool, start_index: usize) -> Value {
    json!({
        "response_status": [{ "status_code": 2000, "status": "success" }],
        "list_info": {
            "has_more_rows": has_more_rows, "start_index": start_index,
            "row_count": users.len(), "total_count": users.len()
        },
        "users": users
    })
}

fn json_answer(status: u16, body: &Value) -> ResponseTemplate {
    // `set_body_raw`: wiremock's `set_body_string` would send text/plain.
    ResponseTemplate::new(status).set_body_raw(body.to_string(), "application/json;charset=UTF-8")
}

fn answer(users: Vec<Value>) -> ResponseTemplate {
    json_answer(200, &list_body(users, false, 1))
}

fn failed(status: u16, code: u64, message: &str) -> ResponseTemplate {
    json_answer(
        status,
        &json!({ "response_status": {
            "status_code": 4000,
            "messages": [{ "status_code": code, "type": "failed", "message": message }],
            "status": "failed"
        }}),
    )
}

/// A users GET with the headers every request carries and this `input_data`.
fn users_get(field: &str, values: &[&str], start_index: usize) -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path(USERS))
        .and(query_param(
            "input_data",
            input_data(field, values, start_index),
        ))
        .and(header("accept", ACCEPT_V3))
}

fn found(lookups: &Lookups, key: &LookupKey) -> ItsmUser {
    match lookups.get(key) {
        Some(Lookup::Found(user)) => user.clone(),
        other => panic!("{key:?}: expected Found, got {other:?}"),
    }
}

fn is_not_found(lookups: &Lookups, key: &LookupKey) -> bool {
    matches!(lookups.get(key), Some(Lookup::NotFound { .. }))
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server
        .received_requests()
        .await
        .expect("request recording is on")
}

/// The `input_data` a request carried, parsed.
fn sent_input(request: &Request) -> Value {
    let text = request
        .url
        .query_pairs()
        .find(|(key, _)| key == "input_data")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

#[tokio::test]
async fn e_mails_go_out_in_one_criterion_with_the_exact_input_data_and_headers() {
    let server = MockServer::start().await;
    users_get("email_id", &["moveworks-bot@acme.com", "pat@acme.com"], 1)
        .and(header("authtoken", AUTHTOKEN))
        .respond_with(answer(vec![
            user(PAT_ID, "pat@acme.com"),
            user(BOT_ID, "moveworks-bot@acme.com"),
        ]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let lookups = client(&server)
        .lookup(&[ext("pat@acme.com"), ext("moveworks-bot@acme.com")])
        .await
        .expect("an answer");

    assert_eq!(
        found(&lookups, &ext("pat@acme.com")).itsm_user_id.as_str(),
        PAT_ID
    );
    let bot = found(&lookups, &ext("moveworks-bot@acme.com"));
    assert_eq!(bot.itsm_user_id.as_str(), BOT_ID);
    assert_eq!(bot.full_name.as_deref(), Some("First Last"));
    assert!(bot.active);

    let sent = requests(&server).await;
    let [request] = sent.as_slice() else {
        panic!("expected one request, got {}", sent.len());
    };
    let expected: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair(
            "input_data",
            r#"{"list_info":{"row_count":100,"start_index":1,"get_total_count":true,"search_criteria":[{"field":"email_id","condition":"is","values":["moveworks-bot@acme.com","pat@acme.com"]}]}}"#,
        )
        .finish();
    assert_eq!(request.url.query(), Some(expected.as_str()));
    let accepts: Vec<_> = request.headers.get_all("accept").iter().collect();
    assert_eq!(accepts, [ACCEPT_V3], "only the vendor's media type");
}

#[tokio::test]
async fn ids_go_out_in_one_id_criterion() {
    let server = MockServer::start().await;
    users_get("id", &[BOT_ID, LONG_ID], 1)
        .and(header("authtoken", AUTHTOKEN))
        .respond_with(answer(vec![
            user(LONG_ID, "first.last@acme.com"),
            user(BOT_ID, "moveworks-bot@acme.com"),
        ]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let lookups = client(&server)
        .lookup(&[id(LONG_ID), id(BOT_ID)])
        .await
        .expect("an answer");

    assert_eq!(found(&lookups, &id(LONG_ID)).itsm_user_id.as_str(), LONG_ID);
    assert_eq!(found(&lookups, &id(BOT_ID)).itsm_user_id.as_str(), BOT_ID);
}

#[tokio::test]
async fn ids_and_e_mails_together_make_one_request_each_and_case_variants_one_value() {
    let server = MockServer::start().await;
    users_get("id", &[BOT_ID], 1)
        .respond_with(answer(vec![user(BOT_ID, "moveworks-bot@acme.com")]))
        .expect(1)
        .mount(&server)
        .await;
    users_get("email_id", &["Pat@Acme.com"], 1)
        .respond_with(answer(vec![user(PAT_ID, "pat@acme.com")]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let lookups = client(&server)
        .lookup(&[
            id(BOT_ID),
            ext("Pat@Acme.com"),
            ext("pat@acme.com "),
            id(BOT_ID),
        ])
        .await
        .expect("an answer");

    assert_eq!(found(&lookups, &id(BOT_ID)).itsm_user_id.as_str(), BOT_ID);
    let pat = found(&lookups, &ext("pat@acme.com "));
    assert_eq!(pat.itsm_user_id.as_str(), PAT_ID);
    assert_eq!(
        found(&lookups, &ext("Pat@Acme.com")).external_id,
        Some(ExternalId::new("pat@acme.com")),
        "the system's spelling"
    );
}

#[tokio::test]
async fn a_value_with_quotes_and_backslashes_travels_as_json_and_cannot_break_the_criteria() {
    let tricky = r#"x@acme.com"],"condition":"is not","values":["\"#;
    let server = MockServer::start().await;
    users_get("email_id", &["pat@acme.com", tricky], 1)
        // A server that read the injection would return everyone.
        .respond_with(answer(vec![
            user(PAT_ID, "pat@acme.com"),
            user(BOT_ID, "moveworks-bot@acme.com"),
        ]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let lookups = client(&server)
        .lookup(&[ext(tricky), ext("pat@acme.com")])
        .await
        .expect("an answer");

    assert!(is_not_found(&lookups, &ext(tricky)));
    assert_eq!(
        found(&lookups, &ext("pat@acme.com")).itsm_user_id.as_str(),
        PAT_ID
    );
    let sent = requests(&server).await;
    let criteria = sent
        .first()
        .map(sent_input)
        .and_then(|input| input["list_info"]["search_criteria"].as_array().cloned())
        .unwrap_or_default();
    assert_eq!(criteria.len(), 1, "still one criterion");
    assert_eq!(criteria[0]["condition"], "is");
    assert_eq!(criteria[0]["values"][1], tricky);
}

#[tokio::test]
async fn empty_values_and_malformed_ids_are_refused_without_a_request() {
    let server = MockServer::start().await;
    mount_catch_all(&server).await;
    let client = client(&server);

    let lookups = client
        .lookup(&[ext("  "), ext("pat@acme.com\nx"), id("12ab"), id("")])
        .await
        .expect("an answer");

    for key in [ext("  "), ext("pat@acme.com\nx"), id("12ab"), id("")] {
        assert!(
            matches!(lookups.get(&key), Some(Lookup::Refused(_))),
            "{key:?}"
        );
    }
    assert_eq!(client.http().requests_sent(), 0);
}

#[tokio::test]
async fn records_the_server_was_not_asked_for_are_filtered_out() {
    let server = MockServer::start().await;
    users_get("email_id", &["pat@acme.com"], 1)
        .respond_with(answer(vec![
            user(BOT_ID, "moveworks-bot@acme.com"),
            user("123640000000142599", "pat@acme.com.evil"),
        ]))
        .expect(1)
        .mount(&server)
        .await;
    users_get("id", &[PAT_ID], 1)
        .respond_with(answer(vec![user(BOT_ID, "moveworks-bot@acme.com")]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let lookups = client(&server)
        .lookup(&[ext("pat@acme.com"), id(PAT_ID)])
        .await
        .expect("an answer");

    assert!(is_not_found(&lookups, &ext("pat@acme.com")));
    assert!(is_not_found(&lookups, &id(PAT_ID)));
}

#[tokio::test]
async fn an_e_mail_held_by_two_users_is_ambiguous() {
    let server = MockServer::start().await;
    users_get("email_id", &["helpdesk@acme.com"], 1)
        .respond_with(answer(vec![
            user(HELPDESK_IDS[0], "helpdesk@acme.com"),
            user(HELPDESK_IDS[1], "HelpDesk@acme.com"),
        ]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let lookups = client(&server)
        .lookup(&[ext("helpdesk@acme.com")])
        .await
        .expect("an answer");

    match lookups.get(&ext("helpdesk@acme.com")) {
        Some(Lookup::Ambiguous(users)) => {
            let ids: Vec<&str> = users.iter().map(|u| u.itsm_user_id.as_str()).collect();
            assert_eq!(ids, HELPDESK_IDS);
        }
        other => panic!("expected Ambiguous, got {other:?}"),
    }
}

#[tokio::test]
async fn a_cloud_base_url_keeps_its_portal_path() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/app/itdesk/api/v3/users"))
        .and(query_param(
            "input_data",
            input_data("email_id", &["pat@acme.com"], 1),
        ))
        .and(header("accept", ACCEPT_V3))
        .respond_with(answer(vec![user(PAT_ID, "pat@acme.com")]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let mut settings = settings(System::ManageEngine, &server, authtoken(AUTHTOKEN));
    settings.base_url = format!("{}/app/itdesk", server.uri())
        .parse()
        .expect("a valid URL");

    let lookups = Client::new(settings)
        .expect("valid settings")
        .lookup(&[ext("pat@acme.com")])
        .await
        .expect("an answer");

    assert_eq!(
        found(&lookups, &ext("pat@acme.com")).itsm_user_id.as_str(),
        PAT_ID
    );
}

#[tokio::test]
async fn the_configured_lookup_field_is_queried_and_compared() {
    let server = MockServer::start().await;
    users_get("login_name", &["PAT"], 1)
        .respond_with(answer(vec![user(PAT_ID, "pat@acme.com")]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let mut settings = settings(System::ManageEngine, &server, authtoken(AUTHTOKEN));
    settings.lookup_field = "login_name".into();

    let lookups = Client::new(settings)
        .expect("valid settings")
        .lookup(&[ext("PAT")])
        .await
        .expect("an answer");

    let pat = found(&lookups, &ext("PAT"));
    assert_eq!(pat.external_id, Some(ExternalId::new("pat")));
}

#[tokio::test]
async fn a_lookup_field_that_is_not_a_field_name_is_refused_at_setup() {
    let server = MockServer::start().await;
    let mut settings = settings(System::ManageEngine, &server, authtoken(AUTHTOKEN));
    settings.lookup_field = r#"email_id","condition":"contains"#.into();

    let err = Client::new(settings)
        .err()
        .expect("a field name with quotes is refused");

    assert!(err.to_string().contains("lookup_by"), "{err}");
}
