//! The simulator data that replays a recording of this system (SPEC
//! section 8): built from the answers the check and the readiness probe
//! read, in the simulator's own data format.
//!
//! `result` holds every `sys_user` record the lookups and the credential
//! check read, once per sys_id and sorted by it, so that recording an
//! unchanged instance twice writes the same bytes. `tables` holds the
//! bot's role rows as the probe read them and the rows of the table it
//! read; `simulator.refused` holds each probe read the instance refused,
//! with its own status and error body, because that text reaches the
//! report. `simulator.any` answers every request as the credentials'
//! owner: a replay sends placeholder secrets.
//!
//! Reference links (`link`) name the live instance's address; references
//! are kept as their plain `value`, which is what the connector and the
//! simulator read.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::sim_tables::{ROLES, USERS};
use crate::ItsmUser;
use crate::recording::{Exchange, any_credential};

/// Fields holding a person's name, pseudonymized word by word.
pub const NAME_FIELDS: &[&str] = &["first_name", "last_name", "name"];

/// Fields holding an e-mail address, a user name or an External ID,
/// pseudonymized whole. `employee_number` is the usual `lookup_by` besides
/// the first two.
pub const LOGIN_FIELDS: &[&str] = &["user_name", "email", "employee_number"];

/// The data file that answers as the recorded system did.
pub fn sim_data(exchanges: &[Exchange], owner: Option<&ItsmUser>) -> Value {
    let mut recorded = Recorded::default();
    for exchange in exchanges.iter().filter(|e| e.method == "GET") {
        recorded.add(exchange);
    }
    recorded.into_data(owner)
}

/// A record with its keys in order, so that the output does not depend on
/// the order answers came in.
type Row = BTreeMap<String, Value>;

/// What the answers said, per table.
#[derive(Debug, Default)]
struct Recorded {
    /// Canonical sys_id -> the union of the fields read for it.
    users: BTreeMap<String, Row>,
    /// The bot's role rows, keyed by their own text: each row once.
    roles: BTreeMap<String, Row>,
    /// The probe's table -> the rows it read, keyed like `roles`.
    tables: BTreeMap<String, BTreeMap<String, Row>>,
    /// Table -> the error answer its read got.
    refused: BTreeMap<String, Value>,
}

impl Recorded {
    /// Files one answer under the table its path names. A read with
    /// `sysparm_no_count` is the probe's table read, whatever the table.
    fn add(&mut self, exchange: &Exchange) {
        let Some(table) = table_of(&exchange.path) else {
            return;
        };
        let table_read = exchange.param("sysparm_no_count").is_some();
        match table {
            USERS if !table_read => self.add_users(exchange),
            ROLES if !table_read => self.add_roles(exchange),
            _ => self.add_table_read(table, exchange),
        }
    }

    /// A v1 "no match" (404) adds nothing; a record without a usable
    /// sys_id is left out, as the connector leaves it out.
    fn add_users(&mut self, exchange: &Exchange) {
        if !succeeded(exchange) {
            return;
        }
        for row in rows(&exchange.body) {
            let Some(sys_id) = row
                .get("sys_id")
                .and_then(Value::as_str)
                .and_then(|id| super::parse_sys_id(id).ok())
            else {
                continue;
            };
            let merged = self.users.entry(sys_id.as_str().to_owned()).or_default();
            merged.extend(row);
            merged.insert("sys_id".into(), Value::String(sys_id.into_string()));
        }
    }

    fn add_roles(&mut self, exchange: &Exchange) {
        if !succeeded(exchange) {
            self.refused.insert(ROLES.into(), refusal(exchange));
            return;
        }
        for row in rows(&exchange.body) {
            self.roles.insert(row_key(&row), row);
        }
    }

    /// The probe's table read: its rows make the table exist and readable;
    /// an error answer is replayed as it came. `sys_user` always exists and
    /// is never refused, or the lookups would fail too.
    fn add_table_read(&mut self, table: &str, exchange: &Exchange) {
        if !succeeded(exchange) {
            if table != USERS {
                self.refused.insert(table.to_owned(), refusal(exchange));
            }
            return;
        }
        if table == USERS || table == ROLES {
            return;
        }
        let read = self.tables.entry(table.to_owned()).or_default();
        for row in rows(&exchange.body) {
            read.insert(row_key(&row), row);
        }
    }

    fn into_data(self, owner: Option<&ItsmUser>) -> Value {
        let result: Vec<Value> = self.users.into_values().map(object).collect();
        let mut tables = Map::new();
        tables.insert(
            ROLES.into(),
            Value::Array(role_rows(self.roles, &result_ids(&result))),
        );
        for (name, read) in self.tables {
            tables.insert(name, Value::Array(read.into_values().map(object).collect()));
        }
        let mut simulator = match any_credential(owner.map(|o| o.itsm_user_id.as_str())) {
            Value::Object(any) => any,
            _ => Map::new(),
        };
        if !self.refused.is_empty() {
            simulator.insert(
                "refused".into(),
                Value::Object(self.refused.into_iter().collect()),
            );
        }
        json!({ "result": result, "tables": tables, "simulator": simulator })
    }
}

/// The role rows the simulator accepts: each names a user of `result` and
/// a role. Any other row is one the connector skips as not the bot's.
fn role_rows(roles: BTreeMap<String, Row>, users: &[String]) -> Vec<Value> {
    roles
        .into_values()
        .filter(|row| {
            let text = |field: &str| row.get(field).and_then(Value::as_str).unwrap_or_default();
            users.iter().any(|id| id.eq_ignore_ascii_case(text("user")))
                && !text("role.name").is_empty()
        })
        .map(object)
        .collect()
}

fn result_ids(result: &[Value]) -> Vec<String> {
    result
        .iter()
        .filter_map(|user| user.get("sys_id").and_then(Value::as_str))
        .map(str::to_owned)
        .collect()
}

/// The table a Table API path names (`/api/now[/v1|/v2]/table/<name>`).
fn table_of(path: &str) -> Option<&str> {
    let rest = path.trim_end_matches('/').strip_prefix("/api/now")?;
    let rest = rest
        .strip_prefix("/v1")
        .or_else(|| rest.strip_prefix("/v2"))
        .unwrap_or(rest);
    let table = rest.strip_prefix("/table/")?;
    Some(table.split_once('/').map_or(table, |(name, _)| name))
}

fn succeeded(exchange: &Exchange) -> bool {
    (200..300).contains(&exchange.status)
}

/// An error answer as the simulator replays it.
fn refusal(exchange: &Exchange) -> Value {
    json!({ "status": exchange.status, "body": exchange.body })
}

/// The rows of a Table API answer (`result`: a list, or one record), each
/// without reference links.
fn rows(body: &Value) -> Vec<Row> {
    let rows = match body.get("result") {
        Some(Value::Array(rows)) => rows.iter().collect(),
        Some(row @ Value::Object(_)) => vec![row],
        _ => Vec::new(),
    };
    rows.into_iter()
        .filter_map(Value::as_object)
        .map(|row| {
            row.iter()
                .map(|(field, value)| (field.clone(), plain(value)))
                .collect()
        })
        .collect()
}

/// A reference (`{"link": ..., "value": ...}`, or with `display_value`) as
/// its plain value: the link names the live instance.
fn plain(value: &Value) -> Value {
    match value {
        Value::Object(reference) => match reference.get("value") {
            Some(inner) => inner.clone(),
            None => Value::Object(
                reference
                    .iter()
                    .filter(|(key, _)| *key != "link")
                    .map(|(key, inner)| (key.clone(), plain(inner)))
                    .collect(),
            ),
        },
        other => other.clone(),
    }
}

/// A row's own text, which orders and deduplicates rows without an id.
fn row_key(row: &Row) -> String {
    serde_json::to_string(row).unwrap_or_default()
}

fn object(row: Row) -> Value {
    Value::Object(row.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str, query: &[(&str, &str)], status: u16, body: Value) -> Exchange {
        Exchange::get(path, query, status, body)
    }

    const BOT: &str = "6816f79cc0a8016401c5a33be04be441";

    #[test]
    fn references_keep_their_value_and_lose_their_link() {
        let answer = get(
            "/api/now/table/sys_user",
            &[],
            200,
            json!({"result": [{"sys_id": BOT.to_uppercase(), "user_name": "bot",
                "manager": {"link": "https://acme.service-now.com/api/now/table/sys_user/x", "value": "x"}}]}),
        );
        let data = sim_data(&[answer], None);
        assert_eq!(
            data["result"],
            json!([{"manager": "x", "sys_id": BOT, "user_name": "bot"}])
        );
        assert!(!data.to_string().contains("service-now.com"));
    }

    #[test]
    fn refused_reads_keep_their_status_and_body_and_sys_user_is_never_refused() {
        let denied = json!({"error": {"message": "User Not Authorized", "detail": "ACL"}, "status": "failure"});
        let exchanges = [
            get(
                "/api/now/table/sys_user_has_role",
                &[("sysparm_query", "x")],
                403,
                denied.clone(),
            ),
            get(
                "/api/now/table/u_tickets",
                &[("sysparm_no_count", "true")],
                401,
                denied.clone(),
            ),
            get(
                "/api/now/table/sys_user",
                &[("sysparm_no_count", "true")],
                403,
                denied.clone(),
            ),
        ];
        let data = sim_data(&exchanges, None);
        assert_eq!(
            data["simulator"]["refused"],
            json!({
                "sys_user_has_role": {"status": 403, "body": denied},
                "u_tickets": {"status": 401, "body": denied},
            })
        );
        assert_eq!(data["tables"], json!({"sys_user_has_role": []}));
    }

    #[test]
    fn role_rows_of_users_not_read_are_left_out() {
        let exchanges = [
            get(
                "/api/now/table/sys_user",
                &[],
                200,
                json!({"result": [{"sys_id": BOT}]}),
            ),
            get(
                "/api/now/table/sys_user_has_role",
                &[],
                200,
                json!({"result": [
                    {"user": BOT, "role.name": "itil", "state": "active"},
                    {"user": "a8f98bb0eb32010045e1a5115206fe3a", "role.name": "itil", "state": "active"},
                    {"user": BOT, "role.name": "itil", "state": "active"},
                ]}),
            ),
        ];
        let data = sim_data(&exchanges, None);
        assert_eq!(
            data["tables"]["sys_user_has_role"],
            json!([{"role.name": "itil", "state": "active", "user": BOT}])
        );
    }

    #[test]
    fn only_table_api_paths_name_a_table() {
        assert_eq!(table_of("/api/now/table/incident"), Some("incident"));
        assert_eq!(table_of("/api/now/v1/table/sys_user/abc"), Some("sys_user"));
        assert_eq!(table_of("/oauth_token.do"), None);
    }
}
