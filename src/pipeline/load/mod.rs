//! Load (SPEC section 6, steps 5-6): turns merged users into User Attribute
//! Reference records, compares them with the last load, lets the large-change
//! validator decide, and writes one snapshot in one transaction.
//!
//! The only place that knows the record's shape, including SPEC's naming
//! trap ([`external_system_identity`]). Writes only users whose record or
//! provenance changed; a blocked or dry run writes nothing.

use std::collections::BTreeMap;

use serde::Serialize;
use serde::ser::SerializeMap;

use crate::config::PipelineConfig;

use super::model::{
    AttrKind, ImportedUser, MergedEntry, Origin, PREVIOUS_LOAD, PreviousEntry, PreviousUser,
    PreviousValue, RESOLVED, Schema, Value, fnv, stable_hash,
};
use super::store::{Current, LoadTx, Snapshot, Store, StoreError};
use super::validate::{self, Blocked, Counts};

/// SPEC's naming trap, translated here and nowhere else.
///
/// The User Attribute Reference's `external_system_identities.<integration>`
/// has `user_id`, "the user ID to log into the external system": that is the
/// ITSM ID Info entry's **External ID** (ServiceNow `user_name`, Jira
/// `emailAddress`, ...). Its `external_id`, "the user UUID in the external
/// system", is the entry's **ITSM User ID** (`sys_id`, `accountId`, ...).
/// So the names cross over: our `external_id` is their `user_id`, and our
/// `itsm_user_id` is their `external_id`. A value not known yet is `null`.
pub fn external_system_identity(entry: &MergedEntry) -> ExternalSystemIdentity<'_> {
    ExternalSystemIdentity {
        user_id: entry.external_id.as_ref().map(|(v, o)| (v.as_str(), *o)),
        external_id: entry.itsm_user_id.as_ref().map(|(v, o)| (v.as_str(), *o)),
    }
}

/// One `external_system_identities` value, in the reference's names, with
/// where each value came from.
pub struct ExternalSystemIdentity<'a> {
    pub user_id: Option<(&'a str, Origin)>,
    pub external_id: Option<(&'a str, Origin)>,
}

impl Serialize for ExternalSystemIdentity<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("user_id", &self.user_id.map(|(v, _)| v))?;
        map.serialize_entry("external_id", &self.external_id.map(|(v, _)| v))?;
        map.end()
    }
}

/// A merged user as its `{"user": {...}}` body.
pub struct UserRecord<'a> {
    pub user: &'a ImportedUser,
    pub schema: &'a Schema,
}

struct Text<'a>(&'a Value);

impl Serialize for Text<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Text(text) => serializer.serialize_str(text),
            Value::List(items) => serializer.collect_seq(items.iter().map(|i| &**i)),
            Value::Json(json) => json.serialize(serializer),
        }
    }
}

struct Custom<'a>(&'a UserRecord<'a>);

impl Serialize for Custom<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let record = self.0;
        serializer.collect_map(
            record
                .user
                .fields
                .iter()
                .filter(|f| record.schema.kind(f.attr) == AttrKind::Custom)
                .map(|f| (record.schema.name(f.attr), Text(&f.value))),
        )
    }
}

struct Identities<'a>(&'a [MergedEntry]);

impl Serialize for Identities<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(
            self.0
                .iter()
                .map(|e| (e.integration.as_str(), external_system_identity(e))),
        )
    }
}

impl Serialize for UserRecord<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        let mut custom = false;
        for field in &self.user.fields {
            match self.schema.kind(field.attr) {
                AttrKind::Custom => custom = true,
                // User Email is a form field SPEC section 6 does not export;
                // it stays in the merge for duplicate detection.
                AttrKind::Emails => {}
                _ => {
                    map.serialize_entry(self.schema.name(field.attr), &Text(&field.value))?;
                }
            }
        }
        if custom {
            map.serialize_entry("custom_attributes", &Custom(self))?;
        }
        if !self.user.itsm.is_empty() {
            map.serialize_entry("external_system_identities", &Identities(&self.user.itsm))?;
        }
        map.end()
    }
}

/// Writes the record's JSON text into `out` (cleared first).
pub fn record_json(user: &ImportedUser, schema: &Schema, out: &mut Vec<u8>) {
    out.clear();
    // Serializing strings and maps of strings into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, &UserRecord { user, schema });
}

/// Where each field came from, as JSON text: the origin's name when every
/// field has the same one (most source users), else `{field: origin}`.
pub fn provenance_json(user: &ImportedUser, schema: &Schema, out: &mut Vec<u8>) {
    out.clear();
    let origins = user
        .fields
        .iter()
        .map(|f| f.origin)
        .chain(user.itsm.iter().flat_map(|e| {
            let identity = external_system_identity(e);
            [identity.user_id, identity.external_id]
                .into_iter()
                .flatten()
                .map(|(_, origin)| origin)
        }));
    let mut origins = origins.peekable();
    let first = origins.peek().copied();
    // Most users come from one source alone: one name, no per-field map.
    if origins.all(|o| Some(o) == first) {
        let _ = serde_json::to_writer(
            &mut *out,
            first.map(|o| schema.origin_name(o)).unwrap_or(""),
        );
        return;
    }
    let mut fields: BTreeMap<String, &str> = BTreeMap::new();
    for field in &user.fields {
        let name = schema.name(field.attr);
        let path = match schema.kind(field.attr) {
            AttrKind::Custom => format!("custom_attributes.{name}"),
            _ => name.to_owned(),
        };
        fields.insert(path, schema.origin_name(field.origin));
    }
    for entry in &user.itsm {
        let identity = external_system_identity(entry);
        for (name, value) in [
            ("user_id", identity.user_id),
            ("external_id", identity.external_id),
        ] {
            if let Some((_, origin)) = value {
                fields.insert(
                    format!("external_system_identities.{}.{name}", entry.integration),
                    schema.origin_name(origin),
                );
            }
        }
    }
    let _ = serde_json::to_writer(&mut *out, &fields);
}

/// The hash of a record and its provenance, as if joined by a NUL byte.
fn content_hash(record: &[u8], provenance: &[u8]) -> u64 {
    fnv(fnv(stable_hash(record), &[0]), provenance)
}

/// Fields of a record as comparable paths: `custom_attributes.office`,
/// `external_system_identities.snow.user_id`, else the attribute's name.
pub fn flatten(record: &serde_json::Value) -> BTreeMap<String, serde_json::Value> {
    let mut out = BTreeMap::new();
    if let Some(object) = record.as_object() {
        for (name, value) in object {
            match (name.as_str(), value) {
                ("custom_attributes", serde_json::Value::Object(custom)) => {
                    for (k, v) in custom {
                        out.insert(format!("custom_attributes.{k}"), v.clone());
                    }
                }
                ("external_system_identities", serde_json::Value::Object(systems)) => {
                    for (integration, identity) in systems {
                        if let Some(identity) = identity.as_object() {
                            for (k, v) in identity {
                                out.insert(
                                    format!("external_system_identities.{integration}.{k}"),
                                    v.clone(),
                                );
                            }
                        }
                    }
                }
                _ => {
                    out.insert(name.clone(), value.clone());
                }
            }
        }
    }
    out
}

/// The fields that differ between two record texts.
pub fn changed_fields(old: &str, new: &str) -> Vec<String> {
    let parse = |text: &str| flatten(&serde_json::from_str(text).unwrap_or_default());
    let (old, new) = (parse(old), parse(new));
    let mut fields: Vec<String> = old
        .iter()
        .filter(|(k, v)| new.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .chain(new.keys().filter(|k| !old.contains_key(*k)).cloned())
        .collect();
    fields.sort();
    fields
}

/// One changed user: its key and the fields that changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserChange {
    pub user: String,
    pub fields: Vec<String>,
}

/// What a load did or would do.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Changes {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<UserChange>,
}

/// The load's result.
#[derive(Debug, Clone)]
pub struct LoadOutcome {
    pub counts: Counts,
    pub changes: Changes,
    pub blocked: Option<Blocked>,
    /// The snapshot written; `None` when blocked or dry.
    pub snapshot: Option<i64>,
    pub previous_snapshot: Option<i64>,
}

/// How a load runs.
pub struct LoadOptions<'a> {
    pub pipeline: &'a PipelineConfig,
    pub keep_snapshots: u32,
    pub dry_run: bool,
    pub accept_large_change: bool,
    pub loaded_at: String,
    /// Test hook: stop (sleep) after writing this many rows, so a test can
    /// kill the process in the middle of a load. Debug builds only: a
    /// release binary has no way to stall a load that holds the store.
    #[cfg(debug_assertions)]
    pub pause_after_rows: Option<u64>,
}

/// Compares `users` (sorted by key) with the last load, validates, and
/// writes a snapshot unless blocked or dry.
pub fn load(
    store: &mut Store,
    users: &[ImportedUser],
    schema: &Schema,
    options: &LoadOptions<'_>,
) -> Result<LoadOutcome, StoreError> {
    let tx = store.begin()?;
    let previous = tx.last_snapshot()?;
    debug_assert!(users.windows(2).all(|w| w[0].key < w[1].key));

    // Pass 1: what changed, by walking the users and the last load's rows
    // side by side in key order. An unchanged user costs one serialization
    // and a hash; its stored record is never read.
    let mut pass = Pass {
        users,
        schema,
        first_load: previous.is_none(),
        next: 0,
        record: Vec::with_capacity(1024),
        provenance: Vec::with_capacity(256),
        write: Vec::new(),
        hashes: Vec::with_capacity(users.len()),
        closed: Vec::new(),
        removed: Vec::new(),
        counts: Counts {
            users: users.len() as u64,
            ..Counts::default()
        },
        changes: Changes::default(),
    };
    tx.for_each_current(&mut |key, old| {
        while pass.users.get(pass.next).is_some_and(|u| &*u.key < key) {
            pass.classify(&tx, None)?;
        }
        if pass.users.get(pass.next).is_some_and(|u| &*u.key == key) {
            pass.classify(&tx, Some(old))
        } else {
            pass.removed.push(key.to_owned());
            pass.closed.push(old.row);
            Ok(())
        }
    })?;
    while pass.next < users.len() {
        pass.classify(&tx, None)?;
    }
    let Pass {
        mut record,
        mut provenance,
        write,
        hashes,
        mut closed,
        removed,
        mut counts,
        mut changes,
        ..
    } = pass;
    counts.removed = removed.len() as u64;
    changes.removed = removed;

    let mut blocked = validate::large_change(
        previous.as_ref().map(|p| p.users),
        &counts,
        options.pipeline,
        options.accept_large_change,
    );
    // The kept loads, read once: the drift window's baseline is one of them.
    let kept = tx.snapshots()?;
    let baseline = drift_baseline(&kept, options);
    if blocked.is_none() && !options.accept_large_change {
        blocked = drift_block(
            &tx,
            users,
            &hashes,
            schema,
            options,
            baseline,
            previous.as_ref(),
        )?;
    }
    let previous_snapshot = previous.as_ref().map(|p| p.id);
    if blocked.is_some() || options.dry_run {
        // Dropping the transaction rolls it back: nothing is written.
        return Ok(LoadOutcome {
            counts,
            changes,
            blocked,
            snapshot: None,
            previous_snapshot,
        });
    }

    // Pass 2: write the new versions.
    closed.sort_unstable();
    #[cfg(debug_assertions)]
    let pause = options.pause_after_rows;
    let snapshot = tx.write(
        &options.loaded_at,
        &closed,
        &mut |put| {
            for (index, hash) in &write {
                let Some(user) = users.get(*index) else {
                    continue;
                };
                record_json(user, schema, &mut record);
                provenance_json(user, schema, &mut provenance);
                put(
                    &user.key,
                    *hash,
                    std::str::from_utf8(&record).unwrap_or_default(),
                    std::str::from_utf8(&provenance).unwrap_or_default(),
                )?;
            }
            Ok(())
        },
        &mut |_written| {
            #[cfg(debug_assertions)]
            if pause == Some(_written) {
                eprintln!("itsmid: test hook: paused after {_written} rows");
                loop {
                    std::thread::sleep(std::time::Duration::from_secs(1));
                }
            }
        },
    )?;
    // Pruning keeps the drift window's baseline and every load since, or a
    // daemon loading every 30 minutes would never keep a load a day old.
    let protect = baseline.or(kept.first()).map(|snapshot| snapshot.id);
    tx.commit(
        snapshot,
        [
            counts.users,
            counts.added,
            counts.removed,
            counts.changed,
            counts.unchanged,
        ],
        options.keep_snapshots,
        protect,
    )?;
    Ok(LoadOutcome {
        counts,
        changes,
        blocked: None,
        snapshot: Some(snapshot),
        previous_snapshot,
    })
}

/// Large data change protection against the drift window's baseline (SPEC
/// section 6, step 5): the newest kept load that committed at least
/// `drift_window` before this one, so that removing a few per cent a run
/// is blocked too. `None` when there is no such load older than the last.
fn drift_block(
    tx: &LoadTx<'_>,
    users: &[ImportedUser],
    hashes: &[u64],
    schema: &Schema,
    options: &LoadOptions<'_>,
    baseline: Option<&Snapshot>,
    previous: Option<&Snapshot>,
) -> Result<Option<Blocked>, StoreError> {
    let Some(baseline) = baseline.filter(|b| previous.is_none_or(|p| p.id != b.id)) else {
        return Ok(None);
    };
    if baseline.users < options.pipeline.large_change_min_users {
        return Ok(None);
    }
    let drift = drift_counts(tx, baseline.id, users, hashes, schema)?;
    Ok(
        validate::large_change(Some(baseline.users), &drift, options.pipeline, false).map(
            |mut blocked| {
                blocked.reason = format!(
                    "against snapshot {} of {} (pipeline.drift_window): {}",
                    baseline.id, baseline.loaded_at, blocked.reason
                );
                blocked
            },
        ),
    )
}

/// The newest kept load that committed at least `drift_window` before this
/// load started.
fn drift_baseline<'k>(kept: &'k [Snapshot], options: &LoadOptions<'_>) -> Option<&'k Snapshot> {
    let now = options.loaded_at.parse::<jiff::Timestamp>().ok()?;
    let window = jiff::SignedDuration::try_from(options.pipeline.drift_window).ok()?;
    let cutoff = now.checked_sub(window).ok()?;
    kept.iter()
        .filter(|s| {
            s.loaded_at
                .parse::<jiff::Timestamp>()
                .is_ok_and(|at| at <= cutoff)
        })
        .max_by_key(|s| s.id)
}

/// Users of snapshot `baseline` that this load removes or changes, counted
/// as the load counts them (a change of where a value came from alone is
/// no change).
fn drift_counts(
    tx: &LoadTx<'_>,
    baseline: i64,
    users: &[ImportedUser],
    hashes: &[u64],
    schema: &Schema,
) -> Result<Counts, StoreError> {
    let mut counts = Counts {
        users: users.len() as u64,
        ..Counts::default()
    };
    let mut next = 0;
    let mut record = Vec::with_capacity(1024);
    tx.for_each_in_snapshot(baseline, &mut |key, old| {
        while users.get(next).is_some_and(|u| &*u.key < key) {
            next += 1;
        }
        match users.get(next) {
            Some(user) if &*user.key == key => {
                if hashes.get(next).is_some_and(|h| *h != old.hash) {
                    record_json(user, schema, &mut record);
                    let new_record = std::str::from_utf8(&record).unwrap_or_default();
                    if !changed_fields(&tx.record(old.row)?, new_record).is_empty() {
                        counts.changed += 1;
                    }
                }
                next += 1;
            }
            _ => counts.removed += 1,
        }
        Ok(())
    })?;
    Ok(counts)
}

/// Pass 1's state: the users' cursor and what it has found.
struct Pass<'u> {
    users: &'u [ImportedUser],
    schema: &'u Schema,
    first_load: bool,
    next: usize,
    record: Vec<u8>,
    provenance: Vec<u8>,
    /// Users to write: index and content hash.
    write: Vec<(usize, u64)>,
    /// Every user's content hash, by index, for the drift window.
    hashes: Vec<u64>,
    /// Rows of the last load that the new snapshot ends.
    closed: Vec<i64>,
    removed: Vec<String>,
    counts: Counts,
    changes: Changes,
}

impl Pass<'_> {
    /// Classifies the next user against its row in the last load, if any.
    fn classify(&mut self, tx: &LoadTx<'_>, old: Option<Current>) -> Result<(), StoreError> {
        let index = self.next;
        self.next += 1;
        let Some(user) = self.users.get(index) else {
            return Ok(());
        };
        record_json(user, self.schema, &mut self.record);
        provenance_json(user, self.schema, &mut self.provenance);
        let hash = content_hash(&self.record, &self.provenance);
        self.hashes.push(hash);
        match old {
            None => {
                self.counts.added += 1;
                if !self.first_load || self.changes.added.len() < EXAMPLE_LIMIT {
                    self.changes.added.push(user.key.to_string());
                }
                self.write.push((index, hash));
            }
            Some(old) if old.hash == hash => self.counts.unchanged += 1,
            Some(old) => {
                let old_record = tx.record(old.row)?;
                let new_record = std::str::from_utf8(&self.record).unwrap_or_default();
                let fields = if old_record == new_record {
                    Vec::new()
                } else {
                    changed_fields(&old_record, new_record)
                };
                if fields.is_empty() {
                    // Only where a value came from changed: written so that
                    // `export --explain` stays true, not counted as a change.
                    self.counts.unchanged += 1;
                } else {
                    self.counts.changed += 1;
                    self.changes.changed.push(UserChange {
                        user: user.key.to_string(),
                        fields,
                    });
                }
                self.closed.push(old.row);
                self.write.push((index, hash));
            }
        }
        Ok(())
    }
}

/// How many users a first load lists as added (it adds everyone).
pub const EXAMPLE_LIMIT: usize = 1000;

/// Each field of a stored user with its value and where it came from.
pub fn explain(record: &str, provenance: &str) -> Vec<(String, serde_json::Value, String)> {
    let record: serde_json::Value = serde_json::from_str(record).unwrap_or_default();
    let provenance: serde_json::Value = serde_json::from_str(provenance).unwrap_or_default();
    flatten(&record)
        .into_iter()
        .map(|(field, value)| {
            let from = match &provenance {
                // A value not known yet came from nowhere.
                _ if value.is_null() => "none".to_owned(),
                serde_json::Value::String(all) => all.clone(),
                serde_json::Value::Object(map) => map
                    .get(&field)
                    .and_then(|o| o.as_str())
                    .unwrap_or("?")
                    .to_owned(),
                _ => "?".into(),
            };
            (field, value, from)
        })
        .collect()
}

/// A stored user's values as the merge reads them back (see
/// [`PreviousUser`]): each ITSM entry in the identities file's words (the
/// naming trap reversed), and the names the check filled.
pub fn previous_user(record: &str, provenance: &str) -> PreviousUser {
    const PREFIX: &str = "external_system_identities.";
    let mut user = PreviousUser::default();
    for (field, value, from) in explain(record, provenance) {
        let Some(value) = value.as_str().filter(|v| !v.is_empty()) else {
            continue;
        };
        let from_check = from == RESOLVED || from == PREVIOUS_LOAD;
        let previous = PreviousValue {
            value: value.to_owned(),
            from_check,
        };
        if let Some((integration, name)) = field
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.rsplit_once('.'))
        {
            let at = match user.itsm.iter().position(|e| e.integration == integration) {
                Some(at) => at,
                None => {
                    user.itsm.push(PreviousEntry {
                        integration: integration.to_owned(),
                        ..PreviousEntry::default()
                    });
                    user.itsm.len() - 1
                }
            };
            let entry = &mut user.itsm[at];
            match name {
                // The reference's `user_id` is the External ID, its
                // `external_id` the ITSM User ID.
                "user_id" => entry.external_id = Some(previous),
                "external_id" => entry.itsm_user_id = Some(previous),
                _ => {}
            }
        } else if from_check && matches!(field.as_str(), "first_name" | "last_name" | "full_name") {
            user.names.push((field, previous.value));
        }
    }
    user
}

#[cfg(test)]
mod tests;
