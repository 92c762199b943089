//! The pipeline (SPEC section 6): read the sources, merge them with the bot
//! and the manual users, validate, and load the result into the store.
//!
//! One module per step, in run order: `sources` (the only file reading),
//! `merge` (pure), `validate` (pure), `load` (the record shape and the
//! load's transaction), `store` (SQLite). This file holds the types the
//! steps share and the function that runs them in order.
//!
//! Attributes are small integer ids into a fixed table (plus the registered
//! custom attributes), so that a million users fit in memory comfortably.

pub mod load;
pub mod merge;
pub mod sources;
pub mod store;
pub mod validate;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::check::{EntryRef, EntryResult};
use crate::config::{Config, Interval};
use crate::identities::{Identities, STRING_ATTRIBUTES};
use crate::report::Report;

use self::load::{Changes, LoadOptions, UserChange};
use self::sources::SourceError;
use self::store::{Store, StoreError};
use self::validate::{Blocked, Counts, Duplicate};

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
    #[error("{0}")]
    Config(String),
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
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    pub schema: &'static str,
    pub generated_at: String,
    pub dry_run: bool,
    /// `sources`, or `no_sources` (nothing is fetched: identities only).
    pub mode: &'static str,
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
                "no_sources"
            } else {
                "sources"
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

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let verdict = if !self.source_errors.is_empty() {
            "NOT LOADED: a source cannot be read".to_owned()
        } else if let Some(blocked) = &self.blocked {
            format!("BLOCKED: {}", blocked.blocked.reason)
        } else if self.dry_run {
            "dry run: nothing written".to_owned()
        } else {
            match self.snapshot {
                Some(id) => format!("loaded as snapshot {id}"),
                None => "not loaded".to_owned(),
            }
        };
        let _ = writeln!(out, "load ({}): {verdict}", self.mode);
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
            let _ = writeln!(out, "source error: {e}");
        }
        for d in &self.duplicates {
            let _ = writeln!(
                out,
                "duplicate {}: {} in {}; kept {}",
                serde_json::to_value(d.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                d.joining_key,
                d.records.join(", "),
                d.kept
            );
        }
        for r in &self.without_joining_key {
            let _ = writeln!(out, "no joining key: {r} (not loaded)");
        }
        if let Some(blocked) = &self.blocked {
            for r in &blocked.examples.removed {
                let _ = writeln!(out, "  would remove {r}");
            }
            for c in &blocked.examples.changed {
                let _ = writeln!(out, "  would change {}: {}", c.user, c.fields.join(", "));
            }
        }
        if let Some(diff) = &self.diff {
            for a in &diff.added {
                let _ = writeln!(out, "+ {a}");
            }
            for r in &diff.removed {
                let _ = writeln!(out, "- {r}");
            }
            for c in &diff.changed {
                let _ = writeln!(out, "~ {}: {}", c.user, c.fields.join(", "));
            }
        }
        out
    }
}

/// The test hook's environment variable: pause a load after N rows.
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
    let source_names: Vec<String> = config.sources.iter().map(|s| s.name.clone()).collect();
    let schema = Schema::new(
        &config.pipeline.custom_attributes,
        &source_names,
        &config.pipeline.joining_key,
    )
    .map_err(|e| PipelineError::Config(format!("{}: {e}", config.path.display())))?;
    let mut report = LoadReport::new(check, options.dry_run, config);

    let mut merger = merge::Merger::new(&schema);
    for (index, source) in config.sources.iter().enumerate() {
        let origin = schema.source_origin(index);
        let read = sources::read(index, source, &schema, &mut |record| {
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

/// An attribute's index in [`Schema`].
pub type AttrId = u16;

/// Where a field came from: an index into [`Schema::origins`].
pub type Origin = u16;

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

/// What an attribute holds, which decides how a source cell is read and how
/// the value is exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrKind {
    /// A plain string.
    Text,
    /// `work_status`: one of the User Attribute Reference's values.
    WorkStatus,
    /// `user_tags`: a list of the reference's tags.
    UserTags,
    /// `user_emails`: a list of addresses.
    Emails,
    /// Channel ID Info or IDM ID Info: from the identities file only.
    IdInfo,
    /// A registered custom attribute, exported under `custom_attributes`.
    Custom,
}

/// The origins of values the check found: in this run, or in an earlier one.
pub const RESOLVED: &str = "resolved";
pub const PREVIOUS_LOAD: &str = "previous load";

/// Attributes after the plain strings, in this order.
const WORK_STATUS: &str = "work_status";
const USER_TAGS: &str = "user_tags";
const USER_EMAILS: &str = "user_emails";
const CHANNELS: &str = "channels";
const IDM: &str = "idm";

/// The attribute table of one run: the fixed attributes, then the custom
/// attributes registered in `pipeline.custom_attributes`; and the origins:
/// each source by name, then `manual`, `bot`, `resolved` (the check found it
/// in this run) and `previous load` (the check found it in an earlier run
/// and could not look again in this one).
#[derive(Debug, Clone)]
pub struct Schema {
    names: Vec<String>,
    kinds: Vec<AttrKind>,
    pub origins: Vec<String>,
    /// The joining key attribute.
    pub joining_key: AttrId,
    /// Keys are compared case-insensitively (the key holds e-mail addresses).
    pub email_key: bool,
}

impl Schema {
    /// Errors when the joining key names no plain-string attribute.
    pub fn new(
        custom_attributes: &[String],
        source_names: &[String],
        joining_key: &str,
    ) -> Result<Schema, String> {
        let mut names: Vec<String> = STRING_ATTRIBUTES.iter().map(|s| (*s).to_owned()).collect();
        let mut kinds = vec![AttrKind::Text; names.len()];
        for (name, kind) in [
            (WORK_STATUS, AttrKind::WorkStatus),
            (USER_TAGS, AttrKind::UserTags),
            (USER_EMAILS, AttrKind::Emails),
            (CHANNELS, AttrKind::IdInfo),
            (IDM, AttrKind::IdInfo),
        ] {
            names.push(name.to_owned());
            kinds.push(kind);
        }
        for custom in custom_attributes {
            names.push(custom.clone());
            kinds.push(AttrKind::Custom);
        }
        let mut origins: Vec<String> = source_names.to_vec();
        origins.extend(["manual", "bot", RESOLVED, PREVIOUS_LOAD].map(str::to_owned));
        let mut schema = Schema {
            names,
            kinds,
            origins,
            joining_key: 0,
            email_key: false,
        };
        schema.joining_key = match schema.attr(joining_key) {
            Some(id) if schema.kind(id) == AttrKind::Text => id,
            _ => {
                return Err(format!(
                    "pipeline.joining_key \"{joining_key}\" is not a string attribute; use e.g. \"email_addr\" or \"employee_id\""
                ));
            }
        };
        schema.email_key = joining_key.contains("email");
        Ok(schema)
    }

    /// An attribute by name; a custom attribute also as `custom_attributes.NAME`.
    pub fn attr(&self, name: &str) -> Option<AttrId> {
        let plain = name.strip_prefix("custom_attributes.");
        self.names
            .iter()
            .enumerate()
            .position(|(i, n)| match plain {
                Some(custom) => self.kinds[i] == AttrKind::Custom && n == custom,
                None => n == name,
            })
            .and_then(|i| AttrId::try_from(i).ok())
    }

    pub fn name(&self, attr: AttrId) -> &str {
        self.names
            .get(usize::from(attr))
            .map(String::as_str)
            .unwrap_or("?")
    }

    pub fn kind(&self, attr: AttrId) -> AttrKind {
        self.kinds
            .get(usize::from(attr))
            .copied()
            .unwrap_or(AttrKind::Text)
    }

    pub fn attr_count(&self) -> usize {
        self.names.len()
    }

    pub fn source_origin(&self, index: usize) -> Origin {
        Origin::try_from(index).unwrap_or(Origin::MAX)
    }

    fn fixed_origin(&self, back: usize) -> Origin {
        Origin::try_from(self.origins.len() - back).unwrap_or(Origin::MAX)
    }

    pub fn manual(&self) -> Origin {
        self.fixed_origin(4)
    }

    pub fn bot(&self) -> Origin {
        self.fixed_origin(3)
    }

    pub fn resolved(&self) -> Origin {
        self.fixed_origin(2)
    }

    pub fn previous_load(&self) -> Origin {
        self.fixed_origin(1)
    }

    pub fn origin_name(&self, origin: Origin) -> &str {
        self.origins
            .get(usize::from(origin))
            .map(String::as_str)
            .unwrap_or("?")
    }

    /// A joining value as the merge compares it: trimmed, and lower-cased
    /// where it is an e-mail address (the key attribute holds e-mails, or
    /// the value has an `@`), since mail systems ignore that case.
    pub fn joining_value(&self, raw: &str) -> Box<str> {
        let trimmed = raw.trim();
        if self.email_key || trimmed.contains('@') {
            trimmed.to_lowercase().into_boxed_str()
        } else {
            trimmed.into()
        }
    }
}

/// A map keyed by a [`load::stable_hash`] of a string: no copy of the
/// string and no second hashing, which matters at a million users. Users
/// of it compare the strings on a hit, since two strings can share a hash.
pub type HashKeyed<V> = std::collections::HashMap<u64, V, std::hash::BuildHasherDefault<MixHasher>>;

/// Spreads an already computed 64-bit hash over all bits (the
/// splitmix64 finalizer), as the hash table needs its low and high bits.
#[derive(Default)]
pub struct MixHasher(u64);

impl std::hash::Hasher for MixHasher {
    fn finish(&self) -> u64 {
        let mut x = self.0;
        x ^= x >> 30;
        x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x ^= x >> 27;
        x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^ (x >> 31)
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 = load::stable_hash(bytes) ^ self.0.rotate_left(5);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// One field's value. Empty values are never stored: an empty cell is the
/// absence of a value, so it can never override one.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(Box<str>),
    List(Box<[Box<str>]>),
    Json(Box<serde_json::Value>),
}

impl Value {
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Text(text) => serde_json::Value::String(text.to_string()),
            Value::List(items) => items.iter().map(|i| i.to_string()).collect(),
            Value::Json(json) => (**json).clone(),
        }
    }
}

/// One attribute of a record with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub attr: AttrId,
    pub origin: Origin,
    pub value: Value,
}

/// Sets `field` in a list kept sorted by attribute, replacing any value.
pub fn set_field(fields: &mut Vec<Field>, field: Field) {
    match fields.binary_search_by_key(&field.attr, |f| f.attr) {
        Ok(at) => fields[at] = field,
        Err(at) => fields.insert(at, field),
    }
}

/// The value of `attr` in a sorted field list.
pub fn get_field(fields: &[Field], attr: AttrId) -> Option<&Field> {
    fields
        .binary_search_by_key(&attr, |f| f.attr)
        .ok()
        .and_then(|at| fields.get(at))
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
