//! SPEC section 6's inputs end to end: source exports and a JSON
//! identities file that start with a byte order mark, JSON with a repeated
//! key, and the drift window of large data change protection.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::support::{run_in, stdout_json};

const BOM: &str = "\u{feff}";

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write a test file");
}

/// The bot alone: no connector is configured, so nothing is checked.
const BOT_ONLY: &str =
    "[bot]\nunique_record_id = \"bot@acme.com\"\nemail_addr = \"bot@acme.com\"\n";

/// A folder with a store, the bot, and `sources` (`[[sources]]` tables).
fn folder(sources: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    write(
        dir.path(),
        "itsmid.toml",
        &format!("identities = \"identities.toml\"\n[store]\npath = \"itsmid.db\"\n{sources}"),
    );
    write(dir.path(), "identities.toml", BOT_ONLY);
    dir
}

fn source(name: &str, path: &str) -> String {
    format!("\n[[sources]]\nname = \"{name}\"\npath = \"{path}\"\n")
}

async fn load(dir: &Path) -> (i32, Value) {
    let output = run_in(dir, &["load", "--format", "json"]).await;
    (output.status.code().unwrap_or(-1), stdout_json(&output))
}

/// The e-mail addresses `itsmid export` prints, sorted.
async fn exported(dir: &Path) -> Vec<String> {
    let output = run_in(dir, &["export"]).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut emails: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            let line: Value = serde_json::from_str(line).expect("JSON Lines");
            line["user"]["email_addr"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    emails.sort();
    emails
}

#[tokio::test(flavor = "multi_thread")]
async fn json_and_json_lines_exports_that_start_with_a_byte_order_mark_load() {
    let dir = folder(&(source("hr", "hr.json") + &source("directory", "directory.jsonl")));
    write(
        dir.path(),
        "hr.json",
        &format!(
            "{BOM}[\n  {{\"email_addr\": \"pat@acme.com\", \"full_name\": \"Pat Lee\"}},\n  \
             {{\"email_addr\": \"kim@acme.com\", \"full_name\": \"Kim Park\"}}\n]\n"
        ),
    );
    write(
        dir.path(),
        "directory.jsonl",
        &format!(
            "{BOM}{{\"email_addr\": \"lou@acme.com\", \"department\": \"Sales\"}}\n\
             {{\"email_addr\": \"pat@acme.com\", \"department\": \"IT\"}}\n"
        ),
    );
    let (code, report) = load(dir.path()).await;
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["mode"], "sources");
    assert_eq!(report["loaded"], true);
    assert_eq!(report["source_errors"], serde_json::json!([]), "{report:#}");
    assert_eq!(report["counts"]["users"], 4, "{report:#}");
    assert_eq!(
        exported(dir.path()).await,
        [
            "bot@acme.com",
            "kim@acme.com",
            "lou@acme.com",
            "pat@acme.com"
        ]
    );
    let output = run_in(
        dir.path(),
        &["export", "--explain", "pat@acme.com", "--format", "json"],
    )
    .await;
    let explained = stdout_json(&output);
    let from = |field: &str| {
        explained["fields"]
            .as_array()
            .and_then(|f| f.iter().find(|f| f["field"] == field))
            .map(|f| f["from"].clone())
            .unwrap_or_else(|| panic!("no {field} in {explained:#}"))
    };
    // The first record of each file is read, the mark notwithstanding.
    assert_eq!(from("full_name"), "hr");
    assert_eq!(from("department"), "directory");
}

/// A JSON source record that repeats `key` is a malformed row: nothing is
/// loaded, and the report names the file and `line`, the repeated key's.
async fn assert_repeated_key_refused(file: &str, text: &str, key: &str, line: u64) {
    let dir = folder(&source("hr", file));
    write(dir.path(), file, text);
    let (code, report) = load(dir.path()).await;
    assert_eq!(code, 2, "{report:#}");
    assert_eq!(report["loaded"], false, "{report:#}");
    let errors = report["source_errors"].as_array().expect("source_errors");
    assert_eq!(errors.len(), 1, "{report:#}");
    let error = &errors[0];
    assert_eq!(error["source"], "hr", "{error:#}");
    assert!(
        error["file"].as_str().is_some_and(|f| f.ends_with(file)),
        "{error:#}"
    );
    assert_eq!(error["line"], line, "{error:#}");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains(&format!("\"{key}\" is repeated"))),
        "{error:#}"
    );
    let output = run_in(dir.path(), &["export"]).await;
    assert_eq!(output.status.code(), Some(2), "nothing was loaded");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_source_record_with_a_repeated_key_stops_the_load_with_its_file_and_line() {
    assert_repeated_key_refused(
        "hr.json",
        "[\n  {\"email_addr\": \"pat@acme.com\"},\n  {\"email_addr\": \"kim@acme.com\",\n   \
         \"full_name\": \"Kim\", \"full_name\": \"Kimberly\"}\n]\n",
        "full_name",
        4,
    )
    .await;
    assert_repeated_key_refused(
        "hr.jsonl",
        "{\"email_addr\": \"pat@acme.com\"}\n\n\
         {\"email_addr\": \"kim@acme.com\", \"email_addr\": \"kimberly@acme.com\"}\n",
        "email_addr",
        3,
    )
    .await;
}

/// A folder whose identities file is `identities.json` holding `text`.
fn json_identities(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    write(
        dir.path(),
        "itsmid.toml",
        "identities = \"identities.json\"\n[store]\npath = \"itsmid.db\"\n",
    );
    write(dir.path(), "identities.json", text);
    dir
}

const JSON_IDENTITIES: &str = r#"{
  "bot": {"unique_record_id": "bot@acme.com", "email_addr": "bot@acme.com"},
  "users": [
    {
      "unique_record_id": "pat@acme.com",
      "email_addr": "pat@acme.com",
      "full_name": "Pat Lee",
      "department": "IT"
    }
  ]
}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_json_identities_file_with_a_repeated_key_is_refused_with_the_key_and_its_line() {
    let repeated = JSON_IDENTITIES.replace(
        "      \"department\": \"IT\"\n",
        "      \"department\": \"IT\",\n      \"full_name\": \"Patricia Lee\"\n",
    );
    let dir = json_identities(&repeated);
    for command in ["check", "load"] {
        let output = run_in(dir.path(), &[command, "--format", "json"]).await;
        assert_eq!(output.status.code(), Some(2), "{command}");
        assert!(output.stdout.is_empty(), "{command}: nothing on stdout");
        let stderr = String::from_utf8_lossy(&output.stderr);
        for expected in ["identities.json", "line 9", "\"full_name\" is repeated"] {
            assert!(
                stderr.contains(expected),
                "{command}: no {expected:?} in:\n{stderr}"
            );
        }
    }
    assert!(
        !dir.path().join("itsmid.db").exists(),
        "a refused file loads nothing"
    );

    // The same file without the repeated key, after a byte order mark, loads.
    let dir = json_identities(&format!("{BOM}{JSON_IDENTITIES}"));
    let (code, report) = load(dir.path()).await;
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["counts"]["users"], 2, "{report:#}");
    assert_eq!(exported(dir.path()).await, ["bot@acme.com", "pat@acme.com"]);
}

/// Large data change protection over a drift window of `window`: the bot
/// and 30 manual users, loaded; then, once 2.5 seconds have passed, 2
/// users removed (2 of 31, under `max_removed_ratio` 10%); then 2 more
/// (2 of 29 against the last load, 4 of 31 against the first). Returns the
/// third load's exit code and report.
async fn drain_in_two_steps(window: &str) -> (tempfile::TempDir, i32, Value) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    write(
        dir.path(),
        "itsmid.toml",
        &format!(
            "identities = \"identities.toml\"\n[store]\npath = \"itsmid.db\"\n\
             [pipeline]\nlarge_change_min_users = 10\nmax_removed_ratio = 0.10\n\
             drift_window = \"{window}\"\n"
        ),
    );
    let identities = |users: std::ops::Range<usize>| {
        let mut text = BOT_ONLY.to_owned();
        for n in users {
            text.push_str(&format!(
                "\n[[users]]\nunique_record_id = \"user{n:02}@acme.com\"\n"
            ));
        }
        text
    };
    write(dir.path(), "identities.toml", &identities(0..30));
    let (code, report) = load(dir.path()).await;
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["snapshot"], 1);
    assert_eq!(report["counts"]["users"], 31, "{report:#}");

    // The first load is now older than a two-second window.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    write(dir.path(), "identities.toml", &identities(2..30));
    let (code, report) = load(dir.path()).await;
    assert_eq!(code, 0, "2 of 31 is under the ratio: {report:#}");
    assert_eq!(report["snapshot"], 2);
    assert_eq!(report["counts"]["removed"], 2, "{report:#}");

    write(dir.path(), "identities.toml", &identities(4..30));
    let (code, report) = load(dir.path()).await;
    (dir, code, report)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_drain_is_blocked_against_the_load_a_drift_window_ago() {
    let (dir, code, report) = drain_in_two_steps("2s").await;
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["loaded"], false, "{report:#}");
    assert_eq!(report["counts"]["removed"], 2, "{report:#}");
    let blocked = &report["blocked"];
    let reason = blocked["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("against snapshot 1 of ") && reason.contains("pipeline.drift_window"),
        "{blocked:#}"
    );
    assert!(
        reason.contains("4 of 31 users would be removed"),
        "{blocked:#}"
    );
    assert_eq!(blocked["removed"], 4, "{blocked:#}");
    assert_eq!(blocked["previous_users"], 31, "{blocked:#}");
    // The store keeps the second load.
    assert_eq!(exported(dir.path()).await.len(), 29);
    let history = stdout_json(&run_in(dir.path(), &["history", "--format", "json"]).await);
    assert_eq!(history["snapshots"].as_array().map(Vec::len), Some(2));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_drain_loads_when_the_first_load_is_inside_the_drift_window() {
    let (dir, code, report) = drain_in_two_steps("1h").await;
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["loaded"], true, "{report:#}");
    assert_eq!(report["snapshot"], 3);
    assert_eq!(report["counts"]["removed"], 2, "{report:#}");
    assert_eq!(exported(dir.path()).await.len(), 27);
}
