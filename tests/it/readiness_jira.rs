//! Jira Cloud bot readiness end to end: the real binary against the
//! simulator over `fixtures/jira.json`. The fixture's HELP project is ready
//! and its ITH project (the demo's) has a bot without the Service Desk Team
//! role, pat@acme.com who is not a customer and a resolve screen without
//! Assignee; other cases edit the data. Each finding the probe makes, `ok`,
//! `skipped` when disabled, `unavailable` with its reason for each part the
//! probe cannot tell, and what the probe costs in requests (`api_requests`
//! with the probe on and off).

use itsmid_connectors::System;
use itsmid_connectors::sim::AnySimulator;
use serde_json::{Value, json};

use crate::support::{entry_of, findings, fixture, run_in, stdout_json, system_row, write_secret};

const BOT: &str = "moveworks-bot@acme.com";
const INTEGRATION: &str = "jira_service_desk";
const BOT_ID: &str = "5b10ac8d82e05b22cc7d4ef5";
const PAT_ID: &str = "712020:6b1f7b04-6e9e-4276-b4d8-4d7b1678e327";

/// The bot and two manual users with verified Jira entries: pat (an
/// Atlassian account) and casey (a portal customer).
const IDENTITIES: &str = r#"
[bot]
unique_record_id = "moveworks-bot@acme.com"
[[bot.itsm]]
integration = "jira_service_desk"
external_id = "moveworks-bot@acme.com"
itsm_user_id = "5b10ac8d82e05b22cc7d4ef5"

[[users]]
unique_record_id = "pat@acme.com"
[[users.itsm]]
integration = "jira_service_desk"
external_id = "pat@acme.com"
itsm_user_id = "712020:6b1f7b04-6e9e-4276-b4d8-4d7b1678e327"

[[users]]
unique_record_id = "customer@partner.example"
[[users.itsm]]
integration = "jira_service_desk"
external_id = "customer@partner.example"
itsm_user_id = "qm:a6e2b3c4-1d2e-4f5a-8b9c-0d1e2f3a4b5c:5e5f5a5b5c5d5e5f"
"#;

/// One Jira simulator and a folder with a config for it alone.
struct World {
    dir: tempfile::TempDir,
    _sim: AnySimulator,
    uri: String,
}

impl World {
    async fn start() -> World {
        World::with(|_| {}).await
    }

    /// The fixture, edited by `change`.
    async fn with(change: impl FnOnce(&mut Value)) -> World {
        let mut data: Value = serde_json::from_str(&fixture("jira.json")).expect("JSON");
        change(&mut data);
        let sim = AnySimulator::start(System::Jira, "jira.json", &data.to_string(), None, true)
            .await
            .expect("the simulator starts");
        let uri = sim.uri();
        let world = World {
            dir: tempfile::tempdir().expect("a temporary folder"),
            _sim: sim,
            uri,
        };
        std::fs::write(world.dir.path().join("identities.toml"), IDENTITIES).expect("write");
        world
    }

    /// The config logging in as `username`, with `readiness` (the lines of
    /// `[connectors.readiness]`, or empty for none).
    fn write(&self, username: &str, password: &str, readiness: &str) {
        write_secret(self.dir.path().join("jira-token"), password);
        let table = if readiness.is_empty() {
            String::new()
        } else {
            format!("[connectors.readiness]\n{readiness}\n")
        };
        let config = format!(
            "identities = \"identities.toml\"\n\n[[connectors]]\nintegration = \"{INTEGRATION}\"\nsystem = \"jira\"\nbase_url = \"{}\"\nrequests_per_minute = 60000\n[connectors.auth]\ntype = \"basic\"\nusername = \"{username}\"\npassword = \"file:jira-token\"\n{table}",
            self.uri
        );
        std::fs::write(self.dir.path().join("itsmid.toml"), config).expect("write");
    }

    fn write_bot(&self, readiness: &str) {
        self.write(BOT, "demo-jira-token", readiness);
    }

    async fn check(&self) -> (i32, Value) {
        let output = run_in(self.dir.path(), &["check", "--format", "json"]).await;
        let report = stdout_json(&output);
        (output.status.code().unwrap_or(-1), report)
    }

    /// The check with the probe off, then on with `readiness`: the exit
    /// code and report with it on, and what the probe cost in requests.
    async fn check_and_cost(&self, readiness: &str) -> (i32, Value, u64) {
        self.write_bot(&format!("{readiness}\nenabled = false"));
        let (_, without) = self.check().await;
        assert_eq!(row(&without)["readiness"], "skipped", "{without:#}");
        self.write_bot(readiness);
        let (exit, report) = self.check().await;
        let requests = |report: &Value| row(report)["api_requests"].as_u64().expect("a count");
        let cost = requests(&report) - requests(&without);
        (exit, report, cost)
    }
}

fn row(report: &Value) -> &Value {
    system_row(report, INTEGRATION)
}

/// The report's readiness findings (the three codes the probe makes).
fn readiness_findings(report: &Value) -> Vec<&Value> {
    [
        "BOT_PERMISSION_MISSING",
        "USER_NOT_CUSTOMER",
        "WORKFLOW_GAP",
    ]
    .into_iter()
    .flat_map(|code| findings(report, code))
    .collect()
}

/// Each part the probe could not tell is in `readiness_detail`, with no
/// finding and every entry still verified.
fn assert_unavailable(report: &Value, expected: &[&str]) {
    assert!(readiness_findings(report).is_empty(), "{report:#}");
    let row = row(report);
    assert_eq!(row["readiness"], "unavailable", "{row}");
    let detail = row["readiness_detail"].as_str().expect("a detail");
    for part in expected {
        assert!(detail.contains(part), "{part:?} not in {detail}");
    }
    assert_eq!(row["status"], "ok");
    for urid in [BOT, "pat@acme.com", "customer@partner.example"] {
        assert_eq!(entry_of(report, urid, INTEGRATION)["status"], "verified");
    }
}

/// The project `key` of the fixture's readiness data.
fn project<'a>(data: &'a mut Value, key: &str) -> &'a mut Value {
    data["simulator"]["readiness"]["projects"]
        .as_array_mut()
        .and_then(|projects| projects.iter_mut().find(|p| p["key"] == key))
        .unwrap_or_else(|| panic!("no project {key} in the fixture"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ready_bot_is_ok_for_four_requests_and_one_per_manual_user() {
    let world = World::start().await;

    let (exit, report, cost) = world.check_and_cost("project = \"HELP\"").await;

    assert_eq!(exit, 0, "{report:#}");
    assert_eq!(row(&report)["readiness"], "ok", "{report:#}");
    assert_eq!(row(&report)["readiness_detail"], Value::Null);
    assert_eq!(
        cost,
        4 + 2,
        "groups, permissions, newest issue, transitions, 2 customers"
    );
    assert!(
        report["findings"].as_array().is_some_and(Vec::is_empty),
        "{report:#}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_project_only_the_groups_cost_a_request() {
    let world = World::start().await;

    let (exit, report, cost) = world.check_and_cost("").await;

    assert_eq!(exit, 0, "{report:#}");
    assert_eq!(row(&report)["readiness"], "ok", "{report:#}");
    assert_eq!(cost, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_disabled_is_skipped_and_asks_nothing() {
    let world = World::start().await;
    world.write_bot("project = \"ITH\"\nenabled = false");

    let (exit, report) = world.check().await;

    assert_eq!(exit, 0, "{report:#}");
    assert_eq!(row(&report)["readiness"], "skipped");
    assert!(
        row(&report)["readiness_detail"]
            .as_str()
            .is_some_and(|d| d.contains("enabled = false")),
        "{report:#}"
    );
    assert!(readiness_findings(&report).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_project_reports_each_readiness_finding() {
    let world = World::start().await;
    world.write_bot("project = \"ITH\"");

    let (exit, report) = world.check().await;

    assert_eq!(exit, 1, "{report:#}");
    assert_eq!(row(&report)["readiness"], "problems");
    assert_eq!(row(&report)["readiness_detail"], Value::Null);

    let permission = findings(&report, "BOT_PERMISSION_MISSING");
    assert_eq!(permission.len(), 1, "{report:#}");
    assert_eq!(permission[0]["severity"], "error");
    assert_eq!(permission[0]["unique_record_id"], BOT);
    assert_eq!(permission[0]["integration"], INTEGRATION);
    assert_eq!(permission[0]["actual"], "SERVICEDESK_AGENT");
    assert!(
        permission[0]["fix"].as_str().is_some_and(
            |f| f.contains("Project settings → People") && f.contains("Service Desk Team")
        ),
        "{}",
        permission[0]
    );

    let customer = findings(&report, "USER_NOT_CUSTOMER");
    assert_eq!(customer.len(), 1, "{report:#}");
    assert_eq!(customer[0]["severity"], "error");
    assert_eq!(customer[0]["unique_record_id"], "pat@acme.com");
    assert!(
        customer[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains(PAT_ID) && m.contains("project ITH")),
        "{}",
        customer[0]
    );

    let gap = findings(&report, "WORKFLOW_GAP");
    assert_eq!(gap.len(), 1, "{report:#}");
    assert_eq!(gap[0]["severity"], "warning");
    assert_eq!(gap[0]["unique_record_id"], BOT);
    assert!(
        gap[0]["fix"]
            .as_str()
            .is_some_and(|f| f.contains("Project settings → Screens")),
        "{}",
        gap[0]
    );
    // The users' entries are judged as usual whatever the probe says.
    assert_eq!(
        entry_of(&report, "pat@acme.com", INTEGRATION)["status"],
        "verified"
    );
    assert_eq!(
        entry_of(&report, "customer@partner.example", INTEGRATION)["status"],
        "verified"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bot_outside_the_service_management_groups_lacks_a_permission() {
    let world = World::with(|d| {
        d["simulator"]["readiness"]["groups"][BOT_ID] = json!(["jira-software-users-acme"]);
    })
    .await;
    world.write_bot("");

    let (exit, report) = world.check().await;

    assert_eq!(exit, 1, "{report:#}");
    let found = findings(&report, "BOT_PERMISSION_MISSING");
    assert_eq!(found.len(), 1, "{report:#}");
    assert_eq!(found[0]["actual"], "jira-software-users-acme");
    assert_eq!(
        found[0]["expected"],
        "member of one of: jira-servicedesk-users, jira-servicemanagement-users"
    );
    assert_eq!(row(&report)["readiness"], "problems");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_project_the_bot_cannot_see_lacks_browse_projects() {
    let world = World::start().await;
    world.write_bot("project = \"NOPE\"");

    let (exit, report) = world.check().await;

    assert_eq!(exit, 1, "{report:#}");
    let found = findings(&report, "BOT_PERMISSION_MISSING");
    assert_eq!(found.len(), 1, "{report:#}");
    assert_eq!(found[0]["actual"], "BROWSE_PROJECTS");
    let row = row(&report);
    assert_eq!(row["readiness"], "problems");
    assert!(
        row["readiness_detail"]
            .as_str()
            .is_some_and(|d| d.contains("cannot see project NOPE")),
        "{row}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_project_with_no_issue_yet_is_unavailable() {
    let world = World::with(|d| project(d, "HELP")["issues"] = json!([])).await;
    world.write_bot("project = \"HELP\"");

    let (exit, report) = world.check().await;

    assert_eq!(exit, 0, "{report:#}");
    assert_unavailable(&report, &["workflow: project HELP has no issue yet"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_issue_with_no_transition_for_the_bot_is_unavailable() {
    let world = World::with(|d| project(d, "HELP")["issues"][0]["transitions"] = json!([])).await;
    world.write_bot("project = \"HELP\"");

    let (_, report) = world.check().await;

    assert_unavailable(
        &report,
        &["workflow: Jira lists no transition the bot can make from HELP-1"],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_site_without_service_management_is_unavailable() {
    let world =
        World::with(|d| d["simulator"]["readiness"]["serviceManagement"] = json!(false)).await;
    world.write_bot("project = \"HELP\"");

    let (_, report) = world.check().await;

    assert_unavailable(
        &report,
        &[
            "project permissions: Jira refused the permission keys (HTTP 400: Invalid permission key: SERVICEDESK_AGENT)",
            "customers: Jira names no service desk for project HELP (HTTP 404: Jira Service Management is not installed on this site.)",
        ],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_project_that_is_not_a_service_desk_cannot_tell_its_customers() {
    let world = World::with(|d| {
        project(d, "HELP")
            .as_object_mut()
            .map(|p| p.remove("serviceDeskId"));
    })
    .await;
    world.write_bot("project = \"HELP\"");

    let (_, report) = world.check().await;

    assert_unavailable(
        &report,
        &[
            "customers: Jira names no service desk for project HELP (HTTP 404: The service desk projectKey:HELP does not exist",
        ],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_of_another_account_are_not_used_to_probe_the_bot() {
    let world = World::start().await;
    world.write("kim@acme.com", "kim-token", "");

    let (exit, report) = world.check().await;

    assert_eq!(
        exit, 1,
        "BOT_CREDENTIAL_MISMATCH is the finding: {report:#}"
    );
    assert_eq!(findings(&report, "BOT_CREDENTIAL_MISMATCH").len(), 1);
    // A probe with Kim's credentials would see what Kim sees: none is sent.
    assert_unavailable(&report, &["credentials are not the bot's"]);
}
