//! The Jira simulator's readiness endpoints over `fixtures/jira.json`,
//! through the probe and through a plain HTTP client: the ready default,
//! the demo's project with its three problems, and every refusal the data
//! can stage.
//!
//! Never stages answers per test: only the fixture data, edited as JSON.

use itsmid_connectors::jira::Client;
use itsmid_connectors::sim::AnySimulator;
use itsmid_connectors::{Connector, Readiness, ReadinessKind, System};
use serde_json::{Value, json};

use super::{CASEY_ID, account, cannot_tell, casey, input, pat};
use crate::jira::{BOT_ID, KIM_ID, PAT_ID, bot_credentials};
use crate::support::{basic, fixture, settings};

const HANA_ID: &str = "5d53f3cbc6b9320d9ea5bdc2";

/// A change to the fixture's JSON that stages one case.
type Edit = Box<dyn FnOnce(&mut Value)>;

/// The repository's fixture, edited by `edit`.
fn data(edit: impl FnOnce(&mut Value)) -> String {
    let mut data: Value = serde_json::from_str(&fixture("jira.json")).expect("the fixture is JSON");
    edit(&mut data);
    data.to_string()
}

async fn simulator(data: &str) -> AnySimulator {
    AnySimulator::start(System::Jira, "jira.json", data, None, true)
        .await
        .expect("the data starts a simulator")
}

fn client(sim: &AnySimulator, project: Option<&str>) -> Client {
    let mut settings = settings(System::Jira, &sim.server, bot_credentials());
    settings.readiness.project = project.map(str::to_owned);
    Client::new(settings).expect("valid settings")
}

/// The project `key` of the fixture's readiness data.
fn project<'a>(data: &'a mut Value, key: &str) -> &'a mut Value {
    data["simulator"]["readiness"]["projects"]
        .as_array_mut()
        .and_then(|projects| projects.iter_mut().find(|p| p["key"] == key))
        .unwrap_or_else(|| panic!("no project {key} in the fixture"))
}

fn all_users() -> Vec<itsmid_connectors::ItsmUser> {
    vec![
        pat(),
        casey(),
        account(HANA_ID, None, "Hana Hidden"),
        account(KIM_ID, Some("kim@acme.com"), "Kim Lee"),
    ]
}

fn kinds(found: &Readiness) -> Vec<ReadinessKind> {
    found.problems.iter().map(|p| p.kind).collect()
}

#[tokio::test]
async fn the_fixture_finds_the_bot_ready_in_help_for_four_requests_and_one_per_user() {
    let sim = simulator(&fixture("jira.json")).await;
    let jira = client(&sim, Some("HELP"));

    let found = jira.readiness(&input(all_users())).await;

    assert!(found.problems.is_empty(), "{:#?}", found.problems);
    assert!(found.cannot_tell.is_empty(), "{:?}", found.cannot_tell);
    assert_eq!(
        jira.http().requests_sent(),
        4 + 4,
        "4 + one per manual user"
    );
}

#[tokio::test]
async fn the_demo_project_shows_a_missing_agent_role_a_non_customer_and_a_workflow_gap() {
    let sim = simulator(&fixture("jira.json")).await;

    let found = client(&sim, Some("ITH"))
        .readiness(&input(vec![pat(), casey()]))
        .await;

    assert!(found.cannot_tell.is_empty(), "{:?}", found.cannot_tell);
    assert_eq!(
        kinds(&found),
        [
            ReadinessKind::PermissionMissing,
            ReadinessKind::NotCustomer { user: 0 },
            ReadinessKind::WorkflowGap,
        ]
    );
    assert_eq!(
        found.problems[0].actual.as_deref(),
        Some("SERVICEDESK_AGENT")
    );
    assert!(
        found.problems[2].message.contains("Assignee"),
        "{}",
        found.problems[2].message
    );
}

#[tokio::test]
async fn without_readiness_data_the_bot_is_ready_and_no_project_exists() {
    let text = data(|d| {
        d["simulator"]
            .as_object_mut()
            .map(|s| s.remove("readiness"));
    });
    let sim = simulator(&text).await;

    let jira = client(&sim, None);
    let found = jira.readiness(&input(all_users())).await;
    assert_eq!(found, Readiness::default());
    assert_eq!(jira.http().requests_sent(), 1);

    let found = client(&sim, Some("HELP")).readiness(&input(vec![])).await;
    assert_eq!(kinds(&found), [ReadinessKind::PermissionMissing]);
    assert_eq!(found.problems[0].actual.as_deref(), Some("BROWSE_PROJECTS"));
}

#[tokio::test]
async fn the_data_stages_each_problem() {
    let cases: Vec<(&str, Edit, Vec<ReadinessKind>, Option<&str>)> = vec![
        (
            "no Service Management group",
            Box::new(|d| {
                d["simulator"]["readiness"]["groups"][BOT_ID] = json!(["jira-software-users"])
            }),
            vec![ReadinessKind::PermissionMissing],
            Some("jira-software-users"),
        ),
        (
            "cannot browse",
            Box::new(|d| {
                project(d, "HELP")["missingPermissions"] = json!({BOT_ID: ["BROWSE_PROJECTS"]})
            }),
            vec![ReadinessKind::PermissionMissing],
            Some("BROWSE_PROJECTS"),
        ),
        (
            "cannot transition: Jira lists no transition, no second finding",
            Box::new(|d| {
                project(d, "HELP")["missingPermissions"] =
                    json!({BOT_ID: ["TRANSITION_ISSUES", "ASSIGN_ISSUES"]})
            }),
            vec![ReadinessKind::PermissionMissing],
            Some("TRANSITION_ISSUES, ASSIGN_ISSUES"),
        ),
        (
            "casey is no customer",
            Box::new(|d| project(d, "HELP")["customers"] = json!([PAT_ID])),
            vec![ReadinessKind::NotCustomer { user: 1 }],
            None,
        ),
        (
            "no transition to In Progress",
            Box::new(|d| {
                let issue = &mut project(d, "HELP")["issues"][0];
                if let Some(list) = issue["transitions"].as_array_mut() {
                    list.retain(|t| t["to"]["statusCategory"]["key"] != "indeterminate");
                }
            }),
            vec![ReadinessKind::WorkflowGap],
            Some("\"Resolve this issue\" → Resolved (done, Assignee on its screen)"),
        ),
    ];
    for (case, edit, expected, actual) in cases {
        let sim = simulator(&data(edit)).await;

        let found = client(&sim, Some("HELP"))
            .readiness(&input(vec![pat(), casey()]))
            .await;

        assert_eq!(kinds(&found), expected, "{case}: {found:#?}");
        if let Some(actual) = actual {
            assert_eq!(found.problems[0].actual.as_deref(), Some(actual), "{case}");
        }
        let unexpected: Vec<&String> = found
            .cannot_tell
            .iter()
            .filter(|why| !why.starts_with("customers and workflow:"))
            .collect();
        assert!(unexpected.is_empty(), "{case}: {unexpected:?}");
    }
}

#[tokio::test]
async fn the_data_stages_each_cannot_tell() {
    let cases: Vec<(&str, Edit, &str, &str)> = vec![
        (
            "a site without Service Management",
            Box::new(|d| d["simulator"]["readiness"]["serviceManagement"] = json!(false)),
            "project permissions",
            "Invalid permission key: SERVICEDESK_AGENT",
        ),
        (
            "a project that is not a service desk",
            Box::new(|d| {
                project(d, "HELP")
                    .as_object_mut()
                    .map(|p| p.remove("serviceDeskId"));
            }),
            "customers",
            "no service desk for project HELP (HTTP 404: The service desk projectKey:HELP does not exist",
        ),
        (
            "a bot that is neither agent nor project admin",
            Box::new(|d| {
                project(d, "HELP")["missingPermissions"] =
                    json!({BOT_ID: ["SERVICEDESK_AGENT", "ADMINISTER_PROJECTS"]})
            }),
            "customers",
            "HTTP 403",
        ),
        (
            "no issue yet",
            Box::new(|d| project(d, "HELP")["issues"] = json!([])),
            "workflow",
            "no issue yet",
        ),
        (
            "an issue with no transition",
            Box::new(|d| project(d, "HELP")["issues"][0]["transitions"] = json!([])),
            "workflow",
            "no transition the bot can make from HELP-1",
        ),
    ];
    for (case, edit, part, expected) in cases {
        let sim = simulator(&data(edit)).await;

        let found = client(&sim, Some("HELP"))
            .readiness(&input(vec![pat(), casey()]))
            .await;

        let why = cannot_tell(&found, part);
        assert!(why.contains(expected), "{case}: {why}");
        assert!(
            found
                .problems
                .iter()
                .all(|p| p.kind == ReadinessKind::PermissionMissing),
            "{case}: {:#?}",
            found.problems
        );
    }
}

#[tokio::test]
async fn credentials_of_another_account_cannot_tell_the_groups() {
    let sim = simulator(&fixture("jira.json")).await;
    let mut settings = settings(
        System::Jira,
        &sim.server,
        basic("kim@acme.com", "kim-token"),
    );
    settings.readiness.project = None;
    let jira = Client::new(settings).expect("valid settings");

    let found = jira.readiness(&input(vec![])).await;

    assert!(found.problems.is_empty(), "{:#?}", found.problems);
    assert!(cannot_tell(&found, "groups").contains(KIM_ID));
}

#[tokio::test]
async fn the_simulator_speaks_jiras_readiness_shapes() {
    let sim = simulator(&fixture("jira.json")).await;
    let http = reqwest::Client::new();
    let get = |path: &str| {
        http.get(format!("{}{path}", sim.uri()))
            .basic_auth("moveworks-bot@acme.com", Some("demo-jira-token"))
    };
    let body = |request: reqwest::RequestBuilder| async move {
        let response = request.send().await.expect("sent");
        let status = response.status().as_u16();
        let json: Value = response.json().await.expect("JSON");
        (status, json)
    };

    let (status, me) = body(get("/rest/api/3/myself?expand=groups")).await;
    assert_eq!(status, 200);
    assert_eq!(me["groups"]["size"], 2);
    assert_eq!(
        me["groups"]["items"][0]["name"],
        "jira-servicedesk-users-acme"
    );
    assert!(me["groups"]["items"][0]["groupId"].is_string());
    let (_, me) = body(get("/rest/api/3/myself")).await;
    assert!(
        me.get("groups").is_none(),
        "groups only when expanded: {me}"
    );

    let (status, perms) = body(get(
        "/rest/api/3/mypermissions?projectKey=ITH&permissions=BROWSE_PROJECTS,SERVICEDESK_AGENT",
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        perms["permissions"]["BROWSE_PROJECTS"],
        json!({"id": "10", "key": "BROWSE_PROJECTS", "name": "Browse Projects", "type": "PROJECT",
               "description": "Ability to browse projects and the issues within them.", "havePermission": true})
    );
    assert_eq!(
        perms["permissions"]["SERVICEDESK_AGENT"]["havePermission"],
        false
    );
    let (status, refused) = body(get(
        "/rest/api/3/mypermissions?projectKey=ITH&permissions=BROWSE",
    ))
    .await;
    assert_eq!(
        (status, &refused["errorMessages"][0]),
        (400, &json!("Invalid permission key: BROWSE"))
    );
    let (status, _) = body(get("/rest/api/3/mypermissions?projectKey=ITH")).await;
    assert_eq!(status, 400);
    let (status, _) = body(get(
        "/rest/api/3/mypermissions?projectKey=NOPE&permissions=BROWSE_PROJECTS",
    ))
    .await;
    assert_eq!(status, 404);

    let (status, desk) = body(get("/rest/servicedeskapi/servicedesk/projectId:10001")).await;
    assert_eq!(status, 200);
    assert_eq!(
        (&desk["id"], &desk["projectKey"]),
        (&json!("2"), &json!("ITH"))
    );
    let (_, same) = body(get("/rest/servicedeskapi/servicedesk/2")).await;
    assert_eq!(same["projectKey"], "ITH");

    // The project key names the desk in the customer path too.
    let (status, by_key) = body(
        get("/rest/servicedeskapi/servicedesk/projectKey:ITH/customer?query=customer%40partner")
            .header("X-ExperimentalApi", "opt-in"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(by_key["values"][0]["accountId"], CASEY_ID);
    let (status, _) = body(
        get("/rest/servicedeskapi/servicedesk/projectKey:NOPE/customer?query=pat")
            .header("X-ExperimentalApi", "opt-in"),
    )
    .await;
    assert_eq!(status, 404, "no desk for that project key");

    let customers = "/rest/servicedeskapi/servicedesk/1/customer";
    let (status, refused) = body(get(&format!("{customers}?query=pat"))).await;
    assert_eq!(status, 400, "the experimental API wants its opt-in header");
    assert!(refused["errorMessage"].is_string());
    let (status, page) =
        body(get(&format!("{customers}?query=acme&limit=1")).header("X-ExperimentalApi", "opt-in"))
            .await;
    assert_eq!(status, 200);
    assert_eq!(page["isLastPage"], false);
    assert_eq!(page["values"].as_array().map(Vec::len), Some(1));
    assert!(
        page["_links"]["next"]
            .as_str()
            .is_some_and(|n| n.contains("start=1"))
    );
    let (_, casey) = body(
        get(&format!("{customers}?query=customer%40partner")).header("X-ExperimentalApi", "opt-in"),
    )
    .await;
    assert_eq!(casey["values"][0]["accountId"], CASEY_ID);
    assert_eq!(casey["isLastPage"], true);

    let (status, search) = body(get(
        "/rest/api/3/search/jql?jql=project%20%3D%20ITH%20ORDER%20BY%20created%20DESC&maxResults=1&fields=status",
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(search["issues"][0]["key"], "ITH-3");
    assert_eq!(
        search["issues"][0]["fields"].as_object().map(|f| f.len()),
        Some(1)
    );
    assert_eq!(
        search["issues"][0]["fields"]["status"]["statusCategory"]["key"],
        "new"
    );
    assert_eq!(
        (&search["isLast"], &search["nextPageToken"]),
        (&json!(false), &json!("1"))
    );
    let (status, _) = body(get("/rest/api/3/search/jql?jql=ORDER%20BY%20created")).await;
    assert_eq!(status, 400, "unbounded JQL is refused");

    let (_, bare) = body(get("/rest/api/3/issue/ITH-3/transitions")).await;
    assert!(bare["transitions"][0].get("fields").is_none());
    let (_, expanded) = body(get(
        "/rest/api/3/issue/10103/transitions?expand=transitions.fields",
    ))
    .await;
    assert_eq!(
        expanded["transitions"][0]["fields"]["assignee"]["schema"]["system"],
        "assignee"
    );
    let (status, _) = body(get("/rest/api/3/issue/ITH-99/transitions")).await;
    assert_eq!(status, 404);
}
