//! The Salesforce readiness probe: the one GET it sends (the object's
//! describe, on the lookups' instance and API version), how it reads each
//! answer (problems, and what cannot tell), and the simulator's describe.
//!
//! Every probe request is a GET: a catch-all for any other method expects
//! none.

use itsmid_connectors::sim::AnySimulator;
use itsmid_connectors::{
    Connector, ConnectorSettings, ItsmUser, ItsmUserId, Readiness, ReadinessInput, ReadinessKind,
    System,
};
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{BOT_ID, TOKEN, by_id, client, client_with, oauth, sf_error, sf_json};
use crate::support::{bearer, fixture, mount_catch_all, settings};

const CASE_DESCRIBE: &str = "/services/data/v60.0/sobjects/Case/describe";

fn input() -> ReadinessInput {
    ReadinessInput {
        bot: ItsmUser {
            itsm_user_id: ItsmUserId::new(BOT_ID),
            external_id: Some(itsmid_connectors::ExternalId::new(
                "moveworks.bot@acme.com.prod",
            )),
            active: true,
            first_name: None,
            last_name: None,
            full_name: None,
            account_type: None,
            time_zone: None,
            inactive_reason: None,
            record_kind: None,
        },
        users: Vec::new(),
    }
}

/// A describe answer of `Case` with these object-level flags.
fn describe(queryable: bool, createable: bool, updateable: bool) -> ResponseTemplate {
    sf_json(
        200,
        json!({
            "name": "Case", "label": "Case", "keyPrefix": "500", "custom": false,
            "queryable": queryable, "createable": createable, "updateable": updateable,
            "deletable": false, "retrieveable": true, "searchable": true,
            "fields": [{"name": "Subject", "type": "string", "createable": true, "updateable": true}],
            "urls": {"describe": CASE_DESCRIBE}
        }),
    )
}

/// The describe request, exactly.
fn case_describe() -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path(CASE_DESCRIBE))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(|request: &wiremock::Request| request.url.query().is_none())
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

async fn probe_case(template: ResponseTemplate) -> (Readiness, u32) {
    let server = MockServer::start().await;
    case_describe()
        .respond_with(template)
        .expect(1)
        .mount(&server)
        .await;
    mount_no_writes(&server).await;
    mount_catch_all(&server).await;
    let salesforce = client(&server, bearer(TOKEN));
    let readiness = salesforce.readiness(&input()).await;
    (readiness, salesforce.http().requests_sent())
}

fn one_reason(readiness: &Readiness) -> &str {
    assert!(readiness.problems.is_empty(), "{readiness:?}");
    match readiness.cannot_tell.as_slice() {
        [why] => why,
        _ => panic!("one reason: {readiness:?}"),
    }
}

#[tokio::test]
async fn a_ready_bot_costs_one_describe_and_only_a_get() {
    let (readiness, requests) = probe_case(describe(true, true, true)).await;

    assert_eq!(readiness, Readiness::default());
    assert_eq!(requests, 1);
}

#[tokio::test]
async fn the_flags_that_are_false_are_one_permission_missing() {
    let (readiness, _) = probe_case(describe(true, false, false)).await;

    assert!(readiness.cannot_tell.is_empty(), "{readiness:?}");
    let [problem] = readiness.problems.as_slice() else {
        panic!("one problem: {readiness:?}");
    };
    assert_eq!(problem.kind, ReadinessKind::PermissionMissing);
    assert_eq!(
        problem.message,
        "the bot \"moveworks.bot@acme.com.prod\" lacks the Create, Edit permissions on the \
         Salesforce object Case: its describe says createable, updateable false"
    );
    assert_eq!(
        problem.fix,
        "in Salesforce Setup → Profiles (or Permission Sets) → the bot's profile (or a \
         permission set assigned to the bot) → Object Settings → Case → Edit → Object \
         Permissions: Create, Edit; Save"
    );
    assert_eq!(
        problem.expected.as_deref(),
        Some("queryable, createable, updateable")
    );
    assert_eq!(problem.actual.as_deref(), Some("createable, updateable"));

    let (readiness, _) = probe_case(describe(false, true, true)).await;
    assert_eq!(readiness.problems[0].actual.as_deref(), Some("queryable"));
    assert!(readiness.problems[0].fix.contains("Permissions: Read;"));
}

#[tokio::test]
async fn an_object_the_bot_cannot_see_is_permission_missing() {
    let (readiness, _) = probe_case(sf_error(
        404,
        "NOT_FOUND",
        "The requested resource does not exist",
    ))
    .await;

    assert!(readiness.cannot_tell.is_empty(), "{readiness:?}");
    let [problem] = readiness.problems.as_slice() else {
        panic!("one problem: {readiness:?}");
    };
    assert_eq!(problem.kind, ReadinessKind::PermissionMissing);
    assert!(
        problem
            .message
            .contains("cannot see the Salesforce object Case: its describe answers 404"),
        "{}",
        problem.message
    );
    assert!(
        problem
            .fix
            .starts_with("check the object's API name in Setup → Object Manager, then"),
        "{}",
        problem.fix
    );
    assert_eq!(problem.actual.as_deref(), Some("Case not visible"));
}

#[tokio::test]
async fn refusals_cannot_tell_and_the_quota_is_never_retried() {
    for (template, expected) in [
        (
            sf_error(401, "INVALID_SESSION_ID", "Session expired or invalid"),
            "Salesforce refused to describe Case (HTTP 401 INVALID_SESSION_ID)".to_owned(),
        ),
        (
            sf_error(403, "INSUFFICIENT_ACCESS", "insufficient access rights"),
            "Salesforce refused to describe Case (HTTP 403 INSUFFICIENT_ACCESS)".to_owned(),
        ),
        (
            sf_error(
                403,
                "REQUEST_LIMIT_EXCEEDED",
                "TotalRequests Limit exceeded.",
            ),
            "the object Case could not be described: salesforce: GET \
             /services/data/v60.0/sobjects/Case/describe"
                .to_owned(),
        ),
        (
            ResponseTemplate::new(200).set_body_raw("<html>login</html>", "text/html"),
            "the object Case could not be described: ".to_owned(),
        ),
        (
            sf_json(200, json!({"name": "Case", "queryable": true})),
            "the describe of Case does not say createable, updateable".to_owned(),
        ),
    ] {
        let (readiness, requests) = probe_case(template).await;

        let why = one_reason(&readiness);
        assert!(why.starts_with(&expected), "{why}");
        assert_eq!(requests, 1, "{why}");
    }
}

#[tokio::test]
async fn a_refused_describe_does_not_stop_the_systems_requests() {
    let server = MockServer::start().await;
    case_describe()
        .respond_with(sf_error(
            401,
            "INVALID_SESSION_ID",
            "Session expired or invalid",
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/services/data/v60.0/query"))
        .respond_with(sf_json(
            200,
            json!({"totalSize": 0, "done": true, "records": []}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let salesforce = client(&server, bearer(TOKEN));

    let readiness = salesforce.readiness(&input()).await;
    let lookups = salesforce.lookup(&[by_id(BOT_ID)]).await;

    assert_eq!(readiness.cannot_tell.len(), 1, "{readiness:?}");
    assert!(lookups.is_ok(), "{lookups:?}");
}

#[tokio::test]
async fn the_configured_object_is_described_on_the_tokens_instance() {
    let login = MockServer::start().await;
    let instance = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .and(body_string_contains("grant_type=client_credentials"))
        .respond_with(sf_json(
            200,
            json!({"access_token": "issued", "instance_url": instance.uri(), "token_type": "Bearer"}),
        ))
        .expect(1)
        .mount(&login)
        .await;
    mount_catch_all(&login).await;
    Mock::given(method("GET"))
        .and(path("/services/data/v60.0/sobjects/Incident__c/describe"))
        .and(header("authorization", "Bearer issued"))
        .respond_with(sf_json(
            200,
            json!({"name": "Incident__c", "queryable": true, "createable": true, "updateable": true}),
        ))
        .expect(1)
        .mount(&instance)
        .await;
    mount_no_writes(&instance).await;
    mount_catch_all(&instance).await;
    let mut settings: ConnectorSettings =
        settings(System::Salesforce, &login, oauth(&login, "id", "secret"));
    settings.readiness.object = "Incident__c".into();
    let salesforce = client_with(settings);

    let readiness = salesforce.readiness(&input()).await;

    assert_eq!(readiness, Readiness::default());
    // The token request and the describe.
    assert_eq!(salesforce.http().requests_sent(), 2);
}

#[tokio::test]
async fn the_describe_updates_the_api_usage_note() {
    let server = MockServer::start().await;
    case_describe()
        .respond_with(describe(true, true, true))
        .mount(&server)
        .await;
    let salesforce = client(&server, bearer(TOKEN));

    salesforce.readiness(&input()).await;

    assert_eq!(
        salesforce
            .http()
            .notes()
            .get("api_usage")
            .map(String::as_str),
        Some("18/5000")
    );
}

#[tokio::test]
async fn an_object_name_that_is_no_api_name_is_never_sent() {
    let server = MockServer::start().await;
    mount_catch_all(&server).await;
    let mut settings = settings(System::Salesforce, &server, bearer(TOKEN));
    settings.readiness.object = "../limits".into();
    let salesforce = client_with(settings);

    let readiness = salesforce.readiness(&input()).await;

    assert_eq!(
        one_reason(&readiness),
        "the object \"../limits\" is not a Salesforce object name; it was not described"
    );
    assert_eq!(salesforce.http().requests_sent(), 0);
}

// --- the simulator ---------------------------------------------------------

async fn simulator_with(data: &str) -> AnySimulator {
    AnySimulator::start(System::Salesforce, "salesforce.json", data, None, true)
        .await
        .expect("the data starts a simulator")
}

async fn probe_sim(data: &str, object: &str) -> (Readiness, u32) {
    let sim = simulator_with(data).await;
    let mut settings = settings(System::Salesforce, &sim.server, bearer(TOKEN));
    settings.readiness.object = object.to_owned();
    let salesforce = client_with(settings);
    let readiness = salesforce.readiness(&input()).await;
    (readiness, salesforce.http().requests_sent())
}

#[tokio::test]
async fn the_simulator_describes_a_ready_bot_by_default() {
    let (readiness, requests) = probe_sim(&fixture("salesforce.json"), "Case").await;
    assert_eq!(readiness, Readiness::default());
    assert_eq!(requests, 1);

    let bare = json!({
        "records": [{"Id": BOT_ID, "Username": "moveworks.bot@acme.com.prod", "IsActive": true}],
        "simulator": {"bearer": [{"token": TOKEN, "user": BOT_ID}]}
    });
    let (readiness, _) = probe_sim(&bare.to_string(), "Case").await;
    assert_eq!(readiness, Readiness::default());
}

#[tokio::test]
async fn the_simulator_tells_each_readiness_problem() {
    let (readiness, _) = probe_sim(&fixture("salesforce.json"), "Solution").await;
    assert_eq!(
        readiness.problems[0].actual.as_deref(),
        Some("createable, updateable")
    );

    let (readiness, _) = probe_sim(&fixture("salesforce.json"), "Incident__c").await;
    assert_eq!(
        readiness.problems[0].actual.as_deref(),
        Some("Incident__c not visible")
    );
}

#[tokio::test]
async fn the_simulators_daily_quota_cannot_tell() {
    let mut data: Value =
        serde_json::from_str(&fixture("salesforce.json")).expect("the demo data is JSON");
    data["daily_api_limit"] = json!(0);

    let (readiness, requests) = probe_sim(&data.to_string(), "Case").await;

    let why = one_reason(&readiness);
    assert!(why.contains("REQUEST_LIMIT_EXCEEDED"), "{why}");
    assert_eq!(requests, 1);
}

#[tokio::test]
async fn the_simulator_serves_the_describe_in_salesforces_shape() {
    let sim = simulator_with(&fixture("salesforce.json")).await;
    let get = |path: &str| {
        reqwest::Client::new()
            .get(format!("{}{path}", sim.uri()))
            .bearer_auth(TOKEN)
            .send()
    };

    let case = get("/services/data/v60.0/sobjects/case/describe")
        .await
        .expect("an answer");
    assert_eq!(case.status(), 200);
    assert!(case.headers().contains_key("sforce-limit-info"));
    let body: Value = case.json().await.expect("JSON");
    assert_eq!(body["name"], "Case");
    assert_eq!(body["keyPrefix"], "500");
    assert_eq!(
        body["urls"]["describe"],
        "/services/data/v60.0/sobjects/Case/describe"
    );
    assert!(body["fields"].is_array());

    let solution = get("/services/data/v60.0/sobjects/Solution/describe")
        .await
        .expect("an answer");
    let body: Value = solution.json().await.expect("JSON");
    assert_eq!(
        (&body["queryable"], &body["createable"], &body["updateable"]),
        (&json!(true), &json!(false), &json!(false))
    );

    let missing = get("/services/data/v60.0/sobjects/Nope__c/describe")
        .await
        .expect("an answer");
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.expect("JSON");
    assert_eq!(
        body,
        json!([{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])
    );
}
