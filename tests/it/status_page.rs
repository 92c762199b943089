//! The status page (`GET /`) and the run history (`GET /api/v1/runs`) on
//! the real daemon: who may see the page and who may start a run from it,
//! forged cross-site posts refused, and the page's content after a run.
//! The real-browser test is in `browser.rs`.

use base64::Engine;
use serde_json::Value;

use crate::daemon::{Daemon, TOKEN, world};
use crate::support::write_secret;

const READ_TOKEN: &str = "test-read-token";

fn basic(password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("admin:{password}"))
    )
}

/// A daemon with a server token and a read token, after its first run.
async fn daemon() -> (crate::support::World, Daemon) {
    let world = world("read_token = \"file:read-token\"").await;
    write_secret(world.path().join("read-token"), READ_TOKEN);
    let daemon = Daemon::start(&world);
    daemon.wait_for_runs(1).await;
    (world, daemon)
}

/// The page as `authorization` sees it: status, headers, body.
async fn page(
    daemon: &Daemon,
    authorization: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut request = daemon.client.get(format!("{}/", daemon.base));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = request.send().await.expect("GET /");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.expect("a body"))
}

/// The hidden anti-forgery value of the page's "Run now" form.
fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\"").expect("the form's csrf field");
    let rest = &html[at..];
    let value = rest.find("value=\"").expect("a value") + "value=\"".len();
    let end = rest[value..].find('"').expect("the value's end");
    rest[value..value + end].to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_asks_a_browser_to_sign_in_and_shows_the_button_to_the_full_token_only() {
    let (_world, daemon) = daemon().await;
    let (status, headers, body) = page(&daemon, None).await;
    assert_eq!(status, 401);
    assert_eq!(headers["www-authenticate"], "Basic realm=\"itsmid\"");
    assert!(!body.contains("ghost"), "{body}");
    assert_eq!(page(&daemon, Some(&basic("wrong"))).await.0, 401);

    let (status, headers, read) = page(&daemon, Some(&basic(READ_TOKEN))).await;
    assert_eq!(status, 200, "{read}");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(read.contains("gus.ghost"), "the entries are on the page");
    assert!(!read.contains("Run now"), "the read token sees no button");
    assert!(!read.contains("<form"), "{read}");

    let (status, _, full) = page(&daemon, Some(&basic(TOKEN))).await;
    assert_eq!(status, 200);
    assert!(full.contains("Run now"), "{full}");
    assert!(full.contains("action=\"/api/v1/runs\""), "{full}");
    // A script's bearer header works too.
    assert_eq!(page(&daemon, Some(&format!("Bearer {TOKEN}"))).await.0, 200);
    assert_eq!(daemon.terminate().await.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_starts_from_the_page_and_a_forged_cross_site_post_is_refused() {
    let (_world, daemon) = daemon().await;
    let (_, _, html) = page(&daemon, Some(&basic(TOKEN))).await;
    let csrf = csrf_of(&html);
    let host = daemon.base.trim_start_matches("http://").to_owned();
    let post = |form: String, extra: &[(&str, &str)]| {
        let mut request = daemon
            .client
            .post(format!("{}/api/v1/runs", daemon.base))
            .header("authorization", basic(TOKEN))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form);
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        async move {
            request
                .send()
                .await
                .expect("POST /api/v1/runs")
                .status()
                .as_u16()
        }
    };
    let evil = [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ];
    assert_eq!(
        post(format!("csrf={csrf}"), &evil).await,
        403,
        "another site"
    );
    assert_eq!(
        post(
            format!("csrf={csrf}"),
            &[("origin", "https://evil.example")]
        )
        .await,
        403,
        "another origin"
    );
    let own = format!("http://{host}");
    let same = [("origin", own.as_str()), ("sec-fetch-site", "same-origin")];
    assert_eq!(
        post("csrf=forged".into(), &same).await,
        403,
        "a wrong token"
    );
    assert_eq!(post(String::new(), &same).await, 403, "no token");
    // The read token may not start a run, with or without the form.
    let read = daemon
        .client
        .post(format!("{}/api/v1/runs", daemon.base))
        .header("authorization", basic(READ_TOKEN))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(read.status().as_u16(), 401);

    let previous = daemon.last_finished().await;
    // The page's own form: back to the page, and a run starts.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    let answer = client
        .post(format!("{}/api/v1/runs", daemon.base))
        .header("authorization", basic(TOKEN))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", own.as_str())
        .header("sec-fetch-site", "same-origin")
        .body(format!("csrf={csrf}"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(answer.status().as_u16(), 303);
    assert_eq!(answer.headers()["location"], "/");
    daemon.wait_for_run_after(previous.as_deref()).await;
    assert_eq!(daemon.terminate().await.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_run_history_is_kept_in_the_store_and_served_as_json() {
    let (world, daemon) = daemon().await;
    daemon.run_now().await;
    assert_eq!(daemon.get("/api/v1/runs").await.0, 401);
    let (status, body) = daemon.get_as("/api/v1/runs", READ_TOKEN).await;
    assert_eq!(status, 200, "{body}");
    let runs: Value = serde_json::from_str(&body).expect("JSON");
    let runs = runs["runs"].as_array().expect("a list");
    assert_eq!(runs.len(), 2, "{body}; stderr:\n{}", daemon.stderr());
    for run in runs {
        assert_eq!(run["outcome"], "problems", "{run}");
        assert!(run["errors"].as_u64().unwrap() >= 1, "{run}");
        assert_eq!(run["codes"]["NOT_FOUND"], 1, "{run}");
        assert!(run["finished_at"].as_str().unwrap().ends_with('Z'), "{run}");
    }
    assert!(runs[0]["finished_at"].as_str() <= runs[1]["finished_at"].as_str());
    assert_eq!(daemon.terminate().await.code(), Some(0));

    // A daemon started again reads the history from the store.
    let daemon = Daemon::start(&world);
    daemon.wait_for_runs(1).await;
    let (_, body) = daemon.get_as("/api/v1/runs", TOKEN).await;
    let runs: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(runs["runs"].as_array().map(Vec::len), Some(3), "{body}");
    let (_, _, html) = page(&daemon, Some(&basic(TOKEN))).await;
    assert!(html.contains("<svg"), "the trend is drawn");
    assert!(html.contains("data-load=\"1\""), "the loads are listed");
    assert_eq!(daemon.terminate().await.code(), Some(0));
}
