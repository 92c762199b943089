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

/// The file that holds one integration's answers: `<integration>.json`.
/// An id that would name a file outside the folder, a hidden file, or the
/// manifest is refused, with the reason.
pub fn data_file_name(integration: &str) -> Result<String, String> {
    let unsafe_char = integration
        .chars()
        .find(|c| matches!(c, '/' | '\\' | ':') || c.is_control());
    if let Some(c) = unsafe_char {
        return Err(format!(
            "integration id \"{integration}\" holds {c:?}, which cannot be part of a file name in a recording; use letters, digits, '-' and '_'"
        ));
    }
    if integration.is_empty() || integration.starts_with('.') {
        return Err(format!(
            "integration id \"{integration}\" cannot name a recording's file (it would be hidden or empty); use letters, digits, '-' and '_'"
        ));
    }
    let name = format!("{integration}.json");
    if name == MANIFEST {
        return Err(
            "integration id \"manifest\" would be the recording's manifest.json; rename the connector's integration id".into(),
        );
    }
    Ok(name)
}

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

/// One connector's part of a recording, as the manifest lists it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub system: System,
    pub records: BTreeMap<String, usize>,
    /// The pseudonym of the user name the credentials logged in as, in a
    /// pseudonymized recording: the replay logs in with it, so the
    /// credential check finds the recorded (pseudonymized) account.
    pub username: Option<String>,
}

/// The recorded pseudonym of the user name a connector logs in as, from a
/// manifest.
pub fn recorded_username<'a>(manifest: &'a Value, integration: &str) -> Option<&'a str> {
    manifest["integrations"][integration]["username"].as_str()
}

/// The manifest: when, by which version, and per integration its system
/// and its record counts.
pub fn manifest(
    recorded_at: &str,
    pseudonymized: bool,
    integrations: &BTreeMap<String, Recorded>,
) -> Value {
    let integrations: serde_json::Map<String, Value> = integrations
        .iter()
        .map(|(integration, recorded)| {
            let mut entry =
                json!({"system": recorded.system.as_str(), "records": recorded.records});
            if let (Some(username), Some(object)) = (&recorded.username, entry.as_object_mut()) {
                object.insert("username".into(), Value::String(username.clone()));
            }
            (integration.clone(), entry)
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

    /// A simulator data file: its records' personal values replaced, the
    /// `simulator` section kept as it is, since it holds the systems' own
    /// ids and the names of projects, statuses and roles, which are no
    /// one's personal data and which a data file's `name` fields may share
    /// a key with.
    pub fn data_file(&mut self, data: &mut Value, names: &[&str], logins: &[&str]) {
        if let Value::Object(object) = data {
            for (key, value) in object.iter_mut() {
                if key != "simulator" {
                    self.json(value, names, logins);
                }
            }
        }
    }

    /// An identities file's names and logins replaced (the first pass).
    pub fn identities(&mut self, identities: &mut Value) {
        self.json(identities, IDENTITY_NAMES, IDENTITY_LOGINS);
    }

    /// The second pass, once every file had its first: any string or key,
    /// anywhere, that is a login already replaced gets the same pseudonym.
    /// A system's id can be a login (a Jira Data Center user key made
    /// before Jira 8.4 is the user name), and a data file's readiness
    /// section refers to users by it.
    pub fn known(&self, data: &mut Value) {
        match data {
            Value::String(text) => {
                if let Some(pseudonym) = self.logins.get(&text.to_lowercase()) {
                    *text = with_case_of(text, pseudonym);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| self.known(item)),
            Value::Object(object) => {
                let renamed: Vec<(String, String)> = object
                    .keys()
                    .filter_map(|key| {
                        self.logins
                            .get(&key.to_lowercase())
                            .map(|p| (key.clone(), with_case_of(key, p)))
                    })
                    .collect();
                for (old, new) in renamed {
                    if let Some(value) = object.remove(&old) {
                        object.insert(new, value);
                    }
                }
                object.values_mut().for_each(|value| self.known(value));
            }
            _ => {}
        }
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
    fn an_id_that_is_a_login_gets_the_logins_pseudonym_everywhere() {
        let mut p = pseudonymizer();
        let mut data = json!({
            "users": [{"key": "dana.ross", "name": "dana.ross"}, {"key": "JIRAUSER1", "name": "pat"}],
            "simulator": {"readiness": {"groups": {"dana.ross": ["g"]}, "customers": ["dana.ross", "JIRAUSER1"]}}
        });
        p.data_file(&mut data, &[], &["name"]);
        p.known(&mut data);
        let dana = p.login("dana.ross");
        assert_eq!(data["users"][0]["key"], dana.as_str());
        assert_eq!(data["users"][1]["key"], "JIRAUSER1");
        assert_eq!(
            data["simulator"]["readiness"]["customers"][0],
            dana.as_str()
        );
        assert!(
            data["simulator"]["readiness"]["groups"]
                .get(&dana)
                .is_some()
        );
        assert!(!data.to_string().contains("dana.ross"));
    }

    #[test]
    fn a_data_files_simulator_section_is_kept() {
        let mut p = pseudonymizer();
        let mut data = json!({
            "users": [{"key": "JIRAUSER1", "name": "pat.lee"}],
            "simulator": {"readiness": {"projects": [{"name": "IT Help"}]}, "any": {"user": "JIRAUSER1"}}
        });
        p.data_file(&mut data, &[], &["name"]);
        assert_eq!(data["users"][0]["name"], p.login("pat.lee"));
        assert_eq!(
            data["simulator"]["readiness"]["projects"][0]["name"],
            "IT Help"
        );
    }

    #[test]
    fn an_identities_file_is_pseudonymized_with_the_same_mapping() {
        let mut p = pseudonymizer();
        let identities = json!({"users": [{
            "unique_record_id": "pat@acme.com", "full_name": "Pat Lee",
            "itsm": [{"integration": "snow", "external_id": "pat.lee", "itsm_user_id": "abc"}]
        }]});
        let mut identities = identities;
        p.identities(&mut identities);
        p.known(&mut identities);
        let text = toml::to_string(&identities).expect("TOML");
        assert!(!text.contains("pat"), "{text}");
        assert!(text.contains(&p.login("pat@acme.com")), "{text}");
        assert!(text.contains(&p.login("pat.lee")), "{text}");
        assert!(text.contains("itsm_user_id = \"abc\""), "{text}");
        assert!(text.contains("integration = \"snow\""), "{text}");
    }

    #[test]
    fn integration_ids_that_would_leave_the_folder_or_hit_the_manifest_are_refused() {
        assert_eq!(data_file_name("snow").as_deref(), Ok("snow.json"));
        assert_eq!(data_file_name("jira_hr-2").as_deref(), Ok("jira_hr-2.json"));
        for bad in ["../x", "a/b", "a\\b", ".hidden", "", "manifest", "c:x"] {
            assert!(data_file_name(bad).is_err(), "{bad}");
        }
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
