//! The simulator data that replays a recording of this system (SPEC
//! section 8): built from the answers the check and the readiness probe
//! read, in the simulator's own data format (`fixtures/manageengine.json`).
//!
//! Every user a `search_criteria` answer carried is kept once, by id, in
//! numeric id order and with its keys sorted, so that recording an
//! unchanged system twice writes the same bytes. The lists decide a user's
//! fields, as the lookups read them there; the one user the readiness probe
//! read by id is added only where no list carried it. A refusal of that read
//! (4002 forbidden, 4007 not found) becomes the data's `user_details`, so the
//! probe cannot tell again on replay. Values that are URLs are dropped: they
//! name the live host.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::USERS_PATH;
use super::wire::ResponseStatus;
use crate::ItsmUser;
use crate::recording::{Exchange, any_credential, drop_urls, sorted};

type Object = Map<String, Value>;

/// Fields holding a person's name, pseudonymized word by word.
pub const NAME_FIELDS: &[&str] = &["first_name", "middle_name", "last_name", "name"];

/// Fields holding an e-mail address, a user name or an External ID,
/// pseudonymized whole: the fields `lookup_by` names in practice.
pub const LOGIN_FIELDS: &[&str] = &["email_id", "login_name", "employee_id"];

/// `response_status` codes of a refused read of one user.
const FORBIDDEN: u64 = 4002;
const NOT_FOUND: u64 = 4007;

/// The data file that answers as the recorded system did, to any
/// credentials or none; `owner`, where known, is named as the simulator's
/// user, as an `authtoken` entry names its user.
pub fn sim_data(exchanges: &[Exchange], owner: Option<&ItsmUser>) -> Value {
    let mut listed = Users::default();
    let mut read_alone = Users::default();
    let mut user_details = None;
    for exchange in exchanges.iter().filter(|e| e.method == "GET") {
        match route(&exchange.path) {
            Some(Route::List) if is_success(exchange) => listed.add_all(listed_users(exchange)),
            Some(Route::One) => match one_user(exchange) {
                OneUser::Record(user) => read_alone.add(user),
                OneUser::Refused(details) => user_details = user_details.or(Some(details)),
                OneUser::Unreadable => {}
            },
            Some(Route::List) | None => {}
        }
    }
    listed.fill_from(read_alone);
    let mut data = json!({
        "users": listed.into_list(),
        "simulator": any_credential(owner.map(|owner| owner.itsm_user_id.as_str())),
    });
    if let (Some(details), Some(object)) = (user_details, data.as_object_mut()) {
        object.insert("user_details".into(), Value::from(details));
    }
    data
}

/// Which users route an answer came from, under the base URL (a Cloud
/// portal's `/app/<portal>` is not part of the recorded path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    List,
    One,
}

fn route(path: &str) -> Option<Route> {
    let path = path.trim_end_matches('/');
    if path == USERS_PATH {
        return Some(Route::List);
    }
    let id = path.strip_prefix(USERS_PATH)?.strip_prefix('/')?;
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())).then_some(Route::One)
}

/// A 2xx whose `response_status`, if any, reports no failure.
fn is_success(exchange: &Exchange) -> bool {
    (200..300).contains(&exchange.status) && refusal(&exchange.body).is_none()
}

/// The failed `response_status` of an answer, as the connector reads one.
fn refusal(body: &Value) -> Option<ResponseStatus> {
    ResponseStatus::read(body)
        .filter(|status| status.failed || status.codes.iter().any(|&code| code >= 4000))
}

fn listed_users(exchange: &Exchange) -> Vec<Object> {
    exchange
        .body
        .get("users")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .cloned()
        .collect()
}

/// What the readiness probe's read of one user answered.
enum OneUser {
    Record(Object),
    /// The simulator's `user_details` that answers the same refusal.
    Refused(&'static str),
    Unreadable,
}

fn one_user(exchange: &Exchange) -> OneUser {
    let refused = refusal(&exchange.body);
    let has = |code: u64| refused.as_ref().is_some_and(|status| status.has(code));
    if has(FORBIDDEN) || (refused.is_none() && exchange.status == 403) {
        return OneUser::Refused("forbidden");
    }
    if has(NOT_FOUND) || (refused.is_none() && exchange.status == 404) {
        return OneUser::Refused("missing");
    }
    if refused.is_some() || !(200..300).contains(&exchange.status) {
        return OneUser::Unreadable;
    }
    match exchange.body.get("user") {
        Some(Value::Object(user)) => OneUser::Record(user.clone()),
        _ => OneUser::Unreadable,
    }
}

/// Users by canonical id, ordered as numbers: shorter first, then by digit.
#[derive(Default)]
struct Users(BTreeMap<(usize, String), Object>);

impl Users {
    /// Keeps the first answer's record of each id; a record without a
    /// readable id is dropped, as the connector cannot use it either.
    fn add(&mut self, mut user: Object) {
        let Some(id) = user_id(&user) else {
            return;
        };
        drop_urls(&mut user);
        self.0.entry((id.len(), id)).or_insert(user);
    }

    fn add_all(&mut self, users: Vec<Object>) {
        for user in users {
            self.add(user);
        }
    }

    /// Adds the users of `other` whose id this set does not hold.
    fn fill_from(&mut self, other: Users) {
        for (id, user) in other.0 {
            self.0.entry(id).or_insert(user);
        }
    }

    /// The users in id order, each with its keys sorted.
    fn into_list(self) -> Vec<Value> {
        self.0
            .into_values()
            .map(|user| sorted(Value::Object(user)))
            .collect()
    }
}

/// The canonical id, from a string of digits or a whole number, as the
/// connector and the simulator read it.
fn user_id(user: &Object) -> Option<String> {
    let text = match user.get("id")? {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.as_u64()?.to_string(),
        _ => return None,
    };
    super::parse_id(&text).ok().map(|id| id.as_str().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str, status: u16, body: Value) -> Exchange {
        Exchange::get(path, &[], status, body)
    }

    fn list(users: Value) -> Exchange {
        get(
            "/api/v3/users",
            200,
            json!({"response_status": [{"status_code": 2000, "status": "success"}],
                   "list_info": {"has_more_rows": false}, "users": users}),
        )
    }

    fn ids(data: &Value) -> Vec<String> {
        data["users"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|user| value_text(&user["id"]))
            .collect()
    }

    fn value_text(value: &Value) -> String {
        value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_owned)
    }

    #[test]
    fn users_are_kept_once_in_numeric_id_order_and_the_list_decides_their_fields() {
        let exchanges = [
            list(json!([{"id": "123640000000142502", "name": "Pat"}, {"id": 99, "name": "Short"}])),
            list(json!([{"id": "0099", "name": "Again"}, {"email_id": "no-id@acme.com"}])),
            get(
                "/api/v3/users/123640000000142502",
                200,
                json!({"response_status": {"status_code": 2000, "status": "success"},
                       "user": {"id": "123640000000142502", "is_technician": true}}),
            ),
            get(
                "/api/v3/users/7",
                200,
                json!({"user": {"id": "7", "is_technician": false}}),
            ),
        ];
        let data = sim_data(&exchanges, None);
        assert_eq!(ids(&data), ["7", "99", "123640000000142502"]);
        assert_eq!(data["users"][1]["name"], "Short");
        assert_eq!(
            data["users"][2],
            json!({"id": "123640000000142502", "name": "Pat"})
        );
        assert_eq!(data["users"][0]["is_technician"], false);
        assert_eq!(data["simulator"], json!({"any": {}}));
        assert!(data.get("user_details").is_none());
    }

    #[test]
    fn a_refused_read_of_one_user_becomes_user_details() {
        let failed = |code: u64| {
            json!({"response_status": {"status_code": 4000, "status": "failed",
                   "messages": [{"status_code": code, "type": "failed"}]}})
        };
        for (status, code, details) in [(403, 4002, "forbidden"), (404, 4007, "missing")] {
            let exchanges = [get("/api/v3/users/7", status, failed(code))];
            assert_eq!(sim_data(&exchanges, None)["user_details"], details);
        }
        let refused_list = [get("/api/v3/users", 200, failed(4015))];
        assert_eq!(sim_data(&refused_list, None)["users"], json!([]));
    }

    #[test]
    fn urls_are_dropped_and_the_owner_is_the_simulator_s_user() {
        let owner: ItsmUser = serde_json::from_value(json!({"itsm_user_id": "5",
            "external_id": null, "active": true, "first_name": null, "last_name": null,
            "full_name": null}))
        .expect("a user");
        let exchanges = [list(
            json!([{"id": "5", "photo_url": "https://sdp.acme.com/p/5",
            "department": {"name": "IT", "link": "http://sdp.acme.com/d/1"}}]),
        )];
        let data = sim_data(&exchanges, Some(&owner));
        assert_eq!(
            data["users"],
            json!([{"department": {"name": "IT"}, "id": "5"}])
        );
        assert_eq!(data["simulator"], json!({"any": {"user": "5"}}));
    }
}
