//! Freshservice bot readiness end to end: the real binary against the
//! simulator, one finding per problem the probe reports (an occasional agent,
//! a role limited to assigned items, a bot that is a requester), `ok` for the
//! fixture's bot, `skipped` when disabled, and `unavailable` with its reason
//! for each answer the probe cannot read. The probe reuses the credential
//! check's `agents/me`, so it costs no request: each test compares
//! `api_requests` with the probe on and off.

use itsmid_connectors::System;
use itsmid_connectors::sim::AnySimulator;
use serde_json::{Value, json};

use crate::support::{findings, fixture, run_in, stdout_json, system_row, write_secret};

const BOT: &str = "moveworks-bot@acme.com";
const INTEGRATION: &str = "freshservice";

/// One Freshservice simulator and a folder with a config for it.
struct World {
    dir: tempfile::TempDir,
    _sim: AnySimulator,
    uri: String,
}

impl World {
    async fn start(data: &str) -> World {
        let sim = AnySimulator::start(System::Freshservice, "freshservice.json", data, None, true)
            .await
            .expect("the simulator starts");
        let uri = sim.uri();
        World {
            dir: tempfile::tempdir().expect("a temporary folder"),
            _sim: sim,
            uri,
        }
    }

    async fn with(change: impl FnOnce(&mut Value)) -> World {
        let mut data: Value = serde_json::from_str(&fixture("freshservice.json")).unwrap();
        change(&mut data);
        World::start(&data.to_string()).await
    }

    /// The config with this API key and `readiness` (TOML lines, or empty),
    /// and the bot's entry.
    fn write(&self, key: &str, readiness: &str, (external_id, id): (&str, &str)) {
        write_secret(self.dir.path().join("secret"), key);
        let config = format!(
            "identities = \"identities.toml\"\n\n[[connectors]]\nintegration = \"{INTEGRATION}\"\nsystem = \"freshservice\"\nbase_url = \"{}\"\nrequests_per_minute = 60000\n[connectors.auth]\ntype = \"api_key\"\napi_key = \"file:secret\"\n{readiness}\n",
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
    async fn check_and_cost(&self, key: &str, bot: (&str, &str)) -> (i32, Value, u64) {
        self.write(key, "[connectors.readiness]\nenabled = false", bot);
        let (_, without) = self.check().await;
        self.write(key, "", bot);
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

const FIXTURE_BOT: (&str, &str) = ("moveworks-bot@acme.com", "19000000001");
const KEY: &str = "demo-freshservice-key";

/// The one finding of `code`, on the bot and this integration.
fn the_finding<'a>(report: &'a Value, code: &str) -> &'a Value {
    let found = findings(report, code);
    assert_eq!(found.len(), 1, "{code} once in {report:#}");
    assert_eq!(found[0]["unique_record_id"], BOT);
    assert_eq!(found[0]["integration"], INTEGRATION);
    found[0]
}

#[tokio::test(flavor = "multi_thread")]
async fn the_fixture_s_bot_is_ready_at_no_extra_request() {
    let world = World::start(&fixture("freshservice.json")).await;

    let (exit, report, cost) = world.check_and_cost(KEY, FIXTURE_BOT).await;

    assert_eq!(exit, 0, "{report:#}");
    let row = system_row(&report, INTEGRATION);
    assert_eq!(row["readiness"], "ok", "{row}");
    assert_eq!(row["readiness_detail"], Value::Null);
    assert_eq!(cost, 0, "agents/me is the credential check's");
    assert_eq!(
        row["api_requests"], 3,
        "agents/me, the requesters filter, the agents filter"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disabled_probe_is_skipped() {
    let world = World::start(&fixture("freshservice.json")).await;
    world.write(
        "demo-freshservice-virtual-agent-key",
        "[connectors.readiness]\nenabled = false",
        ("virtual-agent@acme.com", "19000000003"),
    );

    let (exit, report) = world.check().await;

    assert_eq!(exit, 0, "{report:#}");
    let row = system_row(&report, INTEGRATION);
    assert_eq!(row["readiness"], "skipped");
    assert!(findings(&report, "BOT_SETTING").is_empty(), "{report:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_occasional_agent_is_a_bot_setting_warning() {
    // The fixture's virtual agent, as the demo's bot is.
    let world = World::start(&fixture("freshservice.json")).await;

    let (exit, report, cost) = world
        .check_and_cost(
            "demo-freshservice-virtual-agent-key",
            ("virtual-agent@acme.com", "19000000003"),
        )
        .await;

    assert_eq!(exit, 0, "a warning: {report:#}");
    let finding = the_finding(&report, "BOT_SETTING");
    assert_eq!(finding["severity"], "warning");
    assert_eq!(finding["expected"], "full-time agent (occasional: false)");
    assert_eq!(finding["actual"], "occasional agent (occasional: true)");
    assert!(
        finding["fix"]
            .as_str()
            .unwrap()
            .contains("Admin → User Management → Agents"),
        "{finding}"
    );
    assert_eq!(system_row(&report, INTEGRATION)["readiness"], "problems");
    assert_eq!(system_row(&report, INTEGRATION)["credential_check"], "ok");
    assert_eq!(cost, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_role_limited_to_assigned_items_is_bot_permission_missing() {
    let world = World::with(|data| {
        data["agents"][0]["roles"] = json!([
            {"role_id": 19000011111u64, "assignment_scope": "assigned_items", "groups": []}
        ]);
    })
    .await;

    let (exit, report, cost) = world.check_and_cost(KEY, FIXTURE_BOT).await;

    assert_eq!(exit, 1, "{report:#}");
    let finding = the_finding(&report, "BOT_PERMISSION_MISSING");
    assert_eq!(finding["severity"], "error");
    assert_eq!(finding["actual"], "role 19000011111: assigned_items");
    assert_eq!(
        finding["expected"],
        "every role scoped entire_helpdesk, member_groups or specified_groups"
    );
    assert_eq!(system_row(&report, INTEGRATION)["readiness"], "problems");
    assert_eq!(
        report["identities"][0]["entries"][0]["status"], "verified",
        "readiness never changes an entry's status"
    );
    assert_eq!(cost, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bot_that_is_a_requester_is_bot_permission_missing() {
    // A requester's key names no agent: agents/me answers 404.
    let world = World::with(|data| {
        data["simulator"]["basic"]
            .as_array_mut()
            .unwrap()
            .push(json!({"username": "requester-key", "password": "X", "user": "19000234501"}));
    })
    .await;

    let (exit, report, cost) = world
        .check_and_cost("requester-key", ("pat@acme.com", "19000234501"))
        .await;

    assert_eq!(exit, 1, "{report:#}");
    let finding = the_finding(&report, "BOT_PERMISSION_MISSING");
    assert_eq!(finding["expected"], "agent");
    assert_eq!(finding["actual"], "requester");
    assert!(
        finding["fix"]
            .as_str()
            .unwrap()
            .contains("Convert to Agent"),
        "{finding}"
    );
    let row = system_row(&report, INTEGRATION);
    assert_eq!(row["readiness"], "problems");
    assert_eq!(row["credential_check"], "unavailable");
    assert!(findings(&report, "BOT_CREDENTIAL_MISMATCH").is_empty());
    assert_eq!(cost, 0);
}

/// Each answer the probe cannot read: `unavailable` with the reason, no
/// finding of its own, and the check otherwise as usual.
#[tokio::test(flavor = "multi_thread")]
async fn answers_the_probe_cannot_read_are_unavailable_with_the_reason() {
    // Which object of the fixture is changed (a JSON pointer), its key and
    // the value it gets.
    let cases = [
        (
            "agents/me answers 404",
            Some(("/simulator/basic/0", "user", Value::Null)),
            KEY,
            "answered 404",
        ),
        (
            "no roles",
            Some(("/agents/0", "roles", Value::Null)),
            KEY,
            "no `roles`",
        ),
        (
            "no occasional",
            Some(("/agents/0", "occasional", Value::Null)),
            KEY,
            "no `occasional`",
        ),
        (
            "another agent's key",
            None,
            "other-agent-key",
            "BOT_CREDENTIAL_MISMATCH",
        ),
    ];
    for (case, change, key, reason) in cases {
        let world = World::with(|data| {
            if let Some((pointer, field, value)) = change {
                data.pointer_mut(pointer).expect("the fixture has it")[field] = value;
            }
        })
        .await;

        let (_, report, cost) = world.check_and_cost(key, FIXTURE_BOT).await;

        let row = system_row(&report, INTEGRATION);
        assert_eq!(row["readiness"], "unavailable", "{case}: {row}");
        assert_eq!(row["status"], "ok", "{case}");
        let detail = row["readiness_detail"].as_str().unwrap_or_default();
        assert!(detail.contains(reason), "{case}: {detail}");
        assert!(
            findings(&report, "BOT_SETTING").is_empty()
                && findings(&report, "BOT_PERMISSION_MISSING").is_empty(),
            "{case}: {report:#}"
        );
        assert_eq!(report["complete"], true, "{case}");
        assert_eq!(cost, 0, "{case}");
    }
}
