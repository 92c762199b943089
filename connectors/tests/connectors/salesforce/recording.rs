//! Recordings (SPEC section 8): a check against the simulator over the
//! demo data, recorded, then replayed from the recorded data alone with
//! placeholder secrets (and `client_credentials` for a recorded
//! `jwt_bearer`, which a replay cannot sign), gives the same owner, lookups
//! and readiness. The data is the same bytes whatever the order of the
//! keys, holds no live address and no secret, parses as simulator data,
//! and answers without credentials.
//!
//! Never stages answers: both simulators serve data only.

use std::collections::BTreeMap;

use itsmid_connectors::recorded::recorded_data;
use itsmid_connectors::recording::Exchange;
use itsmid_connectors::salesforce::Client;
use itsmid_connectors::salesforce::sim::SimData;
use itsmid_connectors::sim::AnySimulator;
use itsmid_connectors::{
    Connector, CredentialOwner, Credentials, GrantKind, Lookup, LookupKey, OAuthGrant, Readiness,
    ReadinessInput, System, TokenScheme,
};
use secrecy::SecretString;
use serde_json::{Value, json};

use super::{BETH_ID, BOT_ID, KIM_ID, PAT_ID, TOKEN, by_id, by_username, found, oauth};
use crate::support::{bearer, fixture, settings};

const PRIVATE_KEY: &str = include_str!("jwt-private-key.pem");
const CONSUMER_KEY: &str = "demo-consumer-key";

/// Found by an 18- and a 15-character Id, by a Username in another case,
/// inactive, and not found by Username and by Id.
fn keys() -> Vec<LookupKey> {
    vec![
        by_id(BOT_ID),
        by_id(PAT_ID),
        by_id("0055e000003PatL"),
        by_id(BETH_ID),
        by_username("dana.ross@ACME.com.prod"),
        by_username("beth.anglin@acme.com.prod"),
        by_username("nobody@acme.com.prod"),
        by_id("0055e000003ZzzZAAS"),
    ]
}

/// The credentials of each auth type, live (the demo data's) or as a
/// replay configures them: every secret the placeholder `replay`, and
/// `client_credentials` in place of `jwt_bearer`.
#[derive(Debug, Clone, Copy)]
enum Auth {
    Bearer,
    ClientCredentials,
    /// The demo's second client, whose tokens act as Kim, not the bot.
    OtherClient,
    JwtBearer,
}

impl Auth {
    const ALL: [Auth; 4] = [
        Auth::Bearer,
        Auth::ClientCredentials,
        Auth::OtherClient,
        Auth::JwtBearer,
    ];

    fn live(self, sim: &AnySimulator) -> Credentials {
        match self {
            Auth::Bearer => bearer(TOKEN),
            Auth::ClientCredentials => oauth(&sim.server, "demo-client", "demo-client-secret"),
            Auth::OtherClient => oauth(&sim.server, "other-client", "other-secret"),
            Auth::JwtBearer => Credentials::OAuth(OAuthGrant {
                token_url: format!("{}/services/oauth2/token", sim.uri())
                    .parse()
                    .expect("a valid URL"),
                client_id: CONSUMER_KEY.into(),
                client_secret: None,
                kind: GrantKind::JwtBearer {
                    username: "moveworks.bot@acme.com.prod".into(),
                    private_key: SecretString::from(PRIVATE_KEY.to_owned()),
                    audience: "https://login.salesforce.com".into(),
                },
                scheme: TokenScheme::Bearer,
            }),
        }
    }

    fn replay(self, sim: &AnySimulator) -> Credentials {
        match self {
            Auth::Bearer => bearer("replay"),
            Auth::ClientCredentials => oauth(&sim.server, "demo-client", "replay"),
            Auth::OtherClient => oauth(&sim.server, "other-client", "replay"),
            Auth::JwtBearer => oauth(&sim.server, CONSUMER_KEY, "replay"),
        }
    }
}

async fn start(data: &str, path: &str) -> AnySimulator {
    AnySimulator::start(System::Salesforce, path, data, None, true)
        .await
        .expect("the data starts a simulator")
}

/// Recording on, the object the probe describes, and, for a replay, the
/// instance at the simulator.
fn client(sim: &AnySimulator, credentials: Credentials, object: &str, replay: bool) -> Client {
    let mut settings = settings(System::Salesforce, &sim.server, credentials);
    settings.http.record = true;
    settings.readiness.object = object.into();
    if replay {
        settings.instance_url = Some(sim.uri().parse().expect("a valid URL"));
    }
    Client::new(settings).expect("valid settings")
}

/// Everything a check reads from the system.
#[derive(Debug, PartialEq)]
struct Observed {
    owner: CredentialOwner,
    lookups: BTreeMap<LookupKey, Lookup>,
    readiness: Readiness,
}

async fn observe(client: &Client, keys: &[LookupKey]) -> Observed {
    let owner = client.whoami().await.expect("whoami answers");
    let lookups = client.lookup(keys).await.expect("the lookups answer");
    let input = ReadinessInput {
        bot: found(&lookups, &by_id(BOT_ID)).clone(),
        users: Vec::new(),
    };
    Observed {
        owner,
        readiness: client.readiness(&input).await,
        lookups: lookups.outcomes,
    }
}

fn record_of(exchanges: &[Exchange], owner: &CredentialOwner) -> Value {
    let owner = match owner {
        CredentialOwner::Known(user) => Some(user),
        CredentialOwner::Unknown => None,
    };
    recorded_data(System::Salesforce, exchanges, owner)
}

fn record(client: &Client, owner: &CredentialOwner) -> Value {
    record_of(&client.http().recorded(), owner)
}

/// A live run over `data` with `auth`, its recording, and a replay of it:
/// both runs' observations and the recorded data.
async fn round_trip(data: &str, auth: Auth, object: &str) -> (Observed, Observed, Value) {
    let live = start(data, "salesforce.json").await;
    let recording = client(&live, auth.live(&live), object, false);
    let observed = observe(&recording, &keys()).await;
    let recorded = record(&recording, &observed.owner);

    let replay = start(&recorded.to_string(), "recorded.json").await;
    let replayed = observe(
        &client(&replay, auth.replay(&replay), object, true),
        &keys(),
    )
    .await;
    (observed, replayed, recorded)
}

fn owner_id(owner: &CredentialOwner) -> Option<&str> {
    match owner {
        CredentialOwner::Known(user) => Some(user.itsm_user_id.as_str()),
        CredentialOwner::Unknown => None,
    }
}

#[tokio::test]
async fn a_replay_of_each_auth_type_answers_as_the_recorded_check() {
    for auth in Auth::ALL {
        let (live, replayed, recorded) =
            round_trip(&fixture("salesforce.json"), auth, "Solution").await;

        let [problem] = live.readiness.problems.as_slice() else {
            panic!("{auth:?}: the demo's problem: {:?}", live.readiness);
        };
        assert_eq!(problem.actual.as_deref(), Some("createable, updateable"));
        let expected_owner = match auth {
            Auth::OtherClient => KIM_ID,
            _ => BOT_ID,
        };
        assert_eq!(owner_id(&live.owner), Some(expected_owner), "{auth:?}");
        assert_eq!(
            recorded["simulator"],
            json!({"any": {"user": expected_owner}}),
            "{auth:?}"
        );
        assert!(
            matches!(
                live.lookups.get(&by_username("nobody@acme.com.prod")),
                Some(Lookup::NotFound { .. })
            ),
            "{auth:?}"
        );
        assert_eq!(replayed, live, "{auth:?}");
    }
}

#[tokio::test]
async fn objects_not_visible_and_refused_describes_replay_as_they_were_answered() {
    let mut refused: Value =
        serde_json::from_str(&fixture("salesforce.json")).expect("the demo data is JSON");
    refused["sobjects"] = json!([{"name": "Case", "refused": {"status": 401,
        "body": [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}]}}]);
    for (data, object, problem, reason) in [
        (
            fixture("salesforce.json"),
            "Incident__c",
            Some("Incident__c not visible"),
            None,
        ),
        (
            refused.to_string(),
            "Case",
            None,
            Some("Salesforce refused to describe Case (HTTP 401 INVALID_SESSION_ID)"),
        ),
    ] {
        let (live, replayed, _) = round_trip(&data, Auth::ClientCredentials, object).await;

        let actual: Vec<Option<&str>> = live
            .readiness
            .problems
            .iter()
            .map(|p| p.actual.as_deref())
            .collect();
        assert_eq!(actual, problem.into_iter().map(Some).collect::<Vec<_>>());
        let reasons: Vec<&str> = live
            .readiness
            .cannot_tell
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(reasons, reason.into_iter().collect::<Vec<_>>());
        assert_eq!(replayed, live, "{object}");
    }
}

#[tokio::test]
async fn a_custom_lookup_field_that_matched_nobody_is_still_a_field_on_replay() {
    // Kim has a Federation ID, so the live org knows the field.
    let mut data: Value =
        serde_json::from_str(&fixture("salesforce.json")).expect("the demo data is JSON");
    data["records"][4]["FederationIdentifier"] = json!("E-2002");
    let live = start(&data.to_string(), "salesforce.json").await;
    let mut recorded = settings(System::Salesforce, &live.server, bearer(TOKEN));
    recorded.http.record = true;
    recorded.lookup_field = "FederationIdentifier".into();
    let recording = Client::new(recorded).expect("valid settings");
    let keys = [by_username("E-1001")];
    let lookups = recording.lookup(&keys).await.expect("the lookups answer");
    let data = record(&recording, &CredentialOwner::Unknown);
    assert!(
        matches!(lookups.get(&keys[0]), Some(Lookup::NotFound { .. })),
        "{lookups:?}"
    );

    let replay = start(&data.to_string(), "recorded.json").await;
    let mut replaying = settings(System::Salesforce, &replay.server, bearer("replay"));
    replaying.lookup_field = "FederationIdentifier".into();
    let replayed = Client::new(replaying)
        .expect("valid settings")
        .lookup(&keys)
        .await
        .expect("the replay knows the field");

    assert_eq!(replayed.outcomes, lookups.outcomes);
}

#[tokio::test]
async fn the_data_is_the_same_bytes_whatever_the_order_of_the_keys() {
    let sim = start(&fixture("salesforce.json"), "salesforce.json").await;
    let mut pretty = Vec::new();
    let mut reversed_keys = keys();
    reversed_keys.reverse();
    for keys in [keys(), reversed_keys] {
        let recording = client(&sim, Auth::ClientCredentials.live(&sim), "Solution", false);
        let observed = observe(&recording, &keys).await;
        let mut exchanges = recording.http().recorded();
        pretty.push(
            serde_json::to_string_pretty(&record_of(&exchanges, &observed.owner)).expect("JSON"),
        );
        exchanges.reverse();
        pretty.push(
            serde_json::to_string_pretty(&record_of(&exchanges, &observed.owner)).expect("JSON"),
        );
    }

    assert!(pretty.iter().all(|text| *text == pretty[0]), "{pretty:#?}");
}

#[tokio::test]
async fn the_data_holds_no_live_address_and_no_credential() {
    let text = fixture("salesforce.json");
    let sim = start(&text, "salesforce.json").await;
    let fixture: Value = serde_json::from_str(&text).expect("the demo data is JSON");
    for auth in Auth::ALL {
        let recording = client(&sim, auth.live(&sim), "Solution", false);
        let observed = observe(&recording, &keys()).await;
        let data = record(&recording, &observed.owner).to_string();

        let address = sim.server.address().to_string();
        for live in [sim.uri().as_str(), address.as_str(), "sim.access", "BEGIN"] {
            assert!(!data.contains(live), "{auth:?}: {live} in {data}");
        }
        for secret in secrets(&fixture["simulator"]) {
            assert!(!data.contains(&secret), "{auth:?}: {secret} in {data}");
        }
        assert!(!data.contains("\"url\""), "{auth:?}: {data}");
    }
}

/// Every token, client secret and key of a `simulator` section.
fn secrets(section: &Value) -> Vec<String> {
    match section {
        Value::Object(map) => map
            .iter()
            .flat_map(|(key, value)| match value {
                Value::String(text)
                    if ["password", "token", "client_secret", "public_key"]
                        .contains(&key.as_str()) =>
                {
                    vec![text.clone()]
                }
                other => secrets(other),
            })
            .collect(),
        Value::Array(items) => items.iter().flat_map(secrets).collect(),
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn the_data_parses_and_holds_each_user_read_once_by_id() {
    let sim = start(&fixture("salesforce.json"), "salesforce.json").await;
    let recording = client(&sim, Auth::OtherClient.live(&sim), "Solution", false);
    let observed = observe(&recording, &keys()).await;
    let data = record(&recording, &observed.owner);

    SimData::parse(&data.to_string()).expect("the recorded data parses");
    let ids: Vec<&str> = data["records"]
        .as_array()
        .expect("a list of records")
        .iter()
        .map(|user| user["Id"].as_str().expect("an Id"))
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(ids, sorted, "sorted, each once");
    // Beth, Dana, Pat and the bot from the lookups; Kim from userinfo alone.
    assert_eq!(ids, [BETH_ID, "0055e000003DnaRAAS", KIM_ID, BOT_ID, PAT_ID]);
    let kim = &data["records"][2];
    assert_eq!(kim["Username"], "kim@acme.com.prod");
    assert_eq!(kim["IsActive"], true);
}

#[tokio::test]
async fn a_recorded_simulator_answers_without_credentials_and_issues_tokens_to_anyone() {
    itsmid_connectors::http::install_crypto_provider();
    let sim = start(&fixture("salesforce.json"), "salesforce.json").await;
    let recording = client(&sim, Auth::Bearer.live(&sim), "Solution", false);
    let observed = observe(&recording, &keys()).await;
    let replay = start(
        &record(&recording, &observed.owner).to_string(),
        "recorded.json",
    )
    .await;
    let http = reqwest::Client::new();

    let userinfo = http
        .get(format!("{}/services/oauth2/userinfo", replay.uri()))
        .send()
        .await
        .expect("the simulator answers");
    assert_eq!(userinfo.status(), 200);
    let body: Value = userinfo.json().await.expect("JSON");
    assert_eq!(body["user_id"], BOT_ID);
    let page = http
        .get(format!("{}/services/data/v60.0/query", replay.uri()))
        .query(&[(
            "q",
            "SELECT Id FROM User WHERE Username = 'pat@acme.com.prod'",
        )])
        .send()
        .await
        .expect("the simulator answers");
    assert_eq!(page.status(), 200);
    let body: Value = page.json().await.expect("JSON");
    assert_eq!(body["records"][0]["Id"], PAT_ID);

    for form in [
        vec![
            ("grant_type", "client_credentials"),
            ("client_id", "anyone"),
            ("client_secret", "replay"),
        ],
        vec![
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", "not.a.signed-assertion"),
        ],
    ] {
        let token = http
            .post(format!("{}/services/oauth2/token", replay.uri()))
            .form(&form)
            .send()
            .await
            .expect("the simulator answers");
        assert_eq!(token.status(), 200, "{form:?}");
        let body: Value = token.json().await.expect("JSON");
        assert_eq!(body["instance_url"], replay.uri(), "{form:?}");
    }
}
