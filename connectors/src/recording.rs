//! What `itsmid record` keeps of a run (SPEC section 8): every answer a
//! connector read, as an [`Exchange`], from which the system's simulator
//! module builds its data file (`<system>::sim::from_recording`), so that
//! the recording replays through the same simulator as the demo.
//!
//! Only answers are kept, never a request's headers: no `Authorization`,
//! `authtoken` or cookie can reach a recording, and token endpoints are
//! not recorded at all. Paths are kept relative to the base URL, so a
//! context path or a portal does not matter on replay.

use serde_json::Value;

/// One answer the system gave: the request that asked (method, path under
/// the base URL, query) and the status and JSON body that came back.
#[derive(Debug, Clone, PartialEq)]
pub struct Exchange {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub status: u16,
    pub body: Value,
}

impl Exchange {
    /// A GET's answer: how tests and tools name one without a live system.
    pub fn get(path: &str, query: &[(&str, &str)], status: u16, body: Value) -> Exchange {
        Exchange {
            method: "GET".into(),
            path: path.into(),
            query: query
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            status,
            body,
        }
    }

    /// The first value of query parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Whether this is a successful answer to a GET of `path`.
    pub fn is_get(&self, path: &str) -> bool {
        self.method == "GET" && self.path == path && (200..300).contains(&self.status)
    }
}

/// The credential's owner as a recorded data file names it: the simulator
/// answers every request, with or without credentials, as this user.
pub fn any_credential(owner: Option<&str>) -> Value {
    let mut any = serde_json::Map::new();
    if let Some(owner) = owner {
        any.insert("user".into(), Value::String(owner.to_owned()));
    }
    serde_json::json!({ "any": Value::Object(any) })
}

/// Removes every value that is a URL, at any depth: avatars, photos and
/// links name the live host, which a recording must not.
pub fn drop_urls(object: &mut serde_json::Map<String, Value>) {
    object.retain(|_, value| !is_url(value));
    for value in object.values_mut() {
        drop_urls_in(value);
    }
}

fn drop_urls_in(value: &mut Value) {
    match value {
        Value::Object(object) => drop_urls(object),
        Value::Array(items) => {
            items.retain(|item| !is_url(item));
            items.iter_mut().for_each(drop_urls_in);
        }
        _ => {}
    }
}

fn is_url(value: &Value) -> bool {
    value.as_str().is_some_and(|text| {
        let text = text.trim_start().to_ascii_lowercase();
        text.starts_with("http://") || text.starts_with("https://")
    })
}

/// The value with every object's keys in order: the live answers' own key
/// order must not decide a recording's bytes.
pub fn sorted(value: Value) -> Value {
    match value {
        Value::Object(object) => {
            let mut entries: Vec<(String, Value)> = object.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(key, value)| (key, sorted(value)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}
