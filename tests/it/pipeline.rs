//! `load`, `export`, `history` and `diff` end to end: the real binary, a
//! fresh folder, a source export, and (where the check matters) the
//! simulators.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use itsmid_connectors::System;
use itsmid_connectors::sim::Fault;
use serde_json::Value;

use crate::support::{BOT, World, entry, run_in, run_with_env, stdout_json};

const STORE_AND_SOURCE: &str = r#"
[store]
path = "store/itsmid.db"
keep_snapshots = 5

[pipeline]
custom_attributes = ["office"]
large_change_min_users = 4

[[sources]]
name = "workday"
path = "workday.csv"
[sources.columns]
email_addr = "Work Email"
full_name = "Name"
"#;

const WORKDAY: &str = "Work Email,Name,department,office,work_status,user_tags\n\
pat@acme.com,Patricia Lee,IT,Building 1,FULL_TIME,BASIC_USER\n\
kim@acme.com,Kim Park,HR,,INTERN,VIP;TESTER\n\
lou@acme.com,Lou Reed,Sales,Building 2,,\n\
ana@acme.com,Ana Diaz,Finance,,CONTINGENT,\n\
max@acme.com,Max Roe,Legal,,,\n";

/// A folder with a config that has no connectors (nothing to check, so the
/// check is clean when no identity has ITSM entries), the bot and one
/// manual user, and the Workday export.
fn offline_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    write(
        dir.path(),
        "itsmid.toml",
        &format!("identities = \"identities.toml\"\n{STORE_AND_SOURCE}"),
    );
    write(
        dir.path(),
        "identities.toml",
        "[bot]\nunique_record_id = \"bot@acme.com\"\nemail_addr = \"bot@acme.com\"\nuser_tags = [\"SERVICE_ACCOUNT\"]\n\n[[users]]\nunique_record_id = \"PAT@acme.com\"\nfull_name = \"Pat Lee\"\nuser_name = \"plee\"\n[[users.channels]]\nplatform = \"slack\"\nexternal_id = \"U024BE7LH\"\n",
    );
    write(dir.path(), "workday.csv", WORKDAY);
    dir
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write a test file");
}

/// The output as JSON; a load report is checked against its schema.
fn json(output: &std::process::Output) -> Value {
    stdout_json(output)
}

async fn load(dir: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["load", "--format", "json"];
    args.extend_from_slice(extra);
    let output = run_in(dir, &args).await;
    (output.status.code().unwrap_or(-1), json(&output))
}

/// `itsmid export` as parsed lines.
async fn export(dir: &Path) -> Vec<Value> {
    let output = run_in(dir, &["export"]).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is one JSON object"))
        .collect()
}

fn user<'a>(lines: &'a [Value], email: &str) -> &'a Value {
    lines
        .iter()
        .map(|l| &l["user"])
        .find(|u| u["email_addr"] == email)
        .unwrap_or_else(|| panic!("no {email} in {lines:#?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn load_merges_the_source_with_the_bot_and_manual_users_and_export_prints_them() {
    let dir = offline_folder();
    let (code, report) = load(dir.path(), &["--dry-run"]).await;
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["diff"]["added"].as_array().map(Vec::len), Some(6));
    assert!(
        !dir.path().join("store").exists(),
        "a dry run creates no store"
    );
    let (code, report) = load(dir.path(), &[]).await;
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["schema"], "itsmid.load.v1");
    assert_eq!(report["mode"], "sources");
    assert_eq!(report["loaded"], true);
    assert_eq!(report["snapshot"], 1);
    assert_eq!(report["check"]["summary"]["identities"], 2);
    assert_eq!(report["counts"]["users"], 6);
    assert_eq!(report["counts"]["added"], 6);

    let lines = export(dir.path()).await;
    assert_eq!(lines.len(), 6, "five source users and the bot");
    let pat = user(&lines, "pat@acme.com");
    assert_eq!(pat["full_name"], "Pat Lee", "the manual entry overlays");
    assert_eq!(pat["department"], "IT", "the source's other fields stay");
    assert_eq!(pat["custom_attributes"]["office"], "Building 1");
    assert_eq!(pat["user_name"], "plee");
    assert_eq!(pat["channels"][0]["external_id"], "U024BE7LH");
    assert_eq!(
        user(&lines, "kim@acme.com")["user_tags"],
        serde_json::json!(["VIP", "TESTER"])
    );

    let output = run_in(
        dir.path(),
        &["export", "--explain", "Pat@ACME.com", "--format", "json"],
    )
    .await;
    assert_eq!(output.status.code(), Some(0));
    let explained = json(&output);
    let from = |field: &str| {
        explained["fields"]
            .as_array()
            .and_then(|f| f.iter().find(|f| f["field"] == field))
            .map(|f| f["from"].clone())
            .unwrap_or_else(|| panic!("no {field} in {explained:#}"))
    };
    assert_eq!(from("full_name"), "manual");
    assert_eq!(from("department"), "workday");
    assert_eq!(from("custom_attributes.office"), "workday");
}

#[tokio::test(flavor = "multi_thread")]
async fn export_is_one_json_array_only_when_json_is_asked_for() {
    let dir = offline_folder();
    assert_eq!(load(dir.path(), &[]).await.0, 0);
    let lines = export(dir.path()).await;
    let output = run_in(dir.path(), &["export", "--format", "json"]).await;
    let array = json(&output);
    assert_eq!(array.as_array().map(Vec::len), Some(lines.len()));
    let output = run_in(dir.path(), &["export", "--format", "table"]).await;
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).lines().count(),
        lines.len(),
        "JSON Lines whatever else --format says"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn export_lines_follow_the_user_attribute_reference_shape() {
    let world = World::start().await;
    let mut config = std::fs::read_to_string(world.path().join("itsmid.toml")).expect("config");
    config.push_str(STORE_AND_SOURCE);
    write(world.path(), "itsmid.toml", &config);
    write(world.path(), "workday.csv", WORKDAY);
    world.write_identities(&format!(
        "{BOT}\n[[users]]\nemail_addr = \"pat@acme.com\"\nunique_record_id = \"pat@acme.com\"\nwork_status = \"CONTINGENT\"\nuser_emails = [\"pat@partner.example\"]\nlocation = \"Building 4\"\n{}",
        entry("snow", &[("external_id", "pat.lee")])
    ));
    let output = world.run(&["load", "--format", "json"]).await;
    let report = json(&output);
    assert_eq!(output.status.code(), Some(0), "{report:#}");

    let lines = export(world.path()).await;
    // User Email is a form field SPEC does not export; Location is one it does.
    let pat = lines
        .iter()
        .find(|l| l["user"]["email_addr"] == "pat@acme.com")
        .expect("pat");
    assert_eq!(pat["user"]["location"], "Building 4");
    assert!(pat["user"].get("user_emails").is_none(), "{pat}");
    let strings = [
        "first_name",
        "last_name",
        "email_addr",
        "role",
        "department",
        "manager_email",
        "full_name",
        "employee_id",
        "cost_center_id",
        "cost_center_name",
        "country_code",
        "timezone",
        "region",
        "city",
        "state",
        // Form fields with no attribute, exported under their own names.
        "user_name",
        "location",
        "manager",
        "division",
    ];
    let work_statuses = ["UNKNOWN_WORK_STATUS", "CONTINGENT", "INTERN", "FULL_TIME"];
    let tags = [
        "UNKNOWN_USER_TAG",
        "BASIC_USER",
        "VIP",
        "FIELD_AGENT",
        "KNOWLEDGE_WORKER",
        "IT_AGENT",
        "TESTER",
        "SUPPORTED_LANGUAGE_USER",
        "SERVICE_ACCOUNT",
        "CALL_CENTER",
        "HAS_ACCESS_TO_BOT",
        "DIRECTOR",
        "EXECUTIVE",
        "SOCIAL_AUTH_USER",
    ];
    for line in &lines {
        let object = line.as_object().expect("a JSON object");
        assert_eq!(object.keys().collect::<Vec<_>>(), vec!["user"], "{line}");
        let user = line["user"].as_object().expect("user is an object");
        for (name, value) in user {
            match name.as_str() {
                n if strings.contains(&n) => assert!(value.is_string(), "{name}: {value}"),
                "work_status" => assert!(
                    work_statuses.contains(&value.as_str().unwrap_or("")),
                    "{value}"
                ),
                "user_tags" => {
                    for tag in value.as_array().expect("user_tags is a list") {
                        assert!(tags.contains(&tag.as_str().unwrap_or("")), "{tag}");
                    }
                }
                "custom_attributes" => assert!(value.is_object()),
                "channels" | "idm" => assert!(
                    value
                        .as_array()
                        .is_some_and(|a| a.iter().all(Value::is_object))
                ),
                "external_system_identities" => {
                    for (integration, identity) in value.as_object().expect("a map") {
                        let fields = identity.as_object().expect("an object");
                        let mut keys: Vec<&String> = fields.keys().collect();
                        keys.sort();
                        assert_eq!(
                            keys,
                            vec!["external_id", "user_id"],
                            "{integration}: exactly user_id and external_id"
                        );
                        assert!(fields["user_id"].is_string());
                        assert!(
                            fields["external_id"].is_string() || fields["external_id"].is_null()
                        );
                    }
                }
                other => panic!("`{other}` is no User Attribute Reference attribute: {line}"),
            }
        }
    }
    // The naming trap: user_id is the External ID, external_id the ITSM User ID.
    let bot = user(&lines, "moveworks-bot@acme.com");
    assert_eq!(
        bot["external_system_identities"]["snow"],
        serde_json::json!({"user_id": "moveworks.bot", "external_id": "6816f79cc0a8016401c5a33be04be441"})
    );
    // The check filled Pat's missing ITSM User ID from what ServiceNow holds.
    let pat = user(&lines, "pat@acme.com");
    assert_eq!(
        pat["external_system_identities"]["snow"],
        serde_json::json!({"user_id": "pat.lee", "external_id": "a8f98bb0eb32010045e1a5115206fe3a"})
    );
    let explained = json(
        &world
            .run(&["export", "--explain", "pat@acme.com", "--format", "json"])
            .await,
    );
    let resolved = explained["fields"]
        .as_array()
        .and_then(|f| {
            f.iter()
                .find(|f| f["field"] == "external_system_identities.snow.external_id")
        })
        .map(|f| f["from"].clone());
    assert_eq!(resolved, Some(Value::from("resolved")));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_system_that_is_down_never_drops_or_replaces_an_admins_values() {
    let world = World::start().await;
    let mut config = std::fs::read_to_string(world.path().join("itsmid.toml")).expect("config");
    config.push_str("\n[store]\npath = \"itsmid.db\"\n");
    write(world.path(), "itsmid.toml", &config);
    world.write_identities(&format!(
        "{BOT}\n[[users]]\nunique_record_id = \"pat@acme.com\"\n{}",
        entry("snow", &[("external_id", "pat.lee")])
    ));
    world.fault(System::ServiceNow, Fault::AuthRejected);
    let output = world.run(&["load", "--format", "json"]).await;
    let report = json(&output);
    assert_eq!(
        output.status.code(),
        Some(1),
        "an unavailable system is an error finding"
    );
    assert_eq!(report["mode"], "no_sources");
    assert_eq!(report["loaded"], true);
    let lines = export(world.path()).await;
    let bot = &lines
        .iter()
        .find(|l| l["user"]["email_addr"] == "moveworks-bot@acme.com")
        .expect("the bot")["user"];
    assert_eq!(
        bot["external_system_identities"]["snow"]["external_id"],
        "6816f79cc0a8016401c5a33be04be441"
    );
    let pat = &lines
        .iter()
        .find(|l| l["user"]["external_system_identities"]["snow"]["user_id"] == "pat.lee")
        .expect("pat")["user"];
    assert_eq!(
        pat["external_system_identities"]["snow"]["external_id"],
        Value::Null
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outage_keeps_the_itsm_user_id_the_check_found_in_the_previous_load() {
    let world = World::start().await;
    let mut config = std::fs::read_to_string(world.path().join("itsmid.toml")).expect("config");
    config.push_str("\n[store]\npath = \"itsmid.db\"\n");
    write(world.path(), "itsmid.toml", &config);
    world.write_identities(&format!(
        "{BOT}\n[[users]]\nunique_record_id = \"pat@acme.com\"\n{}",
        entry("snow", &[("external_id", "pat.lee")])
    ));
    let sys_id = "a8f98bb0eb32010045e1a5115206fe3a";
    let pat_snow = |lines: &[Value]| {
        lines
            .iter()
            .find(|l| l["user"]["external_system_identities"]["snow"]["user_id"] == "pat.lee")
            .expect("pat")["user"]["external_system_identities"]["snow"]
            .clone()
    };
    let from = |explained: &Value| {
        explained["fields"]
            .as_array()
            .and_then(|f| {
                f.iter()
                    .find(|f| f["field"] == "external_system_identities.snow.external_id")
            })
            .map(|f| f["from"].clone())
    };

    let output = world.run(&["load", "--format", "json"]).await;
    let report = json(&output);
    assert_eq!(output.status.code(), Some(0), "{report:#}");
    assert_eq!(pat_snow(&export(world.path()).await)["external_id"], sys_id);

    world.fault(System::ServiceNow, Fault::Down);
    let output = world.run(&["load", "--format", "json"]).await;
    let report = json(&output);
    assert_eq!(
        output.status.code(),
        Some(1),
        "SYSTEM_UNAVAILABLE is an error finding: {report:#}"
    );
    assert_eq!(report["loaded"], true);
    assert_eq!(report["snapshot"], 2);
    assert_eq!(report["counts"]["changed"], 0, "{report:#}");
    assert_eq!(report["counts"]["unchanged"], 2, "{report:#}");
    assert_eq!(
        pat_snow(&export(world.path()).await),
        serde_json::json!({"user_id": "pat.lee", "external_id": sys_id}),
        "an outage changes nothing"
    );
    let explained = json(
        &world
            .run(&["export", "--explain", "pat@acme.com", "--format", "json"])
            .await,
    );
    assert_eq!(from(&explained), Some(Value::from("previous load")));
    let diff = json(&world.run(&["diff", "1", "2", "--format", "json"]).await);
    assert_eq!(diff["changed"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_load_twice_changes_nothing_and_history_counts_it() {
    let dir = offline_folder();
    assert_eq!(load(dir.path(), &[]).await.0, 0);
    let before = export(dir.path()).await;
    let (code, report) = load(dir.path(), &[]).await;
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["snapshot"], 2);
    assert_eq!(report["counts"]["unchanged"], 6);
    for count in ["added", "removed", "changed"] {
        assert_eq!(report["counts"][count], 0, "{count}");
    }
    assert_eq!(export(dir.path()).await, before);
    let history = json(&run_in(dir.path(), &["history", "--format", "json"]).await);
    let snapshots = history["snapshots"].as_array().expect("snapshots");
    assert_eq!(snapshots.len(), 2);
    assert_eq!(snapshots[0]["added"], 6);
    assert_eq!(snapshots[1]["unchanged"], 6);
    let diff = json(&run_in(dir.path(), &["diff", "1", "2", "--format", "json"]).await);
    assert_eq!(diff["changed"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn diff_names_the_users_and_fields_changed_between_snapshots() {
    let dir = offline_folder();
    assert_eq!(load(dir.path(), &[]).await.0, 0);
    let changed = WORKDAY
        .replace("Kim Park,HR", "Kim Park,Research")
        .replace("max@acme.com,Max Roe,Legal,,,\n", "")
        + "zoe@acme.com,Zoe Lin,IT,,,\n";
    write(dir.path(), "workday.csv", &changed);
    let (code, report) = load(dir.path(), &["--accept-large-change"]).await;
    assert_eq!(code, 0, "{report:#}");
    let diff = json(&run_in(dir.path(), &["diff", "1", "2", "--format", "json"]).await);
    assert_eq!(diff["added"], serde_json::json!(["zoe@acme.com"]));
    assert_eq!(diff["removed"], serde_json::json!(["max@acme.com"]));
    assert_eq!(
        diff["changed"],
        serde_json::json!([{"user": "kim@acme.com", "fields": ["department"]}])
    );
    let back = json(&run_in(dir.path(), &["diff", "2", "1", "--format", "json"]).await);
    assert_eq!(back["added"], serde_json::json!(["max@acme.com"]));
    let missing = run_in(dir.path(), &["diff", "1", "9"]).await;
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("snapshot 9"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_large_change_is_blocked_and_written_only_once_accepted() {
    let dir = offline_folder();
    assert_eq!(load(dir.path(), &[]).await.0, 0);
    let before = export(dir.path()).await;
    write(
        dir.path(),
        "workday.csv",
        "Work Email,Name\npat@acme.com,Patricia Lee\nkim@acme.com,Kim Park\n",
    );
    let (code, report) = load(dir.path(), &[]).await;
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["loaded"], false);
    let blocked = &report["blocked"];
    assert!(
        blocked["reason"]
            .as_str()
            .is_some_and(|r| r.contains("3 of 6 users would be removed")),
        "{blocked:#}"
    );
    assert_eq!(blocked["removed"], 3);
    assert_eq!(
        blocked["examples"]["removed"],
        serde_json::json!(["ana@acme.com", "lou@acme.com", "max@acme.com"])
    );
    assert_eq!(
        export(dir.path()).await,
        before,
        "a blocked load writes nothing"
    );

    let (code, report) = load(dir.path(), &["--dry-run", "--accept-large-change"]).await;
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["loaded"], false, "a dry run writes nothing");
    assert_eq!(report["diff"]["removed"].as_array().map(Vec::len), Some(3));
    assert_eq!(export(dir.path()).await, before);

    let (code, report) = load(dir.path(), &["--accept-large-change"]).await;
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["counts"]["removed"], 3);
    assert_eq!(export(dir.path()).await.len(), 3);
    let (code, _) = load(dir.path(), &[]).await;
    assert_eq!(
        code, 0,
        "the next, ordinary load compares with the accepted one"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_row_stops_the_load_and_the_store_keeps_the_last_good_one() {
    let dir = offline_folder();
    assert_eq!(load(dir.path(), &[]).await.0, 0);
    let before = export(dir.path()).await;
    write(
        dir.path(),
        "workday.csv",
        "Work Email,Name\npat@acme.com,Pat\nkim@acme.com,Kim,extra\n",
    );
    let (code, report) = load(dir.path(), &[]).await;
    assert_eq!(code, 2);
    assert_eq!(report["loaded"], false);
    let error = &report["source_errors"][0];
    assert_eq!(error["line"], 3);
    assert_eq!(error["source"], "workday");
    assert!(
        error["file"]
            .as_str()
            .is_some_and(|f| f.ends_with("workday.csv"))
    );
    assert_eq!(export(dir.path()).await, before);

    std::fs::remove_file(dir.path().join("workday.csv")).expect("remove");
    let output = run_in(dir.path(), &["load"]).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot read the source export"));
    assert_eq!(export(dir.path()).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_sources_the_bot_and_manual_users_are_loaded_alone() {
    let dir = offline_folder();
    write(
        dir.path(),
        "itsmid.toml",
        "identities = \"identities.toml\"\n[store]\npath = \"itsmid.db\"\n",
    );
    let (code, report) = load(dir.path(), &[]).await;
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["mode"], "no_sources");
    let lines = export(dir.path()).await;
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["user"]["full_name"], "Pat Lee");
}

#[tokio::test(flavor = "multi_thread")]
async fn export_before_any_load_says_to_load_first() {
    let dir = offline_folder();
    let output = run_in(dir.path(), &["export"]).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("run `itsmid load` first"));
    assert!(!dir.path().join("store").join("itsmid.db").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_load_killed_between_rows_leaves_the_previous_snapshot_intact() {
    let dir = offline_folder();
    assert_eq!(load(dir.path(), &[]).await.0, 0);
    let before = export(dir.path()).await;
    let changed = WORKDAY
        .replace("IT,", "Platform,")
        .replace("HR,", "People,");
    write(dir.path(), "workday.csv", &changed);

    let path = dir.path().to_path_buf();
    let during = tokio::task::spawn_blocking(move || {
        let binary = env!("CARGO_BIN_EXE_itsmid");
        let mut child = Command::new(binary)
            .args(["load", "--accept-large-change", "--format", "json"])
            .current_dir(&path)
            .env_remove("ITSMID_CONFIG")
            .env("ITSMID_TEST_PAUSE_AFTER_ROWS", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let paused = BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .any(|line| line.contains("paused after 1 rows"));
        // A reader in the middle of the load.
        let during = Command::new(binary)
            .arg("export")
            .current_dir(&path)
            .env_remove("ITSMID_CONFIG")
            .output()
            .expect("export runs");
        child.kill().expect("kill the load");
        child.wait().expect("reap the load");
        assert!(paused, "the load reached the test hook");
        during
    })
    .await
    .expect("the load thread");
    assert_eq!(
        during.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&during.stderr)
    );
    let during: Vec<Value> = String::from_utf8_lossy(&during.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON Lines"))
        .collect();
    assert_eq!(
        during, before,
        "a reader during the load sees the last committed one"
    );

    assert_eq!(
        export(dir.path()).await,
        before,
        "the killed load left no trace"
    );
    let history = json(&run_in(dir.path(), &["history", "--format", "json"]).await);
    assert_eq!(history["snapshots"].as_array().map(Vec::len), Some(1));

    let output = run_with_env(
        dir.path(),
        &["load", "--accept-large-change", "--format", "json"],
        &[],
    )
    .await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(json(&output)["snapshot"], 2);
    assert_eq!(
        user(&export(dir.path()).await, "pat@acme.com")["department"],
        "Platform"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_loads_its_users_and_writes_their_export_beside_its_files() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let demo = dir.path().join("demo");
    let output = run_in(
        dir.path(),
        &[
            "demo",
            "--dir",
            demo.to_str().expect("a UTF-8 path"),
            "--format",
            "json",
        ],
    )
    .await;
    assert_eq!(
        json(&output)["schema"],
        "itsmid.report.v1",
        "stdout stays the check report"
    );
    let text = std::fs::read_to_string(demo.join("users.jsonl")).expect("the demo's export");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON Lines"))
        .collect();
    let pat = user(&lines, "pat@acme.com");
    assert_eq!(
        pat["full_name"], "Pat Lee",
        "the manual user overlays the source row"
    );
    assert_eq!(
        pat["department"], "IT Operations",
        "the source row's fields stay"
    );
    user(&lines, "jordan.blake@acme.com");
    let history = json(&run_in(&demo, &["history", "--format", "json"]).await);
    assert_eq!(history["snapshots"].as_array().map(Vec::len), Some(1));
}
