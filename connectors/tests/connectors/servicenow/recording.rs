//! Recordings (SPEC section 8): a check against the simulator over the
//! demo data, recorded, then replayed from the recorded data alone with
//! placeholder secrets, gives the same owner, lookups, readiness and bot
//! settings. The data is the same bytes whatever the order of the keys,
//! holds no live address and no secret, parses as simulator data, and
//! answers without credentials.
//!
//! Never stages answers: both simulators serve data only.

use itsmid_connectors::recorded::recorded_data;
use itsmid_connectors::recording::Exchange;
use itsmid_connectors::servicenow::Client;
use itsmid_connectors::servicenow::sim::SimData;
use itsmid_connectors::sim::AnySimulator;
use itsmid_connectors::{
    BotSettingProblem, Connector, ConnectorSettings, CredentialOwner, Credentials, GrantKind,
    Lookup, LookupKey, OAuthGrant, Readiness, ReadinessInput, System, TokenScheme,
};
use secrecy::SecretString;
use serde_json::{Value, json};
use std::collections::BTreeMap;

use super::{BOT_ID, PAT_ID, ext, found, id};
use crate::support::{basic, bearer, fixture, settings};

const BETH_ID: &str = "46d44a23a9fe19810012d100cca80666";

/// Found, found by another case, inactive, locked out, not found by name
/// and by id.
fn keys() -> Vec<LookupKey> {
    vec![
        id(BOT_ID),
        id(PAT_ID),
        id(BETH_ID),
        ext("ABEL.TUTER"),
        ext("beth.anglin"),
        ext("carol.locked"),
        ext("nobody"),
        id("00000000000000000000000000000000"),
    ]
}

/// The credentials of each auth type, live (the demo data's) or as a
/// replay configures them: every secret the placeholder `replay`.
#[derive(Debug, Clone, Copy)]
enum Auth {
    Basic,
    OAuthPassword,
    Bearer,
}

impl Auth {
    const ALL: [Auth; 3] = [Auth::Basic, Auth::OAuthPassword, Auth::Bearer];

    fn live(self, sim: &AnySimulator) -> Credentials {
        match self {
            Auth::Basic => basic("moveworks.bot", "demo-snow-password"),
            Auth::OAuthPassword => {
                password_grant(sim, "demo-snow-client-secret", "demo-snow-password")
            }
            Auth::Bearer => bearer("demo-snow-token"),
        }
    }

    fn replay(self, sim: &AnySimulator) -> Credentials {
        match self {
            Auth::Basic => basic("moveworks.bot", "replay"),
            Auth::OAuthPassword => password_grant(sim, "replay", "replay"),
            Auth::Bearer => bearer("replay"),
        }
    }
}

fn password_grant(sim: &AnySimulator, client_secret: &str, password: &str) -> Credentials {
    Credentials::OAuth(OAuthGrant {
        token_url: format!("{}/oauth_token.do", sim.uri())
            .parse()
            .expect("a valid URL"),
        client_id: "demo-snow-client".into(),
        client_secret: Some(SecretString::from(client_secret.to_owned())),
        kind: GrantKind::Password {
            username: "moveworks.bot".into(),
            password: SecretString::from(password.to_owned()),
        },
        scheme: TokenScheme::Bearer,
    })
}

async fn start(data: &str, path: &str) -> AnySimulator {
    AnySimulator::start(System::ServiceNow, path, data, None, true)
        .await
        .expect("the data starts a simulator")
}

/// Recording on, and the readiness settings the demo's problems need.
fn client(sim: &AnySimulator, credentials: Credentials, table: &str) -> Client {
    let mut settings: ConnectorSettings = settings(System::ServiceNow, &sim.server, credentials);
    settings.http.record = true;
    settings.readiness.roles = vec!["itil".into(), "sn_incident_write".into()];
    settings.readiness.table = table.into();
    Client::new(settings).expect("valid settings")
}

/// Everything a check reads from the system.
#[derive(Debug, PartialEq)]
struct Observed {
    owner: CredentialOwner,
    lookups: BTreeMap<LookupKey, Lookup>,
    readiness: Readiness,
    settings_off: Vec<BotSettingProblem>,
}

async fn observe(client: &Client, keys: &[LookupKey]) -> Observed {
    let owner = client.whoami().await.expect("whoami answers");
    let lookups = client.lookup(keys).await.expect("the lookups answer");
    let bot = found(&lookups, &id(BOT_ID));
    let input = ReadinessInput {
        bot: bot.clone(),
        users: Vec::new(),
    };
    Observed {
        owner,
        readiness: client.readiness(&input).await,
        settings_off: client.bot_setting_problems(&bot),
        lookups: lookups.outcomes,
    }
}

fn record(client: &Client, owner: &CredentialOwner) -> Value {
    let owner = match owner {
        CredentialOwner::Known(user) => Some(user),
        CredentialOwner::Unknown => None,
    };
    recorded_data(System::ServiceNow, &client.http().recorded(), owner)
}

/// A live run over `data` with `auth`, its recording, and a replay of it
/// with placeholder secrets: both runs' observations.
async fn round_trip(data: &str, auth: Auth, table: &str) -> (Observed, Observed, Value) {
    let live = start(data, "servicenow.json").await;
    let recording = client(&live, auth.live(&live), table);
    let observed = observe(&recording, &keys()).await;
    let recorded = record(&recording, &observed.owner);

    let replay = start(&recorded.to_string(), "recorded.json").await;
    let replayed = observe(&client(&replay, auth.replay(&replay), table), &keys()).await;
    (observed, replayed, recorded)
}

#[tokio::test]
async fn a_replay_of_each_auth_type_answers_as_the_recorded_check() {
    for auth in Auth::ALL {
        let (live, replayed, _) =
            round_trip(&fixture("servicenow.json"), auth, "sn_hr_core_case").await;

        let actual: Vec<Option<&str>> = live
            .readiness
            .problems
            .iter()
            .map(|p| p.actual.as_deref())
            .collect();
        assert_eq!(
            actual,
            [
                Some("sn_incident_write"),
                Some("HTTP 403 on sn_hr_core_case")
            ],
            "{auth:?}: the demo's problems"
        );
        assert!(
            matches!(
                live.lookups.get(&ext("nobody")),
                Some(Lookup::NotFound { .. })
            ),
            "{auth:?}"
        );
        let owner_known = matches!(live.owner, CredentialOwner::Known(_));
        assert_eq!(owner_known, !matches!(auth, Auth::Bearer), "{auth:?}");
        assert_eq!(replayed, live, "{auth:?}");
    }
}

#[tokio::test]
async fn refused_role_reads_and_unknown_tables_replay_as_they_were_answered() {
    let mut data: Value =
        serde_json::from_str(&fixture("servicenow.json")).expect("the demo data is JSON");
    data["simulator"]["acl"] = json!({"sys_user_has_role": ["security_admin"]});

    let (live, replayed, recorded) = round_trip(&data.to_string(), Auth::Basic, "u_nope").await;

    assert!(live.readiness.problems.is_empty(), "{:?}", live.readiness);
    let [roles, table] = live.readiness.cannot_tell.as_slice() else {
        panic!("two reasons: {:?}", live.readiness);
    };
    assert!(
        roles.starts_with("ServiceNow refused to show the bot's roles (HTTP 403"),
        "{roles}"
    );
    assert!(
        table.starts_with("ServiceNow does not know the table u_nope"),
        "{table}"
    );
    assert_eq!(
        recorded["simulator"]["refused"]["sys_user_has_role"]["status"],
        403
    );
    assert_eq!(recorded["simulator"]["refused"]["u_nope"]["status"], 400);
    assert_eq!(replayed, live);
}

#[tokio::test]
async fn the_data_is_the_same_bytes_whatever_the_order_of_the_keys() {
    let sim = start(&fixture("servicenow.json"), "servicenow.json").await;
    let mut pretty = Vec::new();
    let mut reversed_keys = keys();
    reversed_keys.reverse();
    for keys in [keys(), reversed_keys] {
        let recording = client(&sim, Auth::Basic.live(&sim), "incident");
        let observed = observe(&recording, &keys).await;
        let data = record(&recording, &observed.owner);
        pretty.push(serde_json::to_string_pretty(&data).expect("JSON"));

        let mut exchanges: Vec<Exchange> = recording.http().recorded();
        exchanges.reverse();
        let owner = match &observed.owner {
            CredentialOwner::Known(user) => Some(user),
            CredentialOwner::Unknown => None,
        };
        let backwards = recorded_data(System::ServiceNow, &exchanges, owner);
        pretty.push(serde_json::to_string_pretty(&backwards).expect("JSON"));
    }

    assert!(pretty.iter().all(|text| *text == pretty[0]), "{pretty:#?}");
}

#[tokio::test]
async fn the_data_holds_no_live_address_and_no_credential() {
    let text = fixture("servicenow.json");
    let sim = start(&text, "servicenow.json").await;
    for auth in Auth::ALL {
        let recording = client(&sim, auth.live(&sim), "incident");
        let observed = observe(&recording, &keys()).await;
        let data = record(&recording, &observed.owner).to_string();

        let address = sim.server.address().to_string();
        for live in [
            sim.uri().as_str(),
            address.as_str(),
            "sim-access-",
            "sim-refresh-",
        ] {
            assert!(!data.contains(live), "{auth:?}: {live} in {data}");
        }
        let fixture: Value = serde_json::from_str(&text).expect("the demo data is JSON");
        for secret in secrets(&fixture["simulator"]) {
            assert!(!data.contains(&secret), "{auth:?}: {secret} in {data}");
        }
        assert!(!data.contains("\"link\""), "{auth:?}: {data}");
    }
}

/// Every password, token and client secret of a `simulator` section.
fn secrets(section: &Value) -> Vec<String> {
    match section {
        Value::Object(map) => map
            .iter()
            .flat_map(|(key, value)| match value {
                Value::String(text)
                    if ["password", "token", "client_secret", "refresh_token"]
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
async fn the_data_parses_and_holds_each_user_read_once_by_sys_id() {
    let sim = start(&fixture("servicenow.json"), "servicenow.json").await;
    let recording = client(&sim, Auth::Basic.live(&sim), "incident");
    let observed = observe(&recording, &keys()).await;
    let data = record(&recording, &observed.owner);

    SimData::parse(&data.to_string()).expect("the recorded data parses");
    let ids: Vec<&str> = data["result"]
        .as_array()
        .expect("a list of records")
        .iter()
        .map(|user| user["sys_id"].as_str().expect("a sys_id"))
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(ids, sorted, "sorted, each once");
    // The bot, Pat, Beth, Abel and Carol; nobody else was read.
    assert_eq!(ids.len(), 5, "{ids:?}");
    assert_eq!(
        data["simulator"]["any"],
        json!({"user": BOT_ID}),
        "answers as the owner"
    );
}

#[tokio::test]
async fn a_recorded_simulator_answers_without_credentials_and_issues_tokens_to_anyone() {
    itsmid_connectors::http::install_crypto_provider();
    let sim = start(&fixture("servicenow.json"), "servicenow.json").await;
    let recording = client(&sim, Auth::Basic.live(&sim), "incident");
    let observed = observe(&recording, &keys()).await;
    let replay = start(
        &record(&recording, &observed.owner).to_string(),
        "recorded.json",
    )
    .await;
    let http = reqwest::Client::new();

    let users = http
        .get(format!(
            "{}/api/now/table/sys_user?sysparm_query=user_name%3Dpat.lee",
            replay.uri()
        ))
        .send()
        .await
        .expect("the simulator answers");
    assert_eq!(users.status(), 200);
    let body: Value = users.json().await.expect("JSON");
    assert_eq!(body["result"][0]["sys_id"], PAT_ID);

    let token = http
        .post(format!("{}/oauth_token.do", replay.uri()))
        .form(&[
            ("grant_type", "password"),
            ("client_id", "anyone"),
            ("client_secret", "replay"),
            ("username", "moveworks.bot"),
            ("password", "replay"),
        ])
        .send()
        .await
        .expect("the simulator answers");
    assert_eq!(token.status(), 200);
    let body: Value = token.json().await.expect("JSON");
    assert!(body["access_token"].is_string(), "{body}");

    let refreshed = http
        .post(format!("{}/oauth_token.do", replay.uri()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", "anyone"),
            ("client_secret", "replay"),
            ("refresh_token", "replay"),
        ])
        .send()
        .await
        .expect("the simulator answers");
    assert_eq!(refreshed.status(), 200);
}
