//! The pipeline's commands (SPEC section 2): `load`, `export`, `history`
//! and `diff`.
//!
//! Each reads the config, runs its step off the async runtime (SQLite and
//! file reading block) and writes its output through `cli`. The store is
//! written only by `load`; the others only read it.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, anyhow};
use serde::Serialize;

use crate::check::CheckRun;
use crate::cli::{self, Args, Format, Outcome};
use crate::config::Config;
use crate::identities::Identities;
use crate::pipeline::load::{UserChange, changed_fields, explain};
use crate::pipeline::store::{Snapshot, Store};
use crate::pipeline::{LoadReport, RunOptions, Schema};

/// Builds the connectors and runs the check, keeping the per-entry results
/// the merge fills ITSM User IDs and names from.
pub async fn check(config: &Config, identities: &Identities) -> anyhow::Result<CheckRun> {
    let connected = crate::cli::connect(config)?;
    Ok(crate::check::run(identities, &connected).await)
}

/// Sources, merge, validate and load after a check, off the runtime.
pub async fn run_load(
    config: &Config,
    identities: &Identities,
    run: &CheckRun,
    options: RunOptions,
) -> anyhow::Result<LoadReport> {
    let (config, identities) = (config.clone(), identities.clone());
    let (report, entries) = (run.report.clone(), run.entries.clone());
    tokio::task::spawn_blocking(move || {
        crate::pipeline::run_blocking(&config, &identities, &report, &entries, options)
    })
    .await
    .context("the load stopped unexpectedly")?
    .map_err(anyhow::Error::from)
}

/// The exit status of a load: 2 when a source could not be read, 1 for
/// error findings or a blocked load, else 0.
pub fn outcome(report: &LoadReport) -> Outcome {
    if !report.source_errors.is_empty() {
        Outcome::Refused
    } else if report.has_errors() {
        Outcome::Problems
    } else {
        Outcome::InOrder
    }
}

/// One pipeline run as `itsmid load` makes it: reads the config and the
/// identities file afresh, checks, then merges, validates and loads.
pub struct Loaded {
    pub config: Config,
    /// The check's report (SPEC section 5).
    pub check: crate::report::Report,
    /// The load's report (SPEC section 6).
    pub load: LoadReport,
}

/// Reads the inputs, checks and loads: the whole of `itsmid load`, shared
/// with the daemon so that both always run the same steps.
pub async fn check_and_load(config_path: &Path, options: RunOptions) -> anyhow::Result<Loaded> {
    let (config, identities) = cli::load_inputs(config_path)?;
    let run = check(&config, &identities).await?;
    let load = run_load(&config, &identities, &run, options).await?;
    Ok(Loaded {
        config,
        check: run.report,
        load,
    })
}

pub async fn load(args: &Args, options: RunOptions) -> anyhow::Result<Outcome> {
    let report = check_and_load(&args.config, options).await?.load;
    cli::emit(args, &report.to_json(), &report.to_table())?;
    if !report.source_errors.is_empty() {
        let lines: Vec<String> = report.source_errors.iter().map(|e| e.to_string()).collect();
        eprintln!(
            "error: nothing was loaded; the store keeps the last good load:\n  {}",
            lines.join("\n  ")
        );
    }
    Ok(outcome(&report))
}

/// The demo's load: loads after its check and writes the export to
/// `export_path`. Says what it did on stderr: stdout is the check report.
pub async fn load_and_export(
    config: &Config,
    identities: &Identities,
    run: &CheckRun,
    export_path: &Path,
) -> anyhow::Result<()> {
    let report = run_load(config, identities, run, RunOptions::default()).await?;
    if let Some(error) = report.source_errors.first() {
        return Err(anyhow!("the demo's load stopped: {error}"));
    }
    let (store_path, export) = (config.store.path.clone(), export_path.to_path_buf());
    blocking(move || {
        let store = Store::open_existing(&store_path)?;
        let file = std::fs::File::create(&export)
            .with_context(|| format!("cannot write {}", export.display()))?;
        let mut out = std::io::BufWriter::new(file);
        write_export(&store, &mut out, false)
            .and_then(|()| out.flush())
            .with_context(|| format!("cannot write {}", export.display()))
    })
    .await?;
    eprintln!(
        "demo: loaded {} users into {} (snapshot {}); export in {}",
        report.counts.users,
        config.store.path.display(),
        report
            .snapshot
            .map(|s| s.to_string())
            .unwrap_or_else(|| "none".into()),
        export_path.display()
    );
    Ok(())
}

fn config(args: &Args) -> anyhow::Result<Config> {
    Config::load(&args.config).map_err(|errors| anyhow!("{errors}"))
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .context("the store read stopped unexpectedly")?
}

pub async fn export(args: &Args, explain_id: Option<&str>) -> anyhow::Result<Outcome> {
    let config = config(args)?;
    if let Some(id) = explain_id {
        return explain_user(args, config, id.to_owned()).await;
    }
    // JSON Lines whatever the default format, unless JSON was asked for.
    let array = args.format == Some(Format::Json);
    let output = args.output.clone();
    blocking(move || {
        let store = Store::open_existing(&config.store.path)?;
        let sink: Box<dyn Write> = match &output {
            Some(path) => Box::new(
                std::fs::File::create(path)
                    .with_context(|| format!("cannot write {}", path.display()))?,
            ),
            None => Box::new(std::io::stdout().lock()),
        };
        let mut out = std::io::BufWriter::with_capacity(1 << 16, sink);
        write_export(&store, &mut out, array)
            .and_then(|()| out.flush())
            .context("cannot write the export")?;
        Ok(Outcome::InOrder)
    })
    .await
}

/// Writes the last load's users as JSON Lines or one JSON array.
pub fn write_export(store: &Store, out: &mut dyn Write, array: bool) -> std::io::Result<()> {
    let mut first = true;
    if array {
        out.write_all(b"[")?;
    }
    let written = store
        .for_each_current(&mut |record| {
            if array && !first {
                out.write_all(b",\n")?;
            }
            first = false;
            out.write_all(b"{\"user\":")?;
            out.write_all(record.as_bytes())?;
            out.write_all(b"}")?;
            if !array {
                out.write_all(b"\n")?;
            }
            Ok(())
        })
        .map_err(std::io::Error::other)?;
    written?;
    if array {
        out.write_all(b"]\n")?;
    }
    Ok(())
}

#[derive(Serialize)]
struct Explained {
    schema: &'static str,
    user: String,
    fields: Vec<ExplainedField>,
}

#[derive(Serialize)]
struct ExplainedField {
    field: String,
    value: serde_json::Value,
    from: String,
}

async fn explain_user(args: &Args, config: Config, id: String) -> anyhow::Result<Outcome> {
    let explained = blocking(move || {
        let names: Vec<String> = config.sources.iter().map(|s| s.name.clone()).collect();
        let schema = Schema::new(
            &config.pipeline.custom_attributes,
            &names,
            &config.pipeline.joining_key,
        )
        .map_err(|e| anyhow!("{}: {e}", config.path.display()))?;
        let store = Store::open_existing(&config.store.path)?;
        let key = schema.joining_value(&id);
        let user = match store.current_user(&key)? {
            Some(user) => user,
            None => store.current_user(id.trim())?.ok_or_else(|| {
                anyhow!(
                    "no user with joining key \"{}\" in the last load; `itsmid export` lists them",
                    id.trim()
                )
            })?,
        };
        let fields = explain(&user.record, &user.provenance)
            .into_iter()
            .map(|(field, value, from)| ExplainedField { field, value, from })
            .collect();
        Ok(Explained {
            schema: "itsmid.explain.v1",
            user: user.key,
            fields,
        })
    })
    .await?;
    let mut table = format!("user {}\n", explained.user);
    for f in &explained.fields {
        table.push_str(&format!("  {:<48} {:<10} {}\n", f.field, f.from, f.value));
    }
    cli::emit(args, &to_json(&explained), &table)?;
    Ok(Outcome::InOrder)
}

fn to_json(value: &impl Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

#[derive(Serialize)]
struct History {
    schema: &'static str,
    snapshots: Vec<Snapshot>,
}

pub async fn history(args: &Args) -> anyhow::Result<Outcome> {
    let config = config(args)?;
    let path = config.store.path.clone();
    let snapshots = blocking(move || Ok(Store::open_existing(&path)?.history()?)).await?;
    let mut table = format!(
        "{:>8}  {:<20}  {:>9}  {:>8}  {:>8}  {:>8}  {:>9}\n",
        "snapshot", "loaded at", "users", "added", "removed", "changed", "unchanged"
    );
    for s in &snapshots {
        table.push_str(&format!(
            "{:>8}  {:<20}  {:>9}  {:>8}  {:>8}  {:>8}  {:>9}\n",
            s.id, s.loaded_at, s.users, s.added, s.removed, s.changed, s.unchanged
        ));
    }
    let history = History {
        schema: "itsmid.history.v1",
        snapshots,
    };
    cli::emit(args, &to_json(&history), &table)?;
    Ok(Outcome::InOrder)
}

#[derive(Serialize)]
struct Diff {
    schema: &'static str,
    from: i64,
    to: i64,
    added: Vec<String>,
    removed: Vec<String>,
    changed: Vec<UserChange>,
}

pub async fn diff(args: &Args, from: i64, to: i64) -> anyhow::Result<Outcome> {
    let config = config(args)?;
    let path = config.store.path.clone();
    let diff = blocking(move || snapshot_diff(&path, from, to)).await?;
    let mut table = format!("snapshot {from} -> {to}\n");
    for a in &diff.added {
        table.push_str(&format!("+ {a}\n"));
    }
    for r in &diff.removed {
        table.push_str(&format!("- {r}\n"));
    }
    for c in &diff.changed {
        table.push_str(&format!("~ {}: {}\n", c.user, c.fields.join(", ")));
    }
    cli::emit(args, &to_json(&diff), &table)?;
    Ok(Outcome::InOrder)
}

fn snapshot_diff(path: &Path, from: i64, to: i64) -> anyhow::Result<Diff> {
    let store = Store::open_existing(path)?;
    let mut diff = Diff {
        schema: "itsmid.diff.v1",
        from,
        to,
        added: Vec::new(),
        removed: Vec::new(),
        changed: Vec::new(),
    };
    for (key, old, new) in store.diff(from, to)? {
        match (old, new) {
            (None, Some(_)) => diff.added.push(key),
            (Some(_), None) => diff.removed.push(key),
            (Some(old), Some(new)) => {
                let fields = changed_fields(&old, &new);
                if !fields.is_empty() {
                    diff.changed.push(UserChange { user: key, fields });
                }
            }
            (None, None) => {}
        }
    }
    Ok(diff)
}
