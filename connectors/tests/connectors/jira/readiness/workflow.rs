//! The workflow check of Jira readiness: the project's newest issue by
//! `/search/jql`, then its transitions with their screens' fields; the
//! rules themselves are unit tests beside the probe.

use serde_json::json;
use wiremock::MockServer;

use super::{
    Answers, cannot_tell, error_answer, input, mount, newest, probe_client, ready_transitions,
    transition,
};
use crate::jira::json_answer;
use crate::support::mount_catch_all;
use itsmid_connectors::{Connector, ReadinessKind};

#[tokio::test]
async fn a_project_with_no_issue_yet_cannot_tell_the_workflow() {
    let server = MockServer::start().await;
    let answers = Answers {
        search: json_answer(json!({"issues": [], "isLast": true})),
        ..Answers::default()
    };
    mount(&server, answers, [1, 1, 1, 0]).await;
    mount_catch_all(&server).await;

    let found = probe_client(&server, Some("ITH"))
        .readiness(&input(vec![]))
        .await;

    assert!(found.problems.is_empty(), "{:#?}", found.problems);
    assert!(cannot_tell(&found, "workflow").contains("project ITH has no issue yet"));
}

#[tokio::test]
async fn a_refused_search_or_transitions_read_cannot_tell() {
    for (search, transitions, times, expected) in [
        (
            error_answer(
                400,
                json!({"errorMessages": ["The value 'ITH' does not exist for the field 'project'."], "errors": {}}),
            ),
            json_answer(ready_transitions()),
            [1, 1, 1, 0],
            "HTTP 400: The value 'ITH' does not exist",
        ),
        (
            json_answer(newest("ITH-3", "Waiting for support", "new")),
            error_answer(
                404,
                json!({"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}}),
            ),
            [1, 1, 1, 1],
            "the transitions of ITH-3 answered HTTP 404",
        ),
        (
            json_answer(newest("ITH-3", "Waiting for support", "new")),
            json_answer(json!({"expand": "transitions", "transitions": []})),
            [1, 1, 1, 1],
            "no transition the bot can make from ITH-3",
        ),
        (
            json_answer(newest("ITH-3", "Triage", "undefined")),
            json_answer(ready_transitions()),
            [1, 1, 1, 1],
            "category \"undefined\"",
        ),
        (
            json_answer(newest("ITH-3/../../x", "Open", "new")),
            json_answer(ready_transitions()),
            [1, 1, 1, 0],
            "is not an issue key",
        ),
    ] {
        let server = MockServer::start().await;
        let answers = Answers {
            search,
            transitions,
            ..Answers::default()
        };
        mount(&server, answers, times).await;
        mount_catch_all(&server).await;

        let found = probe_client(&server, Some("ITH"))
            .readiness(&input(vec![]))
            .await;

        assert!(
            found.problems.is_empty(),
            "{expected}: {:#?}",
            found.problems
        );
        let why = cannot_tell(&found, "workflow");
        assert!(why.contains(expected), "{why}");
        server.verify().await;
    }
}

#[tokio::test]
async fn a_resolved_newest_issue_without_a_way_back_is_a_workflow_gap() {
    let server = MockServer::start().await;
    let answers = Answers {
        search: json_answer(newest("ITH-3", "Resolved", "done")),
        transitions: json_answer(json!({"expand": "transitions", "transitions": [
            transition("Close", "Closed", "done", false),
        ]})),
        ..Answers::default()
    };
    mount(&server, answers, [1, 1, 1, 1]).await;
    mount_catch_all(&server).await;

    let found = probe_client(&server, Some("ITH"))
        .readiness(&input(vec![]))
        .await;

    assert!(found.cannot_tell.is_empty(), "{:?}", found.cannot_tell);
    let [gap] = found.problems.as_slice() else {
        panic!("one gap expected: {:#?}", found.problems);
    };
    assert_eq!(gap.kind, ReadinessKind::WorkflowGap);
    assert!(
        gap.message.contains("cannot reopen tickets"),
        "{}",
        gap.message
    );
    assert_eq!(gap.actual.as_deref(), Some("\"Close\" → Closed (done)"));
    assert!(
        gap.fix.contains("Project settings → Workflows"),
        "{}",
        gap.fix
    );
}
