//! Salesforce with `type = "jwt_bearer"` through the real binary: the
//! connected app's signed assertion against the simulator, the bot
//! verified and its credentials' owner checked, a user the app is not
//! approved for as `auth_failed` with Salesforce's reason, `lint` refusing
//! a key file that is not an RSA key, and the private key in no output at
//! trace level. The key pair is a test-only key.

use std::path::Path;

use itsmid_connectors::System;
use itsmid_connectors::sim::AnySimulator;
use serde_json::Value;

use crate::support::{fixture, run_in, stdout_json, system_row, write_secret};

const PRIVATE_KEY: &str =
    include_str!("../../connectors/tests/connectors/salesforce/jwt-private-key.pem");
const BOT_USERNAME: &str = "moveworks.bot@acme.com.prod";
const BOT_ID: &str = "0055e000003MwBtAAK";

async fn simulator() -> AnySimulator {
    AnySimulator::start(
        System::Salesforce,
        "salesforce.json",
        &fixture("salesforce.json"),
        None,
        true,
    )
    .await
    .expect("the simulator starts")
}

/// A Salesforce connector with `jwt_bearer` signing for `username`, the
/// key in `sf-key.pem`, and the bot's identities.
fn write_world(dir: &Path, sim: &AnySimulator, username: &str, key: &str) {
    let uri = sim.uri();
    write_secret(dir.join("sf-key.pem"), key);
    let config = format!(
        r#"identities = "identities.toml"

[[connectors]]
integration = "salesforce"
system = "salesforce"
base_url = "{uri}"
requests_per_minute = 60000
[connectors.auth]
type = "jwt_bearer"
token_url = "{uri}/services/oauth2/token"
client_id = "demo-consumer-key"
username = "{username}"
private_key = "file:sf-key.pem"
"#
    );
    std::fs::write(dir.join("itsmid.toml"), config).expect("write the config");
    let identities = format!(
        "[bot]\nunique_record_id = \"moveworks-bot@acme.com\"\n[[bot.itsm]]\n\
         integration = \"salesforce\"\nexternal_id = \"{BOT_USERNAME}\"\nitsm_user_id = \"{BOT_ID}\"\n"
    );
    std::fs::write(dir.join("identities.toml"), identities).expect("write the identities");
}

/// The lines of the key's PEM body: none may appear in any output.
fn key_lines() -> Vec<&'static str> {
    PRIVATE_KEY
        .lines()
        .filter(|line| !line.starts_with("-----") && line.len() > 16)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_jwt_bearer_connector_verifies_its_bot_against_the_simulator() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().expect("a temporary folder");
    write_world(dir.path(), &sim, BOT_USERNAME, PRIVATE_KEY);

    let output = run_in(dir.path(), &["check", "--format", "json"]).await;
    let report: Value = stdout_json(&output);

    assert_eq!(output.status.code(), Some(0), "{report:#}");
    assert_eq!(report["summary"]["verified"], 1, "{report:#}");
    let row = system_row(&report, "salesforce");
    assert_eq!(row["status"], "ok", "{report:#}");
    assert_eq!(row["credential_check"], "ok", "{report:#}");
    let received = sim.server.received_requests().await.expect("recorded");
    assert_eq!(received[0].url.path(), "/services/oauth2/token");
    let body = String::from_utf8_lossy(&received[0].body);
    assert!(
        body.contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_the_app_is_not_approved_for_is_auth_failed_with_salesforces_reason() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().expect("a temporary folder");
    write_world(dir.path(), &sim, "pat@acme.com.prod", PRIVATE_KEY);

    let output = run_in(dir.path(), &["check", "--format", "json"]).await;
    let report: Value = stdout_json(&output);

    assert_eq!(output.status.code(), Some(1), "{report:#}");
    let row = system_row(&report, "salesforce");
    assert_eq!(row["reason"], "auth_failed", "{report:#}");
    assert_eq!(row["api_requests"], 1, "a refused grant is never retried");
    assert!(
        row["detail"]
            .as_str()
            .is_some_and(|d| d.contains("user hasn't approved this consumer")),
        "{row}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn lint_refuses_a_key_file_that_is_not_an_rsa_key_without_showing_it() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().expect("a temporary folder");
    let canary = "-----BEGIN PRIVATE KEY-----\ncanary-not-a-key-Wq7\n-----END PRIVATE KEY-----\n";
    write_world(dir.path(), &sim, BOT_USERNAME, canary);

    let output = run_in(dir.path(), &["lint"]).await;

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_ne!(output.status.code(), Some(0), "{stdout}{stderr}");
    let all = format!("{stdout}{stderr}");
    assert!(all.contains("private_key"), "{all}");
    assert!(all.contains("not an RSA private key"), "{all}");
    assert!(!all.contains("canary-not-a-key-Wq7"), "{all}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_private_key_appears_in_no_output_at_trace_level() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().expect("a temporary folder");
    let lines = key_lines();
    assert!(lines.len() > 20, "a 2048-bit key's PEM body");
    for (username, code) in [(BOT_USERNAME, 0), ("pat@acme.com.prod", 1)] {
        write_world(dir.path(), &sim, username, PRIVATE_KEY);
        let output = run_in(dir.path(), &["check", "-vvv", "--format", "json"]).await;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{stderr}");
        assert!(
            stderr.contains("oauth2/token"),
            "trace logging is on: {stderr}"
        );
        for line in &lines {
            assert!(!stdout.contains(line), "a key line reached stdout");
            assert!(!stderr.contains(line), "a key line reached the logs");
        }
        for canary in ["sim.access.", "assertion=", "eyJ"] {
            assert!(!stdout.contains(canary), "{canary} reached stdout");
            assert!(!stderr.contains(canary), "{canary} reached the logs");
        }
    }
}
