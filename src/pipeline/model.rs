//! The pipeline's shared model: the attribute table ([`Schema`]), field
//! values, the merged user ([`ImportedUser`]), duplicates, and the stable
//! hash. Every step imports these from here and from earlier steps only,
//! never from a later step.
//!
//! Holds types and small pure helpers; no IO, no step logic.

use serde::Serialize;

use crate::identities::STRING_ATTRIBUTES;

/// An attribute's index in [`Schema`].
pub type AttrId = u16;

/// Where a field came from: an index into [`Schema::origins`].
pub type Origin = u16;

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

/// `pipeline.joining_key` names no string attribute.
#[derive(Debug, thiserror::Error)]
#[error(
    "pipeline.joining_key \"{0}\" is not a string attribute; use e.g. \"email_addr\" or \"employee_id\""
)]
pub struct JoiningKeyError(pub String);

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
    ) -> Result<Schema, JoiningKeyError> {
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
                return Err(JoiningKeyError(joining_key.to_owned()));
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

/// A map keyed by a [`stable_hash`] of a string: no copy of the
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
        self.0 = stable_hash(bytes) ^ self.0.rotate_left(5);
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
    pub(super) seen: Option<(Origin, u64)>,
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

/// What was found twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DuplicateKind {
    /// One joining key on two records of one source, or two identities
    /// whose Unique Record IDs differ only in case or spaces.
    JoiningKey,
    /// One e-mail address on two users.
    Email,
    /// One ticketing-system account on two users.
    ItsmAccount,
}

/// A duplicate and what the pipeline did about it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Duplicate {
    pub kind: DuplicateKind,
    /// The value found twice: a joining key, an address, or
    /// `integration:account`.
    pub joining_key: String,
    /// Every record involved, e.g. `workday line 3`, `manual pat@acme.com`.
    pub records: Vec<String>,
    /// The record that was kept (`all` when every record was loaded).
    pub kept: String,
    pub message: String,
}

/// A hash that stays the same across runs and releases (FNV-1a), stored
/// with each row so an unchanged user costs no read of its record.
pub fn stable_hash(bytes: &[u8]) -> u64 {
    fnv(0xcbf2_9ce4_8422_2325, bytes)
}

pub(super) fn fnv(mut hash: u64, bytes: &[u8]) -> u64 {
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}
