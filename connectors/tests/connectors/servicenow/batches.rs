//! ServiceNow batches and pages: many ids cut into `sys_idIN` requests under
//! the URL limit, each id in exactly one, and full pages followed to the
//! end.
//!
//! Never lets a batch grow past the URL limit or a query page forever: a
//! query whose pages never end is a bad response.

use std::collections::BTreeMap;

use itsmid_connectors::{Connector, Lookup, LookupKey, Reason};
use serde_json::Value;
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer};

use super::{
    PAT_ID, TABLE, answer, client, ext, id, is_not_found, requests, row, sysparm_query, table_get,
};
use crate::support::mount_catch_all;

/// Mounts an empty answer for every table request and returns, after the
/// lookup of `count` ids, the queries sent and the longest URL.
async fn ids_lookup(count: usize) -> (Vec<String>, usize, Vec<LookupKey>) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(TABLE))
        .respond_with(answer(vec![]))
        .mount(&server)
        .await;
    let keys: Vec<LookupKey> = (0..count).map(|n| id(&format!("{n:032x}"))).collect();
    let lookups = client(&server).lookup(&keys).await.expect("an answer");
    assert_eq!(lookups.outcomes.len(), count);
    assert!(keys.iter().all(|key| is_not_found(&lookups, key)));
    let received = requests(&server).await;
    let longest = received
        .iter()
        .map(|request| request.url.as_str().len())
        .max()
        .unwrap_or(0);
    let queries = received.iter().map(sysparm_query).collect();
    (queries, longest, keys)
}

#[tokio::test]
async fn a_thousand_ids_go_out_in_a_few_requests_each_id_in_exactly_one() {
    let (queries, longest, keys) = ids_lookup(1_000).await;

    assert_eq!(
        queries.len(),
        7,
        "about 160 sys_ids fit in a 6,000-byte URL"
    );
    assert!(longest < 6_000, "longest URL: {longest} bytes");
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for query in &queries {
        let list = query.strip_prefix("sys_idIN").expect("a sys_idIN query");
        for id in list.split(',') {
            *seen.entry(id.to_owned()).or_default() += 1;
        }
    }
    assert_eq!(seen.len(), keys.len());
    assert!(seen.values().all(|&times| times == 1));
}

#[tokio::test]
async fn ten_thousand_ids_need_far_fewer_than_three_hundred_requests() {
    let (queries, longest, _) = ids_lookup(10_000).await;

    // About 160 sys_ids per request, in URLs that also carry the fields.
    assert_eq!(queries.len(), 63);
    assert!(longest < 6_000, "longest URL: {longest} bytes");
}

#[tokio::test]
async fn a_full_page_is_followed_by_the_next_one() {
    let server = MockServer::start().await;
    let shared: Vec<Value> = (0..10)
        .map(|n| row(&format!("{n:032x}"), "sam.shared"))
        .collect();
    table_get("user_nameINsam.shared", "10")
        .and(query_param_is_missing("sysparm_offset"))
        .respond_with(answer(shared))
        .expect(1)
        .mount(&server)
        .await;
    table_get("user_nameINsam.shared", "10")
        .and(query_param("sysparm_offset", "10"))
        .respond_with(answer(vec![row(PAT_ID, "sam.shared")]))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let lookups = client(&server)
        .lookup(&[ext("sam.shared")])
        .await
        .expect("an answer");

    match lookups.get(&ext("sam.shared")) {
        Some(Lookup::Ambiguous(users)) => assert_eq!(users.len(), 11),
        other => panic!("expected Ambiguous, got {other:?}"),
    }
}

#[tokio::test]
async fn a_query_whose_pages_never_end_is_a_bad_response() {
    let server = MockServer::start().await;
    let widened: Vec<Value> = (0..10)
        .map(|n| row(&format!("{n:032x}"), &format!("user{n}")))
        .collect();
    table_get("user_nameINpat.lee", "10")
        .respond_with(answer(widened))
        .expect(5)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let err = client(&server)
        .lookup(&[ext("pat.lee")])
        .await
        .expect_err("an unbounded answer");

    assert_eq!(err.reason(), Reason::BadResponse, "{err}");
}
