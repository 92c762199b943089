//! ServiceNow connector tests: the exact lookup requests the connector
//! sends (path, `sysparm_*` parameters, basic auth) and how it reads real
//! row shapes. Credentials and `whoami` are in `auth` (the OAuth password
//! grant in `oauth`), failures mapped to
//! their reasons in `errors`, batches and pages in `batches`, and the
//! simulator seen through the connector in `simulator`.
//!
//! Never relies on a server-side filter: answers here are often wider or
//! stranger than what was asked, as a real instance's can be.

use itsmid_connectors::servicenow::Client;
use itsmid_connectors::{
    Connector, ConnectorError, ExternalId, ItsmUserId, Lookup, LookupKey, Lookups, System,
};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{basic, mount_catch_all, settings};

mod auth;
mod batches;
mod errors;
mod limits;
mod oauth;
mod readiness;
mod recording;
mod simulator;

const TABLE: &str = "/api/now/table/sys_user";
const FIELDS: &str = "sys_id,user_name,email,first_name,last_name,name,active,locked_out,\
time_zone,date_format,time_format,web_service_access_only";
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
            .map(|e| e.into_string())
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
    assert_eq!(
        pat.external_id.map(|e| e.into_string()).as_deref(),
        Some("e-1001")
    );
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
