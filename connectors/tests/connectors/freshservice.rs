//! Freshservice connector tests: the exact lookup requests the connector
//! sends (quoted filters, `email=`, listings, ids, the API key as basic
//! auth) and how it reads their answers. `whoami` and refused keys are in
//! `auth`, the connector's own slowing down in `rate_limit`, other failures
//! mapped to their reasons in `errors`, and the simulator answering through
//! the connector in `simulator`.
//!
//! Never relies on the server's filter: answers here are often wider than
//! what was asked, as a prefix match or a lagging index makes them.

use itsmid_connectors::freshservice::Client;
use itsmid_connectors::{
    Connector, ExternalId, ItsmUser, ItsmUserId, Lookup, LookupKey, Lookups, System,
};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{api_key, mount_catch_all, settings};

mod auth;
mod errors;
mod limits;
mod rate_limit;
mod readiness;
mod recording;
mod simulator;

const REQUESTERS: &str = "/api/v2/requesters";
const AGENTS: &str = "/api/v2/agents";
/// `api_key("fs-key")` as sent: the key as user, `X` as password.
const KEY_BASIC: &str = "Basic ZnMta2V5Olg=";

fn client(server: &MockServer) -> Client {
    Client::new(settings(System::Freshservice, server, api_key("fs-key"))).expect("valid settings")
}

fn id(value: &str) -> LookupKey {
    LookupKey::ItsmUserId(ItsmUserId::new(value))
}

fn ext(value: &str) -> LookupKey {
    LookupKey::ExternalId(ExternalId::new(value))
}

fn requester(id: u64, email: &str) -> Value {
    json!({"id": id, "first_name": "First", "last_name": "Last", "primary_email": email,
           "active": true, "is_agent": false})
}

fn agent(id: u64, email: &str) -> Value {
    json!({"id": id, "first_name": "Moveworks", "last_name": "Bot", "email": email,
           "active": true, "occasional": false})
}

fn body(value: Value) -> ResponseTemplate {
    // `set_body_raw`: wiremock's `set_body_string` would send text/plain.
    ResponseTemplate::new(200).set_body_raw(value.to_string(), "application/json; charset=utf-8")
}

fn requesters(records: Vec<Value>) -> ResponseTemplate {
    body(json!({ "requesters": records }))
}

fn agents(records: Vec<Value>) -> ResponseTemplate {
    body(json!({ "agents": records }))
}

fn filter_get(list: &str, query: &str) -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path(list))
        .and(query_param("query", query))
        .and(header("authorization", KEY_BASIC))
}

fn found(lookups: &Lookups, key: &LookupKey) -> ItsmUser {
    match lookups.get(key) {
        Some(Lookup::Found(user)) => user.clone(),
        other => panic!("{key:?}: expected Found, got {other:?}"),
    }
}

fn is_not_found(lookups: &Lookups, key: &LookupKey) -> bool {
    matches!(lookups.get(key), Some(Lookup::NotFound { .. }))
}

async fn received(server: &MockServer) -> Vec<wiremock::Request> {
    server
        .received_requests()
        .await
        .expect("request recording is on")
}

fn param(request: &wiremock::Request, name: &str) -> Option<String> {
    request
        .url
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

fn failure(status: u16, value: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(value.to_string(), "application/json")
}

#[tokio::test]
async fn e_mails_are_looked_up_in_one_quoted_filter_with_the_api_key() {
    let server = MockServer::start().await;
    filter_get(
        REQUESTERS,
        "\"primary_email:'a@x.com' OR primary_email:'b@x.com'\"",
    )
    .and(query_param_is_missing("page"))
    .respond_with(requesters(vec![
        requester(2, "b@x.com"),
        requester(1, "a@x.com"),
    ]))
    .expect(1)
    .mount(&server)
    .await;
    mount_catch_all(&server).await;

    let lookups = client(&server)
        .lookup(&[ext("b@x.com"), ext("a@x.com")])
        .await
        .expect("an answer");

    let a = found(&lookups, &ext("a@x.com"));
    assert_eq!(a.itsm_user_id.as_str(), "1");
    assert_eq!(a.record_kind.as_deref(), Some("requester"));
    assert_eq!(a.full_name.as_deref(), Some("First Last"));
    assert_eq!(found(&lookups, &ext("b@x.com")).itsm_user_id.as_str(), "2");
}

#[tokio::test]
async fn filters_are_cut_at_512_characters_and_every_e_mail_is_in_exactly_one() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(REQUESTERS))
        .respond_with(requesters(vec![]))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(AGENTS))
        .respond_with(agents(vec![]))
        .mount(&server)
        .await;
    let emails: Vec<String> = (0..40)
        .map(|n| format!("user.number{n:02}@example.com"))
        .collect();
    let keys: Vec<LookupKey> = emails.iter().map(|e| ext(e)).collect();

    let lookups = client(&server).lookup(&keys).await.expect("an answer");

    assert!(keys.iter().all(|key| is_not_found(&lookups, key)));
    for (list, field) in [(REQUESTERS, "primary_email"), (AGENTS, "email")] {
        let queries: Vec<String> = received(&server)
            .await
            .iter()
            .filter(|request| request.url.path() == list)
            .filter_map(|request| param(request, "query"))
            .collect();
        assert!(queries.len() > 1, "{queries:?}");
        let mut sent = Vec::new();
        for query in &queries {
            assert!(query.chars().count() <= 512, "{query}");
            let inner = query
                .strip_prefix('"')
                .and_then(|q| q.strip_suffix('"'))
                .expect("double quotes");
            for part in inner.split(" OR ") {
                let value = part
                    .strip_prefix(&format!("{field}:'"))
                    .and_then(|p| p.strip_suffix('\''))
                    .expect("field:'value'");
                sent.push(value.to_owned());
            }
        }
        // Packed full: one more condition would not have fitted.
        let first = queries.first().expect("a query");
        assert!(first.chars().count() + format!(" OR {field}:'{}'", emails[0]).len() > 512);
        sent.sort();
        assert_eq!(sent, emails);
    }
}

#[tokio::test]
async fn a_full_page_of_thirty_is_followed_by_the_next_page() {
    let server = MockServer::start().await;
    let query = "\"primary_email:'pat@acme.com'\"";
    let stale: Vec<Value> = (100..130)
        .map(|n| requester(n, &format!("pat{n}@acme.com")))
        .collect();
    filter_get(REQUESTERS, query)
        .and(query_param_is_missing("page"))
        .respond_with(requesters(stale))
        .expect(1)
        .mount(&server)
        .await;
    filter_get(REQUESTERS, query)
        .and(query_param("page", "2"))
        .respond_with(requesters(vec![requester(7, "pat@acme.com")]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let lookups = client(&server)
        .lookup(&[ext("pat@acme.com")])
        .await
        .expect("an answer");

    assert_eq!(
        found(&lookups, &ext("pat@acme.com")).itsm_user_id.as_str(),
        "7"
    );
}

#[tokio::test]
async fn an_e_mail_no_requester_has_is_looked_up_among_agents() {
    let server = MockServer::start().await;
    filter_get(
        REQUESTERS,
        "\"primary_email:'bot@acme.com' OR primary_email:'pat@acme.com'\"",
    )
    .respond_with(requesters(vec![requester(1, "pat@acme.com")]))
    .expect(1)
    .mount(&server)
    .await;
    filter_get(AGENTS, "\"email:'bot@acme.com'\"")
        .respond_with(agents(vec![agent(9, "bot@acme.com")]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let lookups = client(&server)
        .lookup(&[ext("pat@acme.com"), ext("bot@acme.com")])
        .await
        .expect("an answer");

    let bot = found(&lookups, &ext("bot@acme.com"));
    assert_eq!(bot.itsm_user_id.as_str(), "9");
    assert_eq!(bot.record_kind.as_deref(), Some("agent"));
    assert_eq!(
        found(&lookups, &ext("pat@acme.com")).record_kind.as_deref(),
        Some("requester")
    );
}

#[tokio::test]
async fn a_value_with_a_quote_is_looked_up_with_email_and_never_in_a_filter() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(REQUESTERS))
        .and(query_param("email", "o'brien@acme.com"))
        .and(query_param_is_missing("query"))
        .respond_with(requesters(vec![requester(5, "O'Brien@acme.com")]))
        .expect(1)
        .mount(&server)
        .await;
    filter_get(REQUESTERS, "\"primary_email:'pat@acme.com'\"")
        .respond_with(requesters(vec![requester(1, "pat@acme.com")]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let lookups = client(&server)
        .lookup(&[
            ext("o'brien@acme.com"),
            ext("pat@acme.com"),
            ext("x@acme.com\n"),
        ])
        .await
        .expect("an answer");

    assert_eq!(
        found(&lookups, &ext("o'brien@acme.com"))
            .itsm_user_id
            .as_str(),
        "5"
    );
    assert!(matches!(
        lookups.get(&ext("x@acme.com\n")),
        Some(Lookup::Refused(_))
    ));
    let requests = received(&server).await;
    assert_eq!(requests.len(), 2);
    assert!(
        requests
            .iter()
            .filter_map(|r| param(r, "query"))
            .all(|q| !q.contains("brien")),
        "a quote went into a filter"
    );
}

#[tokio::test]
async fn many_keys_read_the_whole_directory_once_instead_of_filtering() {
    let server = MockServer::start().await;
    let everyone: Vec<Value> = (1..=150)
        .map(|n| requester(n, &format!("user{n}@acme.com")))
        .collect();
    let next = format!(
        "<{}{REQUESTERS}?per_page=100&page=2>; rel=\"next\"",
        server.uri()
    );
    Mock::given(method("GET"))
        .and(path(REQUESTERS))
        .and(query_param("per_page", "100"))
        .and(query_param("page", "1"))
        .and(header("authorization", KEY_BASIC))
        .respond_with(
            requesters(everyone.get(..100).expect("150 records").to_vec())
                .insert_header("link", next.as_str()),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(REQUESTERS))
        .and(query_param("per_page", "100"))
        .and(query_param("page", "2"))
        .respond_with(requesters(
            everyone.get(100..).expect("150 records").to_vec(),
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let keys: Vec<LookupKey> = (1..=150)
        .map(|n| {
            if n % 2 == 0 {
                id(&n.to_string())
            } else {
                ext(&format!("USER{n}@acme.com"))
            }
        })
        .collect();
    let client = client(&server);

    let lookups = client.lookup(&keys).await.expect("an answer");

    for key in &keys {
        found(&lookups, key);
    }
    assert_eq!(client.http().requests_sent(), 2);
}

#[tokio::test]
async fn records_the_filter_returned_are_checked_against_the_key_again() {
    let server = MockServer::start().await;
    filter_get(
        REQUESTERS,
        "\"primary_email:'dup@acme.com' OR primary_email:'nobody@acme.com' OR primary_email:'pat@acme.com'\"",
    )
    .respond_with(requesters(vec![
        requester(1, "patricia@acme.com"),
        requester(2, "Pat@Acme.com"),
        requester(3, "pat@acme.com.evil.example"),
        requester(4, "dup@acme.com"),
        requester(5, "DUP@acme.com"),
    ]))
    .expect(1)
    .mount(&server)
    .await;
    filter_get(AGENTS, "\"email:'nobody@acme.com'\"")
        .respond_with(agents(vec![agent(8, "nobody.else@acme.com")]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let lookups = client(&server)
        .lookup(&[
            ext("pat@acme.com"),
            ext("nobody@acme.com"),
            ext("dup@acme.com"),
        ])
        .await
        .expect("an answer");

    let pat = found(&lookups, &ext("pat@acme.com"));
    assert_eq!(pat.itsm_user_id.as_str(), "2");
    assert_eq!(
        pat.external_id.map(|e| e.into_string()).as_deref(),
        Some("Pat@Acme.com")
    );
    assert!(is_not_found(&lookups, &ext("nobody@acme.com")));
    match lookups.get(&ext("dup@acme.com")) {
        Some(Lookup::Ambiguous(users)) => assert_eq!(users.len(), 2),
        other => panic!("expected Ambiguous, got {other:?}"),
    }
}

#[tokio::test]
async fn ids_are_fetched_one_by_one_and_a_404_falls_back_to_agents() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{REQUESTERS}/19000234501")))
        .and(header("authorization", KEY_BASIC))
        .respond_with(body(
            json!({"requester": requester(19_000_234_501, "pat@acme.com")}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    for missing in ["19000000001", "404"] {
        Mock::given(method("GET"))
            .and(path(format!("{REQUESTERS}/{missing}")))
            .respond_with(ResponseTemplate::new(404))
            .expect(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path(format!("{AGENTS}/19000000001")))
        .respond_with(body(
            json!({"agent": agent(19_000_000_001, "bot@acme.com")}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{AGENTS}/404")))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let lookups = client(&server)
        .lookup(&[
            id("19000234501"),
            id("19000000001"),
            id("404"),
            id("12a"),
            id("../me"),
        ])
        .await
        .expect("an answer");

    assert_eq!(
        found(&lookups, &id("19000234501")).record_kind.as_deref(),
        Some("requester")
    );
    assert_eq!(
        found(&lookups, &id("19000000001")).record_kind.as_deref(),
        Some("agent")
    );
    assert!(is_not_found(&lookups, &id("404")));
    assert!(matches!(lookups.get(&id("12a")), Some(Lookup::Refused(_))));
    assert!(matches!(
        lookups.get(&id("../me")),
        Some(Lookup::Refused(_))
    ));
}
