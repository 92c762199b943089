//! Benchmark of `itsmid check` at scale: for each implemented system, a
//! simulator holding 10,000 users and an identities file of 10,000 manual
//! users whose ITSM User IDs are stored. Prints requests per entry and the
//! wall time against the floor that the configured rate limit allows, with
//! the figures one request per entry would give beside them.
//!
//! Then, per system, what the bot readiness probe costs: the same check of
//! a bot and a few manual users with the probe off and on.
//!
//! Run with `cargo bench --bench check` (`-- --entries N --rpm R --users U`
//! to change the sizes and the rate limit). Prints figures; asserts nothing.

use std::time::Instant;

use itsmid_connectors::System;
use itsmid_connectors::sim::AnySimulator;
use serde_json::Value;

/// How to grow one system's fixture and log in to it.
struct Shape {
    system: System,
    fixture: &'static str,
    /// Where the user list sits in the fixture.
    list: &'static str,
    id_field: &'static str,
    external_field: &'static str,
    /// A field that must be unique besides the two (Jira Data Center's
    /// user name), set to `bench.user<i>`.
    login_field: Option<&'static str>,
    auth: &'static str,
    secret: &'static str,
    /// The External ID of the account the credentials log in as.
    bot: &'static str,
    /// `[connectors.readiness]` keys for the probe's full cost.
    readiness: &'static str,
}

const SHAPES: &[Shape] = &[
    Shape {
        system: System::ServiceNow,
        fixture: "servicenow.json",
        list: "result",
        id_field: "sys_id",
        external_field: "user_name",
        login_field: None,
        auth: "type = \"basic\"\nusername = \"moveworks.bot\"\npassword = \"file:secret\"",
        secret: "demo-snow-password",
        bot: "moveworks.bot",
        readiness: "",
    },
    Shape {
        system: System::Jira,
        fixture: "jira.json",
        list: "values",
        id_field: "accountId",
        external_field: "emailAddress",
        login_field: None,
        auth: "type = \"basic\"\nusername = \"moveworks-bot@acme.com\"\npassword = \"file:secret\"",
        secret: "demo-jira-token",
        bot: "moveworks-bot@acme.com",
        readiness: "project = \"HELP\"",
    },
    Shape {
        system: System::JiraDc,
        fixture: "jira_dc.json",
        list: "users",
        id_field: "key",
        external_field: "emailAddress",
        login_field: Some("name"),
        auth: "type = \"bearer\"\ntoken = \"file:secret\"",
        secret: "demo-jira-dc-token",
        bot: "moveworks-bot@acme.com",
        readiness: "project = \"ITSD\"",
    },
    Shape {
        system: System::Salesforce,
        fixture: "salesforce.json",
        list: "records",
        id_field: "Id",
        external_field: "Username",
        login_field: None,
        auth: "type = \"bearer\"\ntoken = \"file:secret\"",
        secret: "demo-salesforce-token",
        bot: "moveworks.bot@acme.com.prod",
        readiness: "",
    },
    Shape {
        system: System::Freshservice,
        fixture: "freshservice.json",
        list: "requesters",
        id_field: "id",
        external_field: "primary_email",
        login_field: None,
        auth: "type = \"api_key\"\napi_key = \"file:secret\"",
        secret: "demo-freshservice-key",
        bot: "moveworks-bot@acme.com",
        readiness: "",
    },
    Shape {
        system: System::ManageEngine,
        fixture: "manageengine.json",
        list: "users",
        id_field: "id",
        external_field: "email_id",
        login_field: None,
        auth: "type = \"authtoken\"\ntoken = \"file:secret\"",
        secret: "demo-manageengine-authtoken",
        bot: "moveworks-bot@acme.com",
        readiness: "",
    },
];

/// The id of generated user `i` in the system's own format.
fn generated_id(system: System, i: usize) -> Value {
    match system {
        System::ServiceNow => Value::from(format!("{:032x}", 0xbe00_0000_usize + i)),
        System::Jira => Value::from(format!("5b10ac8d82e05b22{:08x}", i)),
        System::JiraDc => Value::from(format!("JIRAUSER{}", 200_000 + i)),
        System::Freshservice => Value::from(30_000_000_000u64 + i as u64),
        System::Salesforce => Value::from(salesforce_id(i)),
        System::ManageEngine => Value::from(format!("{}", 123_640_000_000_000_000u64 + i as u64)),
    }
}

/// A valid 18-character Salesforce Id for user `i`.
fn salesforce_id(i: usize) -> String {
    let base = format!("0055e{:010}", i);
    itsmid_connectors::System::Salesforce
        .parse_itsm_user_id(&base)
        .map(|id| id.into_string())
        .unwrap_or(base)
}

fn id_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

struct Figures {
    system: System,
    entries: usize,
    requests: u64,
    seconds: f64,
    floor: f64,
    verified: u64,
}

async fn run_one(shape: &Shape, entries: usize, rpm: u32) -> Figures {
    let report = check(shape, entries, rpm, None).await;
    Figures {
        system: shape.system,
        entries,
        requests: u64::from(report.0.summary.api_requests),
        seconds: report.1,
        // The limiter lets the first request go at once, then one per period.
        floor: u64::from(report.0.summary.api_requests).saturating_sub(1) as f64 * 60.0
            / f64::from(rpm),
        verified: report.0.summary.verified as u64,
    }
}

/// The requests of a check of the bot and `users` manual users with the
/// readiness probe off, and on.
async fn probe_cost(shape: &Shape, users: usize) -> (u32, u32, String) {
    let off = check(shape, users, 60_000, Some("enabled = false")).await.0;
    let on = check(shape, users, 60_000, Some(shape.readiness)).await.0;
    let row = on.systems.first().expect("one system");
    let readiness = row.readiness.as_str().to_owned();
    (off.summary.api_requests, on.summary.api_requests, readiness)
}

/// One check over the fixture grown by `entries` users, each an entry of
/// a manual user; with `readiness`, the bot too and that readiness table.
async fn check(
    shape: &Shape,
    entries: usize,
    rpm: u32,
    readiness: Option<&str>,
) -> (itsmid::report::Report, f64) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let text =
        std::fs::read_to_string(root.join("fixtures").join(shape.fixture)).expect("the fixture");
    let mut data: Value = serde_json::from_str(&text).expect("fixture JSON");
    let list = data[shape.list].as_array_mut().expect("the user list");
    let template = list.first().cloned().expect("a user to copy");
    let mut users = String::new();
    for i in 0..entries {
        let mut user = template.clone();
        let id = generated_id(shape.system, i);
        let external = format!("bench.user{i}@acme.com");
        user[shape.id_field] = id.clone();
        user[shape.external_field] = Value::from(external.clone());
        if let Some(field) = shape.login_field {
            user[field] = Value::from(format!("bench.user{i}"));
        }
        if let Some(object) = user.as_object_mut() {
            object.remove("itsmid_sim_hidden_email");
        }
        list.push(user);
        users.push_str(&format!(
            "[[users]]\nunique_record_id = \"{external}\"\n[[users.itsm]]\nintegration = \"bench\"\nexternal_id = \"{external}\"\nitsm_user_id = \"{}\"\n",
            id_text(&id)
        ));
    }
    let sim = AnySimulator::start(shape.system, shape.fixture, &data.to_string(), None, false)
        .await
        .expect("the simulator starts");
    let dir = std::env::temp_dir().join(format!(
        "itsmid-bench-{}-{}",
        shape.system,
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("a folder");
    std::fs::write(dir.join("secret"), shape.secret).expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ =
            std::fs::set_permissions(dir.join("secret"), std::fs::Permissions::from_mode(0o600));
    }
    let bot = match readiness {
        Some(_) => format!(
            "[bot]\nunique_record_id = \"bot@bench\"\n[[bot.itsm]]\nintegration = \"bench\"\nexternal_id = \"{}\"\n",
            shape.bot
        ),
        None => String::new(),
    };
    std::fs::write(dir.join("identities.toml"), format!("{bot}{users}")).expect("write");
    std::fs::write(
        dir.join("itsmid.toml"),
        format!(
            "identities = \"identities.toml\"\n[[connectors]]\nintegration = \"bench\"\nsystem = \"{}\"\nbase_url = \"{}\"\nrequests_per_minute = {rpm}\n[connectors.auth]\n{}\n{}",
            shape.system,
            sim.uri(),
            shape.auth,
            readiness
                .map(|keys| format!("[connectors.readiness]\n{keys}\n"))
                .unwrap_or_default()
        ),
    )
    .expect("write");
    let (config, identities) =
        itsmid::app::load_inputs(&dir.join("itsmid.toml")).expect("valid inputs");
    let started = Instant::now();
    let report = itsmid::app::check(&config, &identities)
        .await
        .expect("the check runs")
        .report;
    let seconds = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&dir);
    (report, seconds)
}

fn argument(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let entries = argument("--entries", 10_000);
    let rpm = argument("--rpm", 600) as u32;
    println!(
        "itsmid check benchmark: {entries} entries with ITSM User IDs stored, requests_per_minute = {rpm}"
    );
    println!(
        "{:<13} {:>8} {:>9} {:>9} {:>8} {:>8} {:>6} | {:>13} {:>12}",
        "system",
        "verified",
        "requests",
        "req/entry",
        "wall s",
        "floor s",
        "ratio",
        "1/entry: req",
        "1/entry: s"
    );
    for shape in SHAPES.iter() {
        let f = run_one(shape, entries, rpm).await;
        let ratio = if f.floor > 0.0 {
            f.seconds / f.floor
        } else {
            f64::NAN
        };
        let naive_requests = f.entries as f64;
        let naive_seconds = (naive_requests - 1.0) * 60.0 / f64::from(rpm);
        println!(
            "{:<13} {:>8} {:>9} {:>9.4} {:>8.2} {:>8.2} {:>6.2} | {:>13.0} {:>12.0}",
            f.system.as_str(),
            f.verified,
            f.requests,
            f.requests as f64 / f.entries as f64,
            f.seconds,
            f.floor,
            ratio,
            naive_requests,
            naive_seconds
        );
    }
    let users = argument("--users", 10);
    println!(
        "\nbot readiness probe: a check of the bot and {users} manual users, the probe off and on"
    );
    println!(
        "{:<13} {:>12} {:>11} {:>11} {:>11}",
        "system", "requests off", "requests on", "probe cost", "readiness"
    );
    for shape in SHAPES.iter() {
        let (off, on, readiness) = probe_cost(shape, users).await;
        println!(
            "{:<13} {:>12} {:>11} {:>11} {:>11}",
            shape.system.as_str(),
            off,
            on,
            i64::from(on) - i64::from(off),
            readiness
        );
    }
}
