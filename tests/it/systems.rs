//! `itsmid check` end to end for one system at a time: each finding code
//! that applies to Jira Data Center, Salesforce, Freshservice and
//! ManageEngine, against the system's
//! simulator, through the real binary. The same scenarios run for each
//! system, over its own fixture data.

use itsmid_connectors::System;
use itsmid_connectors::sim::{AnySimulator, Fault};
use serde_json::Value;

use crate::support::{entry_of, findings, fixture, run_in, stdout_json, system_row, write_secret};

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
    /// An active user: External ID, ITSM User ID, full name.
    active: (&'static str, &'static str, &'static str),
    /// The External ID of an inactive user.
    inactive: &'static str,
    /// An id of the system's format that no user has.
    stale_id: &'static str,
    malformed_id: &'static str,
    /// Whether the system says whom the credentials belong to.
    has_credential_check: bool,
}

const SALESFORCE: Profile = Profile {
    system: System::Salesforce,
    integration: "salesforce",
    fixture: "salesforce.json",
    auth: "type = \"bearer\"\ntoken = \"file:secret\"",
    secret_name: "secret",
    secret: "demo-salesforce-token",
    bot_external_id: "moveworks.bot@acme.com.prod",
    bot_id: "0055e000003MwBtAAK",
    active: ("pat@acme.com.prod", "0055e000003PatLAAS", "Pat Lee"),
    inactive: "beth.anglin@acme.com.prod",
    stale_id: "0055e000003Zzz9AAC",
    malformed_id: "0055e000003PatLAAA",
    has_credential_check: true,
};

const FRESHSERVICE: Profile = Profile {
    system: System::Freshservice,
    integration: "freshservice",
    fixture: "freshservice.json",
    auth: "type = \"api_key\"\napi_key = \"file:secret\"",
    secret_name: "secret",
    secret: "demo-freshservice-key",
    bot_external_id: "moveworks-bot@acme.com",
    bot_id: "19000000001",
    active: ("pat@acme.com", "19000234501", "Pat Lee"),
    inactive: "beth.anglin@acme.com",
    stale_id: "19000299999",
    malformed_id: "19000-234503",
    has_credential_check: true,
};

const MANAGEENGINE: Profile = Profile {
    system: System::ManageEngine,
    integration: "manageengine",
    fixture: "manageengine.json",
    auth: "type = \"authtoken\"\ntoken = \"file:secret\"",
    secret_name: "secret",
    secret: "demo-manageengine-authtoken",
    bot_external_id: "moveworks-bot@acme.com",
    bot_id: "123640000000142501",
    active: ("pat@acme.com", "123640000000142502", "Pat Lee"),
    inactive: "beth.anglin@acme.com",
    stale_id: "123640000000199999",
    malformed_id: "12364-0000",
    has_credential_check: false,
};

const JIRA_DC: Profile = Profile {
    system: System::JiraDc,
    integration: "jira_onprem",
    fixture: "jira_dc.json",
    auth: "type = \"bearer\"\ntoken = \"file:secret\"",
    secret_name: "secret",
    secret: "demo-jira-dc-token",
    bot_external_id: "moveworks-bot@acme.com",
    bot_id: "JIRAUSER10000",
    active: ("pat@acme.com", "JIRAUSER10100", "Pat Lee"),
    inactive: "kim.lee@acme.com",
    stale_id: "JIRAUSER19999",
    malformed_id: "Pat Lee <pat@acme.com>",
    has_credential_check: true,
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
        write_secret(dir.path().join(profile.secret_name), profile.secret);
        let one = One { dir, sim, profile };
        one.write_config(profile.secret);
        one
    }

    fn write_config(&self, secret: &str) {
        write_secret(self.dir.path().join(self.profile.secret_name), secret);
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
        let report = stdout_json(&output);
        assert_eq!(report["schema"], "itsmid.report.v1", "{report:#}");
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

/// The scenarios, each generic over the system.
mod scenarios {
    use super::*;

    pub async fn verified(p: &'static Profile) {
        let one = One::start(p).await;
        let (ext, id, _) = p.active;
        one.write_identities(&user(
            p,
            "pat@acme.com",
            &[("external_id", ext), ("itsm_user_id", id)],
        ));
        let (exit, report) = one.check().await;
        assert_eq!(exit, 0, "{report:#}");
        assert_eq!(report["summary"]["verified"], 2);
        assert_eq!(
            entry_of(&report, "pat@acme.com", p.integration)["found"]["itsm_user_id"],
            id
        );
        let expected = if p.has_credential_check {
            "ok"
        } else {
            "unavailable"
        };
        assert_eq!(
            system_row(&report, p.integration)["credential_check"],
            expected
        );
        // Where the API cannot fetch many ids at once, entries are looked up
        // by External ID in bulk and the returned id compared: no id is sent.
        if !p.system.fetches_ids_in_bulk() {
            for request in one.sim.server.received_requests().await.unwrap_or_default() {
                assert!(!request.url.as_str().contains(id), "{}", request.url);
            }
        }
    }

    pub async fn not_found(p: &'static Profile) {
        let one = One::start(p).await;
        let users = user(p, "ghost@acme.com", &[("external_id", "ghost@acme.com")]);
        expect_finding(&one, &users, "ghost@acme.com", "NOT_FOUND", "not_found").await;
    }

    pub async fn inactive(p: &'static Profile) {
        let one = One::start(p).await;
        let users = user(p, "beth@acme.com", &[("external_id", p.inactive)]);
        expect_finding(&one, &users, "beth@acme.com", "INACTIVE", "inactive").await;
    }

    pub async fn stale_id(p: &'static Profile) {
        let one = One::start(p).await;
        let (ext, id, _) = p.active;
        let users = user(
            p,
            "pat@acme.com",
            &[("external_id", ext), ("itsm_user_id", p.stale_id)],
        );
        let report = expect_finding(
            &one,
            &users,
            "pat@acme.com",
            "ITSM_USER_ID_MISMATCH",
            "mismatch",
        )
        .await;
        assert_eq!(
            findings(&report, "ITSM_USER_ID_MISMATCH")[0]["expected"],
            id
        );
    }

    pub async fn malformed_id(p: &'static Profile) {
        let one = One::start(p).await;
        let (ext, _, _) = p.active;
        let users = user(
            p,
            "pat@acme.com",
            &[("external_id", ext), ("itsm_user_id", p.malformed_id)],
        );
        expect_finding(
            &one,
            &users,
            "pat@acme.com",
            "MALFORMED_ITSM_USER_ID",
            "mismatch",
        )
        .await;
        for request in one.sim.server.received_requests().await.unwrap_or_default() {
            assert!(
                !request.url.as_str().contains(p.malformed_id),
                "{}",
                request.url
            );
        }
    }

    pub async fn missing_id(p: &'static Profile) {
        let one = One::start(p).await;
        let (ext, id, _) = p.active;
        let users = user(p, "pat@acme.com", &[("external_id", ext)]);
        let report = expect_finding(
            &one,
            &users,
            "pat@acme.com",
            "ITSM_USER_ID_MISSING",
            "verified",
        )
        .await;
        assert_eq!(findings(&report, "ITSM_USER_ID_MISSING")[0]["expected"], id);
    }

    pub async fn not_canonical(p: &'static Profile) {
        let one = One::start(p).await;
        let (ext, id, _) = p.active;
        let shouted = ext.to_uppercase();
        let users = user(
            p,
            "pat@acme.com",
            &[("external_id", &shouted), ("itsm_user_id", id)],
        );
        let report = expect_finding(
            &one,
            &users,
            "pat@acme.com",
            "EXTERNAL_ID_NOT_CANONICAL",
            "verified",
        )
        .await;
        assert_eq!(
            findings(&report, "EXTERNAL_ID_NOT_CANONICAL")[0]["expected"],
            ext
        );
    }

    pub async fn name_mismatch(p: &'static Profile) {
        let one = One::start(p).await;
        let (ext, id, full_name) = p.active;
        let users = user(
            p,
            "pat@acme.com",
            &[
                ("external_id", ext),
                ("itsm_user_id", id),
                ("full_name", "Somebody Else"),
            ],
        );
        let report =
            expect_finding(&one, &users, "pat@acme.com", "NAME_MISMATCH", "verified").await;
        assert_eq!(findings(&report, "NAME_MISMATCH")[0]["expected"], full_name);
    }

    pub async fn shared_account(p: &'static Profile) {
        let one = One::start(p).await;
        let (ext, _, _) = p.active;
        let users = user(p, "pat@acme.com", &[("external_id", ext)])
            + &user(p, "pat2@acme.com", &[("external_id", &ext.to_uppercase())]);
        one.write_identities(&users);
        let (exit, report) = one.check().await;
        assert_eq!(exit, 1);
        assert_eq!(
            findings(&report, "SHARED_ITSM_ACCOUNT").len(),
            2,
            "{report:#}"
        );
    }

    /// Two records with one External ID, made by copying a user.
    pub async fn ambiguous(p: &'static Profile, list: &str, id_field: &str, twin_id: Value) {
        let mut data: Value = serde_json::from_str(&fixture(p.fixture)).unwrap();
        let (ext, _, _) = p.active;
        let records = data[list].as_array_mut().unwrap();
        let original = records
            .iter()
            .find(|r| r.to_string().contains(ext))
            .unwrap()
            .clone();
        let mut twin = original;
        twin[id_field] = twin_id;
        records.push(twin);
        let one = One::with_data(p, &data.to_string()).await;
        let users = user(p, "pat@acme.com", &[("external_id", ext)]);
        expect_finding(&one, &users, "pat@acme.com", "AMBIGUOUS", "ambiguous").await;
    }

    pub async fn down(p: &'static Profile) {
        let one = One::start(p).await;
        one.sim.faults.set(Fault::Down);
        let (ext, _, _) = p.active;
        one.write_identities(&user(p, "pat@acme.com", &[("external_id", ext)]));
        let (exit, report) = one.check().await;
        assert_eq!(exit, 1);
        let row = system_row(&report, p.integration);
        assert_eq!(row["status"], "unavailable");
        assert_eq!(row["reason"], "unreachable");
        assert_eq!(
            entry_of(&report, "pat@acme.com", p.integration)["status"],
            "unchecked"
        );
        assert_eq!(
            findings(&report, "SYSTEM_UNAVAILABLE")[0]["unique_record_id"],
            Value::Null
        );
        assert_eq!(report["complete"], false);
    }

    pub async fn auth_failed(p: &'static Profile) {
        let one = One::start(p).await;
        one.write_config("not-the-right-secret");
        one.write_identities("");
        let (exit, report) = one.check().await;
        assert_eq!(exit, 1);
        let row = system_row(&report, p.integration);
        assert_eq!(row["reason"], "auth_failed", "{report:#}");
        assert_eq!(row["api_requests"], 1, "a refused login is not retried");
    }

    pub async fn bot_entry_missing(p: &'static Profile) {
        let one = One::start(p).await;
        std::fs::write(
            one.dir.path().join("identities.toml"),
            "[bot]\nunique_record_id = \"moveworks-bot@acme.com\"\n",
        )
        .unwrap();
        let (exit, report) = one.check().await;
        assert_eq!(exit, 1);
        let found = findings(&report, "BOT_ENTRY_MISSING");
        assert_eq!(found.len(), 1, "{report:#}");
        assert_eq!(found[0]["integration"], p.integration);
    }

    pub async fn duplicate_and_unknown_integration(p: &'static Profile) {
        let one = One::start(p).await;
        let (ext, _, _) = p.active;
        let users = format!(
            "{}[[users.itsm]]\nintegration = \"{}\"\nexternal_id = \"{ext}\"\n[[users.itsm]]\nintegration = \"{}\"\nexternal_id = \"{ext}\"\n",
            user(p, "pat@acme.com", &[("external_id", ext)]),
            p.integration,
            p.integration.to_uppercase()
        );
        one.write_identities(&users);
        let (exit, report) = one.check().await;
        assert_eq!(exit, 1);
        assert_eq!(findings(&report, "DUPLICATE_ENTRY").len(), 1, "{report:#}");
        let unknown = findings(&report, "UNKNOWN_INTEGRATION");
        assert_eq!(unknown.len(), 1);
        assert_eq!(unknown[0]["expected"], p.integration);
    }
}

/// The same scenarios for each system.
macro_rules! scenarios_for {
    ($name:ident, $profile:expr) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread")]
            async fn an_entry_in_order_is_verified() {
                scenarios::verified(&$profile).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn an_unknown_external_id_is_not_found() {
                scenarios::not_found(&$profile).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn an_inactive_user_is_inactive() {
                scenarios::inactive(&$profile).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn a_stale_id_is_a_mismatch_with_the_right_id() {
                scenarios::stale_id(&$profile).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn a_malformed_id_is_reported_and_never_sent() {
                scenarios::malformed_id(&$profile).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn a_missing_id_is_a_warning_with_the_id() {
                scenarios::missing_id(&$profile).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn an_external_id_in_capitals_is_not_canonical() {
                scenarios::not_canonical(&$profile).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn a_different_name_is_a_name_mismatch() {
                scenarios::name_mismatch(&$profile).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn two_identities_on_one_account_share_it() {
                scenarios::shared_account(&$profile).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn a_system_that_is_down_leaves_entries_unchecked() {
                scenarios::down(&$profile).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn refused_credentials_are_auth_failed_without_retries() {
                scenarios::auth_failed(&$profile).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn a_connector_without_a_bot_entry_is_reported() {
                scenarios::bot_entry_missing(&$profile).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn duplicates_and_unknown_integrations_are_reported() {
                scenarios::duplicate_and_unknown_integration(&$profile).await;
            }
        }
    };
}

scenarios_for!(jira_dc, JIRA_DC);
scenarios_for!(salesforce, SALESFORCE);
scenarios_for!(freshservice, FRESHSERVICE);
scenarios_for!(manageengine, MANAGEENGINE);

#[tokio::test(flavor = "multi_thread")]
async fn freshservice_two_requesters_with_one_email_are_ambiguous() {
    scenarios::ambiguous(
        &FRESHSERVICE,
        "requesters",
        "id",
        Value::from(19000234599u64),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn manageengine_two_users_with_one_email_are_ambiguous() {
    scenarios::ambiguous(
        &MANAGEENGINE,
        "users",
        "id",
        Value::from("123640000000142599"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn salesforce_two_users_with_one_username_are_ambiguous() {
    scenarios::ambiguous(
        &SALESFORCE,
        "records",
        "Id",
        Value::from("0055e000003Zzz9AAC"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn salesforce_a_fifteen_character_id_is_the_same_record() {
    let one = One::start(&SALESFORCE).await;
    one.write_identities(&user(
        &SALESFORCE,
        "pat@acme.com",
        &[
            ("external_id", "pat@acme.com.prod"),
            ("itsm_user_id", "0055e000003PatL"),
        ],
    ));
    let (exit, report) = one.check().await;
    assert_eq!(exit, 0, "{report:#}");
    let entry = entry_of(&report, "pat@acme.com", "salesforce");
    assert_eq!(entry["status"], "verified");
    assert_eq!(entry["found"]["itsm_user_id"], "0055e000003PatLAAS");
}

#[tokio::test(flavor = "multi_thread")]
async fn salesforce_client_credentials_of_another_user_are_a_credential_mismatch() {
    let one = One::start(&SALESFORCE).await;
    let uri = one.sim.uri();
    let config = format!(
        "identities = \"identities.toml\"\n[[connectors]]\nintegration = \"salesforce\"\nsystem = \"salesforce\"\nbase_url = \"{uri}\"\n[connectors.auth]\ntype = \"client_credentials\"\ntoken_url = \"{uri}/services/oauth2/token\"\nclient_id = \"other-client\"\nclient_secret = \"file:client-secret\"\n"
    );
    std::fs::write(one.dir.path().join("itsmid.toml"), config).unwrap();
    write_secret(one.dir.path().join("client-secret"), "other-secret");
    one.write_identities("");
    let (exit, report) = one.check().await;
    assert_eq!(exit, 1);
    assert_eq!(
        findings(&report, "BOT_CREDENTIAL_MISMATCH").len(),
        1,
        "{report:#}"
    );
    let row = system_row(&report, "salesforce");
    assert_eq!(row["credential_check"], "mismatch");
    assert!(
        row["api_requests"].as_u64().unwrap() >= 3,
        "token, userinfo, lookup: {row}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn salesforce_a_bad_checksum_is_malformed_before_any_request() {
    let one = One::start(&SALESFORCE).await;
    one.write_identities(&user(
        &SALESFORCE,
        "dana@acme.com",
        &[("itsm_user_id", "0055e000003DnaRAAA")],
    ));
    let (exit, report) = one.check().await;
    assert_eq!(exit, 1);
    assert_eq!(
        findings(&report, "MALFORMED_ITSM_USER_ID").len(),
        1,
        "{report:#}"
    );
    for request in one.sim.server.received_requests().await.unwrap_or_default() {
        assert!(!request.url.as_str().contains("DnaRAAA"), "{}", request.url);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn freshservice_the_bot_is_found_among_agents() {
    let one = One::start(&FRESHSERVICE).await;
    one.write_identities("");
    let (_, report) = one.check().await;
    assert_eq!(
        entry_of(&report, "moveworks-bot@acme.com", "freshservice")["found"]["record_kind"],
        "agent"
    );
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
async fn manageengine_cloud_logs_in_with_a_zoho_refresh_token() {
    let one = One::start(&MANAGEENGINE).await;
    let uri = one.sim.uri();
    let config = format!(
        "identities = \"identities.toml\"\n[[connectors]]\nintegration = \"manageengine\"\nsystem = \"manageengine\"\nbase_url = \"{uri}/app/itdesk\"\n[connectors.auth]\ntype = \"zoho_oauth\"\ntoken_url = \"{uri}/oauth/v2/token\"\nclient_id = \"demo-zoho-client\"\nclient_secret = \"file:zoho-secret\"\nrefresh_token = \"file:zoho-refresh\"\n"
    );
    std::fs::write(one.dir.path().join("itsmid.toml"), config).unwrap();
    write_secret(one.dir.path().join("zoho-secret"), "demo-zoho-secret");
    write_secret(one.dir.path().join("zoho-refresh"), "demo-zoho-refresh");
    one.write_identities("");
    let (exit, report) = one.check().await;
    assert_eq!(exit, 0, "{report:#}");
    assert_eq!(report["summary"]["verified"], 1);
    assert_eq!(
        system_row(&report, "manageengine")["api_requests"],
        2,
        "one token request, one lookup"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn resolve_writes_a_fifteen_character_salesforce_id_in_its_eighteen_character_form() {
    let one = One::start(&SALESFORCE).await;
    one.write_identities(&user(
        &SALESFORCE,
        "pat@acme.com",
        &[
            ("external_id", "pat@acme.com.prod"),
            ("itsm_user_id", "0055e000003PatL"),
        ],
    ));
    let output = run_in(one.dir.path(), &["resolve", "--write", "--format", "json"]).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let plan: Value = serde_json::from_slice(&output.stdout).unwrap();
    let pat = plan["identities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["unique_record_id"] == "pat@acme.com")
        .expect("pat");
    let change = pat["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["field"] == "itsm_user_id")
        .cloned()
        .expect("the id is proposed");
    assert_eq!(change["old"], "0055e000003PatL");
    assert_eq!(change["new"], "0055e000003PatLAAS");
    assert!(
        change["reason"].as_str().unwrap().contains("18-character"),
        "{change}"
    );
    let text = std::fs::read_to_string(one.dir.path().join("identities.toml")).unwrap();
    assert!(
        text.contains("itsm_user_id = \"0055e000003PatLAAS\""),
        "{text}"
    );
}
