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

use super::load::stable_hash;
use super::sources::SourceRecord;
use super::validate::{Duplicate, DuplicateKind};
use super::{AttrId, Field, HashKeyed, Origin, Schema, Value, get_field, set_field};

/// One ITSM ID Info entry of a merged user, in the identities file's words.
/// The loaded record's names for these differ: see `load.rs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedEntry {
    pub integration: String,
    pub external_id: Option<(String, Origin)>,
    pub itsm_user_id: Option<(String, Origin)>,
}

/// One merged user: what a load writes to the store.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedUser {
    /// The joining value as compared (see [`Schema::joining_value`]); the
    /// user's id in the store.
    pub key: Box<str>,
    /// Sorted by attribute; no empty values.
    pub fields: Vec<Field>,
    /// From the identities file and the check only.
    pub itsm: Vec<MergedEntry>,
    /// The source and line of the latest source record merged in, to
    /// name the records of a duplicate.
    seen: Option<(Origin, u64)>,
}

/// What the last load holds for one user's values that the check found,
/// passed in so that an entry whose system could not be checked in this run
/// keeps them (SPEC section 6, step 4: an outage changes nothing). Built
/// from the store before merging; see `load::previous_user`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreviousUser {
    pub itsm: Vec<PreviousEntry>,
    /// User-level attributes the check filled (`first_name`, `last_name`,
    /// `full_name`): name and value.
    pub names: Vec<(String, String)>,
}

/// One ITSM entry of the last load, in the identities file's words.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreviousEntry {
    pub integration: String,
    pub external_id: Option<PreviousValue>,
    pub itsm_user_id: Option<PreviousValue>,
}

/// A value of the last load and whether the check found it (`resolved`
/// or `previous load`) rather than an admin or a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousValue {
    pub value: String,
    pub from_check: bool,
}

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
        .map(|(_, identity)| schema.joining_value(&identity.unique_record_id.0))
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
                .entry(schema.joining_value(&identity.unique_record_id.0))
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
            .map(|bot| schema.joining_value(&bot.unique_record_id.0));
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
mod tests {
    use std::path::Path;

    use itsmid_connectors::{ExternalId, ItsmUser, ItsmUserId};
    use proptest::prelude::*;

    use super::*;

    fn schema() -> Schema {
        Schema::new(
            &["office".into()],
            &["workday".into(), "okta".into()],
            "email_addr",
        )
        .expect("schema")
    }

    fn record(schema: &Schema, line: u64, fields: &[(&str, &str)]) -> SourceRecord {
        let mut out = Vec::new();
        for (name, value) in fields {
            set_field(
                &mut out,
                Field {
                    attr: schema.attr(name).expect("an attribute"),
                    origin: 0,
                    value: Value::Text((*value).into()),
                },
            );
        }
        SourceRecord { line, fields: out }
    }

    fn with_origin(mut record: SourceRecord, origin: Origin) -> SourceRecord {
        for f in &mut record.fields {
            f.origin = origin;
        }
        record
    }

    fn identities(text: &str) -> Identities {
        Identities::parse(Path::new("identities.toml"), text, &["office".into()])
            .expect("valid identities")
    }

    const BOT: &str = "[bot]\nunique_record_id = \"bot@acme.com\"\nemail_addr = \"bot@acme.com\"\n";

    fn text(schema: &Schema, user: &ImportedUser, name: &str) -> Option<(String, String)> {
        let attr = schema.attr(name)?;
        get_field(&user.fields, attr).map(|f| {
            let value = match &f.value {
                Value::Text(t) => t.to_string(),
                other => other.to_json().to_string(),
            };
            (value, schema.origin_name(f.origin).to_owned())
        })
    }

    fn user<'a>(merged: &'a Merged, key: &str) -> &'a ImportedUser {
        merged
            .users
            .iter()
            .find(|u| &*u.key == key)
            .unwrap_or_else(|| panic!("no user {key} in {:?}", merged.users))
    }

    #[test]
    fn a_manual_entry_whose_unique_record_id_matches_a_source_record_merges_into_it() {
        let schema = schema();
        let source = vec![record(
            &schema,
            2,
            &[
                ("email_addr", "pat@acme.com"),
                ("full_name", "Patricia Lee"),
                ("department", "IT"),
            ],
        )];
        let ids = identities(&format!(
            "{BOT}[[users]]\nunique_record_id = \"pat@acme.com\"\nfull_name = \"Pat Lee\"\n"
        ));
        let merged = merge(
            &schema,
            vec![source],
            &ids,
            &BTreeMap::new(),
            &Previous::new(),
        );
        assert_eq!(merged.users.len(), 2, "the bot and one merged user");
        let pat = user(&merged, "pat@acme.com");
        assert_eq!(
            text(&schema, pat, "full_name"),
            Some(("Pat Lee".into(), "manual".into()))
        );
        assert_eq!(
            text(&schema, pat, "department"),
            Some(("IT".into(), "workday".into()))
        );
    }

    #[test]
    fn a_manual_entry_that_matches_no_source_record_becomes_a_standalone_user() {
        let schema = schema();
        let source = vec![record(&schema, 2, &[("email_addr", "pat@acme.com")])];
        let ids = identities(&format!(
            "{BOT}[[users]]\nunique_record_id = \"patricia@acme.com\"\nfull_name = \"Pat Lee\"\n"
        ));
        let merged = merge(
            &schema,
            vec![source],
            &ids,
            &BTreeMap::new(),
            &Previous::new(),
        );
        assert_eq!(
            merged.users.len(),
            3,
            "the same person twice: source and manual"
        );
        let standalone = user(&merged, "patricia@acme.com");
        assert_eq!(text(&schema, standalone, "email_addr"), None);
        assert_eq!(
            text(&schema, standalone, "full_name"),
            Some(("Pat Lee".into(), "manual".into()))
        );
    }

    #[test]
    fn a_unique_record_id_matching_another_users_key_overlays_that_users_fields() {
        let schema = schema();
        let source = vec![record(
            &schema,
            2,
            &[
                ("email_addr", "kim@acme.com"),
                ("full_name", "Kim Park"),
                ("role", "Engineer"),
            ],
        )];
        // The admin meant Pat but typed Kim's address.
        let ids = identities(&format!(
            "{BOT}[[users]]\nunique_record_id = \"kim@acme.com\"\nfull_name = \"Pat Lee\"\n"
        ));
        let merged = merge(
            &schema,
            vec![source],
            &ids,
            &BTreeMap::new(),
            &Previous::new(),
        );
        let kim = user(&merged, "kim@acme.com");
        assert_eq!(
            text(&schema, kim, "full_name"),
            Some(("Pat Lee".into(), "manual".into()))
        );
        assert_eq!(
            text(&schema, kim, "role"),
            Some(("Engineer".into(), "workday".into()))
        );
    }

    #[test]
    fn e_mail_joining_keys_match_without_case_or_surrounding_spaces() {
        let schema = schema();
        let source = vec![record(
            &schema,
            2,
            &[("email_addr", "Pat.Lee@ACME.com "), ("role", "Analyst")],
        )];
        let ids = identities(&format!(
            "{BOT}[[users]]\nunique_record_id = \" pat.lee@acme.com\"\nfull_name = \"Pat Lee\"\n"
        ));
        let merged = merge(
            &schema,
            vec![source],
            &ids,
            &BTreeMap::new(),
            &Previous::new(),
        );
        assert_eq!(merged.users.len(), 2);
        let pat = user(&merged, "pat.lee@acme.com");
        assert_eq!(
            text(&schema, pat, "role"),
            Some(("Analyst".into(), "workday".into()))
        );
        assert_eq!(
            text(&schema, pat, "full_name"),
            Some(("Pat Lee".into(), "manual".into()))
        );
    }

    #[test]
    fn other_joining_keys_match_case_sensitively() {
        let schema = Schema::new(&[], &["hr".into()], "employee_id").expect("schema");
        let source = vec![record(
            &schema,
            2,
            &[("employee_id", "E12a"), ("role", "Analyst")],
        )];
        let ids = identities(&format!("{BOT}[[users]]\nunique_record_id = \"E12A\"\n"));
        let merged = merge(
            &schema,
            vec![source],
            &ids,
            &BTreeMap::new(),
            &Previous::new(),
        );
        assert_eq!(merged.users.len(), 3, "E12A does not match E12a");
    }

    #[test]
    fn empty_and_duplicate_unique_record_ids_never_reach_the_merge() {
        let empty = format!("{BOT}[[users]]\nunique_record_id = \"  \"\n");
        assert!(Identities::parse(Path::new("i.toml"), &empty, &[]).is_err());
        let twice = format!(
            "{BOT}[[users]]\nunique_record_id = \"pat@acme.com\"\n[[users]]\nunique_record_id = \"pat@acme.com\"\n"
        );
        assert!(Identities::parse(Path::new("i.toml"), &twice, &[]).is_err());
        let missing = format!("{BOT}[[users]]\nfull_name = \"No Id\"\n");
        assert!(Identities::parse(Path::new("i.toml"), &missing, &[]).is_err());
    }

    #[test]
    fn unique_record_ids_differing_only_in_case_keep_one_identity_and_report_it() {
        let schema = schema();
        let ids = identities(&format!(
            "{BOT}[[users]]\nunique_record_id = \"pat@acme.com\"\nrole = \"b\"\n[[users]]\nunique_record_id = \"Pat@acme.com\"\nrole = \"a\"\n"
        ));
        let merged = merge(&schema, vec![], &ids, &BTreeMap::new(), &Previous::new());
        assert_eq!(merged.users.len(), 2);
        assert_eq!(merged.duplicates.len(), 1);
        assert_eq!(
            merged.duplicates[0].kept, "manual Pat@acme.com",
            "the smaller id is kept"
        );
    }

    #[test]
    fn the_earlier_source_wins_a_field_and_an_empty_cell_never_overrides() {
        let schema = schema();
        let workday = vec![record(
            &schema,
            2,
            &[("email_addr", "pat@acme.com"), ("role", "Analyst")],
        )];
        let okta = vec![with_origin(
            record(
                &schema,
                5,
                &[
                    ("email_addr", "PAT@acme.com"),
                    ("role", "Admin"),
                    ("city", "Oslo"),
                ],
            ),
            1,
        )];
        let merged = merge(
            &schema,
            vec![workday, okta],
            &identities(BOT),
            &BTreeMap::new(),
            &Previous::new(),
        );
        let pat = user(&merged, "pat@acme.com");
        assert_eq!(
            text(&schema, pat, "role"),
            Some(("Analyst".into(), "workday".into()))
        );
        assert_eq!(
            text(&schema, pat, "city"),
            Some(("Oslo".into(), "okta".into()))
        );
        assert_eq!(
            text(&schema, pat, "email_addr"),
            Some(("pat@acme.com".into(), "workday".into()))
        );
    }

    #[test]
    fn a_joining_key_twice_in_one_source_keeps_the_first_record() {
        let schema = schema();
        let workday = vec![
            record(
                &schema,
                2,
                &[("email_addr", "pat@acme.com"), ("role", "First")],
            ),
            record(&schema, 3, &[("email_addr", "kim@acme.com")]),
            record(
                &schema,
                4,
                &[("email_addr", "pat@acme.com"), ("role", "Second")],
            ),
        ];
        let merged = merge(
            &schema,
            vec![workday],
            &identities(BOT),
            &BTreeMap::new(),
            &Previous::new(),
        );
        let pat = user(&merged, "pat@acme.com");
        assert_eq!(
            text(&schema, pat, "role"),
            Some(("First".into(), "workday".into()))
        );
        assert_eq!(merged.duplicates.len(), 1);
        assert_eq!(
            merged.duplicates[0].records,
            vec!["workday line 2", "workday line 4"]
        );
        assert_eq!(merged.duplicates[0].kept, "workday line 2");
    }

    fn checked(
        identity: usize,
        entry: usize,
        status: EntryStatus,
        found: Option<ItsmUser>,
    ) -> BTreeMap<EntryRef, EntryResult> {
        BTreeMap::from([(
            EntryRef { identity, entry },
            EntryResult {
                status,
                found,
                findings: Vec::new(),
            },
        )])
    }

    fn found(id: &str, external: &str) -> ItsmUser {
        ItsmUser {
            itsm_user_id: ItsmUserId::new(id),
            external_id: Some(ExternalId::new(external)),
            active: true,
            first_name: Some("Pat".into()),
            last_name: Some("Lee".into()),
            full_name: Some("Pat Lee".into()),
            account_type: None,
            time_zone: None,
            inactive_reason: None,
            record_kind: None,
        }
    }

    const PAT_SNOW: &str = "[[users]]\nunique_record_id = \"pat@acme.com\"\n[[users.itsm]]\nintegration = \"snow\"\nexternal_id = \"pat.lee\"\n";

    #[test]
    fn a_verified_entry_fills_its_missing_itsm_user_id_and_the_users_names() {
        let schema = schema();
        let ids = identities(&format!("{BOT}{PAT_SNOW}"));
        let merged = merge(
            &schema,
            vec![],
            &ids,
            &checked(1, 0, EntryStatus::Verified, Some(found("abc", "pat.lee"))),
            &Previous::new(),
        );
        let pat = user(&merged, "pat@acme.com");
        assert_eq!(
            pat.itsm[0].itsm_user_id,
            Some(("abc".into(), schema.resolved()))
        );
        assert_eq!(
            pat.itsm[0].external_id,
            Some(("pat.lee".into(), schema.manual()))
        );
        assert_eq!(
            text(&schema, pat, "first_name"),
            Some(("Pat".into(), "resolved".into()))
        );
    }

    #[test]
    fn an_unchecked_or_failed_entry_keeps_the_admins_values() {
        let schema = schema();
        let ids = identities(&format!("{BOT}{PAT_SNOW}itsm_user_id = \"stale\"\n"));
        for status in [
            EntryStatus::Unchecked,
            EntryStatus::Mismatch,
            EntryStatus::NotFound,
        ] {
            let merged = merge(
                &schema,
                vec![],
                &ids,
                &checked(1, 0, status, Some(found("fresh", "pat.lee"))),
                &Previous::new(),
            );
            let pat = user(&merged, "pat@acme.com");
            assert_eq!(pat.itsm.len(), 1, "never dropped when {status:?}");
            assert_eq!(
                pat.itsm[0].itsm_user_id,
                Some(("stale".into(), schema.manual()))
            );
        }
    }

    fn previous_pat(itsm_user_id: &str) -> Previous {
        Previous::from([(
            Box::from("pat@acme.com"),
            PreviousUser {
                itsm: vec![PreviousEntry {
                    integration: "snow".into(),
                    external_id: Some(PreviousValue {
                        value: "pat.lee".into(),
                        from_check: false,
                    }),
                    itsm_user_id: Some(PreviousValue {
                        value: itsm_user_id.into(),
                        from_check: true,
                    }),
                }],
                names: vec![("first_name".into(), "Patricia".into())],
            },
        )])
    }

    #[test]
    fn an_unchecked_entry_keeps_what_the_check_found_in_the_previous_load() {
        let schema = schema();
        let ids = identities(&format!("{BOT}{PAT_SNOW}"));
        let previous = previous_pat("abc");
        let down = checked(1, 0, EntryStatus::Unchecked, None);
        let merged = merge(&schema, vec![], &ids, &down, &previous);
        let pat = user(&merged, "pat@acme.com");
        assert_eq!(
            pat.itsm[0].itsm_user_id,
            Some(("abc".into(), schema.previous_load()))
        );
        assert_eq!(
            pat.itsm[0].external_id,
            Some(("pat.lee".into(), schema.manual())),
            "the admin's value keeps its origin"
        );
        assert_eq!(
            text(&schema, pat, "first_name"),
            Some(("Patricia".into(), "previous load".into()))
        );

        // This run's check wins over the previous load.
        let up = checked(1, 0, EntryStatus::Verified, Some(found("fresh", "pat.lee")));
        let pat = merge(&schema, vec![], &ids, &up, &previous)
            .users
            .into_iter()
            .find(|u| &*u.key == "pat@acme.com")
            .expect("pat");
        assert_eq!(
            pat.itsm[0].itsm_user_id,
            Some(("fresh".into(), schema.resolved()))
        );
        assert_eq!(
            text(&schema, &pat, "first_name"),
            Some(("Pat".into(), "resolved".into()))
        );

        // An admin's value wins over both.
        let admin = identities(&format!("{BOT}{PAT_SNOW}itsm_user_id = \"abc\"\n"));
        let merged = merge(&schema, vec![], &admin, &down, &previous);
        assert_eq!(
            user(&merged, "pat@acme.com").itsm[0].itsm_user_id,
            Some(("abc".into(), schema.manual()))
        );

        // A verdict of this run's check is no outage: nothing is carried.
        let gone = checked(1, 0, EntryStatus::NotFound, None);
        let merged = merge(&schema, vec![], &ids, &gone, &previous);
        let pat = user(&merged, "pat@acme.com");
        assert_eq!(pat.itsm[0].itsm_user_id, None);
        assert_eq!(text(&schema, pat, "first_name"), None);
    }

    #[test]
    fn a_previous_value_is_carried_only_for_the_same_account_and_only_if_the_check_found_it() {
        let schema = schema();
        let down = checked(1, 0, EntryStatus::Unchecked, None);
        // The admin now names another account: its ITSM User ID is unknown.
        let other = identities(&format!(
            "{BOT}{}",
            PAT_SNOW.replace("pat.lee", "patricia.lee")
        ));
        let merged = merge(&schema, vec![], &other, &down, &previous_pat("abc"));
        assert_eq!(user(&merged, "pat@acme.com").itsm[0].itsm_user_id, None);
        // The admin gave the ITSM User ID last time and removed it since.
        let mut previous = previous_pat("abc");
        for user in previous.values_mut() {
            for entry in &mut user.itsm {
                if let Some(id) = &mut entry.itsm_user_id {
                    id.from_check = false;
                }
            }
        }
        let ids = identities(&format!("{BOT}{PAT_SNOW}"));
        let merged = merge(&schema, vec![], &ids, &down, &previous);
        assert_eq!(user(&merged, "pat@acme.com").itsm[0].itsm_user_id, None);
    }

    #[test]
    fn only_users_with_an_unchecked_entry_need_the_previous_load() {
        let schema = schema();
        let ids = identities(&format!("{BOT}{PAT_SNOW}"));
        let down = checked(1, 0, EntryStatus::Unchecked, None);
        assert_eq!(
            unchecked_keys(&schema, &ids, &down),
            vec![Box::from("pat@acme.com")]
        );
        let up = checked(1, 0, EntryStatus::Verified, Some(found("abc", "pat.lee")));
        assert!(unchecked_keys(&schema, &ids, &up).is_empty());
    }

    #[test]
    fn one_itsm_account_on_two_users_stays_with_the_bot() {
        let schema = schema();
        let ids = identities(
            "[bot]\nunique_record_id = \"bot@acme.com\"\n[[bot.itsm]]\nintegration = \"snow\"\nexternal_id = \"moveworks.bot\"\n[[users]]\nunique_record_id = \"a@acme.com\"\n[[users.itsm]]\nintegration = \"snow\"\nexternal_id = \"Moveworks.Bot\"\n",
        );
        let merged = merge(&schema, vec![], &ids, &BTreeMap::new(), &Previous::new());
        assert!(user(&merged, "a@acme.com").itsm.is_empty());
        assert_eq!(user(&merged, "bot@acme.com").itsm.len(), 1);
        assert_eq!(merged.duplicates[0].kind, DuplicateKind::ItsmAccount);
        assert_eq!(merged.duplicates[0].kept, "user bot@acme.com");
    }

    #[test]
    fn a_source_record_without_a_joining_key_is_listed_not_loaded() {
        let schema = schema();
        let merged = merge(
            &schema,
            vec![vec![record(&schema, 7, &[("role", "Analyst")])]],
            &identities(BOT),
            &BTreeMap::new(),
            &Previous::new(),
        );
        assert_eq!(merged.users.len(), 1);
        assert_eq!(merged.without_key, vec!["workday line 7"]);
    }

    fn manual_users(count: usize) -> impl Strategy<Value = Vec<(String, String, Option<String>)>> {
        proptest::collection::vec(
            (
                "[a-cA-C]{1,2}(@acme\\.com)?",
                "[A-Za-z ]{0,6}",
                proptest::option::of("[a-c]{1,2}"),
            ),
            0..count,
        )
    }

    fn identities_text(users: &[(String, String, Option<String>)]) -> String {
        let mut seen = std::collections::BTreeSet::new();
        let mut text = BOT.to_owned();
        for (urid, role, account) in users {
            if !seen.insert(urid.clone()) {
                continue;
            }
            text.push_str(&format!(
                "[[users]]\nunique_record_id = \"{urid}\"\nrole = \"{role}\"\n"
            ));
            if let Some(account) = account {
                text.push_str(&format!(
                    "[[users.itsm]]\nintegration = \"snow\"\nexternal_id = \"{account}\"\n"
                ));
            }
        }
        text
    }

    proptest! {
        #[test]
        fn merging_is_deterministic_and_independent_of_the_order_of_manual_users(
            users in manual_users(8),
            source_keys in proptest::collection::vec("[a-f]{1,2}(@ACME\\.com)?", 0..8),
            seed in any::<u64>(),
        ) {
            let schema = schema();
            let records: Vec<SourceRecord> = source_keys
                .iter()
                .enumerate()
                .map(|(i, k)| record(&schema, i as u64 + 2, &[("email_addr", k), ("city", "Oslo")]))
                .collect();
            // One entry per Unique Record ID, as the identities reader demands.
            let mut seen = std::collections::BTreeSet::new();
            let users: Vec<_> = users.into_iter().filter(|u| seen.insert(u.0.clone())).collect();
            let mut shuffled = users.clone();
            let mut rng = fastrand_like(seed);
            for i in (1..shuffled.len()).rev() {
                shuffled.swap(i, (rng() % (i as u64 + 1)) as usize);
            }
            let a = merge(&schema, vec![records.clone()], &identities(&identities_text(&users)), &BTreeMap::new(), &Previous::new());
            let again = merge(&schema, vec![records.clone()], &identities(&identities_text(&users)), &BTreeMap::new(), &Previous::new());
            let b = merge(&schema, vec![records], &identities(&identities_text(&shuffled)), &BTreeMap::new(), &Previous::new());
            prop_assert_eq!(&a.users, &again.users);
            prop_assert_eq!(&a.users, &b.users);
            prop_assert_eq!(&a.duplicates, &b.duplicates);
        }
    }

    /// A tiny deterministic generator, so the shuffle is reproducible.
    fn fastrand_like(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state >> 33
        }
    }
}
