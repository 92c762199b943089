//! `[notify] webhook_url` end to end (SPEC section 7): the real daemon
//! against the simulators, its webhook a wiremock server on loopback. A
//! failed notification is tried again with backoff, the change is
//! delivered once, and a change the webhook did not take goes with the
//! next run's changes.

use std::time::{Duration, Instant};

use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::daemon::Daemon;
use crate::support::{BOT, World, entry, write_secret};

use crate::daemon::TOKEN;

/// The identities: the bot and one manual user per `(urid, login)`, each
/// with a ServiceNow entry; a login the simulator does not know is one
/// NOT_FOUND finding.
fn identities(users: &[(&str, &str)]) -> String {
    let mut text = BOT.to_owned();
    for (urid, login) in users {
        text.push_str(&format!(
            "\n[[users]]\nemail_addr = \"{urid}\"\nunique_record_id = \"{urid}\"\n{}",
            entry("snow", &[("external_id", login)])
        ));
    }
    text
}

const GHOST: (&str, &str) = ("ghost@acme.com", "gus.ghost");
const GWEN: (&str, &str) = ("gwen@acme.com", "gwen.gone");

/// A world whose config has `[server] token`, an hourly schedule (no run
/// but the ones a test asks for) and `[notify] webhook_url` read from a
/// 0600 file holding `hook_url`.
async fn world(hook_url: &str) -> World {
    let world = World::start().await;
    world.write_identities(&identities(&[GHOST]));
    write_secret(world.path().join("server-token"), TOKEN);
    write_secret(world.path().join("webhook-url"), hook_url);
    let config_path = world.path().join("itsmid.toml");
    let config = std::fs::read_to_string(&config_path).expect("read the config");
    // The tables go before the connectors' array of tables.
    let config = config.replacen(
        "identities = \"identities.toml\"\n",
        "identities = \"identities.toml\"\n\
         [server]\ntoken = \"file:server-token\"\n\
         [schedule]\ninterval = \"1h\"\n\
         [notify]\nwebhook_url = \"file:webhook-url\"\n",
        1,
    );
    std::fs::write(&config_path, config).expect("write the config");
    world
}

/// A wiremock webhook at `/hook`, and its URL.
async fn hook() -> (MockServer, String) {
    let server = MockServer::start().await;
    let url = format!("{}/hook", server.uri());
    (server, url)
}

async fn answer(hook: &MockServer, status: u16, times: Option<u64>) {
    let mock = Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(status));
    match times {
        Some(times) => mock.up_to_n_times(times).mount(hook).await,
        None => mock.mount(hook).await,
    }
}

/// The bodies the webhook received, in order.
async fn posted(hook: &MockServer) -> Vec<Vec<u8>> {
    hook.received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|request| request.body)
        .collect()
}

fn notification(body: &[u8]) -> Value {
    let body: Value = serde_json::from_slice(body).expect("the notification is JSON");
    assert_eq!(body["schema"], "itsmid.notify.v1", "{body:#}");
    body
}

/// `(code, unique_record_id)` of each finding in `list`, sorted.
fn told(body: &Value, list: &str) -> Vec<(String, String)> {
    let mut told: Vec<(String, String)> = body[list]
        .as_array()
        .unwrap_or_else(|| panic!("no `{list}` list in {body:#}"))
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap_or_default().to_owned(),
                f["unique_record_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    told.sort();
    told
}

fn not_found(urids: &[&str]) -> Vec<(String, String)> {
    urids
        .iter()
        .map(|urid| ("NOT_FOUND".to_owned(), (*urid).to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_that_fails_twice_gets_the_same_message_three_times_and_the_change_once() {
    let (hook, url) = hook().await;
    answer(&hook, 500, Some(2)).await;
    answer(&hook, 204, None).await;
    let world = world(&url).await;
    let started = Instant::now();
    let daemon = Daemon::start(&world);
    let health = daemon.wait_for_run_after(None).await;
    assert_eq!(health["last_run"]["outcome"], "problems", "{health}");
    // 1 s after the first refusal, then 2 s after the second.
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "the attempts were not spaced: {:?}",
        started.elapsed()
    );

    let bodies = posted(&hook).await;
    assert_eq!(bodies.len(), 3, "{}", daemon.stderr());
    assert!(
        bodies.iter().all(|body| *body == bodies[0]),
        "each attempt carries the same message"
    );
    let body = notification(&bodies[0]);
    assert_eq!(told(&body, "new"), not_found(&[GHOST.0]), "{body:#}");
    assert_eq!(told(&body, "cleared"), not_found(&[]), "{body:#}");
    assert_eq!(daemon.logged("notify: sent"), 1, "{}", daemon.stderr());
    assert_eq!(daemon.logged("trying again"), 2, "{}", daemon.stderr());
    assert!(daemon.stderr().contains("HTTP 500"), "{}", daemon.stderr());
    assert!(
        !daemon.stderr().contains(&url),
        "the webhook URL is logged:\n{}",
        daemon.stderr()
    );

    // Delivered once: the next run finds the same problems and says nothing.
    let health = daemon.run_now().await;
    assert_eq!(health["last_run"]["outcome"], "problems", "{health}");
    assert_eq!(posted(&hook).await.len(), 3, "{}", daemon.stderr());
    assert_eq!(daemon.logged("notify: sent"), 1, "{}", daemon.stderr());
    assert_eq!(daemon.terminate().await.code(), Some(0));
}

/// The webhook refuses every attempt of the first run: it is tried after
/// 1, 2, 4, 8 and 16 seconds, then given up inside the 60-second budget,
/// and the next run sends that change with its own. Takes about half a
/// minute, the product's own backoff.
#[tokio::test(flavor = "multi_thread")]
async fn a_change_the_webhook_refused_for_its_whole_minute_goes_with_the_next_runs_changes() {
    let (hook, url) = hook().await;
    answer(&hook, 500, None).await;
    let world = world(&url).await;
    let started = Instant::now();
    let daemon = Daemon::start(&world);
    let health = daemon.wait_for_run_after(None).await;
    assert_eq!(health["last_run"]["outcome"], "problems", "{health}");
    assert!(
        started.elapsed() < Duration::from_secs(70),
        "the run waited {:?} for its webhook",
        started.elapsed()
    );
    let refused = posted(&hook).await;
    assert_eq!(refused.len(), 6, "{}", daemon.stderr());
    assert!(refused.iter().all(|body| *body == refused[0]));
    assert_eq!(
        told(&notification(&refused[0]), "new"),
        not_found(&[GHOST.0])
    );
    assert_eq!(
        daemon.logged("the change is kept and sent with the next run's changes"),
        1,
        "{}",
        daemon.stderr()
    );
    assert_eq!(daemon.logged("notify: sent"), 0, "{}", daemon.stderr());

    // The webhook is back, and the next run has a change of its own.
    hook.reset().await;
    answer(&hook, 204, None).await;
    world.write_identities(&identities(&[GHOST, GWEN]));
    daemon.run_now().await;
    let bodies = posted(&hook).await;
    assert_eq!(bodies.len(), 1, "{}", daemon.stderr());
    let body = notification(&bodies[0]);
    assert_eq!(
        told(&body, "new"),
        not_found(&[GHOST.0, GWEN.0]),
        "the missed change and the new one: {body:#}"
    );
    assert_eq!(told(&body, "cleared"), not_found(&[]), "{body:#}");

    // Delivered now: nothing is kept for later.
    daemon.run_now().await;
    assert_eq!(posted(&hook).await.len(), 1, "{}", daemon.stderr());
    assert_eq!(daemon.terminate().await.code(), Some(0));
}

/// The URL is read when a notification is sent; a URL file that is gone
/// at that moment sends nothing, keeps the change, and the next run, with
/// the file back, sends it with its own change.
#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_url_that_cannot_be_read_keeps_the_change_for_the_next_run() {
    let (hook, url) = hook().await;
    answer(&hook, 204, None).await;
    let world = world(&url).await;
    let daemon = Daemon::start(&world);
    daemon.wait_for_run_after(None).await;
    let bodies = posted(&hook).await;
    assert_eq!(bodies.len(), 1, "{}", daemon.stderr());
    assert_eq!(
        told(&notification(&bodies[0]), "new"),
        not_found(&[GHOST.0])
    );

    // Gwen's entry is new; the URL cannot be read when it is to be told.
    std::fs::remove_file(world.path().join("webhook-url")).expect("remove the URL file");
    world.write_identities(&identities(&[GHOST, GWEN]));
    let health = daemon.run_now().await;
    assert_eq!(health["last_run"]["outcome"], "problems", "{health}");
    assert_eq!(posted(&hook).await.len(), 1, "{}", daemon.stderr());
    assert_eq!(
        daemon.logged("`notify.webhook_url` cannot be read"),
        1,
        "{}",
        daemon.stderr()
    );

    // The URL is back, and the ghost's entry is gone.
    write_secret(world.path().join("webhook-url"), &url);
    world.write_identities(&identities(&[GWEN]));
    daemon.run_now().await;
    let bodies = posted(&hook).await;
    assert_eq!(bodies.len(), 2, "{}", daemon.stderr());
    let body = notification(&bodies[1]);
    assert_eq!(told(&body, "new"), not_found(&[GWEN.0]), "{body:#}");
    assert_eq!(told(&body, "cleared"), not_found(&[GHOST.0]), "{body:#}");
    assert!(
        !daemon.stderr().contains(&url),
        "the webhook URL is logged:\n{}",
        daemon.stderr()
    );
    assert_eq!(daemon.terminate().await.code(), Some(0));
}
