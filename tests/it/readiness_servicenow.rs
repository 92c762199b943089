//! ServiceNow bot readiness end to end (SPEC section 5.1): the real binary
//! against the ServiceNow simulator, one finding or "cannot tell" case per
//! test, each driven by the simulator's data or `[connectors.readiness]`.

use itsmid_connectors::System;
use itsmid_connectors::sim::AnySimulator;
use serde_json::{Value, json};

use crate::support::{
    SNOW_PASSWORD, entry_of, findings, fixture, run_in, stdout_json, system_row, write_secret,
};

const BOT_URID: &str = "moveworks-bot@acme.com";

/// The bot and one manual user, both verified in ServiceNow.
const IDENTITIES: &str = r#"
[bot]
unique_record_id = "moveworks-bot@acme.com"
[[bot.itsm]]
integration = "snow"
external_id = "moveworks.bot"
itsm_user_id = "6816f79cc0a8016401c5a33be04be441"

[[users]]
unique_record_id = "pat@acme.com"
[[users.itsm]]
integration = "snow"
external_id = "pat.lee"
itsm_user_id = "a8f98bb0eb32010045e1a5115206fe3a"
"#;

/// A ServiceNow simulator and a folder whose config has one connector.
struct Snow {
    dir: tempfile::TempDir,
    sim: AnySimulator,
}

impl Snow {
    async fn with_data(data: &str) -> Snow {
        let sim = AnySimulator::start(System::ServiceNow, "servicenow.json", data, None, true)
            .await
            .expect("the ServiceNow simulator starts");
        let dir = tempfile::tempdir().expect("a temporary folder");
        write_secret(dir.path().join("snow-password"), SNOW_PASSWORD);
        std::fs::write(dir.path().join("identities.toml"), IDENTITIES).expect("write");
        let snow = Snow { dir, sim };
        snow.configure("");
        snow
    }

    async fn start() -> Snow {
        Snow::with_data(&fixture("servicenow.json")).await
    }

    /// The connector, with `readiness` as its `[connectors.readiness]`
    /// table (none if empty).
    fn configure(&self, readiness: &str) {
        let table = if readiness.is_empty() {
            String::new()
        } else {
            format!("[connectors.readiness]\n{readiness}\n")
        };
        let config = format!(
            "identities = \"identities.toml\"\n\n[[connectors]]\nintegration = \"snow\"\n\
             system = \"servicenow\"\nbase_url = \"{}\"\nrequests_per_minute = 60000\n\
             [connectors.auth]\ntype = \"basic\"\nusername = \"moveworks.bot\"\n\
             password = \"file:snow-password\"\n{table}",
            self.sim.uri()
        );
        std::fs::write(self.dir.path().join("itsmid.toml"), config).expect("write the config");
    }

    async fn check(&self) -> (i32, Value) {
        let output = run_in(self.dir.path(), &["check", "--format", "json"]).await;
        let report = stdout_json(&output);
        (output.status.code().unwrap_or(-1), report)
    }
}

/// The demo data with `change` applied to it.
fn demo_data(change: impl FnOnce(&mut Value)) -> String {
    let mut data: Value =
        serde_json::from_str(&fixture("servicenow.json")).expect("the demo data is JSON");
    change(&mut data);
    data.to_string()
}

/// Asserts the run is complete, the system ok and both entries verified:
/// readiness never judges an entry or makes its system unavailable.
fn assert_entries_judged_as_usual(report: &Value) {
    assert_eq!(report["complete"], true, "{report:#}");
    assert_eq!(system_row(report, "snow")["status"], "ok", "{report:#}");
    for urid in [BOT_URID, "pat@acme.com"] {
        assert_eq!(
            entry_of(report, urid, "snow")["status"],
            "verified",
            "{report:#}"
        );
    }
}

fn requests(report: &Value) -> u64 {
    system_row(report, "snow")["api_requests"]
        .as_u64()
        .expect("a request count")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ready_servicenow_bot_is_ok_and_its_probe_costs_two_requests() {
    let snow = Snow::start().await;
    snow.configure("enabled = false");
    let (_, skipped) = snow.check().await;

    snow.configure("");
    let (exit, report) = snow.check().await;

    assert_eq!(exit, 0, "{report:#}");
    let row = system_row(&report, "snow");
    assert_eq!(row["readiness"], "ok", "{report:#}");
    assert_eq!(row["readiness_detail"], Value::Null);
    assert!(findings(&report, "BOT_PERMISSION_MISSING").is_empty());
    assert!(findings(&report, "BOT_SETTING").is_empty(), "{report:#}");
    assert_entries_judged_as_usual(&report);
    // One page of the bot's role rows and one row of incident.
    assert_eq!(requests(&report), requests(&skipped) + 2, "{report:#}");
    assert_eq!(report["summary"]["api_requests"], requests(&report));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disabled_probe_is_skipped() {
    let snow = Snow::start().await;
    snow.configure("enabled = false\nroles = [\"itil\", \"sn_incident_write\"]");

    let (exit, report) = snow.check().await;

    assert_eq!(exit, 0, "{report:#}");
    let row = system_row(&report, "snow");
    assert_eq!(row["readiness"], "skipped");
    assert_eq!(
        row["readiness_detail"],
        "disabled by [connectors.readiness] enabled = false"
    );
    assert!(findings(&report, "BOT_PERMISSION_MISSING").is_empty());
    let sent = snow
        .sim
        .server
        .received_requests()
        .await
        .unwrap_or_default();
    assert!(
        sent.iter()
            .all(|request| request.url.path() == "/api/now/table/sys_user"),
        "no probe request"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_role_without_an_active_row_is_bot_permission_missing_on_the_bot() {
    let snow = Snow::start().await;
    // The demo bot's sn_incident_write row is `requested`, not `active`.
    snow.configure("roles = [\"itil\", \"sn_incident_write\"]");

    let (exit, report) = snow.check().await;

    assert_eq!(exit, 1, "{report:#}");
    let found = findings(&report, "BOT_PERMISSION_MISSING");
    assert_eq!(found.len(), 1, "{report:#}");
    let finding = found[0];
    assert_eq!(finding["severity"], "error");
    assert_eq!(finding["unique_record_id"], BOT_URID);
    assert_eq!(finding["integration"], "snow");
    assert_eq!(finding["expected"], "itil, sn_incident_write");
    assert_eq!(finding["actual"], "sn_incident_write");
    let message = finding["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("does not hold the ServiceNow role sn_incident_write"),
        "{message}"
    );
    assert_eq!(system_row(&report, "snow")["readiness"], "problems");
    assert_entries_judged_as_usual(&report);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_table_the_bot_may_not_read_is_bot_permission_missing() {
    let snow = Snow::start().await;
    // The demo data's read ACL on sn_hr_core_case needs a role the bot lacks.
    snow.configure("table = \"sn_hr_core_case\"");

    let (exit, report) = snow.check().await;

    assert_eq!(exit, 1, "{report:#}");
    let found = findings(&report, "BOT_PERMISSION_MISSING");
    assert_eq!(found.len(), 1, "{report:#}");
    assert_eq!(found[0]["unique_record_id"], BOT_URID);
    assert_eq!(found[0]["expected"], "read access to sn_hr_core_case");
    assert_eq!(found[0]["actual"], "HTTP 403 on sn_hr_core_case");
    assert_eq!(system_row(&report, "snow")["readiness"], "problems");
    assert_entries_judged_as_usual(&report);
}

/// Runs a check that cannot tell one part and returns the system row.
async fn unavailable(snow: &Snow) -> Value {
    let (exit, report) = snow.check().await;
    assert_eq!(exit, 0, "{report:#}");
    assert!(findings(&report, "BOT_PERMISSION_MISSING").is_empty());
    assert_entries_judged_as_usual(&report);
    let row = system_row(&report, "snow").clone();
    assert_eq!(row["readiness"], "unavailable", "{report:#}");
    row
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_role_read_is_unavailable_with_the_reason() {
    let data = demo_data(|data| {
        data["simulator"]["acl"]["sys_user_has_role"] = json!(["security_admin"]);
    });
    let snow = Snow::with_data(&data).await;

    let row = unavailable(&snow).await;

    assert_eq!(
        row["readiness_detail"],
        "ServiceNow refused to show the bot's roles (HTTP 403 on sys_user_has_role: User Not \
         Authorized: Failed API level ACL Validation); check the roles by hand, or let the bot \
         read its own sys_user_has_role rows"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_active_role_row_for_the_bot_is_unavailable() {
    // Row rules hide every role row from the bot; the table's read ACL
    // is not by role here.
    let data = demo_data(|data| {
        data["tables"]["sys_user_has_role"] = json!([]);
        data["simulator"]["acl"] = json!({});
    });
    let snow = Snow::with_data(&data).await;

    let row = unavailable(&snow).await;

    let detail = row["readiness_detail"].as_str().unwrap_or_default();
    assert!(
        detail.starts_with("ServiceNow returned no active role row for the bot"),
        "{detail}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_table_the_instance_does_not_know_is_unavailable() {
    let snow = Snow::start().await;
    snow.configure("table = \"u_ticket\"");

    let row = unavailable(&snow).await;

    assert_eq!(
        row["readiness_detail"],
        "ServiceNow does not know the table u_ticket ([connectors.readiness] table): check its \
         name under System Definition → Tables"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bot_settings_that_are_off_are_warnings_from_the_lookups_record() {
    let data = demo_data(|data| {
        data["result"][0]["date_format"] = json!("dd.MM.yyyy");
        data["result"][0]["web_service_access_only"] = json!("false");
        data["result"][0]["time_zone"] = json!("");
    });
    let snow = Snow::with_data(&data).await;
    snow.configure("enabled = false");
    let (_, without_probe) = snow.check().await;

    snow.configure("");
    let (exit, report) = snow.check().await;

    assert_eq!(exit, 0, "warnings only: {report:#}");
    let found = findings(&report, "BOT_SETTING");
    let values: Vec<(&Value, &Value, &Value)> = found
        .iter()
        .map(|f| (&f["unique_record_id"], &f["expected"], &f["actual"]))
        .collect();
    assert_eq!(
        values,
        [
            (&json!(BOT_URID), &json!("yyyy-MM-dd"), &json!("dd.MM.yyyy")),
            (&json!(BOT_URID), &json!("true"), &json!("false")),
        ],
        "{report:#}"
    );
    assert_eq!(
        found[0]["message"],
        "the bot account's date_format is \"dd.MM.yyyy\"; the documented setting is \"yyyy-MM-dd\""
    );
    assert_eq!(found[0]["severity"], "warning");
    assert_eq!(report["summary"]["warnings"], 2);
    // The bot's own settings are part of its readiness (SPEC 5.1).
    assert_eq!(system_row(&report, "snow")["readiness"], "problems");
    // Read from the lookups' records: no request of their own.
    assert_eq!(requests(&report), requests(&without_probe) + 2);
}
