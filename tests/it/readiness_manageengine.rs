//! ManageEngine bot readiness end to end: the real binary against the
//! simulator. A bot whose user is a requester is BOT_PERMISSION_MISSING,
//! the fixture's technician bot is `ok`, a disabled probe `skipped`, and
//! each answer the probe cannot read `unavailable` with its reason. The
//! lookups' `is_technician` costs nothing; where they lack it the probe
//! spends one GET: each test compares `api_requests` with the probe on and
//! off.

use itsmid_connectors::System;
use itsmid_connectors::sim::AnySimulator;
use serde_json::{Value, json};

use crate::support::{findings, fixture, run_in, stdout_json, system_row, write_secret};

const BOT: &str = "moveworks-bot@acme.com";
const INTEGRATION: &str = "manageengine";
const FIXTURE_BOT: (&str, &str) = ("moveworks-bot@acme.com", "123640000000142501");
/// The fixture's requester account the demo's bot entry names.
const VIRTUAL_AGENT: (&str, &str) = ("virtual-agent@acme.com", "123640000000142507");

/// One ServiceDesk Plus simulator and a folder with a config for it.
struct World {
    dir: tempfile::TempDir,
    _sim: AnySimulator,
    uri: String,
}

impl World {
    async fn start(data: &str) -> World {
        let sim = AnySimulator::start(System::ManageEngine, "manageengine.json", data, None, true)
            .await
            .expect("the simulator starts");
        let uri = sim.uri();
        let dir = tempfile::tempdir().expect("a temporary folder");
        write_secret(dir.path().join("secret"), "demo-manageengine-authtoken");
        World {
            dir,
            _sim: sim,
            uri,
        }
    }

    async fn with(change: impl FnOnce(&mut Value)) -> World {
        let mut data: Value = serde_json::from_str(&fixture("manageengine.json")).unwrap();
        change(&mut data);
        World::start(&data.to_string()).await
    }

    /// The config with `readiness` (TOML lines, or empty) and the bot's entry.
    fn write(&self, readiness: &str, (external_id, id): (&str, &str)) {
        let config = format!(
            "identities = \"identities.toml\"\n\n[[connectors]]\nintegration = \"{INTEGRATION}\"\nsystem = \"manageengine\"\nbase_url = \"{}\"\nrequests_per_minute = 60000\n[connectors.auth]\ntype = \"authtoken\"\ntoken = \"file:secret\"\n{readiness}\n",
            self.uri
        );
        std::fs::write(self.dir.path().join("itsmid.toml"), config).expect("write");
        let identities = format!(
            "[bot]\nunique_record_id = \"{BOT}\"\n[[bot.itsm]]\nintegration = \"{INTEGRATION}\"\nexternal_id = \"{external_id}\"\nitsm_user_id = \"{id}\"\n"
        );
        std::fs::write(self.dir.path().join("identities.toml"), identities).expect("write");
    }

    async fn check(&self) -> (i32, Value) {
        let output = run_in(self.dir.path(), &["check", "--format", "json"]).await;
        let report = stdout_json(&output);
        (output.status.code().unwrap_or(-1), report)
    }

    /// The check with the probe on, then off: the report with it on and
    /// what the probe cost in requests.
    async fn check_and_cost(&self, bot: (&str, &str)) -> (i32, Value, u64) {
        self.write("[connectors.readiness]\nenabled = false", bot);
        let (_, without) = self.check().await;
        self.write("", bot);
        let (exit, report) = self.check().await;
        let requests = |report: &Value| {
            system_row(report, INTEGRATION)["api_requests"]
                .as_u64()
                .expect("a count")
        };
        let cost = requests(&report) - requests(&without);
        (exit, report, cost)
    }
}

/// The fixture without `is_technician` on the bot's record, as a build
/// before 11000 answers, and `user_details` as given.
fn without_is_technician(user_details: &'static str) -> impl FnOnce(&mut Value) {
    move |data: &mut Value| {
        if let Some(bot) = data["users"][0].as_object_mut() {
            bot.remove("is_technician");
        }
        data["user_details"] = json!(user_details);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_fixture_s_technician_bot_is_ready_at_no_extra_request() {
    let world = World::start(&fixture("manageengine.json")).await;

    let (exit, report, cost) = world.check_and_cost(FIXTURE_BOT).await;

    assert_eq!(exit, 0, "{report:#}");
    let row = system_row(&report, INTEGRATION);
    assert_eq!(row["readiness"], "ok", "{row}");
    assert_eq!(row["readiness_detail"], Value::Null);
    assert_eq!(cost, 0, "the lookup said is_technician");
    assert_eq!(row["api_requests"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disabled_probe_is_skipped() {
    let world = World::start(&fixture("manageengine.json")).await;
    world.write("[connectors.readiness]\nenabled = false", VIRTUAL_AGENT);

    let (exit, report) = world.check().await;

    assert_eq!(exit, 0, "{report:#}");
    assert_eq!(system_row(&report, INTEGRATION)["readiness"], "skipped");
    assert!(findings(&report, "BOT_PERMISSION_MISSING").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bot_whose_user_is_a_requester_is_bot_permission_missing() {
    // The demo's bot entry names this account.
    let world = World::start(&fixture("manageengine.json")).await;

    let (exit, report, cost) = world.check_and_cost(VIRTUAL_AGENT).await;

    assert_eq!(exit, 1, "{report:#}");
    let found = findings(&report, "BOT_PERMISSION_MISSING");
    assert_eq!(found.len(), 1, "{report:#}");
    let finding = found[0];
    assert_eq!(finding["unique_record_id"], BOT);
    assert_eq!(finding["integration"], INTEGRATION);
    assert_eq!(finding["severity"], "error");
    assert_eq!(finding["expected"], "technician (is_technician: true)");
    assert_eq!(finding["actual"], "requester (is_technician: false)");
    assert!(
        finding["fix"]
            .as_str()
            .unwrap()
            .contains("Admin → Users → Technicians"),
        "{finding}"
    );
    let row = system_row(&report, INTEGRATION);
    assert_eq!(row["readiness"], "problems");
    assert_eq!(
        report["identities"][0]["entries"][0]["status"], "verified",
        "readiness never changes an entry's status"
    );
    assert_eq!(cost, 0, "the lookup said is_technician");
}

/// Without `is_technician` in the lookups the probe spends one GET; each
/// answer it cannot read is `unavailable` with the reason, and the system
/// stays `ok`.
#[tokio::test(flavor = "multi_thread")]
async fn answers_the_probe_cannot_read_are_unavailable_at_one_request() {
    for (user_details, reason) in [
        ("served", "builds before 11000"),
        ("forbidden", "4002"),
        ("missing", "4007"),
    ] {
        let world = World::with(without_is_technician(user_details)).await;

        let (exit, report, cost) = world.check_and_cost(FIXTURE_BOT).await;

        assert_eq!(exit, 0, "{user_details}: {report:#}");
        let row = system_row(&report, INTEGRATION);
        assert_eq!(row["status"], "ok", "{user_details}");
        assert_eq!(row["reason"], Value::Null, "{user_details}");
        assert_eq!(row["readiness"], "unavailable", "{user_details}: {row}");
        let detail = row["readiness_detail"].as_str().unwrap_or_default();
        assert!(detail.contains(reason), "{user_details}: {detail}");
        assert_eq!(report["complete"], true);
        assert!(findings(&report, "BOT_PERMISSION_MISSING").is_empty());
        assert_eq!(cost, 1, "{user_details}: one GET of the bot's user");
        assert_eq!(row["api_requests"], 2, "{user_details}");
    }
}
