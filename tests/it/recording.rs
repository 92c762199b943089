//! `itsmid record` and `--replay` end to end (SPEC section 8), on the
//! demo's config and data: the six systems' simulators stand in for the
//! live systems while recording, and are stopped before the replay, which
//! must then give the recorded report with no credentials and no network.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use itsmid_connectors::System;
use itsmid_connectors::sim::AnySimulator;
use serde_json::Value;
use wiremock::MockServer;

use crate::support::{fixture, run_in, stdout_json, write_secret};

/// The demo's secrets: what its simulators accept.
const SECRETS: &[(&str, &str)] = &[
    ("snow-password", "demo-snow-password"),
    ("jira-token", "demo-jira-token"),
    ("jira-dc-token", "demo-jira-dc-token"),
    ("salesforce-client-secret", "demo-client-secret"),
    ("freshservice-key", "demo-freshservice-virtual-agent-key"),
    ("manageengine-authtoken", "demo-manageengine-authtoken"),
    ("server-token", "recording-test-server-token"),
    ("read-token", "recording-test-read-token"),
    ("snow-client-secret", "demo-snow-client-secret"),
    ("zoho-secret", "demo-zoho-secret"),
    ("zoho-refresh", "demo-zoho-refresh"),
];

/// A folder with the demo's config, identities and source, pointing at
/// simulators of the six systems over the repository's fixtures.
struct Live {
    dir: tempfile::TempDir,
    simulators: Vec<AnySimulator>,
}

impl Live {
    async fn start() -> Live {
        let mut simulators = Vec::new();
        for system in System::ALL {
            let name = format!("{}.json", system.as_str());
            simulators.push(
                AnySimulator::start(system, &name, &fixture(&name), None, false)
                    .await
                    .expect("the simulator starts"),
            );
        }
        let dir = tempfile::tempdir().expect("a temporary folder");
        std::fs::create_dir_all(dir.path().join("secrets")).expect("a secrets folder");
        for (name, value) in SECRETS {
            write_secret(dir.path().join("secrets").join(name), value);
        }
        let live = Live { dir, simulators };
        live.write_config(&fixture("demo/itsmid.toml"));
        std::fs::write(
            live.path().join("identities.toml"),
            fixture("demo/identities.toml"),
        )
        .expect("write the identities");
        std::fs::write(live.path().join("workday.csv"), fixture("demo/workday.csv"))
            .expect("write the source");
        live
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `template` with every `{system_url}` set to its simulator.
    fn write_config(&self, template: &str) {
        let mut config = template.to_owned();
        for sim in &self.simulators {
            config = config.replace(&format!("{{{}_url}}", sim.system.as_str()), &sim.uri());
        }
        std::fs::write(self.path().join("itsmid.toml"), config).expect("write the config");
    }

    /// Records into `rec` (with `extra` flags); returns the exit and report.
    async fn record(&self, extra: &[&str]) -> (i32, Value) {
        let mut args = vec!["record", "--out", "rec", "--format", "json"];
        args.extend_from_slice(extra);
        let output = run_in(self.path(), &args).await;
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(
            self.path().join("rec/manifest.json").is_file(),
            "no manifest: {stderr}"
        );
        (output.status.code().unwrap_or(-1), stdout_json(&output))
    }

    /// Stops the simulators: a replay must need none of them.
    fn stop(&mut self) {
        self.simulators.clear();
    }
}

async fn replay(dir: &Path, command: &[&str]) -> (i32, Value) {
    let mut args = command.to_vec();
    args.extend_from_slice(&["--replay", "rec", "--format", "json"]);
    let output = run_in(dir, &args).await;
    (output.status.code().unwrap_or(-1), stdout_json(&output))
}

/// A report without what SPEC lets a replay change: its time, request
/// counts and rate-limit figures.
fn comparable(report: &Value) -> Value {
    let mut report = report.clone();
    if let Some(object) = report.as_object_mut() {
        object.remove("generated_at");
    }
    if let Some(summary) = report["summary"].as_object_mut() {
        summary.remove("api_requests");
    }
    if let Some(rows) = report["systems"].as_array_mut() {
        for row in rows {
            if let Some(row) = row.as_object_mut() {
                for key in [
                    "api_requests",
                    "rate_limit_waits",
                    "api_usage",
                    "api_remaining",
                ] {
                    row.remove(key);
                }
            }
        }
    }
    report
}

/// Every file of a recording, by name.
fn files(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .expect("the recording's folder")
        .map(|entry| {
            let path: PathBuf = entry.expect("an entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).expect("a text file"))
        })
        .collect()
}

/// Statuses and finding codes, what a pseudonymized replay keeps.
fn shape(report: &Value) -> (Vec<String>, Vec<String>) {
    let mut statuses: Vec<String> = report["identities"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i["entries"].as_array().unwrap().iter())
        .map(|e| format!("{}:{}", e["integration"], e["status"]))
        .collect();
    statuses.sort();
    let mut codes: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{}:{}", f["integration"], f["code"]))
        .collect();
    codes.sort();
    (statuses, codes)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recording_of_the_demo_replays_to_the_same_report_with_the_systems_stopped() {
    let mut live = Live::start().await;
    let (recorded_exit, recorded) = live.record(&[]).await;
    assert_eq!(recorded_exit, 1, "the demo has errors: {recorded:#}");
    live.stop();
    let (exit, replayed) = replay(live.path(), &["check"]).await;
    assert_eq!(exit, recorded_exit);
    assert_eq!(comparable(&replayed), comparable(&recorded));
    let manifest: Value =
        serde_json::from_str(&files(&live.path().join("rec"))["manifest.json"]).unwrap();
    assert_eq!(manifest["schema"], "itsmid.recording.v1");
    crate::support::assert_matches_schema(&manifest);
    let mut broken = manifest.clone();
    broken["integrations"]["snow"]["system"] = Value::from("servicenow2");
    broken["recorded_at"] = Value::from("yesterday");
    let violations = crate::support::schema_violations(&broken).expect("a published schema");
    for path in ["/recorded_at", "/integrations/snow/system"] {
        assert!(
            violations.iter().any(|v| v.starts_with(path)),
            "{violations:#?}"
        );
    }
    assert_eq!(
        manifest["integrations"].as_object().map(|o| o.len()),
        Some(7),
        "{manifest:#}"
    );
    crate::support::assert_matches_schema(&replayed);

    // resolve and load --dry-run replay too.
    let (exit, plan) = replay(live.path(), &["resolve"]).await;
    assert!(exit <= 1, "{plan:#}");
    assert!(plan["identities"].is_array(), "{plan:#}");
    let (exit, load) = replay(live.path(), &["load", "--dry-run"]).await;
    assert!(exit <= 1, "{load:#}");
    assert_eq!(load["dry_run"], true, "{load:#}");
    assert!(
        !live.path().join("itsmid.db").exists(),
        "a dry run writes no store"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_of_any_auth_type_is_in_a_recording() {
    let live = Live::start().await;
    let key = include_str!("../../connectors/tests/connectors/salesforce/jwt-private-key.pem");
    write_secret(live.path().join("secrets/sf-key.pem"), key);
    // The other auth types: ServiceNow's OAuth password grant, Salesforce's
    // JWT bearer flow and ManageEngine Cloud's Zoho OAuth.
    let template = fixture("demo/itsmid.toml")
        .replace(
            "type = \"basic\"\nusername = \"moveworks.bot\"\npassword = \"file:secrets/snow-password\"",
            "type = \"oauth_password\"\nclient_id = \"demo-snow-client\"\nclient_secret = \"file:secrets/snow-client-secret\"\nusername = \"moveworks.bot\"\npassword = \"file:secrets/snow-password\"",
        )
        .replace(
            "type = \"client_credentials\"\ntoken_url = \"{salesforce_url}/services/oauth2/token\"\nclient_id = \"demo-client\"\nclient_secret = \"file:secrets/salesforce-client-secret\"",
            "type = \"jwt_bearer\"\ntoken_url = \"{salesforce_url}/services/oauth2/token\"\nclient_id = \"demo-consumer-key\"\nusername = \"moveworks.bot@acme.com.prod\"\nprivate_key = \"file:secrets/sf-key.pem\"",
        )
        .replace(
            "type = \"authtoken\"\ntoken = \"file:secrets/manageengine-authtoken\"",
            "type = \"zoho_oauth\"\ntoken_url = \"{manageengine_url}/oauth/v2/token\"\nclient_id = \"demo-zoho-client\"\nclient_secret = \"file:secrets/zoho-secret\"\nrefresh_token = \"file:secrets/zoho-refresh\"",
        );
    for auth in ["oauth_password", "jwt_bearer", "zoho_oauth"] {
        assert!(template.contains(auth), "the demo config changed: {auth}");
    }
    for template in [fixture("demo/itsmid.toml"), template] {
        live.write_config(&template);
        live.record(&[]).await;
        let written = files(&live.path().join("rec"));
        for (name, text) in &written {
            for (_, secret) in SECRETS {
                assert!(!text.contains(secret), "{secret} in {name}");
            }
            for line in key
                .lines()
                .filter(|l| !l.starts_with("-----") && l.len() > 16)
            {
                assert!(!text.contains(line), "the private key in {name}");
            }
            for header in ["Authorization", "authtoken:", "Cookie"] {
                assert!(!text.contains(header), "{header} in {name}");
            }
            for sim in &live.simulators {
                let address = sim.uri().trim_start_matches("http://").to_owned();
                assert!(!text.contains(&address), "{address} in {name}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pseudonymized_recording_holds_no_personal_value_and_replays_to_the_same_codes() {
    let mut live = Live::start().await;
    let (_, recorded) = live.record(&["--pseudonymize"]).await;
    live.stop();
    let written = files(&live.path().join("rec"));
    assert!(
        written.contains_key("identities.toml"),
        "{:?}",
        written.keys()
    );
    let personal = [
        "moveworks-bot@acme.com",
        "pat@acme.com",
        "pat.lee",
        "Pat Lee",
        "beth.anglin",
        "Anglin",
        "dana.ross",
        "Dana",
        "abel.tuter",
        "kim.lee@acme.com",
        "helpdesk@acme.com",
        "moveworks.bot",
        "virtual-agent@acme.com",
        "customer@partner.example",
        "Casey",
    ];
    for (name, text) in &written {
        let lower = text.to_lowercase();
        for value in personal {
            assert!(
                !lower.contains(&value.to_lowercase()),
                "{value} in {name}:\n{text}"
            );
        }
    }
    let (_, replayed) = replay(live.path(), &["check"]).await;
    assert_eq!(shape(&replayed), shape(&recorded));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edited_identities_file_replays_to_exactly_the_new_findings() {
    let mut live = Live::start().await;
    live.record(&[]).await;
    live.stop();
    let (_, before) = replay(live.path(), &["check"]).await;
    // A one-character typo in an integration id.
    let identities = std::fs::read_to_string(live.path().join("identities.toml")).unwrap();
    let edited = identities.replacen(
        "integration = \"freshservice\"\nexternal_id = \"kim.lee@acme.com\"",
        "integration = \"freshservise\"\nexternal_id = \"kim.lee@acme.com\"",
        1,
    );
    assert_ne!(edited, identities);
    std::fs::write(live.path().join("identities.toml"), edited).unwrap();
    let (exit, after) = replay(live.path(), &["check"]).await;
    assert_eq!(exit, 1);
    let (_, codes_before) = shape(&before);
    let (_, codes_after) = shape(&after);
    let mut new: Vec<&String> = codes_after.iter().collect();
    for code in &codes_before {
        if let Some(at) = new.iter().position(|c| *c == code) {
            new.remove(at);
        }
    }
    // The typo is unknown; the entry it moved away from had a warning.
    assert_eq!(
        new,
        ["\"freshservise\":\"UNKNOWN_INTEGRATION\""],
        "{after:#}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connector_missing_from_the_recording_is_unavailable_and_nothing_else_is_contacted() {
    let mut live = Live::start().await;
    live.record(&[]).await;
    live.stop();
    std::fs::remove_file(live.path().join("rec/freshservice.json")).unwrap();
    // Every connector's configured address now counts requests: a replay
    // must send none there.
    let elsewhere = MockServer::start().await;
    let config = std::fs::read_to_string(live.path().join("itsmid.toml")).unwrap();
    let mut moved = String::new();
    for line in config.lines() {
        if line.starts_with("base_url = ") {
            moved.push_str(&format!("base_url = \"{}\"\n", elsewhere.uri()));
        } else {
            moved.push_str(line);
            moved.push('\n');
        }
    }
    std::fs::write(live.path().join("itsmid.toml"), moved).unwrap();
    let (exit, report) = replay(live.path(), &["check"]).await;
    assert_eq!(exit, 1);
    let row = crate::support::system_row(&report, "freshservice");
    assert_eq!(row["status"], "unavailable", "{row:#}");
    assert_eq!(row["reason"], "unreachable");
    assert_eq!(row["detail"], "not in the recording");
    assert_eq!(
        crate::support::entry_of(&report, "kim.lee@acme.com", "freshservice")["status"],
        "unchecked"
    );
    assert_eq!(crate::support::system_row(&report, "snow")["status"], "ok");
    assert_eq!(
        elsewhere
            .received_requests()
            .await
            .unwrap_or_default()
            .len(),
        0,
        "the replay contacted a configured address"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn recording_unchanged_systems_twice_changes_no_byte_but_the_time() {
    let live = Live::start().await;
    live.record(&[]).await;
    let first = files(&live.path().join("rec"));
    std::thread::sleep(std::time::Duration::from_millis(1_100));
    live.record(&[]).await;
    let second = files(&live.path().join("rec"));
    assert_eq!(
        first.keys().collect::<Vec<_>>(),
        second.keys().collect::<Vec<_>>()
    );
    for (name, text) in &first {
        if name == "manifest.json" {
            let mut a: Value = serde_json::from_str(text).unwrap();
            let mut b: Value = serde_json::from_str(&second[name]).unwrap();
            assert_ne!(a["recorded_at"], b["recorded_at"]);
            a["recorded_at"] = Value::Null;
            b["recorded_at"] = Value::Null;
            assert_eq!(a, b);
        } else {
            assert_eq!(text, &second[name], "{name} changed");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ci_job_is_green_on_the_demos_recording_and_red_after_a_typo_in_an_integration_id() {
    let mut live = Live::start().await;
    live.record(&[]).await;
    live.stop();
    // On the trusted machine, beside the recording: what the unchanged
    // files already show, so that only a change's new errors fail a job.
    let dir = live.path();
    for (args, file) in [
        (vec!["lint"], "rec/lint-baseline.json"),
        (vec!["check", "--replay", "rec"], "rec/check-baseline.json"),
    ] {
        let mut args = args.clone();
        args.extend_from_slice(&["--format", "json", "--output", file]);
        let output = run_in(dir, &args).await;
        assert_eq!(output.status.code(), Some(1), "the demo holds errors");
    }
    let job = || async {
        let lint = run_in(
            dir,
            &[
                "lint",
                "--baseline",
                "rec/lint-baseline.json",
                "--format",
                "json",
            ],
        )
        .await;
        let check = run_in(
            dir,
            &[
                "check",
                "--replay",
                "rec",
                "--baseline",
                "rec/check-baseline.json",
                "--format",
                "json",
            ],
        )
        .await;
        (
            lint.status.code(),
            check.status.code(),
            String::from_utf8_lossy(&check.stderr).into_owned(),
        )
    };
    let (lint, check, _) = job().await;
    assert_eq!((lint, check), (Some(0), Some(0)), "green on the recording");

    let identities = std::fs::read_to_string(dir.join("identities.toml")).unwrap();
    let typo = identities.replacen(
        "integration = \"jira_onprem\"\nexternal_id = \"pat@acme.com\"",
        "integration = \"jira_onprem_\"\nexternal_id = \"pat@acme.com\"",
        1,
    );
    assert_ne!(typo, identities);
    std::fs::write(dir.join("identities.toml"), typo).unwrap();
    let (lint, check, said) = job().await;
    assert_eq!(
        (lint, check),
        (Some(1), Some(1)),
        "red after the typo: {said}"
    );
    assert!(
        said.contains("new: UNKNOWN_INTEGRATION pat@acme.com jira_onprem_"),
        "{said}"
    );

    // A baseline that is not a report is a bad invocation.
    std::fs::write(dir.join("rec/nonsense.json"), "{\"schema\": \"other\"}").unwrap();
    let output = run_in(
        dir,
        &[
            "check",
            "--replay",
            "rec",
            "--baseline",
            "rec/nonsense.json",
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--baseline"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_folder_without_a_recording_or_with_a_broken_file_is_a_clear_refusal() {
    let mut live = Live::start().await;
    let (exit, _) = {
        let output = run_in(live.path(), &["check", "--replay", "nowhere"]).await;
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(stderr.contains("nowhere"), "{stderr}");
        assert!(stderr.contains("itsmid record --out"), "{stderr}");
        (output.status.code(), stderr)
    };
    assert_eq!(exit, Some(2));
    live.record(&[]).await;
    live.stop();
    std::fs::write(live.path().join("rec/snow.json"), "{\"result\": [").unwrap();
    let output = run_in(live.path(), &["check", "--replay", "rec"]).await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("snow.json"), "{stderr}");
    assert!(stderr.contains("itsmid record"), "{stderr}");
    // Recording into a path that is a file is refused before anything is checked.
    std::fs::write(live.path().join("afile"), "x").unwrap();
    let output = run_in(live.path(), &["record", "--out", "afile"]).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("afile"));
}
