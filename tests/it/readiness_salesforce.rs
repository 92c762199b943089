//! Salesforce bot readiness end to end (SPEC section 5.1): the real binary
//! against the Salesforce simulator, one finding or "cannot tell" case per
//! test, each driven by the simulator's data or `[connectors.readiness]`.

use itsmid_connectors::System;
use itsmid_connectors::sim::AnySimulator;
use serde_json::{Value, json};

use crate::support::{entry_of, findings, fixture, run_in, stdout_json, system_row, write_secret};

const BOT_URID: &str = "moveworks-bot@acme.com";
const TOKEN: &str = "demo-salesforce-token";

/// The bot and one manual user, both verified in Salesforce.
const IDENTITIES: &str = r#"
[bot]
unique_record_id = "moveworks-bot@acme.com"
[[bot.itsm]]
integration = "salesforce"
external_id = "moveworks.bot@acme.com.prod"
itsm_user_id = "0055e000003MwBtAAK"

[[users]]
unique_record_id = "pat@acme.com"
[[users.itsm]]
integration = "salesforce"
external_id = "pat@acme.com.prod"
itsm_user_id = "0055e000003PatLAAS"
"#;

/// A Salesforce simulator and a folder whose config has one connector.
struct Salesforce {
    dir: tempfile::TempDir,
    sim: AnySimulator,
}

impl Salesforce {
    async fn with_data(data: &str) -> Salesforce {
        let sim = AnySimulator::start(System::Salesforce, "salesforce.json", data, None, true)
            .await
            .expect("the Salesforce simulator starts");
        let dir = tempfile::tempdir().expect("a temporary folder");
        write_secret(dir.path().join("token"), TOKEN);
        std::fs::write(dir.path().join("identities.toml"), IDENTITIES).expect("write");
        let salesforce = Salesforce { dir, sim };
        salesforce.configure("");
        salesforce
    }

    async fn start() -> Salesforce {
        Salesforce::with_data(&fixture("salesforce.json")).await
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
            "identities = \"identities.toml\"\n\n[[connectors]]\nintegration = \"salesforce\"\n\
             system = \"salesforce\"\nbase_url = \"{}\"\nrequests_per_minute = 60000\n\
             [connectors.auth]\ntype = \"bearer\"\ntoken = \"file:token\"\n{table}",
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

/// Asserts the run is complete, the system ok and both entries verified:
/// readiness never judges an entry or makes its system unavailable.
fn assert_entries_judged_as_usual(report: &Value) {
    assert_eq!(report["complete"], true, "{report:#}");
    assert_eq!(
        system_row(report, "salesforce")["status"],
        "ok",
        "{report:#}"
    );
    for urid in [BOT_URID, "pat@acme.com"] {
        assert_eq!(
            entry_of(report, urid, "salesforce")["status"],
            "verified",
            "{report:#}"
        );
    }
}

fn requests(report: &Value) -> u64 {
    system_row(report, "salesforce")["api_requests"]
        .as_u64()
        .expect("a request count")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ready_salesforce_bot_is_ok_and_its_probe_costs_one_request() {
    let salesforce = Salesforce::start().await;
    salesforce.configure("enabled = false");
    let (_, skipped) = salesforce.check().await;
    assert_eq!(system_row(&skipped, "salesforce")["readiness"], "skipped");

    salesforce.configure("");
    let (exit, report) = salesforce.check().await;

    assert_eq!(exit, 0, "{report:#}");
    let row = system_row(&report, "salesforce");
    assert_eq!(row["readiness"], "ok", "{report:#}");
    assert_eq!(row["readiness_detail"], Value::Null);
    assert!(findings(&report, "BOT_PERMISSION_MISSING").is_empty());
    assert_entries_judged_as_usual(&report);
    // The describe of Case.
    assert_eq!(requests(&report), requests(&skipped) + 1, "{report:#}");
    let describes = salesforce
        .sim
        .server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|request| request.url.path() == "/services/data/v60.0/sobjects/Case/describe")
        .count();
    assert_eq!(describes, 1, "one describe, in the second run only");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disabled_probe_is_skipped() {
    let salesforce = Salesforce::start().await;
    salesforce.configure("enabled = false\nobject = \"Solution\"");

    let (exit, report) = salesforce.check().await;

    assert_eq!(exit, 0, "{report:#}");
    let row = system_row(&report, "salesforce");
    assert_eq!(row["readiness"], "skipped");
    assert_eq!(
        row["readiness_detail"],
        "disabled by [connectors.readiness] enabled = false"
    );
    assert!(findings(&report, "BOT_PERMISSION_MISSING").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_object_the_bot_cannot_create_or_edit_is_bot_permission_missing() {
    let salesforce = Salesforce::start().await;
    // The demo data describes Solution as queryable only.
    salesforce.configure("object = \"Solution\"");

    let (exit, report) = salesforce.check().await;

    assert_eq!(exit, 1, "{report:#}");
    let found = findings(&report, "BOT_PERMISSION_MISSING");
    assert_eq!(found.len(), 1, "{report:#}");
    let finding = found[0];
    assert_eq!(finding["severity"], "error");
    assert_eq!(finding["unique_record_id"], BOT_URID);
    assert_eq!(finding["integration"], "salesforce");
    assert_eq!(finding["expected"], "queryable, createable, updateable");
    assert_eq!(finding["actual"], "createable, updateable");
    assert_eq!(system_row(&report, "salesforce")["readiness"], "problems");
    assert_entries_judged_as_usual(&report);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_object_the_org_does_not_show_the_bot_is_bot_permission_missing() {
    let salesforce = Salesforce::start().await;
    salesforce.configure("object = \"Incident__c\"");

    let (exit, report) = salesforce.check().await;

    assert_eq!(exit, 1, "{report:#}");
    let found = findings(&report, "BOT_PERMISSION_MISSING");
    assert_eq!(found.len(), 1, "{report:#}");
    assert_eq!(found[0]["unique_record_id"], BOT_URID);
    assert_eq!(found[0]["actual"], "Incident__c not visible");
    let message = found[0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("its describe answers 404"), "{message}");
    assert_eq!(system_row(&report, "salesforce")["readiness"], "problems");
    assert_entries_judged_as_usual(&report);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_daily_quota_used_up_by_the_lookups_is_unavailable_with_the_reason() {
    // One API request a day: the lookup takes it, the describe gets 403
    // REQUEST_LIMIT_EXCEEDED (userinfo is OAuth, not counted).
    let mut data: Value =
        serde_json::from_str(&fixture("salesforce.json")).expect("the demo data is JSON");
    data["daily_api_limit"] = json!(1);
    let salesforce = Salesforce::with_data(&data.to_string()).await;

    let (exit, report) = salesforce.check().await;

    assert_eq!(exit, 0, "{report:#}");
    assert!(findings(&report, "BOT_PERMISSION_MISSING").is_empty());
    assert!(findings(&report, "SYSTEM_UNAVAILABLE").is_empty());
    assert_entries_judged_as_usual(&report);
    let row = system_row(&report, "salesforce");
    assert_eq!(row["readiness"], "unavailable", "{report:#}");
    let detail = row["readiness_detail"].as_str().unwrap_or_default();
    assert!(
        detail.starts_with("the object Case could not be described: ")
            && detail.contains("REQUEST_LIMIT_EXCEEDED"),
        "{detail}"
    );
    assert_eq!(row["api_usage"], "1/1", "{report:#}");
}
