//! Freshservice bot readiness: the bot's agent from `GET /api/v2/agents/me`
//! must be full-time (BOT_SETTING) with no role limited to assigned items
//! (BOT_PERMISSION_MISSING), and a bot found among requesters is no agent.
//! `whoami`'s answer is reused, so a check spends no request on it; a probe
//! on its own sends exactly one GET. 401, 403 and 404, answers it cannot
//! read and another agent's key are parts it cannot tell, never a stopped
//! system. Then the same through the simulator, whose data can express each.
//!
//! Never lets the probe send anything but GET: a mock for any other method
//! expects nothing.

use itsmid_connectors::freshservice::Client;
use itsmid_connectors::sim::AnySimulator;
use itsmid_connectors::{
    Connector, ItsmUser, Readiness, ReadinessInput, ReadinessKind, ReadinessSettings, System,
};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

use super::{KEY_BASIC, REQUESTERS, agent, body, client, ext, failure, requesters};
use crate::support::{api_key, fixture, mount_catch_all, settings};

const ME: &str = "/api/v2/agents/me";
const BOT_ID: u64 = 19_000_000_001;

/// The bot as the lookups returned it (`record_kind`: the list it was in).
fn bot(id: u64, record_kind: &str) -> ReadinessInput {
    let bot: ItsmUser = serde_json::from_value(json!({
        "itsm_user_id": id.to_string(), "external_id": "moveworks-bot@acme.com",
        "active": true, "first_name": "Moveworks", "last_name": "Bot",
        "full_name": "Moveworks Bot", "record_kind": record_kind
    }))
    .expect("a user");
    ReadinessInput {
        bot,
        users: Vec::new(),
    }
}

/// The bot's agent with these readiness fields.
fn me(occasional: bool, scopes: &[&str]) -> Value {
    let mut record = agent(BOT_ID, "moveworks-bot@acme.com");
    record["occasional"] = json!(occasional);
    record["roles"] = scopes
        .iter()
        .enumerate()
        .map(|(n, scope)| json!({"role_id": 19_000_011_111u64 + n as u64, "assignment_scope": scope, "groups": []}))
        .collect();
    json!({ "agent": record })
}

/// Matches any request that is not a GET.
struct NotGet;

impl Match for NotGet {
    fn matches(&self, request: &Request) -> bool {
        request.method != wiremock::http::Method::GET
    }
}

async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(NotGet)
        .respond_with(ResponseTemplate::new(405))
        .with_priority(1)
        .expect(0)
        .mount(&server)
        .await;
    server
}

/// The one GET: `agents/me` with the API key as basic auth, no query.
fn me_get() -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path(ME))
        .and(header("authorization", KEY_BASIC))
        .and(|request: &Request| request.url.query().is_none())
}

#[tokio::test]
async fn after_whoami_the_probe_reuses_its_answer_and_sends_nothing() {
    let server = server().await;
    me_get()
        .respond_with(body(me(false, &["entire_helpdesk"])))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let client = client(&server);

    client.whoami().await.expect("an answer");
    let readiness = client.readiness(&bot(BOT_ID, "agent")).await;

    assert_eq!(readiness, Readiness::default());
    assert_eq!(client.http().requests_sent(), 1, "agents/me once");
}

#[tokio::test]
async fn on_its_own_the_probe_sends_one_get_of_agents_me() {
    let server = server().await;
    me_get()
        .respond_with(body(me(false, &["member_groups", "specified_groups"])))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let client = client(&server);

    assert_eq!(
        client.readiness(&bot(BOT_ID, "agent")).await,
        Readiness::default()
    );
    assert_eq!(client.http().requests_sent(), 1);
}

#[tokio::test]
async fn an_occasional_agent_is_a_bot_setting() {
    let server = server().await;
    me_get()
        .respond_with(body(me(true, &["entire_helpdesk"])))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let readiness = client(&server).readiness(&bot(BOT_ID, "agent")).await;

    assert_eq!(readiness.problems.len(), 1, "{readiness:?}");
    let problem = &readiness.problems[0];
    assert_eq!(problem.kind, ReadinessKind::BotSetting);
    assert!(problem.message.contains("occasional agent"), "{problem:?}");
    assert!(problem.fix.contains("Full-time"), "{problem:?}");
    assert_eq!(
        problem.expected.as_deref(),
        Some("full-time agent (occasional: false)")
    );
    assert_eq!(
        problem.actual.as_deref(),
        Some("occasional agent (occasional: true)")
    );
    assert!(readiness.cannot_tell.is_empty());
}

#[tokio::test]
async fn a_role_limited_to_assigned_items_is_a_missing_permission() {
    let server = server().await;
    me_get()
        .respond_with(body(me(true, &["entire_helpdesk", "assigned_items"])))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let readiness = client(&server).readiness(&bot(BOT_ID, "agent")).await;

    let kinds: Vec<ReadinessKind> = readiness.problems.iter().map(|p| p.kind).collect();
    assert_eq!(
        kinds,
        [ReadinessKind::BotSetting, ReadinessKind::PermissionMissing]
    );
    let permission = &readiness.problems[1];
    assert_eq!(
        permission.actual.as_deref(),
        Some("role 19000011112: assigned_items")
    );
    assert!(permission.fix.contains("Entire helpdesk"), "{permission:?}");
}

#[tokio::test]
async fn a_bot_found_among_requesters_is_no_agent_and_costs_no_request() {
    let server = server().await;
    mount_catch_all(&server).await;
    let client = client(&server);

    let readiness = client.readiness(&bot(BOT_ID, "requester")).await;

    assert_eq!(readiness.problems.len(), 1, "{readiness:?}");
    let problem = &readiness.problems[0];
    assert_eq!(problem.kind, ReadinessKind::PermissionMissing);
    assert!(problem.message.contains("requester, not an agent"));
    assert!(problem.fix.contains("Convert to Agent"));
    assert_eq!(problem.expected.as_deref(), Some("agent"));
    assert_eq!(problem.actual.as_deref(), Some("requester"));
    assert_eq!(client.http().requests_sent(), 0);
}

/// Each answer the probe cannot read: no finding, a reason naming it, and
/// the system still answers lookups afterwards.
#[tokio::test]
async fn refusals_and_unreadable_answers_cannot_tell_and_never_stop_the_system() {
    let cases: Vec<(&str, ResponseTemplate, &str)> = vec![
        ("404", ResponseTemplate::new(404), "answered 404"),
        (
            "401",
            failure(
                401,
                json!({"code": "invalid_credentials", "message": "You have to be logged in to perform this action."}),
            ),
            "HTTP 401",
        ),
        (
            "403",
            failure(
                403,
                json!({"code": "access_denied", "message": "You are not authorized to perform this action."}),
            ),
            "HTTP 403",
        ),
        (
            "another agent",
            body(json!({"agent": agent(19_000_000_002, "helpdesk@acme.com")})),
            "BOT_CREDENTIAL_MISMATCH",
        ),
        (
            "no agent",
            body(json!({"message": "not an agent"})),
            "no agent id",
        ),
        ("a list", body(json!([1, 2])), "not an agent"),
        (
            "an HTML page",
            ResponseTemplate::new(200).set_body_raw("<html>maintenance</html>", "text/html"),
            "not JSON",
        ),
        ("a server error", ResponseTemplate::new(500), "HTTP 500"),
    ];
    for (case, template, reason) in cases {
        let server = server().await;
        let attempts = if case == "a server error" { 4 } else { 1 };
        me_get()
            .respond_with(template)
            .expect(attempts)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(REQUESTERS))
            .respond_with(requesters(vec![]))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(super::AGENTS))
            .respond_with(super::agents(vec![]))
            .expect(1)
            .mount(&server)
            .await;
        mount_catch_all(&server).await;
        let client = client(&server);

        let readiness = client.readiness(&bot(BOT_ID, "agent")).await;

        assert!(readiness.problems.is_empty(), "{case}: {readiness:?}");
        assert_eq!(readiness.cannot_tell.len(), 1, "{case}: {readiness:?}");
        let why = &readiness.cannot_tell[0];
        assert!(why.contains(reason), "{case}: {why}");
        assert!(why.contains("agent type and role scopes"), "{case}: {why}");
        client
            .lookup(&[ext("pat@acme.com")])
            .await
            .unwrap_or_else(|err| panic!("{case}: the system was stopped: {err}"));
    }
}

#[tokio::test]
async fn a_404_that_whoami_saw_is_reused_and_cannot_tell() {
    let server = server().await;
    me_get()
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let client = client(&server);

    client.whoami().await.expect("not an error");
    let readiness = client.readiness(&bot(BOT_ID, "agent")).await;

    assert!(readiness.problems.is_empty());
    assert!(
        readiness.cannot_tell[0].contains("not on every Freshservice account"),
        "{readiness:?}"
    );
    assert_eq!(client.http().requests_sent(), 1);
}

#[tokio::test]
async fn a_disabled_probe_sends_nothing() {
    let server = server().await;
    mount_catch_all(&server).await;
    let mut settings = settings(System::Freshservice, &server, api_key("fs-key"));
    settings.readiness = ReadinessSettings {
        enabled: false,
        ..ReadinessSettings::default()
    };
    let client = Client::new(settings).expect("valid settings");

    let readiness = client.readiness(&bot(BOT_ID, "requester")).await;

    assert!(readiness.problems.is_empty());
    assert_eq!(readiness.cannot_tell.len(), 1);
    assert_eq!(client.http().requests_sent(), 0);
}

// The simulator serves the fields the probe reads from its data.

async fn simulator_with(data: &str) -> AnySimulator {
    AnySimulator::start(
        System::Freshservice,
        "fixtures/freshservice.json",
        data,
        None,
        true,
    )
    .await
    .expect("the fixture starts")
}

fn fixture_with(change: impl FnOnce(&mut Value)) -> String {
    let mut data: Value =
        serde_json::from_str(&fixture("freshservice.json")).expect("the fixture is JSON");
    change(&mut data);
    data.to_string()
}

fn sim_client(sim: &AnySimulator, key: &str) -> Client {
    Client::new(settings(System::Freshservice, &sim.server, api_key(key))).expect("valid settings")
}

/// `whoami` then the probe, as a check runs them.
async fn checked(sim: &AnySimulator, key: &str, bot_id: u64) -> (Readiness, u32) {
    let client = sim_client(sim, key);
    client.whoami().await.expect("an answer");
    let readiness = client.readiness(&bot(bot_id, "agent")).await;
    (readiness, client.http().requests_sent())
}

#[tokio::test]
async fn the_simulator_serves_agents_me_with_its_type_and_roles() {
    let sim = simulator_with(&fixture("freshservice.json")).await;
    let reply = reqwest::Client::new()
        .get(format!("{}{ME}", sim.uri()))
        .basic_auth("demo-freshservice-key", Some("X"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(reply.status(), 200);
    let answer: Value = reply.json().await.expect("JSON");
    let agent = &answer["agent"];
    assert_eq!(agent["id"], BOT_ID);
    assert_eq!(agent["occasional"], false);
    assert_eq!(
        agent["roles"],
        json!([{"role_id": 19_000_011_111u64, "assignment_scope": "entire_helpdesk", "groups": []}])
    );
}

#[tokio::test]
async fn through_the_simulator_the_fixture_s_bot_is_ready_for_no_extra_request() {
    let sim = simulator_with(&fixture("freshservice.json")).await;

    let (readiness, requests) = checked(&sim, "demo-freshservice-key", BOT_ID).await;

    assert_eq!(readiness, Readiness::default());
    assert_eq!(requests, 1, "agents/me, for whoami only");
}

#[tokio::test]
async fn through_the_simulator_each_problem_is_found() {
    // The fixture's virtual agent is occasional.
    let sim = simulator_with(&fixture("freshservice.json")).await;
    let (occasional, _) =
        checked(&sim, "demo-freshservice-virtual-agent-key", 19_000_000_003).await;
    let kinds: Vec<ReadinessKind> = occasional.problems.iter().map(|p| p.kind).collect();
    assert_eq!(kinds, [ReadinessKind::BotSetting], "{occasional:?}");

    let limited = fixture_with(|data| {
        data["agents"][0]["roles"] = json!([{"role_id": 19_000_011_112u64, "assignment_scope": "assigned_items", "groups": []}]);
    });
    let sim = simulator_with(&limited).await;
    let (readiness, _) = checked(&sim, "demo-freshservice-key", BOT_ID).await;
    let kinds: Vec<ReadinessKind> = readiness.problems.iter().map(|p| p.kind).collect();
    assert_eq!(kinds, [ReadinessKind::PermissionMissing], "{readiness:?}");
    assert_eq!(
        readiness.problems[0].actual.as_deref(),
        Some("role 19000011112: assigned_items")
    );
}

#[tokio::test]
async fn through_the_simulator_each_answer_it_cannot_read_is_a_reason() {
    let no_owner = fixture_with(|data| {
        data["simulator"]["basic"][0] =
            json!({"username": "demo-freshservice-key", "password": "X"});
    });
    let no_roles = fixture_with(|data| data["agents"][0]["roles"] = Value::Null);
    let empty_roles = fixture_with(|data| data["agents"][0]["roles"] = json!([]));
    let no_type = fixture_with(|data| data["agents"][0]["occasional"] = Value::Null);
    for (data, key, reason) in [
        (no_owner, "demo-freshservice-key", "answered 404"),
        (no_roles.clone(), "demo-freshservice-key", "no `roles`"),
        (empty_roles, "demo-freshservice-key", "no `roles`"),
        (no_type, "demo-freshservice-key", "no `occasional`"),
        (no_roles, "other-agent-key", "BOT_CREDENTIAL_MISMATCH"),
    ] {
        let sim = simulator_with(&data).await;

        let (readiness, requests) = checked(&sim, key, BOT_ID).await;

        assert!(readiness.problems.is_empty(), "{reason}: {readiness:?}");
        assert_eq!(readiness.cannot_tell.len(), 1, "{reason}: {readiness:?}");
        assert!(
            readiness.cannot_tell[0].contains(reason),
            "{reason}: {readiness:?}"
        );
        assert_eq!(requests, 1, "{reason}");
    }
}
