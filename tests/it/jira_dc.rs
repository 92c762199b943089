//! Jira Data Center end to end on the real binary, against its simulator:
//! basic authentication with a user name and password, and the fix when an
//! instance has switched it off; `lookup_by = "name"`; resolve writing a
//! user key; load exporting it; a directory checked in one listing within
//! the request budget on Jira 9, and entry by entry on Jira 10; readiness
//! through API v2 (the finding codes common to every system are in
//! `systems.rs`). No test here sees a secret in any output.

use itsmid_connectors::System;
use itsmid_connectors::sim::AnySimulator;
use serde_json::{Value, json};

use crate::support::{entry_of, findings, fixture, run_in, stdout_json, system_row, write_secret};

const TOKEN: &str = "demo-jira-dc-token";
const PASSWORD: &str = "demo-jira-dc-password";
const BEARER: &str = "type = \"bearer\"\ntoken = \"file:secret\"";
const BASIC: &str = "type = \"basic\"\nusername = \"moveworks-bot\"\npassword = \"file:secret\"";

/// A Jira Data Center simulator and a folder with a config for it.
struct Site {
    dir: tempfile::TempDir,
    sim: AnySimulator,
}

impl Site {
    async fn start(data: &str) -> Site {
        let sim = AnySimulator::start(System::JiraDc, "jira_dc.json", data, None, true)
            .await
            .expect("the simulator starts");
        let dir = tempfile::tempdir().expect("a temporary folder");
        Site { dir, sim }
    }

    /// Writes the config: `auth` with `secret` in the file it names, and
    /// extra connector keys and tables after the auth table.
    fn config(&self, auth: &str, secret: &str, extra: &str) {
        write_secret(self.dir.path().join("secret"), secret);
        let config = format!(
            "identities = \"identities.toml\"\n[store]\npath = \"itsmid.db\"\n\n[[connectors]]\nintegration = \"jira_onprem\"\nsystem = \"jira_dc\"\nbase_url = \"{}\"\nrequests_per_minute = 60000\n{extra}\n[connectors.auth]\n{auth}\n",
            self.sim.uri()
        );
        std::fs::write(self.dir.path().join("itsmid.toml"), config).expect("write the config");
    }

    /// The bot's entry (by key) and `users`, `[[users]]` tables.
    fn identities(&self, users: &str) {
        let text = format!(
            "[bot]\nunique_record_id = \"moveworks-bot@acme.com\"\nemail_addr = \"moveworks-bot@acme.com\"\n[[bot.itsm]]\nintegration = \"jira_onprem\"\nexternal_id = \"moveworks-bot@acme.com\"\nitsm_user_id = \"JIRAUSER10000\"\n\n{users}"
        );
        std::fs::write(self.dir.path().join("identities.toml"), text)
            .expect("write the identities");
    }

    async fn run(&self, args: &[&str]) -> std::process::Output {
        run_in(self.dir.path(), args).await
    }

    async fn check(&self) -> (i32, Value) {
        let output = self.run(&["check", "--format", "json"]).await;
        (output.status.code().unwrap_or(-1), stdout_json(&output))
    }
}

/// A `[[users]]` table with one jira_onprem entry.
fn user(urid: &str, fields: &[(&str, &str)]) -> String {
    let mut text = format!(
        "[[users]]\nunique_record_id = \"{urid}\"\nemail_addr = \"{urid}\"\n[[users.itsm]]\nintegration = \"jira_onprem\"\n"
    );
    for (key, value) in fields {
        text.push_str(&format!("{key} = \"{value}\"\n"));
    }
    text
}

/// The fixture with `change` applied to its JSON.
fn data(change: impl FnOnce(&mut Value)) -> String {
    let mut data: Value = serde_json::from_str(&fixture("jira_dc.json")).expect("fixture JSON");
    change(&mut data);
    data.to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_name_and_password_verify_the_bot_and_its_users() {
    let site = Site::start(&fixture("jira_dc.json")).await;
    site.config(BASIC, PASSWORD, "");
    site.identities(&user(
        "dana@acme.com",
        &[
            ("external_id", "dana@acme.com"),
            ("itsm_user_id", "dana.ross"),
        ],
    ));
    let (exit, report) = site.check().await;
    // The bot's time zone is Europe/Berlin: a warning, so the exit is 0.
    assert_eq!(exit, 0, "{report:#}");
    let row = system_row(&report, "jira_onprem");
    assert_eq!(row["status"], "ok");
    assert_eq!(row["credential_check"], "ok");
    assert_eq!(report["summary"]["verified"], 2, "{report:#}");
    assert_eq!(
        entry_of(&report, "dana@acme.com", "jira_onprem")["found"]["itsm_user_id"],
        "dana.ross",
        "an account made before Jira 8.4 keeps its user name as its key"
    );
    let settings = findings(&report, "BOT_SETTING");
    assert_eq!(settings.len(), 1, "{report:#}");
    assert_eq!(settings[0]["actual"], "Europe/Berlin");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_instance_without_basic_authentication_says_to_use_a_personal_access_token() {
    let site = Site::start(&data(|d| {
        d["simulator"]["basic_auth_disabled"] = json!(true)
    }))
    .await;
    site.config(BASIC, PASSWORD, "");
    site.identities("");
    let (exit, report) = site.check().await;
    assert_eq!(exit, 1, "{report:#}");
    let row = system_row(&report, "jira_onprem");
    assert_eq!(row["status"], "unavailable");
    assert_eq!(row["reason"], "auth_failed", "{report:#}");
    assert_eq!(row["api_requests"], 1, "a refused login is not retried");
    let detail = row["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("personal access token"), "{detail}");
    assert!(detail.contains("bearer"), "{detail}");
    assert!(!detail.contains(PASSWORD));

    // The bot's personal access token works on the same instance.
    site.config(BEARER, TOKEN, "");
    let (exit, report) = site.check().await;
    assert_eq!(exit, 0, "{report:#}");
    assert_eq!(system_row(&report, "jira_onprem")["status"], "ok");
}

#[tokio::test(flavor = "multi_thread")]
async fn lookup_by_name_checks_user_names() {
    let site = Site::start(&fixture("jira_dc.json")).await;
    site.config(BEARER, TOKEN, "lookup_by = \"name\"");
    // The bot's entry names its e-mail, which is no user name.
    site.identities(&user(
        "pat@acme.com",
        &[
            ("external_id", "PAT.LEE"),
            ("itsm_user_id", "JIRAUSER10100"),
        ],
    ));
    let (_, report) = site.check().await;
    let pat = entry_of(&report, "pat@acme.com", "jira_onprem");
    assert_eq!(pat["status"], "verified", "{report:#}");
    assert_eq!(pat["found"]["external_id"], "pat.lee");
    let canonical = findings(&report, "EXTERNAL_ID_NOT_CANONICAL");
    assert_eq!(canonical.len(), 1, "{report:#}");
    assert_eq!(canonical[0]["expected"], "pat.lee");
}

#[tokio::test(flavor = "multi_thread")]
async fn resolve_writes_the_user_key_into_the_identities_file() {
    let site = Site::start(&fixture("jira_dc.json")).await;
    site.config(BEARER, TOKEN, "");
    site.identities(&user("pat@acme.com", &[("external_id", "pat@acme.com")]));
    let output = site.run(&["resolve", "--write", "--format", "json"]).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(site.dir.path().join("identities.toml")).unwrap();
    assert!(text.contains("itsm_user_id = \"JIRAUSER10100\""), "{text}");
    let (exit, report) = site.check().await;
    assert_eq!(exit, 0, "{report:#}");
    assert!(findings(&report, "ITSM_USER_ID_MISSING").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn load_exports_the_key_the_check_found() {
    let site = Site::start(&fixture("jira_dc.json")).await;
    site.config(BEARER, TOKEN, "");
    site.identities(&user("pat@acme.com", &[("external_id", "pat@acme.com")]));
    let output = site.run(&["load", "--format", "json"]).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = site.run(&["export"]).await;
    let lines: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON Lines"))
        .collect();
    let pat = lines
        .iter()
        .find(|l| l["user"]["email_addr"] == "pat@acme.com")
        .expect("pat is exported");
    assert_eq!(
        pat["user"]["external_system_identities"]["jira_onprem"],
        json!({"user_id": "pat@acme.com", "external_id": "JIRAUSER10100"})
    );
}

/// The fixture grown by `count` users, and identities with their keys.
fn directory(count: usize, version: &str) -> (String, String) {
    let data = data(|d| {
        let users = d["users"].as_array_mut().expect("users");
        for i in 0..count {
            users.push(json!({
                "key": format!("JIRAUSER{}", 300_000 + i),
                "name": format!("staff{i}"),
                "emailAddress": format!("staff{i}@acme.com"),
                "displayName": format!("Staff Member {i}"),
                "active": i % 50 != 7,
                "timeZone": "UTC",
            }));
        }
        d["simulator"]["version"] = json!(version);
    });
    let identities: String = (0..count)
        .map(|i| {
            user(
                &format!("staff{i}@acme.com"),
                &[
                    ("external_id", &format!("staff{i}@acme.com")),
                    ("itsm_user_id", &format!("JIRAUSER{}", 300_000 + i)),
                ],
            )
        })
        .collect();
    (data, identities)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_large_directory_on_jira_9_is_checked_in_one_listing() {
    let (data, users) = directory(1_500, "9.12.0");
    let site = Site::start(&data).await;
    site.config(BEARER, TOKEN, "[connectors.readiness]\nenabled = false");
    site.identities(&users);
    let (_, report) = site.check().await;
    let row = system_row(&report, "jira_onprem");
    // /myself, /serverInfo and two pages of a thousand users.
    assert_eq!(row["api_requests"], 4, "{row:#}");
    assert_eq!(
        report["summary"]["verified"],
        1_501 - 30,
        "{:#}",
        report["summary"]
    );
    assert_eq!(findings(&report, "INACTIVE").len(), 30);
    let listed: Vec<String> = site
        .sim
        .server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == "/rest/api/2/user/search")
        .map(|r| r.url.query().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        listed,
        [
            "username=.&includeActive=true&includeInactive=true&maxResults=1000&startAt=0",
            "username=.&includeActive=true&includeInactive=true&maxResults=1000&startAt=1000",
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn on_jira_10_every_entry_is_asked_for_alone() {
    let (data, users) = directory(120, "10.3.1");
    let site = Site::start(&data).await;
    site.config(BEARER, TOKEN, "[connectors.readiness]\nenabled = false");
    site.identities(&users);
    let (_, report) = site.check().await;
    let row = system_row(&report, "jira_onprem");
    // /myself, /serverInfo and one /user?key= per key (the bot's too).
    assert_eq!(row["api_requests"], 2 + 121, "{row:#}");
    assert_eq!(
        report["summary"]["verified"],
        121 - 3,
        "{:#}",
        report["summary"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_through_api_v2_finds_a_user_who_is_not_a_customer() {
    let site = Site::start(&data(|d| {
        d["simulator"]["readiness"]["projects"][0]["customers"] = json!(["dana.ross"]);
    }))
    .await;
    site.config(BEARER, TOKEN, "[connectors.readiness]\nproject = \"ITSD\"");
    site.identities(&user(
        "pat@acme.com",
        &[
            ("external_id", "pat@acme.com"),
            ("itsm_user_id", "JIRAUSER10100"),
        ],
    ));
    let (exit, report) = site.check().await;
    assert_eq!(exit, 1, "{report:#}");
    let row = system_row(&report, "jira_onprem");
    assert_eq!(row["readiness"], "problems", "{row:#}");
    let not_customer = findings(&report, "USER_NOT_CUSTOMER");
    assert_eq!(not_customer.len(), 1, "{report:#}");
    assert_eq!(not_customer[0]["unique_record_id"], "pat@acme.com");
    assert!(findings(&report, "BOT_PERMISSION_MISSING").is_empty());
    assert!(findings(&report, "WORKFLOW_GAP").is_empty());
    let paths: Vec<String> = site
        .sim
        .server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| r.url.path().to_owned())
        .collect();
    for path in [
        "/rest/api/2/mypermissions",
        "/rest/api/2/search",
        "/rest/api/2/issue/ITSD-42/transitions",
        "/rest/servicedeskapi/servicedesk/projectKey:ITSD/customer",
    ] {
        assert!(paths.iter().any(|p| p == path), "{path} in {paths:?}");
    }
    assert!(
        !paths.iter().any(|p| p.contains("/rest/api/3/")),
        "{paths:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_password_or_token_appears_in_any_output_at_trace_level() {
    let site = Site::start(&fixture("jira_dc.json")).await;
    site.identities("");
    for (auth, secret) in [(BASIC, PASSWORD), (BEARER, TOKEN)] {
        site.config(auth, secret, "");
        let output = site.run(&["check", "-vvv", "--format", "json"]).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("/rest/api/2/"),
            "trace logging is on: {stderr}"
        );
        for text in [&output.stdout, &output.stderr] {
            let text = String::from_utf8_lossy(text);
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        // A refused canary credential stays out of the error and the report.
        let canary = "canary-jira-dc-Qx81";
        site.config(auth, canary, "");
        let output = site.run(&["check", "-vvv", "--format", "json"]).await;
        assert_eq!(output.status.code(), Some(1));
        for text in [&output.stdout, &output.stderr] {
            let text = String::from_utf8_lossy(text);
            assert!(!text.contains(canary), "{canary} in {text}");
        }
    }
}
