//! The ServiceNow readiness probe: the exact GET requests it sends (the
//! bot's active role rows, one row of the table), how it reads each answer
//! (problems, and what cannot tell), and the bot's documented settings read
//! from the lookups' records; the simulator's readiness data in `simulator`.
//!
//! Every probe request is a GET: a catch-all for any other method expects
//! none.

use itsmid_connectors::servicenow::Client;
use itsmid_connectors::{
    Connector, ConnectorSettings, ItsmUser, ItsmUserId, ReadinessInput, ReadinessKind, System,
};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{BOT_BASIC, BOT_ID, PAT_ID, answer, error_body, id, row, table_get};
use crate::support::{basic, mount_catch_all, settings};

mod simulator;

const ROLES: &str = "/api/now/table/sys_user_has_role";
const INCIDENT: &str = "/api/now/table/incident";

fn bot() -> ItsmUser {
    ItsmUser {
        itsm_user_id: ItsmUserId::new(BOT_ID),
        external_id: Some(itsmid_connectors::ExternalId::new("moveworks.bot")),
        active: true,
        first_name: None,
        last_name: None,
        full_name: None,
        account_type: None,
        time_zone: None,
        inactive_reason: None,
        record_kind: None,
    }
}

fn input() -> ReadinessInput {
    ReadinessInput {
        bot: bot(),
        users: Vec::new(),
    }
}

fn test_settings(server: &MockServer) -> ConnectorSettings {
    settings(System::ServiceNow, server, basic("bot", "secret"))
}

fn client_with(settings: ConnectorSettings) -> Client {
    Client::new(settings).expect("valid settings")
}

fn role(user: &str, name: &str, state: &str) -> Value {
    json!({"user": user, "role.name": name, "state": state})
}

/// The role read, with every parameter it carries.
fn roles_get() -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path(ROLES))
        .and(query_param(
            "sysparm_query",
            format!("user={BOT_ID}^state=active"),
        ))
        .and(query_param("sysparm_fields", "user,role.name,state"))
        .and(query_param("sysparm_display_value", "false"))
        .and(query_param("sysparm_exclude_reference_link", "true"))
        .and(query_param("sysparm_limit", "500"))
        .and(header("authorization", BOT_BASIC))
}

/// The table read, with every parameter it carries.
fn incident_get() -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path(INCIDENT))
        .and(query_param("sysparm_limit", "1"))
        .and(query_param("sysparm_fields", "sys_id"))
        .and(query_param("sysparm_no_count", "true"))
        .and(header("authorization", BOT_BASIC))
}

/// Any method but GET: the probe never sends one.
async fn mount_no_writes(server: &MockServer) {
    Mock::given(wiremock::matchers::any())
        .and(|request: &wiremock::Request| request.method != wiremock::http::Method::GET)
        .respond_with(ResponseTemplate::new(599))
        .expect(0)
        .mount(server)
        .await;
}

async fn readable_incident(server: &MockServer) {
    incident_get()
        .respond_with(answer(vec![
            json!({"sys_id": "9d385017c611228701d22104cc95c371"}),
        ]))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_ready_bot_costs_one_role_read_and_one_table_read_and_only_gets() {
    let server = MockServer::start().await;
    roles_get()
        .respond_with(answer(vec![
            json!({"user": BOT_ID, "role.name": "itil", "state": "active"}),
            role(BOT_ID, "snc_platform_rest_api_access", "active"),
        ]))
        .expect(1)
        .mount(&server)
        .await;
    readable_incident(&server).await;
    mount_no_writes(&server).await;
    mount_catch_all(&server).await;
    let client = client_with(test_settings(&server));

    let readiness = client.readiness(&input()).await;

    assert!(readiness.problems.is_empty(), "{readiness:?}");
    assert!(readiness.cannot_tell.is_empty(), "{readiness:?}");
    assert_eq!(client.http().requests_sent(), 2);
    // The encoded query reaches the instance encoded as the Table API
    // expects: `=` and `^` percent-encoded in one `sysparm_query`.
    let requests = server.received_requests().await.expect("recording is on");
    let roles = requests
        .iter()
        .find(|r| r.url.path() == ROLES)
        .expect("the role read");
    assert!(
        roles
            .url
            .as_str()
            .contains(&format!("sysparm_query=user%3D{BOT_ID}%5Estate%3Dactive")),
        "{}",
        roles.url
    );
}

#[tokio::test]
async fn roles_without_an_active_row_of_the_bot_are_one_permission_missing() {
    let server = MockServer::start().await;
    roles_get()
        .respond_with(answer(vec![
            // Granted through a group: counts like a direct grant.
            json!({"user": BOT_ID, "role.name": "itil", "state": "active", "inherited": "true"}),
            // Requested, not granted; and another user's row the server
            // should not have sent: neither counts.
            role(BOT_ID, "sn_incident_write", "requested"),
            role(PAT_ID, "catalog_admin", "active"),
        ]))
        .expect(1)
        .mount(&server)
        .await;
    readable_incident(&server).await;
    mount_catch_all(&server).await;
    let mut settings = test_settings(&server);
    settings.readiness.roles = vec![
        "itil".into(),
        "sn_incident_write".into(),
        "catalog_admin".into(),
    ];

    let readiness = client_with(settings).readiness(&input()).await;

    assert!(readiness.cannot_tell.is_empty(), "{readiness:?}");
    let [problem] = readiness.problems.as_slice() else {
        panic!("one problem: {readiness:?}");
    };
    assert_eq!(problem.kind, ReadinessKind::PermissionMissing);
    assert_eq!(
        problem.expected.as_deref(),
        Some("itil, sn_incident_write, catalog_admin")
    );
    assert_eq!(
        problem.actual.as_deref(),
        Some("sn_incident_write, catalog_admin")
    );
    assert!(
        problem.message.contains(
            "\"moveworks.bot\" does not hold the ServiceNow roles sn_incident_write, catalog_admin"
        ),
        "{}",
        problem.message
    );
    assert!(
        problem.fix.starts_with(
            "in ServiceNow, User Administration → Users → open the bot's user record → Roles"
        ),
        "{}",
        problem.fix
    );
}

#[tokio::test]
async fn a_refused_role_read_cannot_tell_and_the_table_is_still_read() {
    for status in [401, 403] {
        let server = MockServer::start().await;
        roles_get()
            .respond_with(error_body(
                status,
                "User Not Authorized",
                "Failed API level ACL Validation",
            ))
            .expect(1)
            .mount(&server)
            .await;
        readable_incident(&server).await;
        mount_catch_all(&server).await;
        let client = client_with(test_settings(&server));

        let readiness = client.readiness(&input()).await;

        assert!(readiness.problems.is_empty(), "{readiness:?}");
        assert_eq!(
            readiness.cannot_tell,
            [format!(
                "ServiceNow refused to show the bot's roles (HTTP {status} on sys_user_has_role: \
                 User Not Authorized: Failed API level ACL Validation); check the roles by hand, \
                 or let the bot read its own sys_user_has_role rows"
            )]
        );
        // Read by the probe: no refused login that would stop the system.
        assert_eq!(client.http().requests_sent(), 2);
    }
}

#[tokio::test]
async fn no_active_role_row_at_all_cannot_tell() {
    let server = MockServer::start().await;
    roles_get()
        .respond_with(answer(vec![role(BOT_ID, "itil", "requested")]))
        .expect(1)
        .mount(&server)
        .await;
    readable_incident(&server).await;
    mount_catch_all(&server).await;

    let readiness = client_with(test_settings(&server))
        .readiness(&input())
        .await;

    assert!(readiness.problems.is_empty(), "{readiness:?}");
    let [why] = readiness.cannot_tell.as_slice() else {
        panic!("one reason: {readiness:?}");
    };
    assert!(why.contains("no active role row for the bot"), "{why}");
}

#[tokio::test]
async fn role_pages_are_read_until_every_role_is_found() {
    let server = MockServer::start().await;
    let filler: Vec<Value> = (0..500)
        .map(|n| role(BOT_ID, &format!("u_role_{n}"), "active"))
        .collect();
    roles_get()
        .and(|request: &wiremock::Request| !request.url.as_str().contains("sysparm_offset"))
        .respond_with(answer(filler).insert_header("x-total-count", "1200"))
        .expect(1)
        .mount(&server)
        .await;
    // The second page holds itil: the third is never asked for.
    roles_get()
        .and(query_param("sysparm_offset", "500"))
        .respond_with(
            answer(vec![role(BOT_ID, "itil", "active")]).insert_header("x-total-count", "1200"),
        )
        .expect(1)
        .mount(&server)
        .await;
    readable_incident(&server).await;
    mount_catch_all(&server).await;
    let client = client_with(test_settings(&server));

    let readiness = client.readiness(&input()).await;

    assert_eq!(readiness, Default::default());
    assert_eq!(client.http().requests_sent(), 3);
}

#[tokio::test]
async fn a_refused_table_read_is_permission_missing_with_the_acl_to_grant() {
    let server = MockServer::start().await;
    roles_get()
        .respond_with(answer(vec![role(BOT_ID, "itil", "active")]))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/now/table/change_request"))
        .and(query_param("sysparm_limit", "1"))
        .respond_with(error_body(
            403,
            "User Not Authorized",
            "Failed API level ACL Validation",
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let mut settings = test_settings(&server);
    settings.readiness.table = "change_request".into();

    let readiness = client_with(settings).readiness(&input()).await;

    assert!(readiness.cannot_tell.is_empty(), "{readiness:?}");
    let [problem] = readiness.problems.as_slice() else {
        panic!("one problem: {readiness:?}");
    };
    assert_eq!(problem.kind, ReadinessKind::PermissionMissing);
    assert_eq!(
        problem.message,
        "the bot \"moveworks.bot\" cannot read the ServiceNow table change_request: the \
         instance refused the read with HTTP 403: User Not Authorized: Failed API level ACL \
         Validation"
    );
    assert!(
        problem.fix.contains("(itil for change_request)")
            && problem.fix.contains(
                "System Security → Access Control (ACL), type record, operation read, name \
                 change_request"
            ),
        "{}",
        problem.fix
    );
    assert_eq!(
        problem.expected.as_deref(),
        Some("read access to change_request")
    );
    assert_eq!(
        problem.actual.as_deref(),
        Some("HTTP 403 on change_request")
    );
}

#[tokio::test]
async fn an_empty_table_answer_is_readable() {
    let server = MockServer::start().await;
    roles_get()
        .respond_with(answer(vec![role(BOT_ID, "itil", "active")]))
        .mount(&server)
        .await;
    incident_get()
        .respond_with(answer(vec![]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let readiness = client_with(test_settings(&server))
        .readiness(&input())
        .await;

    assert_eq!(readiness, Default::default());
}

#[tokio::test]
async fn answers_that_cannot_say_whether_the_table_is_readable_cannot_tell() {
    let html = ResponseTemplate::new(200).set_body_raw(
        "<html><h1>Your instance is hibernating</h1></html>",
        "text/html",
    );
    let cases = [
        (
            error_body(
                400,
                "Invalid table incident",
                "Requested table does not exist",
            ),
            "ServiceNow does not know the table incident ([connectors.readiness] table): check \
             its name under System Definition → Tables",
        ),
        (
            error_body(
                401,
                "User Not Authenticated",
                "Required to provide Auth information",
            ),
            "the table incident could not be read: HTTP 401: User Not Authenticated: Required \
             to provide Auth information",
        ),
        (
            ResponseTemplate::new(404).set_body_raw("<html>no</html>", "text/html"),
            "the table incident could not be read: HTTP 404 without ServiceNow's error body",
        ),
        (
            html,
            "the table incident could not be read: snow: GET /api/now/table/incident",
        ),
    ];
    for (template, expected) in cases {
        let server = MockServer::start().await;
        roles_get()
            .respond_with(answer(vec![role(BOT_ID, "itil", "active")]))
            .mount(&server)
            .await;
        incident_get()
            .respond_with(template)
            .expect(1)
            .mount(&server)
            .await;
        mount_catch_all(&server).await;

        let readiness = client_with(test_settings(&server))
            .readiness(&input())
            .await;

        assert!(readiness.problems.is_empty(), "{readiness:?}");
        let [why] = readiness.cannot_tell.as_slice() else {
            panic!("one reason: {readiness:?}");
        };
        assert!(why.starts_with(expected), "{why}");
    }
}

#[tokio::test]
async fn a_v1_no_record_answer_is_an_empty_readable_table() {
    let server = MockServer::start().await;
    roles_get()
        .respond_with(answer(vec![role(BOT_ID, "itil", "active")]))
        .mount(&server)
        .await;
    incident_get()
        .respond_with(error_body(
            404,
            "No Record found",
            "Record doesn't exist or ACL restricts the record retrieval",
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let readiness = client_with(test_settings(&server))
        .readiness(&input())
        .await;

    assert_eq!(readiness, Default::default());
}

#[tokio::test]
async fn a_failing_instance_cannot_tell_after_its_retries() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let client = client_with(test_settings(&server));

    let readiness = client.readiness(&input()).await;

    assert!(readiness.problems.is_empty(), "{readiness:?}");
    assert_eq!(readiness.cannot_tell.len(), 2, "{readiness:?}");
    assert!(
        readiness.cannot_tell[0].starts_with("the bot's roles could not be read: "),
        "{readiness:?}"
    );
    assert!(
        readiness.cannot_tell[1].starts_with("the table incident could not be read: "),
        "{readiness:?}"
    );
}

#[tokio::test]
async fn a_table_name_that_is_no_table_is_never_sent() {
    let server = MockServer::start().await;
    roles_get()
        .respond_with(answer(vec![role(BOT_ID, "itil", "active")]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let mut settings = test_settings(&server);
    settings.readiness.table = "../sys_user".into();
    let client = client_with(settings);

    let readiness = client.readiness(&input()).await;

    assert_eq!(
        readiness.cannot_tell,
        ["the table \"../sys_user\" is not a ServiceNow table name; it was not read"]
    );
    assert_eq!(client.http().requests_sent(), 1);
}

// --- the bot's documented settings (BOT_SETTING) -------------------------

fn settings_row(time_zone: &str, date: &str, time: &str, web_only: &str) -> Value {
    let mut record = row(BOT_ID, "moveworks.bot");
    if let Some(object) = record.as_object_mut() {
        object.insert("time_zone".into(), json!(time_zone));
        object.insert("date_format".into(), json!(date));
        object.insert("time_format".into(), json!(time));
        object.insert("web_service_access_only".into(), json!(web_only));
    }
    record
}

#[tokio::test]
async fn settings_that_are_off_on_the_bots_record_are_reported_without_a_request() {
    let server = MockServer::start().await;
    table_get(&format!("sys_idIN{BOT_ID}"), "10")
        .respond_with(answer(vec![settings_row(
            "Europe/Berlin",
            "dd.MM.yyyy",
            "HH:mm:ss",
            "false",
        )]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let client = client_with(test_settings(&server));
    let lookups = client.lookup(&[id(BOT_ID)]).await.expect("an answer");
    let found = super::found(&lookups, &id(BOT_ID));

    let problems: Vec<(&str, String, Option<String>)> = client
        .bot_setting_problems(&found)
        .into_iter()
        .map(|p| (p.setting, p.expected, p.actual))
        .collect();

    assert_eq!(
        problems,
        [
            ("time_zone", "GMT".into(), Some("Europe/Berlin".into())),
            (
                "date_format",
                "yyyy-MM-dd".into(),
                Some("dd.MM.yyyy".into())
            ),
            (
                "web_service_access_only",
                "true".into(),
                Some("false".into())
            ),
        ]
    );
    assert_eq!(client.http().requests_sent(), 1);
}

#[tokio::test]
async fn documented_or_empty_settings_are_in_order() {
    for record in [
        settings_row("GMT", "yyyy-MM-dd", "HH:mm:ss", "true"),
        settings_row("", "", "", ""),
        row(BOT_ID, "moveworks.bot"),
    ] {
        let server = MockServer::start().await;
        table_get(&format!("sys_idIN{BOT_ID}"), "10")
            .respond_with(answer(vec![record]))
            .mount(&server)
            .await;
        mount_catch_all(&server).await;
        let client = client_with(test_settings(&server));
        let lookups = client.lookup(&[id(BOT_ID)]).await.expect("an answer");

        let found = super::found(&lookups, &id(BOT_ID));
        assert_eq!(client.bot_setting_problems(&found), []);
    }
}

#[tokio::test]
async fn a_record_read_again_replaces_what_was_noted_for_it() {
    let server = MockServer::start().await;
    table_get(&format!("sys_idIN{BOT_ID}"), "10")
        .respond_with(answer(vec![settings_row("PST", "", "", "")]))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    table_get(&format!("sys_idIN{BOT_ID}"), "10")
        .respond_with(answer(vec![settings_row("GMT", "", "", "")]))
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let client = client_with(test_settings(&server));
    let bot = super::found(
        &client.lookup(&[id(BOT_ID)]).await.expect("an answer"),
        &id(BOT_ID),
    );
    assert_eq!(client.bot_setting_problems(&bot).len(), 1);

    client.lookup(&[id(BOT_ID)]).await.expect("an answer");

    assert_eq!(client.bot_setting_problems(&bot), []);
}
