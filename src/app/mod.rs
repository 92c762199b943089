//! The application: what the commands and the daemon share. Reading both
//! files, building the connectors, running a check, a resolve, a load.
//!
//! Knows nothing of the command line, stdout or exit statuses (that is
//! `cmd/`), and adds only context to the domain's errors: this is where
//! `anyhow` starts.

pub mod daemon;
pub mod demo;
pub mod record;
pub mod replay;
mod shutdown;

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, anyhow};

pub use shutdown::shutdown_signal;

use crate::check::{CheckRun, Connected, Held};
use crate::config::Config;
use crate::identities::Identities;
use crate::pipeline::{LoadReport, RunOptions};
use crate::progress::Progress;
use crate::report::Report;
use crate::resolve::Plan;

/// Loads the config and the identities file it names; every input problem
/// of both files at once.
pub fn load_inputs(config_path: &Path) -> anyhow::Result<(Config, Identities)> {
    load_inputs_replaying(config_path, None)
}

/// [`load_inputs`]; a replay of a pseudonymized recording reads the
/// recording's identities file instead of the config's.
pub fn load_inputs_replaying(
    config_path: &Path,
    replay: Option<&Path>,
) -> anyhow::Result<(Config, Identities)> {
    let mut config = load_config(config_path)?;
    config.identities = replay::identities_path(&config, replay);
    let identities = Identities::load(&config.identities, &config.pipeline.custom_attributes)
        .map_err(|errors| anyhow!("{errors}"))?;
    Ok((config, identities))
}

/// The config alone, for the commands that only read the store.
pub fn load_config(config_path: &Path) -> anyhow::Result<Config> {
    Config::load(config_path).map_err(|errors| anyhow!("{errors}"))
}

/// Builds every connector, or says which secrets are missing (exit 2).
pub fn connect(config: &Config) -> anyhow::Result<Vec<Connected>> {
    connect_keeping_answers(config, false)
}

/// [`connect`]; with `record`, every connector keeps the answers it reads
/// (`itsmid record`).
pub fn connect_keeping_answers(config: &Config, record: bool) -> anyhow::Result<Vec<Connected>> {
    crate::check::connect_keeping_answers(config, record).map_err(|errors| {
        anyhow!(
            "cannot set up the connectors; nothing was checked:\n  {}",
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n  ")
        )
    })
}

/// Builds the connectors and runs the check, keeping the per-entry results
/// the merge fills ITSM User IDs and names from.
pub async fn check(config: &Config, identities: &Identities) -> anyhow::Result<CheckRun> {
    check_observed(config, identities, &Progress::new()).await
}

/// [`check`], counting its progress in `progress`.
pub async fn check_observed(
    config: &Config,
    identities: &Identities,
    progress: &Progress,
) -> anyhow::Result<CheckRun> {
    check_replaying(config, identities, None, progress).await
}

/// [`check_observed`] against the recording in `replay`, if given.
pub async fn check_replaying(
    config: &Config,
    identities: &Identities,
    replay: Option<&Path>,
    progress: &Progress,
) -> anyhow::Result<CheckRun> {
    let systems = replay::Connections::of(config, replay).await?;
    Ok(crate::check::run_observed(identities, &systems.connected, &systems.held, progress).await)
}

/// What `resolve` proposes after a fresh check; with `write`, the proposals
/// are written into the identities file. `only` keeps one identity's
/// proposals (`users add --resolve`). The check's progress is counted in
/// `progress`.
pub async fn resolve(
    config: &Config,
    identities: &Identities,
    write: bool,
    only: Option<&str>,
    progress: &Progress,
) -> anyhow::Result<Plan> {
    resolve_replaying(config, identities, write, only, None, progress).await
}

/// [`resolve`] against the recording in `replay`, if given.
pub async fn resolve_replaying(
    config: &Config,
    identities: &Identities,
    write: bool,
    only: Option<&str>,
    replay: Option<&Path>,
    progress: &Progress,
) -> anyhow::Result<Plan> {
    let systems = replay::Connections::of(config, replay).await?;
    let connected = &systems.connected;
    let run = crate::check::run_observed(identities, connected, &systems.held, progress).await;
    let mut plan = crate::resolve::plan(config, identities, connected, &run).await;
    if let Some(urid) = only {
        plan.keep_only(urid);
    }
    if write {
        plan.written = crate::resolve::write(identities, &plan)?;
    }
    Ok(plan)
}

/// Sources, merge, validate and load after a check, off the runtime.
pub async fn run_load(
    config: &Config,
    identities: &Identities,
    run: &CheckRun,
    options: RunOptions,
) -> anyhow::Result<LoadReport> {
    run_load_observed(config, identities, run, options, Arc::new(Progress::new())).await
}

/// [`run_load`], counting the source rows read in `progress`.
async fn run_load_observed(
    config: &Config,
    identities: &Identities,
    run: &CheckRun,
    options: RunOptions,
    progress: Arc<Progress>,
) -> anyhow::Result<LoadReport> {
    let (config, identities) = (config.clone(), identities.clone());
    let (report, entries) = (run.report.clone(), run.entries.clone());
    tokio::task::spawn_blocking(move || {
        crate::pipeline::run_blocking_observed(
            &config,
            &identities,
            &report,
            &entries,
            options,
            &progress,
        )
    })
    .await
    .context("the load stopped unexpectedly")?
    .map_err(anyhow::Error::from)
}

/// One pipeline run as `itsmid load` makes it.
pub struct Loaded {
    pub config: Config,
    /// The check's report (SPEC section 5).
    pub check: Report,
    /// The load's report (SPEC section 6).
    pub load: LoadReport,
}

/// Reads the inputs afresh, checks, then merges, validates and loads: the
/// whole of `itsmid load`, shared with the daemon so that both always run
/// the same steps. The run's progress is counted in `progress`.
pub async fn check_and_load(
    config_path: &Path,
    options: RunOptions,
    progress: Arc<Progress>,
) -> anyhow::Result<Loaded> {
    check_and_load_with(config_path, options, |_| Held::new(), progress).await
}

/// `load --dry-run --replay DIR`: the whole of `itsmid load` against the
/// recording's simulators, writing nothing.
pub async fn dry_run_replaying(
    config_path: &Path,
    options: RunOptions,
    replay: &Path,
    progress: Arc<Progress>,
) -> anyhow::Result<Loaded> {
    let options = RunOptions {
        dry_run: true,
        ..options
    };
    let (config, identities) = load_inputs_replaying(config_path, Some(replay))?;
    let systems = replay::Connections::replay(&config, replay).await?;
    let run =
        crate::check::run_observed(&identities, &systems.connected, &systems.held, &progress).await;
    let load = run_load_observed(&config, &identities, &run, options, progress).await?;
    Ok(Loaded {
        config,
        check: run.report,
        load,
    })
}

/// `check_and_load`, with the systems `hold` names not asked (the daemon's
/// backoff after refused credentials); `hold` sees the connectors built
/// for this run.
pub async fn check_and_load_holding(
    config_path: &Path,
    options: RunOptions,
    hold: impl FnOnce(&[Connected]) -> Held,
) -> anyhow::Result<Loaded> {
    check_and_load_with(config_path, options, hold, Arc::new(Progress::new())).await
}

async fn check_and_load_with(
    config_path: &Path,
    options: RunOptions,
    hold: impl FnOnce(&[Connected]) -> Held,
    progress: Arc<Progress>,
) -> anyhow::Result<Loaded> {
    let (config, identities) = load_inputs(config_path)?;
    let connected = connect(&config)?;
    let held = hold(&connected);
    let run = crate::check::run_observed(&identities, &connected, &held, &progress).await;
    let load = run_load_observed(&config, &identities, &run, options, progress).await?;
    Ok(Loaded {
        config,
        check: run.report,
        load,
    })
}

/// A fresh token for the daemon (its anti-forgery token, the demo's
/// tokens): 256 bits from the system's random source, URL-safe base64.
pub fn random_token() -> anyhow::Result<String> {
    use base64::Engine;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes()?))
}

/// 256 bits from the system's random source (tokens, a pseudonym key).
pub fn random_bytes() -> anyhow::Result<[u8; 32]> {
    let mut bytes = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| anyhow!("the system's random source cannot be read"))?;
    Ok(bytes)
}

/// Runs store and file work off the async runtime.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .context("the store read stopped unexpectedly")?
}
