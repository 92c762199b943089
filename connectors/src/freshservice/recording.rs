//! The simulator data that replays a recording of this system (SPEC
//! section 8): built from the answers the check and the readiness probe
//! read, in the simulator's own data format (`fixtures/freshservice.json`).
//!
//! Every requester and agent any answer carried is kept once, by id, in id
//! order and with its keys sorted, so that recording an unchanged system
//! twice writes the same bytes. The API key's agent comes from `agents/me`
//! first: its `occasional` and `roles` are what the readiness probe judged,
//! and where that answer left them out they are written as `null`, which the
//! simulator serves as written, rather than left for it to fill in as a
//! ready bot. Values that are URLs are dropped: they name the live host.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::ItsmUser;
use crate::recording::{Exchange, any_credential, drop_urls, sorted};

type Object = Map<String, Value>;

/// Fields holding a person's name, pseudonymized word by word.
pub const NAME_FIELDS: &[&str] = &["first_name", "last_name"];

/// Fields holding an e-mail address, a user name or an External ID,
/// pseudonymized whole: requesters' `primary_email` and `secondary_emails`
/// (the `email=` parameter finds both), agents' `email`, and the
/// `external_id` a directory sync writes.
pub const LOGIN_FIELDS: &[&str] = &["primary_email", "secondary_emails", "email", "external_id"];

/// Fields of the API key's agent that the readiness probe reads; absent
/// ones are written as `null` so that the simulator does not fill them in.
const READINESS_FIELDS: [&str; 2] = ["occasional", "roles"];

/// The data file that answers as the recorded system did: the agent the
/// API key belongs to answers `agents/me` for any key, or for none.
pub fn sim_data(exchanges: &[Exchange], owner: Option<&ItsmUser>) -> Value {
    let mut requesters = Records::default();
    let mut agents = Records::default();
    let mut me_id = None;
    // `agents/me` first: where another answer holds the same agent, the
    // fields the probe judged stay as `agents/me` gave them.
    for exchange in exchanges.iter().filter(|e| route(e) == Some(Route::Me)) {
        for mut agent in records(exchange, Route::Me) {
            for field in READINESS_FIELDS {
                agent.entry(field).or_insert(Value::Null);
            }
            me_id = me_id.or(agents.add(agent));
        }
    }
    for exchange in exchanges {
        match route(exchange) {
            Some(route @ Route::Requesters) => requesters.add_all(records(exchange, route)),
            Some(route @ Route::Agents) => agents.add_all(records(exchange, route)),
            Some(Route::Me) | None => {}
        }
    }
    let user = owner
        .map(|owner| owner.itsm_user_id.as_str().to_owned())
        .or_else(|| me_id.map(|id| id.to_string()));
    json!({
        "requesters": requesters.into_list(),
        "agents": agents.into_list(),
        "simulator": any_credential(user.as_deref()),
    })
}

/// Which records an answer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Requesters,
    Agents,
    Me,
}

/// The route of a successful GET under `/api/v2/`, by list or by id.
fn route(exchange: &Exchange) -> Option<Route> {
    if exchange.method != "GET" || !(200..300).contains(&exchange.status) {
        return None;
    }
    let rest = exchange
        .path
        .trim_end_matches('/')
        .strip_prefix("/api/v2/")?;
    let (list, one) = rest.split_once('/').unwrap_or((rest, ""));
    match (list, one) {
        ("requesters", _) => Some(Route::Requesters),
        ("agents", "me") => Some(Route::Me),
        ("agents", _) => Some(Route::Agents),
        _ => None,
    }
}

/// The records of one answer: a list envelope, a single-record envelope,
/// or for `agents/me` also a bare agent, as the connector reads them.
fn records(exchange: &Exchange, route: Route) -> Vec<Object> {
    let (many, one) = match route {
        Route::Requesters => ("requesters", "requester"),
        Route::Agents | Route::Me => ("agents", "agent"),
    };
    let body = &exchange.body;
    if let Some(list) = body.get(many).and_then(Value::as_array) {
        return list.iter().filter_map(Value::as_object).cloned().collect();
    }
    match (body.get(one), route) {
        (Some(Value::Object(record)), _) => vec![record.clone()],
        (None, Route::Me) => body.as_object().cloned().into_iter().collect(),
        _ => Vec::new(),
    }
}

/// One list's records by id; the first answer to carry a field decides it.
#[derive(Default)]
struct Records(BTreeMap<u64, Object>);

impl Records {
    /// Adds a record under its numeric id (written back as a JSON number,
    /// as the simulator requires); `None`, and nothing kept, without one:
    /// the connector cannot use such a record either.
    fn add(&mut self, mut record: Object) -> Option<u64> {
        let id = record_id(&record)?;
        record.insert("id".into(), Value::from(id));
        drop_urls(&mut record);
        let kept = self.0.entry(id).or_default();
        for (field, value) in record {
            kept.entry(field).or_insert(value);
        }
        Some(id)
    }

    fn add_all(&mut self, records: Vec<Object>) {
        for record in records {
            self.add(record);
        }
    }

    /// The records in id order, each with its keys sorted.
    fn into_list(self) -> Vec<Value> {
        self.0
            .into_values()
            .map(|record| sorted(Value::Object(record)))
            .collect()
    }
}

/// The id as the connector reads it: a JSON integer, or a string of digits.
fn record_id(record: &Object) -> Option<u64> {
    match record.get("id")? {
        Value::Number(number) => number.as_u64(),
        Value::String(text) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
            text.parse().ok()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str, status: u16, body: Value) -> Exchange {
        Exchange::get(path, &[], status, body)
    }

    #[test]
    fn agents_me_decides_what_the_probe_read_and_absent_fields_stay_absent() {
        let exchanges = [
            get(
                "/api/v2/agents",
                200,
                json!({"agents": [{"id": 7, "email": "bot@acme.com", "occasional": false,
                                   "roles": [{"role_id": 1, "assignment_scope": "entire_helpdesk"}]}]}),
            ),
            get(
                "/api/v2/agents/me",
                200,
                json!({"agent": {"id": "7", "email": "bot@acme.com", "active": true}}),
            ),
        ];
        let data = sim_data(&exchanges, None);
        assert_eq!(
            data["agents"],
            json!([{"active": true, "email": "bot@acme.com", "id": 7, "occasional": null,
                    "roles": null}])
        );
        assert_eq!(data["simulator"], json!({"any": {"user": "7"}}));
        assert_eq!(data["requesters"], json!([]));
    }

    #[test]
    fn records_are_kept_once_in_id_order_from_lists_and_single_answers() {
        let exchanges = [
            get(
                "/api/v2/requesters",
                200,
                json!({"requesters": [{"id": 9, "primary_email": "b@x.com"},
                                      {"id": 3, "primary_email": "a@x.com"}]}),
            ),
            get(
                "/api/v2/requesters/3",
                200,
                json!({"requester": {"id": 3, "primary_email": "a@x.com", "active": false}}),
            ),
            get("/api/v2/requesters/4", 404, json!({})),
            get("/api/v2/agents/5", 200, json!({"agent": {"id": 5}})),
            get(
                "/api/v2/requesters",
                200,
                json!({"requesters": [{"email": "no id"}]}),
            ),
        ];
        let data = sim_data(&exchanges, None);
        let ids: Vec<u64> = data["requesters"]
            .as_array()
            .expect("a list")
            .iter()
            .filter_map(|record| record["id"].as_u64())
            .collect();
        assert_eq!(ids, [3, 9]);
        assert_eq!(data["requesters"][0]["active"], false);
        assert_eq!(data["agents"], json!([{"id": 5}]));
        assert_eq!(data["simulator"], json!({"any": {}}));
    }

    #[test]
    fn urls_are_dropped_at_any_depth_and_other_values_kept() {
        let exchanges = [get(
            "/api/v2/requesters/1",
            200,
            json!({"requester": {"id": 1, "primary_email": "a@x.com",
                "avatar": "https://acme.freshservice.com/a.png",
                "profile": {"link": "HTTP://acme.freshservice.com/r/1", "title": "x"},
                "links": ["https://acme.freshservice.com/1", "kept"]}}),
        )];
        let data = sim_data(&exchanges, None);
        assert_eq!(
            data["requesters"][0],
            json!({"id": 1, "links": ["kept"], "primary_email": "a@x.com",
                   "profile": {"title": "x"}})
        );
    }

    #[test]
    fn the_owner_named_by_the_check_is_the_simulator_s_user() {
        let owner: ItsmUser = serde_json::from_value(json!({"itsm_user_id": "19000000003",
            "external_id": null, "active": true, "first_name": null, "last_name": null,
            "full_name": null}))
        .expect("a user");
        let data = sim_data(&[], Some(&owner));
        assert_eq!(data["simulator"], json!({"any": {"user": "19000000003"}}));
    }
}
