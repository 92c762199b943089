//! Freshservice bot readiness (SPEC section 5.1): the bot must be an agent
//! (a bot found among requesters cannot work tickets), a full-time one (an
//! occasional agent works on day passes: BOT_SETTING), and none of its
//! roles may be limited to the tickets assigned to it (BOT_PERMISSION_MISSING).
//! The agent is read from `GET /api/v2/agents/me`, the API key's owner.
//!
//! Costs no request in a check: `whoami` already asked `agents/me` in this
//! run, and its answer is reused; only a probe without one sends one GET.
//! Never fails the system: a 401, 403 or 404, an answer it cannot read, or
//! the key of another agent (BOT_CREDENTIAL_MISMATCH says so) is a part it
//! cannot tell.

use reqwest::StatusCode;
use serde_json::Value;

use super::wire::{Record, Role};
use super::{Client, Kind, ME_PATH, parse_number};
use crate::http::RequestSpec;
use crate::{ConnectorError, ItsmUser, Readiness, ReadinessInput, ReadinessKind, ReadinessProblem};

/// The scope that limits a role to the agent's own tickets.
const ASSIGNED_ITEMS: &str = "assigned_items";

/// Where agents are managed; accounts with workspaces have it under
/// Global Settings.
const AGENTS_SCREEN: &str = "Admin → User Management → Agents (with workspaces: Admin → Global \
                             Settings → User Management → Agents)";

/// What `GET /api/v2/agents/me` answered.
#[derive(Debug, Clone)]
pub(super) enum Me {
    /// `{"agent": {...}}` or a bare agent.
    Agent(Record),
    /// A status the request read itself (401, 403 or 404).
    Status(StatusCode),
    /// A 2xx that is no agent: why.
    Unreadable(&'static str),
}

impl Client {
    /// `GET /api/v2/agents/me`; the statuses in `accept` are answers, any
    /// other failure an error.
    pub(super) async fn fetch_me(&self, accept: &[StatusCode]) -> Result<Me, ConnectorError> {
        let mut spec = RequestSpec::get(self.http.endpoint(ME_PATH));
        for status in accept {
            spec = spec.accept_status(*status);
        }
        let reply = self.send(&spec).await?;
        if !reply.status.is_success() {
            return Ok(Me::Status(reply.status));
        }
        // `agents/me` is not in Freshservice's published reference: take
        // `{"agent": {...}}` or a bare agent.
        let Ok(body) = reply.json::<Value>(self.http.integration()) else {
            return Ok(Me::Unreadable("the answer is not JSON"));
        };
        let agent = body.get("agent").cloned().unwrap_or(body);
        Ok(match serde_json::from_value::<Record>(agent) {
            Ok(agent) => Me::Agent(agent),
            Err(_) => Me::Unreadable("the answer is not an agent"),
        })
    }

    /// Keeps `whoami`'s answer for the readiness probe of the same run.
    pub(super) fn remember_me(&self, me: Me) {
        *self
            .me
            .lock()
            .expect("the agents/me lock is never poisoned: no code panics under it") = Some(me);
    }

    fn remembered_me(&self) -> Option<Me> {
        self.me
            .lock()
            .expect("the agents/me lock is never poisoned: no code panics under it")
            .clone()
    }
}

/// The probe: the bot's own record first (a requester needs no request),
/// then its agent from `agents/me`.
pub(super) async fn probe(client: &Client, input: &ReadinessInput) -> Readiness {
    let mut readiness = Readiness::default();
    if !client.readiness.enabled {
        readiness.cannot_tell("disabled by [connectors.readiness] enabled = false");
        return readiness;
    }
    if input.bot.record_kind.as_deref() == Some(Kind::Requester.name()) {
        readiness.problem(requester(&input.bot));
        return readiness;
    }
    let me = match client.remembered_me() {
        Some(me) => me,
        None => {
            let accept = [
                StatusCode::UNAUTHORIZED,
                StatusCode::FORBIDDEN,
                StatusCode::NOT_FOUND,
            ];
            match client.fetch_me(&accept).await {
                Ok(me) => me,
                Err(err) => {
                    readiness.cannot_tell(format!("{err}; {CANNOT_READ}"));
                    return readiness;
                }
            }
        }
    };
    match me {
        Me::Agent(agent) => judge(&agent, &input.bot, &mut readiness),
        Me::Status(status) if status == StatusCode::NOT_FOUND => readiness.cannot_tell(format!(
            "GET {ME_PATH} answered 404 (it is not on every Freshservice account); {CANNOT_READ}"
        )),
        Me::Status(status) => readiness.cannot_tell(format!(
            "GET {ME_PATH} answered HTTP {}; {CANNOT_READ}",
            status.as_u16()
        )),
        Me::Unreadable(why) => {
            readiness.cannot_tell(format!("GET {ME_PATH}: {why}; {CANNOT_READ}"));
        }
    }
    readiness
}

const CANNOT_READ: &str = "the bot's agent type and role scopes cannot be read";

/// Judges the API key's agent, once it is known to be the bot's.
fn judge(agent: &Record, bot: &ItsmUser, readiness: &mut Readiness) {
    let Some(id) = agent.id() else {
        readiness.cannot_tell(format!(
            "the answer to GET {ME_PATH} names no agent id; {CANNOT_READ}"
        ));
        return;
    };
    if parse_number(bot.itsm_user_id.as_str()).ok() != Some(id) {
        readiness.cannot_tell(format!(
            "the API key belongs to agent {id}, not to the bot's agent {} \
             (BOT_CREDENTIAL_MISMATCH); {CANNOT_READ} with it",
            bot.itsm_user_id
        ));
        return;
    }
    match agent.flag("occasional") {
        Some(true) => readiness.problem(occasional()),
        Some(false) => {}
        None => readiness.cannot_tell(format!(
            "GET {ME_PATH} does not say whether the bot's agent is occasional (no `occasional`)"
        )),
    }
    let roles = agent.roles().unwrap_or_default();
    if roles.is_empty() {
        readiness.cannot_tell(format!(
            "GET {ME_PATH} lists no `roles` for the bot's agent, so their scopes cannot be read"
        ));
        return;
    }
    let limited: Vec<&Role> = roles
        .iter()
        .filter(|role| role.assignment_scope.as_deref() == Some(ASSIGNED_ITEMS))
        .collect();
    if !limited.is_empty() {
        readiness.problem(assigned_items_only(&limited));
    } else if roles.iter().any(|role| role.assignment_scope.is_none()) {
        readiness.cannot_tell(format!(
            "GET {ME_PATH} lists a role of the bot's agent without its `assignment_scope`"
        ));
    }
}

fn requester(bot: &ItsmUser) -> ReadinessProblem {
    let who = bot
        .external_id
        .as_ref()
        .map_or_else(String::new, |external_id| format!("{external_id} "));
    ReadinessProblem::new(
        ReadinessKind::PermissionMissing,
        format!(
            "the bot's Freshservice account {who}({}) is a requester, not an agent: a requester \
             cannot be assigned, update or resolve tickets",
            bot.itsm_user_id
        ),
        format!(
            "in Freshservice, Admin → User Management → Requesters → the bot's requester → \
             Convert to Agent (or add it as a new agent in {AGENTS_SCREEN}): a full-time agent \
             with a role whose scope is the entire helpdesk or the groups it works"
        ),
    )
    .values(Some("agent".into()), Some("requester".into()))
}

fn occasional() -> ReadinessProblem {
    ReadinessProblem::new(
        ReadinessKind::BotSetting,
        "the bot is an occasional agent in Freshservice: it works on day passes, and once they \
         are used up it cannot act on tickets",
        format!("in Freshservice, {AGENTS_SCREEN} → the bot → Edit → agent type: Full-time"),
    )
    .values(
        Some("full-time agent (occasional: false)".into()),
        Some("occasional agent (occasional: true)".into()),
    )
}

fn assigned_items_only(limited: &[&Role]) -> ReadinessProblem {
    let roles: Vec<String> = limited
        .iter()
        .map(|role| match role.role_id {
            Some(id) => format!("role {id}: {ASSIGNED_ITEMS}"),
            None => format!("a role: {ASSIGNED_ITEMS}"),
        })
        .collect();
    ReadinessProblem::new(
        ReadinessKind::PermissionMissing,
        "a role of the bot's Freshservice agent is limited to the tickets assigned to it \
         (assignment scope assigned_items): it cannot see or update the other tickets it \
         works on",
        format!(
            "in Freshservice, {AGENTS_SCREEN} → the bot → Roles: give each role the scope \
             \"Entire helpdesk\", or the groups the bot works"
        ),
    )
    .values(
        Some("every role scoped entire_helpdesk, member_groups or specified_groups".into()),
        Some(roles.join(", ")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bot() -> ItsmUser {
        serde_json::from_value(json!({"itsm_user_id": "19000000001", "external_id": null,
            "active": true, "first_name": null, "last_name": null, "full_name": null,
            "record_kind": "agent"}))
        .expect("a user")
    }

    fn judged(agent: Value) -> Readiness {
        let agent: Record = serde_json::from_value(agent).expect("a record");
        let mut readiness = Readiness::default();
        judge(&agent, &bot(), &mut readiness);
        readiness
    }

    fn role(scope: &str) -> Value {
        json!({"role_id": 19000011111u64, "assignment_scope": scope, "groups": []})
    }

    #[test]
    fn a_full_time_agent_with_a_helpdesk_wide_role_is_ready() {
        for scope in ["entire_helpdesk", "member_groups", "specified_groups"] {
            let readiness = judged(json!({"id": 19000000001u64, "occasional": false,
                                          "roles": [role(scope)]}));
            assert_eq!(readiness, Readiness::default(), "{scope}");
        }
    }

    #[test]
    fn an_occasional_agent_is_a_bot_setting() {
        let readiness = judged(
            json!({"id": 19000000001u64, "occasional": true, "roles": [role("entire_helpdesk")]}),
        );
        assert_eq!(readiness.problems.len(), 1);
        assert_eq!(readiness.problems[0].kind, ReadinessKind::BotSetting);
        assert!(readiness.problems[0].fix.contains("Full-time"));
        assert!(readiness.cannot_tell.is_empty());
    }

    #[test]
    fn a_role_limited_to_assigned_items_is_a_missing_permission_naming_the_role() {
        let readiness = judged(json!({"id": 19000000001u64, "occasional": false,
            "roles": [role("entire_helpdesk"),
                      {"role_id": 42, "assignment_scope": "assigned_items", "groups": []}]}));
        assert_eq!(readiness.problems.len(), 1);
        let problem = &readiness.problems[0];
        assert_eq!(problem.kind, ReadinessKind::PermissionMissing);
        assert_eq!(problem.actual.as_deref(), Some("role 42: assigned_items"));
        assert!(problem.fix.contains("Entire helpdesk"));
    }

    #[test]
    fn another_agents_key_cannot_tell_and_judges_nothing() {
        let readiness = judged(json!({"id": 19000000002u64, "occasional": true,
                                      "roles": [role("assigned_items")]}));
        assert!(readiness.problems.is_empty());
        assert_eq!(readiness.cannot_tell.len(), 1);
        assert!(readiness.cannot_tell[0].contains("19000000002"));
        assert!(readiness.cannot_tell[0].contains("BOT_CREDENTIAL_MISMATCH"));
    }

    #[test]
    fn missing_fields_cannot_tell_their_part() {
        let no_id = judged(json!({"occasional": false, "roles": [role("entire_helpdesk")]}));
        assert!(no_id.cannot_tell[0].contains("no agent id"), "{no_id:?}");
        let bare = judged(json!({"id": 19000000001u64}));
        assert!(bare.problems.is_empty());
        assert_eq!(bare.cannot_tell.len(), 2, "{bare:?}");
        let empty_roles = judged(json!({"id": 19000000001u64, "occasional": false, "roles": []}));
        assert_eq!(empty_roles.cannot_tell.len(), 1);
        let no_scope = judged(json!({"id": 19000000001u64, "occasional": false,
                                     "roles": [{"role_id": 1}]}));
        assert!(no_scope.cannot_tell[0].contains("assignment_scope"));
        // An occasional agent is reported even where the roles cannot tell.
        let occasional = judged(json!({"id": 19000000001u64, "occasional": true}));
        assert_eq!(occasional.problems.len(), 1);
        assert_eq!(occasional.cannot_tell.len(), 1);
    }

    #[test]
    fn a_requester_names_what_it_is_and_what_it_must_be() {
        let mut user = bot();
        user.record_kind = Some("requester".into());
        user.external_id = Some(crate::ExternalId::new("bot@acme.com"));
        let problem = requester(&user);
        assert_eq!(problem.kind, ReadinessKind::PermissionMissing);
        assert!(problem.message.contains("bot@acme.com (19000000001)"));
        assert!(problem.fix.contains("Convert to Agent"));
        assert_eq!(problem.expected.as_deref(), Some("agent"));
        assert_eq!(problem.actual.as_deref(), Some("requester"));
    }
}
