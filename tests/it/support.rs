//! Starts simulators, writes a config and identities file, runs the binary.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use itsmid_connectors::System;
use itsmid_connectors::sim::{AnySimulator, Fault};
use serde_json::Value;

pub const SNOW_PASSWORD: &str = "demo-snow-password";
pub const JIRA_TOKEN: &str = "demo-jira-token";

pub fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// Writes a secret file as SPEC section 3 asks: readable by its owner only
/// (a secret file that group or others can read is refused).
pub fn write_secret(path: impl AsRef<Path>, value: impl AsRef<[u8]>) {
    let path = path.as_ref();
    std::fs::write(path, value).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    }
}

/// A test's world: a temporary folder and the simulators it points at.
pub struct World {
    pub dir: tempfile::TempDir,
    pub snow: AnySimulator,
    pub jira: AnySimulator,
}

impl World {
    /// Both simulators over the repository's fixture data.
    pub async fn start() -> World {
        World::with_data(&fixture("servicenow.json"), &fixture("jira.json")).await
    }

    pub async fn with_data(snow: &str, jira: &str) -> World {
        let snow = AnySimulator::start(System::ServiceNow, "servicenow.json", snow, None, true)
            .await
            .expect("the ServiceNow simulator starts");
        let jira = AnySimulator::start(System::Jira, "jira.json", jira, None, true)
            .await
            .expect("the Jira simulator starts");
        let world = World {
            dir: tempfile::tempdir().expect("a temporary folder"),
            snow,
            jira,
        };
        write_secret(world.dir.path().join("snow-password"), SNOW_PASSWORD);
        write_secret(world.dir.path().join("jira-token"), JIRA_TOKEN);
        world.write_config("");
        world
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The standard config for both systems, plus `extra` TOML appended to
    /// the Jira connector's table.
    pub fn write_config(&self, jira_auth_user: &str) {
        let jira_user = if jira_auth_user.is_empty() {
            "moveworks-bot@acme.com"
        } else {
            jira_auth_user
        };
        let config = format!(
            r#"identities = "identities.toml"

[[connectors]]
integration = "snow"
system = "servicenow"
base_url = "{snow}"
requests_per_minute = 60000
[connectors.auth]
type = "basic"
username = "moveworks.bot"
password = "file:snow-password"

[[connectors]]
integration = "jira_service_desk"
system = "jira"
base_url = "{jira}"
requests_per_minute = 60000
[connectors.auth]
type = "basic"
username = "{jira_user}"
password = "file:jira-token"
"#,
            snow = self.snow.uri(),
            jira = self.jira.uri(),
        );
        std::fs::write(self.path().join("itsmid.toml"), config).expect("write the config");
    }

    pub fn write_identities(&self, text: &str) {
        std::fs::write(self.path().join("identities.toml"), text).expect("write the identities");
    }

    pub fn fault(&self, system: System, fault: Fault) {
        match system {
            System::ServiceNow => self.snow.faults.set(fault),
            _ => self.jira.faults.set(fault),
        }
    }

    /// Runs `itsmid ARGS` in the folder, off the async runtime.
    pub async fn run(&self, args: &[&str]) -> Output {
        run_in(self.path(), args).await
    }

    /// `itsmid check --format json`: the exit code and the parsed report,
    /// valid against `schemas/report.v1.schema.json`.
    pub async fn check(&self) -> (i32, Value) {
        let output = self.run(&["check", "--format", "json"]).await;
        let report = stdout_json(&output);
        assert_eq!(report["schema"], "itsmid.report.v1", "{report:#}");
        (output.status.code().unwrap_or(-1), report)
    }
}

/// The published JSON Schemas (`schemas/`), by the `schema` value of the
/// documents they describe.
const SCHEMAS: [(&str, &str); 3] = [
    (
        "itsmid.report.v1",
        include_str!("../../schemas/report.v1.schema.json"),
    ),
    (
        "itsmid.load.v1",
        include_str!("../../schemas/load.v1.schema.json"),
    ),
    (
        "itsmid.recording.v1",
        include_str!("../../schemas/recording.v1.schema.json"),
    ),
];

/// Each published schema compiled once for the whole test binary.
fn validators() -> &'static [(&'static str, jsonschema::Validator)] {
    static VALIDATORS: OnceLock<Vec<(&'static str, jsonschema::Validator)>> = OnceLock::new();
    VALIDATORS.get_or_init(|| {
        SCHEMAS
            .iter()
            .map(|(name, text)| {
                let schema: Value = serde_json::from_str(text)
                    .unwrap_or_else(|err| panic!("the schema of {name} is not JSON: {err}"));
                let validator = jsonschema::draft202012::options()
                    .should_validate_formats(true)
                    .build(&schema)
                    .unwrap_or_else(|err| panic!("the schema of {name} does not compile: {err}"));
                (*name, validator)
            })
            .collect()
    })
}

/// Every way `document` breaks the published schema its `schema` field
/// names, each as `path: problem`; empty when it conforms. `None` when no
/// schema is published for it (lint, resolve, explain, history and diff
/// output, `users` listings).
pub fn schema_violations(document: &Value) -> Option<Vec<String>> {
    let name = document.get("schema")?.as_str()?;
    let (_, validator) = validators().iter().find(|(known, _)| *known == name)?;
    Some(
        validator
            .iter_errors(document)
            .map(|error| format!("{}: {error}", error.instance_path()))
            .collect(),
    )
}

/// Panics unless `document` conforms to the published schema its `schema`
/// field names. Every JSON document the tests read from the binary passes
/// through it, so a report that breaks its schema fails each test that
/// sees one.
pub fn assert_matches_schema(document: &Value) {
    if let Some(violations) = schema_violations(document)
        && !violations.is_empty()
    {
        panic!(
            "the {} document breaks its schema:\n  {}\n{document:#}",
            document["schema"],
            violations.join("\n  ")
        );
    }
}

/// The binary's stdout as one JSON document, checked against its schema.
pub fn stdout_json(output: &Output) -> Value {
    let document: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "stdout is not JSON ({err}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert_matches_schema(&document);
    document
}

pub async fn run_in(dir: &Path, args: &[&str]) -> Output {
    run_with_env(dir, args, &[]).await
}

/// Runs `itsmid ARGS` in `dir` with extra environment variables.
pub async fn run_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir: PathBuf = dir.to_path_buf();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let mut command = assert_cmd::Command::cargo_bin("itsmid").expect("the binary is built");
        command
            .args(&args)
            .current_dir(&dir)
            .env_remove("ITSMID_CONFIG")
            .env_remove("RUST_LOG")
            .timeout(std::time::Duration::from_secs(120));
        for (key, value) in env {
            command.env(key, value);
        }
        command.output().expect("the binary runs")
    })
    .await
    .expect("the command thread finishes")
}

/// The bot with verified entries in both systems.
pub const BOT: &str = r#"
[bot]
email_addr = "moveworks-bot@acme.com"
unique_record_id = "moveworks-bot@acme.com"
full_name = "Moveworks Bot"

[[bot.itsm]]
integration = "snow"
external_id = "moveworks.bot"
itsm_user_id = "6816f79cc0a8016401c5a33be04be441"

[[bot.itsm]]
integration = "jira_service_desk"
external_id = "moveworks-bot@acme.com"
itsm_user_id = "5b10ac8d82e05b22cc7d4ef5"
"#;

/// The bot plus one manual user with the given ITSM entries.
pub fn with_user(urid: &str, entries: &str) -> String {
    format!("{BOT}\n[[users]]\nemail_addr = \"{urid}\"\nunique_record_id = \"{urid}\"\n{entries}")
}

/// One `[[users.itsm]]` table.
pub fn entry(integration: &str, fields: &[(&str, &str)]) -> String {
    let mut text = format!("[[users.itsm]]\nintegration = \"{integration}\"\n");
    for (key, value) in fields {
        text.push_str(&format!("{key} = \"{value}\"\n"));
    }
    text
}

/// The findings of a report with the given code.
pub fn findings<'a>(report: &'a Value, code: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .map(|all| all.iter().filter(|f| f["code"] == code).collect())
        .unwrap_or_default()
}

/// The codes of all findings, sorted.
pub fn codes(report: &Value) -> Vec<String> {
    let mut codes: Vec<String> = report["findings"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(|f| f["code"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    codes.sort();
    codes
}

/// The entry of identity `urid` for `integration` (its first).
pub fn entry_of<'a>(report: &'a Value, urid: &str, integration: &str) -> &'a Value {
    report["identities"]
        .as_array()
        .and_then(|ids| ids.iter().find(|i| i["unique_record_id"] == urid))
        .and_then(|i| i["entries"].as_array())
        .and_then(|es| es.iter().find(|e| e["integration"] == integration))
        .unwrap_or_else(|| panic!("no entry {urid}/{integration} in {report:#}"))
}

pub fn system_row<'a>(report: &'a Value, integration: &str) -> &'a Value {
    report["systems"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["integration"] == integration))
        .unwrap_or_else(|| panic!("no system row {integration} in {report:#}"))
}
