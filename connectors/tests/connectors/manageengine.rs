//! ManageEngine ServiceDesk Plus connector tests: the exact requests the
//! connector sends (path, `input_data` as JSON text, the vendor's Accept
//! header, `authtoken` or `Zoho-oauthtoken`), how it reads `response_status`
//! in both its shapes and long ids in both their types, and the simulator
//! answering through the connector.
//!
//! Never relies on a server-side filter: answers here are often wider than
//! what was asked, as a real server's can be.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use itsmid_connectors::manageengine::{ACCEPT_V3, Client};
use itsmid_connectors::sim::{AnySimulator, Fault};
use itsmid_connectors::{
    Connector, CredentialOwner, Credentials, ExternalId, ItsmUser, ItsmUserId, Lookup, LookupKey,
    Lookups, OAuthGrant, Reason, System, TokenScheme,
};
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::matchers::{body_string, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::support::{fixture, mount_catch_all, settings};

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
        client_secret: SecretString::from(secret.to_owned()),
        refresh_token: Some(SecretString::from(refresh.to_owned())),
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
async fn pages_are_followed_while_has_more_rows_is_true() {
    let server = MockServer::start().await;
    let shared: Vec<Value> = (0..100u64)
        .map(|n| {
            user(
                &(123_640_000_000_200_000 + n).to_string(),
                "shared@acme.com",
            )
        })
        .collect();
    users_get("email_id", &["shared@acme.com"], 1)
        .respond_with(json_answer(200, &list_body(shared, true, 1)))
        .expect(1)
        .mount(&server)
        .await;
    users_get("email_id", &["shared@acme.com"], 101)
        .respond_with(json_answer(
            200,
            &list_body(vec![user(PAT_ID, "shared@acme.com")], false, 101),
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let lookups = client(&server)
        .lookup(&[ext("shared@acme.com")])
        .await
        .expect("an answer");

    match lookups.get(&ext("shared@acme.com")) {
        Some(Lookup::Ambiguous(users)) => assert_eq!(users.len(), 101),
        other => panic!("expected Ambiguous, got {other:?}"),
    }
}

#[tokio::test]
async fn a_search_whose_pages_never_end_is_a_bad_response() {
    let server = MockServer::start().await;
    let pages = AtomicU64::new(0);
    let everyone = move |_: &Request| {
        let next = pages.fetch_add(1, Ordering::SeqCst) + 1;
        let page: Vec<Value> = (0..100u64)
            .map(|n| {
                user(
                    &(next * 1_000 + n).to_string(),
                    &format!("u{next}.{n}@acme.com"),
                )
            })
            .collect();
        json_answer(200, &list_body(page, true, 1))
    };
    Mock::given(method("GET"))
        .and(path(USERS))
        .respond_with(everyone)
        .expect(5)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let err = client(&server)
        .lookup(&[ext("pat@acme.com")])
        .await
        .expect_err("an unbounded answer");

    assert_eq!(err.reason(), Reason::BadResponse, "{err}");
}

/// Answers every users request from the ids or e-mails it asks for, with
/// paging: each value asked for is a user (`exist`), or none is.
fn directory(exist: bool) -> impl Fn(&Request) -> ResponseTemplate + Send + Sync + 'static {
    move |request: &Request| {
        let input = sent_input(request);
        let info = &input["list_info"];
        let row_count = info["row_count"].as_u64().unwrap_or(10) as usize;
        let start = info["start_index"].as_u64().unwrap_or(1) as usize;
        let criterion = &info["search_criteria"][0];
        let field = criterion["field"].as_str().unwrap_or_default();
        let all: Vec<Value> = criterion["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter(|_| exist)
            .map(|value| match field {
                "id" => user(value, &format!("u{value}@acme.com")),
                _ => user(&format!("9{}", value.len()), value),
            })
            .collect();
        let page: Vec<Value> = all
            .iter()
            .skip(start - 1)
            .take(row_count)
            .cloned()
            .collect();
        let more = start - 1 + page.len() < all.len();
        json_answer(200, &list_body(page, more, start))
    }
}

/// Looks up `count` long ids against [`directory`] and returns the ids each
/// request carried and the longest URL.
async fn ids_lookup(count: u64, exist: bool) -> (Vec<Vec<String>>, usize) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(USERS))
        .respond_with(directory(exist))
        .mount(&server)
        .await;
    let ids: Vec<String> = (0..count)
        .map(|n| (123_640_000_000_000_000 + n).to_string())
        .collect();
    let keys: Vec<LookupKey> = ids.iter().map(|value| id(value)).collect();
    let client = client(&server);
    let lookups = client.lookup(&keys).await.expect("an answer");
    assert_eq!(lookups.outcomes.len(), keys.len());
    for asked in &ids {
        let key = id(asked);
        if exist {
            assert_eq!(found(&lookups, &key).itsm_user_id.as_str(), asked);
        } else {
            assert!(is_not_found(&lookups, &key));
        }
    }
    let received = requests(&server).await;
    assert_eq!(client.http().requests_sent() as usize, received.len());
    let longest = received
        .iter()
        .map(|request| request.url.as_str().len())
        .max()
        .unwrap_or(0);
    let per_request = received
        .iter()
        .map(|request| {
            sent_input(request)["list_info"]["search_criteria"][0]["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|value| value.as_str().map(str::to_owned))
                .collect()
        })
        .collect();
    (per_request, longest)
}

#[tokio::test]
async fn a_thousand_ids_go_out_in_five_requests_each_id_in_exactly_one() {
    let (per_request, longest) = ids_lookup(1_000, false).await;

    assert_eq!(per_request.len(), 5, "200 ids of 18 digits per request");
    assert!(longest < 6_000, "longest URL: {longest} bytes");
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for id in per_request.iter().flatten() {
        *seen.entry(id.clone()).or_default() += 1;
    }
    assert_eq!(seen.len(), 1_000);
    assert!(seen.values().all(|&times| times == 1));
}

#[tokio::test]
async fn ten_thousand_ids_need_fifty_requests_when_stale_and_a_hundred_when_found() {
    let (stale, longest) = ids_lookup(10_000, false).await;
    assert_eq!(stale.len(), 50);
    assert!(longest < 6_000, "longest URL: {longest} bytes");

    let (found, longest) = ids_lookup(10_000, true).await;
    assert_eq!(found.len(), 100, "one page of 100 users per request");
    assert!(found.len() <= 300, "the target: 0.03 requests per entry");
    assert!(longest < 6_000, "longest URL: {longest} bytes");
}

#[tokio::test]
async fn ten_thousand_e_mails_need_a_hundred_requests() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(USERS))
        .respond_with(directory(false))
        .mount(&server)
        .await;
    let keys: Vec<LookupKey> = (0..10_000)
        .map(|n| ext(&format!("first.last{n}@example.com")))
        .collect();
    let client = client(&server);

    let lookups = client.lookup(&keys).await.expect("an answer");

    assert_eq!(lookups.outcomes.len(), 10_000);
    assert_eq!(client.http().requests_sent(), 100);
    let longest = requests(&server)
        .await
        .iter()
        .map(|request| request.url.as_str().len())
        .max()
        .unwrap_or(0);
    assert!(longest < 6_000, "longest URL: {longest} bytes");
}

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
async fn a_failed_status_with_http_200_is_a_bad_response_with_its_message() {
    let server = MockServer::start().await;
    users_get("email_id", &["pat@acme.com"], 1)
        .respond_with(json_answer(
            200,
            &json!({ "response_status": [{
                "status_code": 4000, "status": "failed",
                "messages": [{ "status_code": 4007, "type": "failed", "message": "Invalid URL" }]
            }]}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let err = client(&server)
        .lookup(&[ext("pat@acme.com")])
        .await
        .expect_err("a failed status");

    assert_eq!(err.reason(), Reason::BadResponse, "{err}");
    assert!(err.to_string().contains("Invalid URL"), "{err}");
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

#[tokio::test]
async fn a_4015_is_retried_and_then_answers() {
    let server = MockServer::start().await;
    users_get("email_id", &["pat@acme.com"], 1)
        .respond_with(failed(200, 4015, "API rate limit reached"))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    users_get("email_id", &["pat@acme.com"], 1)
        .respond_with(answer(vec![user(PAT_ID, "pat@acme.com")]))
        .with_priority(2)
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let client = client(&server);

    let lookups = client
        .lookup(&[ext("pat@acme.com")])
        .await
        .expect("an answer");

    assert_eq!(
        found(&lookups, &ext("pat@acme.com")).itsm_user_id.as_str(),
        PAT_ID
    );
    assert_eq!(client.http().requests_sent(), 2, "the retry is counted");
}

#[tokio::test]
async fn a_4015_that_persists_is_rate_limited() {
    for status in [200, 429] {
        let server = MockServer::start().await;
        users_get("email_id", &["pat@acme.com"], 1)
            .respond_with(failed(status, 4015, "API rate limit reached"))
            .expect(4)
            .mount(&server)
            .await;
        mount_catch_all(&server).await;

        let err = client(&server)
            .lookup(&[ext("pat@acme.com")])
            .await
            .expect_err("rate limited");

        assert_eq!(err.reason(), Reason::RateLimited, "HTTP {status}: {err}");
    }
}

#[tokio::test]
async fn a_4022_is_auth_failed_and_nothing_more_is_sent() {
    for status in [401, 200] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(USERS))
            .and(header("authtoken", AUTHTOKEN))
            .respond_with(failed(status, 4022, "Invalid API key received"))
            .expect(1)
            .mount(&server)
            .await;
        mount_catch_all(&server).await;
        let client = client(&server);

        let err = client
            .lookup(&[id(BOT_ID), ext("pat@acme.com")])
            .await
            .expect_err("refused credentials");
        assert_eq!(err.reason(), Reason::AuthFailed, "HTTP {status}: {err}");
        let again = client
            .lookup(&[ext("pat@acme.com")])
            .await
            .expect_err("still refused");
        assert_eq!(again.reason(), Reason::AuthFailed);
        assert_eq!(client.http().requests_sent(), 1);
    }
}

#[tokio::test]
async fn a_4002_forbidden_is_auth_failed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(USERS))
        .respond_with(json_answer(
            403,
            &json!({"response_status": {"status_code": 4002, "status": "failed",
                "messages": [{"message": "UNAUTHORISED", "type": "failed"}]}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let err = client(&server)
        .lookup(&[ext("pat@acme.com")])
        .await
        .expect_err("forbidden");

    assert_eq!(err.reason(), Reason::AuthFailed, "{err}");
}

#[tokio::test]
async fn a_500_that_persists_is_unreachable() {
    let server = MockServer::start().await;
    users_get("email_id", &["pat@acme.com"], 1)
        .respond_with(failed(500, 4004, "Internal error"))
        .expect(4)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let err = client(&server)
        .lookup(&[ext("pat@acme.com")])
        .await
        .expect_err("down");

    assert_eq!(err.reason(), Reason::Unreachable, "{err}");
}

#[tokio::test]
async fn an_html_page_with_200_is_a_bad_response_not_an_empty_answer() {
    let server = MockServer::start().await;
    users_get("email_id", &["pat@acme.com"], 1)
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            "<html><head><title>ServiceDesk Plus</title></head><body>Log in</body></html>",
            "text/html; charset=utf-8",
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let err = client(&server)
        .lookup(&[ext("pat@acme.com")])
        .await
        .expect_err("a login page");

    assert_eq!(err.reason(), Reason::BadResponse, "{err}");
}

#[tokio::test]
async fn json_that_is_not_a_users_list_is_a_bad_response() {
    let server = MockServer::start().await;
    users_get("email_id", &["pat@acme.com"], 1)
        .respond_with(json_answer(200, &json!({ "result": [] })))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let err = client(&server)
        .lookup(&[ext("pat@acme.com")])
        .await
        .expect_err("not ServiceDesk Plus");

    assert_eq!(err.reason(), Reason::BadResponse, "{err}");
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

#[tokio::test]
async fn whoami_sends_nothing_and_names_nobody() {
    let server = MockServer::start().await;
    mount_catch_all(&server).await;
    for credentials in [
        authtoken(AUTHTOKEN),
        zoho(&server, "client", "secret", "refresh"),
    ] {
        let client = Client::new(settings(System::ManageEngine, &server, credentials))
            .expect("valid settings");

        assert_eq!(
            client.whoami().await.expect("an answer"),
            CredentialOwner::Unknown
        );
        assert_eq!(client.http().requests_sent(), 0);
    }
    assert!(requests(&server).await.is_empty());
}

// Zoho OAuth (Cloud).

const ZOHO_FORM: &str = "client_id=1000.CLIENT&client_secret=zoho-secret&grant_type=refresh_token&refresh_token=1000.refresh";

fn zoho_client(server: &MockServer) -> Client {
    Client::new(settings(
        System::ManageEngine,
        server,
        zoho(server, "1000.CLIENT", "zoho-secret", "1000.refresh"),
    ))
    .expect("valid settings")
}

fn token_answer(token: &str) -> ResponseTemplate {
    json_answer(
        200,
        &json!({ "access_token": token, "api_domain": "https://www.zohoapis.com",
                 "token_type": "Bearer", "expires_in": 3600 }),
    )
}

fn token_post() -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path(TOKEN))
        .and(body_string(ZOHO_FORM))
}

#[tokio::test]
async fn a_zoho_token_is_fetched_once_with_the_refresh_grant_and_sent_as_zoho_oauthtoken() {
    let server = MockServer::start().await;
    token_post()
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(token_answer("1000.first"))
        .expect(1)
        .mount(&server)
        .await;
    users_get("id", &[BOT_ID], 1)
        .and(header("authorization", "Zoho-oauthtoken 1000.first"))
        .respond_with(answer(vec![user(BOT_ID, "moveworks-bot@acme.com")]))
        .expect(1)
        .mount(&server)
        .await;
    users_get("email_id", &["pat@acme.com"], 1)
        .and(header("authorization", "Zoho-oauthtoken 1000.first"))
        .respond_with(answer(vec![user(PAT_ID, "pat@acme.com")]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let client = zoho_client(&server);

    let lookups = client
        .lookup(&[id(BOT_ID), ext("pat@acme.com")])
        .await
        .expect("an answer");

    assert_eq!(found(&lookups, &id(BOT_ID)).itsm_user_id.as_str(), BOT_ID);
    assert_eq!(
        found(&lookups, &ext("pat@acme.com")).itsm_user_id.as_str(),
        PAT_ID
    );
    assert_eq!(client.http().requests_sent(), 3, "the token request counts");
    let sent = requests(&server).await;
    assert!(
        sent.iter()
            .all(|request| request.headers.get("authtoken").is_none())
    );
}

#[tokio::test]
async fn a_refused_zoho_token_is_refreshed_once_and_the_request_sent_again() {
    let server = MockServer::start().await;
    token_post()
        .respond_with(token_answer("1000.expired"))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    token_post()
        .respond_with(token_answer("1000.fresh"))
        .with_priority(2)
        .expect(1)
        .mount(&server)
        .await;
    users_get("email_id", &["pat@acme.com"], 1)
        .and(header("authorization", "Zoho-oauthtoken 1000.expired"))
        .respond_with(failed(401, 4022, "Invalid OAuth token"))
        .expect(1)
        .mount(&server)
        .await;
    users_get("email_id", &["pat@acme.com"], 1)
        .and(header("authorization", "Zoho-oauthtoken 1000.fresh"))
        .respond_with(answer(vec![user(PAT_ID, "pat@acme.com")]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let client = zoho_client(&server);

    let lookups = client
        .lookup(&[ext("pat@acme.com")])
        .await
        .expect("an answer");

    assert_eq!(
        found(&lookups, &ext("pat@acme.com")).itsm_user_id.as_str(),
        PAT_ID
    );
    assert_eq!(client.http().requests_sent(), 4);
}

#[tokio::test]
async fn a_zoho_token_refused_again_after_the_refresh_is_auth_failed() {
    let server = MockServer::start().await;
    token_post()
        .respond_with(token_answer("1000.useless"))
        .expect(2)
        .mount(&server)
        .await;
    users_get("email_id", &["pat@acme.com"], 1)
        .respond_with(failed(401, 4022, "Invalid OAuth token"))
        .expect(2)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let client = zoho_client(&server);

    let err = client
        .lookup(&[ext("pat@acme.com")])
        .await
        .expect_err("refused twice");
    assert_eq!(err.reason(), Reason::AuthFailed, "{err}");
    let again = client.lookup(&[id(BOT_ID)]).await.expect_err("no more");
    assert_eq!(again.reason(), Reason::AuthFailed);
    assert_eq!(client.http().requests_sent(), 4);
}

#[tokio::test]
async fn a_revoked_refresh_token_is_auth_failed_without_an_api_request() {
    for status in [400, 200] {
        let server = MockServer::start().await;
        token_post()
            .respond_with(json_answer(status, &json!({ "error": "invalid_code" })))
            .expect(1)
            .mount(&server)
            .await;
        mount_catch_all(&server).await;
        let client = zoho_client(&server);

        let err = client
            .lookup(&[ext("pat@acme.com")])
            .await
            .expect_err("no token");

        assert_eq!(err.reason(), Reason::AuthFailed, "HTTP {status}: {err}");
        assert_eq!(client.http().requests_sent(), 1);
    }
}

// The simulator, through the connector.

async fn simulator() -> AnySimulator {
    simulator_with(&fixture("manageengine.json")).await
}

async fn simulator_with(data: &str) -> AnySimulator {
    AnySimulator::start(
        System::ManageEngine,
        "fixtures/manageengine.json",
        data,
        None,
        true,
    )
    .await
    .expect("the fixture starts")
}

fn demo_client(sim: &AnySimulator) -> Client {
    Client::new(settings(
        System::ManageEngine,
        &sim.server,
        authtoken("demo-manageengine-authtoken"),
    ))
    .expect("valid settings")
}

fn demo_zoho_client(sim: &AnySimulator) -> Client {
    Client::new(settings(
        System::ManageEngine,
        &sim.server,
        zoho(
            &sim.server,
            "demo-zoho-client",
            "demo-zoho-secret",
            "demo-zoho-refresh",
        ),
    ))
    .expect("valid settings")
}

#[tokio::test]
async fn the_simulator_finds_users_by_id_and_by_e_mail_without_regard_to_case() {
    let sim = simulator().await;
    let client = demo_client(&sim);

    let lookups = client
        .lookup(&[
            id(BOT_ID),
            id(PAT_ID),
            ext("Dana@ACME.com"),
            ext("moveworks-bot@acme.com"),
            ext("nobody@acme.com"),
            id("123640000000000000"),
        ])
        .await
        .expect("an answer");

    let bot = found(&lookups, &id(BOT_ID));
    assert_eq!(bot.full_name.as_deref(), Some("Moveworks Bot"));
    assert_eq!(bot.first_name.as_deref(), Some("Moveworks"));
    assert_eq!(bot.record_kind.as_deref(), Some("technician"));
    assert!(bot.active);
    assert_eq!(
        found(&lookups, &ext("moveworks-bot@acme.com"))
            .itsm_user_id
            .as_str(),
        BOT_ID
    );
    assert_eq!(
        found(&lookups, &id(PAT_ID)).last_name.as_deref(),
        Some("Lee")
    );
    let dana = found(&lookups, &ext("Dana@ACME.com"));
    assert_eq!(dana.itsm_user_id.as_str(), "123640000000142504");
    assert_eq!(dana.external_id, Some(ExternalId::new("dana@acme.com")));
    assert!(is_not_found(&lookups, &ext("nobody@acme.com")));
    assert!(is_not_found(&lookups, &id("123640000000000000")));
    assert_eq!(client.http().requests_sent(), 2);
}

#[tokio::test]
async fn the_simulator_reports_inactive_and_ambiguous_users() {
    let sim = simulator().await;

    let lookups = demo_client(&sim)
        .lookup(&[
            ext("beth.anglin@acme.com"),
            ext("helpdesk@acme.com"),
            id(BETH_ID),
        ])
        .await
        .expect("an answer");

    assert!(!found(&lookups, &ext("beth.anglin@acme.com")).active);
    assert!(!found(&lookups, &id(BETH_ID)).active);
    match lookups.get(&ext("helpdesk@acme.com")) {
        Some(Lookup::Ambiguous(users)) => {
            let ids: Vec<&str> = users.iter().map(|u| u.itsm_user_id.as_str()).collect();
            assert_eq!(ids, HELPDESK_IDS);
        }
        other => panic!("expected Ambiguous, got {other:?}"),
    }
}

#[tokio::test]
async fn the_simulator_accepts_zoho_tokens_it_issued_on_the_cloud_path() {
    let sim = simulator().await;
    let mut settings = settings(
        System::ManageEngine,
        &sim.server,
        zoho(
            &sim.server,
            "demo-zoho-client",
            "demo-zoho-secret",
            "demo-zoho-refresh",
        ),
    );
    settings.base_url = format!("{}/app/itdesk", sim.uri())
        .parse()
        .expect("a valid URL");
    let client = Client::new(settings).expect("valid settings");

    let lookups = client
        .lookup(&[ext("pat@acme.com"), id(BOT_ID)])
        .await
        .expect("an answer");

    assert_eq!(
        found(&lookups, &ext("pat@acme.com")).itsm_user_id.as_str(),
        PAT_ID
    );
    assert_eq!(found(&lookups, &id(BOT_ID)).itsm_user_id.as_str(), BOT_ID);
    assert_eq!(client.http().requests_sent(), 3, "one token, two searches");
    let paths: Vec<String> = requests(&sim.server)
        .await
        .iter()
        .map(|request| request.url.path().to_owned())
        .collect();
    assert_eq!(
        paths,
        [
            TOKEN,
            "/app/itdesk/api/v3/users",
            "/app/itdesk/api/v3/users"
        ]
    );
}

#[tokio::test]
async fn the_simulator_refuses_unknown_credentials() {
    let sim = simulator().await;
    let wrong_key = Client::new(settings(
        System::ManageEngine,
        &sim.server,
        authtoken("not-the-key"),
    ))
    .expect("valid settings");
    let err = wrong_key.lookup(&[id(BOT_ID)]).await.expect_err("refused");
    assert_eq!(err.reason(), Reason::AuthFailed, "{err}");
    assert_eq!(wrong_key.http().requests_sent(), 1);

    let wrong_refresh = Client::new(settings(
        System::ManageEngine,
        &sim.server,
        zoho(
            &sim.server,
            "demo-zoho-client",
            "demo-zoho-secret",
            "revoked",
        ),
    ))
    .expect("valid settings");
    let err = wrong_refresh
        .lookup(&[id(BOT_ID)])
        .await
        .expect_err("refused");
    assert_eq!(err.reason(), Reason::AuthFailed, "{err}");
    assert_eq!(
        wrong_refresh.http().requests_sent(),
        1,
        "only the token request"
    );
}

#[tokio::test]
async fn the_simulator_answers_both_authtoken_header_forms_and_refuses_others() {
    let sim = simulator().await;
    let http = reqwest::Client::new();
    let url = format!(
        "{}{USERS}?input_data={}",
        sim.uri(),
        url::form_urlencoded::byte_serialize(
            input_data("email_id", &["pat@acme.com"], 1).as_bytes()
        )
        .collect::<String>()
    );

    for (name, value) in [
        ("authtoken", "demo-manageengine-authtoken"),
        ("authorization", "authtoken: demo-manageengine-authtoken"),
    ] {
        let reply = http
            .get(&url)
            .header(name, value)
            .send()
            .await
            .expect("an answer");
        assert_eq!(reply.status(), 200, "{name}");
        let body: Value = reply.json().await.expect("JSON");
        assert_eq!(body["response_status"][0]["status_code"], 2000);
        assert_eq!(body["list_info"]["total_count"], 1);
        assert_eq!(body["list_info"]["has_more_rows"], false);
        assert_eq!(body["users"][0]["id"], PAT_ID);
    }

    let anonymous = http.get(&url).send().await.expect("an answer");
    assert_eq!(anonymous.status(), 401);
    let body: Value = anonymous.json().await.expect("JSON");
    assert_eq!(body["response_status"]["messages"][0]["status_code"], 4022);
    let unissued = http
        .get(&url)
        .header("authorization", "Zoho-oauthtoken 1000.never-issued")
        .send()
        .await
        .expect("an answer");
    assert_eq!(unissued.status(), 401);
}

#[tokio::test]
async fn the_simulator_pages_and_refuses_more_than_a_hundred_rows() {
    let sim = simulator().await;
    let http = reqwest::Client::new();
    let get = |input: Value| {
        http.get(format!("{}{USERS}", sim.uri()))
            .query(&[("input_data", input.to_string())])
            .header("authtoken", "demo-manageengine-authtoken")
            .send()
    };

    let first: Value = get(json!({"list_info": {"row_count": 4, "start_index": 1,
        "search_criteria": {"field": "status", "condition": "is", "value": "active"}}}))
    .await
    .expect("an answer")
    .json()
    .await
    .expect("JSON");
    assert_eq!(first["list_info"]["has_more_rows"], true);
    assert_eq!(first["users"].as_array().map(Vec::len), Some(4));
    assert!(first["list_info"].get("total_count").is_none());

    let last: Value = get(json!({"list_info": {"row_count": 4, "start_index": 5,
        "get_total_count": true,
        "search_criteria": [{"field": "status", "condition": "is", "value": "ACTIVE"}]}}))
    .await
    .expect("an answer")
    .json()
    .await
    .expect("JSON");
    assert_eq!(last["list_info"]["has_more_rows"], false);
    assert_eq!(last["list_info"]["total_count"], 5);
    assert_eq!(last["users"].as_array().map(Vec::len), Some(1));

    let too_many = get(json!({"list_info": {"row_count": 101}}))
        .await
        .expect("an answer");
    assert_eq!(too_many.status(), 400);
    let body: Value = too_many.json().await.expect("JSON");
    assert_eq!(body["response_status"]["status"], "failed");
}

#[tokio::test]
async fn a_rate_limited_simulator_is_rate_limited_through_the_connector() {
    for answer in ["http_429", "status_4015"] {
        let mut data: Value =
            serde_json::from_str(&fixture("manageengine.json")).expect("the fixture is JSON");
        data["rate_limit"] = json!({ "requests_per_minute": 1, "answer": answer });
        let sim = simulator_with(&data.to_string()).await;
        let client = demo_client(&sim);

        let lookups = client
            .lookup(&[id(BOT_ID)])
            .await
            .expect("the first request");
        assert!(found(&lookups, &id(BOT_ID)).active);
        let err = client
            .lookup(&[id(PAT_ID)])
            .await
            .expect_err("over the limit");

        assert_eq!(err.reason(), Reason::RateLimited, "{answer}: {err}");
        assert_eq!(client.http().requests_sent(), 5, "{answer}: 1 + 4 attempts");
    }
}

#[tokio::test]
async fn a_briefly_rate_limited_simulator_still_answers() {
    let sim = simulator().await;
    sim.faults.set(Fault::RateLimited {
        retry_after_seconds: 0,
        times: Some(1),
    });
    let client = demo_zoho_client(&sim);

    let lookups = client.lookup(&[id(BOT_ID)]).await.expect("an answer");

    assert_eq!(found(&lookups, &id(BOT_ID)).itsm_user_id.as_str(), BOT_ID);
    assert_eq!(client.http().requests_sent(), 3, "token 429, token, search");
}

#[tokio::test]
async fn a_simulator_behind_a_login_page_is_a_bad_response() {
    let sim = simulator().await;
    sim.faults.set(Fault::Hibernating);

    let err = demo_client(&sim)
        .lookup(&[id(BOT_ID)])
        .await
        .expect_err("not the API");

    assert_eq!(err.reason(), Reason::BadResponse, "{err}");
}

#[tokio::test]
async fn an_address_with_quotes_and_backslashes_is_found_exactly_through_the_simulator() {
    let tricky = r#"o"brien\x@acme.com"#;
    let data = json!({
        "users": [
            { "id": "123640000000142601", "email_id": tricky, "name": "O Brien", "status": "ACTIVE" },
            { "id": "123640000000142602", "email_id": "obrien@acme.com", "name": "Other", "status": "ACTIVE" }
        ],
        "simulator": { "authtoken": [{ "token": "demo-manageengine-authtoken" }] }
    });
    let sim = simulator_with(&data.to_string()).await;
    let injection = r#"x"],"condition":"is not","values":["x"#;

    let lookups = demo_client(&sim)
        .lookup(&[ext(&tricky.to_uppercase()), ext(injection)])
        .await
        .expect("an answer");

    let found = found(&lookups, &ext(&tricky.to_uppercase()));
    assert_eq!(found.itsm_user_id.as_str(), "123640000000142601");
    assert_eq!(found.external_id, Some(ExternalId::new(tricky)));
    assert!(is_not_found(&lookups, &ext(injection)));
}

#[tokio::test]
async fn the_simulator_refuses_criteria_it_does_not_understand() {
    let sim = simulator().await;
    let http = reqwest::Client::new();

    for input in [
        json!({"list_info": {"search_criteria": {"field": "email_id", "condition": "sounds like", "value": "x"}}}),
        json!({"list_info": {"search_criteria": {"field": "email_id", "condition": "is"}}}),
        json!({"list_info": {"start_index": 0}}),
        json!(["not", "an", "object"]),
    ] {
        let reply = http
            .get(format!("{}{USERS}", sim.uri()))
            .query(&[("input_data", input.to_string())])
            .header("authtoken", "demo-manageengine-authtoken")
            .send()
            .await
            .expect("an answer");
        assert_eq!(reply.status(), 400, "{input}");
        let body: Value = reply.json().await.expect("JSON");
        assert_eq!(body["response_status"]["status"], "failed", "{input}");
    }
}

#[tokio::test]
async fn an_expired_zoho_token_is_refreshed_once_through_the_simulator() {
    let mut data: Value =
        serde_json::from_str(&fixture("manageengine.json")).expect("the fixture is JSON");
    data["access_token_uses"] = json!(1);
    let sim = simulator_with(&data.to_string()).await;
    let client = demo_zoho_client(&sim);

    let lookups = client
        .lookup(&[id(BOT_ID), ext("pat@acme.com")])
        .await
        .expect("an answer after one refresh");
    assert_eq!(found(&lookups, &id(BOT_ID)).itsm_user_id.as_str(), BOT_ID);
    assert_eq!(
        found(&lookups, &ext("pat@acme.com")).itsm_user_id.as_str(),
        PAT_ID
    );
    assert_eq!(
        client.http().requests_sent(),
        5,
        "token, search, refused search, token, search"
    );

    let err = client
        .lookup(&[ext("dana@acme.com")])
        .await
        .expect_err("one refresh per run");
    assert_eq!(err.reason(), Reason::AuthFailed, "{err}");
    assert_eq!(client.http().requests_sent(), 6);
}
