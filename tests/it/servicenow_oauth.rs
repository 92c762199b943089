//! ServiceNow with `type = "oauth_password"` through the real binary: the
//! password grant against the simulator's `/oauth_token.do`, the bot
//! verified and its credentials' owner checked as with basic auth, a
//! refused password as `auth_failed`, and no secret or issued token in any
//! output at trace level.

use serde_json::Value;

use crate::support::{BOT, SNOW_PASSWORD, World, system_row, write_secret};

const CLIENT_SECRET: &str = "demo-snow-client-secret";

/// Points the `snow` connector at the simulator's OAuth client, with the
/// Jira connector as in the standard config.
fn write_oauth_config(world: &World, token_url: bool) {
    write_secret(world.path().join("snow-client-secret"), CLIENT_SECRET);
    let token_url = if token_url {
        format!("token_url = \"{}/oauth_token.do\"\n", world.snow.uri())
    } else {
        String::new()
    };
    let config = format!(
        r#"identities = "identities.toml"

[[connectors]]
integration = "snow"
system = "servicenow"
base_url = "{snow}"
requests_per_minute = 60000
[connectors.auth]
type = "oauth_password"
{token_url}client_id = "demo-snow-client"
client_secret = "file:snow-client-secret"
username = "moveworks.bot"
password = "file:snow-password"

[[connectors]]
integration = "jira_service_desk"
system = "jira"
base_url = "{jira}"
requests_per_minute = 60000
[connectors.auth]
type = "basic"
username = "moveworks-bot@acme.com"
password = "file:jira-token"
"#,
        snow = world.snow.uri(),
        jira = world.jira.uri(),
    );
    std::fs::write(world.path().join("itsmid.toml"), config).expect("write the config");
}

/// The report without what differs between two runs.
fn comparable(mut report: Value) -> Value {
    for key in ["generated_at", "duration_ms", "run_id"] {
        report.as_object_mut().map(|o| o.remove(key));
    }
    if let Some(systems) = report["systems"].as_array_mut() {
        for row in systems {
            for key in ["api_requests", "duration_ms", "latency_ms"] {
                row.as_object_mut().map(|o| o.remove(key));
            }
        }
    }
    report.as_object_mut().map(|o| o.remove("summary"));
    report
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oauth_client_verifies_the_bot_as_basic_auth_does() {
    let world = World::start().await;
    world.write_identities(BOT);
    let (basic_code, basic_report) = world.check().await;
    let basic_requests = system_row(&basic_report, "snow")["api_requests"]
        .as_u64()
        .expect("a count");

    write_oauth_config(&world, false);
    let before = world.snow.server.received_requests().await.unwrap().len();
    let (code, report) = world.check().await;

    assert_eq!(code, 0, "{report:#}");
    assert_eq!(code, basic_code);
    assert_eq!(report["summary"]["verified"], 2, "{report:#}");
    let row = system_row(&report, "snow");
    assert_eq!(row["status"], "ok", "{report:#}");
    assert_eq!(row["credential_check"], "ok", "{report:#}");
    assert_eq!(
        row["api_requests"].as_u64(),
        Some(basic_requests + 1),
        "the token request is counted: {row}"
    );
    let received = world.snow.server.received_requests().await.unwrap()[before..].to_vec();
    assert_eq!(row["api_requests"].as_u64(), Some(received.len() as u64));
    assert_eq!(received[0].url.path(), "/oauth_token.do");
    for request in &received[1..] {
        let auth = request
            .headers
            .get("authorization")
            .unwrap()
            .to_str()
            .unwrap();
        assert!(auth.starts_with("Bearer sim-access-"), "{auth}");
    }
    assert_eq!(
        comparable(report.clone()),
        comparable(basic_report.clone()),
        "the same report as with basic auth"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_password_grant_is_auth_failed_after_one_token_request() {
    let world = World::start().await;
    write_oauth_config(&world, true);
    write_secret(world.path().join("snow-password"), "wrong-password");
    world.write_identities(BOT);
    let (code, report) = world.check().await;
    assert_eq!(code, 1, "{report:#}");
    let row = system_row(&report, "snow");
    assert_eq!(row["reason"], "auth_failed", "{report:#}");
    assert_eq!(row["api_requests"], 1, "a refused grant is never retried");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_oauth_secret_or_issued_token_appears_in_any_output_at_trace_level() {
    let world = World::start().await;
    write_oauth_config(&world, false);
    world.write_identities(BOT);
    let output = world.run(&["check", "-vvv", "--format", "json"]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("oauth_token.do"),
        "trace logging is on: {stderr}"
    );
    for canary in [CLIENT_SECRET, SNOW_PASSWORD, "sim-access-", "sim-refresh-"] {
        assert!(!stdout.contains(canary), "{canary} reached stdout");
        assert!(!stderr.contains(canary), "{canary} reached the logs");
    }

    // A refused canary password stays out of the error and the report too.
    let canary = "canary-snow-password-Vb3";
    write_secret(world.path().join("snow-password"), canary);
    let output = world.run(&["check", "-vvv", "--format", "json"]).await;
    assert_eq!(output.status.code(), Some(1));
    for text in [&output.stdout, &output.stderr] {
        let text = String::from_utf8_lossy(text);
        for secret in [canary, CLIENT_SECRET] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
}
