//! SPEC section 5's limits end to end: a front end in front of ServiceNow
//! that refuses long URLs with 414 at a limit nobody documents, far below
//! the connector's own. Each refused batch is asked again in halves until
//! the parts pass: every entry is still verified and the system stays
//! `ok`.

use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, Request, ResponseTemplate};

use crate::support::{BOT, World, entry, entry_of, system_row};

/// The front end's limit on `sysparm_query`, in characters: `sys_idIN`
/// and one sys_id pass, a list of two or more does not.
const QUERY_LIMIT: usize = 40;

fn sysparm_query(request: &Request) -> Option<String> {
    request
        .url
        .query_pairs()
        .find(|(name, _)| name == "sysparm_query")
        .map(|(_, value)| value.into_owned())
}

/// The manual users: ServiceNow accounts of the fixture, each with its
/// login and sys_id.
const USERS: [(&str, &str, &str); 3] = [
    (
        "pat@acme.com",
        "pat.lee",
        "a8f98bb0eb32010045e1a5115206fe3a",
    ),
    (
        "abel.tuter@acme.com",
        "abel.tuter",
        "62826bf03710200044e0bfc8bcbe5df1",
    ),
    (
        "dana@acme.com",
        "dana.ross",
        "f298d2d2c611227b0106c6be7f154bc8",
    ),
];

#[tokio::test(flavor = "multi_thread")]
async fn batches_a_front_end_answers_414_are_split_until_every_entry_is_verified() {
    let world = World::start().await;
    let mut identities = BOT.to_owned();
    for (urid, login, sys_id) in USERS {
        identities.push_str(&format!(
            "\n[[users]]\nemail_addr = \"{urid}\"\nunique_record_id = \"{urid}\"\n{}",
            entry("snow", &[("external_id", login), ("itsm_user_id", sys_id)])
        ));
    }
    world.write_identities(&identities);
    // Before the simulator's own answers (priority 1 goes first).
    Mock::given(method("GET"))
        .and(path("/api/now/table/sys_user"))
        .and(|request: &Request| {
            sysparm_query(request).is_some_and(|query| query.len() > QUERY_LIMIT)
        })
        .respond_with(ResponseTemplate::new(414).set_body_raw(
            "<html><head><title>414 Request-URI Too Long</title></head>\
             <body><h1>Request-URI Too Long</h1></body></html>",
            "text/html",
        ))
        .with_priority(1)
        .mount(&world.snow.server)
        .await;

    let (code, report) = world.check().await;

    let queries: Vec<String> = world
        .snow
        .server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == "/api/now/table/sys_user")
        .filter_map(sysparm_query)
        .collect();
    assert_eq!(code, 0, "{report:#}");
    let row = system_row(&report, "snow");
    assert_eq!(row["status"], "ok", "{row:#}");
    assert_eq!(row["reason"], Value::Null, "{row:#}");
    assert_eq!(report["complete"], true);
    for urid in ["moveworks-bot@acme.com"]
        .into_iter()
        .chain(USERS.map(|(urid, _, _)| urid))
    {
        assert_eq!(
            entry_of(&report, urid, "snow")["status"],
            "verified",
            "{report:#}"
        );
    }
    assert!(
        report["findings"].as_array().is_some_and(Vec::is_empty),
        "{report:#}"
    );

    // The batch of four and both its halves were refused; each id went
    // alone, and passed.
    let (refused, passed): (Vec<&String>, Vec<&String>) =
        queries.iter().partition(|q| q.len() > QUERY_LIMIT);
    let ids = |q: &&String| {
        q.strip_prefix("sys_idIN")
            .map(|list| list.split(',').count())
    };
    let mut refused: Vec<Option<usize>> = refused.iter().map(ids).collect();
    refused.sort();
    assert_eq!(refused, [Some(2), Some(2), Some(4)], "{queries:#?}");
    for (_, _, sys_id) in USERS {
        assert!(
            passed
                .iter()
                .any(|q| q.as_str() == format!("sys_idIN{sys_id}")),
            "{sys_id} was not asked alone: {queries:#?}"
        );
    }
}
