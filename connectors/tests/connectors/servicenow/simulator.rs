//! The ServiceNow simulator over `fixtures/servicenow.json`, through the
//! connector: the same semantics the demo shows.
//!
//! Never stages answers per test: only the fixture data and fault switches.

use itsmid_connectors::servicenow::Client;
use itsmid_connectors::sim::{AnySimulator, Fault};
use itsmid_connectors::{Connector, CredentialOwner, Lookup, Reason, System};
use serde_json::{Value, json};

use super::{ABEL_ID, BOT_ID, PAT_ID, ext, found, id, is_not_found};
use crate::support::{basic, bearer, fixture, settings};

async fn simulator() -> AnySimulator {
    AnySimulator::start(
        System::ServiceNow,
        "fixtures/servicenow.json",
        &fixture("servicenow.json"),
        None,
        true,
    )
    .await
    .expect("the demo fixture starts")
}

fn demo_client(sim: &AnySimulator) -> Client {
    Client::new(settings(
        System::ServiceNow,
        &sim.server,
        basic("moveworks.bot", "demo-snow-password"),
    ))
    .expect("valid settings")
}

#[tokio::test]
async fn the_simulator_finds_users_by_id_and_by_name() {
    let sim = simulator().await;
    let client = demo_client(&sim);

    let lookups = client
        .lookup(&[
            id(BOT_ID),
            id(PAT_ID),
            ext("ABEL.TUTER"),
            ext("dana.ross"),
            ext("nobody"),
            id("00000000000000000000000000000000"),
        ])
        .await
        .expect("an answer");

    let bot = found(&lookups, &id(BOT_ID));
    assert_eq!(bot.full_name.as_deref(), Some("Moveworks Bot"));
    assert!(bot.active);
    assert_eq!(
        found(&lookups, &id(PAT_ID)).first_name.as_deref(),
        Some("Pat")
    );
    let abel = found(&lookups, &ext("ABEL.TUTER"));
    assert_eq!(abel.itsm_user_id.as_str(), ABEL_ID);
    assert_eq!(
        abel.external_id.map(|e| e.into_string()).as_deref(),
        Some("abel.tuter")
    );
    assert!(is_not_found(&lookups, &ext("nobody")));
    assert!(is_not_found(
        &lookups,
        &id("00000000000000000000000000000000")
    ));
    assert_eq!(client.http().requests_sent(), 2);
}

#[tokio::test]
async fn the_simulator_reports_inactive_and_locked_out_users() {
    let sim = simulator().await;

    let lookups = demo_client(&sim)
        .lookup(&[ext("beth.anglin"), ext("carol.locked")])
        .await
        .expect("an answer");

    let beth = found(&lookups, &ext("beth.anglin"));
    assert!(!beth.active);
    assert_eq!(beth.inactive_reason, None);
    let carol = found(&lookups, &ext("carol.locked"));
    assert!(!carol.active);
    assert_eq!(carol.inactive_reason.as_deref(), Some("locked out"));
}

#[tokio::test]
async fn the_simulator_looks_up_by_e_mail_when_configured() {
    let sim = simulator().await;
    let mut settings = settings(System::ServiceNow, &sim.server, bearer("demo-snow-token"));
    settings.lookup_field = "email".into();

    let lookups = Client::new(settings)
        .expect("valid settings")
        .lookup(&[ext("Pat@Acme.com"), ext("shared-desk@acme.com")])
        .await
        .expect("an answer");

    assert_eq!(
        found(&lookups, &ext("Pat@Acme.com")).itsm_user_id.as_str(),
        PAT_ID
    );
    assert_eq!(
        found(&lookups, &ext("shared-desk@acme.com"))
            .itsm_user_id
            .as_str(),
        "0a826bf03710200044e0bfc8bcbe5d7a"
    );
}

#[tokio::test]
async fn an_unknown_lookup_field_widens_the_simulator_answer_and_nothing_matches() {
    let sim = simulator().await;
    let mut settings = settings(
        System::ServiceNow,
        &sim.server,
        basic("moveworks.bot", "demo-snow-password"),
    );
    settings.lookup_field = "employee_number".into();

    let lookups = Client::new(settings)
        .expect("valid settings")
        .lookup(&[ext("pat.lee")])
        .await
        .expect("an answer");

    match lookups.get(&ext("pat.lee")) {
        Some(Lookup::NotFound { note: Some(note) }) => {
            assert!(note.contains("employee_number"), "{note}")
        }
        other => panic!("expected NotFound with a note, got {other:?}"),
    }
}

#[tokio::test]
async fn whoami_against_the_simulator_names_the_bot() {
    let sim = simulator().await;

    let owner = demo_client(&sim).whoami().await.expect("an answer");

    match owner {
        CredentialOwner::Known(user) => assert_eq!(user.itsm_user_id.as_str(), BOT_ID),
        other => panic!("expected Known, got {other:?}"),
    }
}

#[tokio::test]
async fn the_simulator_refuses_unknown_credentials() {
    let sim = simulator().await;
    let client = Client::new(settings(
        System::ServiceNow,
        &sim.server,
        basic("moveworks.bot", "wrong"),
    ))
    .expect("valid settings");

    let err = client.lookup(&[id(BOT_ID)]).await.expect_err("refused");

    assert_eq!(err.reason(), Reason::AuthFailed, "{err}");
}

#[tokio::test]
async fn a_hibernating_simulator_is_a_bad_response() {
    let sim = simulator().await;
    sim.faults.set(Fault::Hibernating);

    let err = demo_client(&sim)
        .lookup(&[id(BOT_ID)])
        .await
        .expect_err("asleep");

    assert_eq!(err.reason(), Reason::BadResponse, "{err}");
}

#[tokio::test]
async fn a_briefly_rate_limited_simulator_still_answers() {
    let sim = simulator().await;
    sim.faults.set(Fault::RateLimited {
        retry_after_seconds: 0,
        times: Some(1),
    });
    let client = demo_client(&sim);

    let lookups = client.lookup(&[id(BOT_ID)]).await.expect("an answer");

    assert_eq!(found(&lookups, &id(BOT_ID)).itsm_user_id.as_str(), BOT_ID);
    assert_eq!(client.http().requests_sent(), 2);
}

#[tokio::test]
async fn the_simulator_pages_and_serves_single_records() {
    let sim = simulator().await;
    let http = reqwest::Client::new();
    let get = |path: &str| {
        http.get(format!("{}{path}", sim.uri()))
            .basic_auth("moveworks.bot", Some("demo-snow-password"))
    };

    let page = get("/api/now/v2/table/sys_user?sysparm_query=active=true&sysparm_limit=2&sysparm_fields=user_name,nope")
        .send()
        .await
        .expect("an answer");
    assert_eq!(page.status(), 200);
    assert_eq!(
        page.headers()
            .get("x-total-count")
            .and_then(|v| v.to_str().ok()),
        Some("6")
    );
    let link = page
        .headers()
        .get("link")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        link.contains("rel=\"next\"") && link.contains("sysparm_offset=2"),
        "{link}"
    );
    let body: Value = page.json().await.expect("JSON");
    assert_eq!(
        body,
        json!({"result": [{"user_name": "moveworks.bot"}, {"user_name": "pat.lee"}]})
    );

    let last =
        get("/api/now/table/sys_user?sysparm_query=active=true&sysparm_limit=2&sysparm_offset=4")
            .send()
            .await
            .expect("an answer");
    assert!(last.headers().get("link").is_none());

    let single = get(&format!("/api/now/table/sys_user/{PAT_ID}"))
        .send()
        .await
        .expect("an answer");
    let body: Value = single.json().await.expect("JSON");
    assert_eq!(body["result"]["user_name"], "pat.lee");

    let missing = get("/api/now/table/sys_user/00000000000000000000000000000000")
        .send()
        .await
        .expect("an answer");
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.expect("JSON");
    assert_eq!(body["error"]["message"], "No Record found");

    let anonymous = http
        .get(format!("{}/api/now/table/sys_user", sim.uri()))
        .send()
        .await
        .expect("an answer");
    assert_eq!(anonymous.status(), 401);
}
