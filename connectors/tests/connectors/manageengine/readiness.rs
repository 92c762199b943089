//! ManageEngine bot readiness: is the bot a technician. The lookups'
//! `is_technician` answers without a request; otherwise exactly one
//! `GET /api/v3/users/{id}` with the lookups' headers, whose refusals
//! (4002, 4007, 4022, 401, 403, 404) and gaps (no `is_technician`) are parts
//! the probe cannot tell, never a stopped system. Then the same through the
//! simulator, whose data can express each answer.
//!
//! Never lets the probe send anything but GET: a mock for any other method
//! expects nothing.

use itsmid_connectors::manageengine::{ACCEPT_V3, Client};
use itsmid_connectors::sim::AnySimulator;
use itsmid_connectors::{
    Connector, ItsmUser, Readiness, ReadinessInput, ReadinessKind, ReadinessSettings, System,
};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

use super::{
    AUTHTOKEN, BOT_ID, PAT_ID, TOKEN, answer, authtoken, client, failed, id, json_answer, user,
    users_get, zoho,
};
use crate::support::{fixture, mount_catch_all, settings};

const BOT_PATH: &str = "/api/v3/users/123640000000142501";
/// The fixture's requester account the demo's bot entry names.
const VIRTUAL_AGENT_ID: &str = "123640000000142507";

/// The bot as the lookups returned it; `record_kind` is what they said of
/// `is_technician` (`None`: they did not carry it).
fn bot(id: &str, record_kind: Option<&str>) -> ReadinessInput {
    let bot: ItsmUser = serde_json::from_value(json!({
        "itsm_user_id": id, "external_id": "moveworks-bot@acme.com", "active": true,
        "first_name": "Moveworks", "last_name": "Bot", "full_name": "Moveworks Bot",
        "record_kind": record_kind
    }))
    .expect("a user");
    ReadinessInput {
        bot,
        users: Vec::new(),
    }
}

/// Matches any request that is not a GET, but for the Zoho token request
/// (the connector's own POST for Cloud credentials, not the probe's).
struct NotGet;

impl Match for NotGet {
    fn matches(&self, request: &Request) -> bool {
        request.method != wiremock::http::Method::GET && request.url.path() != TOKEN
    }
}

/// Mounted first: the probe must never send anything but GET.
async fn forbid_other_methods(server: &MockServer) {
    Mock::given(NotGet)
        .respond_with(ResponseTemplate::new(405))
        .with_priority(1)
        .expect(0)
        .mount(server)
        .await;
}

fn one_user(record: Value) -> ResponseTemplate {
    json_answer(
        200,
        &json!({"response_status": {"status_code": 2000, "status": "success"}, "user": record}),
    )
}

fn technician(is_technician: bool) -> Value {
    let mut record = user(BOT_ID, "moveworks-bot@acme.com");
    record["is_technician"] = json!(is_technician);
    record
}

/// The one GET the probe may send: the bot's user, with the lookups' headers.
fn user_get() -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path(BOT_PATH))
        .and(header("accept", ACCEPT_V3))
        .and(header("authtoken", AUTHTOKEN))
        .and(|request: &Request| request.url.query().is_none())
}

async fn server() -> MockServer {
    let server = MockServer::start().await;
    forbid_other_methods(&server).await;
    server
}

#[tokio::test]
async fn what_the_lookups_said_of_is_technician_costs_no_request() {
    let server = server().await;
    mount_catch_all(&server).await;
    let client = client(&server);

    assert_eq!(
        client.readiness(&bot(BOT_ID, Some("technician"))).await,
        Readiness::default()
    );
    let requester = client.readiness(&bot(BOT_ID, Some("requester"))).await;
    assert_eq!(requester.problems.len(), 1, "{requester:?}");
    let problem = &requester.problems[0];
    assert_eq!(problem.kind, ReadinessKind::PermissionMissing);
    assert!(problem.message.contains("not a technician"), "{problem:?}");
    assert!(problem.fix.contains("Admin → Users → Technicians"));
    assert_eq!(
        problem.expected.as_deref(),
        Some("technician (is_technician: true)")
    );
    assert_eq!(
        problem.actual.as_deref(),
        Some("requester (is_technician: false)")
    );
    assert!(requester.cannot_tell.is_empty());
    assert_eq!(client.http().requests_sent(), 0);
}

#[tokio::test]
async fn without_is_technician_from_the_lookups_one_get_of_the_bot_s_user_answers() {
    for (is_technician, problems) in [(true, 0), (false, 1)] {
        let server = server().await;
        user_get()
            .respond_with(one_user(technician(is_technician)))
            .expect(1)
            .mount(&server)
            .await;
        mount_catch_all(&server).await;
        let client = client(&server);

        let readiness = client.readiness(&bot(BOT_ID, None)).await;

        assert_eq!(readiness.problems.len(), problems, "{readiness:?}");
        assert!(readiness.cannot_tell.is_empty(), "{readiness:?}");
        assert_eq!(client.http().requests_sent(), 1);
    }
}

#[tokio::test]
async fn on_the_cloud_the_get_carries_the_portal_and_the_zoho_token() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(TOKEN))
        .respond_with(json_answer(
            200,
            &json!({"access_token": "1000.cloud", "token_type": "Bearer", "expires_in": 3600}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/app/itdesk{BOT_PATH}")))
        .and(header("accept", ACCEPT_V3))
        .and(header("authorization", "Zoho-oauthtoken 1000.cloud"))
        .respond_with(one_user(technician(false)))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let mut settings = settings(
        System::ManageEngine,
        &server,
        zoho(&server, "client", "secret", "refresh"),
    );
    settings.base_url = format!("{}/app/itdesk", server.uri())
        .parse()
        .expect("a valid URL");
    let client = Client::new(settings).expect("valid settings");

    let readiness = client.readiness(&bot(BOT_ID, None)).await;

    assert_eq!(readiness.problems.len(), 1, "{readiness:?}");
    assert_eq!(client.http().requests_sent(), 2, "the token and the user");
}

/// Each answer the probe cannot read: no finding, a reason naming it, and
/// the system still answers lookups afterwards.
#[tokio::test]
async fn refusals_and_gaps_cannot_tell_and_never_stop_the_system() {
    let mut without_field = technician(true);
    if let Some(record) = without_field.as_object_mut() {
        record.remove("is_technician");
    }
    let cases: Vec<(&str, ResponseTemplate, &str)> = vec![
        ("4002 with 403", failed(403, 4002, "UNAUTHORISED"), "4002"),
        ("4002 with 200", failed(200, 4002, "UNAUTHORISED"), "4002"),
        ("4007 with 404", failed(404, 4007, "Invalid URL"), "4007"),
        (
            "4022 with 401",
            failed(401, 4022, "Invalid API key received"),
            "4022",
        ),
        ("404 without a body", ResponseTemplate::new(404), "HTTP 404"),
        (
            "403 from a proxy",
            ResponseTemplate::new(403).set_body_raw("<html>denied</html>", "text/html"),
            "HTTP 403",
        ),
        (
            "no is_technician",
            one_user(without_field),
            "builds before 11000",
        ),
        (
            "no user",
            json_answer(
                200,
                &json!({"response_status": {"status_code": 2000, "status": "success"}}),
            ),
            "without a `user`",
        ),
        (
            "another user",
            one_user(user(PAT_ID, "pat@acme.com")),
            "another user",
        ),
        (
            "an HTML page",
            ResponseTemplate::new(200).set_body_raw("<html>hibernating</html>", "text/html"),
            "without ServiceDesk Plus JSON",
        ),
        ("a server error", ResponseTemplate::new(500), "HTTP 500"),
    ];
    for (case, template, reason) in cases {
        let server = server().await;
        let attempts = if case == "a server error" { 4 } else { 1 };
        user_get()
            .respond_with(template)
            .expect(attempts)
            .mount(&server)
            .await;
        users_get("id", &[PAT_ID], 1)
            .respond_with(answer(vec![user(PAT_ID, "pat@acme.com")]))
            .expect(1)
            .mount(&server)
            .await;
        mount_catch_all(&server).await;
        let client = client(&server);

        let readiness = client.readiness(&bot(BOT_ID, None)).await;

        assert!(readiness.problems.is_empty(), "{case}: {readiness:?}");
        assert_eq!(readiness.cannot_tell.len(), 1, "{case}: {readiness:?}");
        assert!(
            readiness.cannot_tell[0].contains(reason),
            "{case}: {}",
            readiness.cannot_tell[0]
        );
        assert!(
            readiness.cannot_tell[0].contains("technician"),
            "{case}: {}",
            readiness.cannot_tell[0]
        );
        client
            .lookup(&[id(PAT_ID)])
            .await
            .unwrap_or_else(|err| panic!("{case}: the system was stopped: {err}"));
    }
}

#[tokio::test]
async fn a_rate_limited_get_is_retried() {
    let server = server().await;
    user_get()
        .respond_with(failed(429, 4015, "API rate limit reached"))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(2)
        .mount(&server)
        .await;
    user_get()
        .respond_with(one_user(technician(true)))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let client = client(&server);

    let readiness = client.readiness(&bot(BOT_ID, None)).await;

    assert_eq!(readiness, Readiness::default());
    assert_eq!(client.http().requests_sent(), 2);
}

#[tokio::test]
async fn a_disabled_probe_sends_nothing() {
    let server = server().await;
    mount_catch_all(&server).await;
    let mut settings = settings(System::ManageEngine, &server, authtoken(AUTHTOKEN));
    settings.readiness = ReadinessSettings {
        enabled: false,
        ..ReadinessSettings::default()
    };
    let client = Client::new(settings).expect("valid settings");

    let readiness = client.readiness(&bot(BOT_ID, Some("requester"))).await;

    assert!(readiness.problems.is_empty());
    assert_eq!(readiness.cannot_tell.len(), 1);
    assert_eq!(client.http().requests_sent(), 0);
}

// The simulator serves the probe's route from its data.

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

fn fixture_with(change: impl FnOnce(&mut Value)) -> String {
    let mut data: Value =
        serde_json::from_str(&fixture("manageengine.json")).expect("the fixture is JSON");
    change(&mut data);
    data.to_string()
}

fn sim_client(sim: &AnySimulator) -> Client {
    Client::new(settings(
        System::ManageEngine,
        &sim.server,
        authtoken("demo-manageengine-authtoken"),
    ))
    .expect("valid settings")
}

#[tokio::test]
async fn the_simulator_serves_one_user_in_the_vendor_s_shape() {
    let sim = simulator_with(&fixture("manageengine.json")).await;
    let http = reqwest::Client::new();
    for base in [sim.uri(), format!("{}/app/itdesk", sim.uri())] {
        let reply = http
            .get(format!("{base}{BOT_PATH}"))
            .header("accept", ACCEPT_V3)
            .header("authtoken", "demo-manageengine-authtoken")
            .send()
            .await
            .expect("an answer");
        assert_eq!(reply.status(), 200, "{base}");
        let body: Value = reply.json().await.expect("JSON");
        assert_eq!(body["response_status"]["status_code"], 2000);
        assert_eq!(body["user"]["id"], BOT_ID);
        assert_eq!(body["user"]["is_technician"], true);
    }
    let unknown = http
        .get(format!("{}/api/v3/users/1", sim.uri()))
        .header("authtoken", "demo-manageengine-authtoken")
        .send()
        .await
        .expect("an answer");
    assert_eq!(unknown.status(), 404);
    let body: Value = unknown.json().await.expect("JSON");
    assert_eq!(body["response_status"]["messages"][0]["status_code"], 4007);
    let anonymous = http
        .get(format!("{}{BOT_PATH}", sim.uri()))
        .send()
        .await
        .expect("an answer");
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn through_the_simulator_the_fixture_s_bot_is_ready_without_a_request() {
    let sim = simulator_with(&fixture("manageengine.json")).await;
    let client = sim_client(&sim);
    let lookups = client.lookup(&[id(BOT_ID)]).await.expect("an answer");
    let Some(itsmid_connectors::Lookup::Found(found)) = lookups.get(&id(BOT_ID)) else {
        panic!("the bot is found: {lookups:?}");
    };
    let input = ReadinessInput {
        bot: found.clone(),
        users: Vec::new(),
    };

    assert_eq!(client.readiness(&input).await, Readiness::default());
    assert_eq!(client.http().requests_sent(), 1, "the lookup only");
}

#[tokio::test]
async fn through_the_simulator_a_requester_is_a_missing_permission() {
    let sim = simulator_with(&fixture("manageengine.json")).await;
    let client = sim_client(&sim);
    // As the lookups found it, and as one GET finds it.
    let lookups = client
        .lookup(&[id(VIRTUAL_AGENT_ID)])
        .await
        .expect("an answer");
    let Some(itsmid_connectors::Lookup::Found(found)) = lookups.get(&id(VIRTUAL_AGENT_ID)) else {
        panic!("the account is found: {lookups:?}");
    };
    assert_eq!(found.record_kind.as_deref(), Some("requester"));
    let input = ReadinessInput {
        bot: found.clone(),
        users: Vec::new(),
    };
    let by_lookup = client.readiness(&input).await;
    let by_get = client.readiness(&bot(VIRTUAL_AGENT_ID, None)).await;

    for readiness in [by_lookup, by_get] {
        assert_eq!(readiness.problems.len(), 1, "{readiness:?}");
        assert_eq!(readiness.problems[0].kind, ReadinessKind::PermissionMissing);
    }
    assert_eq!(client.http().requests_sent(), 2, "the lookup and one GET");
}

#[tokio::test]
async fn through_the_simulator_each_answer_it_cannot_read_is_a_reason() {
    let without_field = fixture_with(|data| {
        if let Some(bot) = data["users"][0].as_object_mut() {
            bot.remove("is_technician");
        }
    });
    let forbidden = fixture_with(|data| data["user_details"] = json!("forbidden"));
    let missing = fixture_with(|data| data["user_details"] = json!("missing"));
    for (data, reason) in [
        (without_field, "builds before 11000"),
        (forbidden, "4002"),
        (missing, "4007"),
    ] {
        let sim = simulator_with(&data).await;
        let client = sim_client(&sim);

        let readiness = client.readiness(&bot(BOT_ID, None)).await;

        assert!(readiness.problems.is_empty(), "{reason}: {readiness:?}");
        assert!(
            readiness
                .cannot_tell
                .first()
                .is_some_and(|why| why.contains(reason)),
            "{reason}: {readiness:?}"
        );
        assert_eq!(client.http().requests_sent(), 1, "{reason}");
        client
            .lookup(&[id(BOT_ID)])
            .await
            .expect("the system still answers");
    }
}
