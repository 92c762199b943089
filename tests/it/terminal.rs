//! What reaches a terminal or a log collector, end to end: values from a
//! system are escaped in tables, `--log-format json` writes JSON lines, text
//! logs on a pipe carry no colour, and a slow run shows a progress line on
//! a terminal and none on pipes.

use std::time::{Duration, Instant};

use itsmid_connectors::System;
use itsmid_connectors::sim::Fault;
use serde_json::Value;

use crate::support::{BOT, World, entry, fixture, with_user};

/// A display name that would clear the screen and turn the text red.
const HOSTILE: &str = "Pat\u{1b}[2J\u{1b}[31m";

#[tokio::test(flavor = "multi_thread")]
async fn a_name_holding_escape_codes_is_escaped_in_the_table_and_kept_in_json() {
    let snow = fixture("servicenow.json").replacen(
        "\"first_name\": \"Pat\"",
        "\"first_name\": \"Pat\\u001b[2J\\u001b[31m\"",
        1,
    );
    assert_ne!(snow, fixture("servicenow.json"), "the fixture has Pat");
    let world = World::with_data(&snow, &fixture("jira.json")).await;
    world.write_identities(&with_user(
        "pat@acme.com",
        &entry(
            "snow",
            &[
                ("external_id", "pat.lee"),
                ("itsm_user_id", "a8f98bb0eb32010045e1a5115206fe3a"),
            ],
        ),
    ));

    let table = world.run(&["resolve", "--format", "table"]).await;
    let text = String::from_utf8_lossy(&table.stdout);
    assert_eq!(table.status.code(), Some(0), "{text}");
    assert!(!text.contains('\u{1b}'), "{text:?}");
    assert!(text.contains("Pat\\x1b[2J\\x1b[31m"), "{text}");

    let json = world.run(&["resolve", "--format", "json"]).await;
    let plan: Value = serde_json::from_slice(&json.stdout).expect("JSON");
    let first_name = plan["identities"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["unique_record_id"] == "pat@acme.com")
        .flat_map(|i| i["changes"].as_array().into_iter().flatten())
        .find(|c| c["field"] == "first_name")
        .unwrap_or_else(|| panic!("no first_name change in {plan:#}"));
    assert_eq!(first_name["new"], HOSTILE, "JSON keeps the value as it is");
    let raw = String::from_utf8_lossy(&json.stdout);
    assert!(!raw.contains('\u{1b}'), "serde escapes it: {raw:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn log_format_json_writes_one_json_object_per_line() {
    let world = World::start().await;
    world.write_identities(BOT);
    world.fault(
        System::ServiceNow,
        Fault::RateLimited {
            retry_after_seconds: 1,
            times: Some(1),
        },
    );
    let output = world
        .run(&["check", "--format", "json", "--log-format", "json", "-vv"])
        .await;
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "the retry is logged");
    for line in &lines {
        let event: Value =
            serde_json::from_str(line).unwrap_or_else(|err| panic!("not JSON ({err}): {line}"));
        assert!(event["timestamp"].is_string(), "{line}");
        assert!(event["level"].is_string(), "{line}");
        assert!(event["fields"]["message"].is_string(), "{line}");
    }
    assert!(lines.iter().any(|l| l.contains("\"retrying\"")), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn text_logs_on_a_pipe_carry_no_colour() {
    let world = World::start().await;
    world.write_identities(BOT);
    world.fault(
        System::ServiceNow,
        Fault::RateLimited {
            retry_after_seconds: 1,
            times: Some(1),
        },
    );
    let output = world.run(&["check", "--format", "json", "-vv"]).await;
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("retrying"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_check_on_pipes_shows_no_progress_line() {
    let world = World::start().await;
    world.write_identities(BOT);
    world.fault(
        System::ServiceNow,
        Fault::Slow(Duration::from_millis(1_200)),
    );
    let started = Instant::now();
    let output = world.run(&["check", "--format", "table"]).await;
    assert!(
        started.elapsed() > Duration::from_millis(2_500),
        "the check ran past the progress line's delay"
    );
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    for shown in [&stderr, &stdout] {
        assert!(!shown.contains("systems done"), "{shown}");
        assert!(!shown.contains('\r'), "{shown:?}");
        assert!(!shown.contains('\u{1b}'), "{shown:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn users_list_escapes_a_name_from_the_identities_file() {
    let world = World::start().await;
    world.write_identities(&format!(
        "{BOT}\n[[users]]\nunique_record_id = \"kim@acme.com\"\nemail_addr = \"kim@acme.com\"\n\
         full_name = \"Kim\\u001b[31m Lee\"\n"
    ));
    let table = world.run(&["users", "list", "--format", "table"]).await;
    let text = String::from_utf8_lossy(&table.stdout);
    assert_eq!(
        table.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&table.stderr)
    );
    assert!(!text.contains('\u{1b}'), "{text:?}");
    assert!(text.contains("Kim\\x1b[31m Lee"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_check_on_a_terminal_shows_its_progress_line_and_clears_it() {
    let world = World::start().await;
    world.write_identities(BOT);
    world.fault(
        System::ServiceNow,
        Fault::Slow(Duration::from_millis(1_200)),
    );
    // `script` gives the command a pseudo-terminal, as a person's shell
    // does; its own output is the terminal's text.
    let command = format!("{} check --format table", env!("CARGO_BIN_EXE_itsmid"));
    let dir = world.path().to_path_buf();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .current_dir(&dir)
            .env_remove("ITSMID_CONFIG")
            .env_remove("RUST_LOG")
            .output()
            .expect("script runs (util-linux)")
    })
    .await
    .expect("the command thread finishes");
    assert_eq!(output.status.code(), Some(0));
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(
        shown.contains("check: 1 of 2 systems done")
            || shown.contains("check: 0 of 2 systems done"),
        "the progress line was drawn: {shown:?}"
    );
    assert!(
        shown.contains("\r\u{1b}[Kcheck: "),
        "redrawn in place: {shown:?}"
    );
    // The line is erased before the report, which follows in full.
    let last = shown.rfind("systems done").expect("drawn");
    let after = &shown[last..];
    let erased = after.find("\r\u{1b}[K").expect("the line is erased");
    let table = after.find("snow").expect("the report follows");
    assert!(erased < table, "{after:?}");
}
