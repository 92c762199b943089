//! Recording Freshservice for CI (SPEC section 8): a check against the
//! simulator over `fixtures/freshservice.json` is recorded, its data file
//! starts a new simulator, and the same check replayed there with the
//! placeholder key "replay" answers exactly as the recorded run did:
//! `whoami`, every lookup (found, inactive, not found, by id, filtered,
//! `email=` and the whole listing past a hundred keys) and the readiness
//! probe with the fixture's problems (the occasional virtual agent, a
//! requester bot, another agent's key).
//!
//! Never compares a recording with a hand-written one: only a live run with
//! its replay, and two recordings of one system with each other.

use itsmid_connectors::freshservice::Client;
use itsmid_connectors::freshservice::sim::SimData;
use itsmid_connectors::recorded::recorded_data;
use itsmid_connectors::sim::AnySimulator;
use itsmid_connectors::{
    Connector, CredentialOwner, Lookup, LookupKey, Readiness, ReadinessInput, ReadinessKind, System,
};
use serde_json::Value;

use super::{ext, found, id};
use crate::support::{api_key, fixture, settings};

/// The key of the fixture's occasional agent, the demo's bot with a problem.
const VIRTUAL_AGENT_KEY: &str = "demo-freshservice-virtual-agent-key";
const VIRTUAL_AGENT_ID: &str = "19000000003";
/// Every credential the fixture's `simulator` section holds.
const FIXTURE_SECRETS: [&str; 3] = [
    "demo-freshservice-key",
    "other-agent-key",
    VIRTUAL_AGENT_KEY,
];

async fn simulator(data: &str) -> AnySimulator {
    AnySimulator::start(System::Freshservice, "freshservice.json", data, None, false)
        .await
        .expect("the data starts a simulator")
}

/// A connector that keeps every answer it reads.
fn recording_client(sim: &AnySimulator, key: &str) -> Client {
    let mut settings = settings(System::Freshservice, &sim.server, api_key(key));
    settings.http.record = true;
    Client::new(settings).expect("valid settings")
}

/// A few keys of every kind the first lookup of a check sends.
fn few_keys() -> Vec<LookupKey> {
    vec![
        ext("pat@acme.com"),
        ext("beth.anglin@acme.com"),
        ext("KIM.LEE@acme.com"),
        ext("nobody@acme.com"),
        ext("o'brien@acme.com"),
        ext("virtual-agent@acme.com"),
        ext("moveworks-bot@acme.com"),
        id("19000234503"),
        id("19000000002"),
        id("1"),
        id("12a"),
    ]
}

/// More than a hundred keys: the connector lists both lists instead.
fn many_keys() -> Vec<LookupKey> {
    let mut keys: Vec<LookupKey> = (0..110)
        .map(|n| ext(&format!("someone{n:03}@acme.com")))
        .collect();
    keys.extend([
        ext("dana@acme.com"),
        ext("helpdesk@acme.com"),
        id("19000234504"),
        id("19000000001"),
    ]);
    keys
}

/// The bots the probe is run for, by the key that found them.
fn bots() -> [LookupKey; 3] {
    [
        ext("virtual-agent@acme.com"),
        ext("moveworks-bot@acme.com"),
        ext("pat@acme.com"),
    ]
}

/// What a check read: the credentials' owner, each lookup's outcomes, and
/// the readiness of each bot.
#[derive(Debug, PartialEq)]
struct Run {
    owner: CredentialOwner,
    lookups: Vec<Vec<(LookupKey, Lookup)>>,
    readiness: Vec<Readiness>,
}

/// The check's order: `whoami`, the lookups, then the probe of each bot as
/// the first lookup found it.
async fn run(client: &Client, batches: &[Vec<LookupKey>]) -> Run {
    let owner = client.whoami().await.expect("whoami answers");
    let mut answers = Vec::new();
    for keys in batches {
        answers.push(client.lookup(keys).await.expect("the lookup answers"));
    }
    let mut readiness = Vec::new();
    for key in bots() {
        let input = ReadinessInput {
            bot: found(&answers[0], &key),
            users: Vec::new(),
        };
        readiness.push(client.readiness(&input).await);
    }
    Run {
        owner,
        lookups: answers
            .into_iter()
            .map(|answer| answer.outcomes.into_iter().collect())
            .collect(),
        readiness,
    }
}

/// A recorded run against the fixture: what it saw, and its data file.
async fn record(key: &str, batches: &[Vec<LookupKey>]) -> (Run, Value, AnySimulator) {
    let live = simulator(&fixture("freshservice.json")).await;
    let client = recording_client(&live, key);
    let seen = run(&client, batches).await;
    let owner = match &seen.owner {
        CredentialOwner::Known(user) => Some(user.clone()),
        CredentialOwner::Unknown => None,
    };
    let data = recorded_data(
        System::Freshservice,
        &client.http().recorded(),
        owner.as_ref(),
    );
    (seen, data, live)
}

fn pretty(data: &Value) -> String {
    serde_json::to_string_pretty(data).expect("JSON serializes")
}

#[tokio::test]
async fn a_recorded_check_replays_to_the_same_answers_with_the_placeholder_key() {
    // Filters, ids and `email=` alone; then with the listing as well.
    let checks = [vec![few_keys()], vec![few_keys(), many_keys()]];
    for key in [VIRTUAL_AGENT_KEY, "demo-freshservice-key"] {
        for batches in &checks {
            let (live_run, data, _live) = record(key, batches).await;
            let replay = simulator(&pretty(&data)).await;

            let replayed = run(&recording_client(&replay, "replay"), batches).await;

            assert_eq!(replayed, live_run, "{key}, {} lookups", batches.len());
        }
    }
}

#[tokio::test]
async fn the_replay_keeps_the_fixture_s_readiness_problems() {
    let (live_run, data, _live) = record(VIRTUAL_AGENT_KEY, &[few_keys()]).await;
    let [occasional, other_agent, requester] = live_run.readiness.as_slice() else {
        panic!("three bots probed: {:?}", live_run.readiness);
    };
    assert_eq!(occasional.problems.len(), 1, "{occasional:?}");
    assert_eq!(occasional.problems[0].kind, ReadinessKind::BotSetting);
    assert!(other_agent.cannot_tell[0].contains("BOT_CREDENTIAL_MISMATCH"));
    assert_eq!(requester.problems[0].kind, ReadinessKind::PermissionMissing);
    let me = data["agents"]
        .as_array()
        .expect("agents")
        .iter()
        .find(|agent| agent["id"].as_u64() == VIRTUAL_AGENT_ID.parse().ok())
        .expect("the key's agent is recorded");
    assert_eq!(me["occasional"], true);
    assert_eq!(data["simulator"]["any"]["user"], VIRTUAL_AGENT_ID);

    // A probe with no `whoami` before it asks `agents/me` itself.
    let replay = simulator(&pretty(&data)).await;
    let bot = match &live_run.owner {
        CredentialOwner::Known(user) => user.clone(),
        CredentialOwner::Unknown => panic!("the key's agent is known"),
    };
    let input = ReadinessInput {
        bot,
        users: Vec::new(),
    };
    let probed = recording_client(&replay, "replay").readiness(&input).await;
    assert_eq!(&probed, occasional);
}

#[tokio::test]
async fn the_listing_path_is_recorded_and_every_record_it_read_is_kept() {
    let live = simulator(&fixture("freshservice.json")).await;
    let client = recording_client(&live, VIRTUAL_AGENT_KEY);
    client.lookup(&many_keys()).await.expect("an answer");

    let exchanges = client.http().recorded();
    assert!(
        exchanges
            .iter()
            .any(|exchange| exchange.param("per_page") == Some("100")),
        "more than a hundred keys list the directory"
    );
    let data = recorded_data(System::Freshservice, &exchanges, None);
    let ids = |list: &str| -> Vec<u64> {
        data[list]
            .as_array()
            .expect("a list")
            .iter()
            .filter_map(|record| record["id"].as_u64())
            .collect()
    };
    assert_eq!(
        ids("requesters"),
        [19000234501, 19000234502, 19000234503, 19000234504]
    );
    assert_eq!(ids("agents"), [19000000001, 19000000002, 19000000003]);
}

#[tokio::test]
async fn recording_twice_writes_the_same_bytes_whatever_the_order_of_the_keys() {
    let batches = [few_keys(), many_keys()];
    let reversed: Vec<Vec<LookupKey>> = batches
        .iter()
        .map(|keys| keys.iter().rev().cloned().collect())
        .collect();
    let (_, first, _a) = record(VIRTUAL_AGENT_KEY, &batches).await;
    let (_, second, _b) = record(VIRTUAL_AGENT_KEY, &reversed).await;

    assert_eq!(pretty(&first), pretty(&second));

    let live = simulator(&fixture("freshservice.json")).await;
    let client = recording_client(&live, VIRTUAL_AGENT_KEY);
    run(&client, &batches).await;
    let exchanges = client.http().recorded();
    assert_eq!(
        pretty(&recorded_data(System::Freshservice, &exchanges, None)),
        pretty(&recorded_data(System::Freshservice, &exchanges, None))
    );
}

#[tokio::test]
async fn the_data_holds_no_address_and_no_credential_and_parses() {
    let (_, data, live) = record(VIRTUAL_AGENT_KEY, &[few_keys(), many_keys()]).await;
    let text = pretty(&data);

    assert!(!text.contains(&live.uri()), "{text}");
    assert!(!text.contains(&live.server.address().to_string()));
    for secret in FIXTURE_SECRETS {
        assert!(!text.contains(secret), "{secret} in the recording");
    }
    SimData::parse(&text).expect("the simulator reads the recording");
}

#[tokio::test]
async fn a_replay_answers_without_any_credential_as_the_recorded_owner() {
    let (_, data, live) = record(VIRTUAL_AGENT_KEY, &[few_keys()]).await;
    let replay = simulator(&pretty(&data)).await;
    let http = reqwest::Client::new();

    let me: Value = http
        .get(format!("{}/api/v2/agents/me", replay.uri()))
        .send()
        .await
        .expect("the replay answers")
        .error_for_status()
        .expect("no credential needed")
        .json()
        .await
        .expect("JSON");
    assert_eq!(me["agent"]["id"].as_u64(), VIRTUAL_AGENT_ID.parse().ok());

    let refused = http
        .get(format!("{}/api/v2/agents/me", live.uri()))
        .send()
        .await
        .expect("the fixture's simulator answers");
    assert_eq!(refused.status(), 401, "the fixture still wants its keys");
    let err = recording_client(&live, "replay")
        .whoami()
        .await
        .expect_err("the placeholder is no key of the fixture");
    assert_eq!(err.reason(), itsmid_connectors::Reason::AuthFailed);
}
