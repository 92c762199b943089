//! Freshservice's own slowing down: the pause decided from
//! `X-RateLimit-Remaining` before the limit is reached, and that pause
//! taken before the next request.
//!
//! Never waits a real minute: the window is shortened to milliseconds.

use std::time::{Duration, Instant};

use itsmid_connectors::Connector;
use itsmid_connectors::freshservice::rate_limit_pause;
use wiremock::MockServer;

use super::{AGENTS, REQUESTERS, agent, agents, client, ext, filter_get, found, requesters};
use crate::support::mount_catch_all;

#[test]
fn the_pause_decision_waits_only_when_the_remaining_requests_run_low() {
    let minute = Duration::from_secs(60);
    assert_eq!(rate_limit_pause(Some(300), Some(500), minute), None);
    let pause = rate_limit_pause(Some(10), Some(500), minute).expect("under a tenth");
    assert_eq!(
        pause,
        minute / 11,
        "the last requests are spread over the window"
    );
    assert_eq!(
        rate_limit_pause(Some(0), Some(500), minute),
        Some(minute / 6),
        "never more than 10 s"
    );
}

#[tokio::test]
async fn a_low_x_ratelimit_remaining_pauses_before_the_next_request() {
    let server = MockServer::start().await;
    filter_get(REQUESTERS, "\"primary_email:'bot@acme.com'\"")
        .respond_with(
            requesters(vec![])
                .insert_header("x-ratelimit-total", "500")
                .insert_header("x-ratelimit-remaining", "2")
                .insert_header("x-ratelimit-used-currentrequest", "1"),
        )
        .expect(1)
        .mount(&server)
        .await;
    filter_get(AGENTS, "\"email:'bot@acme.com'\"")
        .respond_with(
            agents(vec![agent(9, "bot@acme.com")]).insert_header("x-ratelimit-remaining", "400"),
        )
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let window = Duration::from_millis(150);
    let client = client(&server).with_rate_limit_window(window);

    let started = Instant::now();
    let lookups = client
        .lookup(&[ext("bot@acme.com")])
        .await
        .expect("an answer");

    assert_eq!(
        found(&lookups, &ext("bot@acme.com")).itsm_user_id.as_str(),
        "9"
    );
    let pause = rate_limit_pause(Some(2), Some(500), window).expect("a pause");
    assert!(
        started.elapsed() >= pause,
        "{:?} < {pause:?}",
        started.elapsed()
    );
}
