//! The Freshservice simulator over `fixtures/freshservice.json` (or ten
//! thousand generated users), through the connector: the same semantics the
//! demo shows.
//!
//! Never stages answers per test: only the fixture data and fault switches.

use itsmid_connectors::freshservice::Client;
use itsmid_connectors::sim::AnySimulator;
use itsmid_connectors::{Connector, CredentialOwner, LookupKey, Reason, System};
use serde_json::{Value, json};

use super::{agent, ext, found, id, is_not_found, requester};
use crate::support::{api_key, fixture, settings};

async fn simulator_with(data: &str) -> AnySimulator {
    AnySimulator::start(
        System::Freshservice,
        "fixtures/freshservice.json",
        data,
        None,
        true,
    )
    .await
    .expect("the fixture starts")
}

fn sim_client(sim: &AnySimulator, key: &str) -> Client {
    Client::new(settings(System::Freshservice, &sim.server, api_key(key))).expect("valid settings")
}

#[tokio::test]
async fn the_simulator_finds_inactive_requesters_agents_and_e_mails_in_any_case() {
    let sim = simulator_with(&fixture("freshservice.json")).await;
    let client = sim_client(&sim, "demo-freshservice-key");

    let lookups = client
        .lookup(&[
            ext("beth.anglin@acme.com"),
            ext("moveworks-bot@acme.com"),
            ext("kim.lee@acme.com"),
            ext("pat@acme.com"),
            ext("o'brien@acme.com"),
            ext("nobody@acme.com"),
            id("19000234503"),
            id("19000000002"),
            id("1"),
        ])
        .await
        .expect("an answer");

    let beth = found(&lookups, &ext("beth.anglin@acme.com"));
    assert!(!beth.active);
    assert_eq!(beth.itsm_user_id.as_str(), "19000234502");
    let bot = found(&lookups, &ext("moveworks-bot@acme.com"));
    assert_eq!(bot.itsm_user_id.as_str(), "19000000001");
    assert_eq!(bot.record_kind.as_deref(), Some("agent"));
    assert_eq!(bot.full_name.as_deref(), Some("Moveworks Bot"));
    let kim = found(&lookups, &ext("kim.lee@acme.com"));
    assert_eq!(
        kim.external_id.map(|e| e.into_string()).as_deref(),
        Some("Kim.Lee@Acme.com")
    );
    let pat = found(&lookups, &ext("pat@acme.com"));
    assert!(pat.active);
    assert_eq!(pat.full_name.as_deref(), Some("Pat Lee"));
    assert!(is_not_found(&lookups, &ext("o'brien@acme.com")));
    assert!(is_not_found(&lookups, &ext("nobody@acme.com")));
    assert_eq!(
        found(&lookups, &id("19000234503"))
            .external_id
            .map(|e| e.into_string())
            .as_deref(),
        Some("dana@acme.com")
    );
    assert_eq!(
        found(&lookups, &id("19000000002")).record_kind.as_deref(),
        Some("agent")
    );
    assert!(is_not_found(&lookups, &id("1")));
}

#[tokio::test]
async fn whoami_against_the_simulator_names_the_agent_of_each_key() {
    let sim = simulator_with(&fixture("freshservice.json")).await;

    for (key, expected) in [
        ("demo-freshservice-key", "19000000001"),
        ("other-agent-key", "19000000002"),
    ] {
        match sim_client(&sim, key).whoami().await.expect("an answer") {
            CredentialOwner::Known(user) => assert_eq!(user.itsm_user_id.as_str(), expected),
            CredentialOwner::Unknown => panic!("{key}: expected an agent"),
        }
    }
    let err = sim_client(&sim, "wrong-key")
        .whoami()
        .await
        .expect_err("unknown key");
    assert_eq!(err.reason(), Reason::AuthFailed);
}

#[tokio::test]
async fn the_simulator_accepts_every_filter_the_connector_packs() {
    let sim = simulator_with(&fixture("freshservice.json")).await;
    let client = sim_client(&sim, "demo-freshservice-key");
    let mut keys: Vec<LookupKey> = (0..60)
        .map(|n| ext(&format!("someone.with.a.long.name{n:02}@acme.com")))
        .collect();
    keys.push(ext("dana@acme.com"));

    let lookups = client.lookup(&keys).await.expect("no 400 for any filter");

    assert_eq!(
        found(&lookups, &ext("dana@acme.com")).itsm_user_id.as_str(),
        "19000234503"
    );
}

#[tokio::test]
async fn ten_thousand_users_with_ids_are_checked_in_at_most_1500_requests() {
    let everyone: Vec<Value> = (1..=10_000u64)
        .map(|n| requester(19_000_000_000 + n, &format!("user{n}@acme.com")))
        .collect();
    let data = json!({
        "requesters": everyone,
        "agents": [agent(18_000_000_001, "moveworks-bot@acme.com")],
        "simulator": {"basic": [{"username": "k", "password": "X", "user": "18000000001"}]},
        "simulator_rate_limit_per_minute": 100_000
    });
    let sim = simulator_with(&data.to_string()).await;
    let client = sim_client(&sim, "k");
    let mut keys: Vec<LookupKey> = Vec::new();
    for n in 1..=10_000u64 {
        keys.push(id(&(19_000_000_000 + n).to_string()));
        keys.push(ext(&format!("USER{n}@acme.com")));
    }

    let lookups = client.lookup(&keys).await.expect("an answer");

    for key in &keys {
        found(&lookups, key);
    }
    let requests = client.http().requests_sent();
    assert!(requests <= 1_500, "{requests} requests");
    assert_eq!(requests, 100, "one listing of 100 pages");
}
