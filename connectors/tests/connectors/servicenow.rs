//! ServiceNow connector tests: the exact requests the connector sends
//! (path, `sysparm_*` parameters, auth header), how it reads real row shapes
//! and failures, and the simulator answering through the connector.
//!
//! Never relies on a server-side filter: answers here are often wider or
//! stranger than what was asked, as a real instance's can be.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use itsmid_connectors::servicenow::Client;
use itsmid_connectors::sim::{AnySimulator, Fault};
use itsmid_connectors::{
    Connector, ConnectorError, CredentialOwner, ExternalId, ItsmUserId, Lookup, LookupKey, Lookups,
    Reason, System,
};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{basic, bearer, dropping_server, fixture, mount_catch_all, settings};

const TABLE: &str = "/api/now/table/sys_user";
const FIELDS: &str = "sys_id,user_name,email,first_name,last_name,name,active,locked_out";
/// `basic("bot", "secret")` as sent.
const BOT_BASIC: &str = "Basic Ym90OnNlY3JldA==";

const BOT_ID: &str = "6816f79cc0a8016401c5a33be04be441";
const PAT_ID: &str = "a8f98bb0eb32010045e1a5115206fe3a";
const ABEL_ID: &str = "62826bf03710200044e0bfc8bcbe5df1";
const BETH_ID: &str = "46d44a23a9fe19810012d100cca80666";
const CAROL_ID: &str = "9ee1b13dc6112271007f9d0efdb69cd0";

fn client(server: &MockServer) -> Client {
    Client::new(settings(System::ServiceNow, server, basic("bot", "secret")))
        .expect("valid settings")
}

fn id(value: &str) -> LookupKey {
    LookupKey::ItsmUserId(ItsmUserId::new(value))
}

fn ext(value: &str) -> LookupKey {
    LookupKey::ExternalId(ExternalId::new(value))
}

fn row(sys_id: &str, user_name: &str) -> Value {
    json!({
        "sys_id": sys_id, "user_name": user_name, "email": format!("{user_name}@acme.com"),
        "first_name": "First", "last_name": "Last", "name": "First Last",
        "active": "true", "locked_out": "false"
    })
}

fn answer(rows: Vec<Value>) -> ResponseTemplate {
    // `set_body_raw`: wiremock's `set_body_string` would send text/plain.
    ResponseTemplate::new(200).set_body_raw(
        json!({ "result": rows }).to_string(),
        "application/json;charset=UTF-8",
    )
}

fn error_body(status: u16, message: &str, detail: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(
        json!({"error": {"message": message, "detail": detail}, "status": "failure"}).to_string(),
        "application/json;charset=UTF-8",
    )
}

/// A GET of the table with the parameters every list request carries.
fn table_get(sysparm_query: &str, limit: &str) -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path(TABLE))
        .and(query_param("sysparm_query", sysparm_query))
        .and(query_param("sysparm_fields", FIELDS))
        .and(query_param("sysparm_display_value", "false"))
        .and(query_param("sysparm_exclude_reference_link", "true"))
        .and(query_param("sysparm_limit", limit))
}

fn found(lookups: &Lookups, key: &LookupKey) -> itsmid_connectors::ItsmUser {
    match lookups.get(key) {
        Some(Lookup::Found(user)) => user.clone(),
        other => panic!("{key:?}: expected Found, got {other:?}"),
    }
}

fn is_not_found(lookups: &Lookups, key: &LookupKey) -> bool {
    matches!(lookups.get(key), Some(Lookup::NotFound { .. }))
}

async fn requests(server: &MockServer) -> Vec<wiremock::Request> {
    server
        .received_requests()
        .await
        .expect("request recording is on")
}

fn sysparm_query(request: &wiremock::Request) -> String {
    request
        .url
        .query_pairs()
        .find(|(key, _)| key == "sysparm_query")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn ids_are_looked_up_in_one_sys_id_in_request_with_basic_auth() {
    let server = MockServer::start().await;
    table_get(&format!("sys_idIN{BOT_ID},{PAT_ID}"), "10")
        .and(header("authorization", BOT_BASIC))
        .respond_with(answer(vec![
            row(PAT_ID, "pat.lee"),
            row(BOT_ID, "moveworks.bot"),
        ]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let lookups = client(&server)
        .lookup(&[id(PAT_ID), id(BOT_ID)])
        .await
        .expect("an answer");

    assert_eq!(lookups.outcomes.len(), 2);
    let bot = found(&lookups, &id(BOT_ID));
    assert_eq!(bot.itsm_user_id.as_str(), BOT_ID);
    assert_eq!(
        bot.external_id.as_ref().map(ExternalId::as_str),
        Some("moveworks.bot")
    );
    assert_eq!(found(&lookups, &id(PAT_ID)).itsm_user_id.as_str(), PAT_ID);
}

#[tokio::test]
async fn external_ids_are_looked_up_in_one_user_name_in_request() {
    let server = MockServer::start().await;
    table_get("user_nameINmoveworks.bot,pat.lee", "10")
        .and(header("authorization", BOT_BASIC))
        .respond_with(answer(vec![
            row(BOT_ID, "moveworks.bot"),
            row(PAT_ID, "pat.lee"),
        ]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let lookups = client(&server)
        .lookup(&[ext("pat.lee"), ext("moveworks.bot")])
        .await
        .expect("an answer");

    assert_eq!(
        found(&lookups, &ext("pat.lee")).itsm_user_id.as_str(),
        PAT_ID
    );
    assert_eq!(
        found(&lookups, &ext("moveworks.bot")).itsm_user_id.as_str(),
        BOT_ID
    );
}

#[tokio::test]
async fn ids_and_external_ids_together_make_one_request_each() {
    let server = MockServer::start().await;
    table_get(&format!("sys_idIN{BOT_ID}"), "10")
        .respond_with(answer(vec![row(BOT_ID, "moveworks.bot")]))
        .expect(1)
        .mount(&server)
        .await;
    table_get("user_nameINpat.lee", "10")
        .respond_with(answer(vec![row(PAT_ID, "pat.lee")]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let lookups = client(&server)
        .lookup(&[id(BOT_ID), ext("pat.lee")])
        .await
        .expect("an answer");

    assert_eq!(found(&lookups, &id(BOT_ID)).itsm_user_id.as_str(), BOT_ID);
    assert_eq!(
        found(&lookups, &ext("pat.lee")).itsm_user_id.as_str(),
        PAT_ID
    );
}

#[tokio::test]
async fn repeated_keys_and_case_variants_are_asked_for_once() {
    let server = MockServer::start().await;
    table_get(&format!("sys_idIN{BOT_ID}"), "10")
        .respond_with(answer(vec![row(BOT_ID, "moveworks.bot")]))
        .expect(1)
        .mount(&server)
        .await;
    table_get("user_nameINpat.lee", "10")
        .respond_with(answer(vec![row(PAT_ID, "pat.lee")]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let keys = [
        id(BOT_ID),
        id(BOT_ID),
        ext("pat.lee"),
        ext("Pat.Lee"),
        ext("pat.lee"),
    ];
    let lookups = client(&server).lookup(&keys).await.expect("an answer");

    assert_eq!(lookups.outcomes.len(), 3, "one outcome per distinct key");
    assert_eq!(
        found(&lookups, &ext("Pat.Lee")).itsm_user_id.as_str(),
        PAT_ID
    );
    assert_eq!(
        found(&lookups, &ext("Pat.Lee"))
            .external_id
            .map(|e| e.0)
            .as_deref(),
        Some("pat.lee"),
        "the External ID in the system's spelling"
    );
}

#[tokio::test]
async fn the_configured_lookup_field_is_queried_and_fetched() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(TABLE))
        .and(query_param("sysparm_query", "employee_numberINE-1001"))
        .and(query_param(
            "sysparm_fields",
            format!("{FIELDS},employee_number"),
        ))
        .respond_with(answer(vec![json!({
            "sys_id": PAT_ID, "user_name": "pat.lee", "employee_number": "e-1001",
            "active": "true", "locked_out": "false"
        })]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let mut settings = settings(System::ServiceNow, &server, basic("bot", "secret"));
    settings.lookup_field = "employee_number".into();

    let lookups = Client::new(settings)
        .expect("valid settings")
        .lookup(&[ext("E-1001")])
        .await
        .expect("an answer");

    let pat = found(&lookups, &ext("E-1001"));
    assert_eq!(pat.external_id.map(|e| e.0).as_deref(), Some("e-1001"));
}

#[tokio::test]
async fn a_lookup_field_that_is_not_a_field_name_is_refused_at_setup() {
    let server = MockServer::start().await;
    for bad in ["user_name^ORactive=true", "User_Name", "manager.email", ""] {
        let mut settings = settings(System::ServiceNow, &server, basic("bot", "secret"));
        settings.lookup_field = bad.into();
        match Client::new(settings) {
            Err(ConnectorError::Setup { detail, .. }) => {
                assert!(detail.contains("lookup_by"), "{detail}")
            }
            Err(other) => panic!("{bad:?}: expected a setup error, got {other}"),
            Ok(_) => panic!("{bad:?}: expected a setup error"),
        }
    }
}

#[tokio::test]
async fn a_bearer_token_is_sent_in_the_authorization_header() {
    let server = MockServer::start().await;
    table_get(&format!("sys_idIN{BOT_ID}"), "10")
        .and(header("authorization", "Bearer snow-token"))
        .respond_with(answer(vec![row(BOT_ID, "moveworks.bot")]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let client = Client::new(settings(System::ServiceNow, &server, bearer("snow-token")))
        .expect("valid settings");

    let lookups = client.lookup(&[id(BOT_ID)]).await.expect("an answer");

    assert_eq!(found(&lookups, &id(BOT_ID)).itsm_user_id.as_str(), BOT_ID);
}

#[tokio::test]
async fn real_rows_with_string_flags_locked_out_and_hidden_fields_are_read() {
    let server = MockServer::start().await;
    table_get(&format!("sys_idIN{BETH_ID},{ABEL_ID},{CAROL_ID}"), "10")
        .respond_with(answer(vec![
            // ACL-hidden fields are simply absent; empty strings mean "no value".
            json!({"sys_id": ABEL_ID, "user_name": "abel.tuter", "first_name": "Abel",
                   "last_name": "", "email": "abel.tuter@acme.com"}),
            json!({"sys_id": BETH_ID, "user_name": "beth.anglin", "first_name": "Beth",
                   "last_name": "Anglin", "name": "Beth Anglin", "active": "false",
                   "locked_out": "false", "sys_class_name": "sys_user",
                   "web_service_access_only": "false", "manager": "62826bf03710200044e0bfc8bcbe5df1"}),
            json!({"sys_id": CAROL_ID.to_uppercase(), "user_name": "carol.locked",
                   "first_name": "Carol", "last_name": "Locke", "name": "Carol Locke",
                   "active": "true", "locked_out": "true"}),
        ]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let lookups = client(&server)
        .lookup(&[id(ABEL_ID), id(BETH_ID), id(CAROL_ID)])
        .await
        .expect("an answer");

    let abel = found(&lookups, &id(ABEL_ID));
    assert!(
        abel.active,
        "no `active` field is no evidence of inactivity"
    );
    assert_eq!(abel.first_name.as_deref(), Some("Abel"));
    assert_eq!(abel.last_name, None);
    assert_eq!(abel.full_name, None);
    let beth = found(&lookups, &id(BETH_ID));
    assert!(!beth.active, "\"false\" is a string, and it means false");
    assert_eq!(beth.inactive_reason, None);
    assert_eq!(beth.full_name.as_deref(), Some("Beth Anglin"));
    let carol = found(&lookups, &id(CAROL_ID));
    assert!(!carol.active);
    assert_eq!(carol.inactive_reason.as_deref(), Some("locked out"));
    assert_eq!(carol.itsm_user_id.as_str(), CAROL_ID, "lower case");
}

#[tokio::test]
async fn rows_the_server_was_not_asked_for_are_filtered_out() {
    let server = MockServer::start().await;
    // As an instance does when it drops a condition: everything comes back.
    table_get(&format!("sys_idIN{BOT_ID},{PAT_ID}"), "10")
        .respond_with(answer(vec![
            row(ABEL_ID, "abel.tuter"),
            row(BOT_ID, "moveworks.bot"),
            row(BETH_ID, "beth.anglin"),
        ]))
        .expect(1)
        .mount(&server)
        .await;
    table_get("user_nameINdana.ross", "10")
        .respond_with(answer(vec![row(ABEL_ID, "abel.tuter")]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let lookups = client(&server)
        .lookup(&[id(BOT_ID), id(PAT_ID), ext("dana.ross")])
        .await
        .expect("an answer");

    assert_eq!(lookups.outcomes.len(), 3);
    assert_eq!(found(&lookups, &id(BOT_ID)).itsm_user_id.as_str(), BOT_ID);
    assert!(is_not_found(&lookups, &id(PAT_ID)));
    assert!(is_not_found(&lookups, &ext("dana.ross")));
}

#[tokio::test]
async fn an_external_id_held_by_two_users_is_ambiguous() {
    let server = MockServer::start().await;
    table_get("user_nameINsam.shared", "10")
        .respond_with(answer(vec![
            row(ABEL_ID, "sam.shared"),
            row(BETH_ID, "SAM.SHARED"),
        ]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let lookups = client(&server)
        .lookup(&[ext("sam.shared")])
        .await
        .expect("an answer");

    match lookups.get(&ext("sam.shared")) {
        Some(Lookup::Ambiguous(users)) => {
            let mut ids: Vec<&str> = users.iter().map(|u| u.itsm_user_id.as_str()).collect();
            ids.sort_unstable();
            assert_eq!(ids, [BETH_ID, ABEL_ID]);
        }
        other => panic!("expected Ambiguous, got {other:?}"),
    }
}

#[tokio::test]
async fn an_empty_result_is_not_found() {
    let server = MockServer::start().await;
    table_get("user_nameINnobody", "10")
        .respond_with(answer(vec![]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let lookups = client(&server)
        .lookup(&[ext("nobody")])
        .await
        .expect("an answer");

    assert_eq!(
        lookups.get(&ext("nobody")),
        Some(&Lookup::NotFound { note: None })
    );
}

#[tokio::test]
async fn a_value_with_a_comma_is_sent_alone_with_equals() {
    let server = MockServer::start().await;
    table_get("user_name=lee, pat", "10")
        .respond_with(answer(vec![row(PAT_ID, "lee, pat")]))
        .expect(1)
        .mount(&server)
        .await;
    table_get("user_nameINdana.ross", "10")
        .respond_with(answer(vec![]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let lookups = client(&server)
        .lookup(&[ext("lee, pat"), ext("dana.ross")])
        .await
        .expect("an answer");

    assert_eq!(
        found(&lookups, &ext("lee, pat")).itsm_user_id.as_str(),
        PAT_ID
    );
    assert!(is_not_found(&lookups, &ext("dana.ross")));
}

#[tokio::test]
async fn injection_attempts_send_no_request_and_are_refused() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(answer(vec![]))
        .expect(0)
        .mount(&server)
        .await;
    let attempts = [
        "pat.lee^ORuser_name!=x",
        "nobody^NQsys_id!=0",
        "pat.lee\nactive=false",
        "pat.lee\r\n",
        "javascript:gs.getUserID()",
        "  JAVASCRIPT:gs.getUser()",
        "",
        "   ",
    ];
    let mut keys: Vec<LookupKey> = attempts.iter().map(|value| ext(value)).collect();
    keys.push(id("6816f79cc0a8016401c5a33be04be44^"));
    keys.push(id("not-a-sys-id"));

    let client = client(&server);
    let lookups = client.lookup(&keys).await.expect("an answer");

    assert_eq!(lookups.outcomes.len(), keys.len());
    for key in &keys {
        match lookups.get(key) {
            Some(Lookup::Refused(refused)) => assert!(!refused.reason.is_empty()),
            other => panic!("{key:?}: expected Refused, got {other:?}"),
        }
    }
    assert!(requests(&server).await.is_empty());
    assert_eq!(client.http().requests_sent(), 0);
}

#[tokio::test]
async fn an_injection_attempt_among_safe_values_leaves_them_looked_up() {
    let server = MockServer::start().await;
    table_get("user_nameINpat.lee", "10")
        .respond_with(answer(vec![row(PAT_ID, "pat.lee")]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let lookups = client(&server)
        .lookup(&[ext("pat.lee"), ext("x^NQactive=true")])
        .await
        .expect("an answer");

    assert_eq!(
        found(&lookups, &ext("pat.lee")).itsm_user_id.as_str(),
        PAT_ID
    );
    assert!(matches!(
        lookups.get(&ext("x^NQactive=true")),
        Some(Lookup::Refused(_))
    ));
}

async fn assert_auth_failure_stops_requests(status: u16, message: &str, detail: &str) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(TABLE))
        .respond_with(error_body(status, message, detail))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let client = client(&server);

    let err = client
        .lookup(&[id(BOT_ID), ext("pat.lee")])
        .await
        .expect_err("refused credentials");
    assert_eq!(err.reason(), Reason::AuthFailed, "{err}");
    let again = client.whoami().await.expect_err("still refused");
    assert_eq!(again.reason(), Reason::AuthFailed);
    assert_eq!(client.http().requests_sent(), 1);
}

#[tokio::test]
async fn http_401_is_auth_failed_and_nothing_more_is_sent() {
    assert_auth_failure_stops_requests(
        401,
        "User Not Authenticated",
        "Required to provide Auth information",
    )
    .await;
}

#[tokio::test]
async fn http_403_is_auth_failed_and_nothing_more_is_sent() {
    assert_auth_failure_stops_requests(
        403,
        "User Not Authorized",
        "Failed API level ACL Validation",
    )
    .await;
}

#[tokio::test]
async fn a_v1_style_404_no_record_found_is_not_found() {
    let server = MockServer::start().await;
    table_get("user_nameINnobody", "10")
        .respond_with(error_body(
            404,
            "No Record found",
            "Record doesn't exist or ACL restricts the record retrieval",
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let lookups = client(&server)
        .lookup(&[ext("nobody")])
        .await
        .expect("an answer");

    assert!(is_not_found(&lookups, &ext("nobody")));
}

#[tokio::test]
async fn a_404_that_is_not_servicenow_is_a_bad_response() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(TABLE))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_raw("<html><body>Not Found</body></html>", "text/html"),
        )
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let err = client(&server)
        .lookup(&[ext("pat.lee")])
        .await
        .expect_err("not an instance");

    assert_eq!(err.reason(), Reason::BadResponse, "{err}");
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_and_then_answers() {
    let server = MockServer::start().await;
    table_get("user_nameINpat.lee", "10")
        .respond_with(
            error_body(
                429,
                "Rate limit exceeded",
                "Rate limit of 100 requests per hour for Table API exceeded",
            )
            .insert_header("retry-after", "0"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    table_get("user_nameINpat.lee", "10")
        .respond_with(answer(vec![row(PAT_ID, "pat.lee")]))
        .with_priority(2)
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let client = client(&server);

    let lookups = client.lookup(&[ext("pat.lee")]).await.expect("an answer");

    assert_eq!(
        found(&lookups, &ext("pat.lee")).itsm_user_id.as_str(),
        PAT_ID
    );
    assert_eq!(client.http().requests_sent(), 2, "the retry is counted");
}

#[tokio::test]
async fn a_429_that_persists_is_rate_limited() {
    let server = MockServer::start().await;
    table_get("user_nameINpat.lee", "10")
        .respond_with(
            error_body(429, "Rate limit exceeded", "Rate limit exceeded")
                .insert_header("retry-after", "0"),
        )
        .expect(4)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let err = client(&server)
        .lookup(&[ext("pat.lee")])
        .await
        .expect_err("rate limited");

    assert_eq!(err.reason(), Reason::RateLimited, "{err}");
}

#[tokio::test]
async fn a_500_that_persists_is_unreachable() {
    let server = MockServer::start().await;
    table_get("user_nameINpat.lee", "10")
        .respond_with(error_body(
            500,
            "Internal server error",
            "additional information",
        ))
        .expect(4)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let err = client(&server)
        .lookup(&[ext("pat.lee")])
        .await
        .expect_err("down");

    assert_eq!(err.reason(), Reason::Unreachable, "{err}");
}

#[tokio::test]
async fn an_html_page_with_200_is_a_bad_response_not_an_empty_answer() {
    let server = MockServer::start().await;
    table_get("user_nameINpat.lee", "10")
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            "<html><head><title>Hibernating Instance</title></head>\
                 <body><h1>Your instance is hibernating</h1></body></html>",
            "text/html; charset=utf-8",
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let err = client(&server)
        .lookup(&[ext("pat.lee")])
        .await
        .expect_err("asleep");

    assert_eq!(err.reason(), Reason::BadResponse, "{err}");
}

#[tokio::test]
async fn json_without_a_result_list_is_a_bad_response() {
    let server = MockServer::start().await;
    table_get("user_nameINpat.lee", "10")
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(r#"{"result":{"sys_id":"x"}}"#, "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let err = client(&server)
        .lookup(&[ext("pat.lee")])
        .await
        .expect_err("not a list");

    assert_eq!(err.reason(), Reason::BadResponse, "{err}");
}

#[tokio::test]
async fn a_dropped_connection_is_unreachable_after_retries() {
    let (url, accepted) = dropping_server().await;
    let unused = MockServer::start().await;
    let mut settings = settings(System::ServiceNow, &unused, basic("bot", "secret"));
    settings.base_url = url;
    let client = Client::new(settings).expect("valid settings");

    let err = client.lookup(&[ext("pat.lee")]).await.expect_err("dropped");

    assert_eq!(err.reason(), Reason::Unreachable, "{err}");
    assert_eq!(client.http().requests_sent(), 4);
    assert!(accepted.load(Ordering::SeqCst) >= 4);
}

/// Mounts an empty answer for every table request and returns, after the
/// lookup of `count` ids, the queries sent and the longest URL.
async fn ids_lookup(count: usize) -> (Vec<String>, usize, Vec<LookupKey>) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(TABLE))
        .respond_with(answer(vec![]))
        .mount(&server)
        .await;
    let keys: Vec<LookupKey> = (0..count).map(|n| id(&format!("{n:032x}"))).collect();
    let lookups = client(&server).lookup(&keys).await.expect("an answer");
    assert_eq!(lookups.outcomes.len(), count);
    assert!(keys.iter().all(|key| is_not_found(&lookups, key)));
    let received = requests(&server).await;
    let longest = received
        .iter()
        .map(|request| request.url.as_str().len())
        .max()
        .unwrap_or(0);
    let queries = received.iter().map(sysparm_query).collect();
    (queries, longest, keys)
}

#[tokio::test]
async fn a_thousand_ids_go_out_in_a_few_requests_each_id_in_exactly_one() {
    let (queries, longest, keys) = ids_lookup(1_000).await;

    assert_eq!(
        queries.len(),
        7,
        "about 160 sys_ids fit in a 6,000-byte URL"
    );
    assert!(longest < 6_000, "longest URL: {longest} bytes");
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for query in &queries {
        let list = query.strip_prefix("sys_idIN").expect("a sys_idIN query");
        for id in list.split(',') {
            *seen.entry(id.to_owned()).or_default() += 1;
        }
    }
    assert_eq!(seen.len(), keys.len());
    assert!(seen.values().all(|&times| times == 1));
}

#[tokio::test]
async fn ten_thousand_ids_need_far_fewer_than_three_hundred_requests() {
    let (queries, longest, _) = ids_lookup(10_000).await;

    assert_eq!(queries.len(), 62);
    assert!(longest < 6_000, "longest URL: {longest} bytes");
}

#[tokio::test]
async fn a_full_page_is_followed_by_the_next_one() {
    let server = MockServer::start().await;
    let shared: Vec<Value> = (0..10)
        .map(|n| row(&format!("{n:032x}"), "sam.shared"))
        .collect();
    table_get("user_nameINsam.shared", "10")
        .and(query_param_is_missing("sysparm_offset"))
        .respond_with(answer(shared))
        .expect(1)
        .mount(&server)
        .await;
    table_get("user_nameINsam.shared", "10")
        .and(query_param("sysparm_offset", "10"))
        .respond_with(answer(vec![row(PAT_ID, "sam.shared")]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let lookups = client(&server)
        .lookup(&[ext("sam.shared")])
        .await
        .expect("an answer");

    match lookups.get(&ext("sam.shared")) {
        Some(Lookup::Ambiguous(users)) => assert_eq!(users.len(), 11),
        other => panic!("expected Ambiguous, got {other:?}"),
    }
}

#[tokio::test]
async fn a_query_whose_pages_never_end_is_a_bad_response() {
    let server = MockServer::start().await;
    let widened: Vec<Value> = (0..10)
        .map(|n| row(&format!("{n:032x}"), &format!("user{n}")))
        .collect();
    table_get("user_nameINpat.lee", "10")
        .respond_with(answer(widened))
        .expect(5)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let err = client(&server)
        .lookup(&[ext("pat.lee")])
        .await
        .expect_err("an unbounded answer");

    assert_eq!(err.reason(), Reason::BadResponse, "{err}");
}

#[tokio::test]
async fn whoami_with_basic_credentials_looks_up_the_username() {
    let server = MockServer::start().await;
    table_get("user_name=bot", "10")
        .and(header("authorization", BOT_BASIC))
        .respond_with(answer(vec![row(BOT_ID, "bot")]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let owner = client(&server).whoami().await.expect("an answer");

    match owner {
        CredentialOwner::Known(user) => assert_eq!(user.itsm_user_id.as_str(), BOT_ID),
        other => panic!("expected Known, got {other:?}"),
    }
}

#[tokio::test]
async fn whoami_is_unknown_when_the_username_is_not_found() {
    let server = MockServer::start().await;
    // A widened answer names someone else: still unknown.
    table_get("user_name=bot", "10")
        .respond_with(answer(vec![row(PAT_ID, "pat.lee")]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let owner = client(&server).whoami().await.expect("an answer");

    assert_eq!(owner, CredentialOwner::Unknown);
}

#[tokio::test]
async fn whoami_with_a_bearer_token_sends_no_request() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(answer(vec![]))
        .expect(0)
        .mount(&server)
        .await;
    let client = Client::new(settings(System::ServiceNow, &server, bearer("snow-token")))
        .expect("valid settings");

    assert_eq!(
        client.whoami().await.expect("an answer"),
        CredentialOwner::Unknown
    );
    assert_eq!(client.http().requests_sent(), 0);
}

#[tokio::test]
async fn whoami_with_an_unsafe_username_sends_no_request() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(answer(vec![]))
        .expect(0)
        .mount(&server)
        .await;
    let client = Client::new(settings(
        System::ServiceNow,
        &server,
        basic("bot^NQactive=true", "secret"),
    ))
    .expect("valid settings");

    assert_eq!(
        client.whoami().await.expect("an answer"),
        CredentialOwner::Unknown
    );
}

// The simulator, through the connector.

async fn simulator() -> AnySimulator {
    AnySimulator::start(
        System::ServiceNow,
        "fixtures/servicenow.json",
        &fixture("servicenow.json"),
        None,
        true,
    )
    .await
    .expect("the demo fixture starts")
}

fn demo_client(sim: &AnySimulator) -> Client {
    Client::new(settings(
        System::ServiceNow,
        &sim.server,
        basic("moveworks.bot", "demo-snow-password"),
    ))
    .expect("valid settings")
}

#[tokio::test]
async fn the_simulator_finds_users_by_id_and_by_name() {
    let sim = simulator().await;
    let client = demo_client(&sim);

    let lookups = client
        .lookup(&[
            id(BOT_ID),
            id(PAT_ID),
            ext("ABEL.TUTER"),
            ext("dana.ross"),
            ext("nobody"),
            id("00000000000000000000000000000000"),
        ])
        .await
        .expect("an answer");

    let bot = found(&lookups, &id(BOT_ID));
    assert_eq!(bot.full_name.as_deref(), Some("Moveworks Bot"));
    assert!(bot.active);
    assert_eq!(
        found(&lookups, &id(PAT_ID)).first_name.as_deref(),
        Some("Pat")
    );
    let abel = found(&lookups, &ext("ABEL.TUTER"));
    assert_eq!(abel.itsm_user_id.as_str(), ABEL_ID);
    assert_eq!(abel.external_id.map(|e| e.0).as_deref(), Some("abel.tuter"));
    assert!(is_not_found(&lookups, &ext("nobody")));
    assert!(is_not_found(
        &lookups,
        &id("00000000000000000000000000000000")
    ));
    assert_eq!(client.http().requests_sent(), 2);
}

#[tokio::test]
async fn the_simulator_reports_inactive_and_locked_out_users() {
    let sim = simulator().await;

    let lookups = demo_client(&sim)
        .lookup(&[ext("beth.anglin"), ext("carol.locked")])
        .await
        .expect("an answer");

    let beth = found(&lookups, &ext("beth.anglin"));
    assert!(!beth.active);
    assert_eq!(beth.inactive_reason, None);
    let carol = found(&lookups, &ext("carol.locked"));
    assert!(!carol.active);
    assert_eq!(carol.inactive_reason.as_deref(), Some("locked out"));
}

#[tokio::test]
async fn the_simulator_looks_up_by_e_mail_when_configured() {
    let sim = simulator().await;
    let mut settings = settings(System::ServiceNow, &sim.server, bearer("demo-snow-token"));
    settings.lookup_field = "email".into();

    let lookups = Client::new(settings)
        .expect("valid settings")
        .lookup(&[ext("Pat@Acme.com"), ext("shared-desk@acme.com")])
        .await
        .expect("an answer");

    assert_eq!(
        found(&lookups, &ext("Pat@Acme.com")).itsm_user_id.as_str(),
        PAT_ID
    );
    assert_eq!(
        found(&lookups, &ext("shared-desk@acme.com"))
            .itsm_user_id
            .as_str(),
        "0a826bf03710200044e0bfc8bcbe5d7a"
    );
}

#[tokio::test]
async fn an_unknown_lookup_field_widens_the_simulator_answer_and_nothing_matches() {
    let sim = simulator().await;
    let mut settings = settings(
        System::ServiceNow,
        &sim.server,
        basic("moveworks.bot", "demo-snow-password"),
    );
    settings.lookup_field = "employee_number".into();

    let lookups = Client::new(settings)
        .expect("valid settings")
        .lookup(&[ext("pat.lee")])
        .await
        .expect("an answer");

    match lookups.get(&ext("pat.lee")) {
        Some(Lookup::NotFound { note: Some(note) }) => {
            assert!(note.contains("employee_number"), "{note}")
        }
        other => panic!("expected NotFound with a note, got {other:?}"),
    }
}

#[tokio::test]
async fn whoami_against_the_simulator_names_the_bot() {
    let sim = simulator().await;

    let owner = demo_client(&sim).whoami().await.expect("an answer");

    match owner {
        CredentialOwner::Known(user) => assert_eq!(user.itsm_user_id.as_str(), BOT_ID),
        other => panic!("expected Known, got {other:?}"),
    }
}

#[tokio::test]
async fn the_simulator_refuses_unknown_credentials() {
    let sim = simulator().await;
    let client = Client::new(settings(
        System::ServiceNow,
        &sim.server,
        basic("moveworks.bot", "wrong"),
    ))
    .expect("valid settings");

    let err = client.lookup(&[id(BOT_ID)]).await.expect_err("refused");

    assert_eq!(err.reason(), Reason::AuthFailed, "{err}");
}

#[tokio::test]
async fn a_hibernating_simulator_is_a_bad_response() {
    let sim = simulator().await;
    sim.faults.set(Fault::Hibernating);

    let err = demo_client(&sim)
        .lookup(&[id(BOT_ID)])
        .await
        .expect_err("asleep");

    assert_eq!(err.reason(), Reason::BadResponse, "{err}");
}

#[tokio::test]
async fn a_briefly_rate_limited_simulator_still_answers() {
    let sim = simulator().await;
    sim.faults.set(Fault::RateLimited {
        retry_after_seconds: 0,
        times: Some(1),
    });
    let client = demo_client(&sim);

    let lookups = client.lookup(&[id(BOT_ID)]).await.expect("an answer");

    assert_eq!(found(&lookups, &id(BOT_ID)).itsm_user_id.as_str(), BOT_ID);
    assert_eq!(client.http().requests_sent(), 2);
}

#[tokio::test]
async fn the_simulator_pages_and_serves_single_records() {
    let sim = simulator().await;
    let http = reqwest::Client::new();
    let get = |path: &str| {
        http.get(format!("{}{path}", sim.uri()))
            .basic_auth("moveworks.bot", Some("demo-snow-password"))
    };

    let page = get("/api/now/v2/table/sys_user?sysparm_query=active=true&sysparm_limit=2&sysparm_fields=user_name,nope")
        .send()
        .await
        .expect("an answer");
    assert_eq!(page.status(), 200);
    assert_eq!(
        page.headers()
            .get("x-total-count")
            .and_then(|v| v.to_str().ok()),
        Some("6")
    );
    let link = page
        .headers()
        .get("link")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        link.contains("rel=\"next\"") && link.contains("sysparm_offset=2"),
        "{link}"
    );
    let body: Value = page.json().await.expect("JSON");
    assert_eq!(
        body,
        json!({"result": [{"user_name": "moveworks.bot"}, {"user_name": "pat.lee"}]})
    );

    let last =
        get("/api/now/table/sys_user?sysparm_query=active=true&sysparm_limit=2&sysparm_offset=4")
            .send()
            .await
            .expect("an answer");
    assert!(last.headers().get("link").is_none());

    let single = get(&format!("/api/now/table/sys_user/{PAT_ID}"))
        .send()
        .await
        .expect("an answer");
    let body: Value = single.json().await.expect("JSON");
    assert_eq!(body["result"]["user_name"], "pat.lee");

    let missing = get("/api/now/table/sys_user/00000000000000000000000000000000")
        .send()
        .await
        .expect("an answer");
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.expect("JSON");
    assert_eq!(body["error"]["message"], "No Record found");

    let anonymous = http
        .get(format!("{}/api/now/table/sys_user", sim.uri()))
        .send()
        .await
        .expect("an answer");
    assert_eq!(anonymous.status(), 401);
}
