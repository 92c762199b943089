//! `itsmid check` end to end for one system at a time: each finding code
//! that applies to Freshservice (and the systems that join it), against its
//! simulator, through the real binary.

use itsmid_connectors::System;
use itsmid_connectors::sim::{AnySimulator, Fault};
use serde_json::Value;

use crate::support::{entry_of, findings, fixture, run_in, system_row};

/// How to log in to one system's simulator, and its demo bot.
struct Profile {
    system: System,
    integration: &'static str,
    fixture: &'static str,
    auth: &'static str,
    secret_name: &'static str,
    secret: &'static str,
    bot_external_id: &'static str,
    bot_id: &'static str,
}

const FRESHSERVICE: Profile = Profile {
    system: System::Freshservice,
    integration: "freshservice",
    fixture: "freshservice.json",
    auth: "type = \"api_key\"\napi_key = \"file:secret\"",
    secret_name: "secret",
    secret: "demo-freshservice-key",
    bot_external_id: "moveworks-bot@acme.com",
    bot_id: "19000000001",
};

/// One system's simulator and a folder with a config for it.
struct One {
    dir: tempfile::TempDir,
    sim: AnySimulator,
    profile: &'static Profile,
}

impl One {
    async fn start(profile: &'static Profile) -> One {
        One::with_data(profile, &fixture(profile.fixture)).await
    }

    async fn with_data(profile: &'static Profile, data: &str) -> One {
        let sim = AnySimulator::start(profile.system, profile.fixture, data, None, true)
            .await
            .expect("the simulator starts");
        let dir = tempfile::tempdir().expect("a temporary folder");
        std::fs::write(dir.path().join(profile.secret_name), profile.secret).expect("write");
        let one = One { dir, sim, profile };
        one.write_config(profile.secret);
        one
    }

    fn write_config(&self, secret: &str) {
        std::fs::write(self.dir.path().join(self.profile.secret_name), secret).expect("write");
        let config = format!(
            "identities = \"identities.toml\"\n\n[[connectors]]\nintegration = \"{}\"\nsystem = \"{}\"\nbase_url = \"{}\"\nrequests_per_minute = 60000\n[connectors.auth]\n{}\n",
            self.profile.integration,
            self.profile.system,
            self.sim.uri(),
            self.profile.auth
        );
        std::fs::write(self.dir.path().join("itsmid.toml"), config).expect("write the config");
    }

    /// The bot (with its entry) and `users`, TOML tables of `[[users]]`.
    fn write_identities(&self, users: &str) {
        let text = format!(
            "[bot]\nunique_record_id = \"moveworks-bot@acme.com\"\n[[bot.itsm]]\nintegration = \"{}\"\nexternal_id = \"{}\"\nitsm_user_id = \"{}\"\n\n{users}",
            self.profile.integration, self.profile.bot_external_id, self.profile.bot_id
        );
        std::fs::write(self.dir.path().join("identities.toml"), text)
            .expect("write the identities");
    }

    async fn check(&self) -> (i32, Value) {
        let output = run_in(self.dir.path(), &["check", "--format", "json"]).await;
        let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
            panic!(
                "not JSON ({err}): {}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
        (output.status.code().unwrap_or(-1), report)
    }
}

/// A `[[users]]` table with one ITSM entry of the profile's integration.
fn user(profile: &Profile, urid: &str, fields: &[(&str, &str)]) -> String {
    let mut text = format!(
        "[[users]]\nunique_record_id = \"{urid}\"\n[[users.itsm]]\nintegration = \"{}\"\n",
        profile.integration
    );
    for (key, value) in fields {
        text.push_str(&format!("{key} = \"{value}\"\n"));
    }
    text
}

/// Checks `users` and asserts one finding `code` on `urid` with `status`.
async fn expect_finding(one: &One, users: &str, urid: &str, code: &str, status: &str) -> Value {
    one.write_identities(users);
    let (exit, report) = one.check().await;
    let found = findings(&report, code);
    assert_eq!(found.len(), 1, "{code} once in {report:#}");
    assert_eq!(found[0]["unique_record_id"], urid);
    let severity = found[0]["severity"].as_str().unwrap_or_default();
    assert_eq!(exit, if severity == "error" { 1 } else { 0 }, "{report:#}");
    assert_eq!(
        entry_of(&report, urid, one.profile.integration)["status"],
        status,
        "{report:#}"
    );
    report
}

#[tokio::test(flavor = "multi_thread")]
async fn freshservice_verifies_the_bot_agent_and_its_credentials() {
    let one = One::start(&FRESHSERVICE).await;
    one.write_identities(&user(
        &FRESHSERVICE,
        "pat@acme.com",
        &[
            ("external_id", "pat@acme.com"),
            ("itsm_user_id", "19000234501"),
        ],
    ));
    let (exit, report) = one.check().await;
    assert_eq!(exit, 0, "{report:#}");
    assert_eq!(report["summary"]["verified"], 2);
    let row = system_row(&report, "freshservice");
    assert_eq!(row["credential_check"], "ok");
    assert_eq!(
        entry_of(&report, "moveworks-bot@acme.com", "freshservice")["found"]["record_kind"],
        "agent"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn freshservice_not_found() {
    let one = One::start(&FRESHSERVICE).await;
    let users = user(
        &FRESHSERVICE,
        "ghost@acme.com",
        &[("external_id", "ghost@acme.com")],
    );
    expect_finding(&one, &users, "ghost@acme.com", "NOT_FOUND", "not_found").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn freshservice_inactive() {
    let one = One::start(&FRESHSERVICE).await;
    let users = user(
        &FRESHSERVICE,
        "beth@acme.com",
        &[("external_id", "beth.anglin@acme.com")],
    );
    expect_finding(&one, &users, "beth@acme.com", "INACTIVE", "inactive").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn freshservice_stale_id_is_a_mismatch() {
    let one = One::start(&FRESHSERVICE).await;
    let users = user(
        &FRESHSERVICE,
        "dana@acme.com",
        &[
            ("external_id", "dana@acme.com"),
            ("itsm_user_id", "19000299999"),
        ],
    );
    let report = expect_finding(
        &one,
        &users,
        "dana@acme.com",
        "ITSM_USER_ID_MISMATCH",
        "mismatch",
    )
    .await;
    assert_eq!(
        findings(&report, "ITSM_USER_ID_MISMATCH")[0]["expected"],
        "19000234503"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn freshservice_malformed_id() {
    let one = One::start(&FRESHSERVICE).await;
    let users = user(
        &FRESHSERVICE,
        "dana@acme.com",
        &[
            ("external_id", "dana@acme.com"),
            ("itsm_user_id", "19000-234503"),
        ],
    );
    expect_finding(
        &one,
        &users,
        "dana@acme.com",
        "MALFORMED_ITSM_USER_ID",
        "mismatch",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn freshservice_missing_id_is_a_warning() {
    let one = One::start(&FRESHSERVICE).await;
    let users = user(
        &FRESHSERVICE,
        "pat@acme.com",
        &[("external_id", "pat@acme.com")],
    );
    let report = expect_finding(
        &one,
        &users,
        "pat@acme.com",
        "ITSM_USER_ID_MISSING",
        "verified",
    )
    .await;
    assert_eq!(
        findings(&report, "ITSM_USER_ID_MISSING")[0]["expected"],
        "19000234501"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn freshservice_capitals_are_not_canonical() {
    let one = One::start(&FRESHSERVICE).await;
    let users = user(
        &FRESHSERVICE,
        "kim@acme.com",
        &[
            ("external_id", "kim.lee@acme.com"),
            ("itsm_user_id", "19000234504"),
        ],
    );
    let report = expect_finding(
        &one,
        &users,
        "kim@acme.com",
        "EXTERNAL_ID_NOT_CANONICAL",
        "verified",
    )
    .await;
    assert_eq!(
        findings(&report, "EXTERNAL_ID_NOT_CANONICAL")[0]["expected"],
        "Kim.Lee@Acme.com"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn freshservice_name_mismatch() {
    let one = One::start(&FRESHSERVICE).await;
    let users = user(
        &FRESHSERVICE,
        "pat@acme.com",
        &[
            ("external_id", "pat@acme.com"),
            ("itsm_user_id", "19000234501"),
            ("full_name", "Patrick Lee"),
        ],
    );
    expect_finding(&one, &users, "pat@acme.com", "NAME_MISMATCH", "verified").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn freshservice_shared_account() {
    let one = One::start(&FRESHSERVICE).await;
    let users = user(
        &FRESHSERVICE,
        "pat@acme.com",
        &[("external_id", "pat@acme.com")],
    ) + &user(
        &FRESHSERVICE,
        "pat2@acme.com",
        &[("external_id", "PAT@acme.com")],
    );
    one.write_identities(&users);
    let (exit, report) = one.check().await;
    assert_eq!(exit, 1);
    assert_eq!(
        findings(&report, "SHARED_ITSM_ACCOUNT").len(),
        2,
        "{report:#}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn freshservice_two_requesters_with_one_email_are_ambiguous() {
    let mut data: Value = serde_json::from_str(&fixture("freshservice.json")).unwrap();
    let requesters = data["requesters"].as_array_mut().unwrap();
    let mut twin = requesters[0].clone();
    twin["id"] = Value::from(19000234599u64);
    requesters.push(twin);
    let one = One::with_data(&FRESHSERVICE, &data.to_string()).await;
    let users = user(
        &FRESHSERVICE,
        "pat@acme.com",
        &[("external_id", "pat@acme.com")],
    );
    expect_finding(&one, &users, "pat@acme.com", "AMBIGUOUS", "ambiguous").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn freshservice_another_agents_key_is_a_credential_mismatch() {
    let one = One::start(&FRESHSERVICE).await;
    one.write_config("other-agent-key");
    one.write_identities("");
    let (exit, report) = one.check().await;
    assert_eq!(exit, 1);
    assert_eq!(
        findings(&report, "BOT_CREDENTIAL_MISMATCH").len(),
        1,
        "{report:#}"
    );
    assert_eq!(
        system_row(&report, "freshservice")["credential_check"],
        "mismatch"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn freshservice_down_leaves_entries_unchecked() {
    let one = One::start(&FRESHSERVICE).await;
    one.sim.faults.set(Fault::Down);
    let users = user(
        &FRESHSERVICE,
        "pat@acme.com",
        &[("external_id", "pat@acme.com")],
    );
    one.write_identities(&users);
    let (exit, report) = one.check().await;
    assert_eq!(exit, 1);
    assert_eq!(system_row(&report, "freshservice")["reason"], "unreachable");
    assert_eq!(
        entry_of(&report, "pat@acme.com", "freshservice")["status"],
        "unchecked"
    );
    assert_eq!(report["complete"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn freshservice_a_wrong_key_is_auth_failed() {
    let one = One::start(&FRESHSERVICE).await;
    one.sim.faults.set(Fault::AuthRejected);
    one.write_identities("");
    let (_, report) = one.check().await;
    let row = system_row(&report, "freshservice");
    assert_eq!(row["reason"], "auth_failed");
    assert_eq!(row["api_requests"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn freshservice_without_a_bot_entry() {
    let one = One::start(&FRESHSERVICE).await;
    std::fs::write(
        one.dir.path().join("identities.toml"),
        "[bot]\nunique_record_id = \"moveworks-bot@acme.com\"\n",
    )
    .unwrap();
    let (exit, report) = one.check().await;
    assert_eq!(exit, 1);
    assert_eq!(
        findings(&report, "BOT_ENTRY_MISSING").len(),
        1,
        "{report:#}"
    );
}
