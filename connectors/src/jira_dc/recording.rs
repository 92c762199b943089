//! The simulator data that replays a recording of Jira Data Center (SPEC
//! section 8), in `fixtures/jira_dc.json`'s format: `users` holds every
//! user the check saw (`/user`, `/user/search` and its listing of the whole
//! directory, `/myself`, and the customer lists of the readiness probe),
//! `simulator.readiness` what the probe's answers said (Jira's own
//! `site.rs`), `simulator.version` the version `/serverInfo` named, so that
//! many keys are listed or asked one by one as they were, and
//! `simulator.any` the credentials' owner, whom the simulator answers as
//! for any credential, basic or bearer.
//!
//! A masked address (`pat at acme dot com`) is kept as the address it
//! stands for, which the connector reads it as and the search matches. A
//! hidden one cannot be recorded; the e-mail search term that found such
//! a user is kept as its hidden address instead.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::readiness::DATA_CENTER;
use super::{MYSELF_PATH, SEARCH_PATH, SERVER_INFO_PATH, USER_PATH};
use crate::ItsmUser;
use crate::jira::recording::site::Site;
use crate::jira::recording::users::{Shape, Source, Users, owner_record};
use crate::jira::sim::HIDDEN_EMAIL_KEY;
use crate::recording::{Exchange, any_credential};

/// Fields holding a person's name, pseudonymized word by word.
pub const NAME_FIELDS: &[&str] = &["displayName"];

/// Fields holding an e-mail address, a user name or an External ID,
/// pseudonymized whole: `name` is the login (and the External ID with
/// `lookup_by = "name"`). The hidden address is the e-mail search's term.
pub const LOGIN_FIELDS: &[&str] = &["emailAddress", "name", HIDDEN_EMAIL_KEY];

/// The search term that lists every user, not a search for one.
const EVERYONE: &str = ".";

/// Jira Data Center's User as the connector reads it (`wire::User`).
static SHAPE: Shape = Shape {
    id_field: "key",
    fields: &[
        "key",
        "name",
        "emailAddress",
        "displayName",
        "active",
        "timeZone",
    ],
    email: super::unmask,
    accepts: |record| {
        let key = record.get("key").and_then(Value::as_str);
        let name = record.get("name").and_then(Value::as_str);
        key.is_some_and(|key| super::parse_key(key).is_ok())
            && name.is_some_and(|name| !name.trim().is_empty())
    },
};

/// The data file that answers as the recorded system did.
pub fn sim_data(exchanges: &[Exchange], owner: Option<&ItsmUser>) -> Value {
    let mut users = Users::new(&SHAPE);
    for exchange in exchanges.iter().filter(|e| e.method == "GET") {
        read_users(exchange, &mut users);
    }
    let site = Site::read(&DATA_CENTER, exchanges);
    for customer in site.customer_records() {
        users.add(Source::Customer, customer);
    }
    if let Some(owner) = owner
        && !users.contains(owner.itsm_user_id.as_str())
    {
        // The user name is not in the owner as read: the key stands in.
        let key = owner.itsm_user_id.as_str();
        users.add(
            Source::Owner,
            &owner_record(&[("key", key), ("name", key)], owner),
        );
    }
    let records = unique_names(users.into_records());
    let known: BTreeSet<String> = records
        .iter()
        .filter_map(|user| user.get("key")?.as_str().map(str::to_owned))
        .collect();
    let owner = owner.map(|o| o.itsm_user_id.as_str());
    let mut simulator = any_credential(owner.filter(|key| known.contains(*key)));
    if let Some(object) = simulator.as_object_mut() {
        if let Some(version) = version(exchanges) {
            object.insert("version".into(), Value::String(version));
        }
        object.insert("readiness".into(), site.section(owner, &known));
    }
    serde_json::json!({"users": records, "simulator": simulator})
}

/// The user records of one answer of the user API.
fn read_users(exchange: &Exchange, users: &mut Users) {
    let path = exchange.path.as_str();
    if !exchange.is_get(path) {
        return;
    }
    let body = &exchange.body;
    match path {
        SEARCH_PATH => {
            let term = exchange
                .param("username")
                .map(str::trim)
                .filter(|t| !t.is_empty() && *t != EVERYONE);
            for user in body.as_array().into_iter().flatten() {
                match term {
                    Some(term) => users.add_search_result(term, user),
                    None => {
                        users.add(Source::UserApi, user);
                    }
                }
            }
        }
        USER_PATH | MYSELF_PATH => {
            users.add(Source::UserApi, body);
        }
        _ => {}
    }
}

/// The version `/serverInfo` named (`9.12.3`), which decides whether many
/// keys are matched against a listing of the directory.
fn version(exchanges: &[Exchange]) -> Option<String> {
    let info = &exchanges.iter().find(|e| e.is_get(SERVER_INFO_PATH))?.body;
    let numbers: Vec<String> = info
        .get("versionNumbers")
        .and_then(Value::as_array)
        .map(|numbers| {
            numbers
                .iter()
                .filter_map(Value::as_u64)
                .map(|n| n.to_string())
                .collect()
        })
        .unwrap_or_default();
    if !numbers.is_empty() {
        return Some(numbers.join("."));
    }
    let text = info.get("version")?.as_str()?;
    let readable = !text.is_empty()
        && text
            .split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
    readable.then(|| text.to_owned())
}

/// Drops a user whose user name an earlier user (by key) already has:
/// Jira's user names are unique without regard to case, and the simulator
/// refuses data where they are not.
fn unique_names(records: Vec<Map<String, Value>>) -> Vec<Map<String, Value>> {
    let mut names = BTreeSet::new();
    records
        .into_iter()
        .filter(|record| {
            let name = record
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            names.insert(name.to_lowercase())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn exchange(path: &str, query: &[(&str, &str)], body: Value) -> Exchange {
        Exchange::get(path, query, 200, body)
    }

    #[test]
    fn masked_addresses_are_kept_as_addresses_and_hidden_ones_as_the_search_term() {
        let exchanges = [
            exchange(
                SEARCH_PATH,
                &[("username", "pat@acme.com")],
                json!([{"self": "https://jira.acme.com/rest/api/2/user?username=pat.lee", "key": "JIRAUSER1",
                        "name": "pat.lee", "emailAddress": "pat at acme dot com", "active": true, "deleted": false}]),
            ),
            exchange(
                SEARCH_PATH,
                &[("username", "hana@acme.com")],
                json!([{"key": "JIRAUSER2", "name": "hana", "emailAddress": "hidden", "active": true}]),
            ),
            exchange(
                SEARCH_PATH,
                &[("username", "."), ("startAt", "0")],
                json!([{"key": "JIRAUSER3", "name": "kim", "active": false},
                       {"key": "JIRAUSER4", "name": "KIM", "active": true},
                       {"key": "JIRAUSER5", "active": true}]),
            ),
        ];
        let data = sim_data(&exchanges, None);
        assert_eq!(
            data["users"],
            json!([
                {"key": "JIRAUSER1", "name": "pat.lee", "emailAddress": "pat@acme.com", "active": true},
                {"key": "JIRAUSER2", "name": "hana", "active": true, HIDDEN_EMAIL_KEY: "hana@acme.com"},
                {"key": "JIRAUSER3", "name": "kim", "active": false},
            ])
        );
        super::super::sim::SimData::parse(&data.to_string()).expect("the simulator reads it");
    }

    #[test]
    fn the_version_is_read_from_server_info_when_it_was_asked() {
        assert_eq!(version(&[]), None);
        let info = |body| [exchange(SERVER_INFO_PATH, &[], body)];
        assert_eq!(
            version(&info(
                json!({"baseUrl": "https://jira.acme.com", "version": "9.12.3", "versionNumbers": [9, 12, 3]})
            )),
            Some("9.12.3".into())
        );
        assert_eq!(
            version(&info(json!({"version": "10.3"}))),
            Some("10.3".into())
        );
        assert_eq!(version(&info(json!({"version": "10.3-SNAPSHOT"}))), None);
    }
}
