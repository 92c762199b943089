//! Recordings for CI (SPEC section 8): the manifest that says what a
//! recording holds, the stable text of its files, and the pseudonymizer
//! that replaces personal values before a recording may be committed.
//!
//! Pure: `app::record` reads the systems and writes the files. The
//! pseudonymizer's key lives in memory only; the mapping is never written.

use std::collections::{BTreeMap, HashMap, HashSet};

use itsmid_connectors::System;
use serde_json::{Value, json};

/// The manifest's schema name.
pub const SCHEMA: &str = "itsmid.recording.v1";

/// The manifest's file name in a recording's folder.
pub const MANIFEST: &str = "manifest.json";

/// The pseudonymized identities file's name in a recording's folder.
pub const IDENTITIES: &str = "identities.toml";

/// A data file's text: pretty JSON and a final newline, so that recording
/// unchanged systems again changes no byte.
pub fn file_text(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

/// How many records of each collection a data file holds: its top-level
/// lists (`result`, `values`, `users`, ...).
pub fn record_counts(data: &Value) -> BTreeMap<String, usize> {
    data.as_object()
        .map(|object| {
            object
                .iter()
                .filter_map(|(key, value)| value.as_array().map(|list| (key.clone(), list.len())))
                .collect()
        })
        .unwrap_or_default()
}

/// The manifest: when, by which version, and per integration its system
/// and its record counts.
pub fn manifest(
    recorded_at: &str,
    pseudonymized: bool,
    integrations: &BTreeMap<String, (System, BTreeMap<String, usize>)>,
) -> Value {
    let integrations: serde_json::Map<String, Value> = integrations
        .iter()
        .map(|(integration, (system, records))| {
            (
                integration.clone(),
                json!({"system": system.as_str(), "records": records}),
            )
        })
        .collect();
    json!({
        "schema": SCHEMA,
        "recorded_at": recorded_at,
        "itsmid_version": env!("CARGO_PKG_VERSION"),
        "pseudonymized": pseudonymized,
        "integrations": integrations,
    })
}

/// The keys of an identities file whose values are names (replaced word by
/// word) and logins (e-mail addresses, user names, External IDs: whole).
const IDENTITY_NAMES: &[&str] = &["full_name", "first_name", "last_name", "display_name"];
const IDENTITY_LOGINS: &[&str] = &["unique_record_id", "email_addr", "external_id"];

/// Replaces personal values consistently: the same value always by the
/// same pseudonym (across systems and the identities file), letter case
/// kept letter by letter, so values that differ only in case get
/// pseudonyms that differ the same way. Letters become letters and digits
/// digits; every other character (`@`, `.`, `-`) stays, so an e-mail
/// address still reads as one.
pub struct Pseudonymizer {
    key: [u8; 32],
    /// Lower-cased value to lower-cased pseudonym, per kind.
    logins: HashMap<String, String>,
    words: HashMap<String, String>,
    /// Pseudonyms given, so two values never share one.
    taken: HashSet<String>,
}

impl Pseudonymizer {
    /// A pseudonymizer with `key`: the same key gives the same pseudonyms,
    /// so recordings of unchanged systems stay byte-identical.
    pub fn new(key: [u8; 32]) -> Pseudonymizer {
        Pseudonymizer {
            key,
            logins: HashMap::new(),
            words: HashMap::new(),
            taken: HashSet::new(),
        }
    }

    /// An e-mail address, user name or External ID, replaced whole.
    pub fn login(&mut self, value: &str) -> String {
        let lower = value.to_lowercase();
        let pseudonym = match self.logins.get(&lower) {
            Some(known) => known.clone(),
            None => {
                let fresh = self.fresh("login", &lower);
                self.logins.insert(lower, fresh.clone());
                fresh
            }
        };
        with_case_of(value, &pseudonym)
    }

    /// A person's name, replaced word by word.
    pub fn name(&mut self, value: &str) -> String {
        value
            .split(' ')
            .map(|word| {
                if word.is_empty() {
                    return String::new();
                }
                let lower = word.to_lowercase();
                let pseudonym = match self.words.get(&lower) {
                    Some(known) => known.clone(),
                    None => {
                        let fresh = self.fresh("word", &lower);
                        self.words.insert(lower, fresh.clone());
                        fresh
                    }
                };
                with_case_of(word, &pseudonym)
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A pseudonym for `lower` no other value has: letters and digits drawn
    /// from a keyed hash, the other characters kept.
    fn fresh(&mut self, kind: &str, lower: &str) -> String {
        for round in 0u32.. {
            let digest = keyed_digest(&self.key, kind, lower, round);
            let mut bytes = digest.iter().cycle();
            let candidate: String = lower
                .chars()
                .map(|c| {
                    let byte = *bytes.next().unwrap_or(&0);
                    if c.is_alphabetic() {
                        char::from(b'a' + byte % 26)
                    } else if c.is_ascii_digit() {
                        char::from(b'0' + byte % 10)
                    } else {
                        c
                    }
                })
                .collect();
            if candidate != lower && self.taken.insert(format!("{kind}:{candidate}")) {
                return candidate;
            }
        }
        unreachable!("some round gives a pseudonym no value has")
    }

    /// Replaces, anywhere in `data`, the string values of `names` keys
    /// word by word and of `logins` keys whole.
    pub fn json(&mut self, data: &mut Value, names: &[&str], logins: &[&str]) {
        match data {
            Value::Object(object) => {
                for (key, value) in object.iter_mut() {
                    match value {
                        Value::String(text) if names.contains(&key.as_str()) => {
                            *text = self.name(text);
                        }
                        Value::String(text) if logins.contains(&key.as_str()) => {
                            *text = self.login(text);
                        }
                        Value::Array(items) if logins.contains(&key.as_str()) => {
                            for item in items {
                                if let Value::String(text) = item {
                                    *text = self.login(text);
                                }
                            }
                        }
                        other => self.json(other, names, logins),
                    }
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.json(item, names, logins);
                }
            }
            _ => {}
        }
    }

    /// An identities file's values with names and logins replaced, as the
    /// TOML a recording's folder holds. Comments are not kept: they may
    /// name people.
    pub fn identities(&mut self, identities: &Value) -> Result<String, toml::ser::Error> {
        let mut copy = identities.clone();
        self.json(&mut copy, IDENTITY_NAMES, IDENTITY_LOGINS);
        toml::to_string(&copy)
    }
}

/// `pseudonym` with `original`'s letter case, letter by letter.
fn with_case_of(original: &str, pseudonym: &str) -> String {
    original
        .chars()
        .zip(pseudonym.chars())
        .map(|(o, p)| {
            if o.is_uppercase() {
                p.to_ascii_uppercase()
            } else {
                p
            }
        })
        .collect()
}

/// SHA-256 over the key, the kind, the value and the round: the same
/// inputs, the same pseudonym; without the key, no way back.
fn keyed_digest(key: &[u8; 32], kind: &str, value: &str, round: u32) -> Vec<u8> {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let mut context = ring::hmac::Context::with_key(&key);
    context.update(kind.as_bytes());
    context.update(&[0]);
    context.update(value.as_bytes());
    context.update(&round.to_be_bytes());
    context.sign().as_ref().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pseudonymizer() -> Pseudonymizer {
        Pseudonymizer::new([7; 32])
    }

    #[test]
    fn the_same_value_gets_the_same_pseudonym_and_case_is_kept_letter_by_letter() {
        let mut p = pseudonymizer();
        let lower = p.login("pat@acme.com");
        assert_ne!(lower, "pat@acme.com");
        assert_eq!(p.login("pat@acme.com"), lower);
        let shouted = p.login("Pat@Acme.com");
        assert_eq!(shouted.to_lowercase(), lower);
        assert!(shouted.starts_with(|c: char| c.is_uppercase()), "{shouted}");
        assert_eq!(lower.matches('@').count(), 1);
        assert!(lower.contains('.'));
    }

    #[test]
    fn names_are_replaced_word_by_word() {
        let mut p = pseudonymizer();
        let full = p.name("Pat Lee");
        let words: Vec<&str> = full.split(' ').collect();
        assert_eq!(words.len(), 2);
        assert_eq!(p.name("Pat"), words[0]);
        assert_eq!(p.name("Lee"), words[1]);
        assert!(words[0].starts_with(|c: char| c.is_uppercase()));
        assert!(!full.contains("Pat") && !full.contains("Lee"));
    }

    #[test]
    fn two_values_never_share_a_pseudonym_and_another_key_gives_others() {
        let mut p = pseudonymizer();
        let all: HashSet<String> = (0..2_000).map(|n| p.login(&format!("u{n}"))).collect();
        assert_eq!(all.len(), 2_000);
        let mut other = Pseudonymizer::new([8; 32]);
        assert_ne!(
            other.login("pat@acme.com"),
            pseudonymizer().login("pat@acme.com")
        );
    }

    #[test]
    fn data_files_are_walked_by_key_and_ids_are_kept() {
        let mut p = pseudonymizer();
        let mut data = json!({"result": [
            {"sys_id": "abc123", "user_name": "pat.lee", "name": "Pat Lee", "email": "pat@acme.com"}
        ]});
        p.json(&mut data, &["name"], &["user_name", "email"]);
        let record = &data["result"][0];
        assert_eq!(record["sys_id"], "abc123");
        assert_eq!(record["user_name"], p.login("pat.lee"));
        assert_eq!(record["email"], p.login("pat@acme.com"));
        assert_eq!(record["name"], p.name("Pat Lee"));
    }

    #[test]
    fn an_identities_file_is_pseudonymized_with_the_same_mapping() {
        let mut p = pseudonymizer();
        let identities = json!({"users": [{
            "unique_record_id": "pat@acme.com", "full_name": "Pat Lee",
            "itsm": [{"integration": "snow", "external_id": "pat.lee", "itsm_user_id": "abc"}]
        }]});
        let text = p.identities(&identities).expect("TOML");
        assert!(!text.contains("pat"), "{text}");
        assert!(text.contains(&p.login("pat@acme.com")), "{text}");
        assert!(text.contains(&p.login("pat.lee")), "{text}");
        assert!(text.contains("itsm_user_id = \"abc\""), "{text}");
        assert!(text.contains("integration = \"snow\""), "{text}");
    }

    #[test]
    fn counts_are_the_top_level_lists() {
        let data = json!({"result": [1, 2], "simulator": {"any": {}}, "other": []});
        let counts = record_counts(&data);
        assert_eq!(counts.get("result"), Some(&2));
        assert_eq!(counts.get("other"), Some(&0));
        assert_eq!(counts.len(), 2);
    }
}
