//! The command line (SPEC section 2): the arguments, and one file per
//! command that asks the application for the work and writes the output.
//!
//! The edge of the program: the only code that knows clap, stdout and the
//! output formats. Nothing imports it but `main.rs`. Stdout carries only the
//! command's output, logs go to stderr. Each command returns the domain's
//! [`Verdict`]; `main` alone turns it into an exit status.

mod check;
mod demo;
mod diff;
mod export;
mod history;
mod lint;
mod load;
mod progress;
mod record;
mod resolve;
mod serve;
mod simulate;
mod users;

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};

use crate::verdict::Verdict;

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
    /// Log lines on stderr as text, or as one JSON object per line for a log collector.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl From<LogFormat> for crate::telemetry::LogFormat {
    fn from(format: LogFormat) -> Self {
        match format {
            LogFormat::Text => crate::telemetry::LogFormat::Text,
            LogFormat::Json => crate::telemetry::LogFormat::Json,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Verify every ITSM ID Info entry of the bot and the manual users against the live systems.
    Check {
        /// Against the recording in DIR instead (in-process simulators): no credentials, no network.
        #[arg(long, value_name = "DIR")]
        replay: Option<PathBuf>,
        /// Exit 1 only for error findings this earlier JSON report does not hold.
        #[arg(long, value_name = "REPORT")]
        baseline: Option<PathBuf>,
    },
    /// Check the live systems and save what they answered in DIR, for replay in CI.
    Record {
        /// The recording's folder (a recording already there is replaced).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Replace names, e-mail addresses, user names and External IDs, and write DIR/identities.toml.
        #[arg(long)]
        pseudonymize: bool,
    },
    /// Validate the config and identities files offline: no network.
    Lint {
        /// Exit 1 only for error findings this earlier JSON report does not hold.
        #[arg(long, value_name = "REPORT")]
        baseline: Option<PathBuf>,
    },
    /// Manage the manual users in the identities file.
    Users {
        #[command(subcommand)]
        command: users::UsersCommand,
    },
    /// Propose missing or stale ITSM ID Info from the systems; --write puts it into the identities file.
    Resolve {
        /// Write the proposed changes into the identities file (comments and layout are kept).
        #[arg(long)]
        write: bool,
        /// Against the recording in DIR instead (in-process simulators): no credentials, no network.
        #[arg(long, value_name = "DIR")]
        replay: Option<PathBuf>,
    },
    /// Run check, resolve and load against built-in simulators of the six systems: no credentials, no network.
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
        /// With --dry-run: against the recording in DIR (in-process simulators).
        #[arg(long, value_name = "DIR", requires = "dry_run")]
        replay: Option<PathBuf>,
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
        /// servicenow, jira, jira_dc, salesforce, freshservice or manageengine.
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

/// Runs the command the arguments name.
pub async fn run(args: Args) -> anyhow::Result<Verdict> {
    check_output_path(&args)?;
    match &args.command {
        Command::Check { replay, baseline } => {
            check::run(&args, replay.as_deref(), baseline.as_deref()).await
        }
        Command::Record { out, pseudonymize } => record::run(&args, out, *pseudonymize).await,
        Command::Lint { baseline } => lint::run(&args, baseline.as_deref()),
        Command::Users { command } => users::run(&args, command).await,
        Command::Resolve { write, replay } => resolve::run(&args, *write, replay.as_deref()).await,
        Command::Demo { dir, serve, listen } => {
            let serve = serve.then(|| listen.unwrap_or_else(crate::app::demo::default_listen));
            demo::run(&args, dir.as_deref(), serve).await
        }
        Command::Serve { listen } => serve::run(&args, *listen).await,
        Command::Load {
            dry_run,
            accept_large_change,
            replay,
        } => {
            let options = crate::pipeline::RunOptions {
                dry_run: *dry_run,
                accept_large_change: *accept_large_change,
            };
            load::run(&args, options, replay.as_deref()).await
        }
        Command::Export { explain } => export::run(&args, explain.as_deref()).await,
        Command::History => history::run(&args).await,
        Command::Diff { from, to } => diff::run(&args, *from, *to).await,
        Command::Simulate {
            system,
            data,
            listen,
        } => simulate::run(system, data, *listen).await,
    }
}

/// An earlier report (`itsmid.report.v1` or `itsmid.lint.v1` JSON) to
/// compare findings with; one that cannot be read is a bad invocation.
fn read_baseline(path: &Path) -> anyhow::Result<serde_json::Value> {
    let how = "save one with `itsmid check --format json --output FILE` (or `itsmid lint ...`)";
    let text = std::fs::read_to_string(path)
        .map_err(|err| anyhow::anyhow!("--baseline {}: cannot read it: {err}", path.display()))?;
    let report: serde_json::Value = serde_json::from_str(&text)
        .map_err(|err| anyhow::anyhow!("--baseline {}: not JSON ({err}); {how}", path.display()))?;
    let schema = report["schema"].as_str().unwrap_or_default();
    if !matches!(schema, "itsmid.report.v1" | "itsmid.lint.v1") || !report["findings"].is_array() {
        bail!(
            "--baseline {}: not an itsmid check or lint report (\"schema\" is itsmid.report.v1 or itsmid.lint.v1, with its findings); {how}",
            path.display()
        );
    }
    Ok(report)
}

/// The verdict against a baseline: problems only for error findings it
/// does not hold, each named on stderr.
fn against_baseline(
    command: &str,
    findings: &[crate::report::Finding],
    baseline: &serde_json::Value,
) -> Verdict {
    let new = crate::report::new_errors(findings, baseline);
    let errors = findings
        .iter()
        .filter(|f| f.severity == crate::report::Severity::Error)
        .count();
    eprintln!(
        "{command}: {errors} error findings, {} of them not in the baseline",
        new.len()
    );
    for finding in &new {
        eprintln!(
            "  new: {} {} {}: {}",
            finding.code.as_str(),
            finding.unique_record_id.as_deref().unwrap_or("-"),
            finding.integration.as_deref().unwrap_or("-"),
            crate::printable::printable(&finding.message)
        );
    }
    Verdict::from_errors(!new.is_empty())
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

/// The format to write: explicit, else a table on a terminal and JSON
/// for pipes and files.
fn format(args: &Args) -> Format {
    args.format.unwrap_or_else(|| {
        if args.output.is_none() && std::io::stdout().is_terminal() {
            Format::Table
        } else {
            Format::Json
        }
    })
}

/// Writes the command's output to `--output` (a new file readable by its
/// owner only) or stdout.
fn emit(args: &Args, json: &str, table: &str) -> anyhow::Result<()> {
    let text = match format(args) {
        Format::Json => format!("{json}\n"),
        Format::Table => table.to_owned(),
    };
    match &args.output {
        Some(path) => crate::private_file::write(path, text.as_bytes())
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
