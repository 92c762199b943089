//! ServiceNow bot readiness (SPEC section 5.1): the bot holds every role of
//! `[connectors.readiness] roles` (its active `sys_user_has_role` rows) and
//! can read the configured table; and the documented settings of the bot's
//! own `sys_user` record (BOT_SETTING), which the lookups already read.
//!
//! Sends only GET requests, at most two on a bot with fewer than
//! [`ROLE_PAGE`] active roles: one page of role rows, one row of the table.
//! Reads 400, 401, 403 and 404 itself and never fails the system: what it
//! cannot tell (a refused or empty role read, an unknown table, a
//! transport failure) is a reason, never a finding. No server-side filter
//! is trusted: every role row is checked again for the bot and `active`.

use std::collections::BTreeSet;

use reqwest::StatusCode;

use super::wire::{ErrorBody, Record, TableList};
use super::{Client, has_next_page, parse_sys_id};
use crate::http::{Reply, RequestSpec};
use crate::{BotSettingProblem, Readiness, ReadinessInput, ReadinessKind, ReadinessProblem};

/// The User Role table: one row per role a user holds, directly or
/// inherited from a role or a group.
pub(super) const ROLES_PATH: &str = "/api/now/table/sys_user_has_role";

/// `user` is asked for so that each row can be checked to be the bot's;
/// `inherited` is not: a role inherited from a group counts the same.
pub(super) const ROLE_FIELDS: &str = "user,role.name,state";

/// Role rows per page. A bot holds tens of roles; an admin account a few
/// hundred.
pub(super) const ROLE_PAGE: usize = 500;

/// Pages of role rows read before the probe gives up on telling.
const ROLE_PAGES: usize = 4;

/// The state of a role the user holds; others are requested, not granted.
const ACTIVE: &str = "active";

/// The bot account's documented settings (SPEC section 5.1): the field of
/// `sys_user` and its value.
const DOCUMENTED_SETTINGS: [(&str, &str); 4] = [
    ("time_zone", "GMT"),
    ("date_format", "yyyy-MM-dd"),
    ("time_format", "HH:mm:ss"),
    ("web_service_access_only", "true"),
];

/// Where roles are granted, for the fixes.
const ROLE_SCREENS: &str = "in ServiceNow, User Administration → Users → open the bot's user record → \
                            Roles related list → Edit… → add the role and Save; or add the \
                            role to a group the bot is a member of (User Administration → \
                            Groups → the group → Roles → Edit…)";

/// Runs the role and the table checks.
pub(super) async fn probe(client: &Client, input: &ReadinessInput) -> Readiness {
    let mut readiness = Readiness::default();
    let bot = input
        .bot
        .external_id
        .as_ref()
        .map(|id| format!("\"{id}\""))
        .unwrap_or_else(|| input.bot.itsm_user_id.to_string());
    roles(client, input, &bot, &mut readiness).await;
    table(client, &bot, &mut readiness).await;
    readiness
}

/// BOT_PERMISSION_MISSING for every configured role the bot's active role
/// rows lack. A refused read (401, 403) or one with no active row at all
/// cannot tell: row rules may hide rows without an error.
async fn roles(client: &Client, input: &ReadinessInput, bot: &str, readiness: &mut Readiness) {
    let wanted = &client.readiness.roles;
    if wanted.is_empty() {
        return;
    }
    let Ok(sys_id) = parse_sys_id(input.bot.itsm_user_id.as_str()) else {
        readiness.cannot_tell(format!(
            "the bot's roles could not be read: its ITSM User ID {} is not a sys_id",
            input.bot.itsm_user_id
        ));
        return;
    };
    let sysparm_query = format!("user={sys_id}^state={ACTIVE}");
    let mut held: BTreeSet<String> = BTreeSet::new();
    let mut active_rows = 0usize;
    let mut read_all = false;
    for page in 0..ROLE_PAGES {
        let offset = page * ROLE_PAGE;
        let mut spec = RequestSpec::probe(client.http.endpoint(ROLES_PATH))
            .query("sysparm_query", sysparm_query.as_str())
            .query("sysparm_fields", ROLE_FIELDS)
            .query("sysparm_display_value", "false")
            .query("sysparm_exclude_reference_link", "true")
            .query("sysparm_limit", ROLE_PAGE.to_string());
        if offset > 0 {
            spec = spec.query("sysparm_offset", offset.to_string());
        }
        let reply = match client.http.send(&spec).await {
            Ok(reply) => reply,
            Err(err) => {
                readiness.cannot_tell(format!("the bot's roles could not be read: {err}"));
                return;
            }
        };
        match reply.status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                readiness.cannot_tell(format!(
                    "ServiceNow refused to show the bot's roles (HTTP {} on sys_user_has_role{}); \
                     check the roles by hand, or let the bot read its own sys_user_has_role rows",
                    reply.status.as_u16(),
                    error_text(client, &reply)
                ));
                return;
            }
            // v1's "no match": the same as an empty page.
            StatusCode::NOT_FOUND => {
                read_all = true;
                break;
            }
            _ => {}
        }
        let list: TableList = match reply.json(client.http.integration()) {
            Ok(list) => list,
            Err(err) => {
                readiness.cannot_tell(format!("the bot's roles could not be read: {err}"));
                return;
            }
        };
        let count = list.result.len();
        for row in &list.result {
            let bots = row
                .text("user")
                .is_some_and(|user| user.eq_ignore_ascii_case(sys_id.as_str()));
            let active = row
                .text("state")
                .is_some_and(|state| state.trim().eq_ignore_ascii_case(ACTIVE));
            if let (true, true, Some(role)) = (bots, active, row.text("role.name")) {
                active_rows += 1;
                held.insert(role.trim().to_ascii_lowercase());
            }
        }
        let settled = wanted
            .iter()
            .all(|role| held.contains(&role.trim().to_ascii_lowercase()));
        if settled || !has_next_page(&reply, offset, count, ROLE_PAGE) {
            read_all = true;
            break;
        }
    }
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|role| !held.contains(&role.trim().to_ascii_lowercase()))
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        return;
    }
    if active_rows == 0 {
        readiness.cannot_tell(
            "ServiceNow returned no active role row for the bot (sys_user_has_role); rules on \
             that table may hide its rows from the bot, so its roles cannot be told",
        );
        return;
    }
    if !read_all {
        readiness.cannot_tell(format!(
            "the bot has more than {} active role rows; the roles were not all read",
            ROLE_PAGE * ROLE_PAGES
        ));
        return;
    }
    readiness.problem(
        ReadinessProblem::new(
            ReadinessKind::PermissionMissing,
            format!(
                "the bot {bot} does not hold the ServiceNow role{} {}: it has no active \
                 sys_user_has_role row for {}",
                plural(missing.len()),
                missing.join(", "),
                if missing.len() == 1 { "it" } else { "them" }
            ),
            ROLE_SCREENS,
        )
        .values(Some(wanted.join(", ")), Some(missing.join(", "))),
    );
}

/// Reads one row of the table: 200 (even empty, as row rules hide rows
/// without an error) is readable; 403 is BOT_PERMISSION_MISSING; a table
/// the instance does not know (400 "Invalid table") cannot tell.
async fn table(client: &Client, bot: &str, readiness: &mut Readiness) {
    let table = client.readiness.table.as_str();
    if !is_table_name(table) {
        readiness.cannot_tell(format!(
            "the table {table:?} is not a ServiceNow table name; it was not read"
        ));
        return;
    }
    let spec = RequestSpec::probe(client.http.endpoint(&format!("/api/now/table/{table}")))
        .query("sysparm_limit", "1")
        .query("sysparm_fields", "sys_id")
        // A count of a large incident table costs the instance a query of
        // its own; the probe needs no count.
        .query("sysparm_no_count", "true")
        .accept_status(StatusCode::BAD_REQUEST);
    let reply = match client.http.send(&spec).await {
        Ok(reply) => reply,
        Err(err) => {
            readiness.cannot_tell(format!("the table {table} could not be read: {err}"));
            return;
        }
    };
    let message = error_body(client, &reply)
        .and_then(|body| body.error.message)
        .unwrap_or_default();
    match reply.status {
        StatusCode::FORBIDDEN => readiness.problem(
            ReadinessProblem::new(
                ReadinessKind::PermissionMissing,
                format!(
                    "the bot {bot} cannot read the ServiceNow table {table}: the instance \
                     refused the read with HTTP 403{}",
                    error_text(client, &reply)
                ),
                format!(
                    "give the bot a role that the table's read ACL grants ({}): {ROLE_SCREENS}; \
                     the ACLs are under System Security → Access Control (ACL), type record, \
                     operation read, name {table}",
                    read_role_hint(table)
                ),
            )
            .values(
                Some(format!("read access to {table}")),
                Some(format!("HTTP 403 on {table}")),
            ),
        ),
        StatusCode::BAD_REQUEST if message.to_ascii_lowercase().starts_with("invalid table") => {
            readiness.cannot_tell(format!(
                "ServiceNow does not know the table {table} ([connectors.readiness] table): \
                 check its name under System Definition → Tables"
            ));
        }
        StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED => {
            readiness.cannot_tell(format!(
                "the table {table} could not be read: HTTP {}{}",
                reply.status.as_u16(),
                error_text(client, &reply)
            ));
        }
        // v1's "no match" is an empty table; anything else is no instance.
        StatusCode::NOT_FOUND => {
            if !message.trim().eq_ignore_ascii_case("No Record found") {
                readiness.cannot_tell(format!(
                    "the table {table} could not be read: HTTP 404 without ServiceNow's \
                     error body"
                ));
            }
        }
        _ => {
            if let Err(err) = reply.json::<TableList>(client.http.integration()) {
                readiness.cannot_tell(format!("the table {table} could not be read: {err}"));
            }
        }
    }
}

/// The documented settings of a `sys_user` record that are off. An empty
/// or absent value is the instance's default (or hidden by an ACL): no
/// finding.
pub(super) fn setting_problems(record: &Record) -> Vec<BotSettingProblem> {
    DOCUMENTED_SETTINGS
        .iter()
        .filter_map(|&(setting, expected)| {
            let actual = record.text(setting)?.trim();
            let in_order = if setting == "web_service_access_only" {
                record.flag(setting) == Some(true)
            } else {
                actual == expected
            };
            (!in_order && !actual.is_empty()).then(|| BotSettingProblem {
                setting,
                expected: expected.to_owned(),
                actual: Some(actual.to_owned()),
                screen: "User Administration → Users → the bot's record (add the field to the form with Configure → Form Layout if it is not shown)",
            })
        })
        .collect()
}

/// A table name as the config allows it: lower-case letters, digits, `_`.
/// Nothing else reaches the URL path.
fn is_table_name(table: &str) -> bool {
    !table.is_empty()
        && table
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The role that grants read on the task tables out of the box.
fn read_role_hint(table: &str) -> String {
    match table {
        "incident" | "problem" | "change_request" | "sc_request" | "sc_req_item" | "sc_task"
        | "task" => format!("itil for {table}"),
        _ => format!("the role its read ACL names for {table}"),
    }
}

/// ServiceNow's error body, if the answer is one.
fn error_body(client: &Client, reply: &Reply) -> Option<ErrorBody> {
    reply.json::<ErrorBody>(client.http.integration()).ok()
}

/// ServiceNow's error message and detail, if the body is its error body.
fn error_message(client: &Client, reply: &Reply) -> Option<String> {
    let body = error_body(client, reply)?;
    let parts: Vec<String> = [body.error.message, body.error.detail]
        .into_iter()
        .flatten()
        .map(|part| part.trim().to_owned())
        .filter(|part| !part.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join(": "))
}

/// `: <message>` for a message, else nothing.
fn error_text(client: &Client, reply: &Reply) -> String {
    error_message(client, reply)
        .map(|message| format!(": {message}"))
        .unwrap_or_default()
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(json: &str) -> Record {
        serde_json::from_str(json).expect("a record")
    }

    #[test]
    fn documented_settings_give_no_problem_and_empty_ones_are_the_default() {
        let ready = record(
            r#"{"time_zone":"GMT","date_format":"yyyy-MM-dd","time_format":"HH:mm:ss",
                "web_service_access_only":"true"}"#,
        );
        assert!(setting_problems(&ready).is_empty());
        let defaults = record(
            r#"{"time_zone":"","date_format":"","time_format":"","web_service_access_only":""}"#,
        );
        assert!(setting_problems(&defaults).is_empty());
        assert!(setting_problems(&record("{}")).is_empty());
    }

    #[test]
    fn each_setting_that_is_off_is_one_problem_with_its_value() {
        let off = record(
            r#"{"time_zone":"America/Los_Angeles","date_format":"dd.MM.yyyy",
                "time_format":"hh:mm:ss a","web_service_access_only":"false"}"#,
        );
        let found: Vec<(&str, String, Option<String>)> = setting_problems(&off)
            .into_iter()
            .map(|p| (p.setting, p.expected, p.actual))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "time_zone",
                    "GMT".into(),
                    Some("America/Los_Angeles".into())
                ),
                (
                    "date_format",
                    "yyyy-MM-dd".into(),
                    Some("dd.MM.yyyy".into())
                ),
                ("time_format", "HH:mm:ss".into(), Some("hh:mm:ss a".into())),
                (
                    "web_service_access_only",
                    "true".into(),
                    Some("false".into())
                ),
            ]
        );
        // The format is case-sensitive: `mm` is minutes, `MM` months.
        let minutes = record(r#"{"date_format":"yyyy-mm-dd"}"#);
        assert_eq!(setting_problems(&minutes).len(), 1);
    }

    #[test]
    fn only_plain_table_names_reach_the_path() {
        assert!(is_table_name("incident"));
        assert!(is_table_name("u_custom_2"));
        for bad in ["", "..", "incident/x", "Incident", "sys_user?x=1", "a b"] {
            assert!(!is_table_name(bad), "{bad}");
        }
    }
}
