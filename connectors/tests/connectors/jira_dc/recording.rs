//! Recording Jira Data Center (SPEC section 8): a check against the
//! simulator over `fixtures/jira_dc.json` with `record` on, its answers
//! turned into simulator data, and the same check replayed against a new
//! simulator over that data with the placeholder secret "replay", basic or
//! bearer: the owner, every lookup and the readiness must come out equal.
//! More than a hundred keys replay as a listing of the directory when the
//! recorded version lists (Jira 9), and key by key when it does not (10).
//!
//! Also: the same answers give the same bytes, the data holds no live
//! address and no credential, and a recording's simulator answers without
//! any credential.

use itsmid_connectors::jira_dc::Client;
use itsmid_connectors::jira_dc::sim::SimData;
use itsmid_connectors::recording::Exchange;
use itsmid_connectors::sim::AnySimulator;
use itsmid_connectors::{
    Connector, ConnectorSettings, Credentials, Lookup, LookupKey, Readiness, ReadinessKind, System,
};
use serde_json::{Value, json};

use super::{
    BOT_KEY, BOT_TOKEN, KIM_KEY, PAT_KEY, SEARCH_PATH, SERVER_INFO_PATH, USER_PATH, by_external,
    by_key, listing_page, queries_at,
};
use crate::jira::recording::{Run, check, data_file};
use crate::support::{basic, bearer, fixture, settings};

const ADMIN_KEY: &str = "JIRAUSER10300";
const BOT_LOGIN: &str = "moveworks-bot";
const BOT_PASSWORD: &str = "demo-jira-dc-password";
/// The secret every replayed connector is configured with.
const PLACEHOLDER: &str = "replay";

/// Found, inactive, not found, by key and by e-mail.
fn keys() -> Vec<LookupKey> {
    vec![
        by_key(BOT_KEY),
        by_key(PAT_KEY),
        by_key(KIM_KEY),
        by_key("dana.ross"),
        by_key("JIRAUSER99999"),
        by_external("Pat@Acme.com"),
        by_external("kim.lee@acme.com"),
        by_external("jira-admin@acme.com"),
        by_external("pat@acme.co"),
        by_external("nobody@acme.com"),
    ]
}

/// Pat and Dana are the desk's customers, the administrator is not.
fn manual() -> Vec<LookupKey> {
    vec![
        by_key(PAT_KEY),
        by_key("dana.ross"),
        by_external("jira-admin@acme.com"),
    ]
}

async fn simulator(data: &str) -> AnySimulator {
    AnySimulator::start(System::JiraDc, "jira_dc.json", data, None, true)
        .await
        .expect("the data starts a simulator")
}

fn connector_settings(
    sim: &AnySimulator,
    credentials: Credentials,
    project: Option<&str>,
    record: bool,
) -> ConnectorSettings {
    let mut settings = settings(System::JiraDc, &sim.server, credentials);
    settings.http.record = record;
    settings.readiness.project = project.map(str::to_owned);
    settings
}

fn connector(
    sim: &AnySimulator,
    credentials: Credentials,
    project: Option<&str>,
    record: bool,
) -> Client {
    Client::new(connector_settings(sim, credentials, project, record)).expect("valid settings")
}

/// A check on `sim` with recording on, and the data file it makes.
async fn record(
    jira: &Client,
    keys: &[LookupKey],
    manual: &[LookupKey],
) -> (Run, Vec<Exchange>, String) {
    let run = check(jira, keys, manual).await;
    let exchanges = jira.http().recorded();
    let data = data_file(System::JiraDc, &run, &exchanges);
    (run, exchanges, data)
}

fn kinds(found: &Readiness) -> Vec<ReadinessKind> {
    found.problems.iter().map(|p| p.kind).collect()
}

#[tokio::test]
async fn the_service_desk_project_replays_to_the_same_owner_lookups_and_readiness() {
    let live = simulator(&fixture("jira_dc.json")).await;
    let jira = connector(&live, basic(BOT_LOGIN, BOT_PASSWORD), Some("ITSD"), true);
    let (run, _, data) = record(&jira, &keys(), &manual()).await;
    assert!(
        run.readiness.cannot_tell.is_empty(),
        "{:?}",
        run.readiness.cannot_tell
    );
    assert_eq!(
        kinds(&run.readiness),
        [ReadinessKind::NotCustomer { user: 2 }]
    );
    assert!(run.readiness.problems[0].message.contains(ADMIN_KEY));
    assert!(matches!(run.lookups.get(&by_key(KIM_KEY)), Some(Lookup::Found(kim)) if !kim.active));
    assert!(matches!(
        run.lookups.get(&by_key("JIRAUSER99999")),
        Some(Lookup::NotFound { .. })
    ));

    let replay = simulator(&data).await;
    let jira = connector(&replay, basic(BOT_LOGIN, PLACEHOLDER), Some("ITSD"), false);
    let replayed = check(&jira, &keys(), &manual()).await;

    assert_eq!(replayed, run);
}

#[tokio::test]
async fn lookups_by_user_name_replay_the_same() {
    let by_name = |sim: &AnySimulator, credentials, record| {
        let mut settings = connector_settings(sim, credentials, Some("ITSD"), record);
        settings.lookup_field = "name".into();
        Client::new(settings).expect("valid settings")
    };
    let keys = [
        by_key(BOT_KEY),
        by_external("PAT.LEE"),
        by_external("kim.lee"),
        by_external("jira.admin"),
        by_external("pat"),
    ];
    let manual = [by_external("PAT.LEE"), by_external("jira.admin")];
    let live = simulator(&fixture("jira_dc.json")).await;
    let (run, _, data) = record(&by_name(&live, bearer(BOT_TOKEN), true), &keys, &manual).await;
    assert_eq!(
        kinds(&run.readiness),
        [ReadinessKind::NotCustomer { user: 1 }]
    );

    let replay = simulator(&data).await;
    let replayed = check(
        &by_name(&replay, bearer(PLACEHOLDER), false),
        &keys,
        &manual,
    )
    .await;

    assert_eq!(replayed, run);
}

/// The bot and `size` generated users; every seventh is inactive.
fn directory(size: usize, version: &str) -> String {
    let users: Vec<Value> = std::iter::once(json!({"key": BOT_KEY, "name": BOT_LOGIN,
            "emailAddress": "moveworks-bot@acme.com", "displayName": "Moveworks Bot",
            "active": true, "timeZone": "America/Danmarkshavn"}))
    .chain((0..size).map(|n| {
        json!({"key": generated(n), "name": format!("user{n}"),
               "emailAddress": format!("user{n}@acme.com"), "displayName": format!("User {n}"),
               "active": n % 7 != 0})
    }))
    .collect();
    json!({"users": users, "simulator": {
        "bearer": [{"token": BOT_TOKEN, "user": BOT_KEY}], "version": version}})
    .to_string()
}

fn generated(n: usize) -> String {
    format!("JIRAUSER{}", 20_000 + n)
}

/// Records `keys` on a directory of 250 users answering as `version`, and
/// replays them with a placeholder token: the replay's simulator.
async fn listing_round_trip(version: &str, keys: &[LookupKey]) -> (Value, AnySimulator) {
    let live = simulator(&directory(250, version)).await;
    let (run, _, data) = record(&connector(&live, bearer(BOT_TOKEN), None, true), keys, &[]).await;
    let replay = simulator(&data).await;
    let jira = connector(&replay, bearer(PLACEHOLDER), None, false);
    let replayed = check(&jira, keys, &[]).await;
    assert_eq!(replayed, run);
    (serde_json::from_str(&data).expect("JSON"), replay)
}

#[tokio::test]
async fn more_than_a_hundred_keys_replay_as_a_listing_of_a_jira_9_directory() {
    let mut keys: Vec<LookupKey> = (0..120).map(|n| by_key(&generated(n * 2))).collect();
    keys.extend([
        by_key("JIRAUSER99999"),
        by_external("user7@acme.com"),
        by_external("user1@acme.co"),
    ]);

    let (data, replay) = listing_round_trip("9.12", &keys).await;

    assert_eq!(data["simulator"]["version"], "9.12");
    assert_eq!(data["users"].as_array().map(Vec::len), Some(251));
    assert_eq!(queries_at(&replay.server, SERVER_INFO_PATH).await.len(), 1);
    assert_eq!(
        queries_at(&replay.server, SEARCH_PATH).await,
        [listing_page(0)]
    );
    assert!(queries_at(&replay.server, USER_PATH).await.is_empty());
}

#[tokio::test]
async fn more_than_a_hundred_keys_replay_key_by_key_as_jira_10() {
    let mut keys: Vec<LookupKey> = (0..110).map(|n| by_key(&generated(n))).collect();
    keys.push(by_key("JIRAUSER99999"));

    let (data, replay) = listing_round_trip("10.3", &keys).await;

    assert_eq!(data["simulator"]["version"], "10.3");
    assert_eq!(queries_at(&replay.server, USER_PATH).await.len(), 111);
    assert!(queries_at(&replay.server, SEARCH_PATH).await.is_empty());
}

#[tokio::test]
async fn the_same_answers_give_the_same_bytes_whatever_the_order_of_the_keys() {
    let live = simulator(&fixture("jira_dc.json")).await;
    let new = || connector(&live, basic(BOT_LOGIN, BOT_PASSWORD), Some("ITSD"), true);
    let (run, exchanges, first) = record(&new(), &keys(), &manual()).await;
    let mut reversed = keys();
    reversed.reverse();
    let (_, _, again) = record(&new(), &reversed, &manual()).await;

    assert_eq!(first, again);
    let mut backwards = exchanges.clone();
    backwards.reverse();
    assert_eq!(first, data_file(System::JiraDc, &run, &backwards));
}

#[tokio::test]
async fn the_data_holds_no_live_address_and_no_credential_and_the_simulator_reads_it() {
    let live = simulator(&fixture("jira_dc.json")).await;
    let jira = connector(&live, basic(BOT_LOGIN, BOT_PASSWORD), Some("ITSD"), true);
    let (_, _, text) = record(&jira, &keys(), &manual()).await;
    let address = live.uri();
    let host_port = address.trim_start_matches("http://");

    for live_value in [
        address.as_str(),
        host_port,
        "127.0.0.1",
        BOT_PASSWORD,
        BOT_TOKEN,
    ] {
        assert!(
            !text.contains(live_value),
            "{live_value} is in the data: {text}"
        );
    }
    for url_field in ["\"self\"", "\"avatarUrls\"", "\"_links\"", "\"iconUrl\""] {
        assert!(!text.contains(url_field), "{url_field} is in the data");
    }
    let data: Value = serde_json::from_str(&text).expect("JSON");
    let simulator: Vec<&String> = data["simulator"]
        .as_object()
        .expect("a simulator section")
        .keys()
        .collect();
    assert_eq!(
        simulator,
        ["any", "readiness"],
        "no version: it was not asked"
    );
    assert_eq!(data["simulator"]["any"]["user"], BOT_KEY);
    SimData::parse(&text).expect("the simulator reads the recording");
}

#[tokio::test]
async fn a_recordings_simulator_answers_without_credentials() {
    let live = simulator(&fixture("jira_dc.json")).await;
    let jira = connector(&live, bearer(BOT_TOKEN), None, true);
    let (_, _, data) = record(&jira, &keys(), &[]).await;
    let replay = simulator(&data).await;

    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{}{path}", replay.uri())).send();
    let myself = get("/rest/api/2/myself").await.expect("sent");
    assert_eq!(myself.status().as_u16(), 200);
    let me: Value = myself.json().await.expect("JSON");
    assert_eq!(me["key"], BOT_KEY);
    let pat = get(&format!("/rest/api/2/user?key={PAT_KEY}"))
        .await
        .expect("sent");
    assert_eq!(pat.status().as_u16(), 200);
    let requests = replay
        .server
        .received_requests()
        .await
        .expect("recording is on");
    assert!(
        requests
            .iter()
            .all(|r| !r.headers.contains_key("authorization"))
    );
}
