//! The ServiceNow simulator's readiness data, through the probe and the
//! lookups: the demo data answers a ready bot under the default settings,
//! data without readiness data does too, and each problem and each case
//! that cannot tell can be expressed.
//!
//! Never stages answers per test: only the data.

use itsmid_connectors::sim::AnySimulator;
use itsmid_connectors::{Connector, ConnectorSettings, System};
use serde_json::{Value, json};

use super::super::{BOT_ID, PAT_ID, id};
use super::{ROLES, client_with, input};
use crate::support::{basic, fixture, settings};

async fn simulator_with(data: &str) -> AnySimulator {
    AnySimulator::start(System::ServiceNow, "servicenow.json", data, None, true)
        .await
        .expect("the data starts a simulator")
}

fn demo_client(sim: &AnySimulator) -> ConnectorSettings {
    settings(
        System::ServiceNow,
        &sim.server,
        basic("moveworks.bot", "demo-snow-password"),
    )
}

/// The demo data with `simulator.acl` and `tables` replaced.
fn demo_data_with(tables: Value, acl: Value) -> String {
    let mut data: Value =
        serde_json::from_str(&fixture("servicenow.json")).expect("the demo data is JSON");
    data["tables"] = tables;
    data["simulator"]["acl"] = acl;
    data.to_string()
}

#[tokio::test]
async fn the_demo_data_answers_a_ready_bot_under_the_default_settings() {
    let sim = simulator_with(&fixture("servicenow.json")).await;
    let client = client_with(demo_client(&sim));

    let readiness = client.readiness(&input()).await;

    assert_eq!(readiness, Default::default());
    assert_eq!(client.http().requests_sent(), 2);
}

#[tokio::test]
async fn data_without_readiness_data_answers_a_ready_bot() {
    let data = json!({
        "result": [{"sys_id": BOT_ID, "user_name": "moveworks.bot", "active": "true"}],
        "simulator": {"basic": [{"username": "moveworks.bot", "password": "demo-snow-password"}]}
    });
    let sim = simulator_with(&data.to_string()).await;

    let readiness = client_with(demo_client(&sim)).readiness(&input()).await;

    assert_eq!(readiness, Default::default());
}

#[tokio::test]
async fn the_simulator_tells_each_readiness_problem() {
    let sim = simulator_with(&fixture("servicenow.json")).await;
    let mut settings = demo_client(&sim);
    settings.readiness.roles = vec!["itil".into(), "sn_incident_write".into()];
    settings.readiness.table = "sn_hr_core_case".into();

    let readiness = client_with(settings).readiness(&input()).await;

    assert!(readiness.cannot_tell.is_empty(), "{readiness:?}");
    let actual: Vec<Option<&str>> = readiness
        .problems
        .iter()
        .map(|p| p.actual.as_deref())
        .collect();
    assert_eq!(
        actual,
        [
            Some("sn_incident_write"),
            Some("HTTP 403 on sn_hr_core_case")
        ]
    );
}

#[tokio::test]
async fn the_simulator_tells_each_case_that_cannot_tell() {
    // A role table the bot may not read, and a table that does not exist.
    let refused = demo_data_with(json!({}), json!({"sys_user_has_role": ["security_admin"]}));
    // No role row for the bot at all.
    let empty = demo_data_with(json!({"sys_user_has_role": []}), json!({}));
    for (data, roles_reason) in [
        (
            refused,
            "ServiceNow refused to show the bot's roles (HTTP 403",
        ),
        (empty, "ServiceNow returned no active role row for the bot"),
    ] {
        let sim = simulator_with(&data).await;
        let mut settings = demo_client(&sim);
        settings.readiness.table = "u_nope".into();

        let readiness = client_with(settings).readiness(&input()).await;

        assert!(readiness.problems.is_empty(), "{readiness:?}");
        let [roles, table] = readiness.cannot_tell.as_slice() else {
            panic!("two reasons: {readiness:?}");
        };
        assert!(roles.starts_with(roles_reason), "{roles}");
        assert!(
            table.starts_with("ServiceNow does not know the table u_nope"),
            "{table}"
        );
    }
}

#[tokio::test]
async fn the_simulator_serves_role_rows_and_errors_in_the_table_apis_shape() {
    let sim = simulator_with(&fixture("servicenow.json")).await;
    let get = |url: String| async move {
        reqwest::Client::new()
            .get(url)
            .basic_auth("moveworks.bot", Some("demo-snow-password"))
            .send()
            .await
            .expect("the simulator answers")
    };

    let roles = get(format!(
        "{}{ROLES}?sysparm_query=user%3D{BOT_ID}%5Estate%3Dactive&sysparm_fields=role.name,state",
        sim.uri()
    ))
    .await;
    assert_eq!(roles.status(), 200);
    let body: Value = roles.json().await.expect("JSON");
    assert_eq!(
        body,
        json!({"result": [
            {"role.name": "itil", "state": "active"},
            {"role.name": "snc_platform_rest_api_access", "state": "active"}
        ]})
    );

    let denied = get(format!(
        "{}/api/now/table/sn_hr_core_case?sysparm_limit=1",
        sim.uri()
    ))
    .await;
    assert_eq!(denied.status(), 403);
    let body: Value = denied.json().await.expect("JSON");
    assert_eq!(
        body,
        json!({"error": {"message": "User Not Authorized", "detail": "Failed API level ACL Validation"},
               "status": "failure"})
    );

    let unknown = get(format!(
        "{}/api/now/table/u_nope?sysparm_limit=1",
        sim.uri()
    ))
    .await;
    assert_eq!(unknown.status(), 400);
    let body: Value = unknown.json().await.expect("JSON");
    assert_eq!(body["error"]["message"], "Invalid table u_nope");

    let empty = get(format!(
        "{}/api/now/table/problem?sysparm_limit=1",
        sim.uri()
    ))
    .await;
    assert_eq!(empty.status(), 200);
    let body: Value = empty.json().await.expect("JSON");
    assert_eq!(body, json!({"result": []}));
}

#[tokio::test]
async fn the_demo_bots_settings_are_in_order_and_a_changed_one_is_reported() {
    let sim = simulator_with(&fixture("servicenow.json")).await;
    let client = client_with(demo_client(&sim));
    let bot = super::super::found(
        &client.lookup(&[id(BOT_ID)]).await.expect("an answer"),
        &id(BOT_ID),
    );
    assert_eq!(client.bot_setting_problems(&bot), []);

    let mut data: Value =
        serde_json::from_str(&fixture("servicenow.json")).expect("the demo data is JSON");
    data["result"][0]["time_format"] = json!("hh:mm:ss a");
    let sim = simulator_with(&data.to_string()).await;
    let client = client_with(demo_client(&sim));
    let owner = match client.whoami().await.expect("an answer") {
        itsmid_connectors::CredentialOwner::Known(owner) => owner,
        other => panic!("the bot: {other:?}"),
    };

    let problems = client.bot_setting_problems(&owner);

    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].setting, "time_format");
    assert_eq!(problems[0].actual.as_deref(), Some("hh:mm:ss a"));
}

#[tokio::test]
async fn readiness_data_that_would_mislead_is_refused() {
    for (data, expected) in [
        (
            json!({"result": [], "tables": {"sys_user": []}}),
            "tables.sys_user",
        ),
        (
            json!({"result": [], "tables": {"sys_user_has_role": [{"user": PAT_ID, "role.name": "itil"}]}}),
            "tables.sys_user_has_role[0]",
        ),
        (
            json!({"result": [], "simulator": {"acl": {"u_nope": ["itil"]}}}),
            "simulator.acl.u_nope",
        ),
        (
            json!({"result": [], "simulator": {"acl": {"incident": []}}}),
            "simulator.acl.incident",
        ),
        (
            json!({"result": [], "simulator": {"acls": {}}}),
            "simulator: unknown field `acls`",
        ),
    ] {
        let err = AnySimulator::start(System::ServiceNow, "x.json", &data.to_string(), None, true)
            .await
            .err()
            .map(|err| err.to_string())
            .unwrap_or_default();
        assert!(err.contains(expected), "{expected}: {err}");
    }
}
