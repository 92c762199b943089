//! `itsmid serve` (SPEC section 7): runs the pipeline at start and then on
//! the schedule, and serves the last report, the Imported Users, metrics and
//! a way to start a run now.
//!
//! The daemon is a library function, [`run`], over a bound listener and a
//! shutdown future, so tests drive it without signals. Runs are made by one
//! scheduler task, one after the other, so two runs never overlap: a run
//! requested while one is in progress is remembered and starts right after
//! it, and any number of such requests make one run (they are coalesced).
//!
//! Never logs or returns a secret: the bearer token and the webhook URL stay
//! `SecretString`s, and the token is compared in constant time.

mod backoff;
mod csrf;
mod listener;
mod metrics;
mod notify;
mod page;
mod routes;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use secrecy::SecretString;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

use crate::config::Config;
use crate::pipeline::RunOptions;
use crate::report::Finding;
use crate::verdict::Verdict;

/// `itsmid serve`: reads the config once to find the address and the token,
/// binds, and serves until Ctrl-C or SIGTERM.
pub async fn serve(config_path: &Path, listen: Option<SocketAddr>) -> anyhow::Result<()> {
    let config = Config::load(config_path).map_err(|errors| anyhow!("{errors}"))?;
    let token = server_token(&config)?;
    if let Some(reference) = &config.webhook_url {
        // Refused at start, where the administrator sees it, not per run.
        let url = reference.resolve().map_err(|why| {
            anyhow!(
                "{}: `notify.webhook_url` cannot be read: {why}",
                config.path.display()
            )
        })?;
        notify::check_url(secrecy::ExposeSecret::expose_secret(&url))
            .map_err(|why| anyhow!("{}: {why}", config.path.display()))?;
    }
    let addr = match listen {
        Some(addr) => addr,
        None => config.server.listen.parse().with_context(|| {
            format!(
                "{}: `server.listen` = \"{}\" is not an address and port",
                config.path.display(),
                config.server.listen
            )
        })?,
    };
    let tls = match (&config.server.tls_cert, &config.server.tls_key) {
        (Some(cert), Some(key)) => Some(listener::tls_acceptor(cert, key)?),
        _ => None,
    };
    listener::check_plain_http(addr, tls.is_some(), config.server.allow_plain_http)
        .map_err(|why| anyhow!("{}: {why}", config.path.display()))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let doors = listener::Doors {
        tls,
        max_connections: config.server.max_connections,
    };
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}; is another itsmid serving there?"))?;
    let bound = listener
        .local_addr()
        .context("cannot read the bound address")?;
    // Listen for the signals before saying we listen: a SIGTERM sent as soon
    // as the address is known must stop the daemon cleanly, not kill it.
    let shutdown = super::shutdown_signal()?;
    eprintln!("listening on {scheme}://{bound}");
    let read_token = match &config.server.read_token {
        None => None,
        Some(reference) => Some(reference.resolve().map_err(|why| {
            anyhow!(
                "{}: `server.read_token` cannot be read: {why}",
                config.path.display()
            )
        })?),
    };
    let settings = Settings {
        config_path: config_path.to_path_buf(),
        token,
        read_token,
        interval: crate::pipeline::interval(&config),
        store_path: config.store.path.clone(),
    };
    run(listener, doors, settings, shutdown).await
}

/// The bearer token from `server.token`; `serve` refuses to start without it.
fn server_token(config: &Config) -> anyhow::Result<SecretString> {
    let reference = config.server.token.as_ref().ok_or_else(|| {
        anyhow!(
            "{}: `server.token` is not set, and `itsmid serve` needs it to guard POST /api/v1/runs; \
             add `token = \"env:ITSMID_SERVER_TOKEN\"` (or \"file:PATH\") under [server]",
            config.path.display()
        )
    })?;
    reference.resolve().map_err(|why| {
        anyhow!(
            "{}: `server.token` cannot be read: {why}",
            config.path.display()
        )
    })
}

/// What the daemon needs from the config it started with.
pub struct Settings {
    /// Read afresh at every run.
    pub config_path: PathBuf,
    /// The bearer token for every route that needs one.
    pub token: SecretString,
    /// A token for the GET routes only (`server.read_token`).
    pub read_token: Option<SecretString>,
    /// Used until a run reads the config again.
    pub interval: Duration,
    /// Where `/api/v1/users` reads until a run reads the config again.
    pub store_path: PathBuf,
}

/// Serves on `listener` and runs the pipeline until `shutdown` resolves;
/// then stops accepting requests, lets a run in progress finish, and returns.
pub async fn run(
    listener: TcpListener,
    doors: listener::Doors,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let state = Arc::new(State::new(settings)?);
    let (stop, stopped) = watch::channel(false);

    let scheduler = {
        let state = Arc::clone(&state);
        let trigger = Arc::clone(&state.trigger);
        tokio::spawn(schedule(
            move || {
                let state = Arc::clone(&state);
                async move { state.run_once().await }
            },
            trigger,
            stopped.clone(),
        ))
    };
    let server = tokio::spawn(listener::serve(
        listener,
        routes::router(Arc::clone(&state)),
        doors,
        stopped.clone(),
    ));

    shutdown.await;
    tracing::info!("stopping: no new requests; a run in progress finishes first");
    let _ = stop.send(true);
    server
        .await
        .context("the HTTP server stopped unexpectedly")?;
    scheduler
        .await
        .context("the scheduler stopped unexpectedly")
}

/// Runs `run` at once, then again after the interval each run returns, or
/// as soon as `trigger` is notified, until `stop` turns true.
///
/// One loop makes every run, so runs never overlap. `Notify` keeps one
/// permit: requests made during a run start exactly one run after it. A run
/// in progress is never cancelled by `stop`; the loop ends after it.
pub async fn schedule<F, Fut>(mut run: F, trigger: Arc<Notify>, mut stop: watch::Receiver<bool>)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Duration>,
{
    loop {
        if *stop.borrow() {
            return;
        }
        let next = run().await;
        tokio::select! {
            // Stopping wins over a pending request.
            biased;
            _ = stop.wait_for(|stop| *stop) => return,
            _ = tokio::time::sleep(next) => {}
            _ = trigger.notified() => {}
        }
    }
}

/// How a daemon run ended, as `/healthz` and the metrics label it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    Ok,
    Problems,
    /// A source could not be read; nothing was loaded.
    Refused,
    /// The run could not be made: an invalid file, a missing secret.
    Failed,
}

impl RunOutcome {
    /// The one mapping of a run's verdict to its label; `None` is a run
    /// that could not be made.
    pub fn of(verdict: Option<Verdict>) -> RunOutcome {
        match verdict {
            Some(Verdict::InOrder) => RunOutcome::Ok,
            Some(Verdict::Problems) => RunOutcome::Problems,
            Some(Verdict::Refused) => RunOutcome::Refused,
            None => RunOutcome::Failed,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Ok => "ok",
            RunOutcome::Problems => "problems",
            RunOutcome::Refused => "refused",
            RunOutcome::Failed => "failed",
        }
    }
}

/// The last run, for `/healthz` (no error text: that is for the
/// authenticated report's `run` object).
#[derive(Debug, Clone, Serialize)]
pub struct LastRun {
    pub finished_at: String,
    pub outcome: RunOutcome,
    pub seconds: f64,
    /// When it finished, for the health's age check.
    #[serde(skip)]
    pub finished: jiff::Timestamp,
}

/// The daemon's health (SPEC section 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// No run has finished yet.
    Starting,
    Ok,
    /// The last run failed, or the last successful one is older than twice
    /// the interval.
    Degraded,
}

impl RunOutcome {
    /// A run that checked and loaded (problems found included); a refused
    /// source or a failed run is not a success.
    fn succeeded(self) -> bool {
        match self {
            RunOutcome::Ok | RunOutcome::Problems => true,
            RunOutcome::Refused | RunOutcome::Failed => false,
        }
    }
}

/// What the requests read and the runs write.
#[derive(Default)]
struct Status {
    /// The last check report; kept when a later run fails.
    report: Option<Arc<serde_json::Value>>,
    last_run: Option<LastRun>,
    /// When the last successful run finished.
    last_success: Option<jiff::Timestamp>,
    /// The last failed run's message, for the report's `run` object.
    last_failure: Option<String>,
    running: bool,
    runs: u64,
    interval: Duration,
    /// When the scheduled run after the last one is due.
    next_run: Option<jiff::Timestamp>,
    store_path: PathBuf,
    /// The findings of the last run that finished, for the webhook's diff.
    findings: Option<Vec<Finding>>,
    /// Changes the webhook did not take, sent with the next run's.
    undelivered: Option<notify::Changes>,
}

/// Shared by the scheduler and the request handlers.
struct State {
    config_path: PathBuf,
    /// The bearer token for every route that needs one.
    token: SecretString,
    /// A token for the GET routes only.
    read_token: Option<SecretString>,
    /// The status page's anti-forgery token: a form that starts a run must
    /// carry it, so another site cannot make a signed-in browser post one.
    csrf: String,
    /// Starts a run now (or right after the one in progress).
    trigger: Arc<Notify>,
    /// Held briefly, never across an await.
    status: Mutex<Status>,
    metrics: metrics::Metrics,
    webhook: notify::Webhook,
    /// Systems whose credentials were refused, across runs.
    backoffs: Arc<Mutex<backoff::Backoffs>>,
}

/// A lock whose holder never panics mid-update; a poisoned one still holds
/// plain data, so it is used as it is.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl State {
    fn new(settings: Settings) -> anyhow::Result<State> {
        Ok(State {
            config_path: settings.config_path,
            token: settings.token,
            read_token: settings.read_token,
            csrf: super::random_token()?,
            trigger: Arc::new(Notify::new()),
            status: Mutex::new(Status {
                interval: settings.interval,
                store_path: settings.store_path,
                ..Status::default()
            }),
            metrics: metrics::Metrics::new(),
            webhook: notify::Webhook::new()?,
            backoffs: Arc::default(),
        })
    }

    fn status(&self) -> std::sync::MutexGuard<'_, Status> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.status
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The health now: `starting` until a run finished, `degraded` when the
    /// last run did not succeed or the last success is older than twice the
    /// interval.
    fn health(&self) -> Health {
        let status = self.status();
        let Some(last) = &status.last_run else {
            return Health::Starting;
        };
        let stale = match status.last_success {
            None => true,
            Some(at) => {
                let limit = jiff::SignedDuration::try_from(status.interval * 2)
                    .unwrap_or(jiff::SignedDuration::MAX);
                jiff::Timestamp::now().duration_since(at) > limit
            }
        };
        // A refused source is not a failed run; it degrades the health once
        // no run has loaded for two intervals.
        if last.outcome == RunOutcome::Failed || stale {
            Health::Degraded
        } else {
            Health::Ok
        }
    }

    /// One run: exactly what `itsmid load` does, with the config and the
    /// identities read afresh. Returns the interval until the next run. A
    /// panic inside the run is a failed run: the schedule goes on.
    async fn run_once(&self) -> Duration {
        self.status().running = true;
        let started = Instant::now();
        let config_path = self.config_path.clone();
        let backoffs = Arc::clone(&self.backoffs);
        let result = match tokio::spawn(async move {
            #[cfg(debug_assertions)]
            panic_once_for_tests();
            let mut fingerprints = std::collections::BTreeMap::new();
            let mut held = crate::check::Held::new();
            let loaded =
                super::check_and_load_holding(&config_path, RunOptions::default(), |connected| {
                    let mut backoffs = lock(&backoffs);
                    fingerprints = backoffs.fingerprints(connected);
                    held = backoffs.hold(&fingerprints, jiff::Timestamp::now());
                    held.clone()
                })
                .await?;
            lock(&backoffs).record(
                &fingerprints,
                &loaded.check.systems,
                &held,
                crate::pipeline::interval(&loaded.config),
                jiff::Timestamp::now(),
            );
            Ok(loaded)
        })
        .await
        {
            Ok(result) => result,
            Err(join) => Err(anyhow!(
                "the run stopped unexpectedly: {}",
                panic_text(join)
            )),
        };
        let seconds = started.elapsed().as_secs_f64();
        let finished_at = jiff::Timestamp::now().to_string();
        match result {
            Ok(loaded) => {
                let outcome = RunOutcome::of(Some(loaded.load.verdict()));
                if let Some(error) = loaded.load.source_errors.first() {
                    tracing::error!(
                        "run: nothing was loaded; the store keeps the last load: {error}"
                    );
                }
                tracing::info!(
                    outcome = outcome.as_str(),
                    errors = loaded.check.summary.errors,
                    warnings = loaded.check.summary.warnings,
                    users = loaded.load.counts.users,
                    seconds,
                    "run finished"
                );
                let previous = {
                    let mut status = self.status();
                    status.report = serde_json::to_value(&loaded.check).ok().map(Arc::new);
                    status.interval = crate::pipeline::interval(&loaded.config);
                    status.store_path = loaded.config.store.path.clone();
                    status.findings.replace(loaded.check.findings.clone())
                };
                let changes = notify::Changes::between(
                    previous.as_deref().unwrap_or_default(),
                    &loaded.check.findings,
                );
                if let Some(url) = &loaded.config.webhook_url {
                    let undelivered = self.status().undelivered.take();
                    let changes = notify::Changes::after(undelivered, changes);
                    if !self.webhook.send(url, &changes).await {
                        self.status().undelivered = Some(changes);
                    }
                }
                // In the store before the run counts as finished, so that
                // whoever sees it finish finds it in the history.
                self.remember(run_record(outcome, seconds, Some(&loaded)))
                    .await;
                let next = self.finish(
                    LastRun {
                        finished_at,
                        outcome,
                        seconds,
                        finished: jiff::Timestamp::now(),
                    },
                    None,
                );
                // Counted last: a run the metrics count is in the health
                // and the history too.
                self.metrics.record_run(outcome, Some(&loaded.check));
                next
            }
            Err(err) => {
                let error = format!("{err:#}");
                tracing::error!("run failed; still serving the last good report: {error}");
                let outcome = RunOutcome::of(None);
                self.remember(run_record(outcome, seconds, None)).await;
                let next = self.finish(
                    LastRun {
                        finished_at,
                        outcome,
                        seconds,
                        finished: jiff::Timestamp::now(),
                    },
                    Some(error),
                );
                self.metrics.record_run(outcome, None);
                next
            }
        }
    }

    /// Keeps the run in the store for the status page's trend. A store
    /// that cannot be written costs the trend one point, never the run.
    async fn remember(&self, record: page::RunRecord) {
        let path = self.status().store_path.clone();
        let written = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            let text = serde_json::to_string(&record)?;
            crate::pipeline::store::Store::open(&path)?.record_run(&record.finished_at, &text)?;
            Ok(())
        })
        .await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::warn!("the run is not in the status page's trend: {err:#}"),
            Err(err) => tracing::warn!("the run is not in the status page's trend: {err}"),
        }
    }

    /// The last `limit` runs and, with `loads`, the loads the store keeps
    /// (`itsmid history`), oldest first, in one read of the store; none
    /// while the store cannot be read yet.
    async fn stored(
        &self,
        limit: usize,
        loads: bool,
    ) -> (Vec<page::RunRecord>, Vec<crate::pipeline::store::Snapshot>) {
        let path = self.status().store_path.clone();
        let read = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let store = crate::pipeline::store::Store::open_existing(&path)?;
            let history = if loads { store.history()? } else { Vec::new() };
            Ok((store.runs(limit)?, history))
        })
        .await;
        match read {
            Ok(Ok((records, history))) => (
                records
                    .iter()
                    .filter_map(|text| serde_json::from_str(text).ok())
                    .collect(),
                history,
            ),
            Ok(Err(err)) => {
                tracing::info!("no run history to show: {err:#}");
                (Vec::new(), Vec::new())
            }
            Err(_) => (Vec::new(), Vec::new()),
        }
    }

    fn finish(&self, last: LastRun, failure: Option<String>) -> Duration {
        let mut status = self.status();
        status.running = false;
        status.runs += 1;
        if last.outcome.succeeded() {
            status.last_success = Some(last.finished);
        }
        if failure.is_some() {
            status.last_failure = failure;
        }
        status.next_run = jiff::SignedDuration::try_from(status.interval)
            .ok()
            .and_then(|wait| last.finished.checked_add(wait).ok());
        status.last_run = Some(last);
        status.interval
    }
}

/// What the trend keeps of one run: its outcome, its findings by severity
/// and code, and what its load did (or why it was blocked).
fn run_record(
    outcome: RunOutcome,
    seconds: f64,
    loaded: Option<&super::Loaded>,
) -> page::RunRecord {
    // Rounded as the load's snapshot time is: a run never reads as older
    // than its own load.
    let finished_at = crate::report::now_to_the_second();
    let mut record = page::RunRecord {
        finished_at,
        outcome: outcome.as_str().to_owned(),
        seconds,
        errors: 0,
        warnings: 0,
        codes: std::collections::BTreeMap::new(),
        load: None,
        blocked: None,
    };
    let Some(loaded) = loaded else {
        return record;
    };
    for finding in &loaded.check.findings {
        match finding.severity {
            crate::report::Severity::Error => record.errors += 1,
            crate::report::Severity::Warning => record.warnings += 1,
        }
        *record
            .codes
            .entry(finding.code.as_str().to_owned())
            .or_default() += 1;
    }
    let counts = &loaded.load.counts;
    if loaded.load.loaded {
        record.load = Some(page::LoadCounts {
            users: counts.users,
            added: counts.added,
            removed: counts.removed,
            changed: counts.changed,
        });
    }
    record.blocked = loaded
        .load
        .blocked
        .as_ref()
        .map(|b| b.blocked.reason.clone());
    record
}

/// A test-only fault switch: when `ITSMID_TEST_PANIC_ONCE` names a file
/// that exists, the run removes it and panics, so a test can show the
/// schedule going on after a panic. Compiled into debug builds only: a
/// release build has no such switch.
#[cfg(debug_assertions)]
fn panic_once_for_tests() {
    if let Some(flag) = std::env::var_os("ITSMID_TEST_PANIC_ONCE")
        && std::fs::remove_file(&flag).is_ok()
    {
        panic!("test hook: a panic inside the run");
    }
}

/// What a panic said, where it said something.
fn panic_text(join: tokio::task::JoinError) -> String {
    match join.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".to_owned()),
        Err(join) => join.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::time::{Instant, sleep};

    /// Records when each run started and how many ran at once.
    #[derive(Default)]
    struct Runs {
        starts: Mutex<Vec<Duration>>,
        running: AtomicUsize,
        most_at_once: AtomicUsize,
    }

    fn fake_run(
        runs: Arc<Runs>,
        origin: Instant,
        takes: Duration,
        interval: Duration,
    ) -> impl FnMut() -> std::pin::Pin<Box<dyn Future<Output = Duration> + Send>> {
        move || {
            let runs = Arc::clone(&runs);
            Box::pin(async move {
                runs.starts
                    .lock()
                    .expect("not poisoned")
                    .push(origin.elapsed());
                let now = runs.running.fetch_add(1, Ordering::SeqCst) + 1;
                runs.most_at_once.fetch_max(now, Ordering::SeqCst);
                sleep(takes).await;
                runs.running.fetch_sub(1, Ordering::SeqCst);
                interval
            })
        }
    }

    fn starts(runs: &Runs) -> Vec<u64> {
        runs.starts
            .lock()
            .expect("not poisoned")
            .iter()
            .map(Duration::as_secs)
            .collect()
    }

    #[tokio::test]
    async fn a_panic_inside_a_run_is_read_back_as_its_message() {
        let join = tokio::spawn(async { panic!("the store vanished") })
            .await
            .expect_err("the task panicked");
        assert_eq!(panic_text(join), "the store vanished");
        let join = tokio::spawn(async { panic!("{} users", 3) })
            .await
            .expect_err("the task panicked");
        assert_eq!(panic_text(join), "3 users");
    }

    #[tokio::test(start_paused = true)]
    async fn runs_at_start_and_then_one_interval_after_each_run() {
        let runs = Arc::new(Runs::default());
        let (_stop, stopped) = watch::channel(false);
        let origin = Instant::now();
        let run = fake_run(
            Arc::clone(&runs),
            origin,
            Duration::from_secs(1),
            Duration::from_secs(60),
        );
        tokio::spawn(schedule(run, Arc::new(Notify::new()), stopped));
        sleep(Duration::from_secs(150)).await;
        assert_eq!(starts(&runs), [0, 61, 122]);
    }

    #[tokio::test(start_paused = true)]
    async fn requests_during_a_run_wait_for_it_and_make_one_run() {
        let runs = Arc::new(Runs::default());
        let (_stop, stopped) = watch::channel(false);
        let trigger = Arc::new(Notify::new());
        let origin = Instant::now();
        let run = fake_run(
            Arc::clone(&runs),
            origin,
            Duration::from_secs(10),
            Duration::from_secs(3600),
        );
        tokio::spawn(schedule(run, Arc::clone(&trigger), stopped));
        sleep(Duration::from_secs(2)).await;
        for _ in 0..3 {
            trigger.notify_one();
        }
        sleep(Duration::from_secs(60)).await;
        assert_eq!(starts(&runs), [0, 10]);
        assert_eq!(runs.most_at_once.load(Ordering::SeqCst), 1);
        // An idle daemon starts a requested run at once.
        trigger.notify_one();
        sleep(Duration::from_secs(1)).await;
        assert_eq!(starts(&runs), [0, 10, 62]);
    }

    #[tokio::test(start_paused = true)]
    async fn stopping_lets_the_run_in_progress_finish_and_starts_no_other() {
        let runs = Arc::new(Runs::default());
        let (stop, stopped) = watch::channel(false);
        let trigger = Arc::new(Notify::new());
        let origin = Instant::now();
        let run = fake_run(
            Arc::clone(&runs),
            origin,
            Duration::from_secs(10),
            Duration::from_secs(1),
        );
        let scheduler = tokio::spawn(schedule(run, Arc::clone(&trigger), stopped));
        sleep(Duration::from_secs(1)).await;
        trigger.notify_one();
        stop.send(true).expect("the scheduler listens");
        scheduler.await.expect("the scheduler ends");
        assert_eq!(origin.elapsed(), Duration::from_secs(10));
        assert_eq!(starts(&runs), [0]);
        assert_eq!(runs.running.load(Ordering::SeqCst), 0);
    }
}
