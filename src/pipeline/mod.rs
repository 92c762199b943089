//! The pipeline (SPEC section 6): read the sources, merge them with the bot
//! and the manual users, validate, and load the result into the store.
//!
//! One module per step, in run order: `sources` (the only file reading),
//! `merge` (pure), `validate` (pure), `load` (the record shape and the
//! load's transaction), `store` (SQLite), then `export` (reading the store
//! back). The types the steps share are in `model`; a step imports only
//! `model` and earlier steps. This file runs the steps in order and holds
//! the load's report.
//!
//! Attributes are small integer ids into a fixed table (plus the registered
//! custom attributes), so that a million users fit in memory comfortably.

pub mod export;
pub mod load;
pub mod merge;
pub mod model;
pub mod sources;
pub mod store;
pub mod validate;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::check::{EntryRef, EntryResult};
use crate::config::{Config, Interval};
use crate::identities::Identities;
use crate::printable::printable;
use crate::progress::Progress;
use crate::report::Report;
use crate::verdict::Verdict;

use self::load::{Changes, LoadOptions, UserChange};
use self::model::{Duplicate, Schema};
use self::sources::SourceError;
use self::store::{Store, StoreError};
use self::validate::{Blocked, Counts};

pub const SCHEMA: &str = "itsmid.load.v1";

/// Examples of removed and changed users in a blocked load's report.
const BLOCKED_EXAMPLES: usize = 10;

/// `itsmid load`'s flags.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    pub dry_run: bool,
    pub accept_large_change: bool,
}

/// Why nothing could be loaded (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("{}: {source}", file.display())]
    JoiningKey {
        file: std::path::PathBuf,
        source: model::JoiningKeyError,
    },
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// The check's part of the load report.
#[derive(Debug, Clone, Serialize)]
pub struct CheckPart {
    pub complete: bool,
    pub summary: crate::report::Summary,
}

/// A blocked load: why, and examples of what it would have done.
#[derive(Debug, Clone, Serialize)]
pub struct BlockedPart {
    #[serde(flatten)]
    pub blocked: Blocked,
    pub examples: BlockedExamples,
}

#[derive(Debug, Clone, Serialize)]
pub struct BlockedExamples {
    pub removed: Vec<String>,
    pub changed: Vec<UserChange>,
}

/// `itsmid load`'s report (`itsmid.load.v1`).
/// Whether the load merged identity sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadMode {
    Sources,
    /// No `[[sources]]`: the bot and the manual users only (the seed's
    /// "no external source" mode).
    NoSources,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    pub schema: &'static str,
    pub generated_at: String,
    pub dry_run: bool,
    pub mode: LoadMode,
    pub check: CheckPart,
    /// True when a snapshot was written.
    pub loaded: bool,
    pub snapshot: Option<i64>,
    pub previous_snapshot: Option<i64>,
    pub counts: Counts,
    pub blocked: Option<BlockedPart>,
    pub duplicates: Vec<Duplicate>,
    /// Source records with no joining key value: not loaded.
    pub without_joining_key: Vec<String>,
    pub source_errors: Vec<SourceError>,
    /// The full diff, on a dry run (first load: the first 1,000 added).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<Changes>,
}

impl LoadReport {
    fn new(check: &Report, dry_run: bool, config: &Config) -> LoadReport {
        LoadReport {
            schema: SCHEMA,
            generated_at: check.generated_at.clone(),
            dry_run,
            mode: if config.sources.is_empty() {
                LoadMode::NoSources
            } else {
                LoadMode::Sources
            },
            check: CheckPart {
                complete: check.complete,
                summary: check.summary.clone(),
            },
            loaded: false,
            snapshot: None,
            previous_snapshot: None,
            counts: Counts::default(),
            blocked: None,
            duplicates: Vec::new(),
            without_joining_key: Vec::new(),
            source_errors: Vec::new(),
            diff: None,
        }
    }

    /// SPEC section 6: exit 1 for error findings of the check or a load
    /// blocked by large data change protection. Duplicates and rows without
    /// a joining key are listed in the report, not findings.
    pub fn has_errors(&self) -> bool {
        self.check.summary.errors > 0 || self.blocked.is_some()
    }

    /// Refused when a source could not be read (nothing was loaded), else
    /// problems for error findings or a block, else in order.
    pub fn verdict(&self) -> Verdict {
        if self.source_errors.is_empty() {
            Verdict::from_errors(self.has_errors())
        } else {
            Verdict::Refused
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let verdict = if !self.source_errors.is_empty() {
            "NOT LOADED: a source cannot be read".to_owned()
        } else if let Some(blocked) = &self.blocked {
            format!("BLOCKED: {}", printable(&blocked.blocked.reason))
        } else if self.dry_run {
            "dry run: nothing written".to_owned()
        } else {
            match self.snapshot {
                Some(id) => format!("loaded as snapshot {id}"),
                None => "not loaded".to_owned(),
            }
        };
        let mode = match self.mode {
            LoadMode::Sources => "sources",
            LoadMode::NoSources => "no_sources",
        };
        let _ = writeln!(out, "load ({mode}): {verdict}");
        let s = &self.check.summary;
        let _ = writeln!(
            out,
            "check: {} identities, {} entries, {} verified, {} errors, {} warnings{}",
            s.identities,
            s.entries,
            s.verified,
            s.errors,
            s.warnings,
            if self.check.complete {
                ""
            } else {
                " (incomplete: a system could not be checked)"
            }
        );
        let c = &self.counts;
        let _ = writeln!(
            out,
            "users: {} (added {}, removed {}, changed {}, unchanged {})",
            c.users, c.added, c.removed, c.changed, c.unchanged
        );
        for e in &self.source_errors {
            let _ = writeln!(out, "source error: {}", printable(&e.to_string()));
        }
        for d in &self.duplicates {
            let _ = writeln!(
                out,
                "duplicate {}: {} in {}; kept {}",
                serde_json::to_value(d.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                printable(&d.joining_key),
                printable(&d.records.join(", ")),
                printable(&d.kept)
            );
        }
        for r in &self.without_joining_key {
            let _ = writeln!(out, "no joining key: {} (not loaded)", printable(r));
        }
        if let Some(blocked) = &self.blocked {
            for r in &blocked.examples.removed {
                let _ = writeln!(out, "  would remove {}", printable(r));
            }
            for c in &blocked.examples.changed {
                let _ = writeln!(
                    out,
                    "  would change {}: {}",
                    printable(&c.user),
                    printable(&c.fields.join(", "))
                );
            }
        }
        if let Some(diff) = &self.diff {
            for a in &diff.added {
                let _ = writeln!(out, "+ {}", printable(a));
            }
            for r in &diff.removed {
                let _ = writeln!(out, "- {}", printable(r));
            }
            for c in &diff.changed {
                let _ = writeln!(
                    out,
                    "~ {}: {}",
                    printable(&c.user),
                    printable(&c.fields.join(", "))
                );
            }
        }
        out
    }
}

/// The test hook's environment variable: pause a load after N rows.
///
/// Debug builds only (which is what the tests run): a release binary must
/// not let its environment stall a load forever while it holds the store's
/// write transaction, so there the hook and its variable do not exist.
#[cfg(debug_assertions)]
pub const PAUSE_AFTER_ROWS_ENV: &str = "ITSMID_TEST_PAUSE_AFTER_ROWS";

/// Sources, merge, validate and load, after the check. Blocking: call it
/// from `spawn_blocking`. A source that cannot be read returns a report
/// with `source_errors` and writes nothing.
pub fn run_blocking(
    config: &Config,
    identities: &Identities,
    check: &Report,
    checked: &BTreeMap<EntryRef, EntryResult>,
    options: RunOptions,
) -> Result<LoadReport, PipelineError> {
    run_blocking_observed(
        config,
        identities,
        check,
        checked,
        options,
        &Progress::new(),
    )
}

/// [`run_blocking`], counting the source rows read in `progress`.
pub fn run_blocking_observed(
    config: &Config,
    identities: &Identities,
    check: &Report,
    checked: &BTreeMap<EntryRef, EntryResult>,
    options: RunOptions,
    progress: &Progress,
) -> Result<LoadReport, PipelineError> {
    let source_names: Vec<String> = config.sources.iter().map(|s| s.name.clone()).collect();
    let schema = Schema::new(
        &config.pipeline.custom_attributes,
        &source_names,
        &config.pipeline.joining_key,
    )
    .map_err(|source| PipelineError::JoiningKey {
        file: config.path.clone(),
        source,
    })?;
    let mut report = LoadReport::new(check, options.dry_run, config);

    let mut merger = merge::Merger::new(&schema);
    for (index, source) in config.sources.iter().enumerate() {
        let origin = schema.source_origin(index);
        let read = sources::read(index, source, &schema, &mut |record| {
            progress.row_read();
            merger.add_source_record(origin, record)
        });
        if let Err(err) = read {
            report.source_errors.push(err);
        }
    }
    if !report.source_errors.is_empty() {
        return Ok(report);
    }
    let mut store = if options.dry_run && !config.store.path.exists() {
        Store::open_in_memory()?
    } else {
        Store::open(&config.store.path)?
    };
    // What the check found in earlier runs, for the users with an entry whose
    // system is down now: an outage changes nothing (SPEC section 6, step 4).
    let mut previous = merge::Previous::new();
    for key in merge::unchecked_keys(&schema, identities, checked) {
        if let Some(stored) = store.current_user(&key)? {
            previous.insert(key, load::previous_user(&stored.record, &stored.provenance));
        }
    }
    let merged = merger.finish(identities, checked, &previous);
    report.duplicates = merged.duplicates;
    report
        .duplicates
        .extend(validate::duplicate_emails(&merged.users, &schema));
    report.without_joining_key = merged.without_key;

    #[cfg(debug_assertions)]
    let pause_after_rows = std::env::var(PAUSE_AFTER_ROWS_ENV)
        .ok()
        .and_then(|v| v.parse().ok());
    let outcome = load::load(
        &mut store,
        &merged.users,
        &schema,
        &LoadOptions {
            pipeline: &config.pipeline,
            keep_snapshots: config.store.keep_snapshots,
            dry_run: options.dry_run,
            accept_large_change: options.accept_large_change,
            loaded_at: report.generated_at.clone(),
            #[cfg(debug_assertions)]
            pause_after_rows,
        },
    )?;
    report.counts = outcome.counts;
    report.snapshot = outcome.snapshot;
    report.loaded = outcome.snapshot.is_some();
    report.previous_snapshot = outcome.previous_snapshot;
    report.blocked = outcome.blocked.map(|blocked| BlockedPart {
        blocked,
        examples: BlockedExamples {
            removed: outcome
                .changes
                .removed
                .iter()
                .take(BLOCKED_EXAMPLES)
                .cloned()
                .collect(),
            changed: outcome
                .changes
                .changed
                .iter()
                .take(BLOCKED_EXAMPLES)
                .cloned()
                .collect(),
        },
    });
    if options.dry_run {
        report.diff = Some(outcome.changes);
    }
    Ok(report)
}

/// The interval between pipeline runs (the seed's FAQ): `schedule.interval`
/// when set, else every 4 hours with sources and every 30 minutes without
/// (then nothing is fetched and the merge runs on the identities alone).
pub fn interval(config: &Config) -> Duration {
    match config.interval {
        Interval::Every(every) => every,
        Interval::Auto if config.sources.is_empty() => Duration::from_secs(30 * 60),
        Interval::Auto => Duration::from_secs(4 * 60 * 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(sources: usize, interval: &str) -> Config {
        let mut text = format!("identities = \"i.toml\"\n[schedule]\ninterval = \"{interval}\"\n");
        for i in 0..sources {
            text.push_str(&format!(
                "[[sources]]\nname = \"s{i}\"\npath = \"s{i}.csv\"\n"
            ));
        }
        Config::parse(std::path::Path::new("itsmid.toml"), &text).expect("a valid config")
    }

    #[test]
    fn the_schedule_is_four_hours_with_a_source_and_thirty_minutes_without() {
        assert_eq!(interval(&config(1, "auto")), Duration::from_secs(4 * 3600));
        assert_eq!(interval(&config(2, "auto")), Duration::from_secs(4 * 3600));
        assert_eq!(interval(&config(0, "auto")), Duration::from_secs(30 * 60));
    }

    #[test]
    fn a_configured_interval_wins_over_the_automatic_one() {
        assert_eq!(interval(&config(1, "15m")), Duration::from_secs(15 * 60));
        assert_eq!(interval(&config(0, "30s")), Duration::from_secs(30));
    }

    #[test]
    fn e_mail_joining_values_compare_without_case_and_others_with_it() {
        let email = Schema::new(&[], &[], "email_addr").expect("schema");
        assert_eq!(&*email.joining_value("  Pat@ACME.com "), "pat@acme.com");
        let employee = Schema::new(&[], &[], "employee_id").expect("schema");
        assert_eq!(&*employee.joining_value(" E12a "), "E12a");
        assert_eq!(
            &*employee.joining_value("Jane@Corp.local"),
            "jane@corp.local"
        );
    }

    #[test]
    fn a_joining_key_that_is_no_string_attribute_is_refused() {
        assert!(Schema::new(&[], &[], "user_tags").is_err());
        assert!(Schema::new(&[], &[], "nickname").is_err());
    }
}
