//! Salesforce connector tests: the exact SOQL sent (escaped literals, `IN`
//! lists cut under the URI limit), 15- and 18-character Ids, paging with
//! `nextRecordsUrl` and `lookup_by`. Auth and failures are in `auth`, the
//! simulator seen through the connector in `simulator`.
//!
//! No test sleeps.

use std::collections::BTreeSet;

use itsmid_connectors::salesforce::Client;
use itsmid_connectors::{
    Connector, ConnectorError, ConnectorSettings, Credentials, ExternalId, GrantKind, ItsmUser,
    ItsmUserId, Lookup, LookupKey, Lookups, OAuthGrant, Reason, System, TokenScheme,
};
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::support::{bearer, mount_catch_all, settings};

mod auth;
mod jwt;
mod limits;
mod readiness;
mod recording;
mod simulator;

const TOKEN: &str = "demo-salesforce-token";
const BOT_ID: &str = "0055e000003MwBtAAK";
const PAT_ID: &str = "0055e000003PatLAAS";
const BETH_ID: &str = "0055e000003BthAAAS";
const DANA_ID: &str = "0055e000003DnaRAAS";
const KIM_ID: &str = "0055e000003KimLAAS";
const QUERY: &str = "/services/data/v60.0/query";
const SELECT: &str =
    "SELECT Id, Username, Email, IsActive, FirstName, LastName, Name, UserType FROM User WHERE";

fn client(server: &MockServer, credentials: Credentials) -> Client {
    Client::new(settings(System::Salesforce, server, credentials)).expect("test settings are valid")
}

fn client_with(settings: ConnectorSettings) -> Client {
    Client::new(settings).expect("test settings are valid")
}

fn oauth(token_server: &MockServer, client_id: &str, secret: &str) -> Credentials {
    Credentials::OAuth(OAuthGrant {
        token_url: format!("{}/services/oauth2/token", token_server.uri())
            .parse()
            .expect("a valid URL"),
        client_id: client_id.to_owned(),
        client_secret: Some(SecretString::from(secret.to_owned())),
        kind: GrantKind::ClientCredentials,
        scheme: TokenScheme::Bearer,
    })
}

fn by_id(id: &str) -> LookupKey {
    LookupKey::ItsmUserId(ItsmUserId::new(id))
}

fn by_username(username: &str) -> LookupKey {
    LookupKey::ExternalId(ExternalId::new(username))
}

fn soql_ids(ids: &[&str]) -> String {
    let list: Vec<String> = ids.iter().map(|id| format!("'{id}'")).collect();
    format!("{SELECT} Id IN ({})", list.join(","))
}

fn user_json(id: &str, username: &str, active: bool, first: &str, last: &str) -> serde_json::Value {
    json!({
        "attributes": {"type": "User", "url": format!("/services/data/v60.0/sobjects/User/{id}")},
        "Id": id,
        "Username": username,
        "Email": username.trim_end_matches(".prod"),
        "IsActive": active,
        "FirstName": first,
        "LastName": last,
        "Name": format!("{first} {last}"),
        "UserType": "Standard",
    })
}

fn page(records: Vec<serde_json::Value>, next: Option<&str>) -> ResponseTemplate {
    let mut body = json!({"totalSize": records.len(), "done": next.is_none(), "records": records});
    if let (Some(next), Some(object)) = (next, body.as_object_mut()) {
        object.insert("nextRecordsUrl".into(), json!(next));
        object.insert("totalSize".into(), json!(10));
    }
    sf_json(200, body)
}

fn sf_json(status: u16, body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_raw(body.to_string(), "application/json;charset=UTF-8")
        .insert_header("sforce-limit-info", "api-usage=18/5000")
}

fn sf_error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    sf_json(status, json!([{"message": message, "errorCode": code}]))
}

fn found<'a>(lookups: &'a Lookups, key: &LookupKey) -> &'a ItsmUser {
    match lookups.get(key) {
        Some(Lookup::Found(user)) => user,
        other => panic!("{key:?}: expected Found, got {other:?}"),
    }
}

fn is_not_found(lookups: &Lookups, key: &LookupKey) -> bool {
    matches!(lookups.get(key), Some(Lookup::NotFound { .. }))
}

async fn received(server: &MockServer) -> Vec<Request> {
    server
        .received_requests()
        .await
        .expect("request recording is on")
}

// --- lookups by Id ------------------------------------------------------

#[tokio::test]
async fn ids_are_verified_in_one_query_with_an_id_in_list() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(QUERY))
        .and(query_param("q", soql_ids(&[BETH_ID, BOT_ID, PAT_ID])))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(page(
            vec![
                user_json(
                    BOT_ID,
                    "moveworks.bot@acme.com.prod",
                    true,
                    "Moveworks",
                    "Bot",
                ),
                user_json(
                    BETH_ID,
                    "beth.anglin@acme.com.prod",
                    false,
                    "Beth",
                    "Anglin",
                ),
            ],
            None,
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let salesforce = client(&server, bearer(TOKEN));

    let keys = [by_id(PAT_ID), by_id(BOT_ID), by_id(BETH_ID), by_id(BOT_ID)];
    let lookups = salesforce.lookup(&keys).await.expect("lookup succeeds");

    assert_eq!(lookups.outcomes.len(), 3, "one outcome per distinct key");
    let bot = found(&lookups, &by_id(BOT_ID));
    assert!(bot.active);
    assert_eq!(
        bot.external_id,
        Some(ExternalId::new("moveworks.bot@acme.com.prod"))
    );
    assert_eq!(bot.first_name.as_deref(), Some("Moveworks"));
    assert_eq!(bot.last_name.as_deref(), Some("Bot"));
    assert_eq!(bot.full_name.as_deref(), Some("Moveworks Bot"));
    assert_eq!(bot.account_type.as_deref(), Some("Standard"));
    assert!(
        !found(&lookups, &by_id(BETH_ID)).active,
        "IsActive false is inactive"
    );
    assert!(is_not_found(&lookups, &by_id(PAT_ID)));
    assert_eq!(salesforce.http().requests_sent(), 1);
}

#[tokio::test]
async fn the_api_usage_from_sforce_limit_info_is_recorded_as_a_note() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(QUERY))
        .respond_with(page(vec![], None).insert_header(
            "sforce-limit-info",
            "api-usage=25/5000; per-app-api-usage=17/250(appName=itsmid)",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let salesforce = client(&server, bearer(TOKEN));

    salesforce
        .lookup(&[by_id(BOT_ID)])
        .await
        .expect("lookup succeeds");

    let notes = salesforce.http().notes();
    assert_eq!(notes.get("api_usage").map(String::as_str), Some("25/5000"));
    assert_eq!(notes.get("api_remaining").map(String::as_str), Some("4975"));
}

#[tokio::test]
async fn a_fifteen_character_id_is_looked_up_as_its_eighteen_character_form() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(QUERY))
        .and(query_param("q", soql_ids(&[BOT_ID])))
        .respond_with(page(
            vec![user_json(
                BOT_ID,
                "moveworks.bot@acme.com.prod",
                true,
                "Moveworks",
                "Bot",
            )],
            None,
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let salesforce = client(&server, bearer(TOKEN));
    let short = by_id("0055e000003MwBt");
    let lower_suffix = by_id("0055e000003MwBtaak");

    let lookups = salesforce
        .lookup(&[short.clone(), by_id(BOT_ID), lower_suffix.clone()])
        .await
        .expect("lookup succeeds");

    assert_eq!(
        found(&lookups, &short).itsm_user_id,
        ItsmUserId::new(BOT_ID)
    );
    assert_eq!(
        found(&lookups, &lower_suffix).itsm_user_id,
        ItsmUserId::new(BOT_ID)
    );
    found(&lookups, &by_id(BOT_ID));
    assert_eq!(salesforce.http().requests_sent(), 1);
}

#[tokio::test]
async fn a_bad_checksum_is_refused_without_a_request() {
    let server = MockServer::start().await;
    mount_catch_all(&server).await;
    let salesforce = client(&server, bearer(TOKEN));
    let bad = "0055e000003MwBtAAA";

    let why = System::Salesforce
        .parse_itsm_user_id(bad)
        .expect_err("the checksum is wrong")
        .to_string();
    assert!(why.contains("checksum"), "{why}");
    assert_eq!(
        System::Salesforce.parse_itsm_user_id("0055e000003MwBt"),
        Ok(ItsmUserId::new(BOT_ID))
    );
    let lookups = salesforce
        .lookup(&[
            by_id(bad),
            by_id("005'x"),
            by_username(""),
            by_username("a\u{0}b"),
        ])
        .await
        .expect("nothing to send is not an error");

    assert_eq!(lookups.outcomes.len(), 4);
    assert!(
        lookups
            .outcomes
            .values()
            .all(|l| matches!(l, Lookup::Refused(_)))
    );
    assert_eq!(salesforce.http().requests_sent(), 0);
    assert!(received(&server).await.is_empty());
}

// --- lookups by Username ------------------------------------------------

#[tokio::test]
async fn a_quote_and_a_backslash_are_sent_escaped_in_the_soql() {
    let server = MockServer::start().await;
    let tricky = r"o'brien\ops@acme.com.prod";
    Mock::given(method("GET"))
        .and(path(QUERY))
        .and(query_param(
            "q",
            format!(r"{SELECT} Username IN ('o\'brien\\ops@acme.com.prod','pat@acme.com.prod','x\' OR Username != \'')"),
        ))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(page(
            vec![
                user_json(KIM_ID, tricky, true, "Kim", "O'Brien"),
                user_json(PAT_ID, "pat@acme.com.prod", true, "Pat", "Lee"),
            ],
            None,
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let salesforce = client(&server, bearer(TOKEN));
    let injection = "x' OR Username != '";

    let lookups = salesforce
        .lookup(&[
            by_username(tricky),
            by_username("pat@acme.com.prod"),
            by_username(injection),
        ])
        .await
        .expect("lookup succeeds");

    assert_eq!(
        found(&lookups, &by_username(tricky)).itsm_user_id,
        ItsmUserId::new(KIM_ID)
    );
    found(&lookups, &by_username("pat@acme.com.prod"));
    assert!(is_not_found(&lookups, &by_username(injection)));
    let raw = received(&server).await;
    let query = raw
        .first()
        .and_then(|r| r.url.query())
        .unwrap_or_default()
        .to_owned();
    assert!(query.contains("o%5C%27brien%5C%5Cops"), "{query}");
}

#[tokio::test]
async fn usernames_match_without_regard_to_case_and_keep_the_systems_spelling() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(QUERY))
        .and(query_param(
            "q",
            format!("{SELECT} Username IN ('dana.ross@acme.com.prod','kim@acme.com.prod','twice@acme.com.prod')"),
        ))
        .respond_with(page(
            vec![
                user_json(DANA_ID, "Dana.Ross@acme.com.prod", true, "Dana", "Ross"),
                // Not asked for: a server that ignored the filter proves nothing.
                user_json(PAT_ID, "pat@acme.com.prod", true, "Pat", "Lee"),
                user_json(BOT_ID, "twice@acme.com.prod", true, "One", "Twice"),
                user_json(BETH_ID, "TWICE@acme.com.prod", true, "Two", "Twice"),
            ],
            None,
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let salesforce = client(&server, bearer(TOKEN));

    let keys = [
        by_username("dana.ross@acme.com.prod"),
        by_username("DANA.ROSS@acme.com.prod"),
        by_username("kim@acme.com.prod"),
        by_username(" twice@acme.com.prod"),
    ];
    let lookups = salesforce.lookup(&keys).await.expect("lookup succeeds");

    for key in &keys[..2] {
        assert_eq!(
            found(&lookups, key).external_id,
            Some(ExternalId::new("Dana.Ross@acme.com.prod")),
            "the system's spelling is returned"
        );
    }
    assert!(is_not_found(&lookups, &by_username("kim@acme.com.prod")));
    match lookups.get(&keys[3]) {
        Some(Lookup::Ambiguous(users)) => assert_eq!(users.len(), 2),
        other => panic!("expected Ambiguous, got {other:?}"),
    }
    assert_eq!(salesforce.http().requests_sent(), 1);
}

// --- batching -----------------------------------------------------------

/// Answers every query with no records, refusing (as Salesforce does) a URI
/// over 16,384 bytes.
async fn mount_empty_answers(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path(QUERY))
        .respond_with(|request: &Request| {
            let uri = request.url.path().len() + 1 + request.url.query().unwrap_or("").len();
            if uri > 16_384 {
                ResponseTemplate::new(414).set_body_raw(
                    "<h1>Bad Message 414</h1><pre>reason: URI Too Long</pre>",
                    "text/html",
                )
            } else {
                page(vec![], None)
            }
        })
        .mount(server)
        .await;
    mount_catch_all(server).await;
}

/// Requests sent, after checking that each stays under the URI limit and
/// none was sent twice.
async fn distinct_requests_under_the_limit(server: &MockServer) -> usize {
    let requests = received(server).await;
    let mut seen = BTreeSet::new();
    for request in &requests {
        let uri = request.url.path().len() + 1 + request.url.query().unwrap_or("").len();
        assert!(uri < 16_384, "a URI of {uri} bytes");
        assert!(seen.insert(request.url.to_string()), "a request sent twice");
    }
    requests.len()
}

fn many_ids(count: usize) -> Vec<LookupKey> {
    (0..count)
        .map(|n| {
            let short = format!("005Dn{n:010}");
            let long = System::Salesforce
                .parse_itsm_user_id(&short)
                .expect("a valid Id");
            LookupKey::ItsmUserId(long)
        })
        .collect()
}

#[tokio::test]
async fn one_thousand_ids_take_two_requests_under_the_uri_limit() {
    let server = MockServer::start().await;
    mount_empty_answers(&server).await;
    let salesforce = client(&server, bearer(TOKEN));
    let keys = many_ids(1_000);

    let lookups = salesforce.lookup(&keys).await.expect("lookup succeeds");

    assert_eq!(lookups.outcomes.len(), 1_000);
    assert!(keys.iter().all(|key| is_not_found(&lookups, key)));
    let sent = distinct_requests_under_the_limit(&server).await;
    assert_eq!(sent, 2, "about 500 Ids fit in one URI");
    assert_eq!(salesforce.http().requests_sent() as usize, sent);
}

#[tokio::test]
async fn ten_thousand_ids_take_at_most_three_hundred_requests() {
    let server = MockServer::start().await;
    mount_empty_answers(&server).await;
    let salesforce = client(&server, bearer(TOKEN));
    let keys = many_ids(10_000);

    let lookups = salesforce.lookup(&keys).await.expect("lookup succeeds");

    assert_eq!(lookups.outcomes.len(), 10_000);
    let sent = distinct_requests_under_the_limit(&server).await;
    assert!(sent <= 300, "{sent} requests");
    assert_eq!(sent, 20, "500 Ids per request");
}

#[tokio::test]
async fn long_usernames_are_cut_into_requests_under_the_uri_limit() {
    let server = MockServer::start().await;
    mount_empty_answers(&server).await;
    let salesforce = client(&server, bearer(TOKEN));
    let keys: Vec<LookupKey> = (0..2_000)
        .map(|n| {
            by_username(&format!(
                "firstname.lastname.{n:05}+itsm@subsidiary.acme.example.com"
            ))
        })
        .collect();

    let lookups = salesforce.lookup(&keys).await.expect("lookup succeeds");

    assert_eq!(lookups.outcomes.len(), 2_000);
    let sent = distinct_requests_under_the_limit(&server).await;
    assert!(sent <= 20, "{sent} requests");
}

#[tokio::test]
async fn a_value_too_long_for_any_request_is_refused_without_one() {
    let server = MockServer::start().await;
    mount_catch_all(&server).await;
    let salesforce = client(&server, bearer(TOKEN));
    let huge = "ü".repeat(3_000);

    let lookups = salesforce
        .lookup(&[by_username(&huge)])
        .await
        .expect("lookup succeeds");

    assert!(matches!(
        lookups.get(&by_username(&huge)),
        Some(Lookup::Refused(_))
    ));
    assert!(received(&server).await.is_empty());
}

// --- paging -------------------------------------------------------------

#[tokio::test]
async fn next_records_url_is_followed_until_done_as_a_path_or_a_same_origin_url() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(QUERY))
        .and(query_param("q", soql_ids(&[DANA_ID, KIM_ID, BOT_ID])))
        .respond_with(page(
            vec![user_json(
                BOT_ID,
                "moveworks.bot@acme.com.prod",
                true,
                "Moveworks",
                "Bot",
            )],
            Some("/services/data/v60.0/query/01gRO0000016PIAYA2-1"),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/services/data/v60.0/query/01gRO0000016PIAYA2-1"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(page(
            vec![user_json(
                DANA_ID,
                "Dana.Ross@acme.com.prod",
                true,
                "Dana",
                "Ross",
            )],
            Some(&format!(
                "{}/services/data/v60.0/query/01gRO0000016PIAYA2-2",
                server.uri()
            )),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/services/data/v60.0/query/01gRO0000016PIAYA2-2"))
        .respond_with(page(
            vec![user_json(KIM_ID, "kim@acme.com.prod", true, "Kim", "Park")],
            None,
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let salesforce = client(&server, bearer(TOKEN));

    let lookups = salesforce
        .lookup(&[by_id(BOT_ID), by_id(DANA_ID), by_id(KIM_ID)])
        .await
        .expect("lookup succeeds");

    found(&lookups, &by_id(BOT_ID));
    found(&lookups, &by_id(DANA_ID));
    found(&lookups, &by_id(KIM_ID));
    assert_eq!(salesforce.http().requests_sent(), 3);
}

#[tokio::test]
async fn a_next_records_url_on_another_host_is_refused_and_never_requested() {
    let server = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    mount_catch_all(&elsewhere).await;
    Mock::given(method("GET"))
        .and(path(QUERY))
        .respond_with(page(
            vec![user_json(
                BOT_ID,
                "moveworks.bot@acme.com.prod",
                true,
                "Moveworks",
                "Bot",
            )],
            Some(&format!(
                "{}/services/data/v60.0/query/01gX-1",
                elsewhere.uri()
            )),
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let salesforce = client(&server, bearer(TOKEN));

    let err = salesforce
        .lookup(&[by_id(BOT_ID), by_id(KIM_ID)])
        .await
        .expect_err("another host is refused");

    assert_eq!(err.reason(), Reason::BadResponse, "{err}");
    assert!(err.to_string().contains("another host"), "{err}");
    assert!(
        received(&elsewhere).await.is_empty(),
        "no request left for the other host"
    );
    assert_eq!(salesforce.http().requests_sent(), 1);
}

#[tokio::test]
async fn a_next_records_url_that_leads_back_is_a_bad_response() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(QUERY))
        .respond_with(page(
            vec![user_json(
                BOT_ID,
                "moveworks.bot@acme.com.prod",
                true,
                "Moveworks",
                "Bot",
            )],
            Some("/services/data/v60.0/query/01gLoop-1"),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/services/data/v60.0/query/01gLoop-1"))
        .respond_with(page(
            vec![user_json(
                BOT_ID,
                "moveworks.bot@acme.com.prod",
                true,
                "Moveworks",
                "Bot",
            )],
            Some("/services/data/v60.0/query/01gLoop-1"),
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let salesforce = client(&server, bearer(TOKEN));

    let err = salesforce
        .lookup(&[by_id(BOT_ID)])
        .await
        .expect_err("a loop is refused");

    assert_eq!(err.reason(), Reason::BadResponse, "{err}");
}

// --- lookup_by ----------------------------------------------------------

#[tokio::test]
async fn lookup_by_names_the_field_queried_and_returned_as_external_id() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(QUERY))
        .and(query_param(
            "q",
            format!("{SELECT} Email IN ('PAT@acme.com')"),
        ))
        .respond_with(page(
            vec![user_json(PAT_ID, "pat@acme.com.prod", true, "Pat", "Lee")],
            None,
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(QUERY))
        .and(query_param(
            "q",
            "SELECT Id, Username, Email, IsActive, FirstName, LastName, Name, UserType, \
             FederationIdentifier FROM User WHERE FederationIdentifier IN ('E-1001')",
        ))
        .respond_with(page(vec![], None))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let mut by_email = settings(System::Salesforce, &server, bearer(TOKEN));
    by_email.lookup_field = "email".into();
    let salesforce = client_with(by_email);
    let lookups = salesforce
        .lookup(&[by_username("PAT@acme.com")])
        .await
        .expect("lookup succeeds");
    assert_eq!(
        found(&lookups, &by_username("PAT@acme.com")).external_id,
        Some(ExternalId::new("pat@acme.com"))
    );

    let mut by_federation = settings(System::Salesforce, &server, bearer(TOKEN));
    by_federation.lookup_field = "FederationIdentifier".into();
    let lookups = client_with(by_federation)
        .lookup(&[by_username("E-1001")])
        .await
        .expect("lookup succeeds");
    assert!(is_not_found(&lookups, &by_username("E-1001")));

    let mut bad = settings(System::Salesforce, &server, bearer(TOKEN));
    bad.lookup_field = "Username) OR (Id".into();
    assert!(matches!(
        Client::new(bad),
        Err(ConnectorError::Setup { .. })
    ));
}
