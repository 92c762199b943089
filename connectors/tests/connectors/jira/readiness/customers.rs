//! The customer check of Jira readiness: one search per manual user on the
//! desk the project key names (no desk lookup first), with the
//! experimental opt-in header, compared by accountId, within SPEC's budget
//! of one request per user.

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

use super::{
    Answers, CASEY_ID, CUSTOMER_PATH, account, assert_ready, cannot_tell, casey, customer_page,
    error_answer, input, mount, mount_customers, pat, probe_client,
};
use crate::jira::{PAT_ID, json_answer, raw_query};
use crate::support::mount_catch_all;
use itsmid_connectors::{Connector, ReadinessKind};

#[tokio::test]
async fn a_user_the_customer_search_does_not_return_is_not_a_customer() {
    let server = MockServer::start().await;
    mount(&server, Answers::default(), [1, 1, 1, 1]).await;
    mount_customers(
        &server,
        "customer@partner.example",
        json_answer(customer_page(&[CASEY_ID], true)),
        1,
    )
    .await;
    mount_customers(
        &server,
        "pat@acme.com",
        json_answer(customer_page(
            &["712020:6b1f7b04-6e9e-4276-b4d8-4d7b1678e328"],
            true,
        )),
        1,
    )
    .await;
    mount_catch_all(&server).await;

    let found = probe_client(&server, Some("ITH"))
        .readiness(&input(vec![casey(), pat()]))
        .await;

    assert!(found.cannot_tell.is_empty(), "{:?}", found.cannot_tell);
    let [problem] = found.problems.as_slice() else {
        panic!("one problem expected: {:#?}", found.problems);
    };
    assert_eq!(problem.kind, ReadinessKind::NotCustomer { user: 1 });
    assert!(problem.message.starts_with(&format!(
        "pat@acme.com (Jira account {PAT_ID}) is not a customer"
    )));
    assert!(
        problem.fix.contains("Customers → Add customers"),
        "{}",
        problem.fix
    );
}

#[tokio::test]
async fn a_bot_that_may_not_list_customers_cannot_tell_after_one_request() {
    let server = MockServer::start().await;
    mount(&server, Answers::default(), [1, 1, 1, 1]).await;
    mount_customers(
        &server,
        "pat@acme.com",
        error_answer(403, json!({"errorMessage": "You do not have permission to view the customers of this service desk.", "i18nErrorMessage": {"i18nKey": "x", "parameters": []}})),
        1,
    )
    .await;
    mount_customers(
        &server,
        "customer@partner.example",
        json_answer(customer_page(&[], true)),
        0,
    )
    .await;
    mount_catch_all(&server).await;
    let jira = probe_client(&server, Some("ITH"));

    let found = jira.readiness(&input(vec![pat(), casey()])).await;

    assert!(found.problems.is_empty(), "{:#?}", found.problems);
    let why = cannot_tell(&found, "customers");
    assert!(
        why.contains("HTTP 403: You do not have permission"),
        "{why}"
    );
    assert_eq!(jira.http().requests_sent(), 5, "4 + the one refused search");
}

#[tokio::test]
async fn a_project_without_a_service_desk_cannot_tell_the_customers() {
    let server = MockServer::start().await;
    mount(&server, Answers::default(), [1, 1, 1, 1]).await;
    // No desk lookup: the first customer search is what finds no desk.
    mount_customers(
        &server,
        "pat@acme.com",
        error_answer(
            404,
            json!({"errorMessage": "The service desk projectKey:ITH does not exist.", "i18nErrorMessage": {"i18nKey": "x", "parameters": []}}),
        ),
        1,
    )
    .await;
    mount_customers(
        &server,
        "customer@partner.example",
        json_answer(customer_page(&[CASEY_ID], true)),
        0,
    )
    .await;
    mount_catch_all(&server).await;
    let jira = probe_client(&server, Some("ITH"));

    let found = jira.readiness(&input(vec![pat(), casey()])).await;

    assert!(found.problems.is_empty(), "{:#?}", found.problems);
    let why = cannot_tell(&found, "customers");
    assert!(
        why.contains(
            "no service desk for project ITH (HTTP 404: The service desk projectKey:ITH does not exist.)"
        ),
        "{why}"
    );
    assert_eq!(found.cannot_tell.len(), 1, "{:?}", found.cannot_tell);
    assert_eq!(jira.http().requests_sent(), 5, "4 + the first search");
}

#[tokio::test]
async fn without_manual_users_no_service_desk_request_is_made() {
    let server = MockServer::start().await;
    mount(&server, Answers::default(), [1, 1, 1, 1]).await;
    mount_catch_all(&server).await;
    let jira = probe_client(&server, Some("ITH"));

    assert_ready(&jira.readiness(&input(vec![])).await);
    assert_eq!(jira.http().requests_sent(), 4);
}

#[tokio::test]
async fn a_second_page_is_read_only_with_a_request_left_over() {
    let server = MockServer::start().await;
    mount(&server, Answers::default(), [1, 1, 1, 1]).await;
    // No e-mail and no name: nothing to search by, so its request is free.
    let mut nameless = account("5d53f3cbc6b9320d9ea5bdc2", None, "");
    nameless.full_name = None;
    Mock::given(method("GET"))
        .and(path(CUSTOMER_PATH))
        .and(raw_query("query=pat%40acme.com&start=2"))
        .respond_with(json_answer(customer_page(&[PAT_ID], true)))
        .expect(1)
        .mount(&server)
        .await;
    mount_customers(
        &server,
        "pat@acme.com",
        json_answer(customer_page(&["a-1", "a-2"], false)),
        1,
    )
    .await;
    mount_catch_all(&server).await;
    let jira = probe_client(&server, Some("ITH"));

    let found = jira.readiness(&input(vec![pat(), nameless])).await;

    assert!(found.problems.is_empty(), "{:#?}", found.problems);
    assert!(cannot_tell(&found, "customers").contains("5d53f3cbc6b9320d9ea5bdc2"));
    assert_eq!(
        jira.http().requests_sent(),
        6,
        "4 + one customer request per user"
    );
}

#[tokio::test]
async fn a_first_page_that_does_not_settle_a_user_cannot_tell_within_the_budget() {
    let server = MockServer::start().await;
    mount(&server, Answers::default(), [1, 1, 1, 1]).await;
    mount_customers(
        &server,
        "pat@acme.com",
        json_answer(customer_page(&["a-1", "a-2"], false)),
        1,
    )
    .await;
    mount_catch_all(&server).await;
    let jira = probe_client(&server, Some("ITH"));

    let found = jira.readiness(&input(vec![pat()])).await;

    assert!(found.problems.is_empty(), "{:#?}", found.problems);
    assert!(cannot_tell(&found, "customers").contains("more pages"));
    assert_eq!(jira.http().requests_sent(), 5);
}

#[tokio::test]
async fn a_user_with_a_hidden_email_is_searched_by_name() {
    let server = MockServer::start().await;
    mount(&server, Answers::default(), [1, 1, 1, 1]).await;
    let hana = account("5d53f3cbc6b9320d9ea5bdc2", None, "Hana Hidden");
    mount_customers(
        &server,
        "Hana Hidden",
        json_answer(customer_page(&["5d53f3cbc6b9320d9ea5bdc2"], true)),
        1,
    )
    .await;
    mount_catch_all(&server).await;

    assert_ready(
        &probe_client(&server, Some("ITH"))
            .readiness(&input(vec![hana]))
            .await,
    );
}
