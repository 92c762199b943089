//! Validators (SPEC section 6, step 5): duplicate detection and large data
//! change protection.
//!
//! Pure functions of the merged users and the last load's counts: they
//! decide, the load obeys. Every outcome is deterministic (it never depends
//! on hash order or on the order of manual users in the file) and is listed
//! in the report.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::PipelineConfig;

use super::model::{
    AttrKind, Duplicate, DuplicateKind, HashKeyed, ImportedUser, Schema, Value, stable_hash,
};

/// Users sharing an e-mail address (primary or `user_emails`). Both users
/// are loaded: which one the address belongs to is for an administrator to
/// decide, so the report lists them, in joining-key order.
pub fn duplicate_emails(users: &[ImportedUser], schema: &Schema) -> Vec<Duplicate> {
    // Hash first, compare the text only on a hash match: a map of a million
    // strings would double the memory of the run.
    let mut first_by_hash: HashKeyed<u32> = HashKeyed::default();
    let mut shared: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    let email = schema.attr("email_addr");
    let mut hashes: Vec<(u64, &str)> = Vec::new();
    for (index, user) in users.iter().enumerate() {
        let Ok(index) = u32::try_from(index) else {
            break;
        };
        hashes.clear();
        for field in &user.fields {
            match (&field.value, schema.kind(field.attr)) {
                (Value::Text(text), AttrKind::Text) if Some(field.attr) == email => {
                    hashes.push((address_hash(text), text))
                }
                (Value::List(items), AttrKind::Emails) => {
                    hashes.extend(items.iter().map(|i| (address_hash(i), &**i)))
                }
                _ => {}
            }
        }
        hashes.sort_unstable();
        hashes.dedup_by_key(|(hash, _)| *hash);
        for (hash, address) in &hashes {
            match first_by_hash.entry(*hash) {
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(index);
                }
                std::collections::hash_map::Entry::Occupied(slot) => {
                    let first = *slot.get();
                    let address = address.trim().to_lowercase();
                    let same = users
                        .get(first as usize)
                        .is_some_and(|f| has_address(f, schema, &address));
                    if same {
                        let owners = shared.entry(address).or_insert_with(|| vec![first]);
                        if !owners.contains(&index) {
                            owners.push(index);
                        }
                    }
                }
            }
        }
    }
    shared
        .into_iter()
        .map(|(address, owners)| {
            let records: Vec<String> = owners
                .iter()
                .filter_map(|i| users.get(*i as usize))
                .map(|u| format!("user {}", u.key))
                .collect();
            Duplicate {
                kind: DuplicateKind::Email,
                message: format!(
                    "{address} is an address of {} users; all were loaded, give it to one",
                    records.len()
                ),
                joining_key: address,
                records,
                kept: "all".into(),
            }
        })
        .collect()
}

/// The hash of an address as compared: trimmed, without case. Allocates
/// only for addresses that are not ASCII.
fn address_hash(address: &str) -> u64 {
    let address = address.trim();
    if address.is_ascii() {
        let mut hash = stable_hash(b"");
        for byte in address.bytes() {
            hash = fnv_step(hash, byte.to_ascii_lowercase());
        }
        hash
    } else {
        address_hash_slow(&address.to_lowercase())
    }
}

fn address_hash_slow(lowered: &str) -> u64 {
    let mut hash = stable_hash(b"");
    for byte in lowered.bytes() {
        hash = fnv_step(hash, byte);
    }
    hash
}

fn fnv_step(hash: u64, byte: u8) -> u64 {
    (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
}

fn has_address(user: &ImportedUser, schema: &Schema, address: &str) -> bool {
    user.fields.iter().any(|f| match &f.value {
        Value::Text(t) => {
            Some(f.attr) == schema.attr("email_addr") && t.trim().to_lowercase() == address
        }
        Value::List(items) => {
            schema.kind(f.attr) == AttrKind::Emails
                && items.iter().any(|i| i.trim().to_lowercase() == address)
        }
        Value::Json(_) => false,
    })
}

/// The changes a load would make, against the last load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub users: u64,
    pub added: u64,
    pub removed: u64,
    pub changed: u64,
    pub unchanged: u64,
}

/// Why a load was blocked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Blocked {
    pub reason: String,
    pub previous_users: u64,
    pub removed: u64,
    pub changed: u64,
    pub max_removed_ratio: f64,
    pub max_changed_ratio: f64,
}

/// Large data change protection: a load that would remove more than
/// `max_removed_ratio` or change more than `max_changed_ratio` of the users
/// of the last load is blocked, once the last load had at least
/// `large_change_min_users` users. `accepted` lets this one load through.
pub fn large_change(
    previous_users: Option<u64>,
    counts: &Counts,
    pipeline: &PipelineConfig,
    accepted: bool,
) -> Option<Blocked> {
    let previous = previous_users?;
    if accepted || previous == 0 || previous < pipeline.large_change_min_users {
        return None;
    }
    let removed_ratio = counts.removed as f64 / previous as f64;
    let changed_ratio = counts.changed as f64 / previous as f64;
    let mut reasons = Vec::new();
    if removed_ratio > pipeline.max_removed_ratio {
        reasons.push(format!(
            "{} of {previous} users would be removed ({:.1}%, more than max_removed_ratio {:.1}%)",
            counts.removed,
            removed_ratio * 100.0,
            pipeline.max_removed_ratio * 100.0
        ));
    }
    if changed_ratio > pipeline.max_changed_ratio {
        reasons.push(format!(
            "{} of {previous} users would change ({:.1}%, more than max_changed_ratio {:.1}%)",
            counts.changed,
            changed_ratio * 100.0,
            pipeline.max_changed_ratio * 100.0
        ));
    }
    if reasons.is_empty() {
        return None;
    }
    Some(Blocked {
        reason: format!(
            "{}; the store keeps the last load. If the change is intended, run `itsmid load --accept-large-change` once",
            reasons.join("; ")
        ),
        previous_users: previous,
        removed: counts.removed,
        changed: counts.changed,
        max_removed_ratio: pipeline.max_removed_ratio,
        max_changed_ratio: pipeline.max_changed_ratio,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline() -> PipelineConfig {
        PipelineConfig {
            joining_key: "email_addr".into(),
            max_removed_ratio: 0.10,
            max_changed_ratio: 0.25,
            custom_attributes: Vec::new(),
            large_change_min_users: 100,
            drift_window: std::time::Duration::from_secs(24 * 60 * 60),
        }
    }

    fn counts(removed: u64, changed: u64) -> Counts {
        Counts {
            removed,
            changed,
            ..Counts::default()
        }
    }

    #[test]
    fn one_e_mail_on_two_users_is_listed_and_both_are_kept() {
        use crate::pipeline::{
            merge::tests_support::user,
            model::{Field, set_field},
        };
        let schema = Schema::new(&[], &[], "email_addr").expect("schema");
        let with = |key: &str, email: &str, others: &[&str]| {
            let mut fields = Vec::new();
            set_field(
                &mut fields,
                Field {
                    attr: schema.attr("email_addr").expect("attr"),
                    origin: 0,
                    value: Value::Text(email.into()),
                },
            );
            if !others.is_empty() {
                set_field(
                    &mut fields,
                    Field {
                        attr: schema.attr("user_emails").expect("attr"),
                        origin: 0,
                        value: Value::List(others.iter().map(|o| Box::from(*o)).collect()),
                    },
                );
            }
            user(key, fields)
        };
        let users = vec![
            with("a", "pat@acme.com", &[]),
            with("b", "kim@acme.com", &["PAT@acme.com "]),
            with("c", "lou@acme.com", &["lou@acme.com"]),
        ];
        let duplicates = duplicate_emails(&users, &schema);
        assert_eq!(duplicates.len(), 1, "{duplicates:?}");
        assert_eq!(duplicates[0].joining_key, "pat@acme.com");
        assert_eq!(duplicates[0].records, vec!["user a", "user b"]);
        assert_eq!(duplicates[0].kept, "all");
    }

    #[test]
    fn removing_more_than_the_ratio_blocks_the_load() {
        let blocked =
            large_change(Some(1000), &counts(101, 0), &pipeline(), false).expect("blocked");
        assert!(
            blocked
                .reason
                .contains("101 of 1000 users would be removed")
        );
        assert!(large_change(Some(1000), &counts(100, 0), &pipeline(), false).is_none());
    }

    #[test]
    fn changing_more_than_the_ratio_blocks_the_load() {
        assert!(large_change(Some(1000), &counts(0, 251), &pipeline(), false).is_some());
        assert!(large_change(Some(1000), &counts(0, 250), &pipeline(), false).is_none());
    }

    #[test]
    fn accepting_a_large_change_lets_it_through() {
        assert!(large_change(Some(1000), &counts(900, 0), &pipeline(), true).is_none());
    }

    #[test]
    fn the_protection_waits_for_a_last_load_of_the_minimum_size() {
        assert!(large_change(None, &counts(0, 0), &pipeline(), false).is_none());
        assert!(large_change(Some(99), &counts(99, 0), &pipeline(), false).is_none());
        assert!(large_change(Some(100), &counts(99, 0), &pipeline(), false).is_some());
    }
}
