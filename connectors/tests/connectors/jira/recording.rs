//! Recording Jira Cloud (SPEC section 8): a check against the simulator
//! over `fixtures/jira.json` with `record` on (the credential check,
//! lookups by accountId and by e-mail, the readiness probe), its answers
//! turned into simulator data, and the same check replayed against a new
//! simulator over that data with the placeholder secret "replay": the
//! owner, every lookup and the readiness must come out equal.
//!
//! Also: the same answers give the same bytes, the data holds no live
//! address and no credential, and a recording's simulator answers without
//! any credential.

use std::collections::BTreeMap;

use itsmid_connectors::jira::Client;
use itsmid_connectors::jira::sim::SimData;
use itsmid_connectors::recorded::recorded_data;
use itsmid_connectors::recording::Exchange;
use itsmid_connectors::sim::AnySimulator;
use itsmid_connectors::{
    Connector, CredentialOwner, Credentials, Lookup, LookupKey, Readiness, ReadinessInput,
    ReadinessKind, Reason, System,
};
use serde_json::Value;

use super::{BOT_ID, FRED_ID, KIM_ID, PAT_ID, by_email, by_id};
use crate::support::{basic, bearer, fixture, settings};

const CASEY_ID: &str = "qm:a6e2b3c4-1d2e-4f5a-8b9c-0d1e2f3a4b5c:5e5f5a5b5c5d5e5f";
const HANA_ID: &str = "5d53f3cbc6b9320d9ea5bdc2";
const APP_ID: &str = "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077";
const NOBODY_ID: &str = "5b10ac8d82e05b22cc7d4eff";
const BOT_LOGIN: &str = "moveworks-bot@acme.com";
/// The secret every replayed connector is configured with.
const PLACEHOLDER: &str = "replay";

/// What one check saw.
#[derive(Debug, PartialEq)]
pub(crate) struct Run {
    pub(crate) owner: CredentialOwner,
    pub(crate) lookups: BTreeMap<LookupKey, Lookup>,
    pub(crate) readiness: Readiness,
}

/// Found, inactive, not found, hidden, by id and by e-mail.
fn keys() -> Vec<LookupKey> {
    vec![
        by_id(BOT_ID),
        by_id(PAT_ID),
        by_id(FRED_ID),
        by_id(CASEY_ID),
        by_id(HANA_ID),
        by_id(APP_ID),
        by_id(NOBODY_ID),
        by_email("pat@acme.com"),
        by_email("Kim@Acme.com"),
        by_email("customer@partner.example"),
        by_email("former@acme.com"),
        by_email("hana@acme.com"),
        by_email("nobody@acme.com"),
    ]
}

async fn fixture_simulator() -> AnySimulator {
    AnySimulator::start(
        System::Jira,
        "jira.json",
        &fixture("jira.json"),
        None,
        false,
    )
    .await
    .expect("the fixture starts a simulator")
}

async fn replay_simulator(data: &str) -> AnySimulator {
    AnySimulator::start(System::Jira, "recording/jira.json", data, None, true)
        .await
        .expect("the recording starts a simulator")
}

fn connector(sim: &AnySimulator, credentials: Credentials, project: &str, record: bool) -> Client {
    let mut settings = settings(System::Jira, &sim.server, credentials);
    settings.http.record = record;
    settings.readiness.project = Some(project.to_owned());
    Client::new(settings).expect("valid settings")
}

/// The credential check, the lookups of `keys`, and the probe for the
/// users `manual` found.
pub(crate) async fn check(jira: &impl Connector, keys: &[LookupKey], manual: &[LookupKey]) -> Run {
    let owner = jira.whoami().await.expect("the owner answers");
    let lookups = jira.lookup(keys).await.expect("lookup succeeds").outcomes;
    let CredentialOwner::Known(bot) = &owner else {
        panic!("expected the bot, got {owner:?}");
    };
    let users = manual
        .iter()
        .map(|key| match lookups.get(key) {
            Some(Lookup::Found(user)) => user.clone(),
            other => panic!("{key:?}: expected Found, got {other:?}"),
        })
        .collect();
    let input = ReadinessInput {
        bot: bot.clone(),
        users,
    };
    let readiness = jira.readiness(&input).await;
    Run {
        owner,
        lookups,
        readiness,
    }
}

/// A check of `project` on `sim` with recording on: what it saw and the
/// answers it read.
async fn record(
    sim: &AnySimulator,
    credentials: Credentials,
    project: &str,
    keys: &[LookupKey],
    manual: &[LookupKey],
) -> (Run, Vec<Exchange>) {
    let jira = connector(sim, credentials, project, true);
    let run = check(&jira, keys, manual).await;
    (run, jira.http().recorded())
}

/// The data file of a recorded run of `system`, as `itsmid record` writes it.
pub(crate) fn data_file(system: System, run: &Run, exchanges: &[Exchange]) -> String {
    let owner = match &run.owner {
        CredentialOwner::Known(user) => Some(user),
        CredentialOwner::Unknown => None,
    };
    serde_json::to_string_pretty(&recorded_data(system, exchanges, owner)).expect("JSON is written")
}

fn data_of(run: &Run, exchanges: &[Exchange]) -> String {
    data_file(System::Jira, run, exchanges)
}

fn kinds(found: &Readiness) -> Vec<ReadinessKind> {
    found.problems.iter().map(|p| p.kind).collect()
}

fn note(run: &Run, key: &LookupKey) -> String {
    match run.lookups.get(key) {
        Some(Lookup::NotFound { note: Some(note) }) => note.clone(),
        other => panic!("{key:?}: expected a note, got {other:?}"),
    }
}

#[tokio::test]
async fn the_demo_project_replays_to_the_same_owner_lookups_and_readiness() {
    let live = fixture_simulator().await;
    let manual = [by_id(PAT_ID), by_id(CASEY_ID)];
    let (run, exchanges) = record(
        &live,
        basic(BOT_LOGIN, "demo-jira-token"),
        "ITH",
        &keys(),
        &manual,
    )
    .await;
    assert!(
        run.readiness.cannot_tell.is_empty(),
        "{:?}",
        run.readiness.cannot_tell
    );
    assert_eq!(
        kinds(&run.readiness),
        [
            ReadinessKind::PermissionMissing,
            ReadinessKind::NotCustomer { user: 0 },
            ReadinessKind::WorkflowGap,
        ]
    );
    assert!(matches!(run.lookups.get(&by_id(FRED_ID)), Some(Lookup::Found(u)) if !u.active));
    assert!(matches!(
        run.lookups.get(&by_id(NOBODY_ID)),
        Some(Lookup::NotFound { note: None })
    ));
    assert!(note(&run, &by_email("hana@acme.com")).contains("hidden"));
    assert!(note(&run, &by_email("former@acme.com")).contains("only active users"));

    let replay = replay_simulator(&data_of(&run, &exchanges)).await;
    let jira = connector(&replay, basic(BOT_LOGIN, PLACEHOLDER), "ITH", false);
    let replayed = check(&jira, &keys(), &manual).await;

    assert_eq!(replayed, run);
}

#[tokio::test]
async fn a_ready_project_replays_ready_with_a_bearer_token() {
    let live = fixture_simulator().await;
    let manual = [
        by_id(PAT_ID),
        by_id(CASEY_ID),
        by_id(HANA_ID),
        by_email("Kim@Acme.com"),
    ];
    let (run, exchanges) =
        record(&live, bearer("demo-jira-bearer"), "HELP", &keys(), &manual).await;
    assert_eq!(run.readiness, Readiness::default());

    let replay = replay_simulator(&data_of(&run, &exchanges)).await;
    let jira = connector(&replay, bearer(PLACEHOLDER), "HELP", false);
    let replayed = check(&jira, &keys(), &manual).await;

    assert_eq!(replayed, run);
    assert!(matches!(
        replayed.lookups.get(&by_email("Kim@Acme.com")),
        Some(Lookup::Found(kim)) if kim.itsm_user_id.as_str() == KIM_ID
    ));
}

#[tokio::test]
async fn the_same_answers_give_the_same_bytes_whatever_the_order_of_the_keys() {
    let live = fixture_simulator().await;
    let manual = [by_id(PAT_ID), by_id(CASEY_ID)];
    let credentials = || basic(BOT_LOGIN, "demo-jira-token");
    let (run, exchanges) = record(&live, credentials(), "ITH", &keys(), &manual).await;
    let mut reversed_keys = keys();
    reversed_keys.reverse();
    let (again, again_exchanges) =
        record(&live, credentials(), "ITH", &reversed_keys, &manual).await;

    let first = data_of(&run, &exchanges);
    assert_eq!(first, data_of(&run, &exchanges));
    assert_eq!(first, data_of(&again, &again_exchanges));
    let mut backwards = exchanges.clone();
    backwards.reverse();
    assert_eq!(first, data_of(&run, &backwards));
}

#[tokio::test]
async fn the_data_holds_no_live_address_and_no_credential_and_the_simulator_reads_it() {
    let live = fixture_simulator().await;
    let (run, exchanges) = record(
        &live,
        basic(BOT_LOGIN, "demo-jira-token"),
        "ITH",
        &keys(),
        &[by_id(PAT_ID)],
    )
    .await;
    let text = data_of(&run, &exchanges);
    let address = live.uri();
    let host_port = address.trim_start_matches("http://");

    for live_value in [
        address.as_str(),
        host_port,
        "127.0.0.1",
        "demo-jira-token",
        "demo-jira-bearer",
        "kim-token",
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
    assert_eq!(simulator, ["any", "readiness"]);
    assert_eq!(data["simulator"]["any"]["user"], BOT_ID);
    SimData::parse(&text).expect("the simulator reads the recording");
}

#[tokio::test]
async fn a_recordings_simulator_answers_without_credentials_and_the_fixtures_refuses_the_placeholder()
 {
    let live = fixture_simulator().await;
    let refused = connector(&live, basic(BOT_LOGIN, PLACEHOLDER), "ITH", false)
        .whoami()
        .await
        .expect_err("the fixture knows no placeholder");
    assert_eq!(refused.reason(), Reason::AuthFailed);
    let (run, exchanges) = record(
        &live,
        basic(BOT_LOGIN, "demo-jira-token"),
        "ITH",
        &keys(),
        &[],
    )
    .await;
    let replay = replay_simulator(&data_of(&run, &exchanges)).await;

    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{}{path}", replay.uri())).send();
    let myself = get("/rest/api/3/myself").await.expect("sent");
    assert_eq!(myself.status().as_u16(), 200);
    let me: Value = myself.json().await.expect("JSON");
    assert_eq!(me["accountId"], BOT_ID);
    let bulk = get(&format!("/rest/api/3/user/bulk?accountId={PAT_ID}"))
        .await
        .expect("sent");
    assert_eq!(bulk.status().as_u16(), 200);
    let page: Value = bulk.json().await.expect("JSON");
    assert_eq!(page["values"][0]["accountId"], PAT_ID);
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
