//! `itsmid serve` end to end: the real binary on `127.0.0.1:0` against the
//! simulators, driven over HTTP, stopped with SIGTERM.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use itsmid_connectors::System;
use itsmid_connectors::sim::Fault;
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{World, entry, run_in, with_user, write_secret};

pub(crate) const TOKEN: &str = "test-server-token";

/// A world whose config has `[server] token` (and `extra` appended).
pub(crate) async fn world(extra: &str) -> World {
    let world = World::start().await;
    world.write_identities(&with_user(
        "ghost@acme.com",
        &entry("snow", &[("external_id", "gus.ghost")]),
    ));
    write_secret(world.path().join("server-token"), TOKEN);
    let config_path = world.path().join("itsmid.toml");
    let config = std::fs::read_to_string(&config_path).expect("read the config");
    // The tables go before the connectors' array of tables.
    let config = config.replacen(
        "identities = \"identities.toml\"\n",
        &format!(
            "identities = \"identities.toml\"\n[server]\ntoken = \"file:server-token\"\n{extra}\n"
        ),
        1,
    );
    std::fs::write(&config_path, config).expect("write the config");
    world
}

/// A running `itsmid serve`; killed if a test fails before stopping it.
pub(crate) struct Daemon {
    child: Child,
    pub(crate) base: String,
    stderr: Arc<Mutex<String>>,
    pub(crate) client: reqwest::Client,
}

impl Daemon {
    pub(crate) fn start(world: &World) -> Daemon {
        Daemon::start_in(world.path(), &["serve", "--listen", "127.0.0.1:0", "-v"])
    }

    /// Runs `itsmid ARGS` in `dir` and waits (bounded) for its address.
    pub(crate) fn start_in(dir: &Path, args: &[&str]) -> Daemon {
        let mut child = Command::new(env!("CARGO_BIN_EXE_itsmid"))
            .args(args)
            .current_dir(dir)
            .env_remove("ITSMID_CONFIG")
            .env_remove("RUST_LOG")
            // The test-only switch: a run panics once while this file exists.
            .env("ITSMID_TEST_PANIC_ONCE", dir.join("panic-once"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (address_tx, address_rx) = std::sync::mpsc::channel();
        let pipe = child.stderr.take().expect("stderr is piped");
        let log = Arc::clone(&stderr);
        // Keeps draining stderr so the daemon never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if let Some(address) = line.strip_prefix("listening on ") {
                    let _ = address_tx.send(address.to_owned());
                }
                let mut log = log.lock().expect("not poisoned");
                log.push_str(&line);
                log.push('\n');
            }
        });
        let base = match address_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(base) => base,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "no `listening on` line; stderr:\n{}",
                    stderr.lock().expect("not poisoned")
                );
            }
        };
        itsmid_connectors::http::install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP client");
        Daemon {
            child,
            base,
            stderr,
            client,
        }
    }

    pub(crate) async fn get(&self, route: &str) -> (u16, String) {
        self.get_with(route, None).await
    }

    /// GET with `Authorization: Bearer <token>`.
    pub(crate) async fn get_as(&self, route: &str, token: &str) -> (u16, String) {
        self.get_with(route, Some(&format!("Bearer {token}"))).await
    }

    pub(crate) async fn get_with(&self, route: &str, authorization: Option<&str>) -> (u16, String) {
        let mut request = self.client.get(format!("{}{route}", self.base));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|err| panic!("GET {route}: {err}"));
        let status = response.status().as_u16();
        (status, response.text().await.expect("a body"))
    }

    pub(crate) async fn start_run(&self, authorization: Option<&str>) -> u16 {
        let mut request = self.client.post(format!("{}/api/v1/runs", self.base));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        request
            .send()
            .await
            .expect("POST /api/v1/runs")
            .status()
            .as_u16()
    }

    /// Polls `/metrics` until `runs` runs have finished (bounded), then
    /// returns `/healthz`.
    pub(crate) async fn wait_for_runs(&self, runs: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (status, metrics) = self.get("/metrics").await;
            assert_eq!(status, 200, "{metrics}");
            if runs_total(&metrics) >= runs as f64 {
                let (status, body) = self.get("/healthz").await;
                assert_eq!(status, 200, "{body}");
                return serde_json::from_str(&body).expect("healthz is JSON");
            }
            let health = metrics;
            assert!(
                Instant::now() < deadline,
                "{runs} runs did not finish in time: {health}; stderr:\n{}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) fn stderr(&self) -> String {
        self.stderr.lock().expect("not poisoned").clone()
    }

    /// How many log lines contain `text`.
    pub(crate) fn logged(&self, text: &str) -> usize {
        self.stderr().lines().filter(|l| l.contains(text)).count()
    }

    pub(crate) async fn health(&self) -> Value {
        let response = self
            .client
            .get(format!("{}/healthz", self.base))
            .send()
            .await
            .expect("GET /healthz");
        assert_eq!(response.status().as_u16(), 200);
        response.json().await.expect("/healthz is JSON")
    }

    /// When the last finished run finished, if one has.
    pub(crate) async fn last_finished(&self) -> Option<String> {
        self.health().await["last_run"]["finished_at"]
            .as_str()
            .map(str::to_owned)
    }

    /// Polls `/healthz` (bounded) until a run finished after `previous`,
    /// the `finished_at` of the run before it. A run counts as finished
    /// once its notification was sent or given up, not before.
    pub(crate) async fn wait_for_run_after(&self, previous: Option<&str>) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let health = self.health().await;
            let finished = health["last_run"]["finished_at"].as_str();
            if finished.is_some() && finished != previous {
                return health;
            }
            assert!(
                Instant::now() < deadline,
                "no run finished after {previous:?}: {health}; stderr:\n{}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Asks for a run now and waits for it to finish.
    pub(crate) async fn run_now(&self) -> Value {
        let previous = self.last_finished().await;
        let status = self
            .client
            .post(format!("{}/api/v1/runs", self.base))
            .header("authorization", format!("Bearer {TOKEN}"))
            .send()
            .await
            .expect("POST /api/v1/runs")
            .status()
            .as_u16();
        assert_eq!(status, 202);
        self.wait_for_run_after(previous.as_deref()).await
    }

    /// SIGTERM, then waits (bounded) for the exit.
    pub(crate) async fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(killed.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the daemon") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the daemon did not stop after SIGTERM; stderr:\n{}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The sum of `itsmid_runs_total` over its outcomes.
fn runs_total(metrics: &str) -> f64 {
    metrics
        .lines()
        .filter(|line| line.starts_with("itsmid_runs_total{"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_serves_the_report_metrics_and_users_and_stops_on_sigterm() {
    let hook = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&hook)
        .await;
    let world = world("[notify]\nwebhook_url = \"file:webhook-url\"\n").await;
    write_secret(
        world.path().join("webhook-url"),
        format!("{}/hook", hook.uri()),
    );
    let daemon = Daemon::start(&world);
    let health = daemon.wait_for_runs(1).await;
    assert_eq!(health["last_run"]["outcome"], "problems", "{health}");

    let (status, body) = daemon.get_as("/api/v1/report", TOKEN).await;
    assert_eq!(status, 200);
    let report: Value = serde_json::from_str(&body).expect("the report is JSON");
    assert_eq!(report["schema"], "itsmid.report.v1");
    crate::support::assert_matches_schema(&report);
    assert_eq!(report["summary"]["identities"], 2, "{report:#}");
    assert_eq!(
        report["run"]["last_run"]["outcome"], "problems",
        "{report:#}"
    );

    let (status, metrics) = daemon.get("/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(runs_total(&metrics), 1.0, "{metrics}");
    for expected in [
        "itsmid_runs_total{outcome=\"problems\"} 1",
        "itsmid_findings{code=\"NOT_FOUND\"} 1",
        "itsmid_api_requests_total{integration=\"snow\"}",
        "itsmid_api_requests_total{integration=\"jira_service_desk\"}",
        "itsmid_rate_limit_waits_total{integration=\"snow\"} 0",
        "itsmid_system_check_seconds_count{integration=\"snow\"} 1",
    ] {
        assert!(metrics.contains(expected), "no {expected} in\n{metrics}");
    }

    let (status, body) = daemon.get_as("/api/v1/users", TOKEN).await;
    assert_eq!(status, 200);
    let users: Vec<Value> = body
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is a JSON object"))
        .collect();
    let emails: Vec<&str> = users
        .iter()
        .filter_map(|u| u["user"]["email_addr"].as_str())
        .collect();
    assert!(emails.contains(&"moveworks-bot@acme.com"), "{body}");
    assert!(emails.contains(&"ghost@acme.com"), "{body}");

    // The first run announces its problems; nothing changed after that.
    let posted = hook.received_requests().await.unwrap_or_default();
    assert_eq!(posted.len(), 1, "{posted:?}");
    let body: Value = serde_json::from_slice(&posted[0].body).expect("the notification is JSON");
    assert_eq!(body["new"][0]["code"], "NOT_FOUND", "{body:#}");
    assert_eq!(body["cleared"], serde_json::json!([]));

    let status = daemon.terminate().await;
    assert_eq!(status.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_starts_on_request_only_with_the_bearer_token() {
    let world = world("").await;
    let daemon = Daemon::start(&world);
    daemon.wait_for_runs(1).await;
    assert_eq!(daemon.start_run(None).await, 401);
    assert_eq!(daemon.start_run(Some("Bearer wrong-token")).await, 401);
    assert_eq!(daemon.start_run(Some(TOKEN)).await, 401);
    daemon.wait_for_runs(1).await;
    let (_, metrics) = daemon.get("/metrics").await;
    assert_eq!(runs_total(&metrics), 1.0, "{metrics}");

    assert_eq!(
        daemon.start_run(Some(&format!("Bearer {TOKEN}"))).await,
        202
    );
    daemon.wait_for_runs(2).await;
    let (_, metrics) = daemon.get("/metrics").await;
    assert_eq!(runs_total(&metrics), 2.0, "{metrics}");
    assert!(
        !daemon.stderr().contains(TOKEN),
        "the token is logged:\n{}",
        daemon.stderr()
    );
    assert_eq!(daemon.terminate().await.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_identities_file_fails_its_run_and_the_last_report_stays() {
    let world = world("").await;
    let daemon = Daemon::start(&world);
    daemon.wait_for_runs(1).await;
    world.write_identities("[bot]\nunique_record_id = \"\"\n");
    assert_eq!(
        daemon.start_run(Some(&format!("Bearer {TOKEN}"))).await,
        202
    );
    let health = daemon.wait_for_runs(2).await;
    assert_eq!(health["last_run"]["outcome"], "failed", "{health}");
    assert_eq!(health["status"], "degraded", "{health}");
    assert!(
        !health.to_string().contains("identities.toml"),
        "no error text in /healthz: {health}"
    );
    assert_eq!(daemon.get("/readyz").await.0, 503);
    let (status, body) = daemon.get_as("/api/v1/report", TOKEN).await;
    assert_eq!(status, 200);
    assert!(body.contains("ghost@acme.com"), "{body}");
    let report: Value = serde_json::from_str(&body).expect("the report is JSON");
    let failure = report["run"]["last_failure"].as_str().unwrap_or_default();
    assert!(failure.contains("identities.toml"), "{report:#}");
    let (_, metrics) = daemon.get("/metrics").await;
    assert!(
        metrics.contains("itsmid_runs_total{outcome=\"failed\"} 1"),
        "{metrics}"
    );
    assert_eq!(daemon.terminate().await.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn personal_data_needs_a_token_and_the_read_token_only_reads() {
    let world = world("read_token = \"file:read-token\"\n").await;
    write_secret(world.path().join("read-token"), "test-read-token");
    let config_path = world.path().join("itsmid.toml");
    let config = std::fs::read_to_string(&config_path).expect("read the config");
    // `read_token` belongs under [server], which `world` wrote first.
    let config = config.replacen(
        "token = \"file:server-token\"\nread_token = \"file:read-token\"\n\n",
        "token = \"file:server-token\"\nread_token = \"file:read-token\"\n",
        1,
    );
    std::fs::write(&config_path, config).expect("write the config");
    let daemon = Daemon::start(&world);
    daemon.wait_for_runs(1).await;
    for route in ["/api/v1/report", "/api/v1/users"] {
        let (status, body) = daemon.get(route).await;
        assert_eq!(status, 401, "{route}: {body}");
        assert!(!body.contains("ghost"), "{route} leaks: {body}");
        assert_eq!(daemon.get_as(route, "wrong").await.0, 401, "{route}");
        assert_eq!(
            daemon.get_as(route, "test-read-token").await.0,
            200,
            "{route}"
        );
        assert_eq!(daemon.get_as(route, TOKEN).await.0, 200, "{route}");
    }
    assert_eq!(
        daemon.start_run(Some("Bearer test-read-token")).await,
        401,
        "the read token cannot start a run"
    );
    let (status, body) = daemon.get("/healthz").await;
    assert_eq!(status, 200);
    assert!(!body.contains("ghost"), "{body}");
    assert_eq!(daemon.terminate().await.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn health_goes_from_starting_to_ok_and_ready_follows_it() {
    let world = world("").await;
    // The first run waits on a slow ServiceNow: the daemon is starting.
    world.fault(System::ServiceNow, Fault::Slow(Duration::from_secs(2)));
    let daemon = Daemon::start(&world);
    let (status, body) = daemon.get("/healthz").await;
    assert_eq!(status, 200);
    let health: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(health["status"], "starting", "{health}");
    assert_eq!(health["last_run"], Value::Null, "{health}");
    assert_eq!(health["last_success_at"], Value::Null, "{health}");
    assert_eq!(daemon.get("/readyz").await.0, 503);
    let (_, metrics) = daemon.get("/metrics").await;
    assert!(metrics.contains("itsmid_healthy 0"), "{metrics}");
    let health = daemon.wait_for_runs(1).await;
    assert_eq!(health["status"], "ok", "{health}");
    assert!(health["last_success_at"].is_string(), "{health}");
    assert_eq!(daemon.get("/readyz").await.0, 200);
    let (_, metrics) = daemon.get("/metrics").await;
    assert!(metrics.contains("itsmid_healthy 1"), "{metrics}");
    assert_eq!(daemon.terminate().await.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_body_over_64_kib_is_refused() {
    let world = world("").await;
    let daemon = Daemon::start(&world);
    daemon.wait_for_runs(1).await;
    let status = daemon
        .client
        .post(format!("{}/api/v1/runs", daemon.base))
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(vec![b'x'; 65 * 1024])
        .send()
        .await
        .expect("an answer")
        .status()
        .as_u16();
    assert_eq!(status, 413);
    assert_eq!(daemon.terminate().await.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_refuses_to_start_without_a_server_token() {
    let world = World::start().await;
    let output = run_in(world.path(), &["serve", "--listen", "127.0.0.1:0"]).await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("`server.token` is not set"), "{stderr}");
    assert!(stderr.contains("[server]"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_keeps_serving_with_its_own_token_until_sigterm() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let demo_dir = dir.path().join("demo");
    let demo_arg = demo_dir.to_str().expect("a UTF-8 path");
    let daemon = Daemon::start_in(
        dir.path(),
        &[
            "demo",
            "--dir",
            demo_arg,
            "--serve",
            "--listen",
            "127.0.0.1:0",
        ],
    );
    daemon.wait_for_runs(1).await;
    let token = std::fs::read_to_string(demo_dir.join("secrets").join("server-token"))
        .expect("the demo wrote the token");
    assert!(token.len() >= 32, "{token}");
    let (status, body) = daemon.get_as("/api/v1/report", token.trim()).await;
    assert_eq!(status, 200);
    assert!(body.contains("itsmid.report.v1"), "{body}");
    assert_eq!(
        daemon
            .start_run(Some(&format!("Bearer {}", token.trim())))
            .await,
        202
    );
    daemon.wait_for_runs(2).await;
    assert!(
        daemon.stderr().contains("secrets/server-token"),
        "{}",
        daemon.stderr()
    );
    assert_eq!(daemon.terminate().await.code(), Some(0));
}

/// The test certificate (for 127.0.0.1 and localhost), its key and the CA
/// that signed it, copied into the world's folder.
fn install_test_certificate(world: &World) -> reqwest::Certificate {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/tls");
    std::fs::create_dir_all(world.path().join("tls")).expect("a tls folder");
    for name in ["cert.pem", "key.pem"] {
        std::fs::copy(source.join(name), world.path().join("tls").join(name)).expect("copy");
    }
    let ca = std::fs::read(source.join("ca.pem")).expect("the test CA");
    reqwest::Certificate::from_pem(&ca).expect("a PEM certificate")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_serves_over_tls_with_the_configured_certificate() {
    let world = world("tls_cert = \"tls/cert.pem\"\ntls_key = \"tls/key.pem\"\n").await;
    let ca = install_test_certificate(&world);
    let config_path = world.path().join("itsmid.toml");
    let config = std::fs::read_to_string(&config_path).expect("read the config");
    std::fs::write(
        &config_path,
        config.replace(
            "tls_key = \"tls/key.pem\"\n\n",
            "tls_key = \"tls/key.pem\"\n",
        ),
    )
    .expect("write the config");
    let daemon = Daemon::start(&world);
    assert!(
        daemon.base.starts_with("https://127.0.0.1:"),
        "{}",
        daemon.base
    );
    let client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a TLS client");
    let health = client
        .get(format!("{}/healthz", daemon.base))
        .send()
        .await
        .expect("a TLS handshake and an answer");
    assert_eq!(health.status().as_u16(), 200);
    let plain = daemon.base.replace("https://", "http://");
    let refused = client.get(format!("{plain}/healthz")).send().await;
    assert!(
        refused.map(|r| !r.status().is_success()).unwrap_or(true),
        "plain HTTP is not served on a TLS port"
    );
    assert_eq!(daemon.terminate().await.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_public_address_needs_tls_or_plain_http_said_out_loud() {
    let world = world("").await;
    let output = run_in(world.path(), &["serve", "--listen", "0.0.0.0:0"]).await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("server.tls_cert"), "{stderr}");
    assert!(stderr.contains("allow_plain_http"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_connection_does_not_hold_up_sigterm() {
    let world = world("").await;
    let daemon = Daemon::start(&world);
    daemon.wait_for_runs(1).await;
    let address = daemon.base.trim_start_matches("http://").to_owned();
    // Connected, and never a byte sent.
    let idle = tokio::net::TcpStream::connect(&address)
        .await
        .expect("a connection");
    let started = Instant::now();
    let status = daemon.terminate().await;
    assert_eq!(status.code(), Some(0));
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "the exit took {:?}",
        started.elapsed()
    );
    drop(idle);
}

/// `itsmid_api_requests_total` of one integration.
fn requests_of(metrics: &str, integration: &str) -> f64 {
    let prefix = format!("itsmid_api_requests_total{{integration=\"{integration}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&prefix)?.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_credentials_are_backed_off_across_runs_until_the_secret_changes() {
    let world = world("[schedule]\ninterval = \"1h\"\n").await;
    world.fault(System::Jira, Fault::AuthRejected);
    let daemon = Daemon::start(&world);
    daemon.wait_for_runs(1).await;
    let (_, metrics) = daemon.get("/metrics").await;
    let first = requests_of(&metrics, "jira_service_desk");
    assert!(first >= 1.0, "{metrics}");

    // Asked again at once: held back, no request, and the row says when.
    let bearer = format!("Bearer {TOKEN}");
    assert_eq!(daemon.start_run(Some(&bearer)).await, 202);
    daemon.wait_for_runs(2).await;
    let (_, metrics) = daemon.get("/metrics").await;
    assert_eq!(
        requests_of(&metrics, "jira_service_desk"),
        first,
        "{metrics}"
    );
    let (_, body) = daemon.get_as("/api/v1/report", TOKEN).await;
    let report: Value = serde_json::from_str(&body).expect("the report is JSON");
    let jira = report["systems"]
        .as_array()
        .expect("systems")
        .iter()
        .find(|row| row["integration"] == "jira_service_desk")
        .expect("the Jira row")
        .clone();
    assert_eq!(jira["reason"], "auth_failed", "{jira}");
    let detail = jira["detail"].as_str().unwrap_or_default();
    assert!(detail.starts_with("next attempt at 20"), "{jira}");
    // ServiceNow is asked as usual.
    assert!(requests_of(&metrics, "snow") >= 2.0, "{metrics}");

    // A changed secret is tried at once.
    write_secret(world.path().join("jira-token"), "a-new-token");
    assert_eq!(daemon.start_run(Some(&bearer)).await, 202);
    daemon.wait_for_runs(3).await;
    let (_, metrics) = daemon.get("/metrics").await;
    assert!(
        requests_of(&metrics, "jira_service_desk") > first,
        "the new secret was not tried: {metrics}"
    );
    assert_eq!(daemon.terminate().await.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_that_panics_is_failed_and_the_next_run_goes_on() {
    let world = world("").await;
    std::fs::write(world.path().join("panic-once"), "").expect("arm the switch");
    let daemon = Daemon::start(&world);
    let health = daemon.wait_for_runs(1).await;
    assert_eq!(health["last_run"]["outcome"], "failed", "{health}");
    assert_eq!(health["status"], "degraded", "{health}");
    let (_, metrics) = daemon.get("/metrics").await;
    assert!(
        metrics.contains("itsmid_runs_total{outcome=\"failed\"} 1"),
        "{metrics}"
    );
    assert_eq!(
        daemon.start_run(Some(&format!("Bearer {TOKEN}"))).await,
        202
    );
    let health = daemon.wait_for_runs(2).await;
    assert_eq!(health["last_run"]["outcome"], "problems", "{health}");
    assert_eq!(health["status"], "ok", "{health}");
    let (_, body) = daemon.get_as("/api/v1/report", TOKEN).await;
    let report: Value = serde_json::from_str(&body).expect("the report is JSON");
    let failure = report["run"]["last_failure"].as_str().unwrap_or_default();
    assert!(
        failure.contains("test hook: a panic inside the run"),
        "{report:#}"
    );
    assert_eq!(daemon.terminate().await.code(), Some(0));
}
