//! Bad input files, `lint`, and the demo, end to end.

use serde_json::Value;

use crate::support::{BOT, World, entry, run_in, stdout_json, with_user};

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_config_lists_every_problem_with_lines_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("itsmid.toml"),
        r#"identites = "identities.toml"

[[connectors]]
integration = "snow"
system = "servicenw"
base_url = "http://acme.service-now.com"
[connectors.auth]
type = "basic"
username = "moveworks.bot"
password = "literal-secret-value"
"#,
    )
    .unwrap();
    let output = run_in(dir.path(), &["check", "--format", "json"]).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty(), "nothing on stdout for bad input");
    let stderr = String::from_utf8_lossy(&output.stderr);
    for expected in [
        "line 1",
        "`identities`",
        "line 5",
        "servicenow",
        "line 6",
        "https://",
        "line 10",
        "env:NAME",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
    assert!(
        !stderr.contains("literal-secret-value"),
        "a refused secret is never echoed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_identities_file_lists_every_problem_and_exits_2() {
    let world = World::start().await;
    world.write_identities(&format!(
        "{BOT}\n[[users]]\nunique_record_id = \"moveworks-bot@acme.com\"\nwork_status = \"FULLTIME\"\nuser_tags = [\"VIP\", \"BOSS\"]\n\n[[users]]\nunique_record_id = \"\"\n[users.custom_attributes]\noffice = \"4\"\n"
    ));
    let output = world.run(&["check"]).await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for expected in [
        "identities.toml, line 17",
        "also used at line 2",
        "\"FULL_TIME\"",
        "BOSS",
        "is empty",
        "not registered",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
    assert!(
        world
            .snow
            .server
            .received_requests()
            .await
            .unwrap()
            .is_empty(),
        "nothing is checked"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_secret_names_the_variable_and_exits_2() {
    let world = World::start().await;
    let config = std::fs::read_to_string(world.path().join("itsmid.toml")).unwrap();
    std::fs::write(
        world.path().join("itsmid.toml"),
        config.replace("file:snow-password", "env:ITSMID_TEST_UNSET_SECRET"),
    )
    .unwrap();
    world.write_identities(BOT);
    let output = world.run(&["check"]).await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("ITSMID_TEST_UNSET_SECRET is not set"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn lint_reports_offline_problems_without_a_request() {
    let world = World::start().await;
    world.write_identities(&with_user(
        "abel@acme.com",
        &(entry("SNOW", &[("external_id", "abel.tuter")])
            + &entry(
                "jira_service_desk",
                &[
                    ("external_id", "abel@acme.com"),
                    ("itsm_user_id", "bad id!"),
                ],
            )),
    ));
    let output = world.run(&["lint", "--format", "json"]).await;
    assert_eq!(output.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let codes: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"UNKNOWN_INTEGRATION"), "{codes:?}");
    assert!(codes.contains(&"MALFORMED_ITSM_USER_ID"), "{codes:?}");
    assert!(
        world
            .snow
            .server
            .received_requests()
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        world
            .jira
            .server
            .received_requests()
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn lint_refuses_a_system_itsmid_has_no_connector_for() {
    let world = World::start().await;
    world.write_identities(BOT);
    let config = std::fs::read_to_string(world.path().join("itsmid.toml")).unwrap();
    let extra = "\n[[connectors]]\nintegration = \"zendesk\"\nsystem = \"zendesk\"\nbase_url = \"https://acme.zendesk.com\"\n[connectors.auth]\ntype = \"bearer\"\ntoken = \"env:ZENDESK_TOKEN\"\n";
    std::fs::write(world.path().join("itsmid.toml"), config + extra).unwrap();
    let output = world.run(&["lint"]).await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown system \"zendesk\""), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_shows_each_kind_of_problem_and_its_json_is_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let demo_dir = dir.path().join("demo");
    let output = run_in(
        dir.path(),
        &[
            "demo",
            "--format",
            "json",
            "--dir",
            demo_dir.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = stdout_json(&output);
    assert_eq!(report["schema"], "itsmid.report.v1");
    assert_eq!(report["complete"], true);
    let codes: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    for code in [
        "INACTIVE",
        "UNKNOWN_INTEGRATION",
        "ITSM_USER_ID_MISMATCH",
        "NOT_FOUND",
        "BOT_ENTRY_MISSING",
        "ITSM_USER_ID_MISSING",
    ] {
        assert!(codes.contains(&code), "{code} missing from {codes:?}");
    }
    assert!(demo_dir.join("itsmid.toml").exists());
    assert!(demo_dir.join("identities.toml").exists());
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(demo_dir.join("resolve.json")).unwrap())
            .unwrap();
    assert_eq!(plan["schema"], "itsmid.resolve.v1");
    assert_eq!(
        plan["written"], false,
        "the demo shows resolve's proposals, it does not apply them"
    );
    assert!(plan["summary"]["changes"].as_u64().unwrap() > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn simulate_serves_a_system_that_check_can_use() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/servicenow.json");
    let mut server = std::process::Command::new(assert_cmd::cargo::cargo_bin("itsmid"))
        .args([
            "simulate",
            "--system",
            "servicenow",
            "--data",
            data.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it accepts connections (bounded).
    let mut ready = false;
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(ready, "the simulator listens");
    crate::support::write_secret(dir.path().join("pw"), crate::support::SNOW_PASSWORD);
    std::fs::write(
        dir.path().join("itsmid.toml"),
        format!("identities = \"identities.toml\"\n[[connectors]]\nintegration = \"snow\"\nsystem = \"servicenow\"\nbase_url = \"http://127.0.0.1:{port}\"\n[connectors.auth]\ntype = \"basic\"\nusername = \"moveworks.bot\"\npassword = \"file:pw\"\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("identities.toml"),
        "[bot]\nunique_record_id = \"bot\"\n[[bot.itsm]]\nintegration = \"snow\"\nexternal_id = \"moveworks.bot\"\nitsm_user_id = \"6816f79cc0a8016401c5a33be04be441\"\n",
    )
    .unwrap();
    let output = run_in(dir.path(), &["check", "--format", "json"]).await;
    let _ = server.kill();
    let said = server.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let report = stdout_json(&output);
    assert_eq!(report["summary"]["verified"], 1);
    // It said which credentials its data accepts, and where the secrets
    // are, without showing one.
    let stderr = String::from_utf8_lossy(&said.stderr);
    assert!(
        stderr.contains(
            "basic: user name moveworks.bot with the password at simulator.basic[0].password"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("bearer: a bearer token at simulator.bearer[0].token"),
        "{stderr}"
    );
    assert!(
        stderr.contains("oauth_clients: OAuth client demo-snow-client"),
        "{stderr}"
    );
    for secret in [
        "demo-snow-password",
        "demo-snow-token",
        "demo-snow-client-secret",
    ] {
        assert!(!stderr.contains(secret), "{secret} in {stderr}");
    }
}

/// The demo's report, JSON and table, as committed snapshots: a change to
/// what administrators and scripts read shows up in review.
#[tokio::test(flavor = "multi_thread")]
async fn the_demo_report_matches_its_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let demo_dir = dir.path().join("demo");
    let demo = demo_dir.to_str().unwrap();
    let output = run_in(dir.path(), &["demo", "--format", "json", "--dir", demo]).await;
    let mut report = stdout_json(&output);
    report["generated_at"] = Value::from("[generated_at]");
    insta::assert_json_snapshot!("demo-report", report);
    let output = run_in(dir.path(), &["demo", "--format", "table", "--dir", demo]).await;
    insta::assert_snapshot!("demo-table", String::from_utf8_lossy(&output.stdout));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_jira_lookup_by_other_than_email_is_refused() {
    let world = World::start().await;
    world.write_identities(BOT);
    let config = std::fs::read_to_string(world.path().join("itsmid.toml")).unwrap();
    let config = config.replace(
        "system = \"jira\"\n",
        "system = \"jira\"\nlookup_by = \"displayName\"\n",
    );
    std::fs::write(world.path().join("itsmid.toml"), config).unwrap();
    let output = world.run(&["check"]).await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("lookup_by") && stderr.contains("emailAddress"),
        "{stderr}"
    );
}
