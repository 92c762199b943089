//! Jira bot readiness (SPEC section 5.1): the exact GET requests the probe
//! sends (groups through `/myself?expand=groups`, `/mypermissions` in the
//! project's context, one customer search per manual user on the desk the
//! project key names, with the experimental opt-in header, the newest issue
//! and its transitions), how each answer is read, and each "cannot tell":
//! the groups and permissions here, the customers in `customers`, the
//! workflow in `workflow`, the simulator's side in `simulator`.
//!
//! A catch-all answers anything unexpected with 599, which the probe can
//! only read as "cannot tell", so a stray request shows in the assertions.

use itsmid_connectors::jira::{Client, NEEDED_PERMISSIONS};
use itsmid_connectors::{
    Connector, ExternalId, ItsmUser, ItsmUserId, Readiness, ReadinessInput, ReadinessKind, System,
};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use super::{BOT_BASIC, BOT_ID, PAT_ID, bot_credentials, json_answer, raw_query};
use crate::support::{mount_catch_all, settings};

mod customers;
mod simulator;
mod workflow;

const CASEY_ID: &str = "qm:a6e2b3c4-1d2e-4f5a-8b9c-0d1e2f3a4b5c:5e5f5a5b5c5d5e5f";
/// The desk lookup the probe no longer sends: the project key names the
/// desk in the customer path itself.
const DESK_PATH: &str = "/rest/servicedeskapi/servicedesk/projectKey:ITH";
const CUSTOMER_PATH: &str = "/rest/servicedeskapi/servicedesk/projectKey:ITH/customer";
const TRANSITIONS_PATH: &str = "/rest/api/3/issue/ITH-3/transitions";

/// A Jira client whose `[connectors.readiness]` names `project`.
fn probe_client(server: &MockServer, project: Option<&str>) -> Client {
    let mut settings = settings(System::Jira, server, bot_credentials());
    settings.readiness.project = project.map(str::to_owned);
    Client::new(settings).expect("test settings are valid")
}

fn account(id: &str, email: Option<&str>, name: &str) -> ItsmUser {
    ItsmUser {
        itsm_user_id: ItsmUserId::new(id),
        external_id: email.map(ExternalId::new),
        active: true,
        first_name: None,
        last_name: None,
        full_name: Some(name.to_owned()),
        account_type: Some("atlassian".into()),
        time_zone: Some("America/Danmarkshavn".into()),
        inactive_reason: None,
        record_kind: None,
    }
}

fn input(users: Vec<ItsmUser>) -> ReadinessInput {
    ReadinessInput {
        bot: account(BOT_ID, Some("moveworks-bot@acme.com"), "Moveworks Bot"),
        users,
    }
}

fn pat() -> ItsmUser {
    account(PAT_ID, Some("pat@acme.com"), "Pat Contractor")
}

fn casey() -> ItsmUser {
    account(CASEY_ID, Some("customer@partner.example"), "Casey Customer")
}

fn error_answer(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.to_string(), "application/json;charset=UTF-8")
}

fn myself_with_groups(id: &str, groups: &[&str], size: Option<usize>) -> Value {
    let items: Vec<Value> = groups
        .iter()
        .map(|name| json!({"name": name, "groupId": "276f955c-63d7-42c8-9520-92d01dca0625", "self": "https://acme.atlassian.net/rest/api/3/group?groupId=276f955c-63d7-42c8-9520-92d01dca0625"}))
        .collect();
    json!({
        "accountId": id, "accountType": "atlassian", "active": true,
        "displayName": "Moveworks Bot", "emailAddress": "moveworks-bot@acme.com",
        "groups": {"size": size.unwrap_or(items.len()), "items": items},
    })
}

fn permissions(missing: &[&str]) -> Value {
    let mut all = serde_json::Map::new();
    for key in NEEDED_PERMISSIONS {
        all.insert(
            key.into(),
            json!({"key": key, "name": key, "type": "PROJECT", "description": "",
                   "havePermission": !missing.contains(&key)}),
        );
    }
    json!({"permissions": all})
}

fn customer_page(ids: &[&str], last: bool) -> Value {
    let values: Vec<Value> = ids
        .iter()
        .map(|id| json!({"accountId": id, "emailAddress": null, "displayName": "Someone", "active": true}))
        .collect();
    json!({"_expands": [], "size": values.len(), "start": 0, "limit": 50, "isLastPage": last,
           "_links": {"base": "https://acme.atlassian.net/rest/servicedeskapi", "context": ""},
           "values": values})
}

fn newest(key: &str, status: &str, category: &str) -> Value {
    json!({"issues": [{"expand": "", "id": "10103", "self": "https://acme.atlassian.net/rest/api/3/issue/10103",
                       "key": key, "fields": {"status": {"name": status, "id": "10001",
                       "statusCategory": {"id": 2, "key": category, "colorName": "blue-gray", "name": "To Do"}}}}],
           "isLast": false, "nextPageToken": "CAEaAggB"})
}

fn transition(name: &str, to: &str, category: &str, assignee: bool) -> Value {
    let fields = if assignee {
        json!({"assignee": {"required": false, "schema": {"type": "user", "system": "assignee"}, "name": "Assignee", "key": "assignee"}})
    } else {
        json!({})
    };
    json!({"id": "11", "name": name, "hasScreen": assignee, "isAvailable": true,
           "to": {"name": to, "id": "10003", "statusCategory": {"key": category}}, "fields": fields})
}

fn ready_transitions() -> Value {
    json!({"expand": "transitions", "transitions": [
        transition("Start progress", "In Progress", "indeterminate", false),
        transition("Resolve this issue", "Resolved", "done", true),
    ]})
}

/// Answers for every part of the probe of project ITH, each mounted
/// `.expect(1)` unless the test mounts its own first (wiremock tries mocks
/// in the order they were mounted).
struct Answers {
    groups: ResponseTemplate,
    permissions: ResponseTemplate,
    search: ResponseTemplate,
    transitions: ResponseTemplate,
}

impl Default for Answers {
    fn default() -> Self {
        Answers {
            groups: json_answer(myself_with_groups(
                BOT_ID,
                &["jira-software-users", "jira-servicedesk-users-acme"],
                None,
            )),
            permissions: json_answer(permissions(&[])),
            search: json_answer(newest("ITH-3", "Waiting for support", "new")),
            transitions: json_answer(ready_transitions()),
        }
    }
}

/// Mounts each answer with its exact request and how often it must come
/// (groups, permissions, newest issue, transitions); a desk lookup must
/// never come.
async fn mount(server: &MockServer, answers: Answers, times: [u64; 4]) {
    let needed = NEEDED_PERMISSIONS.join(",");
    let routes = [
        (
            Mock::given(method("GET"))
                .and(path("/rest/api/3/myself"))
                .and(raw_query("expand=groups"))
                .and(header("authorization", BOT_BASIC)),
            answers.groups,
        ),
        (
            Mock::given(method("GET"))
                .and(path("/rest/api/3/mypermissions"))
                .and(raw_query(format!(
                    "projectKey=ITH&permissions={}",
                    needed.replace(',', "%2C")
                )))
                .and(header("authorization", BOT_BASIC)),
            answers.permissions,
        ),
        (
            Mock::given(method("GET"))
                .and(path("/rest/api/3/search/jql"))
                .and(raw_query(
                    "jql=project+%3D+%22ITH%22+ORDER+BY+created+DESC&maxResults=1&fields=status",
                ))
                .and(header("authorization", BOT_BASIC)),
            answers.search,
        ),
        (
            Mock::given(method("GET"))
                .and(path(TRANSITIONS_PATH))
                .and(raw_query("expand=transitions.fields"))
                .and(header("authorization", BOT_BASIC)),
            answers.transitions,
        ),
    ];
    for ((mock, answer), times) in routes.into_iter().zip(times) {
        mock.respond_with(answer).expect(times).mount(server).await;
    }
    Mock::given(path(DESK_PATH))
        .respond_with(ResponseTemplate::new(599))
        .expect(0)
        .mount(server)
        .await;
}

/// One customer search: `query` exactly, with the opt-in header.
async fn mount_customers(server: &MockServer, query: &str, answer: ResponseTemplate, times: u64) {
    Mock::given(method("GET"))
        .and(path(CUSTOMER_PATH))
        .and(query_param("query", query))
        .and(header("x-experimentalapi", "opt-in"))
        .and(header("authorization", BOT_BASIC))
        .respond_with(answer)
        .expect(times)
        .mount(server)
        .await;
}

/// Mounted first: any method other than GET fails the test on drop.
async fn mount_nothing_but_get(server: &MockServer) {
    Mock::given(|r: &Request| r.method != wiremock::http::Method::GET)
        .respond_with(ResponseTemplate::new(405))
        .expect(0)
        .mount(server)
        .await;
}

fn assert_ready(found: &Readiness) {
    assert!(found.problems.is_empty(), "{:#?}", found.problems);
    assert!(found.cannot_tell.is_empty(), "{:?}", found.cannot_tell);
}

fn cannot_tell(found: &Readiness, part: &str) -> String {
    found
        .cannot_tell
        .iter()
        .find(|why| why.starts_with(&format!("{part}:")))
        .cloned()
        .unwrap_or_else(|| panic!("no cannot-tell for {part} in {:?}", found.cannot_tell))
}

// --- groups -------------------------------------------------------------

#[tokio::test]
async fn without_a_project_only_the_groups_are_asked_in_one_request() {
    let server = MockServer::start().await;
    mount_nothing_but_get(&server).await;
    mount(&server, Answers::default(), [1, 0, 0, 0]).await;
    mount_catch_all(&server).await;
    let jira = probe_client(&server, None);

    let found = jira.readiness(&input(vec![pat()])).await;

    assert_ready(&found);
    assert_eq!(jira.http().requests_sent(), 1);
}

#[tokio::test]
async fn a_bot_in_no_service_management_group_lacks_agent_access() {
    let server = MockServer::start().await;
    let answers = Answers {
        groups: json_answer(myself_with_groups(
            BOT_ID,
            &["jira-software-users", "jira-servicedesk-users-"],
            None,
        )),
        ..Answers::default()
    };
    mount(&server, answers, [1, 0, 0, 0]).await;
    mount_catch_all(&server).await;

    let found = probe_client(&server, None).readiness(&input(vec![])).await;

    assert!(found.cannot_tell.is_empty(), "{:?}", found.cannot_tell);
    let [problem] = found.problems.as_slice() else {
        panic!("one problem expected: {:#?}", found.problems);
    };
    assert_eq!(problem.kind, ReadinessKind::PermissionMissing);
    assert_eq!(
        problem.expected.as_deref(),
        Some("member of one of: jira-servicedesk-users, jira-servicemanagement-users")
    );
    assert_eq!(
        problem.actual.as_deref(),
        Some("jira-software-users, jira-servicedesk-users-")
    );
    assert!(
        problem
            .fix
            .starts_with("Jira admin: Settings → User management → Groups"),
        "{}",
        problem.fix
    );
}

#[tokio::test]
async fn configured_groups_replace_the_default_ones() {
    let server = MockServer::start().await;
    let answers = Answers {
        groups: json_answer(myself_with_groups(BOT_ID, &["helpdesk-agents"], None)),
        ..Answers::default()
    };
    mount(&server, answers, [1, 0, 0, 0]).await;
    mount_catch_all(&server).await;
    let mut settings = settings(System::Jira, &server, bot_credentials());
    settings.readiness.groups = vec!["helpdesk-agents".into()];
    let jira = Client::new(settings).expect("valid settings");

    assert_ready(&jira.readiness(&input(vec![])).await);
}

#[tokio::test]
async fn the_groups_of_credentials_that_are_not_the_bots_cannot_tell() {
    let server = MockServer::start().await;
    let answers = Answers {
        groups: json_answer(myself_with_groups(
            "5c9a7e2f1b3d4a0012345678",
            &["jira-software-users"],
            None,
        )),
        ..Answers::default()
    };
    mount(&server, answers, [1, 0, 0, 0]).await;
    mount_catch_all(&server).await;

    let found = probe_client(&server, None).readiness(&input(vec![])).await;

    assert!(found.problems.is_empty(), "{:#?}", found.problems);
    let why = cannot_tell(&found, "groups");
    assert!(
        why.contains("5c9a7e2f1b3d4a0012345678") && why.contains("BOT_CREDENTIAL_MISMATCH"),
        "{why}"
    );
}

#[tokio::test]
async fn a_group_list_cut_short_without_a_match_cannot_tell() {
    let server = MockServer::start().await;
    let answers = Answers {
        groups: json_answer(myself_with_groups(
            BOT_ID,
            &["jira-software-users"],
            Some(3),
        )),
        ..Answers::default()
    };
    mount(&server, answers, [1, 0, 0, 0]).await;
    mount_catch_all(&server).await;

    let found = probe_client(&server, None).readiness(&input(vec![])).await;

    assert!(found.problems.is_empty(), "{:#?}", found.problems);
    assert!(cannot_tell(&found, "groups").contains("1 of the bot's 3 groups"));
}

#[tokio::test]
async fn a_refused_groups_read_cannot_tell_and_the_probe_goes_on() {
    let server = MockServer::start().await;
    let answers = Answers {
        groups: error_answer(403, json!({"errorMessages": ["Forbidden"], "errors": {}})),
        ..Answers::default()
    };
    mount(&server, answers, [1, 1, 1, 1]).await;
    mount_customers(
        &server,
        "pat@acme.com",
        json_answer(customer_page(&[PAT_ID], true)),
        1,
    )
    .await;
    mount_catch_all(&server).await;
    let jira = probe_client(&server, Some("ITH"));

    let found = jira.readiness(&input(vec![pat()])).await;

    assert!(found.problems.is_empty(), "{:#?}", found.problems);
    assert_eq!(found.cannot_tell.len(), 1, "{:?}", found.cannot_tell);
    assert!(cannot_tell(&found, "groups").contains("HTTP 403: Forbidden"));
    assert_eq!(jira.http().requests_sent(), 5);
}

// --- the whole probe ----------------------------------------------------

#[tokio::test]
async fn a_ready_bot_costs_four_requests_and_one_per_manual_user() {
    let server = MockServer::start().await;
    mount_nothing_but_get(&server).await;
    mount(&server, Answers::default(), [1, 1, 1, 1]).await;
    // `query` is a fuzzy match: a prefix match of someone else is ignored.
    mount_customers(
        &server,
        "pat@acme.com",
        json_answer(customer_page(&["5b10ac8d82e05b22cc7d4ef9", PAT_ID], true)),
        1,
    )
    .await;
    mount_customers(
        &server,
        "customer@partner.example",
        json_answer(customer_page(&[CASEY_ID], true)),
        1,
    )
    .await;
    mount_catch_all(&server).await;
    let jira = probe_client(&server, Some("ITH"));

    let found = jira.readiness(&input(vec![pat(), casey()])).await;

    assert_ready(&found);
    assert_eq!(jira.http().requests_sent(), 6, "4 + one per manual user");
}

#[tokio::test]
async fn every_missing_permission_is_listed_in_one_finding() {
    let server = MockServer::start().await;
    let answers = Answers {
        permissions: json_answer(permissions(&[
            "EDIT_ISSUES",
            "TRANSITION_ISSUES",
            "SERVICEDESK_AGENT",
        ])),
        // Jira lists no transition to a caller without TRANSITION_ISSUES.
        transitions: json_answer(json!({"expand": "transitions", "transitions": []})),
        ..Answers::default()
    };
    mount(&server, answers, [1, 1, 1, 1]).await;
    mount_catch_all(&server).await;

    let found = probe_client(&server, Some("ITH"))
        .readiness(&input(vec![]))
        .await;

    assert!(
        found.cannot_tell.is_empty(),
        "the empty transitions are the permission's finding: {:?}",
        found.cannot_tell
    );
    let [problem] = found.problems.as_slice() else {
        panic!("one problem expected: {:#?}", found.problems);
    };
    assert_eq!(problem.kind, ReadinessKind::PermissionMissing);
    assert_eq!(
        problem.actual.as_deref(),
        Some("EDIT_ISSUES, TRANSITION_ISSUES, SERVICEDESK_AGENT")
    );
    assert_eq!(
        problem.expected.as_deref(),
        Some(
            "BROWSE_PROJECTS, CREATE_ISSUES, EDIT_ISSUES, TRANSITION_ISSUES, ASSIGN_ISSUES, ADD_COMMENTS, SERVICEDESK_AGENT"
        )
    );
    assert_eq!(
        problem.message,
        "In project ITH the bot's Jira account lacks EDIT_ISSUES, TRANSITION_ISSUES, SERVICEDESK_AGENT (the Service Desk Team role)"
    );
    assert!(
        problem.fix.contains("Project settings → People")
            && problem
                .fix
                .contains("Project settings → Permissions → grant EDIT_ISSUES, TRANSITION_ISSUES"),
        "{}",
        problem.fix
    );
}

#[tokio::test]
async fn a_project_jira_hides_is_browse_projects_missing_and_nothing_more_is_asked() {
    let server = MockServer::start().await;
    let answers = Answers {
        permissions: error_answer(
            404,
            json!({"errorMessages": ["No project could be found with key 'ITH'."], "errors": {}}),
        ),
        ..Answers::default()
    };
    mount(&server, answers, [1, 1, 0, 0]).await;
    mount_customers(
        &server,
        "pat@acme.com",
        json_answer(customer_page(&[], true)),
        0,
    )
    .await;
    mount_catch_all(&server).await;
    let jira = probe_client(&server, Some("ITH"));

    let found = jira.readiness(&input(vec![pat()])).await;

    let [problem] = found.problems.as_slice() else {
        panic!("one problem expected: {:#?}", found.problems);
    };
    assert_eq!(problem.kind, ReadinessKind::PermissionMissing);
    assert_eq!(problem.actual.as_deref(), Some("BROWSE_PROJECTS"));
    assert!(
        problem.fix.contains("[connectors.readiness] project"),
        "{}",
        problem.fix
    );
    assert!(cannot_tell(&found, "customers and workflow").contains("cannot see project ITH"));
    assert_eq!(jira.http().requests_sent(), 2);
}

#[tokio::test]
async fn unknown_permission_keys_cannot_tell_and_the_rest_is_still_checked() {
    let server = MockServer::start().await;
    let answers = Answers {
        permissions: error_answer(
            400,
            json!({"errorMessages": ["Invalid permission key: SERVICEDESK_AGENT"], "errors": {}}),
        ),
        ..Answers::default()
    };
    mount(&server, answers, [1, 1, 1, 1]).await;
    mount_customers(
        &server,
        "pat@acme.com",
        json_answer(customer_page(&[PAT_ID], true)),
        1,
    )
    .await;
    mount_catch_all(&server).await;

    let found = probe_client(&server, Some("ITH"))
        .readiness(&input(vec![pat()]))
        .await;

    assert!(found.problems.is_empty(), "{:#?}", found.problems);
    let why = cannot_tell(&found, "project permissions");
    assert!(
        why.contains("HTTP 400: Invalid permission key: SERVICEDESK_AGENT")
            && why.contains("without Jira Service Management"),
        "{why}"
    );
}

#[tokio::test]
async fn a_permission_answer_that_leaves_a_key_out_cannot_tell_for_that_key() {
    let server = MockServer::start().await;
    let mut partial = permissions(&[]);
    if let Some(all) = partial["permissions"].as_object_mut() {
        all.remove("SERVICEDESK_AGENT");
    }
    let answers = Answers {
        permissions: json_answer(partial),
        ..Answers::default()
    };
    mount(&server, answers, [1, 1, 1, 1]).await;
    mount_catch_all(&server).await;

    let found = probe_client(&server, Some("ITH"))
        .readiness(&input(vec![]))
        .await;

    assert!(found.problems.is_empty(), "{:#?}", found.problems);
    assert!(cannot_tell(&found, "project permissions").ends_with("holds SERVICEDESK_AGENT"));
}

#[tokio::test]
async fn a_server_error_after_retries_cannot_tell_and_the_probe_goes_on() {
    let server = MockServer::start().await;
    let answers = Answers {
        permissions: ResponseTemplate::new(503).insert_header("retry-after", "0"),
        ..Answers::default()
    };
    // 4 attempts (support::settings), then the next parts.
    mount(&server, answers, [1, 4, 1, 1]).await;
    mount_catch_all(&server).await;

    let found = probe_client(&server, Some("ITH"))
        .readiness(&input(vec![]))
        .await;

    assert!(found.problems.is_empty(), "{:#?}", found.problems);
    assert!(cannot_tell(&found, "project permissions").contains("/rest/api/3/mypermissions"));
}

#[tokio::test]
async fn an_answer_that_is_not_jiras_json_cannot_tell() {
    let server = MockServer::start().await;
    let answers = Answers {
        groups: ResponseTemplate::new(200).set_body_raw("<html>login</html>", "text/html"),
        ..Answers::default()
    };
    mount(&server, answers, [1, 0, 0, 0]).await;
    mount_catch_all(&server).await;

    let found = probe_client(&server, None).readiness(&input(vec![])).await;

    assert!(found.problems.is_empty(), "{:#?}", found.problems);
    assert!(cannot_tell(&found, "groups").contains("text/html"));
}
