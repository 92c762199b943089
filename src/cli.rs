//! The command line (SPEC section 2): arguments, and one function per
//! command that loads the inputs, runs the work and writes the output.
//!
//! Owns the output streams: stdout carries only the command's output, logs
//! go to stderr. Errors come back with context; `main` picks the exit code.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use clap::{Parser, Subcommand, ValueEnum};
use itsmid_connectors::System;

use crate::config::Config;
use crate::identities::Identities;
use crate::report::Report;

#[derive(Debug, Parser)]
#[command(
    name = "itsmid",
    version,
    about = "Keeps the bot's and manual users' ticketing accounts linked and verified"
)]
pub struct Args {
    /// The config file (default: $ITSMID_CONFIG, else itsmid.toml).
    #[arg(long = "config", global = true, value_name = "PATH")]
    config_flag: Option<PathBuf>,
    /// The config file in effect: --config, else a non-empty
    /// $ITSMID_CONFIG, else `itsmid.toml`.
    #[arg(skip)]
    pub config: PathBuf,
    /// Output format: a table on a terminal, JSON otherwise.
    #[arg(long, global = true, value_enum)]
    pub format: Option<Format>,
    /// Write the output to this file instead of stdout.
    #[arg(long, global = true)]
    pub output: Option<PathBuf>,
    /// More logging on stderr: -v info, -vv debug, -vvv trace.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Verify every ITSM ID Info entry of the bot and the manual users against the live systems.
    Check,
    /// Validate the config and identities files offline: no network.
    Lint,
    /// Manage the manual users in the identities file.
    Users {
        #[command(subcommand)]
        command: crate::users::UsersCommand,
    },
    /// Propose missing or stale ITSM ID Info from the systems; --write puts it into the identities file.
    Resolve {
        /// Write the proposed changes into the identities file (comments and layout are kept).
        #[arg(long)]
        write: bool,
    },
    /// Run check, resolve and load against built-in simulators of the five systems: no credentials, no network.
    Demo {
        /// Folder for the demo's config and identities files (default: a fresh temporary folder).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Then keep the simulators and the daemon running on the demo's folder until stopped.
        #[arg(long)]
        serve: bool,
        /// With --serve: the daemon's address (default 127.0.0.1:8377).
        #[arg(long, requires = "serve")]
        listen: Option<SocketAddr>,
    },
    /// Check, then merge the sources with the bot and manual users, validate, and load the store.
    Load {
        /// Print the diff and the validators' verdict; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Let this one load through the large data change protection.
        #[arg(long)]
        accept_large_change: bool,
    },
    /// The Imported Users of the last load as JSON Lines of {"user": {...}}.
    Export {
        /// Show where each field of this user (its joining key) came from.
        #[arg(long, value_name = "ID")]
        explain: Option<String>,
    },
    /// The load snapshots with their counts.
    History,
    /// The users and fields that changed between two snapshots.
    Diff {
        /// The earlier snapshot's number (see `itsmid history`).
        from: i64,
        /// The later snapshot's number.
        to: i64,
    },
    /// Run the pipeline on a schedule and serve the report, the users and metrics over HTTP.
    Serve {
        /// Address to listen on instead of `server.listen`, e.g. 127.0.0.1:0.
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Serve one system's simulator for mock-backed tests.
    Simulate {
        /// servicenow, jira, salesforce, freshservice or manageengine.
        #[arg(long)]
        system: String,
        /// Simulator data in the system's API shape (see fixtures/).
        #[arg(long)]
        data: PathBuf,
        /// Address to listen on, e.g. 127.0.0.1:8080.
        #[arg(long)]
        listen: SocketAddr,
    },
}

impl Args {
    /// Parses the command line and settles the config path.
    pub fn parse_with_env() -> Args {
        let mut args = Args::parse();
        args.config = args.config_flag.clone().unwrap_or_else(|| {
            std::env::var_os("ITSMID_CONFIG")
                .filter(|value| !value.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("itsmid.toml"))
        });
        args
    }
}

/// How a command ended, for the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything checked and in order (warnings allowed).
    InOrder,
    /// At least one error finding, or a system that could not be checked.
    Problems,
    /// Input that cannot be read (a source export): nothing was written.
    Refused,
}

impl Outcome {
    pub fn exit_code(self) -> ExitCode {
        match self {
            Outcome::InOrder => ExitCode::SUCCESS,
            Outcome::Problems => ExitCode::from(1),
            Outcome::Refused => ExitCode::from(2),
        }
    }

    pub fn of(report: &Report) -> Outcome {
        if report.has_errors() {
            Outcome::Problems
        } else {
            Outcome::InOrder
        }
    }
}

pub async fn run(args: Args) -> anyhow::Result<Outcome> {
    check_output_path(&args)?;
    match &args.command {
        Command::Check => check(&args).await,
        Command::Lint => crate::lint::run(&args),
        Command::Users { command } => crate::users::run(&args, command).await,
        Command::Resolve { write } => resolve(&args, *write).await,
        Command::Demo { dir, serve, listen } => {
            let serve = serve.then(|| listen.unwrap_or_else(crate::demo::default_listen));
            crate::demo::run(&args, dir.as_deref(), serve).await
        }
        Command::Serve { listen } => crate::daemon::serve(&args.config, *listen).await,
        Command::Load {
            dry_run,
            accept_large_change,
        } => {
            let options = crate::pipeline::RunOptions {
                dry_run: *dry_run,
                accept_large_change: *accept_large_change,
            };
            crate::pipeline_cli::load(&args, options).await
        }
        Command::Export { explain } => crate::pipeline_cli::export(&args, explain.as_deref()).await,
        Command::History => crate::pipeline_cli::history(&args).await,
        Command::Diff { from, to } => crate::pipeline_cli::diff(&args, *from, *to).await,
        Command::Simulate {
            system,
            data,
            listen,
        } => simulate(system, data, *listen).await,
    }
}

/// Refuses an `--output` that cannot be written before any work is done, so
/// a failed report never follows a written identities file or a load.
fn check_output_path(args: &Args) -> anyhow::Result<()> {
    let Some(path) = &args.output else {
        return Ok(());
    };
    if path.is_dir() {
        bail!("--output {}: is a folder; name a file", path.display());
    }
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.is_dir() {
        bail!(
            "--output {}: the folder {} does not exist; create it or name another file",
            path.display(),
            parent.display()
        );
    }
    Ok(())
}

/// Loads the config and the identities file it names; every input problem
/// of both files at once.
pub fn load_inputs(config_path: &Path) -> anyhow::Result<(Config, Identities)> {
    let config = Config::load(config_path).map_err(|errors| anyhow!("{errors}"))?;
    let identities = Identities::load(&config.identities, &config.pipeline.custom_attributes)
        .map_err(|errors| anyhow!("{errors}"))?;
    Ok((config, identities))
}

async fn check(args: &Args) -> anyhow::Result<Outcome> {
    let (config, identities) = load_inputs(&args.config)?;
    let report = run_check(&config, &identities).await?;
    emit(args, &report.to_json(), &report.to_table())?;
    Ok(Outcome::of(&report))
}

async fn resolve(args: &Args, write: bool) -> anyhow::Result<Outcome> {
    let (config, identities) = load_inputs(&args.config)?;
    let connected = connect(&config)?;
    let run = crate::check::run(&identities, &connected).await;
    let mut plan = crate::resolve::plan(&config, &identities, &connected, &run).await;
    if write {
        plan.written = crate::resolve::write(&identities, &plan)?;
    }
    emit(args, &plan.to_json(), &plan.to_table())?;
    // Exit 1 when a system could not be checked, even after a write.
    Ok(if plan.complete {
        Outcome::InOrder
    } else {
        Outcome::Problems
    })
}

/// Builds every connector, or says which secrets are missing (exit 2).
pub fn connect(config: &Config) -> anyhow::Result<Vec<crate::check::Connected>> {
    crate::check::connect(config).map_err(|errors| {
        anyhow!(
            "cannot set up the connectors; nothing was checked:\n  {}",
            errors.join("\n  ")
        )
    })
}

/// Builds the connectors and runs the check.
pub async fn run_check(config: &Config, identities: &Identities) -> anyhow::Result<Report> {
    let connected = connect(config)?;
    Ok(crate::check::run(identities, &connected).await.report)
}

/// The format to write: explicit, else a table on a terminal and JSON
/// for pipes and files.
pub fn format(args: &Args) -> Format {
    args.format.unwrap_or_else(|| {
        if args.output.is_none() && std::io::stdout().is_terminal() {
            Format::Table
        } else {
            Format::Json
        }
    })
}

/// Writes the command's output to `--output` or stdout.
pub fn emit(args: &Args, json: &str, table: &str) -> anyhow::Result<()> {
    let text = match format(args) {
        Format::Json => format!("{json}\n"),
        Format::Table => table.to_owned(),
    };
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write the report to {}", path.display())),
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(text.as_bytes())
                .context("cannot write to stdout")?;
            stdout.flush().context("cannot write to stdout")
        }
    }
}

async fn simulate(system: &str, data: &Path, listen: SocketAddr) -> anyhow::Result<Outcome> {
    let system = System::parse(system).ok_or_else(|| {
        anyhow!(
            "unknown system \"{system}\"; use one of: {}",
            System::ALL.map(System::as_str).join(", ")
        )
    })?;
    let text =
        std::fs::read_to_string(data).with_context(|| format!("cannot read {}", data.display()))?;
    let sim = itsmid_connectors::sim::AnySimulator::start(
        system,
        &data.display().to_string(),
        &text,
        Some(listen),
        false,
    )
    .await?;
    eprintln!(
        "serving the {system} simulator at {} (Ctrl-C stops it)",
        sim.uri()
    );
    wait_for_shutdown().await;
    Ok(Outcome::InOrder)
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn wait_for_shutdown() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
