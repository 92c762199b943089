//! The ManageEngine simulator over `fixtures/manageengine.json`, through
//! the connector: on-premises `authtoken` and Cloud Zoho tokens, paging,
//! faults and criteria it refuses, the same semantics the demo shows.
//!
//! Never stages answers per test: only the fixture data and fault switches.

use itsmid_connectors::manageengine::Client;
use itsmid_connectors::sim::{AnySimulator, Fault};
use itsmid_connectors::{Connector, ExternalId, Lookup, Reason, System};
use serde_json::{Value, json};

use super::{
    BETH_ID, BOT_ID, HELPDESK_IDS, PAT_ID, TOKEN, USERS, authtoken, ext, found, id, input_data,
    is_not_found, requests, zoho,
};
use crate::support::{fixture, settings};

async fn simulator() -> AnySimulator {
    simulator_with(&fixture("manageengine.json")).await
}

async fn simulator_with(data: &str) -> AnySimulator {
    AnySimulator::start(
        System::ManageEngine,
        "fixtures/manageengine.json",
        data,
        None,
        true,
    )
    .await
    .expect("the fixture starts")
}

fn demo_client(sim: &AnySimulator) -> Client {
    Client::new(settings(
        System::ManageEngine,
        &sim.server,
        authtoken("demo-manageengine-authtoken"),
    ))
    .expect("valid settings")
}

fn demo_zoho_client(sim: &AnySimulator) -> Client {
    Client::new(settings(
        System::ManageEngine,
        &sim.server,
        zoho(
            &sim.server,
            "demo-zoho-client",
            "demo-zoho-secret",
            "demo-zoho-refresh",
        ),
    ))
    .expect("valid settings")
}

#[tokio::test]
async fn the_simulator_finds_users_by_id_and_by_e_mail_without_regard_to_case() {
    let sim = simulator().await;
    let client = demo_client(&sim);

    let lookups = client
        .lookup(&[
            id(BOT_ID),
            id(PAT_ID),
            ext("Dana@ACME.com"),
            ext("moveworks-bot@acme.com"),
            ext("nobody@acme.com"),
            id("123640000000000000"),
        ])
        .await
        .expect("an answer");

    let bot = found(&lookups, &id(BOT_ID));
    assert_eq!(bot.full_name.as_deref(), Some("Moveworks Bot"));
    assert_eq!(bot.first_name.as_deref(), Some("Moveworks"));
    assert_eq!(bot.record_kind.as_deref(), Some("technician"));
    assert!(bot.active);
    assert_eq!(
        found(&lookups, &ext("moveworks-bot@acme.com"))
            .itsm_user_id
            .as_str(),
        BOT_ID
    );
    assert_eq!(
        found(&lookups, &id(PAT_ID)).last_name.as_deref(),
        Some("Lee")
    );
    let dana = found(&lookups, &ext("Dana@ACME.com"));
    assert_eq!(dana.itsm_user_id.as_str(), "123640000000142504");
    assert_eq!(dana.external_id, Some(ExternalId::new("dana@acme.com")));
    assert!(is_not_found(&lookups, &ext("nobody@acme.com")));
    assert!(is_not_found(&lookups, &id("123640000000000000")));
    assert_eq!(client.http().requests_sent(), 2);
}

#[tokio::test]
async fn the_simulator_reports_inactive_and_ambiguous_users() {
    let sim = simulator().await;

    let lookups = demo_client(&sim)
        .lookup(&[
            ext("beth.anglin@acme.com"),
            ext("helpdesk@acme.com"),
            id(BETH_ID),
        ])
        .await
        .expect("an answer");

    assert!(!found(&lookups, &ext("beth.anglin@acme.com")).active);
    assert!(!found(&lookups, &id(BETH_ID)).active);
    match lookups.get(&ext("helpdesk@acme.com")) {
        Some(Lookup::Ambiguous(users)) => {
            let ids: Vec<&str> = users.iter().map(|u| u.itsm_user_id.as_str()).collect();
            assert_eq!(ids, HELPDESK_IDS);
        }
        other => panic!("expected Ambiguous, got {other:?}"),
    }
}

#[tokio::test]
async fn the_simulator_accepts_zoho_tokens_it_issued_on_the_cloud_path() {
    let sim = simulator().await;
    let mut settings = settings(
        System::ManageEngine,
        &sim.server,
        zoho(
            &sim.server,
            "demo-zoho-client",
            "demo-zoho-secret",
            "demo-zoho-refresh",
        ),
    );
    settings.base_url = format!("{}/app/itdesk", sim.uri())
        .parse()
        .expect("a valid URL");
    let client = Client::new(settings).expect("valid settings");

    let lookups = client
        .lookup(&[ext("pat@acme.com"), id(BOT_ID)])
        .await
        .expect("an answer");

    assert_eq!(
        found(&lookups, &ext("pat@acme.com")).itsm_user_id.as_str(),
        PAT_ID
    );
    assert_eq!(found(&lookups, &id(BOT_ID)).itsm_user_id.as_str(), BOT_ID);
    assert_eq!(client.http().requests_sent(), 3, "one token, two searches");
    let paths: Vec<String> = requests(&sim.server)
        .await
        .iter()
        .map(|request| request.url.path().to_owned())
        .collect();
    assert_eq!(
        paths,
        [
            TOKEN,
            "/app/itdesk/api/v3/users",
            "/app/itdesk/api/v3/users"
        ]
    );
}

#[tokio::test]
async fn the_simulator_refuses_unknown_credentials() {
    let sim = simulator().await;
    let wrong_key = Client::new(settings(
        System::ManageEngine,
        &sim.server,
        authtoken("not-the-key"),
    ))
    .expect("valid settings");
    let err = wrong_key.lookup(&[id(BOT_ID)]).await.expect_err("refused");
    assert_eq!(err.reason(), Reason::AuthFailed, "{err}");
    assert_eq!(wrong_key.http().requests_sent(), 1);

    let wrong_refresh = Client::new(settings(
        System::ManageEngine,
        &sim.server,
        zoho(
            &sim.server,
            "demo-zoho-client",
            "demo-zoho-secret",
            "revoked",
        ),
    ))
    .expect("valid settings");
    let err = wrong_refresh
        .lookup(&[id(BOT_ID)])
        .await
        .expect_err("refused");
    assert_eq!(err.reason(), Reason::AuthFailed, "{err}");
    assert_eq!(
        wrong_refresh.http().requests_sent(),
        1,
        "only the token request"
    );
}

#[tokio::test]
async fn the_simulator_answers_both_authtoken_header_forms_and_refuses_others() {
    let sim = simulator().await;
    let http = reqwest::Client::new();
    let url = format!(
        "{}{USERS}?input_data={}",
        sim.uri(),
        url::form_urlencoded::byte_serialize(
            input_data("email_id", &["pat@acme.com"], 1).as_bytes()
        )
        .collect::<String>()
    );

    for (name, value) in [
        ("authtoken", "demo-manageengine-authtoken"),
        ("authorization", "authtoken: demo-manageengine-authtoken"),
    ] {
        let reply = http
            .get(&url)
            .header(name, value)
            .send()
            .await
            .expect("an answer");
        assert_eq!(reply.status(), 200, "{name}");
        let body: Value = reply.json().await.expect("JSON");
        assert_eq!(body["response_status"][0]["status_code"], 2000);
        assert_eq!(body["list_info"]["total_count"], 1);
        assert_eq!(body["list_info"]["has_more_rows"], false);
        assert_eq!(body["users"][0]["id"], PAT_ID);
    }

    let anonymous = http.get(&url).send().await.expect("an answer");
    assert_eq!(anonymous.status(), 401);
    let body: Value = anonymous.json().await.expect("JSON");
    assert_eq!(body["response_status"]["messages"][0]["status_code"], 4022);
    let unissued = http
        .get(&url)
        .header("authorization", "Zoho-oauthtoken 1000.never-issued")
        .send()
        .await
        .expect("an answer");
    assert_eq!(unissued.status(), 401);
}

#[tokio::test]
async fn the_simulator_pages_and_refuses_more_than_a_hundred_rows() {
    let sim = simulator().await;
    let http = reqwest::Client::new();
    let get = |input: Value| {
        http.get(format!("{}{USERS}", sim.uri()))
            .query(&[("input_data", input.to_string())])
            .header("authtoken", "demo-manageengine-authtoken")
            .send()
    };

    let first: Value = get(json!({"list_info": {"row_count": 4, "start_index": 1,
        "search_criteria": {"field": "status", "condition": "is", "value": "active"}}}))
    .await
    .expect("an answer")
    .json()
    .await
    .expect("JSON");
    assert_eq!(first["list_info"]["has_more_rows"], true);
    assert_eq!(first["users"].as_array().map(Vec::len), Some(4));
    assert!(first["list_info"].get("total_count").is_none());

    let last: Value = get(json!({"list_info": {"row_count": 4, "start_index": 5,
        "get_total_count": true,
        "search_criteria": [{"field": "status", "condition": "is", "value": "ACTIVE"}]}}))
    .await
    .expect("an answer")
    .json()
    .await
    .expect("JSON");
    assert_eq!(last["list_info"]["has_more_rows"], false);
    assert_eq!(last["list_info"]["total_count"], 5);
    assert_eq!(last["users"].as_array().map(Vec::len), Some(1));

    let too_many = get(json!({"list_info": {"row_count": 101}}))
        .await
        .expect("an answer");
    assert_eq!(too_many.status(), 400);
    let body: Value = too_many.json().await.expect("JSON");
    assert_eq!(body["response_status"]["status"], "failed");
}

#[tokio::test]
async fn a_rate_limited_simulator_is_rate_limited_through_the_connector() {
    for answer in ["http_429", "status_4015"] {
        let mut data: Value =
            serde_json::from_str(&fixture("manageengine.json")).expect("the fixture is JSON");
        data["rate_limit"] = json!({ "requests_per_minute": 1, "answer": answer });
        let sim = simulator_with(&data.to_string()).await;
        let client = demo_client(&sim);

        let lookups = client
            .lookup(&[id(BOT_ID)])
            .await
            .expect("the first request");
        assert!(found(&lookups, &id(BOT_ID)).active);
        let err = client
            .lookup(&[id(PAT_ID)])
            .await
            .expect_err("over the limit");

        assert_eq!(err.reason(), Reason::RateLimited, "{answer}: {err}");
        assert_eq!(client.http().requests_sent(), 5, "{answer}: 1 + 4 attempts");
    }
}

#[tokio::test]
async fn a_briefly_rate_limited_simulator_still_answers() {
    let sim = simulator().await;
    sim.faults.set(Fault::RateLimited {
        retry_after_seconds: 0,
        times: Some(1),
    });
    let client = demo_zoho_client(&sim);

    let lookups = client.lookup(&[id(BOT_ID)]).await.expect("an answer");

    assert_eq!(found(&lookups, &id(BOT_ID)).itsm_user_id.as_str(), BOT_ID);
    assert_eq!(client.http().requests_sent(), 3, "token 429, token, search");
}

#[tokio::test]
async fn a_simulator_behind_a_login_page_is_a_bad_response() {
    let sim = simulator().await;
    sim.faults.set(Fault::Hibernating);

    let err = demo_client(&sim)
        .lookup(&[id(BOT_ID)])
        .await
        .expect_err("not the API");

    assert_eq!(err.reason(), Reason::BadResponse, "{err}");
}

#[tokio::test]
async fn an_address_with_quotes_and_backslashes_is_found_exactly_through_the_simulator() {
    let tricky = r#"o"brien\x@acme.com"#;
    let data = json!({
        "users": [
            { "id": "123640000000142601", "email_id": tricky, "name": "O Brien", "status": "ACTIVE" },
            { "id": "123640000000142602", "email_id": "obrien@acme.com", "name": "Other", "status": "ACTIVE" }
        ],
        "simulator": { "authtoken": [{ "token": "demo-manageengine-authtoken" }] }
    });
    let sim = simulator_with(&data.to_string()).await;
    let injection = r#"x"],"condition":"is not","values":["x"#;

    let lookups = demo_client(&sim)
        .lookup(&[ext(&tricky.to_uppercase()), ext(injection)])
        .await
        .expect("an answer");

    let found = found(&lookups, &ext(&tricky.to_uppercase()));
    assert_eq!(found.itsm_user_id.as_str(), "123640000000142601");
    assert_eq!(found.external_id, Some(ExternalId::new(tricky)));
    assert!(is_not_found(&lookups, &ext(injection)));
}

#[tokio::test]
async fn the_simulator_refuses_criteria_it_does_not_understand() {
    let sim = simulator().await;
    let http = reqwest::Client::new();

    for input in [
        json!({"list_info": {"search_criteria": {"field": "email_id", "condition": "sounds like", "value": "x"}}}),
        json!({"list_info": {"search_criteria": {"field": "email_id", "condition": "is"}}}),
        json!({"list_info": {"start_index": 0}}),
        json!(["not", "an", "object"]),
    ] {
        let reply = http
            .get(format!("{}{USERS}", sim.uri()))
            .query(&[("input_data", input.to_string())])
            .header("authtoken", "demo-manageengine-authtoken")
            .send()
            .await
            .expect("an answer");
        assert_eq!(reply.status(), 400, "{input}");
        let body: Value = reply.json().await.expect("JSON");
        assert_eq!(body["response_status"]["status"], "failed", "{input}");
    }
}

#[tokio::test]
async fn an_expired_zoho_token_is_refreshed_once_through_the_simulator() {
    let mut data: Value =
        serde_json::from_str(&fixture("manageengine.json")).expect("the fixture is JSON");
    data["access_token_uses"] = json!(1);
    let sim = simulator_with(&data.to_string()).await;
    let client = demo_zoho_client(&sim);

    let lookups = client
        .lookup(&[id(BOT_ID), ext("pat@acme.com")])
        .await
        .expect("an answer after one refresh");
    assert_eq!(found(&lookups, &id(BOT_ID)).itsm_user_id.as_str(), BOT_ID);
    assert_eq!(
        found(&lookups, &ext("pat@acme.com")).itsm_user_id.as_str(),
        PAT_ID
    );
    assert_eq!(
        client.http().requests_sent(),
        5,
        "token, search, refused search, token, search"
    );

    let err = client
        .lookup(&[ext("dana@acme.com")])
        .await
        .expect_err("one refresh per run");
    assert_eq!(err.reason(), Reason::AuthFailed, "{err}");
    assert_eq!(client.http().requests_sent(), 6);
}
