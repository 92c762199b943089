//! Jira Data Center bot readiness (SPEC section 5.1): Jira's probe over
//! REST API v2. The exact GET requests (groups through
//! `/rest/api/2/myself?expand=groups`, `/rest/api/2/mypermissions` in the
//! project's context, one customer search per manual user with the
//! experimental opt-in header, the newest issue through `/rest/api/2/search`
//! paged by `startAt`, and its transitions), all under a context path when
//! the base URL has one; users compared by `key`, and the Data Center
//! instance's own admin screens in the fixes.
//!
//! A catch-all answers anything unexpected with 599, which the probe can
//! only read as "cannot tell", so a stray request shows in the assertions.

use itsmid_connectors::jira::NEEDED_PERMISSIONS;
use itsmid_connectors::jira_dc::Client;
use itsmid_connectors::{
    Connector, ConnectorSettings, ExternalId, ItsmUser, ItsmUserId, Readiness, ReadinessInput,
    ReadinessKind, System,
};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use super::{
    BOT_BASIC, BOT_KEY, PAT_KEY, bot_credentials, json_answer, raw_query, under_context_path,
};
use crate::support::{mount_catch_all, settings};

const DANA_KEY: &str = "dana.ross";

/// Where the probe's requests go: at the root or under a context path.
#[derive(Clone, Copy)]
struct Site {
    prefix: &'static str,
}

const ROOT: Site = Site { prefix: "" };
const CONTEXT: Site = Site { prefix: "/jira" };

impl Site {
    fn path(self, tail: &str) -> String {
        format!("{}{tail}", self.prefix)
    }

    fn settings(self, server: &MockServer, project: Option<&str>) -> ConnectorSettings {
        let mut settings = if self.prefix.is_empty() {
            settings(System::JiraDc, server, bot_credentials())
        } else {
            under_context_path(server, bot_credentials())
        };
        settings.readiness.project = project.map(str::to_owned);
        settings
    }

    fn client(self, server: &MockServer, project: Option<&str>) -> Client {
        Client::new(self.settings(server, project)).expect("test settings are valid")
    }
}

fn account(key: &str, email: Option<&str>, name: &str) -> ItsmUser {
    ItsmUser {
        itsm_user_id: ItsmUserId::new(key),
        external_id: email.map(ExternalId::new),
        active: true,
        first_name: None,
        last_name: None,
        full_name: Some(name.to_owned()),
        account_type: None,
        time_zone: Some("America/Danmarkshavn".into()),
        inactive_reason: None,
        record_kind: None,
    }
}

fn input(users: Vec<ItsmUser>) -> ReadinessInput {
    ReadinessInput {
        bot: account(BOT_KEY, Some("moveworks-bot@acme.com"), "Moveworks Bot"),
        users,
    }
}

fn pat() -> ItsmUser {
    account(PAT_KEY, Some("pat@acme.com"), "Pat Lee")
}

fn dana() -> ItsmUser {
    account(DANA_KEY, Some("dana@acme.com"), "Dana Ross")
}

fn error_answer(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.to_string(), "application/json;charset=UTF-8")
}

fn myself_with_groups(key: &str, groups: &[&str]) -> Value {
    let items: Vec<Value> = groups
        .iter()
        .map(|name| json!({"name": name, "self": format!("https://jira.acme.com/rest/api/2/group?groupname={name}")}))
        .collect();
    json!({
        "self": "https://jira.acme.com/rest/api/2/user?username=moveworks-bot",
        "key": key, "name": "moveworks-bot", "emailAddress": "moveworks-bot@acme.com",
        "displayName": "Moveworks Bot", "active": true, "deleted": false,
        "timeZone": "America/Danmarkshavn", "locale": "en_US",
        "groups": {"size": items.len(), "items": items},
        "applicationRoles": {"size": 1, "items": []},
        "expand": "groups,applicationRoles",
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

/// A Data Center customer: `key` and `name`, no `accountId`.
fn customer(key: &str, name: &str, email: &str) -> Value {
    json!({"key": key, "name": name, "emailAddress": email, "displayName": name,
           "active": true, "timeZone": "Europe/Berlin",
           "_links": {"jiraRest": format!("https://jira.acme.com/rest/api/2/user?username={name}")}})
}

fn customer_page(values: Vec<Value>) -> Value {
    json!({"_expands": [], "size": values.len(), "start": 0, "limit": 50, "isLastPage": true,
           "_links": {"base": "https://jira.acme.com/rest/servicedeskapi", "context": ""},
           "values": values})
}

fn newest(key: &str, status: &str, category: &str) -> Value {
    json!({"expand": "schema,names", "startAt": 0, "maxResults": 1, "total": 57,
           "issues": [{"expand": "", "id": "10342", "self": "https://jira.acme.com/rest/api/2/issue/10342",
                       "key": key, "fields": {"status": {"name": status, "id": "10001",
                       "statusCategory": {"id": 2, "key": category, "colorName": "blue-gray", "name": "To Do"}}}}]})
}

fn transition(name: &str, to: &str, category: &str, assignee: bool) -> Value {
    let fields = if assignee {
        json!({"assignee": {"required": false, "schema": {"type": "user", "system": "assignee"}, "name": "Assignee", "operations": ["set"]}})
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

/// Answers for every part of the probe of project ITSD.
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
                BOT_KEY,
                &["jira-software-users", "jira-servicedesk-users"],
            )),
            permissions: json_answer(permissions(&[])),
            search: json_answer(newest("ITSD-42", "Waiting for support", "new")),
            transitions: json_answer(ready_transitions()),
        }
    }
}

/// Mounts each answer with its exact request and how often it must come
/// (groups, permissions, newest issue, transitions); a desk lookup must
/// never come.
async fn mount(server: &MockServer, site: Site, answers: Answers, times: [u64; 4]) {
    let needed = NEEDED_PERMISSIONS.join(",").replace(',', "%2C");
    let routes = [
        (
            Mock::given(method("GET"))
                .and(path(site.path("/rest/api/2/myself")))
                .and(raw_query("expand=groups"))
                .and(header("authorization", BOT_BASIC)),
            answers.groups,
        ),
        (
            Mock::given(method("GET"))
                .and(path(site.path("/rest/api/2/mypermissions")))
                .and(raw_query(format!("projectKey=ITSD&permissions={needed}")))
                .and(header("authorization", BOT_BASIC)),
            answers.permissions,
        ),
        (
            Mock::given(method("GET"))
                .and(path(site.path("/rest/api/2/search")))
                .and(raw_query(
                    "jql=project+%3D+%22ITSD%22+ORDER+BY+created+DESC&startAt=0&maxResults=1&fields=status",
                ))
                .and(header("authorization", BOT_BASIC)),
            answers.search,
        ),
        (
            Mock::given(method("GET"))
                .and(path(site.path("/rest/api/2/issue/ITSD-42/transitions")))
                .and(raw_query("expand=transitions.fields"))
                .and(header("authorization", BOT_BASIC)),
            answers.transitions,
        ),
    ];
    for ((mock, answer), times) in routes.into_iter().zip(times) {
        mock.respond_with(answer).expect(times).mount(server).await;
    }
    Mock::given(path(
        site.path("/rest/servicedeskapi/servicedesk/projectKey:ITSD"),
    ))
    .respond_with(ResponseTemplate::new(599))
    .expect(0)
    .mount(server)
    .await;
    Mock::given(|r: &Request| r.method != wiremock::http::Method::GET)
        .respond_with(ResponseTemplate::new(405))
        .expect(0)
        .mount(server)
        .await;
}

/// One customer search: `query` exactly, with the opt-in header.
async fn mount_customers(
    server: &MockServer,
    site: Site,
    query: &str,
    answer: ResponseTemplate,
    times: u64,
) {
    Mock::given(method("GET"))
        .and(path(site.path(
            "/rest/servicedeskapi/servicedesk/projectKey:ITSD/customer",
        )))
        .and(query_param("query", query))
        .and(|r: &Request| r.url.query_pairs().count() == 1)
        .and(header("x-experimentalapi", "opt-in"))
        .and(header("authorization", BOT_BASIC))
        .respond_with(answer)
        .expect(times)
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

#[tokio::test]
async fn a_ready_bot_costs_four_requests_and_one_per_manual_user() {
    for site in [ROOT, CONTEXT] {
        let server = MockServer::start().await;
        mount(&server, site, Answers::default(), [1, 1, 1, 1]).await;
        // `query` is a fuzzy match: someone else's record is ignored.
        mount_customers(
            &server,
            site,
            "pat@acme.com",
            json_answer(customer_page(vec![
                customer("JIRAUSER10109", "pat.leeds", "pat@acme.com.au"),
                customer(PAT_KEY, "pat.lee", "pat@acme.com"),
            ])),
            1,
        )
        .await;
        mount_customers(
            &server,
            site,
            "dana@acme.com",
            json_answer(customer_page(vec![customer(
                DANA_KEY,
                "dana.ross",
                "dana@acme.com",
            )])),
            1,
        )
        .await;
        mount_catch_all(&server).await;
        let jira = site.client(&server, Some("ITSD"));

        let found = jira.readiness(&input(vec![pat(), dana()])).await;

        assert_ready(&found);
        assert_eq!(jira.http().requests_sent(), 6, "4 + one per manual user");
        server.verify().await;
    }
}

#[tokio::test]
async fn without_a_project_only_the_groups_are_asked_in_one_request() {
    let server = MockServer::start().await;
    mount(&server, ROOT, Answers::default(), [1, 0, 0, 0]).await;
    mount_catch_all(&server).await;
    let jira = ROOT.client(&server, None);

    let found = jira.readiness(&input(vec![pat()])).await;

    assert_ready(&found);
    assert_eq!(jira.http().requests_sent(), 1);
}

#[tokio::test]
async fn customers_are_compared_by_key_not_by_account_id_or_name() {
    let server = MockServer::start().await;
    mount(&server, ROOT, Answers::default(), [1, 1, 1, 1]).await;
    // Dana's user name is her key, but this record's key is another's.
    let mut impostor = customer("JIRAUSER10999", "dana.ross", "dana@acme.com");
    impostor["accountId"] = json!(DANA_KEY);
    mount_customers(
        &server,
        ROOT,
        "dana@acme.com",
        json_answer(customer_page(vec![impostor])),
        1,
    )
    .await;
    mount_customers(
        &server,
        ROOT,
        "pat@acme.com",
        json_answer(customer_page(vec![customer(
            PAT_KEY,
            "pat.lee",
            "pat@acme.com",
        )])),
        1,
    )
    .await;
    mount_catch_all(&server).await;

    let found = ROOT
        .client(&server, Some("ITSD"))
        .readiness(&input(vec![pat(), dana()]))
        .await;

    assert!(found.cannot_tell.is_empty(), "{:?}", found.cannot_tell);
    let [problem] = found.problems.as_slice() else {
        panic!("one problem expected: {:#?}", found.problems);
    };
    assert_eq!(problem.kind, ReadinessKind::NotCustomer { user: 1 });
    assert!(
        problem.message.starts_with(
            "dana@acme.com (Jira account dana.ross) is not a customer of project ITSD"
        ),
        "{}",
        problem.message
    );
    assert!(
        problem.fix.contains("Customers → Add customers"),
        "{}",
        problem.fix
    );
}

#[tokio::test]
async fn a_bot_in_no_service_management_group_gets_the_data_center_fix() {
    let server = MockServer::start().await;
    let answers = Answers {
        groups: json_answer(myself_with_groups(BOT_KEY, &["jira-software-users"])),
        ..Answers::default()
    };
    mount(&server, ROOT, answers, [1, 0, 0, 0]).await;
    mount_catch_all(&server).await;

    let found = ROOT.client(&server, None).readiness(&input(vec![])).await;

    assert!(found.cannot_tell.is_empty(), "{:?}", found.cannot_tell);
    let [problem] = found.problems.as_slice() else {
        panic!("one problem expected: {:#?}", found.problems);
    };
    assert_eq!(problem.kind, ReadinessKind::PermissionMissing);
    assert_eq!(problem.actual.as_deref(), Some("jira-software-users"));
    assert!(
        problem
            .fix
            .starts_with("Jira administration → User management → Groups"),
        "{}",
        problem.fix
    );
    assert!(
        !problem.fix.contains("admin.atlassian.com"),
        "{}",
        problem.fix
    );
}

#[tokio::test]
async fn the_groups_of_credentials_that_are_not_the_bots_cannot_tell() {
    let server = MockServer::start().await;
    // The record carries the bot's key as accountId, but Data Center's
    // user id is `key`.
    let mut someone = myself_with_groups("JIRAUSER10300", &["jira-servicedesk-users"]);
    someone["accountId"] = json!(BOT_KEY);
    let answers = Answers {
        groups: json_answer(someone),
        ..Answers::default()
    };
    mount(&server, ROOT, answers, [1, 0, 0, 0]).await;
    mount_catch_all(&server).await;

    let found = ROOT.client(&server, None).readiness(&input(vec![])).await;

    assert!(found.problems.is_empty(), "{:#?}", found.problems);
    let why = cannot_tell(&found, "groups");
    assert!(
        why.contains("JIRAUSER10300") && why.contains("BOT_CREDENTIAL_MISMATCH"),
        "{why}"
    );
}

#[tokio::test]
async fn missing_permissions_are_listed_in_one_finding() {
    let server = MockServer::start().await;
    let answers = Answers {
        permissions: json_answer(permissions(&["ASSIGN_ISSUES", "SERVICEDESK_AGENT"])),
        ..Answers::default()
    };
    mount(&server, ROOT, answers, [1, 1, 1, 1]).await;
    mount_catch_all(&server).await;

    let found = ROOT
        .client(&server, Some("ITSD"))
        .readiness(&input(vec![]))
        .await;

    assert!(found.cannot_tell.is_empty(), "{:?}", found.cannot_tell);
    let [problem] = found.problems.as_slice() else {
        panic!("one problem expected: {:#?}", found.problems);
    };
    assert_eq!(problem.kind, ReadinessKind::PermissionMissing);
    assert_eq!(
        problem.actual.as_deref(),
        Some("ASSIGN_ISSUES, SERVICEDESK_AGENT")
    );
}

#[tokio::test]
async fn a_project_jira_hides_is_browse_projects_missing_and_nothing_more_is_asked() {
    let server = MockServer::start().await;
    let answers = Answers {
        permissions: error_answer(
            404,
            json!({"errorMessages": ["No project could be found with key 'ITSD'."], "errors": {}}),
        ),
        ..Answers::default()
    };
    mount(&server, ROOT, answers, [1, 1, 0, 0]).await;
    mount_customers(
        &server,
        ROOT,
        "pat@acme.com",
        json_answer(customer_page(vec![])),
        0,
    )
    .await;
    mount_catch_all(&server).await;
    let jira = ROOT.client(&server, Some("ITSD"));

    let found = jira.readiness(&input(vec![pat()])).await;

    let [problem] = found.problems.as_slice() else {
        panic!("one problem expected: {:#?}", found.problems);
    };
    assert_eq!(problem.actual.as_deref(), Some("BROWSE_PROJECTS"));
    assert!(cannot_tell(&found, "customers and workflow").contains("cannot see project ITSD"));
    assert_eq!(jira.http().requests_sent(), 2);
}

#[tokio::test]
async fn a_workflow_without_a_resolution_is_a_gap() {
    let server = MockServer::start().await;
    let answers = Answers {
        transitions: json_answer(json!({"expand": "transitions", "transitions": [
            transition("Start progress", "In Progress", "indeterminate", false),
        ]})),
        ..Answers::default()
    };
    mount(&server, ROOT, answers, [1, 1, 1, 1]).await;
    mount_catch_all(&server).await;

    let found = ROOT
        .client(&server, Some("ITSD"))
        .readiness(&input(vec![]))
        .await;

    assert!(found.cannot_tell.is_empty(), "{:?}", found.cannot_tell);
    let kinds: Vec<ReadinessKind> = found.problems.iter().map(|p| p.kind).collect();
    assert_eq!(kinds, [ReadinessKind::WorkflowGap]);
    assert!(
        found.problems[0].message.contains("ITSD-42"),
        "{}",
        found.problems[0].message
    );
}

#[tokio::test]
async fn disabled_basic_authentication_cannot_tell_with_the_token_fix_after_one_request() {
    let server = MockServer::start().await;
    let answers = Answers {
        groups: ResponseTemplate::new(401).set_body_raw(
            "Basic Authentication has been disabled on this instance.",
            "text/plain;charset=UTF-8",
        ),
        ..Answers::default()
    };
    mount(&server, ROOT, answers, [1, 0, 0, 0]).await;
    mount_catch_all(&server).await;
    let jira = ROOT.client(&server, Some("ITSD"));

    let found = jira.readiness(&input(vec![pat()])).await;

    assert!(found.problems.is_empty(), "{:#?}", found.problems);
    let why = cannot_tell(&found, "groups");
    assert!(why.contains("personal access token"), "{why}");
    assert_eq!(jira.http().requests_sent(), 1, "nothing after the refusal");
}
