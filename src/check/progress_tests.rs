//! The check counts its progress as it goes: the systems done and the
//! entries judged, against a ServiceNow simulator on loopback.

use std::path::Path;

use itsmid_connectors::System;
use itsmid_connectors::sim::AnySimulator;

use super::*;
use crate::config::Config;
use crate::progress::{Counts, Progress};

const IDENTITIES: &str = r#"
[bot]
unique_record_id = "moveworks-bot@acme.com"

[[bot.itsm]]
integration = "snow"
external_id = "moveworks.bot"

[[bot.itsm]]
integration = "jira"
external_id = "moveworks-bot@acme.com"

[[users]]
unique_record_id = "pat@acme.com"

[[users.itsm]]
integration = "snow"
external_id = "pat.lee"

[[users.itsm]]
integration = "zendesk"
external_id = "pat@acme.com"
"#;

#[tokio::test]
async fn a_check_counts_every_system_done_and_every_entry_judged() {
    let data = include_str!("../../fixtures/servicenow.json");
    let sim = AnySimulator::start(System::ServiceNow, "servicenow.json", data, None, false)
        .await
        .expect("the simulator starts");
    let dir = tempfile::tempdir().expect("dir");
    crate::private_file::write(&dir.path().join("pw"), b"demo-snow-password").expect("secret");
    let text = format!(
        "identities = \"identities.toml\"\n\
         [[connectors]]\nintegration = \"snow\"\nsystem = \"servicenow\"\nbase_url = \"{}\"\n\
         requests_per_minute = 60000\n\
         [connectors.auth]\ntype = \"basic\"\nusername = \"moveworks.bot\"\npassword = \"file:pw\"\n\
         [[connectors]]\nintegration = \"jira\"\nsystem = \"jira\"\nbase_url = \"http://127.0.0.1:9\"\n\
         [connectors.auth]\ntype = \"basic\"\nusername = \"moveworks-bot@acme.com\"\npassword = \"file:pw\"\n",
        sim.uri()
    );
    let config = Config::parse(&dir.path().join("itsmid.toml"), &text).expect("config");
    let identities =
        Identities::parse(Path::new("identities.toml"), IDENTITIES, &[]).expect("identities");
    let connected = connect(&config).expect("connectors");
    // Jira is held back, so no request leaves for it; ServiceNow answers.
    let held = Held::from([(
        "jira".to_owned(),
        crate::check::Hold::Until("2030-01-01T00:00:00Z".to_owned()),
    )]);
    let progress = Progress::new();

    let run = run_observed(&identities, &connected, &held, &progress).await;

    assert_eq!(run.report.summary.entries, 4);
    assert_eq!(
        progress.counts(),
        Counts {
            systems_total: 2,
            systems_done: 2,
            entries_total: 4,
            entries_judged: 4,
            rows_read: 0,
        }
    );
}
