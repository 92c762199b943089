//! Recording ServiceDesk Plus for CI (SPEC section 8): a check against the
//! simulator over `fixtures/manageengine.json` is recorded, its data file
//! starts a new simulator, and the same check replayed there with the
//! placeholder secret "replay" (an `authtoken`, and Zoho OAuth whose token
//! URL is the new simulator's) answers exactly as the recorded run did:
//! every lookup (found, inactive, ambiguous, not found, by id, refused) and
//! the readiness probe, from the lookups' `is_technician` or from its own
//! read of one user, including that read's refusals.
//!
//! Never compares a recording with a hand-written one: only a live run with
//! its replay, and two recordings of one system with each other.

use itsmid_connectors::manageengine::Client;
use itsmid_connectors::manageengine::sim::SimData;
use itsmid_connectors::recorded::recorded_data;
use itsmid_connectors::sim::AnySimulator;
use itsmid_connectors::{
    Connector, CredentialOwner, Credentials, ItsmUser, Lookup, LookupKey, Readiness,
    ReadinessInput, ReadinessKind, Reason, System,
};
use serde_json::{Value, json};

use super::{BETH_ID, BOT_ID, TOKEN, authtoken, ext, found, id, zoho};
use crate::support::{fixture, settings};

/// The fixture's requester the demo's bot entry names.
const VIRTUAL_AGENT: &str = "virtual-agent@acme.com";
/// A user no lookup asks for: only the probe's read of one user sees her.
const DANA_ID: &str = "123640000000142504";
/// Every credential the fixture's `simulator` section holds.
const FIXTURE_SECRETS: [&str; 4] = [
    "demo-manageengine-authtoken",
    "demo-zoho-client",
    "demo-zoho-secret",
    "demo-zoho-refresh",
];

async fn simulator(data: &str) -> AnySimulator {
    AnySimulator::start(System::ManageEngine, "manageengine.json", data, None, false)
        .await
        .expect("the data starts a simulator")
}

/// A connector that keeps every answer it reads; `portal` puts the base
/// URL under a Cloud portal.
fn recording_client(sim: &AnySimulator, credentials: Credentials, portal: bool) -> Client {
    let mut settings = settings(System::ManageEngine, &sim.server, credentials);
    if portal {
        settings.base_url = format!("{}/app/itdesk", sim.uri())
            .parse()
            .expect("a valid URL");
    }
    settings.http.record = true;
    Client::new(settings).expect("valid settings")
}

/// The fixture's credentials, on-premises and Cloud.
fn live_credentials(sim: &AnySimulator) -> [Credentials; 2] {
    [
        authtoken("demo-manageengine-authtoken"),
        zoho(
            &sim.server,
            "demo-zoho-client",
            "demo-zoho-secret",
            "demo-zoho-refresh",
        ),
    ]
}

/// The replay's credentials: the same auth types, every secret "replay",
/// the token URL at the replay's simulator.
fn replay_credentials(sim: &AnySimulator) -> [Credentials; 2] {
    [
        authtoken("replay"),
        zoho(&sim.server, "replay", "replay", "replay"),
    ]
}

/// Keys of every kind the first lookup of a check sends.
fn keys() -> Vec<LookupKey> {
    vec![
        ext("pat@acme.com"),
        ext("beth.anglin@acme.com"),
        ext("HelpDesk@acme.com"),
        ext("nobody@acme.com"),
        ext(VIRTUAL_AGENT),
        ext("  "),
        id(BOT_ID),
        id(BETH_ID),
        id("123640000000000000"),
        id("12ab"),
    ]
}

/// Dana as lookups that do not carry `is_technician` would give her: the
/// probe reads her user by id.
fn dana() -> ItsmUser {
    serde_json::from_value(json!({
        "itsm_user_id": DANA_ID, "external_id": "dana@acme.com", "active": true,
        "first_name": "Dana", "last_name": "Ross", "full_name": "Dana Ross",
        "record_kind": null
    }))
    .expect("a user")
}

/// What a check read: the credentials' owner, the lookups' outcomes, and
/// the readiness of each bot.
#[derive(Debug, PartialEq)]
struct Run {
    owner: CredentialOwner,
    lookups: Vec<(LookupKey, Lookup)>,
    readiness: Vec<Readiness>,
}

/// The check's order: `whoami`, the lookup, then the probe of each bot: the
/// requester and the technician as the lookup found them, and Dana.
async fn run(client: &Client, keys: &[LookupKey]) -> Run {
    let owner = client.whoami().await.expect("whoami answers");
    let lookups = client.lookup(keys).await.expect("the lookup answers");
    let bots = [
        found(&lookups, &ext(VIRTUAL_AGENT)),
        found(&lookups, &id(BOT_ID)),
        dana(),
    ];
    let mut readiness = Vec::new();
    for bot in bots {
        let input = ReadinessInput {
            bot,
            users: Vec::new(),
        };
        readiness.push(client.readiness(&input).await);
    }
    Run {
        owner,
        lookups: lookups.outcomes.into_iter().collect(),
        readiness,
    }
}

/// A recorded run over `data` with the fixture's credentials of `auth`
/// (0: authtoken, 1: Zoho): what it saw, and its data file.
async fn record(data: &str, auth: usize, keys: &[LookupKey]) -> (Run, Value, AnySimulator) {
    let live = simulator(data).await;
    let credentials = live_credentials(&live)[auth].clone();
    let client = recording_client(&live, credentials, false);
    let seen = run(&client, keys).await;
    let data = recorded_data(System::ManageEngine, &client.http().recorded(), None);
    (seen, data, live)
}

fn pretty(data: &Value) -> String {
    serde_json::to_string_pretty(data).expect("JSON serializes")
}

/// The fixture with the one-user route answering as `user_details` says.
fn fixture_with_user_details(details: &str) -> String {
    let mut data: Value =
        serde_json::from_str(&fixture("manageengine.json")).expect("the fixture is JSON");
    data["user_details"] = json!(details);
    data.to_string()
}

#[tokio::test]
async fn a_recorded_check_replays_to_the_same_answers_with_placeholder_secrets() {
    for auth in 0..2 {
        let (live_run, data, _live) = record(&fixture("manageengine.json"), auth, &keys()).await;
        let replay = simulator(&pretty(&data)).await;

        for (n, credentials) in replay_credentials(&replay).into_iter().enumerate() {
            for portal in [false, true] {
                let client = recording_client(&replay, credentials.clone(), portal);
                let replayed = run(&client, &keys()).await;
                assert_eq!(
                    replayed, live_run,
                    "recorded with {auth}, replayed with {n}, portal {portal}"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_replay_keeps_the_fixture_s_readiness_problem_and_ambiguity() {
    let (live_run, data, _live) = record(&fixture("manageengine.json"), 0, &keys()).await;
    let [requester, technician, read_alone] = live_run.readiness.as_slice() else {
        panic!("three bots probed: {:?}", live_run.readiness);
    };
    assert_eq!(requester.problems.len(), 1, "{requester:?}");
    assert_eq!(requester.problems[0].kind, ReadinessKind::PermissionMissing);
    assert_eq!(technician, &Readiness::default());
    assert_eq!(read_alone.problems.len(), 1, "{read_alone:?}");
    assert!(matches!(
        live_run
            .lookups
            .iter()
            .find(|(key, _)| *key == ext("HelpDesk@acme.com")),
        Some((_, Lookup::Ambiguous(users))) if users.len() == 2
    ));
    let ids: Vec<&str> = data["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|user| user["id"].as_str())
        .collect();
    assert!(
        ids.contains(&DANA_ID),
        "the probe's read is recorded: {ids:?}"
    );
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "{ids:?}");
}

#[tokio::test]
async fn a_refused_read_of_one_user_replays_as_the_same_refusal() {
    for details in ["forbidden", "missing"] {
        let (live_run, data, _live) = record(&fixture_with_user_details(details), 0, &keys()).await;
        assert_eq!(data["user_details"], details);
        assert_eq!(live_run.readiness[2].cannot_tell.len(), 1, "{details}");
        let replay = simulator(&pretty(&data)).await;

        let replayed = run(
            &recording_client(&replay, authtoken("replay"), false),
            &keys(),
        )
        .await;

        assert_eq!(replayed, live_run, "{details}");
    }
}

#[tokio::test]
async fn recording_twice_writes_the_same_bytes_whatever_the_order_of_the_keys() {
    let reversed: Vec<LookupKey> = keys().into_iter().rev().collect();
    let (_, first, _a) = record(&fixture("manageengine.json"), 0, &keys()).await;
    let (_, second, _b) = record(&fixture("manageengine.json"), 1, &reversed).await;

    assert_eq!(pretty(&first), pretty(&second));

    let live = simulator(&fixture("manageengine.json")).await;
    let client = recording_client(&live, authtoken("demo-manageengine-authtoken"), false);
    run(&client, &keys()).await;
    let exchanges = client.http().recorded();
    assert_eq!(
        pretty(&recorded_data(System::ManageEngine, &exchanges, None)),
        pretty(&recorded_data(System::ManageEngine, &exchanges, None))
    );
}

#[tokio::test]
async fn the_data_holds_no_address_and_no_credential_and_parses() {
    for auth in 0..2 {
        let (_, data, live) = record(&fixture("manageengine.json"), auth, &keys()).await;
        let text = pretty(&data);

        assert!(!text.contains(&live.uri()), "{text}");
        assert!(!text.contains(&live.server.address().to_string()));
        for secret in FIXTURE_SECRETS {
            assert!(!text.contains(secret), "{secret} in the recording");
        }
        assert!(!text.contains("1000.sim"), "no access token");
        SimData::parse(&text).expect("the simulator reads the recording");
    }
}

#[tokio::test]
async fn a_replay_answers_without_any_credential_and_issues_tokens_to_any_client() {
    let (_, data, live) = record(&fixture("manageengine.json"), 0, &keys()).await;
    let replay = simulator(&pretty(&data)).await;
    let http = reqwest::Client::new();

    let users: Value = http
        .get(format!("{}/api/v3/users", replay.uri()))
        .send()
        .await
        .expect("the replay answers")
        .error_for_status()
        .expect("no credential needed")
        .json()
        .await
        .expect("JSON");
    assert!(!users["users"].as_array().expect("users").is_empty());
    let one: Value = http
        .get(format!("{}/api/v3/users/{BOT_ID}", replay.uri()))
        .send()
        .await
        .expect("the replay answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!(one["user"]["id"], BOT_ID);
    let token: Value = http
        .post(format!("{}{TOKEN}", replay.uri()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", "any"),
            ("client_secret", "thing"),
            ("refresh_token", "at all"),
        ])
        .send()
        .await
        .expect("the replay answers")
        .json()
        .await
        .expect("JSON");
    assert!(token["access_token"].is_string(), "{token}");

    for credentials in replay_credentials(&live) {
        let err = recording_client(&live, credentials, false)
            .lookup(&keys())
            .await
            .expect_err("the placeholder is no credential of the fixture");
        assert_eq!(err.reason(), Reason::AuthFailed, "{err}");
    }
}
