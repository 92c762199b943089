//! ServiceDesk Plus batches and pages: `has_more_rows` followed, a search
//! whose pages never end refused, and thousands of ids or e-mails cut into
//! few requests, each value in exactly one.
//!
//! Never lets a URL grow past the limit: the batch tests measure the
//! longest one sent.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use itsmid_connectors::{Connector, Lookup, LookupKey, Reason};
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use super::{
    PAT_ID, USERS, client, ext, found, id, is_not_found, json_answer, list_body, requests,
    sent_input, user, users_get,
};
use crate::support::mount_catch_all;

#[tokio::test]
async fn pages_are_followed_while_has_more_rows_is_true() {
    let server = MockServer::start().await;
    let shared: Vec<Value> = (0..100u64)
        .map(|n| {
            user(
                &(123_640_000_000_200_000 + n).to_string(),
                "shared@acme.com",
            )
        })
        .collect();
    users_get("email_id", &["shared@acme.com"], 1)
        .respond_with(json_answer(200, &list_body(shared, true, 1)))
        .expect(1)
        .mount(&server)
        .await;
    users_get("email_id", &["shared@acme.com"], 101)
        .respond_with(json_answer(
            200,
            &list_body(vec![user(PAT_ID, "shared@acme.com")], false, 101),
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let lookups = client(&server)
        .lookup(&[ext("shared@acme.com")])
        .await
        .expect("an answer");

    match lookups.get(&ext("shared@acme.com")) {
        Some(Lookup::Ambiguous(users)) => assert_eq!(users.len(), 101),
        other => panic!("expected Ambiguous, got {other:?}"),
    }
}

#[tokio::test]
async fn a_search_whose_pages_never_end_is_a_bad_response() {
    let server = MockServer::start().await;
    let pages = AtomicU64::new(0);
    let everyone = move |_: &Request| {
        let next = pages.fetch_add(1, Ordering::SeqCst) + 1;
        let page: Vec<Value> = (0..100u64)
            .map(|n| {
                user(
                    &(next * 1_000 + n).to_string(),
                    &format!("u{next}.{n}@acme.com"),
                )
            })
            .collect();
        json_answer(200, &list_body(page, true, 1))
    };
    Mock::given(method("GET"))
        .and(path(USERS))
        .respond_with(everyone)
        .expect(5)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let err = client(&server)
        .lookup(&[ext("pat@acme.com")])
        .await
        .expect_err("an unbounded answer");

    assert_eq!(err.reason(), Reason::BadResponse, "{err}");
}

/// Answers every users request from the ids or e-mails it asks for, with
/// paging: each value asked for is a user (`exist`), or none is.
fn directory(exist: bool) -> impl Fn(&Request) -> ResponseTemplate + Send + Sync + 'static {
    move |request: &Request| {
        let input = sent_input(request);
        let info = &input["list_info"];
        let row_count = info["row_count"].as_u64().unwrap_or(10) as usize;
        let start = info["start_index"].as_u64().unwrap_or(1) as usize;
        let criterion = &info["search_criteria"][0];
        let field = criterion["field"].as_str().unwrap_or_default();
        let all: Vec<Value> = criterion["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter(|_| exist)
            .map(|value| match field {
                "id" => user(value, &format!("u{value}@acme.com")),
                _ => user(&format!("9{}", value.len()), value),
            })
            .collect();
        let page: Vec<Value> = all
            .iter()
            .skip(start - 1)
            .take(row_count)
            .cloned()
            .collect();
        let more = start - 1 + page.len() < all.len();
        json_answer(200, &list_body(page, more, start))
    }
}

/// Looks up `count` long ids against [`directory`] and returns the ids each
/// request carried and the longest URL.
async fn ids_lookup(count: u64, exist: bool) -> (Vec<Vec<String>>, usize) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(USERS))
        .respond_with(directory(exist))
        .mount(&server)
        .await;
    let ids: Vec<String> = (0..count)
        .map(|n| (123_640_000_000_000_000 + n).to_string())
        .collect();
    let keys: Vec<LookupKey> = ids.iter().map(|value| id(value)).collect();
    let client = client(&server);
    let lookups = client.lookup(&keys).await.expect("an answer");
    assert_eq!(lookups.outcomes.len(), keys.len());
    for asked in &ids {
        let key = id(asked);
        if exist {
            assert_eq!(found(&lookups, &key).itsm_user_id.as_str(), asked);
        } else {
            assert!(is_not_found(&lookups, &key));
        }
    }
    let received = requests(&server).await;
    assert_eq!(client.http().requests_sent() as usize, received.len());
    let longest = received
        .iter()
        .map(|request| request.url.as_str().len())
        .max()
        .unwrap_or(0);
    let per_request = received
        .iter()
        .map(|request| {
            sent_input(request)["list_info"]["search_criteria"][0]["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|value| value.as_str().map(str::to_owned))
                .collect()
        })
        .collect();
    (per_request, longest)
}

#[tokio::test]
async fn a_thousand_ids_go_out_in_five_requests_each_id_in_exactly_one() {
    let (per_request, longest) = ids_lookup(1_000, false).await;

    assert_eq!(per_request.len(), 5, "200 ids of 18 digits per request");
    assert!(longest < 6_000, "longest URL: {longest} bytes");
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for id in per_request.iter().flatten() {
        *seen.entry(id.clone()).or_default() += 1;
    }
    assert_eq!(seen.len(), 1_000);
    assert!(seen.values().all(|&times| times == 1));
}

#[tokio::test]
async fn ten_thousand_ids_need_fifty_requests_when_stale_and_a_hundred_when_found() {
    let (stale, longest) = ids_lookup(10_000, false).await;
    assert_eq!(stale.len(), 50);
    assert!(longest < 6_000, "longest URL: {longest} bytes");

    let (found, longest) = ids_lookup(10_000, true).await;
    assert_eq!(found.len(), 100, "one page of 100 users per request");
    assert!(found.len() <= 300, "the target: 0.03 requests per entry");
    assert!(longest < 6_000, "longest URL: {longest} bytes");
}

#[tokio::test]
async fn ten_thousand_e_mails_need_a_hundred_requests() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(USERS))
        .respond_with(directory(false))
        .mount(&server)
        .await;
    let keys: Vec<LookupKey> = (0..10_000)
        .map(|n| ext(&format!("first.last{n}@example.com")))
        .collect();
    let client = client(&server);

    let lookups = client.lookup(&keys).await.expect("an answer");

    assert_eq!(lookups.outcomes.len(), 10_000);
    assert_eq!(client.http().requests_sent(), 100);
    let longest = requests(&server)
        .await
        .iter()
        .map(|request| request.url.as_str().len())
        .max()
        .unwrap_or(0);
    assert!(longest < 6_000, "longest URL: {longest} bytes");
}
