//! The ServiceNow simulator's tables: `sys_user` (the fixture's `result`),
//! the other tables of the fixture's `tables` (rows in the Table API's own
//! shape, a dot-walked field such as `role.name` under its dotted name),
//! the standard task tables, who may read each one (`simulator.acl`: a
//! table and the roles any of which grants read), and the tables whose
//! reads a recording saw refused (`simulator.refused`: a table and the
//! error answer it gave, replayed as it came), so that a fixture can
//! express each readiness problem and each "cannot tell" case.
//!
//! A fixture without any of this answers as a ready bot: every user holds
//! `itil` (the default role) in an active `sys_user_has_role` row, and the
//! standard task tables exist, empty and readable by everyone. Never
//! invents anything else: a table that is neither standard nor in the
//! fixture does not exist.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::sim::{Caller, InvalidSimData};

/// Tables every instance has, empty unless the fixture fills them.
const STANDARD_TABLES: [&str; 10] = [
    "incident",
    "problem",
    "change_request",
    "sc_request",
    "sc_req_item",
    "sc_task",
    "task",
    "kb_knowledge",
    "sys_user_group",
    "sys_user_grmember",
];

pub(super) const USERS: &str = "sys_user";
pub(super) const ROLES: &str = "sys_user_has_role";

/// The role every user holds when the fixture lists no role rows: the
/// default of `[connectors.readiness] roles`.
const DEFAULT_ROLE: &str = "itil";

/// The simulator-only keys of the fixture's `simulator` section; the rest
/// are the credentials.
#[derive(Debug, Default)]
pub(super) struct Access {
    /// Table -> the roles any of which lets a caller read it; a table not
    /// named here is readable by every caller.
    pub acl: BTreeMap<String, Vec<String>>,
    /// Table -> the error every read of it gets, whoever asks. A recording
    /// keeps the instance's own status and body this way, because its error
    /// text reaches the report and the simulator's own wording would differ.
    pub refused: BTreeMap<String, Refusal>,
}

/// An error answer as an instance gave it: a 4xx or 5xx status and its body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Refusal {
    pub status: u16,
    pub body: Value,
}

/// One table's rows and columns.
#[derive(Debug, Clone, Default)]
pub(super) struct Table {
    pub records: Vec<Map<String, Value>>,
    /// Every column some row has: the table's schema, as far as the
    /// simulator knows it. Conditions on other fields are dropped.
    pub columns: BTreeSet<String>,
}

impl Table {
    fn new(records: Vec<Map<String, Value>>) -> Table {
        let columns = records
            .iter()
            .flat_map(|record| record.keys().cloned())
            .collect();
        Table { records, columns }
    }
}

/// Every table the simulated instance has, and its read ACLs.
#[derive(Debug, Clone)]
pub(super) struct Tables {
    tables: BTreeMap<String, Table>,
    acl: BTreeMap<String, Vec<String>>,
    refused: BTreeMap<String, Refusal>,
}

impl Tables {
    /// Builds the instance from the fixture's `result` (`sys_user`, already
    /// checked), its `tables` and its ACLs, refusing what would make the
    /// simulator lie quietly: a second `sys_user`, a table name no instance
    /// could have, a role row of nobody, an ACL on a table that does not
    /// exist or that no role could satisfy, a refusal that is no error.
    pub fn build(
        users: Vec<Map<String, Value>>,
        mut extra: BTreeMap<String, Vec<Map<String, Value>>>,
        access: Access,
    ) -> Result<Tables, InvalidSimData> {
        if extra.contains_key(USERS) {
            return Err(InvalidSimData(
                "tables.sys_user: the sys_user records are the file's `result`; list them there"
                    .into(),
            ));
        }
        for name in extra.keys() {
            if !is_table_name(name) {
                return Err(InvalidSimData(format!(
                    "tables.{name}: a ServiceNow table name has lower-case letters, digits and \
                     `_` only"
                )));
            }
        }
        let ids: BTreeSet<String> = users
            .iter()
            .filter_map(|user| user.get("sys_id").and_then(Value::as_str))
            .map(str::to_ascii_lowercase)
            .collect();
        let roles = match extra.remove(ROLES) {
            Some(rows) => {
                for (index, row) in rows.iter().enumerate() {
                    let user = text(row, "user").to_ascii_lowercase();
                    if !ids.contains(&user) || text(row, "role.name").is_empty() {
                        return Err(InvalidSimData(format!(
                            "tables.sys_user_has_role[{index}]: each row needs `user`, the \
                             sys_id of a record of `result`, and `role.name`"
                        )));
                    }
                }
                rows
            }
            None => users.iter().map(default_role_row).collect(),
        };
        let mut tables: BTreeMap<String, Table> = STANDARD_TABLES
            .iter()
            .map(|name| ((*name).to_owned(), Table::default()))
            .collect();
        tables.extend(
            extra
                .into_iter()
                .map(|(name, rows)| (name, Table::new(rows))),
        );
        tables.insert(ROLES.to_owned(), Table::new(roles));
        tables.insert(USERS.to_owned(), Table::new(users));
        for (table, roles) in &access.acl {
            if !tables.contains_key(table) {
                return Err(InvalidSimData(format!(
                    "simulator.acl.{table}: no such table; name a table of `tables` or a \
                     standard one ({})",
                    STANDARD_TABLES.join(", ")
                )));
            }
            if roles.is_empty() {
                return Err(InvalidSimData(format!(
                    "simulator.acl.{table}: list at least one role that grants read"
                )));
            }
        }
        check_refusals(&access.refused)?;
        Ok(Tables {
            tables,
            acl: access.acl,
            refused: access.refused,
        })
    }

    /// The error every read of `table` gets, if the data says so.
    pub fn refusal(&self, table: &str) -> Option<&Refusal> {
        self.refused.get(table)
    }

    pub fn get(&self, name: &str) -> Option<&Table> {
        self.tables.get(name)
    }

    /// The `sys_user` table.
    pub fn users(&self) -> &Table {
        self.tables
            .get(USERS)
            .expect("`build` always inserts the sys_user table")
    }

    /// Whether the caller may read `table`: no ACL on it, or the caller
    /// holds one of its roles in an active role row.
    pub fn may_read(&self, table: &str, caller: &Caller) -> bool {
        let Some(granting) = self.acl.get(table) else {
            return true;
        };
        let Some(sys_id) = self.caller_sys_id(caller) else {
            return false;
        };
        self.tables.get(ROLES).is_some_and(|roles| {
            roles.records.iter().any(|row| {
                text(row, "user").eq_ignore_ascii_case(&sys_id)
                    && text(row, "state").eq_ignore_ascii_case("active")
                    && granting
                        .iter()
                        .any(|role| role.eq_ignore_ascii_case(&text(row, "role.name")))
            })
        })
    }

    /// The sys_id of the user a credential acts as: its `user` (a sys_id
    /// or a `user_name`), else a basic-auth login's own `user_name`.
    fn caller_sys_id(&self, caller: &Caller) -> Option<String> {
        let name = match caller {
            Caller::Basic { username, user } => user.as_deref().unwrap_or(username),
            Caller::Bearer { user } => user.as_deref()?,
        };
        self.users()
            .records
            .iter()
            .find(|record| {
                text(record, "sys_id").eq_ignore_ascii_case(name)
                    || text(record, "user_name").eq_ignore_ascii_case(name)
            })
            .map(|record| text(record, "sys_id").to_ascii_lowercase())
    }
}

/// The role row a user has when the fixture lists none: [`DEFAULT_ROLE`],
/// active, granted directly. Its sys_id is the user's, reversed.
fn default_role_row(user: &Map<String, Value>) -> Map<String, Value> {
    let sys_id = text(user, "sys_id");
    let mut row = Map::new();
    row.insert(
        "sys_id".into(),
        Value::String(sys_id.chars().rev().collect()),
    );
    row.insert("user".into(), Value::String(sys_id));
    row.insert("role.name".into(), DEFAULT_ROLE.into());
    row.insert("state".into(), "active".into());
    row.insert("inherited".into(), "false".into());
    row
}

/// Refuses refusals that would answer as no instance does: a table name
/// that cannot reach the path, the users' own table (the lookups would
/// never answer), or a status that is not an error.
fn check_refusals(refused: &BTreeMap<String, Refusal>) -> Result<(), InvalidSimData> {
    for (table, refusal) in refused {
        if !is_table_name(table) || table == USERS {
            return Err(InvalidSimData(format!(
                "simulator.refused.{table}: name a table other than sys_user, in lower-case \
                 letters, digits and `_`"
            )));
        }
        if !(400..=599).contains(&refusal.status) {
            return Err(InvalidSimData(format!(
                "simulator.refused.{table}.status is {}; a refusal is a 4xx or 5xx status",
                refusal.status
            )));
        }
    }
    Ok(())
}

/// A field's text: a string, or a reference object's `value`; else empty.
fn text(record: &Map<String, Value>, field: &str) -> String {
    match record.get(field) {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Object(inner)) => inner
            .get("value")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        _ => String::new(),
    }
}

fn is_table_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}
