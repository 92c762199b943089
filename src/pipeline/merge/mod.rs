//! Merge: joins the source records with each other, then overlays the bot
//! and the manual users on them by joining key (SPEC section 6, steps 2-4).
//!
//! Never reads a file, calls a connector or touches the store: it is a pure
//! function of its inputs, so each rule is tested with plain data. Every
//! tie is broken by data (the bot first, then the smaller value), never by
//! the order of manual users in the file, so a merge is reproducible.

use std::collections::{BTreeMap, HashMap};

use crate::check::{EntryRef, EntryResult};
use crate::identities::{Identities, Identity, IdentityKind, ItsmIdInfo};
use crate::report::EntryStatus;

use super::model::{
    AttrId, Duplicate, DuplicateKind, Field, HashKeyed, ImportedUser, MergedEntry, Origin,
    PreviousEntry, PreviousUser, PreviousValue, Schema, Value, get_field, set_field, stable_hash,
};
use super::sources::SourceRecord;

/// Users of the last load by key; only those the merge may need.
pub type Previous = BTreeMap<Box<str>, PreviousUser>;

/// The keys of the users with an entry whose system could not be checked in
/// this run: the only users whose last load the merge reads.
pub fn unchecked_keys(
    schema: &Schema,
    identities: &Identities,
    checked: &BTreeMap<EntryRef, EntryResult>,
) -> Vec<Box<str>> {
    let mut keys: Vec<Box<str>> = identities
        .all()
        .enumerate()
        .filter(|(index, identity)| {
            (0..identity.itsm.len()).any(|entry| {
                checked
                    .get(&EntryRef {
                        identity: *index,
                        entry,
                    })
                    .is_some_and(|r| r.status == EntryStatus::Unchecked)
            })
        })
        .map(|(_, identity)| schema.joining_value(identity.unique_record_id.as_str()))
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// The last load's entry for `entry`'s integration, when it is the same
/// account: every value the admin gives now equals the last load's.
fn same_account<'p>(
    previous: Option<&'p PreviousUser>,
    entry: &ItsmIdInfo,
) -> Option<&'p PreviousEntry> {
    let found = previous?
        .itsm
        .iter()
        .find(|p| p.integration == entry.integration.as_str())?;
    let external_matches = match entry
        .external_id
        .as_ref()
        .map(|x| x.as_str().trim())
        .filter(|x| !x.is_empty())
    {
        None => true,
        Some(given) => found
            .external_id
            .as_ref()
            .is_some_and(|p| p.value.eq_ignore_ascii_case(given)),
    };
    let id_matches = match entry
        .itsm_user_id
        .as_ref()
        .map(|x| x.trim())
        .filter(|x| !x.is_empty())
    {
        None => true,
        Some(given) => found
            .itsm_user_id
            .as_ref()
            .is_some_and(|p| p.value == given),
    };
    (external_matches && id_matches).then_some(found)
}

/// The merge's result.
#[derive(Debug, Clone, Default)]
pub struct Merged {
    /// Sorted by key.
    pub users: Vec<ImportedUser>,
    pub duplicates: Vec<Duplicate>,
    /// Source records with an empty joining key: they cannot be joined.
    pub without_key: Vec<String>,
}

/// Merges source records as they are read, then the identities.
pub struct Merger<'s> {
    schema: &'s Schema,
    users: Vec<ImportedUser>,
    /// Users by the hash of their key; `collided` holds the rare keys whose
    /// hash another key already has.
    by_key: HashKeyed<u32>,
    collided: HashMap<Box<str>, u32>,
    duplicates: Vec<Duplicate>,
    duplicate_at: HashMap<(Origin, Box<str>), usize>,
    without_key: Vec<String>,
}

impl<'s> Merger<'s> {
    pub fn new(schema: &'s Schema) -> Merger<'s> {
        Merger {
            schema,
            users: Vec::new(),
            by_key: HashKeyed::default(),
            collided: HashMap::new(),
            duplicates: Vec::new(),
            duplicate_at: HashMap::new(),
            without_key: Vec::new(),
        }
    }

    /// The user with this key.
    fn find(&self, key: &str) -> Option<u32> {
        let index = *self.by_key.get(&stable_hash(key.as_bytes()))?;
        let same = self
            .users
            .get(index as usize)
            .is_some_and(|u| &*u.key == key);
        if same {
            Some(index)
        } else {
            self.collided.get(key).copied()
        }
    }

    fn remember(&mut self, key: &str, index: u32) {
        match self.by_key.entry(stable_hash(key.as_bytes())) {
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(index);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.collided.insert(key.into(), index);
            }
        }
    }

    /// Adds one record of source `origin`. Sources must come in configured
    /// order: where two sources have a field, the earlier one keeps it.
    /// Within one source, the first record with a joining key wins and the
    /// others are reported as duplicates.
    pub fn add_source_record(&mut self, origin: Origin, record: SourceRecord) {
        let source = self.schema.origin_name(origin).to_owned();
        let key = match get_field(&record.fields, self.schema.joining_key) {
            Some(Field {
                value: Value::Text(text),
                ..
            }) => self.schema.joining_value(text),
            _ => {
                self.without_key
                    .push(format!("{source} line {}", record.line));
                return;
            }
        };
        match self.find(&key) {
            None => {
                let Ok(index) = u32::try_from(self.users.len()) else {
                    return;
                };
                self.remember(&key, index);
                self.users.push(ImportedUser {
                    key,
                    fields: record.fields,
                    itsm: Vec::new(),
                    seen: Some((origin, record.line)),
                });
            }
            Some(index) => {
                let Some(user) = self.users.get_mut(index as usize) else {
                    return;
                };
                match user.seen {
                    Some((seen_origin, seen_line)) if seen_origin == origin => {
                        let at = *self
                            .duplicate_at
                            .entry((origin, key.clone()))
                            .or_insert_with(|| {
                                self.duplicates.push(Duplicate {
                                    kind: DuplicateKind::JoiningKey,
                                    joining_key: key.to_string(),
                                    records: vec![format!("{source} line {seen_line}")],
                                    kept: format!("{source} line {seen_line}"),
                                    message: format!(
                                        "joining key {key} is on more than one record of {source}; the first was loaded"
                                    ),
                                });
                                self.duplicates.len() - 1
                            });
                        if let Some(dup) = self.duplicates.get_mut(at) {
                            dup.records.push(format!("{source} line {}", record.line));
                        }
                    }
                    _ => {
                        user.seen = Some((origin, record.line));
                        for field in record.fields {
                            if get_field(&user.fields, field.attr).is_none() {
                                set_field(&mut user.fields, field);
                            }
                        }
                    }
                }
            }
        }
    }

    /// Overlays the bot and the manual users, with what the check found,
    /// and finishes the merge.
    ///
    /// `previous` holds the last load of the users with an entry that could
    /// not be checked (see [`unchecked_keys`]); it fills only what neither
    /// the identities file nor this run's check gives.
    pub fn finish(
        mut self,
        identities: &Identities,
        checked: &BTreeMap<EntryRef, EntryResult>,
        previous: &Previous,
    ) -> Merged {
        let schema = self.schema;
        // Identities whose Unique Record IDs compare equal: the bot, else the
        // smallest Unique Record ID, is kept.
        let mut by_key: BTreeMap<Box<str>, Vec<(usize, &Identity)>> = BTreeMap::new();
        for (index, identity) in identities.all().enumerate() {
            by_key
                .entry(schema.joining_value(identity.unique_record_id.as_str()))
                .or_default()
                .push((index, identity));
        }
        for (key, mut group) in by_key {
            group.sort_by(|(_, a), (_, b)| {
                (a.kind != IdentityKind::Bot, &a.unique_record_id)
                    .cmp(&(b.kind != IdentityKind::Bot, &b.unique_record_id))
            });
            let Some(&(index, identity)) = group.first() else {
                continue;
            };
            if group.len() > 1 {
                self.duplicates.push(Duplicate {
                    kind: DuplicateKind::JoiningKey,
                    joining_key: key.to_string(),
                    records: group.iter().map(|(_, i)| describe(i)).collect(),
                    kept: describe(identity),
                    message: format!(
                        "Unique Record IDs that differ only in case or spaces are the same joining key {key}; one identity was loaded"
                    ),
                });
            }
            let last = previous.get(&key);
            self.overlay(key, index, identity, checked, last);
        }
        drop(std::mem::take(&mut self.by_key));
        drop(std::mem::take(&mut self.collided));
        let bot_key = identities
            .bot
            .as_ref()
            .map(|bot| schema.joining_value(bot.unique_record_id.as_str()));
        self.share_itsm_accounts(bot_key.as_deref());
        let mut users = self.users;
        users.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        let mut duplicates = self.duplicates;
        for dup in &mut duplicates {
            dup.records.sort();
        }
        duplicates.sort();
        Merged {
            users,
            duplicates,
            without_key: self.without_key,
        }
    }

    /// The identity's non-empty fields overlay the source record with its
    /// joining key, or it becomes a standalone user.
    fn overlay(
        &mut self,
        key: Box<str>,
        index: usize,
        identity: &Identity,
        checked: &BTreeMap<EntryRef, EntryResult>,
        previous: Option<&PreviousUser>,
    ) {
        let schema = self.schema;
        let origin = match identity.kind {
            IdentityKind::Bot => schema.bot(),
            IdentityKind::Manual => schema.manual(),
        };
        let at = match self.find(&key) {
            Some(at) => at as usize,
            None => {
                let Ok(at) = u32::try_from(self.users.len()) else {
                    return;
                };
                self.remember(&key, at);
                self.users.push(ImportedUser {
                    key,
                    fields: Vec::new(),
                    itsm: Vec::new(),
                    seen: None,
                });
                at as usize
            }
        };
        let Some(user) = self.users.get_mut(at) else {
            return;
        };
        let mut put = |attr: Option<AttrId>, value: Value| {
            if let Some(attr) = attr {
                set_field(
                    &mut user.fields,
                    Field {
                        attr,
                        origin,
                        value,
                    },
                );
            }
        };
        for (name, value) in &identity.attributes {
            if !value.trim().is_empty() {
                put(schema.attr(name), Value::Text(value.trim().into()));
            }
        }
        if let Some(status) = &identity.work_status {
            put(
                schema.attr("work_status"),
                Value::Text(status.as_str().into()),
            );
        }
        for (name, list) in [
            ("user_tags", &identity.user_tags),
            ("user_emails", &identity.user_emails),
        ] {
            let items: Box<[Box<str>]> = list
                .iter()
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
                .map(Box::from)
                .collect();
            if !items.is_empty() {
                put(schema.attr(name), Value::List(items));
            }
        }
        for (name, value) in &identity.custom_attributes {
            let empty = value.is_null() || value.as_str().is_some_and(|s| s.trim().is_empty());
            if !empty {
                put(
                    schema.attr(&format!("custom_attributes.{name}")),
                    Value::Json(Box::new(value.clone())),
                );
            }
        }
        for (name, infos) in [("channels", &identity.channels), ("idm", &identity.idm)] {
            if !infos.is_empty() {
                let json = serde_json::to_value(infos).unwrap_or_default();
                put(schema.attr(name), Value::Json(Box::new(json)));
            }
        }

        // ITSM ID Info: the identity's entries win per integration (the
        // first entry of an integration; the check reports the others).
        let resolved = schema.resolved();
        let previous_load = schema.previous_load();
        let carry = |value: &Option<PreviousValue>| {
            value
                .as_ref()
                .filter(|v| v.from_check)
                .map(|v| (v.value.clone(), previous_load))
        };
        let mut any_unchecked = false;
        for (e, entry) in identity.itsm.iter().enumerate() {
            let integration = entry.integration.as_str().to_owned();
            if integration.is_empty() {
                continue;
            }
            let result = checked.get(&EntryRef {
                identity: index,
                entry: e,
            });
            let found = result
                .filter(|result| result.status == EntryStatus::Verified)
                .and_then(|result| result.found.as_ref());
            // The system could not be checked: what the check found last
            // time stays, for the same account.
            let unchecked = result.is_some_and(|r| r.status == EntryStatus::Unchecked);
            any_unchecked |= unchecked;
            let last = if unchecked {
                same_account(previous, entry)
            } else {
                None
            };
            // An admin's value always stays; the check only fills gaps,
            // and this run's check wins over an earlier one.
            let external_id = entry
                .external_id
                .as_ref()
                .filter(|x| !x.as_str().trim().is_empty())
                .map(|x| (x.as_str().trim().to_owned(), origin))
                .or_else(|| {
                    found
                        .and_then(|f| f.external_id.as_ref())
                        .map(|x| (x.as_str().to_owned(), resolved))
                })
                .or_else(|| last.and_then(|l| carry(&l.external_id)));
            let itsm_user_id = entry
                .itsm_user_id
                .as_ref()
                .filter(|x| !x.trim().is_empty())
                .map(|x| (x.trim().to_owned(), origin))
                .or_else(|| found.map(|f| (f.itsm_user_id.as_str().to_owned(), resolved)))
                .or_else(|| last.and_then(|l| carry(&l.itsm_user_id)));
            let merged = MergedEntry {
                integration,
                external_id,
                itsm_user_id,
            };
            match user
                .itsm
                .iter_mut()
                .find(|m| m.integration == merged.integration)
            {
                Some(_)
                    if identity.itsm[..e]
                        .iter()
                        .any(|earlier| earlier.integration == entry.integration) => {}
                Some(existing) => *existing = merged,
                None => user.itsm.push(merged),
            }
            // Names the user lacks, from what the system holds.
            if let Some(found) = found {
                for (name, value) in [
                    ("first_name", &found.first_name),
                    ("last_name", &found.last_name),
                    ("full_name", &found.full_name),
                ] {
                    let Some(attr) = schema.attr(name) else {
                        continue;
                    };
                    if let Some(value) = value.as_deref().map(str::trim).filter(|v| !v.is_empty())
                        && get_field(&user.fields, attr).is_none()
                    {
                        set_field(
                            &mut user.fields,
                            Field {
                                attr,
                                origin: resolved,
                                value: Value::Text(value.into()),
                            },
                        );
                    }
                }
            }
        }
        // Names the check filled last time, when a system could not be
        // checked now and neither a source, the admin nor this run's check
        // gives them.
        if let Some(previous) = previous.filter(|_| any_unchecked) {
            for (name, value) in &previous.names {
                let Some(attr) = schema.attr(name) else {
                    continue;
                };
                if get_field(&user.fields, attr).is_none() {
                    set_field(
                        &mut user.fields,
                        Field {
                            attr,
                            origin: previous_load,
                            value: Value::Text(value.as_str().into()),
                        },
                    );
                }
            }
        }
        user.itsm.sort_by(|a, b| a.integration.cmp(&b.integration));
    }

    /// One ticketing account on two users: the bot keeps it, else the user
    /// with the smaller joining key; the others lose that entry.
    fn share_itsm_accounts(&mut self, bot_key: Option<&str>) {
        let mut order: Vec<usize> = (0..self.users.len())
            .filter(|i| self.users.get(*i).is_some_and(|u| !u.itsm.is_empty()))
            .collect();
        let rank = |u: &ImportedUser| (Some(&*u.key) != bot_key, u.key.clone());
        order.sort_by_cached_key(|i| self.users.get(*i).map(rank));
        let mut owner: BTreeMap<(String, String), usize> = BTreeMap::new();
        for index in order {
            let mut kept = Vec::new();
            let entries = std::mem::take(&mut self.users[index].itsm);
            for entry in entries {
                let accounts: Vec<(String, String)> = [
                    entry.itsm_user_id.as_ref().map(|x| format!("id:{}", x.0)),
                    entry
                        .external_id
                        .as_ref()
                        .map(|x| format!("external:{}", x.0.to_lowercase())),
                ]
                .into_iter()
                .flatten()
                .map(|account| (entry.integration.clone(), account))
                .collect();
                let taken = accounts
                    .iter()
                    .find_map(|a| owner.get(a).map(|o| (a.clone(), *o)));
                match taken {
                    Some(((integration, account), first)) => {
                        let account = account
                            .split_once(':')
                            .map(|(_, a)| a.to_owned())
                            .unwrap_or(account);
                        let first_key = self.users[first].key.to_string();
                        let this_key = self.users[index].key.to_string();
                        self.duplicates.push(Duplicate {
                            kind: DuplicateKind::ItsmAccount,
                            joining_key: format!("{integration}:{account}"),
                            records: vec![format!("user {first_key}"), format!("user {this_key}")],
                            kept: format!("user {first_key}"),
                            message: format!(
                                "{integration} account {account} is on two users; {this_key}'s entry was not loaded"
                            ),
                        });
                    }
                    None => {
                        for account in accounts {
                            owner.insert(account, index);
                        }
                        kept.push(entry);
                    }
                }
            }
            self.users[index].itsm = kept;
        }
    }
}

fn describe(identity: &Identity) -> String {
    format!("{} {}", identity.kind.as_str(), identity.unique_record_id)
}

/// Merges in one call: sources in configured order, then the identities.
pub fn merge(
    schema: &Schema,
    sources: Vec<Vec<SourceRecord>>,
    identities: &Identities,
    checked: &BTreeMap<EntryRef, EntryResult>,
    previous: &Previous,
) -> Merged {
    let mut merger = Merger::new(schema);
    for (index, records) in sources.into_iter().enumerate() {
        for record in records {
            merger.add_source_record(schema.source_origin(index), record);
        }
    }
    merger.finish(identities, checked, previous)
}

/// A merged user built directly, for tests of the later steps.
#[cfg(test)]
pub mod tests_support {
    use super::*;

    pub fn user(key: &str, fields: Vec<Field>) -> ImportedUser {
        ImportedUser {
            key: key.into(),
            fields,
            itsm: Vec::new(),
            seen: None,
        }
    }
}

#[cfg(test)]
mod tests;
